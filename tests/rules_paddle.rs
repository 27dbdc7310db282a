//! Paddle-stage rules (QL101-QL104) on real PaddleSlim programs.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

mod common;

use common::{codes, lint_corpus, lint_paths, testdata, with_code};
use qlint::report::Severity;

const FAKE_QUANT_MODELS: &[&str] = &[
    "convnet/pd262-B_fake_full",
    "convnet/pd262-B_fake_partial",
    "convnet/pd262-QAT_fake",
];

const ONNX_FORMAT_MODELS: &[&str] = &[
    "convnet/pd262-A_qdq_full",
    "convnet/pd262-C_qdq_partial",
    "convnet/pd262-QAT_qdq",
    "convnet/pd331-A_qdq_full",
    "convnet/pd331-QAT2_qdq_pir_zpfix",
    "leaky/pd262-A_qdq_full",
    "mbv3ish/pd262-A_qdq_full",
    "tiny/pd262-A_qdq_full",
];

#[test]
fn ql101_reports_each_fake_op_type_with_count() {
    let report = lint_corpus("convnet/pd262-B_fake_full");
    let found = with_code(&report, "QL101");
    let messages: Vec<&str> = found.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(found.len(), 3, "{messages:#?}");
    assert!(found.iter().all(|f| f.severity == Severity::Error));
    assert!(messages.contains(&"`fake_quantize_dequantize_moving_average_abs_max` ×12 cannot be exported to ONNX: legacy fake quantization (onnx_format=False)"), "{messages:#?}");
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("`fake_channel_wise_dequantize_max_abs` ×5 "))
    );
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("`fake_quantize_range_abs_max` ×5 "))
    );
    assert!(
        found[0].help.contains("onnx_format=True"),
        "{}",
        found[0].help
    );
    let group = found
        .iter()
        .find(|f| f.message.contains(" ×12 "))
        .map(|f| f.nodes.len());
    assert_eq!(group, Some(12));
}

#[test]
fn ql101_fires_on_every_fake_quant_model() {
    for model in FAKE_QUANT_MODELS {
        let report = lint_corpus(model);
        assert!(
            !with_code(&report, "QL101").is_empty(),
            "{model}: {:?}",
            codes(&report)
        );
    }
}

#[test]
fn ql101_quiet_on_onnx_format_models() {
    for model in ONNX_FORMAT_MODELS {
        let report = lint_corpus(model);
        assert!(
            with_code(&report, "QL101").is_empty(),
            "{model}: {:?}",
            report.findings
        );
    }
}

#[test]
fn ql103_fires_on_qat_fake_only() {
    let qat_fake = lint_corpus("convnet/pd262-QAT_fake");
    let found = with_code(&qat_fake, "QL103");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0]
            .message
            .starts_with("`fake_channel_wise_quantize_dequantize_abs_max` ×5 "),
        "{}",
        found[0].message
    );
    let qat_qdq = lint_corpus("convnet/pd262-QAT_qdq");
    assert!(with_code(&qat_qdq, "QL103").is_empty());
    assert!(with_code(&qat_qdq, "QL101").is_empty());
    let ptq_fake = lint_corpus("convnet/pd262-B_fake_full");
    assert!(with_code(&ptq_fake, "QL103").is_empty(), "PTQ is not QAT");
}

#[test]
fn ql102_fires_on_training_program() {
    let report = lint_paths(
        &[testdata("generated/train_program")],
        &[],
        "icelake-server",
    );
    common::assert_loaded(&report);
    let found = with_code(&report, "QL102");
    let messages: Vec<&str> = found.iter().map(|f| f.message.as_str()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("optimizer op `sgd` ×4:")),
        "{messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("gradient op `conv2d_grad` ×1:")),
        "{messages:#?}"
    );
}

#[test]
fn ql102_quiet_on_inference_programs() {
    for model in ONNX_FORMAT_MODELS.iter().chain(FAKE_QUANT_MODELS) {
        let report = lint_corpus(model);
        assert!(
            with_code(&report, "QL102").is_empty(),
            "{model}: {:?}",
            report.findings
        );
    }
}

#[test]
fn ql104_fires_on_partial_quantization() {
    for model in [
        "convnet/pd262-C_qdq_partial",
        "convnet/pd262-B_fake_partial",
    ] {
        let report = lint_corpus(model);
        let found = with_code(&report, "QL104");
        assert!(!found.is_empty(), "{model}: {:?}", codes(&report));
        assert!(found.iter().all(|f| f.severity == Severity::Info));
    }
}

#[test]
fn ql104_quiet_on_full_quantization() {
    for model in [
        "convnet/pd262-A_qdq_full",
        "convnet/pd262-B_fake_full",
        "leaky/pd262-A_qdq_full",
    ] {
        let report = lint_corpus(model);
        assert!(
            with_code(&report, "QL104").is_empty(),
            "{model}: {:#?}",
            with_code(&report, "QL104")
        );
    }
}

#[test]
fn float_paddle_programs_are_clean() {
    for model in [
        "convnet/pd331-float",
        "convnet/pd331-float_pir",
        "mbv3ish/pd331-float_pir",
    ] {
        let report = lint_corpus(model);
        assert!(
            report.findings.is_empty(),
            "{model}: {:#?}",
            report.findings
        );
    }
}
