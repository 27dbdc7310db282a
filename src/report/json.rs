//! JSON output, documented field by field in `docs/json-output.md`.
//!
//! The document is built from borrowed structs whose field order is the key order, so the
//! output never depends on map iteration.

use std::io;

use serde::Serialize;

use super::common::{display_path, linted_models, sorted_findings, sorted_inputs};
use super::{Finding, InputReport, Renderer, Report, Severity};
use crate::runtime::results::RuntimeReport;

/// Version of the JSON shape; it changes only when a field is removed or changes meaning.
pub const JSON_FORMAT_VERSION: u32 = 1;

/// Renderer of one JSON document followed by a newline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JsonRenderer {
    /// Whether to indent with two spaces instead of writing one line.
    pub pretty: bool,
}

impl Renderer for JsonRenderer {
    fn render(&self, report: &Report, out: &mut dyn io::Write) -> io::Result<()> {
        let document = JsonReport::new(report);
        if self.pretty {
            serde_json::to_writer_pretty(&mut *out, &document)?;
        } else {
            serde_json::to_writer(&mut *out, &document)?;
        }
        writeln!(out)
    }
}

#[derive(Serialize)]
struct JsonReport<'a> {
    version: u32,
    inputs: Vec<JsonInput<'a>>,
    findings: Vec<JsonFinding<'a>>,
    summary: JsonSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    runtime: Option<&'a RuntimeReport>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    run_errors: &'a [String],
}

#[derive(Serialize)]
struct JsonInput<'a> {
    path: String,
    kind: Option<&'a str>,
    stage: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    code: &'a str,
    name: &'a str,
    severity: Severity,
    stage: &'a str,
    path: String,
    node: Option<&'a str>,
    op_type: Option<&'a str>,
    message: &'a str,
    help: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    nodes: &'a [String],
}

#[derive(Serialize)]
struct JsonSummary {
    models: usize,
    errors: usize,
    warnings: usize,
    infos: usize,
}

impl<'a> JsonReport<'a> {
    fn new(report: &'a Report) -> Self {
        JsonReport {
            version: JSON_FORMAT_VERSION,
            inputs: sorted_inputs(report)
                .into_iter()
                .map(JsonInput::new)
                .collect(),
            findings: sorted_findings(report)
                .into_iter()
                .map(JsonFinding::new)
                .collect(),
            summary: JsonSummary {
                models: linted_models(report),
                errors: report.count(Severity::Error),
                warnings: report.count(Severity::Warning),
                infos: report.count(Severity::Info),
            },
            runtime: report.runtime.as_ref(),
            run_errors: &report.errors,
        }
    }
}

impl<'a> JsonInput<'a> {
    fn new(input: &'a InputReport) -> Self {
        JsonInput {
            path: display_path(&input.path),
            kind: input.kind.as_deref(),
            stage: input.stage.map(|stage| stage.as_str()),
            error: input.error.as_deref(),
        }
    }
}

impl<'a> JsonFinding<'a> {
    fn new(finding: &'a Finding) -> Self {
        JsonFinding {
            code: &finding.code,
            name: &finding.name,
            severity: finding.severity,
            stage: &finding.stage,
            path: display_path(&finding.path),
            node: finding.node.as_deref(),
            op_type: finding.op_type.as_deref(),
            message: &finding.message,
            help: &finding.help,
            nodes: &finding.nodes,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::report::fixture::sample_report;

    fn render(report: &Report, pretty: bool) -> String {
        let mut out = Vec::new();
        let result = JsonRenderer { pretty }.render(report, &mut out);
        assert!(result.is_ok(), "render failed: {result:?}");
        String::from_utf8_lossy(&out).into_owned()
    }

    fn parse(text: &str) -> Value {
        let parsed = serde_json::from_str(text);
        assert!(parsed.is_ok(), "invalid JSON: {parsed:?}\n{text}");
        parsed.unwrap_or_default()
    }

    fn keys(value: &Value) -> Vec<&str> {
        value
            .as_object()
            .map(|object| object.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    #[test]
    fn json_sample_report_snapshot() {
        insta::assert_snapshot!(render(&sample_report(), true));
    }

    #[test]
    fn json_top_level_keys_in_order() {
        let text = render(&sample_report(), false);
        let top = text.find("\"version\"").zip(text.find("\"inputs\""));
        assert!(matches!(top, Some((version, inputs)) if version < inputs));
        let order = [
            "\"inputs\"",
            "\"findings\"",
            "\"summary\"",
            "\"run_errors\"",
        ];
        let positions: Vec<Option<usize>> = order.iter().map(|key| text.find(key)).collect();
        assert!(positions.iter().all(Option::is_some), "{positions:?}");
        assert!(positions.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn json_parses_with_exact_keys() {
        let value = parse(&render(&sample_report(), false));
        assert_eq!(
            keys(&value),
            ["findings", "inputs", "run_errors", "summary", "version"]
        );
        assert_eq!(value["version"], 1);

        let inputs = value["inputs"].as_array().cloned().unwrap_or_default();
        assert_eq!(inputs.len(), 5);
        assert_eq!(keys(&inputs[0]), ["error", "kind", "path", "stage"]);
        assert_eq!(keys(&inputs[1]), ["kind", "path", "stage"]);

        let findings = value["findings"].as_array().cloned().unwrap_or_default();
        assert_eq!(findings.len(), 5);
        let plain = [
            "code", "help", "message", "name", "node", "op_type", "path", "severity", "stage",
        ];
        let with_nodes = [
            "code", "help", "message", "name", "node", "nodes", "op_type", "path", "severity",
            "stage",
        ];
        for finding in &findings {
            let expected: &[&str] = if finding.get("nodes").is_some() {
                &with_nodes
            } else {
                &plain
            };
            assert_eq!(keys(finding), expected);
        }
    }

    #[test]
    fn json_values_follow_report() {
        let value = parse(&render(&sample_report(), false));
        let summary = &value["summary"];
        assert_eq!(summary["models"], 4);
        assert_eq!(summary["errors"], 2);
        assert_eq!(summary["warnings"], 2);
        assert_eq!(summary["infos"], 1);

        let broken = &value["inputs"][0];
        assert_eq!(broken["path"], "broken models/cut,short:1.onnx");
        assert_eq!(broken["stage"], Value::Null);

        let model_level = &value["findings"][0];
        assert_eq!(model_level["code"], "QL404");
        assert_eq!(model_level["node"], Value::Null);
        assert_eq!(model_level["op_type"], Value::Null);

        let island = value["findings"]
            .as_array()
            .and_then(|all| all.iter().find(|f| f["code"] == "QL302"));
        let nodes = island.and_then(|f| f["nodes"].as_array()).map(Vec::len);
        assert_eq!(nodes, Some(12));
    }

    #[test]
    fn json_omits_run_errors_when_empty() {
        let mut report = sample_report();
        report.errors.clear();
        let value = parse(&render(&report, false));
        assert!(value.get("run_errors").is_none());
    }

    #[test]
    fn json_output_is_deterministic() {
        let report = sample_report();
        assert_eq!(render(&report, true), render(&report, true));
        assert_eq!(render(&report, false), render(&report, false));
    }

    /// Builds the report that the example in docs/json-output.md shows.
    fn documented_report() -> Report {
        let path = std::path::PathBuf::from("export/model.onnx");
        Report {
            inputs: vec![
                InputReport {
                    path: "broken/model.onnx".into(),
                    kind: Some("onnx".into()),
                    stage: None,
                    error: Some(
                        "broken/model.onnx: invalid protobuf: field 7 declares 4096 bytes but \
                         12 remain"
                            .into(),
                    ),
                    summary: None,
                },
                InputReport {
                    path: path.clone(),
                    kind: Some("onnx".into()),
                    stage: Some(crate::graph::Stage::Optimized),
                    error: None,
                    summary: None,
                },
            ],
            findings: vec![Finding {
                code: "QL302".into(),
                name: "fragmented-int8-chain".into(),
                severity: Severity::Warning,
                stage: "optimized".into(),
                path,
                node: Some("QLinearConv.1".into()),
                op_type: Some("QLinearConv".into()),
                message: "int8 island of 3 nodes starts and ends in \
                          `DequantizeLinear`/`QuantizeLinear`"
                    .into(),
                help: "Remove the float ops between quantized ops so ORT can fuse one chain".into(),
                nodes: vec![
                    "QLinearConv.1".into(),
                    "Relu.0".into(),
                    "QLinearConv.2".into(),
                ],
            }],
            errors: Vec::new(),
            runtime: None,
            rule_summaries: Default::default(),
        }
    }

    #[test]
    fn json_docs_example_matches_output() {
        let docs = include_str!("../../docs/json-output.md");
        let example = docs
            .split("```json\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .unwrap_or_default();
        assert!(
            !example.is_empty(),
            "no JSON example in docs/json-output.md"
        );
        assert_eq!(parse(&render(&documented_report(), true)), parse(example));
    }

    #[test]
    fn json_compact_is_one_line() {
        let text = render(&sample_report(), false);
        assert_eq!(text.lines().count(), 1);
    }
}
