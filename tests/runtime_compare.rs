//! `qlint --compare` with the real ONNX Runtime library: output differences between
//! `ORT_DISABLE_ALL` and an optimization level, and rule QL501.
//!
//! On a CPU with AVX512-VNNI, ONNX Runtime's QLinearConv reproduces the float QDQ simulation
//! bit-exactly on the convnet export: the corpus measured a difference of 0.0 with ORT 1.32.0.
//! Float exports differ by about 1e-7 (1.3e-7 with ORT 1.31.1 on the corpus input).

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

mod runtime_support;

use std::path::Path;

use qlint::host::CpuTarget;
use runtime_support::{codes, corpus, json, ort_available, qlint, qlint_with_config, run, stdout};

const QDQ_EXPORT: &str = "convnet/pd262-A_qdq_full/p2o131.onnx";
const FLOAT_EXPORT: &str = "convnet/pd331-float/p2o131.onnx";

fn compare(model: &Path, extra: &[&str]) -> (Option<i32>, serde_json::Value) {
    compare_with(qlint(), model, extra)
}

fn compare_with(
    mut cmd: assert_cmd::Command,
    model: &Path,
    extra: &[&str],
) -> (Option<i32>, serde_json::Value) {
    let output = run(cmd
        .arg("--compare")
        .arg(model)
        .args(["--target-cpu", "icelake-server", "--format", "json"])
        .args(extra));
    let code = output.status.code();
    (code, json(&output))
}

/// Writes a config that lowers QL501's absolute-difference threshold.
fn strict_config(dir: &Path, max_abs: &str) -> std::path::PathBuf {
    let path = dir.join("qlint.yaml");
    let text = format!("thresholds:\n  max-optimization-abs-diff: {max_abs}\n");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn qdq_export_does_not_change() {
    if !ort_available("qdq_export_does_not_change") {
        return;
    }
    let (code, report) = compare(&corpus(QDQ_EXPORT), &[]);
    assert_eq!(code, Some(0), "{report:#}");
    let compare = &report["runtime"]["compare"];
    assert_eq!(compare["baseline"], "disable_all");
    assert_eq!(compare["level"], "all");
    assert_eq!(compare["inputs"][0]["name"], "x");
    assert_eq!(
        compare["inputs"][0]["shape"],
        serde_json::json!([1, 3, 32, 32])
    );
    assert_eq!(compare["inputs"][0]["file"], serde_json::Value::Null);
    let outputs = compare["outputs"].as_array().cloned().unwrap_or_default();
    assert_eq!(outputs.len(), 1);
    let max_abs = outputs[0]["max_abs"].as_f64().unwrap();
    let host = CpuTarget::parse("host").unwrap();
    if host.has_vnni() {
        assert_eq!(max_abs, 0.0, "{outputs:?}");
        assert_eq!(outputs[0]["mean_abs"].as_f64(), Some(0.0));
    } else {
        // NOTE: without VNNI the u8s8 kernels may round differently; only a bound is checked.
        assert!(max_abs < 0.01, "{outputs:?}");
    }
    assert!(!codes(&report).contains(&"QL501".to_string()));
    assert_eq!(report["runtime"]["ort_version"], "1.31.1");
}

#[test]
fn float_export_differs_slightly() {
    if !ort_available("float_export_differs_slightly") {
        return;
    }
    let input = corpus("convnet/input.npy");
    let input_arg = format!("x={}", input.display());
    let (code, report) = compare(&corpus(FLOAT_EXPORT), &["--input", &input_arg]);
    // QL201 (a float export) is a warning, so the run still exits 0.
    assert_eq!(code, Some(0), "{report:#}");
    let output = &report["runtime"]["compare"]["outputs"][0];
    let max_abs = output["max_abs"].as_f64().unwrap();
    assert!(max_abs > 0.0, "{output}");
    assert!(max_abs < 1e-5, "{output}");
    assert!(output["cosine"].as_f64().unwrap() > 0.999_999);
    assert_eq!(
        report["runtime"]["compare"]["inputs"][0]["file"],
        input.to_string_lossy().as_ref()
    );
    assert!(!codes(&report).contains(&"QL501".to_string()));
}

#[test]
fn ql501_fires_below_float_difference() {
    if !ort_available("ql501_fires_below_float_difference") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = strict_config(dir.path(), "1.0e-9");
    let (code, report) = compare_with(qlint_with_config(&config), &corpus(FLOAT_EXPORT), &[]);
    assert_eq!(code, Some(1), "{report:#}");
    let findings = report["findings"].as_array().cloned().unwrap_or_default();
    let ql501: Vec<&serde_json::Value> = findings.iter().filter(|f| f["code"] == "QL501").collect();
    assert_eq!(ql501.len(), 1, "{findings:#?}");
    assert_eq!(ql501[0]["stage"], "runtime");
    assert_eq!(ql501[0]["severity"], "error");
    assert_eq!(ql501[0]["node"], serde_json::Value::Null);
    let message = ql501[0]["message"].as_str().unwrap_or("");
    assert!(message.contains("output `linear_0.tmp_1`"), "{message}");
    assert!(message.contains("(limit 1.000e-9)"), "{message}");
}

#[test]
fn ql501_quiet_on_qdq_with_strict_threshold() {
    if !ort_available("ql501_quiet_on_qdq_with_strict_threshold") {
        return;
    }
    if !CpuTarget::parse("host").unwrap().has_vnni() {
        eprintln!("skipping: the exact match needs a host with VNNI");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = strict_config(dir.path(), "0.0");
    let (code, report) = compare_with(qlint_with_config(&config), &corpus(QDQ_EXPORT), &[]);
    assert_eq!(code, Some(0), "{report:#}");
    assert!(!codes(&report).contains(&"QL501".to_string()));
}

#[test]
fn text_table_lists_each_output() {
    if !ort_available("text_table_lists_each_output") {
        return;
    }
    let output = run(qlint().arg("--compare").arg(corpus(QDQ_EXPORT)).args([
        "--level",
        "extended",
        "--target-cpu",
        "icelake-server",
    ]));
    let text = stdout(&output);
    assert!(
        text.contains("compare ORT_DISABLE_ALL vs ORT_ENABLE_EXTENDED on `x` float32 1x3x32x32 (random, seed 0):"),
        "{text}"
    );
    assert!(text.contains("| output"), "{text}");
    assert!(
        text.contains("| save_infer_model/scale_0.tmp_0.0 | float32 | 1x10"),
        "{text}"
    );
    assert!(text.contains("[QL303]"), "static findings missing: {text}");
}

#[test]
fn seed_changes_random_inputs() {
    if !ort_available("seed_changes_random_inputs") {
        return;
    }
    let model = corpus(FLOAT_EXPORT);
    let difference = |seed: &str| {
        let (_, report) = compare(&model, &["--seed", seed]);
        report["runtime"]["compare"]["outputs"][0]["mean_abs"].as_f64()
    };
    assert_eq!(difference("1"), difference("1"));
    assert_ne!(difference("1"), difference("2"));
}

#[test]
fn npy_with_wrong_dtype_is_exit_2() {
    if !ort_available("npy_with_wrong_dtype_is_exit_2") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ints.npy");
    let header = "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 3, 32, 32), }";
    let mut text = header.to_string();
    while !(10 + text.len() + 1).is_multiple_of(64) {
        text.push(' ');
    }
    text.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((text.len() as u16).to_le_bytes());
    bytes.extend(text.as_bytes());
    bytes.extend(vec![0u8; 3 * 32 * 32 * 8]);
    std::fs::write(&path, bytes).unwrap();

    let input_arg = format!("x={}", path.display());
    let output = run(qlint().arg("--compare").arg(corpus(QDQ_EXPORT)).args([
        "--target-cpu",
        "icelake-server",
        "--input",
        &input_arg,
    ]));
    assert_eq!(output.status.code(), Some(2));
    let text = stdout(&output);
    assert!(
        text.contains("holds int64 values but input `x` is float32"),
        "{text}"
    );
    assert!(text.contains("in phase `run`"), "{text}");
    assert!(text.contains("[QL303]"), "static findings missing: {text}");
}

#[test]
fn unknown_shape_name_is_exit_2() {
    if !ort_available("unknown_shape_name_is_exit_2") {
        return;
    }
    let output = run(qlint().arg("--compare").arg(corpus(QDQ_EXPORT)).args([
        "--target-cpu",
        "icelake-server",
        "--shape",
        "image=1x3x32x32",
    ]));
    assert_eq!(output.status.code(), Some(2));
    let text = stdout(&output);
    assert!(
        text.contains("the model has no input `image` (its inputs: x)"),
        "{text}"
    );
}

#[test]
fn shape_sets_symbolic_batch() {
    if !ort_available("shape_sets_symbolic_batch") {
        return;
    }
    let model = runtime_support::testdata("generated/big_conv/model.qdq.onnx");
    let (code, report) = compare(&model, &["--shape", "x=2x3x224x224"]);
    assert_eq!(code, Some(0), "{report:#}");
    let compare = &report["runtime"]["compare"];
    assert_eq!(
        compare["inputs"][0]["shape"],
        serde_json::json!([2, 3, 224, 224])
    );
    assert_eq!(
        compare["outputs"][0]["shape"],
        serde_json::json!([2, 16, 112, 112])
    );
}
