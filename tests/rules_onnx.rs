//! Rules on exported ONNX graphs and host rules (QL201, QL303, QL401, QL404), on real
//! Paddle2ONNX 1.3.1 exports.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

mod common;

use common::{corpus, lint_corpus, lint_paths, with_code};
use qlint::report::Severity;

#[test]
fn ql201_fires_on_exports_without_qdq() {
    for file in [
        "convnet/pd331-float/p2o131.onnx",
        "convnet/pd331-float/p2o131.ort_extended.onnx",
        "convnet/pd262-A_qdq_full/p2o131_trt.onnx",
        "tiny/pd262-A_qdq_full/p2o131.onnx",
    ] {
        let report = lint_corpus(file);
        let found = with_code(&report, "QL201");
        assert_eq!(found.len(), 1, "{file}: {:#?}", report.findings);
        assert_eq!(found[0].node, None, "model-level finding");
    }
}

#[test]
fn ql201_quiet_on_qdq_exports() {
    for file in [
        "convnet/pd262-A_qdq_full/p2o131.onnx",
        "mbv3ish/pd262-A_qdq_full/p2o131.onnx",
    ] {
        let report = lint_corpus(file);
        assert!(with_code(&report, "QL201").is_empty(), "{file}");
    }
}

#[test]
fn ql303_predicts_float_relu_in_export() {
    let report = lint_corpus("convnet/pd262-A_qdq_full/p2o131.onnx");
    let found = with_code(&report, "QL303");
    assert_eq!(found.len(), 4, "{found:#?}");
    assert!(found.iter().all(|f| f.op_type.as_deref() == Some("Relu")));
    assert!(
        found[0].message.contains("zero point 0"),
        "{}",
        found[0].message
    );
}

#[test]
fn ql303_quiet_on_leaky_relu_export() {
    let report = lint_corpus("leaky/pd262-A_qdq_full/p2o131.onnx");
    assert!(
        with_code(&report, "QL303").is_empty(),
        "{:#?}",
        report.findings
    );
}

#[test]
fn ql401_fires_without_vnni_only() {
    let model = corpus("convnet/pd262-A_qdq_full/p2o131.onnx");
    for cpu in ["skylake-sp", "haswell", "zen3"] {
        let report = lint_paths(std::slice::from_ref(&model), &[], cpu);
        let found = with_code(&report, "QL401");
        assert_eq!(found.len(), 1, "{cpu}");
        assert_eq!(found[0].stage, "host");
        assert_eq!(found[0].severity, Severity::Warning);
        assert!(
            found[0].message.contains(&format!("`{cpu}`")),
            "{}",
            found[0].message
        );
    }
    for cpu in [
        "icelake-server",
        "cascadelake",
        "alderlake",
        "zen4",
        "avx2,avx512_vnni",
    ] {
        let report = lint_paths(std::slice::from_ref(&model), &[], cpu);
        assert!(with_code(&report, "QL401").is_empty(), "{cpu}");
    }
}

#[test]
fn ql401_quiet_on_float_model() {
    let model = corpus("convnet/pd331-float/p2o131.onnx");
    let report = lint_paths(&[model], &[], "skylake-sp");
    assert!(with_code(&report, "QL401").is_empty());
}

#[test]
fn ql404_fires_on_tiny() {
    for file in [
        "tiny/pd262-A_qdq_full/p2o131.onnx",
        "tiny/pd262-A_qdq_full/p2o131.ort_extended.onnx",
        "tiny/pd262-A_qdq_full/p2o131.ort_all.onnx",
    ] {
        let report = lint_corpus(file);
        let found = with_code(&report, "QL404");
        assert_eq!(found.len(), 1, "{file}: {:#?}", report.findings);
        assert!(
            found[0].message.contains("6912 < 10000000"),
            "{}",
            found[0].message
        );
        assert_eq!(found[0].severity, Severity::Info);
    }
}

#[test]
fn ql404_quiet_with_enough_compute() {
    let folder = common::testdata("generated/big_conv");
    let report = lint_paths(&[folder], &[], "icelake-server");
    common::assert_loaded(&report);
    assert_eq!(report.inputs.len(), 2, "export and optimized graph");
    for input in &report.inputs {
        let macs = input.summary.as_ref().map(|s| s.macs_quantizable);
        assert!(
            macs > Some(10_000_000),
            "{}: {macs:?}",
            input.path.display()
        );
    }
    assert!(
        with_code(&report, "QL404").is_empty(),
        "{:#?}",
        report.findings
    );
}

#[test]
fn big_conv_export_and_graph_are_clean() {
    let folder = common::testdata("generated/big_conv");
    let report = lint_paths(&[folder], &[], "icelake-server");
    // quantize_static writes full-range int8 weights, so QL402 reports its saturation risk.
    let others: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.code != "QL402")
        .collect();
    assert!(others.is_empty(), "{others:#?}");
}

#[test]
fn cpu_rules_quiet_for_cuda_provider() {
    let rules = qlint::rules::RuleSet::builtin().unwrap();
    let options = qlint::lint::LintOptions {
        paths: vec![corpus("convnet/pd262-A_qdq_full/p2o131.onnx")],
        optimized: Vec::new(),
        cpu: qlint::host::CpuTarget::parse("skylake-sp").unwrap(),
        provider: "cuda".into(),
        select: Vec::new(),
        ignore: Vec::new(),
        paddle2onnx: Default::default(),
        ort_version: Default::default(),
    };
    let report = qlint::lint::lint(&rules, &options);
    assert!(with_code(&report, "QL401").is_empty());
    assert_eq!(with_code(&report, "QL403").len(), 1);
    let saturation = with_code(&report, "QL402");
    assert!(!saturation.is_empty());
    assert!(saturation.iter().all(|f| f.severity == Severity::Info));
}
