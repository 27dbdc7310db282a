//! The ONNX Runtime section of the text format: the library used, the optimized model, the
//! output comparison table and the benchmark table.

use comfy_table::{CellAlignment, ContentArrangement, Table, presets};

use super::common::display_path;
use crate::runtime::inputs::format_shape;
use crate::runtime::results::{BenchReport, BenchRole, CompareReport, InputInfo, RuntimeReport};

/// Renders the section as lines of text, tables included, without a trailing newline.
pub(crate) fn runtime_section(runtime: &RuntimeReport, color: bool) -> String {
    let mut lines = Vec::new();
    let version = runtime
        .ort_version
        .as_deref()
        .unwrap_or("(version unknown)");
    lines.push(format!(
        "ONNX Runtime {version}: {} ({})",
        display_path(&runtime.library),
        runtime.library_source.describe()
    ));
    if let Some(optimize) = &runtime.optimize {
        lines.push(format!(
            "optimized model ({}): {}",
            optimize.level.ort_name(),
            display_path(&optimize.output)
        ));
    }
    if let Some(compare) = &runtime.compare {
        lines.push(format!(
            "compare {} vs {} on {}:",
            compare.baseline.ort_name(),
            compare.level.ort_name(),
            inputs_phrase(&compare.inputs, compare.seed)
        ));
        lines.push(compare_table(compare, color).to_string());
    }
    if let Some(bench) = &runtime.bench {
        lines.push(bench_heading(bench));
        lines.push(bench_table(bench, color).to_string());
        match bench.speedup {
            Some(speedup) => lines.push(format!("int8 speed-up over float (p50): {speedup:.2}x")),
            None => lines.push("int8 speed-up: not measured (pass --float-model FILE)".into()),
        }
    }
    for warning in &runtime.warnings {
        lines.push(format!("ONNX Runtime warning: {warning}"));
    }
    lines.join("\n")
}

fn new_table(color: bool, header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(if color {
            presets::UTF8_FULL_CONDENSED
        } else {
            presets::ASCII_MARKDOWN
        })
        .set_content_arrangement(ContentArrangement::Disabled)
        .force_no_tty()
        .set_header(header.to_vec());
    table
}

fn align_right(table: &mut Table, from: usize, to: usize) {
    for index in from..to {
        if let Some(column) = table.column_mut(index) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
}

fn compare_table(compare: &CompareReport, color: bool) -> Table {
    let header = [
        "output",
        "type",
        "shape",
        "max abs diff",
        "mean abs diff",
        "cosine",
    ];
    let mut table = new_table(color, &header);
    for output in &compare.outputs {
        let d = &output.difference;
        table.add_row(vec![
            output.name.clone(),
            output.element_type.to_string(),
            format_shape(&output.shape),
            format_difference(d.max_abs),
            format_difference(d.mean_abs),
            format!("{:.6}", d.cosine),
        ]);
    }
    align_right(&mut table, 3, header.len());
    table
}

fn bench_heading(bench: &BenchReport) -> String {
    let threads = match bench.threads {
        Some(1) => "1 intra-op thread".to_string(),
        Some(n) => format!("{n} intra-op threads"),
        None => "ONNX Runtime's default threads".to_string(),
    };
    let inputs = bench
        .model(BenchRole::Quantized)
        .map(|m| format!(" on {}", inputs_phrase(&m.inputs, bench.seed)))
        .unwrap_or_default();
    format!(
        "bench at {}, {} timed runs after {} warm-up runs, {threads}{inputs}:",
        bench.level.ort_name(),
        bench.runs,
        bench.warmup
    )
}

fn bench_table(bench: &BenchReport, color: bool) -> Table {
    let header = ["model", "role", "p50 ms", "p90 ms", "mean ms"];
    let mut table = new_table(color, &header);
    for model in &bench.models {
        let role = match model.role {
            BenchRole::Quantized => "quantized",
            BenchRole::Float => "float",
        };
        table.add_row(vec![
            display_path(&model.path),
            role.to_string(),
            format!("{:.3}", model.p50_ms),
            format!("{:.3}", model.p90_ms),
            format!("{:.3}", model.mean_ms),
        ]);
    }
    align_right(&mut table, 2, header.len());
    table
}

/// Describes the inputs, as `` `x` float32 1x3x32x32 (random, seed 0) `` or
/// `` `x` float32 1x3x32x32 (from batch.npy) ``.
fn inputs_phrase(inputs: &[InputInfo], seed: u64) -> String {
    if inputs.is_empty() {
        return "no inputs".into();
    }
    let parts: Vec<String> = inputs
        .iter()
        .map(|input| {
            let source = match &input.file {
                Some(file) => format!("from {}", display_path(file)),
                None => format!("random, seed {seed}"),
            };
            format!(
                "`{}` {} {} ({source})",
                input.name,
                input.element_type,
                format_shape(&input.shape)
            )
        })
        .collect();
    parts.join(", ")
}

/// Formats a difference: `0` when exact, else three significant digits in scientific notation.
fn format_difference(value: f64) -> String {
    if value == 0.0 {
        "0".into()
    } else {
        format!("{value:.3e}")
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::runtime::metrics::Difference;
    use crate::runtime::protocol::Level;
    use crate::runtime::results::{BenchModel, LibrarySource, OutputDifference};
    use crate::runtime::tensor::ElementType;

    fn report() -> RuntimeReport {
        let input = InputInfo {
            name: "x".into(),
            element_type: ElementType::Float32,
            shape: vec![1, 3, 32, 32],
            file: None,
        };
        RuntimeReport {
            library: PathBuf::from("/cache/1.31.1/libonnxruntime.so.1.31.1"),
            library_source: LibrarySource::Cache,
            ort_version: Some("1.31.1".into()),
            ort_build_info: None,
            model: PathBuf::from("m.onnx"),
            optimize: None,
            compare: Some(CompareReport {
                baseline: Level::DisableAll,
                level: Level::All,
                seed: 0,
                inputs: vec![input.clone()],
                outputs: vec![OutputDifference {
                    name: "y".into(),
                    element_type: ElementType::Float32,
                    shape: vec![1, 10],
                    difference: Difference {
                        max_abs: 1.341e-7,
                        mean_abs: 0.0,
                        cosine: 1.0,
                    },
                }],
            }),
            bench: Some(BenchReport {
                level: Level::All,
                runs: 20,
                warmup: 2,
                threads: Some(1),
                seed: 0,
                models: vec![BenchModel {
                    path: PathBuf::from("m.onnx"),
                    role: BenchRole::Quantized,
                    inputs: vec![input],
                    p50_ms: 1.5,
                    p90_ms: 2.25,
                    mean_ms: 1.75,
                }],
                speedup: None,
            }),
            warnings: vec!["graph.cc:10: a warning".into()],
        }
    }

    #[test]
    fn section_shows_library_compare_and_bench() {
        let text = runtime_section(&report(), false);
        let expected = [
            "ONNX Runtime 1.31.1: /cache/1.31.1/libonnxruntime.so.1.31.1 (found in the scripts/fetch-onnxruntime.sh cache)",
            "compare ORT_DISABLE_ALL vs ORT_ENABLE_ALL on `x` float32 1x3x32x32 (random, seed 0):",
            "| y      | float32 | 1x10  |     1.341e-7 |             0 | 1.000000 |",
            "bench at ORT_ENABLE_ALL, 20 timed runs after 2 warm-up runs, 1 intra-op thread on `x` float32 1x3x32x32 (random, seed 0):",
            "| m.onnx | quantized |  1.500 |  2.250 |   1.750 |",
            "int8 speed-up: not measured (pass --float-model FILE)",
            "ONNX Runtime warning: graph.cc:10: a warning",
        ];
        for line in expected {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    /// Builds the `--compare` report that the runtime example in docs/json-output.md shows.
    fn documented_report() -> RuntimeReport {
        let mut runtime = report();
        runtime.library =
            PathBuf::from("/home/me/qlint/.cache/onnxruntime/1.31.1/libonnxruntime.so.1.31.1");
        runtime.ort_build_info = Some(
            "ORT Build Info: git-branch=HEAD, git-commit-id=6af1a93, fp8-kv-cache=1, build type=Release"
                .into(),
        );
        runtime.model = PathBuf::from("export/model.onnx");
        runtime.bench = None;
        runtime.warnings.clear();
        if let Some(compare) = &mut runtime.compare
            && let Some(output) = compare.outputs.first_mut()
        {
            output.name = "logits".into();
            output.difference.max_abs = 0.0;
        }
        runtime
    }

    #[test]
    fn json_docs_runtime_example_matches() {
        let docs = include_str!("../../docs/json-output.md");
        let example = docs
            .split("## `runtime`")
            .nth(1)
            .and_then(|section| section.split("```json\n").nth(1))
            .and_then(|rest| rest.split("```").next())
            .unwrap_or_default();
        let documented: serde_json::Value = serde_json::from_str(example).unwrap_or_default();
        assert!(
            documented.is_object(),
            "no runtime example in docs/json-output.md"
        );

        let report = crate::report::Report {
            runtime: Some(documented_report()),
            ..crate::report::Report::default()
        };
        let mut out = Vec::new();
        let renderer = crate::report::json::JsonRenderer { pretty: false };
        let rendered = crate::report::Renderer::render(&renderer, &report, &mut out);
        assert!(rendered.is_ok(), "{rendered:?}");
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap_or_default();
        assert_eq!(value["runtime"], documented);
    }

    #[test]
    fn format_difference_keeps_exact_zero() {
        assert_eq!(format_difference(0.0), "0");
        assert_eq!(format_difference(4.172e-7), "4.172e-7");
    }
}
