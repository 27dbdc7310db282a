//! `qlint --bench` with the real ONNX Runtime library. Latency depends on the machine, so the
//! tests check what is reported and how QL502 follows its threshold, never a speed.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

mod runtime_support;

use std::path::PathBuf;

use runtime_support::{
    codes, json, ort_available, qlint, qlint_with_config, run, stdout, testdata,
};

fn int8_model() -> PathBuf {
    testdata("generated/big_conv/model.qdq.onnx")
}

fn float_model() -> PathBuf {
    testdata("generated/big_conv_float/model.onnx")
}

/// Arguments for a short benchmark of the int8 model against its float twin.
fn bench_args(cmd: &mut assert_cmd::Command) -> &mut assert_cmd::Command {
    cmd.arg("--bench")
        .arg(int8_model())
        .arg("--float-model")
        .arg(float_model())
        .args(["--runs", "5", "--warmup", "1", "--threads", "1"])
        .args(["--target-cpu", "icelake-server"])
}

/// Writes a config that sets QL502's required speed-up.
fn speedup_config(dir: &std::path::Path, speedup: &str) -> PathBuf {
    let path = dir.join("qlint.yaml");
    std::fs::write(
        &path,
        format!("thresholds:\n  min-int8-speedup: {speedup}\n"),
    )
    .unwrap();
    path
}

#[test]
fn bench_reports_both_models() {
    if !ort_available("bench_reports_both_models") {
        return;
    }
    let output = run(bench_args(&mut qlint()).args(["--format", "json"]));
    let report = json(&output);
    let bench = &report["runtime"]["bench"];
    assert_eq!(bench["runs"], 5);
    assert_eq!(bench["warmup"], 1);
    assert_eq!(bench["threads"], 1);
    assert_eq!(bench["level"], "all");
    let models = bench["models"].as_array().cloned().unwrap_or_default();
    assert_eq!(models.len(), 2, "{bench:#}");
    assert_eq!(models[0]["role"], "quantized");
    assert_eq!(models[1]["role"], "float");
    assert_eq!(models[0]["path"], int8_model().to_string_lossy().as_ref());
    assert_eq!(models[1]["path"], float_model().to_string_lossy().as_ref());
    for model in &models {
        let p50 = model["p50_ms"].as_f64().unwrap();
        let p90 = model["p90_ms"].as_f64().unwrap();
        assert!(p50 > 0.0, "{model}");
        assert!(p90 >= p50, "{model}");
        assert_eq!(
            model["inputs"][0]["shape"],
            serde_json::json!([1, 3, 224, 224])
        );
    }
    let p50 = |i: usize| models[i]["p50_ms"].as_f64().unwrap();
    let speedup = bench["speedup"].as_f64().unwrap();
    assert!((speedup - p50(1) / p50(0)).abs() < 1e-9, "{bench:#}");
}

#[test]
fn bench_text_shows_latencies() {
    if !ort_available("bench_text_shows_latencies") {
        return;
    }
    let output = run(bench_args(&mut qlint()));
    let text = stdout(&output);
    assert!(
        text.contains(
            "bench at ORT_ENABLE_ALL, 5 timed runs after 1 warm-up runs, 1 intra-op thread"
        ),
        "{text}"
    );
    assert!(text.contains("| model"), "{text}");
    assert!(text.contains("| p50 ms |"), "{text}");
    assert!(text.contains("| quantized |"), "{text}");
    assert!(text.contains("| float     |"), "{text}");
    assert!(text.contains("int8 speed-up over float (p50): "), "{text}");
}

#[test]
fn ql502_fires_when_margin_is_unreachable() {
    if !ort_available("ql502_fires_when_margin_is_unreachable") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = speedup_config(dir.path(), "1000000");
    let output = run(bench_args(&mut qlint_with_config(&config)).args(["--format", "json"]));
    // QL502 is a warning, below the default --fail-on error.
    assert_eq!(output.status.code(), Some(0));
    let report = json(&output);
    let findings = report["findings"].as_array().cloned().unwrap_or_default();
    let ql502: Vec<&serde_json::Value> = findings.iter().filter(|f| f["code"] == "QL502").collect();
    assert_eq!(ql502.len(), 1, "{findings:#?}");
    assert_eq!(ql502[0]["stage"], "runtime");
    assert_eq!(ql502[0]["path"], int8_model().to_string_lossy().as_ref());
    let message = ql502[0]["message"].as_str().unwrap_or("");
    assert!(message.contains("below the required 1000000x"), "{message}");

    let failing = run(bench_args(&mut qlint_with_config(&config)).args(["--fail-on", "warning"]));
    assert_eq!(failing.status.code(), Some(1));
}

#[test]
fn ql502_quiet_when_margin_is_zero() {
    if !ort_available("ql502_quiet_when_margin_is_zero") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = speedup_config(dir.path(), "0");
    let output = run(bench_args(&mut qlint_with_config(&config)).args(["--format", "json"]));
    let report = json(&output);
    assert!(report["runtime"]["bench"]["speedup"].as_f64().unwrap() > 0.0);
    assert!(!codes(&report).contains(&"QL502".to_string()), "{report:#}");
}

#[test]
fn bench_without_float_model_has_no_speedup() {
    if !ort_available("bench_without_float_model_has_no_speedup") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = speedup_config(dir.path(), "1000000");
    let output = run(qlint_with_config(&config)
        .arg("--bench")
        .arg(int8_model())
        .args([
            "--runs",
            "3",
            "--warmup",
            "0",
            "--target-cpu",
            "icelake-server",
        ])
        .args(["--format", "json"]));
    assert_eq!(output.status.code(), Some(0));
    let report = json(&output);
    let bench = &report["runtime"]["bench"];
    assert_eq!(bench["models"].as_array().map(Vec::len), Some(1));
    assert_eq!(bench["speedup"], serde_json::Value::Null);
    assert_eq!(bench["threads"], serde_json::Value::Null);
    assert!(!codes(&report).contains(&"QL502".to_string()), "{report:#}");
}

#[test]
fn corpus_qdq_against_float_export() {
    if !ort_available("corpus_qdq_against_float_export") {
        return;
    }
    let output = run(qlint()
        .arg("--bench")
        .arg(runtime_support::corpus(
            "convnet/pd262-A_qdq_full/p2o131.onnx",
        ))
        .arg("--float-model")
        .arg(runtime_support::corpus("convnet/pd331-float/p2o131.onnx"))
        .args(["--runs", "5", "--warmup", "1", "--level", "extended"])
        .args(["--target-cpu", "icelake-server", "--format", "json"]));
    let report = json(&output);
    let bench = &report["runtime"]["bench"];
    assert_eq!(bench["level"], "extended");
    assert_eq!(bench["models"].as_array().map(Vec::len), Some(2));
    assert!(
        bench["speedup"].as_f64().is_some_and(|s| s > 0.0),
        "{bench:#}"
    );
}
