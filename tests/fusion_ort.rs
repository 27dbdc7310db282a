//! Predicted QDQ fusion against the real ONNX Runtime library. `qlint --optimize` saves each
//! export's ORT_ENABLE_EXTENDED graph, judged with the predictions for ORT 1.31, the release
//! qlint loads. Every op predicted to fuse must have fused, and every op predicted to stay
//! float must have stayed float.
//!
//! The tests need the library (`scripts/fetch-onnxruntime.sh`). Without it they print why and
//! pass, unless `QLINT_REQUIRE_ORT=1` is set, as CI does, and then they fail.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

mod fusion_support;
mod runtime_support;

use std::path::{Path, PathBuf};

use fusion_support::{CORPUS, Case, GENERATED, compare, load_model, predictions, testdata};
use runtime_support::{ort_available, qlint, run};

/// Optimizes `model` with `qlint --optimize` at ORT_ENABLE_EXTENDED into `dir`.
fn optimize(model: &Path, dir: &Path) -> PathBuf {
    let saved = dir.join("optimized.onnx");
    let output = run(qlint()
        .arg("--optimize")
        .arg(model)
        .args(["--level", "extended", "--target-cpu", "icelake-server"])
        .arg("--save-optimized")
        .arg(&saved)
        .args(["--format", "json"]));
    // Findings may make the exit code 1; 2 means qlint or ONNX Runtime failed.
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{}: exit {:?}\nstderr: {}",
        model.display(),
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(saved.is_file(), "{} was not written", saved.display());
    saved
}

fn check_live(cases: &[Case]) {
    for case in cases {
        let dir = tempfile::tempdir().unwrap();
        let export_path = testdata(case.export);
        let saved = optimize(&export_path, dir.path());
        let export = load_model(&export_path, false);
        let optimized = load_model(&saved, true);
        let predicted = predictions(&export, "1.31");
        let outcome = compare(&export, &optimized, &predicted);
        eprintln!(
            "{} (ORT library): predicted {} fused / {} float, ORT {} fused / {} float",
            case.export,
            outcome.predicted_fused,
            outcome.predicted_float,
            outcome.actual_fused,
            outcome.actual_float
        );
        assert!(
            outcome.mismatches.is_empty(),
            "{}: predictions ORT did not bear out:\n{}",
            case.export,
            outcome.mismatches.join("\n")
        );
    }
}

#[test]
fn corpus_predictions_match_ort_library() {
    if !ort_available("corpus_predictions_match_ort_library") {
        return;
    }
    check_live(CORPUS);
}

#[test]
fn generated_predictions_match_ort_library() {
    if !ort_available("generated_predictions_match_ort_library") {
        return;
    }
    check_live(GENERATED);
}
