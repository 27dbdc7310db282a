//! Weight discovery on hand-made ONNX and Paddle graphs.

use super::*;
use crate::analysis::testutil::Net;
use crate::graph::{Attr, DataType, Stage};

/// Returns the analysis of the first node with op type `op`.
fn result_for(model: &Model, op: &str) -> Option<NodeSaturation> {
    let index = model
        .graph
        .node_ids()
        .position(|id| model.graph.node(id).op_type == op)
        .unwrap_or_else(|| panic!("no {op} node"));
    analyze(model).into_iter().nth(index).flatten()
}

/// Adds `x -> QuantizeLinear -> DequantizeLinear -> xd` for an int8 activation.
fn quantized_input(net: &mut Net) {
    net.input("x", DataType::Float32, &[1, 2, 4, 4])
        .floats("xs", &[], 0.1)
        .ints("xz", DataType::Int8, &[], &[0])
        .op("QuantizeLinear", &["x", "xs", "xz"], &["xq"], &[])
        .op("DequantizeLinear", &["xq", "xs", "xz"], &["xd"], &[]);
}

/// Builds a Paddle2ONNX-style QDQ Conv: float weights `[2, 2, 1, 1]` behind QuantizeLinear(axis=0).
fn qdq_conv(weight_zero_point: DataType, output_quantized: bool) -> Net {
    let mut net = Net::onnx();
    quantized_input(&mut net);
    let axis = [("axis", Attr::Int(0))];
    net.float_values("w", &[2, 2, 1, 1], &[12.7, 12.7, 0.1, -0.1])
        .float_values("ws", &[2], &[0.1, 0.1])
        .ints("wz", weight_zero_point, &[2], &[0, 0])
        .op("QuantizeLinear", &["w", "ws", "wz"], &["wq"], &axis)
        .op("DequantizeLinear", &["wq", "ws", "wz"], &["wd"], &axis)
        .op("Conv", &["xd", "wd"], &["y"], &[]);
    if output_quantized {
        net.op("QuantizeLinear", &["y", "xs", "xz"], &["yq"], &[]);
    }
    net
}

#[test]
fn qdq_conv_float_weights_are_quantized() {
    let model = qdq_conv(DataType::Int8, true).model(Stage::Onnx);
    let result = result_for(&model, "Conv").expect("analyzed");
    assert_eq!(result.source, WeightSource::QuantizedFloat);
    assert_eq!(result.count.channels, 2);
    assert_eq!(result.count.channels_at_risk, 1);
    assert_eq!(result.count.pairs, 1);
    assert_eq!(result.count.max_pair_sum, 254);
}

#[test]
fn qdq_conv_in_optimized_graph_is_float() {
    let model = qdq_conv(DataType::Int8, true).model(Stage::Optimized);
    assert_eq!(result_for(&model, "Conv"), None);
}

#[test]
fn qdq_conv_without_output_quantize_is_skipped() {
    let model = qdq_conv(DataType::Int8, false).model(Stage::Onnx);
    assert_eq!(result_for(&model, "Conv"), None);
}

#[test]
fn uint8_weights_are_skipped() {
    let model = qdq_conv(DataType::UInt8, true).model(Stage::Onnx);
    assert_eq!(result_for(&model, "Conv"), None);
}

#[test]
fn weight_only_dequantize_is_skipped() {
    let mut net = Net::onnx();
    net.input("x", DataType::Float32, &[1, 2, 4, 4])
        .ints("w", DataType::Int8, &[2, 2, 1, 1], &[127, 127, 0, 0])
        .floats("ws", &[], 0.1)
        .op("DequantizeLinear", &["w", "ws"], &["wd"], &[])
        .op("Conv", &["x", "wd"], &["y"], &[])
        .op("QuantizeLinear", &["y", "ws"], &["yq"], &[]);
    assert_eq!(result_for(&net.model(Stage::Onnx), "Conv"), None);
}

#[test]
fn qlinearconv_reads_int8_initializer() {
    let mut net = Net::onnx();
    net.input("xq", DataType::UInt8, &[1, 2, 4, 4])
        .floats("s", &[], 0.1)
        .ints("zp", DataType::UInt8, &[], &[128])
        .ints("w", DataType::Int8, &[2, 2, 1, 1], &[127, 127, -128, -1])
        .ints("wz", DataType::Int8, &[], &[0])
        .op_in(
            "com.microsoft",
            "QLinearConv",
            &["xq", "s", "zp", "w", "s", "wz", "s", "zp"],
            &["yq"],
            &[("channels_last", Attr::Int(1))],
        );
    let result = result_for(&net.model(Stage::Optimized), "QLinearConv").expect("analyzed");
    assert_eq!(result.source, WeightSource::Int8Constant);
    assert_eq!(result.count.pairs, 2);
    assert_eq!(result.count.channels_at_risk, 2);
    assert_eq!(result.count.max_pair_sum, 254);
}

#[test]
fn qlinearconv_uint8_weights_are_skipped() {
    let mut net = Net::onnx();
    net.input("xq", DataType::UInt8, &[1, 2, 4, 4])
        .floats("s", &[], 0.1)
        .ints("zp", DataType::UInt8, &[], &[128])
        .ints("w", DataType::UInt8, &[2, 2, 1, 1], &[255, 255, 0, 0])
        .op(
            "QLinearConv",
            &["xq", "s", "zp", "w", "s", "zp", "s", "zp"],
            &["yq"],
            &[],
        );
    assert_eq!(result_for(&net.model(Stage::Onnx), "QLinearConv"), None);
}

#[test]
fn qgemm_trans_b_pairs_along_rows() {
    let mut net = Net::onnx();
    net.input("aq", DataType::UInt8, &[1, 2])
        .floats("s", &[], 0.1)
        .ints("zp", DataType::UInt8, &[], &[128])
        .ints("b", DataType::Int8, &[2, 2], &[127, 127, 127, -127])
        .ints("bz", DataType::Int8, &[], &[0])
        .op_in(
            "com.microsoft",
            "QGemm",
            &["aq", "s", "zp", "b", "s", "bz"],
            &["y"],
            &[("transB", Attr::Int(1))],
        );
    let result = result_for(&net.model(Stage::Optimized), "QGemm").expect("analyzed");
    assert_eq!(result.count.channels, 2);
    assert_eq!(result.count.pairs, 1, "only row 0 holds (127, 127)");
}

#[test]
fn blocked_quantize_is_skipped() {
    let mut net = Net::onnx();
    quantized_input(&mut net);
    let blocked = [("axis", Attr::Int(0)), ("block_size", Attr::Int(2))];
    net.float_values("w", &[2, 2], &[12.7, 12.7, 0.1, 0.1])
        .float_values("ws", &[1, 2], &[0.1, 0.1])
        .ints("wz", DataType::Int8, &[1, 2], &[0, 0])
        .op("QuantizeLinear", &["w", "ws", "wz"], &["wq"], &blocked)
        .op("DequantizeLinear", &["wq", "ws", "wz"], &["wd"], &blocked)
        .op("MatMul", &["xd", "wd"], &["y"], &[]);
    assert_eq!(result_for(&net.model(Stage::Onnx), "MatMul"), None);
}

/// Builds a PaddleSlim-style program, `x -> quantize_linear -> dequantize_linear -> conv2d`, with
/// the weight parameter behind `dequantize_linear`.
fn paddle_conv(weight: &dyn Fn(&mut Net), observer_only: bool) -> Net {
    let mut net = Net::paddle();
    net.input("x", DataType::Float32, &[1, 2, 4, 4])
        .floats("s", &[1], 0.1)
        .ints("z", DataType::Float32, &[1], &[0]);
    weight(&mut net);
    let qdq = |net: &mut Net, op: &str, input: &str, output: &str, observer: bool| {
        net.paddle_op(
            op,
            &[("X", input), ("Scale", "s"), ("ZeroPoint", "z")],
            &[("Y", output)],
            &[
                ("bit_length", Attr::Int(8)),
                ("only_observer", Attr::Bool(observer)),
            ],
        );
    };
    qdq(&mut net, "quantize_linear", "x", "xq", false);
    qdq(&mut net, "dequantize_linear", "xq", "xd", false);
    qdq(&mut net, "dequantize_linear", "w", "wd", observer_only);
    net.paddle_op(
        "conv2d",
        &[("Input", "xd"), ("Filter", "wd")],
        &[("Output", "y")],
        &[("groups", Attr::Int(1))],
    );
    net
}

#[test]
fn paddle_int8_codes_are_read() {
    let weight = |net: &mut Net| {
        net.ints("w", DataType::Int8, &[2, 2, 1, 1], &[127, 127, 5, 5]);
    };
    let model = paddle_conv(&weight, false).model(Stage::Paddle);
    let result = result_for(&model, "conv2d").expect("analyzed");
    assert_eq!(result.source, WeightSource::PaddleInt8Codes);
    assert_eq!(result.count.pairs, 1);
    assert_eq!(result.count.channels, 2);
}

#[test]
fn paddle_float_codes_are_read() {
    let weight = |net: &mut Net| {
        net.float_values("w", &[2, 2, 1, 1], &[-100.0, -29.0, 5.0, 5.0]);
    };
    let model = paddle_conv(&weight, false).model(Stage::Paddle);
    let result = result_for(&model, "conv2d").expect("analyzed");
    assert_eq!(result.source, WeightSource::PaddleFloatCodes);
    assert_eq!(result.count.pairs, 1);
    assert_eq!(result.count.max_pair_sum, 129);
}

#[test]
fn paddle_real_float_weights_are_skipped() {
    let weight = |net: &mut Net| {
        net.float_values("w", &[2, 2, 1, 1], &[0.5, 0.25, 1.0, 2.0]);
    };
    let model = paddle_conv(&weight, false).model(Stage::Paddle);
    assert_eq!(result_for(&model, "conv2d"), None);
}

#[test]
fn paddle_observer_only_weight_is_skipped() {
    let weight = |net: &mut Net| {
        net.ints("w", DataType::Int8, &[2, 2, 1, 1], &[127, 127, 5, 5]);
    };
    let model = paddle_conv(&weight, true).model(Stage::Paddle);
    assert_eq!(result_for(&model, "conv2d"), None);
}

#[test]
fn facts_are_inserted_for_analyzed_nodes() {
    let model = qdq_conv(DataType::Int8, true).model(Stage::Onnx);
    let mut facts = vec![FactMap::new(); model.graph.node_count()];
    insert_facts(&model, &mut facts);
    let with_facts: Vec<&FactMap> = facts
        .iter()
        .filter(|f| f.contains_key("saturation.pairs"))
        .collect();
    assert_eq!(with_facts.len(), 1);
    let conv = with_facts[0];
    assert_eq!(conv.get("saturation.pairs"), Some(&Value::Num(1.0)));
    assert_eq!(conv.get("saturation.channels"), Some(&Value::Num(1.0)));
    assert_eq!(
        conv.get("saturation.channels_total"),
        Some(&Value::Num(2.0))
    );
    assert_eq!(
        conv.get("saturation.max_pair_sum"),
        Some(&Value::Num(254.0))
    );
    assert_eq!(
        conv.get("saturation.weights"),
        Some(&Value::Str(
            "float constant quantized by QuantizeLinear".into()
        ))
    );
}
