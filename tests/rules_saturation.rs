//! QL402 (u8s8 saturation risk) on models made by onnxruntime.quantization, Paddle2ONNX 1.3.1,
//! ONNX Runtime and PaddleSlim.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

mod common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use common::{corpus, lint_paths, testdata, with_code};
use qlint::analysis::saturation;
use qlint::graph::Model;
use qlint::load;
use qlint::report::{Finding, Severity};

fn generated(file: &str) -> PathBuf {
    testdata(&format!("generated/saturation/{file}"))
}

/// Lints one file for `cpu` and returns its QL402 findings.
fn ql402(path: &Path, cpu: &str) -> Vec<Finding> {
    let report = lint_paths(&[path.to_path_buf()], &[], cpu);
    common::assert_loaded(&report);
    with_code(&report, "QL402").into_iter().cloned().collect()
}

fn load_model(path: &Path) -> Model {
    let inputs = load::discover(path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(inputs.len(), 1, "{}", path.display());
    load::load(&inputs[0], false).unwrap_or_else(|e| panic!("{e}"))
}

/// Collects the op type and int8 weight codes of every node that runs a u8s8 kernel, in file
/// order.
fn weight_codes(model: &Model) -> Vec<(String, Vec<i8>)> {
    model
        .graph
        .node_ids()
        .filter_map(|id| {
            let matrix = saturation::weight_matrix(model, id)?;
            Some((model.graph.node(id).op_type.clone(), matrix.codes))
        })
        .collect()
}

const PAIR_MESSAGE: &str = "has 1 adjacent same-sign int8 weight pairs in 1 of 8 output channels with |w1|+|w2| >= 129 (max 254)";

#[test]
fn qlinearconv_127_pair_is_error_without_vnni() {
    let found = ql402(&generated("conv_int8.qdq.ort_extended.onnx"), "skylake-sp");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].severity, Severity::Error);
    assert_eq!(found[0].stage, "optimized");
    assert_eq!(found[0].op_type.as_deref(), Some("QLinearConv"));
    assert!(
        found[0].message.contains(PAIR_MESSAGE),
        "{}",
        found[0].message
    );
    assert!(
        found[0].message.contains("`skylake-sp`, which lacks VNNI"),
        "{}",
        found[0].message
    );
    assert!(
        found[0].help.contains("session.x64quantprecision"),
        "{}",
        found[0].help
    );
}

#[test]
fn qlinearconv_127_pair_is_info_with_vnni() {
    for cpu in ["icelake-server", "avx2,avx_vnni"] {
        let found = ql402(&generated("conv_int8.qdq.ort_extended.onnx"), cpu);
        assert_eq!(found.len(), 1, "{cpu}: {found:#?}");
        assert_eq!(found[0].severity, Severity::Info, "{cpu}");
        assert!(
            found[0].message.contains(PAIR_MESSAGE),
            "{}",
            found[0].message
        );
        assert!(
            found[0].message.contains("but u8s8 pair sums can saturate"),
            "{}",
            found[0].message
        );
    }
}

#[test]
fn qoperator_and_qdq_exports_fire() {
    for (file, op) in [
        ("conv_int8.qoperator.onnx", "QLinearConv"),
        ("conv_int8.qdq.onnx", "Conv"),
        ("conv_int8.external.onnx", "Conv"),
        ("matmul_int8.qdq.onnx", "MatMul"),
        ("matmul_int8.qdq.ort_extended.onnx", "QLinearMatMul"),
    ] {
        let found = ql402(&generated(file), "skylake-sp");
        assert_eq!(found.len(), 1, "{file}: {found:#?}");
        assert_eq!(found[0].severity, Severity::Error, "{file}");
        assert_eq!(found[0].op_type.as_deref(), Some(op), "{file}");
        assert!(
            found[0].message.contains(PAIR_MESSAGE),
            "{file}: {}",
            found[0].message
        );
    }
}

#[test]
fn seven_bit_weights_are_quiet() {
    for file in ["conv_7bit.qdq.onnx", "conv_7bit.qdq.ort_extended.onnx"] {
        let found = ql402(&generated(file), "skylake-sp");
        assert!(found.is_empty(), "{file}: {found:#?}");
        let model = load_model(&generated(file));
        let codes = weight_codes(&model);
        assert_eq!(codes.len(), 1, "{file}: the conv's weights were read");
        let largest = codes[0].1.iter().map(|c| c.unsigned_abs()).max();
        assert_eq!(largest, Some(64), "{file}: reduce_range keeps |w| <= 64");
    }
}

#[test]
fn pairing_follows_kernel_order() {
    // Every channel contains 127 and other weights of the same sign, so some pairing order
    // could put each channel at risk. In the kernel's (kernel position, input channel) order the
    // partner of 127 is input channel 1 at the same position, which the generator set to 127 in
    // channel 0 and to -1 elsewhere.
    let model = load_model(&generated("conv_int8.qdq.ort_extended.onnx"));
    let results: Vec<_> = saturation::analyze(&model).into_iter().flatten().collect();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].count.pairs, 1);
    assert_eq!(results[0].count.channels_at_risk, 1);
    assert_eq!(results[0].count.channels_any_order, 8);
}

#[test]
fn external_data_weights_match_inline() {
    let inline = weight_codes(&load_model(&generated("conv_int8.qdq.onnx")));
    let external = weight_codes(&load_model(&generated("conv_int8.external.onnx")));
    assert_eq!(inline.len(), 1);
    assert_eq!(inline, external);
}

#[test]
fn export_quantization_matches_ort_folding() {
    // Paddle2ONNX 1.3.1 writes float Conv weights behind QuantizeLinear; ORT 1.32.0 folded them
    // into the int8 initializers of the optimized graph. qlint's quantization must agree.
    for network in ["convnet", "leaky", "mbv3ish"] {
        let folder = format!("{network}/pd262-A_qdq_full");
        let export = weight_codes(&load_model(&corpus(&format!("{folder}/p2o131.onnx"))));
        let optimized = weight_codes(&load_model(&corpus(&format!(
            "{folder}/p2o131.ort_extended.onnx"
        ))));
        // Export convs that ORT left in float have no counterpart in the optimized graph.
        let fused: Vec<&Vec<i8>> = optimized.iter().map(|(_, codes)| codes).collect();
        let matched = export
            .iter()
            .filter(|(_, codes)| fused.contains(&codes))
            .count();
        assert!(!optimized.is_empty(), "{network}");
        assert!(
            optimized.iter().all(|(op, _)| op == "QLinearConv"),
            "{network}: {optimized:?}"
        );
        assert_eq!(
            matched,
            optimized.len(),
            "{network}: every fused weight matches"
        );
    }
}

#[test]
fn paddle_codes_match_export() {
    // Paddle2ONNX folds BatchNorm into the float weights and their scales; the codes stay equal.
    let folder = "convnet/pd262-A_qdq_full";
    let paddle = weight_codes(&load_model(&corpus(&format!("{folder}/model.pdmodel"))));
    let export = weight_codes(&load_model(&corpus(&format!("{folder}/p2o131.onnx"))));
    let paddle_ops: Vec<&str> = paddle.iter().map(|(op, _)| op.as_str()).collect();
    assert_eq!(
        paddle_ops,
        ["conv2d", "conv2d", "conv2d", "conv2d", "matmul_v2"]
    );
    assert_eq!(export.len(), 4, "the exported MatMul is float");
    for ((_, paddle_codes), (_, export_codes)) in paddle.iter().zip(&export) {
        assert_eq!(paddle_codes, export_codes);
    }
}

/// The numbers QL402 reports for the four convolutions of `convnet/pd262-A_qdq_full`, the same
/// in the Paddle program, its export and ORT's optimized graph.
const CONVNET_CONVS: [&str; 4] = [
    "has 32 adjacent same-sign int8 weight pairs in 14 of 16 output channels with |w1|+|w2| >= 129 (max 241)",
    "has 124 adjacent same-sign int8 weight pairs in 32 of 32 output channels with |w1|+|w2| >= 129 (max 217)",
    "has 286 adjacent same-sign int8 weight pairs in 62 of 64 output channels with |w1|+|w2| >= 129 (max 232)",
    "has 427 adjacent same-sign int8 weight pairs in 64 of 64 output channels with |w1|+|w2| >= 129 (max 229)",
];

#[test]
fn corpus_convnet_convs_fire_in_every_stage() {
    for (file, op, extra) in [
        ("p2o131.onnx", "Conv", 0),
        ("p2o131.ort_extended.onnx", "QLinearConv", 0),
        // ORT_ENABLE_ALL moves QLinearConv to the NHWC com.microsoft kernel, same weights.
        ("p2o131.ort_all.onnx", "com.microsoft::QLinearConv", 0),
        ("model.pdmodel", "conv2d", 1),
    ] {
        let path = corpus(&format!("convnet/pd262-A_qdq_full/{file}"));
        let found = ql402(&path, "skylake-sp");
        assert_eq!(found.len(), 4 + extra, "{file}: {found:#?}");
        let convs: Vec<&Finding> = found
            .iter()
            .filter(|f| f.op_type.as_deref() == Some(op))
            .collect();
        assert_eq!(convs.len(), 4, "{file}");
        for (finding, expected) in convs.iter().zip(CONVNET_CONVS) {
            assert!(
                finding.message.contains(expected),
                "{file}: {}",
                finding.message
            );
            assert_eq!(finding.severity, Severity::Error, "{file}");
        }
    }
}

#[test]
fn corpus_paddle_matmul_fires() {
    let path = corpus("convnet/pd262-A_qdq_full/model.pdmodel");
    let found = ql402(&path, "skylake-sp");
    let matmul: Vec<&Finding> = found
        .iter()
        .filter(|f| f.op_type.as_deref() == Some("matmul_v2"))
        .collect();
    assert_eq!(matmul.len(), 1, "{found:#?}");
    assert!(
        matmul[0]
            .message
            .contains("has 88 adjacent same-sign int8 weight pairs in 10 of 10"),
        "{}",
        matmul[0].message
    );
}

#[test]
fn corpus_qat_pir_program_fires() {
    let path = corpus("convnet/pd331-QAT2_qdq_pir_zpfix/model.json");
    let found = ql402(&path, "skylake-sp");
    let ops: Vec<&str> = found.iter().filter_map(|f| f.op_type.as_deref()).collect();
    // PIR ops are reported with their dialect.
    let expected = [
        "pd_op::conv2d",
        "pd_op::conv2d",
        "pd_op::conv2d",
        "pd_op::conv2d",
        "pd_op::matmul",
    ];
    assert_eq!(ops, expected);
    // Quantization-aware training left smaller codes than post-training quantization (largest
    // pair sum 172 in the first conv, against 241), so fewer pairs reach 129.
    assert!(
        found[0]
            .message
            .contains("has 14 adjacent same-sign int8 weight pairs in 8 of 16 output channels"),
        "{}",
        found[0].message
    );
}

#[test]
fn depthwise_convs_are_skipped() {
    let path = corpus("mbv3ish/pd262-A_qdq_full/p2o131.ort_extended.onnx");
    let model = load_model(&path);
    let depthwise: Vec<String> = model
        .graph
        .node_ids()
        .map(|id| model.graph.node(id))
        .filter(|n| n.op_type == "QLinearConv")
        .filter(|n| n.attr("group").and_then(|g| g.as_i64()).unwrap_or(1) > 1)
        .map(|n| n.id.clone())
        .collect();
    assert_eq!(depthwise.len(), 2, "two depthwise convs fused");
    let found = ql402(&path, "skylake-sp");
    assert_eq!(found.len(), 11, "{found:#?}");
    for finding in &found {
        let node = finding.node.clone().unwrap_or_default();
        assert!(!depthwise.contains(&node), "{node}");
    }
}

#[test]
fn float_models_are_quiet() {
    for file in [
        "convnet/pd331-float/p2o131.onnx",
        "convnet/pd331-float/p2o131.ort_extended.onnx",
        "convnet/pd331-float/model.pdmodel",
        "convnet/pd262-A_qdq_full/p2o131_trt.onnx",
        "tiny/pd262-A_qdq_full/p2o131.onnx",
    ] {
        let found = ql402(&corpus(file), "skylake-sp");
        assert!(found.is_empty(), "{file}: {found:#?}");
    }
}

#[test]
fn cli_exit_code_follows_target_cpu() {
    let model = generated("conv_int8.qdq.ort_extended.onnx");
    let run = |cpu: &str| {
        Command::cargo_bin("qlint")
            .unwrap_or_else(|e| panic!("binary: {e}"))
            .arg(&model)
            .args(["--target-cpu", cpu, "--select", "QL402"])
            .output()
            .unwrap_or_else(|e| panic!("run: {e}"))
    };
    let without_vnni = run("skylake-sp");
    assert_eq!(without_vnni.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&without_vnni.stdout);
    assert!(stdout.contains("[QL402]"), "{stdout}");
    assert_eq!(run("icelake-server").status.code(), Some(0));
}
