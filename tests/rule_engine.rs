//! The YAML rule engine on real graphs: paths with captures, producer and consumer matchers,
//! attribute tests, severity and message cases, grouping.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

mod common;

use qlint::analysis;
use qlint::host::CpuTarget;
use qlint::load::{self, Input, InputKind};
use qlint::report::{Finding, Severity};
use qlint::rules::{RuleSet, evaluate};

const HEADER: &str = "    stages: [onnx]\n    summary: s\n    why: w\n    fix: f\n    example: e\n";

/// Evaluates one custom pack on a corpus ONNX export.
fn run(pack: &str, cpu: &str) -> Vec<Finding> {
    let rules = RuleSet::from_texts(&[("pack.yaml".to_string(), pack.to_string())])
        .unwrap_or_else(|e| panic!("{e}"));
    let input = Input {
        path: common::corpus("convnet/pd262-A_qdq_full/p2o131.onnx"),
        kind: InputKind::Onnx,
    };
    let model = load::load(&input, false).unwrap_or_else(|e| panic!("{e}"));
    let cpu = CpuTarget::parse(cpu).unwrap_or_else(|e| panic!("{e}"));
    let facts = analysis::compute(&model, &cpu, "cpu");
    evaluate(&rules, &model, &facts, &|_| true)
}

#[test]
fn path_captures_name_the_matched_nodes() {
    let pack = format!(
        "rules:\n  - code: QL900\n    name: relu-sandwich\n    for: node\n    severity: info\n{HEADER}    when:\n      path:\n        - {{op: DequantizeLinear, capture: dq}}\n        - {{op: Relu, capture: act}}\n        - {{op: QuantizeLinear}}\n    message: \"{{dq.op}} feeds {{act.op}} `{{act.node}}`\"\n"
    );
    let findings = run(&pack, "zen4");
    assert_eq!(findings.len(), 4, "{findings:#?}");
    assert!(
        findings
            .iter()
            .all(|f| f.op_type.as_deref() == Some("DequantizeLinear"))
    );
    assert!(
        findings[0]
            .message
            .starts_with("DequantizeLinear feeds Relu `"),
        "{}",
        findings[0].message
    );
}

#[test]
fn producer_consumer_and_attr_tests() {
    let pack = format!(
        "rules:\n  - code: QL900\n    name: per-channel-weight\n    for: node\n    severity: info\n{HEADER}    when:\n      all:\n        - op: QuantizeLinear\n        - attr: {{name: axis, eq: 0}}\n        - producer: {{op: Constant}}\n        - consumer: {{op: DequantizeLinear}}\n    group-by: op\n    message: \"{{count}} per-channel weight quantizers\"\n"
    );
    let findings = run(&pack, "zen4");
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].message, "4 per-channel weight quantizers");
    assert_eq!(findings[0].nodes.len(), 4);
    assert_eq!(findings[0].node, None);
}

#[test]
fn severity_cases_follow_the_target_cpu() {
    let pack = format!(
        "rules:\n  - code: QL900\n    name: vnni-check\n    severity:\n      - when: {{fact: {{name: cpu.vnni, eq: false}}}}\n        level: error\n      - level: info\n{HEADER}    when: {{fact: {{name: qdq.count, gt: 0}}}}\n    message:\n      - when: {{fact: {{name: cpu.vnni, eq: true}}}}\n        text: \"{{cpu.name}} has VNNI\"\n      - text: \"{{cpu.name}} lacks VNNI ({{qdq.count}} Q/DQ ops)\"\n"
    );
    let without = run(&pack, "haswell");
    assert_eq!(without.len(), 1);
    assert_eq!(without[0].severity, Severity::Error);
    assert_eq!(without[0].message, "haswell lacks VNNI (32 Q/DQ ops)");
    let with = run(&pack, "cascadelake");
    assert_eq!(with[0].severity, Severity::Info);
    assert_eq!(with[0].message, "cascadelake has VNNI");
}

#[test]
fn not_and_threshold_comparisons() {
    let pack = format!(
        "thresholds:\n  few-nodes: 50\nrules:\n  - code: QL900\n    name: many-nodes\n    severity: warning\n{HEADER}    when:\n      all:\n        - fact: {{name: nodes.count, gt: {{threshold: few-nodes}}}}\n        - not: {{fact: {{name: opset, lt: 13}}}}\n    message: \"{{nodes.count}} nodes > {{threshold.few-nodes}}\"\n"
    );
    let findings = run(&pack, "zen4");
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].message, "98 nodes > 50");
}
