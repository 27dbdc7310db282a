use super::*;
use crate::analysis::shapes::infer;
use crate::analysis::testutil::{Net, ints};
use crate::graph::{Attr, DataType, Stage};

fn macs_of(model: &Model, id: &str) -> Option<NodeMacs> {
    let inferred = infer(model);
    let node = model.graph.find_node(id)?;
    Some(node_macs(&model.graph, &inferred, node))
}

#[test]
fn conv_matmul_and_gemm() {
    let mut net = Net::onnx();
    net.input("x", DataType::Float32, &[1, 3, 8, 8])
        .floats("w", &[4, 3, 3, 3], 0.1)
        .floats("dw", &[4, 1, 3, 3], 0.1)
        .floats("fc", &[256, 10], 0.1)
        .ints("flat_shape", DataType::Int64, &[2], &[1, -1])
        .op(
            "Conv",
            &["x", "w"],
            &["c"],
            &[("pads", ints(&[1, 1, 1, 1]))],
        )
        .op(
            "Conv",
            &["c", "dw"],
            &["d"],
            &[("pads", ints(&[1, 1, 1, 1])), ("group", Attr::Int(4))],
        )
        .op("Reshape", &["d", "flat_shape"], &["f"], &[])
        .op("MatMul", &["f", "fc"], &["m"], &[])
        .op("Gemm", &["f", "fc"], &["g"], &[])
        .op("Relu", &["g"], &["r"], &[]);
    let model = net.model(Stage::Onnx);
    assert_eq!(macs_of(&model, "Conv(c)"), Some(NodeMacs::Known(6912)));
    assert_eq!(
        macs_of(&model, "Conv(d)"),
        Some(NodeMacs::Known(64 * 4 * 9))
    );
    assert_eq!(macs_of(&model, "MatMul(m)"), Some(NodeMacs::Known(2560)));
    assert_eq!(macs_of(&model, "Gemm(g)"), Some(NodeMacs::Known(2560)));
    assert_eq!(macs_of(&model, "Relu(r)"), Some(NodeMacs::NotCompute));
    let counted = count(&model, &infer(&model));
    assert_eq!(counted.total, 6912 + 2304 + 2560 * 2);
    assert_eq!(counted.quantizable, counted.total);
    assert_eq!(counted.int8, 0);
    assert!(counted.exact);
}

#[test]
fn unknown_shape_makes_total_a_lower_bound() {
    let mut net = Net::onnx();
    net.input("x", DataType::Float32, &[1, 3, 8, 8])
        .floats("w", &[4, 3, 3, 3], 0.1)
        .op("Conv", &["x", "w"], &["c"], &[])
        .op("Unknown", &["c"], &["u"], &[])
        .op("Conv", &["u", "w"], &["c2"], &[]);
    let model = net.model(Stage::Onnx);
    assert_eq!(macs_of(&model, "Conv(c2)"), Some(NodeMacs::Unknown));
    let counted = count(&model, &infer(&model));
    assert_eq!(counted.total, 36 * 4 * 27);
    assert!(!counted.exact);
}

#[test]
fn nchwc_conv_counts_real_channels() {
    let mut net = Net::onnx();
    net.input("x", DataType::Float32, &[1, 3, 8, 8])
        .floats("w", &[16, 3, 3, 3], 0.1)
        .op_in(
            "com.microsoft.nchwc",
            "Conv",
            &["x", "w"],
            &["b"],
            &[("pads", ints(&[1, 1, 1, 1]))],
        )
        .op("Relu", &["b"], &["r"], &[])
        .op_in(
            "com.microsoft.nchwc",
            "ReorderOutput",
            &["r"],
            &["y"],
            &[("channels", Attr::Int(4))],
        );
    let model = net.model(Stage::Optimized);
    let name = model.graph.node(NodeId::new(0)).id.clone();
    assert_eq!(macs_of(&model, &name), Some(NodeMacs::Known(6912)));
}

#[test]
fn quantized_ops_count_as_int8() {
    let mut net = Net::onnx();
    net.input("x", DataType::UInt8, &[1, 8, 4, 4])
        .floats("s", &[], 0.1)
        .ints("zp", DataType::UInt8, &[], &[128])
        .ints("w", DataType::Int8, &[8, 8, 1, 1], &[1; 64])
        .ints("wzp", DataType::Int8, &[], &[0])
        .op(
            "QLinearConv",
            &["x", "s", "zp", "w", "s", "wzp", "s", "zp"],
            &["y"],
            &[],
        );
    let model = net.model(Stage::Optimized);
    let counted = count(&model, &infer(&model));
    assert_eq!(counted.int8, 16 * 8 * 8);
    assert_eq!(counted.quantizable, counted.int8);
}

#[test]
fn paddle_ops_use_declared_shapes() {
    let mut net = Net::paddle();
    net.var("x", DataType::Float32, &[-1, 3, 8, 8])
        .var("w", DataType::Float32, &[4, 3, 3, 3])
        .var("y", DataType::Float32, &[-1, 4, 8, 8])
        .var("a", DataType::Float32, &[-1, 64])
        .var("b", DataType::Float32, &[64, 10])
        .var("o", DataType::Float32, &[-1, 10])
        .var("m", DataType::Float32, &[-1, 10])
        .paddle_op(
            "conv2d",
            &[("Input", "x"), ("Filter", "w")],
            &[("Output", "y")],
            &[],
        )
        .paddle_op("matmul_v2", &[("X", "a"), ("Y", "b")], &[("Out", "o")], &[])
        .paddle_op("mul", &[("X", "a"), ("Y", "b")], &[("Out", "m")], &[]);
    let model = net.model(Stage::Paddle);
    let counted = count(&model, &infer(&model));
    assert_eq!(
        counted.per_node,
        vec![
            NodeMacs::Known(6912),
            NodeMacs::Known(640),
            NodeMacs::Known(640)
        ]
    );
    assert!(counted.exact);
}

#[test]
fn shared_dim_by_operand_form() {
    assert_eq!(shared_dim(&[2, 3, 4], false, false), Some(4));
    assert_eq!(shared_dim(&[2, 3, 4], true, false), Some(3));
    assert_eq!(shared_dim(&[7], false, false), Some(7));
    assert_eq!(shared_dim(&[2, 3, 4], false, true), None);
    assert_eq!(shared_dim(&[], false, false), None);
}
