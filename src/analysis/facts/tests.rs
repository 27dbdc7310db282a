use super::*;
use crate::analysis::testutil::Net;
use crate::analysis::{FACTS, Scope};
use crate::graph::{DataType, Stage};

fn cpu() -> CpuTarget {
    CpuTarget::parse("cascadelake").unwrap_or_else(|e| CpuTarget {
        name: e,
        flags: Default::default(),
    })
}

/// `QLinearConv -> DequantizeLinear -> Relu -> QuantizeLinear -> QLinearConv`, with int8
/// symmetric quantization after the Relu.
fn relu_island() -> Model {
    let mut net = Net::onnx();
    net.floats("s", &[], 0.1)
        .ints("zp", DataType::UInt8, &[], &[128])
        .ints("szp", DataType::Int8, &[], &[0])
        .ints("w", DataType::Int8, &[8, 8, 1, 1], &[1; 64])
        .ints("wzp", DataType::Int8, &[], &[0])
        .input("x", DataType::Float32, &[1, 8, 4, 4])
        .op("QuantizeLinear", &["x", "s", "zp"], &["q"], &[])
        .op(
            "QLinearConv",
            &["q", "s", "zp", "w", "s", "wzp", "s", "zp"],
            &["c0"],
            &[],
        )
        .op("DequantizeLinear", &["c0", "s", "zp"], &["d0"], &[])
        .op("Relu", &["d0"], &["r"], &[])
        .op("QuantizeLinear", &["r", "s", "szp"], &["q1"], &[])
        .op(
            "QLinearConv",
            &["q1", "s", "szp", "w", "s", "wzp", "s", "szp"],
            &["c1"],
            &[],
        );
    net.model(Stage::Optimized)
}

fn node(facts: &Facts, model: &Model, id: &str) -> FactMap {
    let found = model
        .graph
        .find_node(id)
        .and_then(|n| facts.nodes.get(n.index()))
        .cloned();
    assert!(found.is_some(), "no node {id}");
    found.unwrap_or_default()
}

#[test]
fn every_registered_fact_is_filled() {
    let model = relu_island();
    let facts = compute(&model, &cpu(), "cpu");
    assert_eq!(facts.nodes.len(), model.graph.node_count());
    for doc in FACTS {
        let present = match doc.scope {
            Scope::Model => facts.model.contains_key(doc.name),
            Scope::Node => facts.nodes.iter().any(|n| n.contains_key(doc.name)),
            Scope::Island => facts.islands.iter().any(|i| i.facts.contains_key(doc.name)),
        };
        // The Q/DQ and cross-stage facts describe ops this graph lacks; their own tests fill
        // them (analysis::qdq and analysis::cross_stage). `paddle2onnx.*` facts describe Paddle
        // programs only; paddle2onnx::add_facts sets them and its tests check them. ONNX Runtime
        // measures the runtime facts; runtime::facts tests those. The `predicted.*` facts
        // depend on the ORT release of the run; fusion::add_facts sets them and its tests
        // check them.
        let elsewhere = [
            "quant.",
            "qparams.",
            "quant_axis.",
            "weight_grid.",
            "cross_stage.",
            "paddle2onnx.",
            "compare.",
            "bench.",
            "runtime.",
            "predicted.",
        ];
        let skip = doc.name == "opset"
            || doc.name == "qdq_around"
            || elsewhere.iter().any(|p| doc.name.starts_with(p));
        assert!(
            present || skip,
            "fact {} ({}) is missing",
            doc.name,
            doc.scope.as_str()
        );
    }
}

#[test]
fn model_facts_count_chains_and_macs() {
    let model = relu_island();
    let facts = compute(&model, &cpu(), "cuda");
    let get = |name: &str| facts.model.get(name).cloned();
    assert_eq!(get("chains.count"), Some(Value::Num(2.0)));
    assert_eq!(
        get("chains.sizes"),
        Some(Value::List(vec![Value::Num(1.0), Value::Num(1.0)]))
    );
    assert_eq!(get("islands.count"), Some(Value::Num(1.0)));
    assert_eq!(get("macs.int8"), Some(Value::Num(2.0 * 16.0 * 64.0)));
    assert_eq!(get("macs.int8_share"), Some(Value::Num(1.0)));
    assert_eq!(get("qdq.count"), Some(Value::Num(3.0)));
    assert_eq!(get("qlinear_ops.count"), Some(Value::Num(2.0)));
    assert_eq!(get("quant_ops.count"), Some(Value::Num(5.0)));
    assert_eq!(get("cpu.avx512_vnni"), Some(Value::Bool(true)));
    assert_eq!(get("cpu.vnni"), Some(Value::Bool(true)));
    assert_eq!(get("provider"), Some(Value::Str("cuda".into())));
    assert_eq!(get("ort_fingerprint"), Some(Value::Bool(false)));
}

#[test]
fn relu_output_zero_point_is_not_at_min() {
    let model = relu_island();
    let facts = compute(&model, &cpu(), "cpu");
    let relu = node(&facts, &model, "Relu(r)");
    assert_eq!(relu.get("output_qtype"), Some(&Value::Str("int8".into())));
    assert_eq!(relu.get("output_zero_point"), Some(&Value::Num(0.0)));
    assert_eq!(
        relu.get("output_zero_point_at_min"),
        Some(&Value::Bool(false))
    );
    assert_eq!(relu.get("in_island"), Some(&Value::Bool(true)));
    assert_eq!(relu.get("quantized_input"), Some(&Value::Bool(true)));
    assert_eq!(relu.get("param_input"), Some(&Value::Bool(false)));

    let conv = node(&facts, &model, "QLinearConv(c0)");
    assert_eq!(
        conv.get("int8_inputs"),
        Some(&Value::Num(5.0)),
        "data, 2 zero points, weight, weight zero point"
    );
    assert_eq!(conv.get("param_input"), Some(&Value::Bool(true)));
    assert_eq!(conv.get("macs"), Some(&Value::Num(1024.0)));
    assert_eq!(conv.get("in_island"), Some(&Value::Bool(false)));
    assert_eq!(conv.get("in_island"), Some(&Value::Bool(false)));
    assert!(!conv.contains_key("output_zero_point"));

    let island = facts
        .islands
        .first()
        .map(|i| i.facts.clone())
        .unwrap_or_default();
    assert_eq!(
        island.get("island.chain_sizes"),
        Some(&Value::List(vec![Value::Num(1.0), Value::Num(1.0)]))
    );
    assert_eq!(island.get("island.compute_ops"), Some(&Value::Num(0.0)));
}

#[test]
fn uint8_zero_at_min_folds() {
    let mut net = Net::onnx();
    net.floats("s", &[], 0.1)
        .ints("zp", DataType::UInt8, &[], &[0])
        .input("x", DataType::Float32, &[1, 4])
        .op("Relu", &["x"], &["r"], &[])
        .op("QuantizeLinear", &["r", "s", "zp"], &["q"], &[]);
    let model = net.model(Stage::Onnx);
    let facts = compute(&model, &cpu(), "cpu");
    let relu = node(&facts, &model, "Relu(r)");
    assert_eq!(relu.get("output_qtype"), Some(&Value::Str("uint8".into())));
    assert_eq!(
        relu.get("output_zero_point_at_min"),
        Some(&Value::Bool(true))
    );
}

#[test]
fn paddle_observer_only_does_not_quantize() {
    let mut net = Net::paddle();
    net.var("x", DataType::Float32, &[1, 4])
        .ints("scale", DataType::Int32, &[1], &[1])
        .ints("zp", DataType::Int32, &[1], &[0])
        .paddle_op(
            "quantize_linear",
            &[("X", "x"), ("Scale", "scale"), ("ZeroPoint", "zp")],
            &[("Y", "xq")],
            &[("only_observer", crate::graph::Attr::Bool(true))],
        )
        .paddle_op("relu", &[("X", "xq")], &[("Out", "a")], &[])
        .paddle_op(
            "fake_quantize_range_abs_max",
            &[("X", "a"), ("InScale", "scale")],
            &[("Out", "aq")],
            &[],
        )
        .paddle_op("relu", &[("X", "aq")], &[("Out", "b")], &[])
        .paddle_op(
            "quantize_linear",
            &[("X", "b"), ("Scale", "scale"), ("ZeroPoint", "zp")],
            &[("Y", "bq")],
            &[("bit_length", crate::graph::Attr::Int(8))],
        );
    let model = net.model(Stage::Paddle);
    let facts = compute(&model, &cpu(), "cpu");

    let first = node(&facts, &model, "relu(a)");
    let second = node(&facts, &model, "relu(b)");
    assert_eq!(first.get("quantized_input"), Some(&Value::Bool(false)));
    assert_eq!(second.get("quantized_input"), Some(&Value::Bool(true)));
    assert_eq!(second.get("output_qtype"), Some(&Value::Str("int8".into())));
    assert_eq!(second.get("output_zero_point"), Some(&Value::Num(0.0)));
    assert_eq!(
        second.get("output_zero_point_at_min"),
        Some(&Value::Bool(false))
    );
    assert_eq!(
        facts.model.get("legacy_fake_quant.count"),
        Some(&Value::Num(1.0))
    );
    assert!(!facts.model.contains_key("opset"));
    assert!(facts.islands.is_empty());
}

#[test]
fn op_summary_keeps_first_appearance_order() {
    let ops = ["Mul", "HardSigmoid", "Mul"].map(String::from);
    assert_eq!(op_summary(ops), "Mul×2, HardSigmoid");
    assert_eq!(op_summary(Vec::<String>::new()), "");
}
