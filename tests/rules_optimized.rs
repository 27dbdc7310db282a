//! Rules on ORT-optimized graphs (QL301-QL306) on files written by ONNX Runtime 1.32.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

mod common;

use common::{corpus, lint_corpus, lint_paths, with_code};

#[test]
fn convnet_relu_islands_and_symmetric_reason() {
    let report = lint_corpus("convnet/pd262-A_qdq_full/p2o131.ort_extended.onnx");
    let islands = with_code(&report, "QL302");
    assert_eq!(islands.len(), 5, "{islands:#?}");
    let relu_islands = islands
        .iter()
        .filter(|f| f.message.starts_with("float island (Relu) "))
        .count();
    assert_eq!(relu_islands, 4, "{islands:#?}");
    let relus = with_code(&report, "QL303");
    assert_eq!(relus.len(), 4, "{relus:#?}");
    for finding in &relus {
        assert_eq!(finding.op_type.as_deref(), Some("Relu"));
        assert!(
            finding.message.contains("uint8 zero point 128"),
            "{}",
            finding.message
        );
        assert!(finding.message.contains("symmetric"), "{}", finding.message);
        assert!(finding.help.contains("LeakyRelu"), "{}", finding.help);
    }
    assert!(with_code(&report, "QL301").is_empty(), "every Conv fused");
}

#[test]
fn leaky_extended_is_one_chain_without_ql303() {
    let report = lint_corpus("leaky/pd262-A_qdq_full/p2o131.ort_extended.onnx");
    assert!(
        with_code(&report, "QL303").is_empty(),
        "{:#?}",
        report.findings
    );
    assert!(
        with_code(&report, "QL302").is_empty(),
        "{:#?}",
        report.findings
    );
    assert!(with_code(&report, "QL301").is_empty());
    let summary = report.inputs[0].summary.clone().unwrap_or_default();
    assert_eq!(summary.chains, vec![7]);
}

#[test]
fn mbv3ish_islands_name_float_ops() {
    for file in [
        "mbv3ish/pd262-A_qdq_full/p2o131.ort_extended.onnx",
        "mbv3ish/pd262-A_qdq_full/p2o131.ort_all.onnx",
    ] {
        let report = lint_corpus(file);
        let islands = with_code(&report, "QL302");
        let text: Vec<&str> = islands.iter().map(|f| f.message.as_str()).collect();
        for op in ["HardSigmoid", "Mul", "GlobalAveragePool", "Add"] {
            assert!(
                text.iter().any(|m| m.contains(op)),
                "{file}: no island names {op}: {text:#?}"
            );
        }
        assert!(
            text.iter()
                .all(|m| m.contains("chains of sizes [") || m.ends_with("next to no int8 chain")),
            "{text:#?}"
        );
        let convs = with_code(&report, "QL301");
        assert_eq!(convs.len(), 4, "{file}: {convs:#?}");
        for conv in &convs {
            assert!(conv.message.contains("QLinearConv"), "{}", conv.message);
        }
        let hard_sigmoid = with_code(&report, "QL303");
        assert!(
            hard_sigmoid
                .iter()
                .any(|f| f.op_type.as_deref() == Some("HardSigmoid"))
        );
    }
}

#[test]
fn no_node_in_both_ql301_and_ql303() {
    for file in [
        "mbv3ish/pd262-A_qdq_full/p2o131.ort_extended.onnx",
        "convnet/pd262-A_qdq_full/p2o131.ort_all.onnx",
    ] {
        let report = lint_corpus(file);
        for compute in with_code(&report, "QL301") {
            let both = with_code(&report, "QL303")
                .iter()
                .any(|a| a.node == compute.node);
            assert!(!both, "{file}: {:?}", compute.node);
        }
    }
}

#[test]
fn ql305_on_every_ort_all_output_only() {
    for model in [
        "convnet/pd262-A_qdq_full",
        "convnet/pd262-QAT_qdq",
        "leaky/pd262-A_qdq_full",
        "mbv3ish/pd262-A_qdq_full",
        "tiny/pd262-A_qdq_full",
    ] {
        let all = lint_corpus(&format!("{model}/p2o131.ort_all.onnx"));
        assert_eq!(with_code(&all, "QL305").len(), 1, "{model}");
        let extended = lint_corpus(&format!("{model}/p2o131.ort_extended.onnx"));
        assert!(with_code(&extended, "QL305").is_empty(), "{model}");
    }
}

#[test]
fn ql306_fires_on_export_passed_as_optimized() {
    let export = corpus("convnet/pd262-A_qdq_full/p2o131.onnx");
    let report = lint_paths(&[], &[export], "icelake-server");
    let found = with_code(&report, "QL306");
    assert_eq!(found.len(), 1, "{:#?}", report.findings);
    assert!(
        found[0].message.contains("exporter's file"),
        "{}",
        found[0].message
    );
    let real = lint_corpus("convnet/pd262-A_qdq_full/p2o131.ort_extended.onnx");
    assert!(with_code(&real, "QL306").is_empty());
}

#[test]
fn optimized_files_are_detected_without_flag() {
    let report = lint_corpus("convnet/pd262-A_qdq_full/p2o131.ort_extended.onnx");
    assert_eq!(report.inputs[0].stage, Some(qlint::graph::Stage::Optimized));
    let export = lint_corpus("convnet/pd262-A_qdq_full/p2o131.onnx");
    assert_eq!(export.inputs[0].stage, Some(qlint::graph::Stage::Onnx));
}

#[test]
fn ql304_fires_when_float_gemm_holds_most_macs() {
    let model = common::testdata("generated/float_gemm_head/model.qdq.ort_extended.onnx");
    let report = lint_paths(&[model], &[], "icelake-server");
    common::assert_loaded(&report);
    let found = with_code(&report, "QL304");
    assert_eq!(found.len(), 1, "{:#?}", report.findings);
    assert!(
        found[0]
            .message
            .starts_with("only 29.7% of 186.4K quantizable MACs"),
        "{}",
        found[0].message
    );
    assert!(
        found[0].message.ends_with("(29.7% < 80.0%)"),
        "{}",
        found[0].message
    );
}

#[test]
fn ql304_fires_on_mbv3ish_unfused_convs() {
    let report = lint_corpus("mbv3ish/pd262-A_qdq_full/p2o131.ort_extended.onnx");
    let found = with_code(&report, "QL304");
    assert_eq!(found.len(), 1);
    assert!(
        found[0]
            .message
            .starts_with("only 68.4% of 1.2M quantizable MACs"),
        "{}",
        found[0].message
    );
}

#[test]
fn ql304_quiet_when_convs_are_fused() {
    for file in [
        "convnet/pd262-A_qdq_full/p2o131.ort_extended.onnx",
        "leaky/pd262-A_qdq_full/p2o131.ort_all.onnx",
    ] {
        let report = lint_corpus(file);
        assert!(
            with_code(&report, "QL304").is_empty(),
            "{file}: {:#?}",
            with_code(&report, "QL304")
        );
    }
    let big = common::testdata("generated/big_conv/model.qdq.ort_extended.onnx");
    let report = lint_paths(&[big], &[], "icelake-server");
    common::assert_loaded(&report);
    assert!(with_code(&report, "QL304").is_empty());
}

#[test]
fn ql304_quiet_on_float_graph() {
    let report = lint_corpus("convnet/pd331-float/p2o131.ort_extended.onnx");
    assert!(with_code(&report, "QL304").is_empty());
}
