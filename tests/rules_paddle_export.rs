//! Paddle export rules (QL105 optimized-before-quantization, QL108 not-exportable-op) on real
//! Paddle programs from PaddleSlim, Paddle Inference and the corpus.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

mod common;

use std::path::PathBuf;

use assert_cmd::Command;
use common::{assert_loaded, codes, corpus, lint_corpus, testdata, with_code};
use qlint::analysis::paddle2onnx::Paddle2OnnxVersion;
use qlint::host::CpuTarget;
use qlint::lint::{LintOptions, lint};
use qlint::report::{Finding, Report, Severity};
use qlint::rules::RuleSet;

/// Quantized programs with nothing folded or fused, all exportable by Paddle2ONNX 1.3.1. The
/// tiny D variant ran with optimize_model=True, but tiny has no batch norm to fold.
const CLEAN_QUANTIZED: &[&str] = &[
    "convnet/pd262-A_qdq_full",
    "convnet/pd262-C_qdq_partial",
    "convnet/pd262-QAT_qdq",
    "convnet/pd331-A_qdq_full",
    "leaky/pd262-A_qdq_full",
    "mbv3ish/pd262-A_qdq_full",
    "tiny/pd262-A_qdq_full",
    "tiny/pd262-D_qdq_full_optimize",
];

/// Lints one file or directory for an icelake-server target, judged for a Paddle2ONNX release.
fn lint_for_release(path: PathBuf, release: &str) -> Report {
    let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("built-in rules: {e}"));
    let options = LintOptions {
        paths: vec![path],
        optimized: Vec::new(),
        cpu: CpuTarget::parse("icelake-server").unwrap_or_else(|e| panic!("cpu: {e}")),
        provider: "cpu".into(),
        select: Vec::new(),
        ignore: Vec::new(),
        paddle2onnx: Paddle2OnnxVersion::parse(release).unwrap_or_else(|e| panic!("{e}")),
        ort_version: Default::default(),
    };
    let report = lint(&rules, &options);
    assert_loaded(&report);
    report
}

/// Findings of `code` as `(op type, message)`, sorted by op type.
fn messages(report: &Report, code: &str) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = with_code(report, code)
        .into_iter()
        .map(|f: &Finding| (f.op_type.clone().unwrap_or_default(), f.message.clone()))
        .collect();
    found.sort();
    found
}

#[test]
fn ql105_fires_on_optimize_model_ptq() {
    let report = lint_for_release(testdata("generated/ptq_optimize_model"), "1.3.1");
    let found = with_code(&report, "QL105");
    assert_eq!(found.len(), 1, "{:?}", messages(&report, "QL105"));
    assert_eq!(found[0].severity, Severity::Warning);
    assert_eq!(
        found[0].message,
        "`conv2d` ×4 has batch norm folded in before quantization (optimize_model=True): its output feeds a bias `elementwise_add` without `op_role`"
    );
    assert_eq!(found[0].nodes.len(), 4);
    assert!(
        found[0].help.contains("optimize_model=False"),
        "{}",
        found[0].help
    );
}

#[test]
fn ql105_fires_on_inference_optimized_ptq() {
    let report = lint_for_release(testdata("generated/ptq_after_inference_opt"), "1.3.1");
    let found = messages(&report, "QL105");
    let expected = [
        (
            "fc",
            "`fc` ×1 was fused by Paddle Inference's optimizer before quantization: PTQ does not quantize fused ops",
        ),
        (
            "fused_conv2d",
            "`fused_conv2d` ×4 was fused by Paddle Inference's optimizer before quantization: PTQ does not quantize fused ops",
        ),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(op, m)| (op.to_string(), m.to_string()))
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn ql105_quiet_without_optimization() {
    for model in CLEAN_QUANTIZED {
        let report = lint_corpus(model);
        assert!(
            with_code(&report, "QL105").is_empty(),
            "{model}: {:?}",
            messages(&report, "QL105")
        );
    }
}

#[test]
fn ql105_quiet_on_float_and_fake_quant() {
    let models = [
        "convnet/pd331-float",
        "convnet/pd331-float_pir",
        "convnet/pd262-B_fake_full",
        "convnet/pd262-QAT_fake",
        "convnet/pd331-QAT2_qdq_pir_zpfix",
    ];
    for model in models {
        let report = lint_corpus(model);
        assert!(with_code(&report, "QL105").is_empty(), "{model}");
    }
}

#[test]
fn ql108_names_ops_paddle2onnx_rejected() {
    let dir = testdata("generated/ptq_after_inference_opt");
    let report = lint_for_release(dir.clone(), "1.3.1");
    let found = messages(&report, "QL108");
    let expected = [
        (
            "fc",
            "`fc` ×1 cannot be exported: Paddle2ONNX 1.3.1 has no converter for `fc`, and no release in qlint's table converts it",
        ),
        (
            "fused_conv2d",
            "`fused_conv2d` ×4 cannot be exported: Paddle2ONNX 1.3.1 has no converter for `fused_conv2d`, and no release in qlint's table converts it",
        ),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(op, m)| (op.to_string(), m.to_string()))
        .collect();
    assert_eq!(found, expected);
    assert!(
        with_code(&report, "QL108")
            .iter()
            .all(|f| f.severity == Severity::Error)
    );

    // Paddle2ONNX 1.3.1 itself listed the same ops when it aborted on this program.
    let log = std::fs::read_to_string(dir.join("p2o131.error.txt")).unwrap();
    let listed = log
        .lines()
        .find_map(|line| line.split_once("including "))
        .map(|(_, ops)| ops.trim().trim_end_matches(','))
        .unwrap_or_default();
    let mut rejected: Vec<&str> = listed.split(',').collect();
    rejected.sort_unstable();
    let reported: Vec<&str> = found.iter().map(|(op, _)| op.as_str()).collect();
    assert_eq!(reported, rejected, "{log}");
}

#[test]
fn ql108_in_place_scale_under_2_1_0() {
    let report = lint_for_release(corpus("convnet/pd262-A_qdq_full"), "2.1.0");
    let found = messages(&report, "QL108");
    let fp8 = |op: &str, count: usize| {
        (
            op.to_string(),
            format!(
                "`{op}` ×{count} cannot be exported: Paddle2ONNX 2.1.0 converts quantize ops to FP8 only, not INT8; Paddle2ONNX 1.3.1 exports INT8 from a `.pdmodel` program"
            ),
        )
    };
    let expected = vec![
        fp8("dequantize_linear", 23),
        fp8("quantize_linear", 18),
        (
            "scale".to_string(),
            "`scale` ×1 cannot be exported: Paddle2ONNX 2.1.0 has no converter for `scale_`; Paddle2ONNX 1.3.1 converts it and exports INT8".to_string(),
        ),
    ];
    assert_eq!(found, expected);
}

#[test]
fn ql108_pir_int8_program_under_2_1_0() {
    let report = lint_for_release(corpus("convnet/pd331-QAT2_qdq_pir_zpfix"), "2.1.0");
    let found = messages(&report, "QL108");
    let ops: Vec<&str> = found.iter().map(|(op, _)| op.as_str()).collect();
    assert_eq!(ops, ["pd_op::dequantize_linear", "pd_op::quantize_linear"]);
    assert_eq!(
        found[1].1,
        "`pd_op::quantize_linear` ×15 cannot be exported: Paddle2ONNX 2.1.0 converts quantize ops to FP8 only, not INT8; Paddle2ONNX 1.3.1 exports INT8 from a `.pdmodel` program"
    );
}

#[test]
fn ql108_quiet_on_exportable_programs() {
    for model in CLEAN_QUANTIZED {
        let report = lint_for_release(corpus(model), "1.3.1");
        assert!(
            with_code(&report, "QL108").is_empty(),
            "{model}: {:?}",
            messages(&report, "QL108")
        );
    }
    // Paddle2ONNX 2.1.0 exported these float programs in the corpus runs.
    for model in [
        "convnet/pd331-float",
        "convnet/pd331-float_pir",
        "mbv3ish/pd331-float_pir",
    ] {
        let report = lint_for_release(corpus(model), "2.1.0");
        assert!(
            with_code(&report, "QL108").is_empty(),
            "{model}: {:?}",
            messages(&report, "QL108")
        );
    }
}

#[test]
fn ql108_leaves_fake_quant_to_ql101() {
    for release in ["1.3.1", "2.1.0"] {
        let report = lint_for_release(corpus("convnet/pd331-A_qdq_full"), release);
        assert!(codes(&report).iter().all(|c| c != "QL101"));
        let report = lint_for_release(corpus("convnet/pd262-B_fake_partial"), release);
        assert!(!with_code(&report, "QL101").is_empty(), "{release}");
        let fake: Vec<(String, String)> = messages(&report, "QL108")
            .into_iter()
            .filter(|(op, _)| op.starts_with("fake_"))
            .collect();
        assert!(fake.is_empty(), "{release}: {fake:?}");
    }
}

#[test]
fn cli_rejects_unknown_release() {
    let output = Command::cargo_bin("qlint")
        .unwrap()
        .args([
            "--no-config",
            "--target-cpu",
            "zen4",
            "--paddle2onnx-version",
            "1.4.0",
        ])
        .arg(corpus("tiny/pd262-A_qdq_full"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("invalid --paddle2onnx-version: unknown Paddle2ONNX version `1.4.0`: known versions are 1.0.6, "),
        "{stderr}"
    );
}

#[test]
fn config_key_selects_release() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join(".qlint.yaml");
    std::fs::write(&config, "paddle2onnx-version: \"2.1.0\"\nselect: [QL108]\n").unwrap();
    let output = Command::cargo_bin("qlint")
        .unwrap()
        .args(["--target-cpu", "zen4", "--format", "json", "--config"])
        .arg(&config)
        .arg(corpus("convnet/pd262-A_qdq_full"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("has no converter for `scale_`"), "{stdout}");

    std::fs::write(&config, "paddle2onnx-version: \"0.9.0\"\n").unwrap();
    let output = Command::cargo_bin("qlint")
        .unwrap()
        .args(["--target-cpu", "zen4", "--config"])
        .arg(&config)
        .arg(corpus("convnet/pd262-A_qdq_full"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(".qlint.yaml:1:22: unknown Paddle2ONNX version `0.9.0`"),
        "{stderr}"
    );
}
