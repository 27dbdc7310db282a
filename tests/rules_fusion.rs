//! Predicted-fusion rules (QL203 layout-op-between-q-and-dq, QL204 predicted-unfused-op) on the
//! corpus exports and the generated QDQ models, and the `--ort-version` option.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

mod common;

use std::path::PathBuf;

use assert_cmd::Command;
use common::{assert_loaded, corpus, lint_paths, testdata, with_code};
use qlint::analysis::fusion::OrtVersion;
use qlint::host::CpuTarget;
use qlint::lint::{LintOptions, lint};
use qlint::report::{Report, Severity};
use qlint::rules::RuleSet;

/// Lints one file for an icelake-server target, judged for an ORT release.
fn lint_for(path: PathBuf, version: &str) -> Report {
    let rules = RuleSet::builtin().unwrap();
    let options = LintOptions {
        paths: vec![path],
        optimized: Vec::new(),
        cpu: CpuTarget::parse("icelake-server").unwrap(),
        provider: "cpu".into(),
        select: Vec::new(),
        ignore: Vec::new(),
        paddle2onnx: Default::default(),
        ort_version: OrtVersion::parse(version).unwrap(),
    };
    let report = lint(&rules, &options);
    assert_loaded(&report);
    report
}

/// Node ids of the findings of `code`, sorted.
fn nodes(report: &Report, code: &str) -> Vec<String> {
    let mut ids: Vec<String> = with_code(report, code)
        .into_iter()
        .map(|f| f.node.clone().unwrap_or_default())
        .collect();
    ids.sort();
    ids
}

fn lint_file(relative: &str) -> Report {
    let report = lint_paths(&[testdata(relative)], &[], "icelake-server");
    assert_loaded(&report);
    report
}

#[test]
fn ql203_fires_on_int8_layout_ops() {
    let report = lint_file("generated/fusion_layout_int8/model.onnx");
    assert_eq!(nodes(&report, "QL203"), ["reshape", "transpose"]);
    let transpose = with_code(&report, "QL203")
        .into_iter()
        .find(|f| f.node.as_deref() == Some("transpose"))
        .unwrap();
    assert_eq!(transpose.severity, Severity::Warning);
    assert_eq!(
        transpose.message,
        "`Transpose` sits between an int8 QuantizeLinear and its DequantizeLinear, so ORT 1.31 \
         keeps the pair int8 and leaves `conv1`, `conv2` float"
    );
}

#[test]
fn ql203_quiet_where_nothing_is_blocked() {
    // The same graph with uint8 activations fuses every Conv around the Transpose and Reshape.
    let uint8 = lint_file("generated/fusion_layout_uint8/model.onnx");
    assert!(with_code(&uint8, "QL203").is_empty());
    assert!(with_code(&uint8, "QL204").is_empty());
    for export in [
        "convnet/pd262-A_qdq_full/p2o131.onnx",
        "mbv3ish/pd262-A_qdq_full/p2o131.onnx",
    ] {
        let report = lint_paths(&[corpus(export)], &[], "icelake-server");
        assert!(with_code(&report, "QL203").is_empty(), "{export}");
    }
}

#[test]
fn ql204_names_mbv3ish_ops_left_float() {
    let report = lint_paths(
        &[corpus("mbv3ish/pd262-A_qdq_full/p2o131.onnx")],
        &[],
        "icelake-server",
    );
    assert_loaded(&report);
    assert_eq!(
        nodes(&report, "QL204"),
        [
            "Add.14",
            "Add.4",
            "Conv.1",
            "Conv.10",
            "Conv.11",
            "Conv.12",
            "GlobalAveragePool.0",
            "GlobalAveragePool.1",
            "GlobalAveragePool.2",
            "Mul.4",
            "Mul.5",
            "Sigmoid.1",
            "Sigmoid.3",
        ]
    );
    let conv = with_code(&report, "QL204")
        .into_iter()
        .find(|f| f.node.as_deref() == Some("Conv.11"))
        .unwrap();
    assert!(
        conv.message.starts_with(
            "`Conv` stays float in ORT 1.31 instead of becoming `QLinearConv`: its activations \
             stay int8, which x86-64 builds of ORT reject: QuantizeLinear `QuantizeLinear.182` \
             feeds 2 consumers"
        ),
        "{}",
        conv.message
    );
    // HardSwish, HardSigmoid and Relu have no int8 kernel: QL303 reports them, not QL204.
    let ops: Vec<String> = with_code(&report, "QL204")
        .iter()
        .map(|f| f.op_type.clone().unwrap_or_default())
        .collect();
    assert!(
        !ops.iter().any(|op| op == "HardSwish" || op == "Relu"),
        "{ops:?}"
    );
}

#[test]
fn ql204_reasons_on_generated_models() {
    let float_input = lint_file("generated/fusion_float_input/model.onnx");
    assert_eq!(nodes(&float_input, "QL204"), ["add_float", "mul_const"]);
    let old = lint_file("generated/fusion_old_opset/model.onnx");
    assert_eq!(nodes(&old, "QL204"), ["pool"]);
    let message = &with_code(&old, "QL204")[0].message;
    assert!(
        message.contains("`MaxPool` at opset 11 has since-version 11"),
        "{message}"
    );
    let fanout = lint_file("generated/fusion_int8_fanout/model.onnx");
    assert_eq!(nodes(&fanout, "QL204"), ["conv2", "leaky1", "residual"]);
}

#[test]
fn ql204_quiet_on_fully_fused_models() {
    for model in [
        "generated/fusion_clean/model.onnx",
        "generated/big_conv/model.qdq.onnx",
    ] {
        let report = lint_file(model);
        assert!(with_code(&report, "QL204").is_empty(), "{model}");
    }
}

#[test]
fn fusion_rules_skip_optimized_graphs() {
    let optimized = corpus("mbv3ish/pd262-A_qdq_full/p2o131.ort_extended.onnx");
    let report = lint_paths(&[], &[optimized], "icelake-server");
    assert_loaded(&report);
    assert!(with_code(&report, "QL203").is_empty());
    assert!(with_code(&report, "QL204").is_empty());
}

#[test]
fn ort_version_names_the_release() {
    let report = lint_for(corpus("convnet/pd262-A_qdq_full/p2o131.onnx"), "1.32.0");
    let messages: Vec<&str> = with_code(&report, "QL204")
        .iter()
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages.iter().all(|m| m.contains("in ORT 1.32")),
        "{messages:?}"
    );
}

#[test]
fn ort_version_rejects_unknown_release() {
    let error = OrtVersion::parse("1.30").unwrap_err();
    assert_eq!(
        error,
        "unknown ONNX Runtime version `1.30`: known versions are 1.31, 1.32"
    );
    assert!(OrtVersion::parse("1.31.x").is_err());
    assert_eq!(OrtVersion::parse(" 1.31.1 ").unwrap().as_str(), "1.31");
}

#[test]
fn cli_rejects_unknown_ort_version() {
    let output = Command::cargo_bin("qlint")
        .unwrap()
        .args([
            "--no-config",
            "--target-cpu",
            "zen4",
            "--ort-version",
            "2.0",
        ])
        .arg(corpus("tiny/pd262-A_qdq_full/p2o131.onnx"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "invalid --ort-version: unknown ONNX Runtime version `2.0`: known versions are \
             1.31, 1.32"
        ),
        "{stderr}"
    );
}

#[test]
fn config_key_selects_ort_version() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join(".qlint.yaml");
    std::fs::write(&config, "ort-version: \"1.32\"\nselect: [QL204]\n").unwrap();
    let output = Command::cargo_bin("qlint")
        .unwrap()
        .args(["--target-cpu", "zen4", "--format", "json", "--config"])
        .arg(&config)
        .arg(testdata("generated/fusion_old_opset/model.onnx"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("ORT 1.32 fuses it only at since-versions 12, 22"),
        "{stdout}"
    );

    std::fs::write(&config, "ort-version: \"1.9\"\n").unwrap();
    let output = Command::cargo_bin("qlint")
        .unwrap()
        .args(["--target-cpu", "zen4", "--config"])
        .arg(&config)
        .arg(testdata("generated/fusion_old_opset/model.onnx"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(".qlint.yaml:1:14: unknown ONNX Runtime version `1.9`"),
        "{stderr}"
    );
}

#[test]
fn fusion_rules_quiet_for_other_providers() {
    let rules = RuleSet::builtin().unwrap();
    let options = LintOptions {
        paths: vec![testdata("generated/fusion_layout_int8/model.onnx")],
        optimized: Vec::new(),
        cpu: CpuTarget::parse("icelake-server").unwrap(),
        provider: "CUDAExecutionProvider".into(),
        select: vec!["QL203".into(), "QL204".into()],
        ignore: Vec::new(),
        paddle2onnx: Default::default(),
        ort_version: OrtVersion::default(),
    };
    let report = lint(&rules, &options);
    assert_loaded(&report);
    assert!(report.findings.is_empty(), "{:?}", report.findings);
}
