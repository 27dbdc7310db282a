//! What qlint does when ONNX Runtime is missing, fails or crashes: exit 2, a message that names
//! the model and the phase, and the static findings still printed.
//!
//! Crashes are injected with the worker's test hook (`QLINT_TEST_WORKER_FAULT=KIND@PHASE`), which
//! aborts, exits or hangs the worker process at the start of a phase.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

mod runtime_support;

use std::path::PathBuf;

use qlint::runtime::fault::FAULT_ENV;
use runtime_support::{binary, corpus, ort_available, qlint, run, stdout};

const FAULT_MODEL: &str = "convnet/pd262-A_qdq_full/p2o131.onnx";

fn model() -> PathBuf {
    corpus(FAULT_MODEL)
}

/// Checks the shared signs of a failed ONNX Runtime run in text output.
fn assert_failed_with_findings(output: &std::process::Output, expected: &[&str]) {
    let text = stdout(output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    for part in expected {
        assert!(text.contains(part), "missing {part:?} in\n{text}");
    }
    // The export's Relu findings come from static linting, which never touches ONNX Runtime.
    assert!(text.contains("[QL303]"), "static findings missing:\n{text}");
    assert!(text.contains("1 run error."), "{text}");
}

#[test]
fn abort_in_run_is_reported() {
    if !ort_available("abort_in_run_is_reported") {
        return;
    }
    let output = run(qlint()
        .env(FAULT_ENV, "abort@run")
        .arg("--compare")
        .arg(model())
        .args(["--target-cpu", "icelake-server"]));
    let on_model = format!(
        "ONNX Runtime failed on {} in phase `run`",
        model().display()
    );
    assert_failed_with_findings(
        &output,
        &[&on_model, "crashed with signal 6 (SIGABRT, abort)"],
    );
}

#[test]
fn exit_in_optimize_is_reported() {
    if !ort_available("exit_in_optimize_is_reported") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let output = run(qlint()
        .env(FAULT_ENV, "exit@optimize")
        .arg("--optimize")
        .arg(model())
        .arg("--save-optimized")
        .arg(dir.path().join("out.onnx"))
        .args(["--target-cpu", "icelake-server"]));
    assert_failed_with_findings(
        &output,
        &[
            "in phase `optimize`",
            "the worker process exited with status 70 without a result",
        ],
    );
    // The optimized graph was never written, so only the source model was linted.
    assert!(stdout(&output).contains("in 1 model."));
}

#[test]
fn hang_in_bench_times_out() {
    if !ort_available("hang_in_bench_times_out") {
        return;
    }
    let output = run(qlint()
        .env(FAULT_ENV, "hang@bench")
        .arg("--bench")
        .arg(model())
        .args(["--timeout", "2", "--target-cpu", "icelake-server"]));
    assert_failed_with_findings(
        &output,
        &[
            "in phase `bench`",
            "the worker did not finish within 2 s and was stopped",
        ],
    );
}

#[test]
fn crash_keeps_json_valid() {
    if !ort_available("crash_keeps_json_valid") {
        return;
    }
    let output = run(qlint()
        .env(FAULT_ENV, "abort@load")
        .arg("--compare")
        .arg(model())
        .args(["--target-cpu", "icelake-server", "--format", "json"]));
    assert_eq!(output.status.code(), Some(2));
    let report = runtime_support::json(&output);
    let errors = report["run_errors"].as_array().cloned().unwrap_or_default();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].as_str().unwrap_or("").contains("in phase `load`"));
    assert!(report["findings"].as_array().is_some_and(|f| !f.is_empty()));
    assert!(report["runtime"]["library"].is_string());
    assert_eq!(report["runtime"].get("compare"), None);
}

#[test]
fn missing_library_prints_fetch_command() {
    // A copy of the binary outside the repository finds no library: nothing beside it, no
    // repository cache above it, and the two variables removed.
    let dir = tempfile::tempdir().unwrap();
    let lonely = dir.path().join("qlint");
    std::fs::copy(binary(), &lonely).unwrap();
    for option in ["--optimize", "--compare", "--bench"] {
        let output = run(assert_cmd::Command::new(&lonely)
            .env_remove("ORT_DYLIB_PATH")
            .env_remove("QLINT_ORT_CACHE")
            .arg("--no-config")
            .arg(option)
            .arg(model())
            .args(["--target-cpu", "icelake-server"]));
        let needs = format!("{option} needs ONNX Runtime: ONNX Runtime library not found");
        assert_failed_with_findings(
            &output,
            &[&needs, "scripts/fetch-onnxruntime.sh", "ORT_DYLIB_PATH="],
        );
    }
}

#[test]
fn dylib_path_to_missing_file_is_exit_2() {
    let output = run(qlint()
        .env("ORT_DYLIB_PATH", "/no/such/libonnxruntime.so")
        .arg("--compare")
        .arg(model())
        .args(["--target-cpu", "icelake-server"]));
    assert_failed_with_findings(
        &output,
        &["ORT_DYLIB_PATH is set to /no/such/libonnxruntime.so, which is not a file"],
    );
}

#[test]
fn dylib_path_to_non_library_fails_in_init() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("libonnxruntime.so.1.31.1");
    std::fs::write(&fake, b"not a shared library").unwrap();
    let output = run(qlint()
        .env("ORT_DYLIB_PATH", &fake)
        .arg("--compare")
        .arg(model())
        .args(["--target-cpu", "icelake-server"]));
    assert_failed_with_findings(
        &output,
        &[
            "ONNX Runtime failed in phase `init`",
            "cannot load ONNX Runtime from",
        ],
    );
}

#[test]
fn worker_is_hidden_from_help() {
    let output = run(qlint().arg("--help"));
    let text = stdout(&output);
    assert!(!text.contains("__ort-worker"), "{text}");
    assert!(text.contains("--compare <MODEL>"), "{text}");
}

#[test]
fn directory_model_is_exit_2() {
    let dir = corpus("convnet/pd262-B_fake_full");
    let output = run(qlint()
        .arg("--compare")
        .arg(&dir)
        .args(["--target-cpu", "icelake-server"]));
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    let expected = format!(
        "--compare needs an ONNX model file, and {} is not a file",
        dir.display()
    );
    assert!(text.contains(&expected), "{text}");
    assert!(text.contains("[QL101]"), "static findings missing:\n{text}");
}

#[test]
fn missing_float_model_is_exit_2() {
    let output = run(qlint()
        .arg("--bench")
        .arg(model())
        .args(["--float-model", "/no/such/float.onnx"])
        .args(["--target-cpu", "icelake-server"]));
    assert_failed_with_findings(&output, &["--float-model /no/such/float.onnx: not a file"]);
}

#[test]
fn missing_model_is_input_error() {
    let output = run(qlint()
        .args(["--optimize", "/no/such/model.onnx"])
        .args(["--target-cpu", "icelake-server"]));
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("/no/such/model.onnx: cannot read"), "{text}");
    assert!(!text.contains("ONNX Runtime failed"), "{text}");
}

#[test]
fn conflicting_ort_options_are_usage_errors() {
    let cases: [&[&str]; 3] = [
        &["--optimize", "a.onnx", "--compare", "b.onnx"],
        &["a.onnx", "--shape", "x=1x3"],
        &["--compare", "a.onnx", "--input", "x"],
    ];
    for args in cases {
        let output = run(qlint().args(args));
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(!output.stderr.is_empty(), "{args:?}");
    }
}
