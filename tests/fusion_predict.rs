//! Predicted QDQ fusion against graphs that ONNX Runtime saved: every op predicted to fuse
//! fused, and every op predicted to stay float stayed float.
//!
//! The corpus graphs were saved by ORT 1.32.0 and are judged with `--ort-version 1.32`; the
//! generated ones by ORT 1.31.1 (`testdata/gen/fusion_models.py`), judged with 1.31. These
//! tests need no ONNX Runtime library; `fusion_ort.rs` runs the same check through
//! `qlint --optimize`.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

mod fusion_support;

use fusion_support::{CORPUS, Case, GENERATED, compare, load_model, predictions, testdata};
use qlint::analysis::fusion::{Predictions, Reason};
use qlint::graph::Model;

/// Checks each case against its saved graph and prints the counts.
fn check_cases(cases: &[Case], version: &str) {
    for case in cases {
        let export = load_model(&testdata(case.export), false);
        let optimized = load_model(&testdata(case.optimized), true);
        let predicted = predictions(&export, version);
        assert!(
            !predicted.nodes.is_empty(),
            "{}: no op was predicted",
            case.export
        );
        let outcome = compare(&export, &optimized, &predicted);
        eprintln!(
            "{} (ORT {version}): predicted {} fused / {} float, ORT {} fused / {} float",
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
fn corpus_predictions_match_ort_1_32() {
    check_cases(CORPUS, "1.32");
}

#[test]
fn generated_predictions_match_ort_1_31() {
    check_cases(GENERATED, "1.31");
}

fn load(relative: &str) -> Model {
    load_model(&testdata(relative), false)
}

/// Ids of the ops of one type predicted to stay float.
fn float_ops(model: &Model, predicted: &Predictions, op: &str) -> Vec<String> {
    predicted
        .nodes
        .iter()
        .filter(|p| !p.fused)
        .map(|p| model.graph.node(p.node))
        .filter(|n| n.op_type == op)
        .map(|n| n.id.clone())
        .collect()
}

fn reason_of(model: &Model, predicted: &Predictions, id: &str) -> Reason {
    let node = model.graph.find_node(id).unwrap();
    let prediction = predicted.get(node).unwrap();
    prediction.reason.clone().unwrap()
}

#[test]
fn mbv3ish_four_convs_stay_float() {
    let model = load("corpus/mbv3ish/pd262-A_qdq_full/p2o131.onnx");
    let predicted = predictions(&model, "1.31");
    let convs = predicted
        .nodes
        .iter()
        .filter(|p| model.graph.node(p.node).op_type == "Conv")
        .count();
    assert_eq!(convs, 17);
    assert_eq!(
        float_ops(&model, &predicted, "Conv"),
        ["Conv.1", "Conv.10", "Conv.11", "Conv.12"]
    );
    // Conv.1 reads, and Conv.11 reads and writes, a QuantizeLinear that feeds two ops.
    for id in ["Conv.1", "Conv.11"] {
        let text = reason_of(&model, &predicted, id).to_string();
        assert!(text.contains("feeds 2 consumers"), "{id}: {text}");
    }
    let conv11 = reason_of(&model, &predicted, "Conv.11");
    assert!(
        matches!(conv11, Reason::Int8Activation { .. }),
        "{conv11:?}"
    );
    // Conv.10 and Conv.12 read uint8 after the conversion but write to such a QuantizeLinear.
    for id in ["Conv.10", "Conv.12"] {
        let reason = reason_of(&model, &predicted, id);
        let text = reason.to_string();
        assert!(
            matches!(reason, Reason::TypeMismatch { .. }),
            "{id}: {reason:?}"
        );
        assert!(
            text.contains("input is uint8 and its output int8"),
            "{id}: {text}"
        );
    }
}

#[test]
fn mbv3ish_residual_adds_mix_int8_and_uint8() {
    let model = load("corpus/mbv3ish/pd262-A_qdq_full/p2o131.onnx");
    let predicted = predictions(&model, "1.31");
    assert_eq!(float_ops(&model, &predicted, "Add"), ["Add.4", "Add.14"]);
    let reason = reason_of(&model, &predicted, "Add.4");
    assert!(
        matches!(reason, Reason::InputTypesDiffer { .. }),
        "{reason:?}"
    );
}

#[test]
fn convnet_maxpool_scales_differ() {
    let model = load("corpus/convnet/pd262-A_qdq_full/p2o131.onnx");
    let predicted = predictions(&model, "1.31");
    let reason = reason_of(&model, &predicted, "MaxPool.0");
    assert!(
        matches!(reason, Reason::QdqParamsDiffer { .. }),
        "{reason:?}"
    );
    assert_eq!(float_ops(&model, &predicted, "Conv"), Vec::<String>::new());
}

#[test]
fn clean_model_fuses_every_op() {
    let model = load("generated/fusion_clean/model.onnx");
    let predicted = predictions(&model, "1.31");
    let float: Vec<_> = predicted.nodes.iter().filter(|p| !p.fused).collect();
    assert!(float.is_empty(), "{float:?}");
    assert_eq!(predicted.nodes.len(), 11);
    assert!(predicted.blocks.is_empty());
}

#[test]
fn transpose_and_reshape_block_int8_only() {
    let int8 = load("generated/fusion_layout_int8/model.onnx");
    let predicted = predictions(&int8, "1.31");
    let blocks: Vec<(String, Vec<String>)> = predicted
        .blocks
        .iter()
        .map(|(layout, blocked)| {
            let ids = blocked.iter().map(|&n| int8.graph.node(n).id.clone());
            (int8.graph.node(*layout).id.clone(), ids.collect())
        })
        .collect();
    assert_eq!(
        blocks,
        [
            (
                "transpose".to_string(),
                vec!["conv1".into(), "conv2".into()]
            ),
            ("reshape".to_string(), vec!["conv3".into()]),
        ]
    );
    let uint8 = load("generated/fusion_layout_uint8/model.onnx");
    let predicted = predictions(&uint8, "1.31");
    assert!(predicted.blocks.is_empty());
    assert!(predicted.nodes.iter().all(|p| p.fused));
}

#[test]
fn old_opset_maxpool_is_outside_the_versions() {
    let model = load("generated/fusion_old_opset/model.onnx");
    let predicted = predictions(&model, "1.31");
    let reason = reason_of(&model, &predicted, "pool");
    assert_eq!(
        reason.to_string(),
        "`MaxPool` at opset 11 has since-version 11, and ORT 1.31 fuses it only at \
         since-versions 12, 22"
    );
    assert!(float_ops(&model, &predicted, "Conv").is_empty());
}

#[test]
fn float_inputs_keep_add_and_mul_float() {
    let model = load("generated/fusion_float_input/model.onnx");
    let predicted = predictions(&model, "1.31");
    let add = reason_of(&model, &predicted, "add_float").to_string();
    assert!(add.contains("input 1 (`bias_map`) is float"), "{add}");
    assert!(add.contains("a graph input"), "{add}");
    let mul = reason_of(&model, &predicted, "mul_const").to_string();
    assert!(mul.contains("a float constant"), "{mul}");
}

#[test]
fn weight_cases_name_the_weight() {
    let model = load("generated/fusion_weights/model.onnx");
    let predicted = predictions(&model, "1.31");
    let conv = reason_of(&model, &predicted, "conv_weight_input");
    assert_eq!(
        conv,
        Reason::WeightNotConstant {
            tensor: "w_live".into()
        }
    );
    let to_output = reason_of(&model, &predicted, "conv_to_output").to_string();
    assert!(
        to_output.contains("no QuantizeLinear reads its output"),
        "{to_output}"
    );
    let matmul = reason_of(&model, &predicted, "matmul_weight_only");
    assert!(matches!(matmul, Reason::NbitsWeight { .. }), "{matmul:?}");
    let gemm = predicted
        .get(model.graph.find_node("gemm_float_bias").unwrap())
        .unwrap();
    assert!(gemm.fused);
    assert_eq!(gemm.kernel.as_deref(), Some("com.microsoft::QGemm"));
}

#[test]
fn compare_flags_graph_ort_did_not_touch() {
    // The export itself, read as an optimized graph, has none of the predicted fusions, so the
    // comparison must report each op predicted to fuse.
    let path = testdata("generated/fusion_int8_fanout/model.onnx");
    let export = load_model(&path, false);
    let untouched = load_model(&path, true);
    let predicted = predictions(&export, "1.31");
    let outcome = compare(&export, &untouched, &predicted);
    assert_eq!(outcome.predicted_fused, 2);
    assert_eq!(outcome.actual_fused, 0);
    assert_eq!(outcome.mismatches.len(), 2, "{:?}", outcome.mismatches);
}
