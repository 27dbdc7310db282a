//! `qlint --optimize` with the real ONNX Runtime library on corpus exports.
//!
//! The corpus has the graphs that ONNX Runtime 1.32.0 saved for each export
//! (`p2o131.ort_extended.onnx`, `p2o131.ort_all.onnx`). ONNX Runtime 1.31.1, which qlint loads,
//! writes graphs with the same op histogram for the convnet, leaky, mbv3ish and tiny exports at
//! both levels (measured while writing these tests), so the tests compare histograms exactly.
//! Node names and order may differ between runs and versions, so findings are compared by code
//! and op type.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

mod common;
mod runtime_support;

use std::path::{Path, PathBuf};

use qlint::report::Report;
use runtime_support::{corpus, json, op_histogram, ort_available, qlint, run};

/// Runs `--optimize` at `level`, saving to a file in `dir`, and returns the saved path and the
/// JSON report.
fn optimize(model: &Path, level: &str, dir: &Path) -> (PathBuf, serde_json::Value) {
    let saved = dir.join(format!("optimized.{level}.onnx"));
    let output = run(qlint()
        .arg("--optimize")
        .arg(model)
        .args(["--level", level, "--target-cpu", "icelake-server"])
        .arg("--save-optimized")
        .arg(&saved)
        .args(["--format", "json"]));
    let report = json(&output);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{report:#}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(saved.is_file(), "{} was not written", saved.display());
    (saved, report)
}

/// QL3xx findings as sorted `(code, op type)` pairs.
fn ql3_findings(report: &Report) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = report
        .findings
        .iter()
        .filter(|f| f.code.starts_with("QL3"))
        .map(|f| (f.code.clone(), f.op_type.clone().unwrap_or_default()))
        .collect();
    found.sort();
    found
}

/// Checks one export at one level against the graph ONNX Runtime 1.32.0 saved in the corpus.
fn check_against_corpus(variant: &str, level: &str) {
    let dir = tempfile::tempdir().unwrap();
    let export = corpus(&format!("{variant}/p2o131.onnx"));
    let reference = corpus(&format!("{variant}/p2o131.ort_{level}.onnx"));
    let (saved, report) = optimize(&export, level, dir.path());

    assert_eq!(
        op_histogram(&saved),
        op_histogram(&reference),
        "{variant} at {level}: op histogram differs from the corpus graph"
    );

    let ours = common::lint_paths(&[], std::slice::from_ref(&saved), "icelake-server");
    let theirs = common::lint_paths(&[], &[reference], "icelake-server");
    common::assert_loaded(&ours);
    assert!(
        !ql3_findings(&theirs).is_empty(),
        "{variant}: no QL3xx on the corpus graph"
    );
    assert_eq!(
        ql3_findings(&ours),
        ql3_findings(&theirs),
        "{variant} at {level}"
    );

    let inputs = report["inputs"].as_array().cloned().unwrap_or_default();
    let stages: Vec<&str> = inputs.iter().filter_map(|i| i["stage"].as_str()).collect();
    assert_eq!(stages.len(), 2, "{inputs:?}");
    assert!(stages.contains(&"onnx"), "{stages:?}");
    assert!(stages.contains(&"optimized"), "{stages:?}");
    let saved_text = saved.to_string_lossy();
    assert_eq!(report["runtime"]["optimize"]["output"], *saved_text);
    assert_eq!(report["runtime"]["optimize"]["level"], level);
    // Linted together with its source, the optimized graph also gets cross-stage QL206 findings
    // for ops that lost their quantization, so QL206 is compared as "at least".
    let count = |code_is_ql206: bool| {
        report["findings"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter(|f| f["path"] == *saved_text && (f["code"] == "QL206") == code_is_ql206)
                    .count()
            })
            .unwrap_or(0)
    };
    let alone = |code_is_ql206: bool| {
        ours.findings
            .iter()
            .filter(|f| (f.code == "QL206") == code_is_ql206)
            .count()
    };
    assert_eq!(count(false), alone(false));
    assert!(count(true) >= alone(true));
}

#[test]
fn convnet_extended_matches_corpus() {
    if ort_available("convnet_extended_matches_corpus") {
        check_against_corpus("convnet/pd262-A_qdq_full", "extended");
    }
}

#[test]
fn convnet_all_matches_corpus() {
    if ort_available("convnet_all_matches_corpus") {
        check_against_corpus("convnet/pd262-A_qdq_full", "all");
    }
}

#[test]
fn mbv3ish_extended_matches_corpus() {
    if ort_available("mbv3ish_extended_matches_corpus") {
        check_against_corpus("mbv3ish/pd262-A_qdq_full", "extended");
    }
}

#[test]
fn mbv3ish_all_matches_corpus() {
    if ort_available("mbv3ish_all_matches_corpus") {
        check_against_corpus("mbv3ish/pd262-A_qdq_full", "all");
    }
}

#[test]
fn optimized_convnet_has_four_qlinear_convs() {
    if !ort_available("optimized_convnet_has_four_qlinear_convs") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let export = corpus("convnet/pd262-A_qdq_full/p2o131.onnx");
    let (saved, _) = optimize(&export, "extended", dir.path());
    let histogram = op_histogram(&saved);
    assert_eq!(histogram.get("QLinearConv"), Some(&4));
    assert_eq!(histogram.get("Conv"), None);
    assert_eq!(histogram.get("Relu"), Some(&4));
}

#[test]
fn default_output_goes_to_temp_dir() {
    if !ort_available("default_output_goes_to_temp_dir") {
        return;
    }
    let export = corpus("tiny/pd262-A_qdq_full/p2o131.onnx");
    let output = run(qlint().arg("--optimize").arg(&export).args([
        "--level",
        "basic",
        "--target-cpu",
        "icelake-server",
        "--format",
        "json",
    ]));
    let report = json(&output);
    let saved = PathBuf::from(
        report["runtime"]["optimize"]["output"]
            .as_str()
            .unwrap_or(""),
    );
    assert!(saved.is_file(), "{report:#}");
    assert_eq!(
        saved.file_name().and_then(|n| n.to_str()),
        Some("p2o131.ort_basic.onnx")
    );
    let dir = saved.parent().map(Path::to_path_buf).unwrap_or_default();
    assert!(dir.starts_with(std::env::temp_dir()), "{}", dir.display());
    assert!(
        dir.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("qlint-optimize-"))
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn text_report_names_library_and_output() {
    if !ort_available("text_report_names_library_and_output") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("convnet.onnx");
    let output = run(qlint()
        .arg("--optimize")
        .arg(corpus("convnet/pd262-A_qdq_full/p2o131.onnx"))
        .args(["--level", "extended", "--target-cpu", "icelake-server"])
        .arg("--save-optimized")
        .arg(&saved));
    let text = runtime_support::stdout(&output);
    assert!(text.contains("ONNX Runtime 1.31.1: "), "{text}");
    assert!(text.contains("libonnxruntime"), "{text}");
    let line = format!("optimized model (ORT_ENABLE_EXTENDED): {}", saved.display());
    assert!(text.contains(&line), "{text}");
    assert!(text.contains("[QL302]"), "{text}");
}

#[test]
fn save_over_model_is_rejected() {
    if !ort_available("save_over_model_is_rejected") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.onnx");
    std::fs::copy(corpus("tiny/pd262-A_qdq_full/p2o131.onnx"), &model).unwrap();
    let before = std::fs::read(&model).unwrap();
    let output = run(qlint()
        .arg("--optimize")
        .arg(&model)
        .arg("--save-optimized")
        .arg(&model)
        .args(["--target-cpu", "icelake-server"]));
    assert_eq!(output.status.code(), Some(2));
    let text = runtime_support::stdout(&output);
    assert!(text.contains("would overwrite the model"), "{text}");
    assert!(text.contains("[QL201]"), "static findings missing: {text}");
    assert_eq!(std::fs::read(&model).unwrap(), before);
}

#[test]
fn all_level_reports_ort_warning() {
    if !ort_available("all_level_reports_ort_warning") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let export = corpus("convnet/pd331-float/p2o131.onnx");
    let (_, report) = optimize(&export, "all", dir.path());
    let warnings = report["runtime"]["warnings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let nchwc = warnings
        .iter()
        .filter_map(|w| w.as_str())
        .any(|w| w.contains("NchwcTransformer") && w.contains("hardware specific"));
    assert!(nchwc, "{warnings:?}");
}
