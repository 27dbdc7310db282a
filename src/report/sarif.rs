//! SARIF 2.1.0 output for code scanning services.
//!
//! One run contains one result per finding. Each result points at the model file (line 1, because a
//! model has no source lines) and at the node as the logical location `graph/node/<ID>`. Inputs
//! that could not be read and run errors become tool execution notifications of the invocation.
//! Property names follow the OASIS schema `sarif-schema-2.1.0.json`.

use std::collections::BTreeMap;
use std::io;

use serde::Serialize;

use super::common::{input_error_text, message_with_node, sorted_findings, sorted_inputs};
use super::sarif_location::{Location, artifact_location, fingerprint, node_location};
use super::{Finding, Renderer, Report, Severity};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const SARIF_VERSION: &str = "2.1.0";

/// Key of qlint's own entry in `partialFingerprints`. GitHub recomputes keys it reserves, such
/// as `primaryLocationLineHash`, so qlint uses a key of its own.
pub const FINGERPRINT_KEY: &str = "qlint/v1";

/// Renderer of a SARIF 2.1.0 log, indented and followed by a newline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SarifRenderer;

impl Renderer for SarifRenderer {
    fn render(&self, report: &Report, out: &mut dyn io::Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, &SarifLog::new(report))?;
        writeln!(out)
    }
}

#[derive(Serialize)]
struct SarifLog {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run; 1],
}

#[derive(Serialize)]
struct Run {
    tool: Tool,
    invocations: [Invocation; 1],
    results: Vec<SarifResult>,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    information_uri: Option<&'static str>,
    rules: Vec<ReportingDescriptor>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportingDescriptor {
    id: String,
    name: String,
    short_description: Message,
    help: Message,
}

#[derive(Serialize)]
pub(crate) struct Message {
    text: String,
}

impl Message {
    pub(crate) fn new(text: impl Into<String>) -> Self {
        Message { text: text.into() }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation {
    execution_successful: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_execution_notifications: Vec<Notification>,
}

#[derive(Serialize)]
struct Notification {
    level: &'static str,
    message: Message,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    locations: Vec<Location>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: String,
    rule_index: usize,
    level: &'static str,
    message: Message,
    locations: [Location; 1],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_locations: Vec<Location>,
    partial_fingerprints: BTreeMap<&'static str, String>,
}

impl SarifLog {
    fn new(report: &Report) -> Self {
        let findings = sorted_findings(report);
        let rules = rules_for(&findings, &report.rule_summaries);
        let results = findings
            .iter()
            .map(|finding| result_for(finding, &rules))
            .collect();
        let repository = env!("CARGO_PKG_REPOSITORY");
        SarifLog {
            schema: SCHEMA,
            version: SARIF_VERSION,
            runs: [Run {
                tool: Tool {
                    driver: Driver {
                        name: "qlint",
                        version: env!("CARGO_PKG_VERSION"),
                        // NOTE: Cargo.toml declares no `repository` yet, so the log carries
                        // no informationUri until it does.
                        information_uri: (!repository.is_empty()).then_some(repository),
                        rules,
                    },
                },
                invocations: [invocation_for(report)],
                results,
            }],
        }
    }
}

/// Builds one reporting descriptor per code, sorted by code. Name and help come from the first
/// finding with that code in output order; the short description is the rule's summary when the
/// report carries it, else its name.
fn rules_for(
    findings: &[&Finding],
    summaries: &BTreeMap<String, String>,
) -> Vec<ReportingDescriptor> {
    let mut first_by_code: BTreeMap<&str, &Finding> = BTreeMap::new();
    for finding in findings {
        first_by_code.entry(&finding.code).or_insert(finding);
    }
    first_by_code
        .into_values()
        .map(|finding| ReportingDescriptor {
            id: finding.code.clone(),
            name: finding.name.clone(),
            short_description: Message::new(
                summaries
                    .get(&finding.code)
                    .cloned()
                    .unwrap_or_else(|| finding.name.clone()),
            ),
            help: Message::new(finding.help.clone()),
        })
        .collect()
}

fn result_for(finding: &Finding, rules: &[ReportingDescriptor]) -> SarifResult {
    let rule_index = rules
        .iter()
        .position(|rule| rule.id == finding.code)
        .unwrap_or_default();
    let related_locations = finding
        .nodes
        .iter()
        .enumerate()
        .map(|(index, node)| node_location(&finding.path, node, Some(index)))
        .collect();
    SarifResult {
        rule_id: finding.code.clone(),
        rule_index,
        level: level(finding.severity),
        message: Message::new(message_with_node(finding)),
        locations: [match &finding.node {
            Some(node) => node_location(&finding.path, node, None),
            None => Location::file(artifact_location(&finding.path)),
        }],
        related_locations,
        partial_fingerprints: BTreeMap::from([(FINGERPRINT_KEY, fingerprint(finding))]),
    }
}

fn invocation_for(report: &Report) -> Invocation {
    let mut notifications: Vec<Notification> = sorted_inputs(report)
        .into_iter()
        .filter_map(|input| {
            let error = input.error.as_deref()?;
            Some(Notification {
                level: "error",
                message: Message::new(input_error_text(input, error)),
                locations: vec![Location::file(artifact_location(&input.path))],
            })
        })
        .collect();
    notifications.extend(report.errors.iter().map(|error| Notification {
        level: "error",
        message: Message::new(error.clone()),
        locations: Vec::new(),
    }));
    Invocation {
        execution_successful: !report.has_errors(),
        tool_execution_notifications: notifications,
    }
}

/// Maps a severity to a SARIF `level`; SARIF calls the lowest level `note`.
fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::report::fixture::sample_report;

    fn render(report: &Report) -> String {
        let mut out = Vec::new();
        let result = SarifRenderer.render(report, &mut out);
        assert!(result.is_ok(), "render failed: {result:?}");
        String::from_utf8_lossy(&out).into_owned()
    }

    fn parse(text: &str) -> Value {
        let parsed = serde_json::from_str(text);
        assert!(parsed.is_ok(), "invalid JSON: {parsed:?}");
        parsed.unwrap_or_default()
    }

    #[test]
    fn sarif_sample_report_snapshot() {
        // The crate version changes with releases, so the snapshot contains a placeholder.
        let version = format!("\"version\": \"{}\"", env!("CARGO_PKG_VERSION"));
        let text = render(&sample_report()).replace(&version, "\"version\": \"[crate]\"");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn sarif_has_required_keys() {
        let log = parse(&render(&sample_report()));
        assert_eq!(log["$schema"], SCHEMA);
        assert_eq!(log["version"], "2.1.0");
        let run = &log["runs"][0];
        assert_eq!(run["tool"]["driver"]["name"], "qlint");
        assert_eq!(run["tool"]["driver"]["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(run["invocations"][0]["executionSuccessful"], false);

        let results = run["results"].as_array().cloned().unwrap_or_default();
        assert_eq!(results.len(), 5);
        for result in &results {
            assert!(result["ruleId"].is_string(), "{result}");
            assert!(result["message"]["text"].is_string(), "{result}");
            let physical = &result["locations"][0]["physicalLocation"];
            assert!(physical["artifactLocation"]["uri"].is_string(), "{result}");
            assert_eq!(physical["region"]["startLine"], 1);
            assert!(result["partialFingerprints"][FINGERPRINT_KEY].is_string());
        }
    }

    #[test]
    fn sarif_rules_match_result_indexes() {
        let log = parse(&render(&sample_report()));
        let run = &log["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().cloned();
        let ids: Vec<String> = rules
            .unwrap_or_default()
            .iter()
            .map(|rule| rule["id"].as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(ids, ["QL101", "QL202", "QL302", "QL303", "QL404"]);
        for result in run["results"].as_array().cloned().unwrap_or_default() {
            let index = result["ruleIndex"].as_u64().unwrap_or(u64::MAX) as usize;
            assert_eq!(
                ids.get(index).map(String::as_str),
                result["ruleId"].as_str()
            );
        }
    }

    #[test]
    fn sarif_levels_map_severities() {
        assert_eq!(level(Severity::Error), "error");
        assert_eq!(level(Severity::Warning), "warning");
        assert_eq!(level(Severity::Info), "note");
    }

    #[test]
    fn sarif_node_finding_has_logical_location() {
        let log = parse(&render(&sample_report()));
        let results = log["runs"][0]["results"].as_array().cloned();
        let relu = results
            .unwrap_or_default()
            .into_iter()
            .find(|result| result["ruleId"] == "QL303");
        let logical = relu.map(|result| result["locations"][0]["logicalLocations"][0].clone());
        let logical = logical.unwrap_or_default();
        assert_eq!(logical["fullyQualifiedName"], "graph/node/Relu.0");
        assert_eq!(logical["kind"], "member");
    }

    #[test]
    fn sarif_clean_run_is_successful() {
        let log = parse(&render(&Report::default()));
        let invocation = &log["runs"][0]["invocations"][0];
        assert_eq!(invocation["executionSuccessful"], true);
        assert!(invocation.get("toolExecutionNotifications").is_none());
        assert_eq!(log["runs"][0]["results"], Value::Array(Vec::new()));
    }

    #[test]
    fn sarif_output_is_deterministic() {
        let report = sample_report();
        assert_eq!(render(&report), render(&report));
    }
}
