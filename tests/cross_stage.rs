//! The cross-stage form of QL206: a Paddle program linted with its Paddle2ONNX export, and an
//! export linted with ORT's optimized graph, on the real corpus files.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

mod common;

use std::path::PathBuf;

use common::{corpus, lint_paths, testdata, with_code};
use qlint::report::{Finding, Report};

fn lint(paths: &[PathBuf]) -> Report {
    let report = lint_paths(paths, &[], "icelake-server");
    common::assert_loaded(&report);
    report
}

/// QL206 findings that come from the cross-stage comparison.
fn lost(report: &Report) -> Vec<&Finding> {
    with_code(report, "QL206")
        .into_iter()
        .filter(|f| f.message.contains("was quantized in"))
        .collect()
}

fn file_name(finding: &Finding) -> String {
    finding
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[test]
fn paddle_and_export_name_the_float_matmul() {
    let dir = corpus("convnet/pd262-A_qdq_full");
    let report = lint(&[dir.clone(), dir.join("p2o131.onnx")]);
    let found = lost(&report);
    assert_eq!(found.len(), 1, "{:#?}", report.findings);
    assert_eq!(file_name(found[0]), "p2o131.onnx");
    assert_eq!(found[0].op_type.as_deref(), Some("MatMul"));
    assert_eq!(
        found[0].message,
        "`MatMul` runs in float, but `matmul_v2` with weight `linear_0.w_0` was quantized in model.pdmodel (paddle): the quantization was lost on the way to this onnx graph"
    );
}

#[test]
fn every_float_export_op_is_lost() {
    // deploy_backend tensorrt writes no Q/DQ: all four convs and the FC lost their quantization.
    let dir = corpus("convnet/pd262-A_qdq_full");
    let report = lint(&[dir.clone(), dir.join("p2o131_trt.onnx")]);
    let mut weights: Vec<String> = lost(&report)
        .iter()
        .filter_map(|f| f.message.split('`').nth(5).map(str::to_string))
        .collect();
    weights.sort();
    assert_eq!(
        weights,
        [
            "conv2d_0.w_0",
            "conv2d_1.w_0",
            "conv2d_2.w_0",
            "conv2d_3.w_0",
            "linear_0.w_0"
        ]
    );
}

#[test]
fn export_in_another_directory_still_pairs() {
    let tmp = tempfile::tempdir().unwrap();
    let export = tmp.path().join("model.onnx");
    std::fs::copy(corpus("convnet/pd262-A_qdq_full/p2o131.onnx"), &export).unwrap();
    let report = lint(&[corpus("convnet/pd262-A_qdq_full"), export]);
    let found = lost(&report);
    assert_eq!(found.len(), 1, "{:#?}", report.findings);
    assert!(found[0].message.contains("`linear_0.w_0`"));
}

#[test]
fn optimized_graph_names_unfused_convs() {
    let dir = corpus("mbv3ish/pd262-A_qdq_full");
    let report = lint(&[
        dir.join("p2o131.onnx"),
        dir.join("p2o131.ort_extended.onnx"),
    ]);
    let found = lost(&report);
    let mut nodes: Vec<String> = found.iter().filter_map(|f| f.node.clone()).collect();
    nodes.sort();
    let mut unfused: Vec<String> = with_code(&report, "QL301")
        .iter()
        .filter_map(|f| f.node.clone())
        .collect();
    unfused.sort();
    assert_eq!(nodes.len(), 4, "{:#?}", report.findings);
    assert_eq!(
        nodes, unfused,
        "the Convs ORT left float are the ones QL301 sees"
    );
    for finding in found {
        assert_eq!(file_name(finding), "p2o131.ort_extended.onnx");
        assert!(
            finding
                .message
                .contains("was quantized in p2o131.onnx (onnx)"),
            "{}",
            finding.message
        );
        assert!(finding.message.ends_with("this optimized graph"));
    }
}

#[test]
fn fused_graph_loses_nothing() {
    let dir = corpus("convnet/pd262-A_qdq_full");
    let report = lint(&[
        dir.join("p2o131.onnx"),
        dir.join("p2o131.ort_extended.onnx"),
    ]);
    assert!(lost(&report).is_empty(), "{:#?}", report.findings);
}

#[test]
fn float_program_loses_nothing() {
    let dir = corpus("convnet/pd331-float");
    let report = lint(&[dir.clone(), dir.join("p2o131.onnx")]);
    assert!(lost(&report).is_empty(), "{:#?}", report.findings);
}

#[test]
fn directory_search_pairs_within_directories() {
    // The float export shares weight names with the quantized programs of the other variant
    // directories. Grouped by directory, it is compared with its own float program only.
    let report = lint(&[corpus("convnet")]);
    let float_dir = corpus("convnet/pd331-float");
    let in_float = lost(&report)
        .into_iter()
        .filter(|f| f.path.starts_with(&float_dir))
        .count();
    assert_eq!(in_float, 0);
    let quantized_dir = corpus("convnet/pd262-A_qdq_full");
    let in_quantized = lost(&report)
        .into_iter()
        .filter(|f| f.path.starts_with(&quantized_dir))
        .count();
    assert_eq!(
        in_quantized, 6,
        "MatMul of p2o131.onnx, 4 Convs and the MatMul of p2o131_trt.onnx"
    );
}

#[test]
fn trans_y_program_and_export() {
    let dir = testdata("generated/paddle_ptq_trans_y");
    let report = lint(&[dir.clone(), dir.join("p2o131.onnx")]);
    let mut ops: Vec<String> = lost(&report)
        .iter()
        .filter_map(|f| f.op_type.clone())
        .collect();
    ops.sort();
    assert_eq!(ops, ["ConvTranspose", "MatMul"]);
}

#[test]
fn command_line_compares_program_and_export() {
    let dir = corpus("convnet/pd262-A_qdq_full");
    let output = assert_cmd::Command::cargo_bin("qlint")
        .unwrap()
        .arg(&dir)
        .arg(dir.join("p2o131.onnx"))
        .args(["--target-cpu", "zen4", "--no-config", "--format", "json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let findings = json["findings"].as_array().unwrap();
    let lost: Vec<&str> = findings
        .iter()
        .filter(|f| f["code"] == "QL206")
        .filter_map(|f| f["message"].as_str())
        .filter(|m| m.contains("was quantized in model.pdmodel (paddle)"))
        .collect();
    assert_eq!(lost.len(), 1, "{findings:#?}");
    assert!(lost[0].contains("`linear_0.w_0`"), "{}", lost[0]);
}
