use super::*;
use crate::analysis::testutil::{Net, ints};
use crate::graph::{Attr, Stage};

fn shape_of(model: &Model, inferred: &Inferred, name: &str) -> Option<Vec<i64>> {
    let index = model.graph.tensors.iter().rposition(|t| t.name == name)?;
    inferred.shape(TensorId(index as u32)).map(<[i64]>::to_vec)
}

fn dtype_of(model: &Model, inferred: &Inferred, name: &str) -> Option<DataType> {
    let index = model.graph.tensors.iter().rposition(|t| t.name == name)?;
    inferred.dtype(TensorId(index as u32))
}

#[test]
fn conv_pool_and_shape_arithmetic() {
    let mut net = Net::onnx();
    net.input("x", DataType::Float32, &[-1, 3, 32, 32])
        .floats("w", &[16, 3, 3, 3], 0.1)
        .ints("zero", DataType::Int64, &[1], &[0])
        .ints("one", DataType::Int64, &[1], &[1])
        .ints("minus", DataType::Int64, &[1], &[-1])
        .op(
            "Conv",
            &["x", "w"],
            &["c"],
            &[("pads", ints(&[1, 1, 1, 1]))],
        )
        .op(
            "MaxPool",
            &["c"],
            &["p"],
            &[("kernel_shape", ints(&[2, 2])), ("strides", ints(&[2, 2]))],
        )
        .op("Shape", &["p"], &["s"], &[])
        .op("Slice", &["s", "zero", "one"], &["batch"], &[])
        .op(
            "Concat",
            &["batch", "minus"],
            &["target"],
            &[("axis", Attr::Int(0))],
        )
        .op("Reshape", &["p", "target"], &["flat"], &[]);
    let model = net.model(Stage::Onnx);
    let inferred = infer(&model);

    assert_eq!(shape_of(&model, &inferred, "c"), Some(vec![1, 16, 32, 32]));
    assert_eq!(shape_of(&model, &inferred, "p"), Some(vec![1, 16, 16, 16]));
    assert_eq!(shape_of(&model, &inferred, "flat"), Some(vec![1, 4096]));
    let target = model.graph.tensors.iter().position(|t| t.name == "target");
    let value = target.and_then(|i| inferred.value(TensorId(i as u32)));
    assert_eq!(value, Some(&[1i64, -1][..]));
    let c = model.graph.tensors.iter().position(|t| t.name == "c");
    assert_eq!(c.map(|i| inferred.assumed(TensorId(i as u32))), Some(true));
}

#[test]
fn quantize_takes_zero_point_type() {
    let mut net = Net::onnx();
    net.input("x", DataType::Float32, &[1, 8])
        .floats("scale", &[], 0.1)
        .ints("zp", DataType::UInt8, &[], &[128])
        .op("QuantizeLinear", &["x", "scale", "zp"], &["q"], &[])
        .op("QuantizeLinear", &["x", "scale"], &["q_default"], &[])
        .op("Transpose", &["q"], &["t"], &[])
        .op("DequantizeLinear", &["t", "scale", "zp"], &["d"], &[])
        .op("Cast", &["d"], &["i"], &[("to", Attr::Int(7))]);
    let model = net.model(Stage::Onnx);
    let inferred = infer(&model);
    assert_eq!(dtype_of(&model, &inferred, "q"), Some(DataType::UInt8));
    assert_eq!(
        dtype_of(&model, &inferred, "q_default"),
        Some(DataType::UInt8)
    );
    assert_eq!(dtype_of(&model, &inferred, "t"), Some(DataType::UInt8));
    assert_eq!(shape_of(&model, &inferred, "t"), Some(vec![8, 1]));
    assert_eq!(dtype_of(&model, &inferred, "d"), Some(DataType::Float32));
    assert_eq!(dtype_of(&model, &inferred, "i"), Some(DataType::Int64));
}

#[test]
fn nhwc_qlinear_conv_and_nchwc_reorders() {
    let mut net = Net::onnx();
    net.input("x", DataType::UInt8, &[1, 3, 8, 8])
        .floats("s", &[], 0.1)
        .ints("zp", DataType::UInt8, &[], &[128])
        .ints("w", DataType::Int8, &[4, 3, 3, 3], &[0; 108])
        .ints("wzp", DataType::Int8, &[4], &[0; 4])
        .op(
            "Transpose",
            &["x"],
            &["xt"],
            &[("perm", ints(&[0, 2, 3, 1]))],
        )
        .op_in(
            "com.microsoft",
            "QLinearConv",
            &["xt", "s", "zp", "w", "s", "wzp", "s", "zp"],
            &["y"],
            &[
                ("channels_last", Attr::Int(1)),
                ("pads", ints(&[1, 1, 1, 1])),
            ],
        )
        .input("f", DataType::Float32, &[1, 3, 8, 8])
        .floats("fw", &[16, 3, 3, 3], 0.1)
        .op_in(
            "com.microsoft.nchwc",
            "Conv",
            &["f", "fw"],
            &["blocked"],
            &[("pads", ints(&[1, 1, 1, 1]))],
        )
        .op_in(
            "com.microsoft.nchwc",
            "ReorderOutput",
            &["blocked"],
            &["plain"],
            &[("channels", Attr::Int(4))],
        );
    let model = net.model(Stage::Optimized);
    let inferred = infer(&model);
    assert_eq!(shape_of(&model, &inferred, "y"), Some(vec![1, 8, 8, 4]));
    assert_eq!(dtype_of(&model, &inferred, "y"), Some(DataType::UInt8));
    assert_eq!(
        shape_of(&model, &inferred, "blocked"),
        Some(vec![1, 16, 8, 8])
    );
    assert_eq!(shape_of(&model, &inferred, "plain"), Some(vec![1, 4, 8, 8]));
}

#[test]
fn contradictory_shapes_give_up() {
    let mut net = Net::onnx();
    net.input("a", DataType::Float32, &[1, 63])
        .floats("b", &[64, 10], 0.0)
        .op("MatMul", &["a", "b"], &["y"], &[])
        .op("Relu", &["y"], &["z"], &[])
        .ints("bad", DataType::Int64, &[2], &[5, -1])
        .op("Reshape", &["a", "bad"], &["r"], &[]);
    let model = net.model(Stage::Onnx);
    let inferred = infer(&model);
    assert_eq!(shape_of(&model, &inferred, "y"), None);
    assert_eq!(shape_of(&model, &inferred, "z"), None);
    assert_eq!(shape_of(&model, &inferred, "r"), None);
    assert_eq!(dtype_of(&model, &inferred, "z"), Some(DataType::Float32));
}

#[test]
fn squeeze_and_unsqueeze_by_attribute_or_input() {
    let mut net = Net::onnx();
    net.input("x", DataType::Float32, &[1, 4, 1, 1])
        .ints("axes", DataType::Int64, &[2], &[2, 3])
        .op("Squeeze", &["x", "axes"], &["s13"], &[])
        .op("Squeeze", &["x"], &["s11"], &[("axes", ints(&[-1]))])
        .op("Unsqueeze", &["s13"], &["u"], &[("axes", ints(&[0, -1]))]);
    let model = net.model(Stage::Onnx);
    let inferred = infer(&model);
    assert_eq!(shape_of(&model, &inferred, "s13"), Some(vec![1, 4]));
    assert_eq!(shape_of(&model, &inferred, "s11"), Some(vec![1, 4, 1]));
    assert_eq!(shape_of(&model, &inferred, "u"), Some(vec![1, 1, 4, 1]));
}

#[test]
fn paddle_shapes_are_declared() {
    let mut net = Net::paddle();
    net.var("x", DataType::Float32, &[-1, 3, 8, 8])
        .var("w", DataType::Float32, &[4, 3, 3, 3])
        .var("y", DataType::Float32, &[-1, 4, 8, 8])
        .paddle_op(
            "conv2d",
            &[("Input", "x"), ("Filter", "w")],
            &[("Output", "y")],
            &[],
        );
    let model = net.model(Stage::Paddle);
    let inferred = infer(&model);
    assert_eq!(shape_of(&model, &inferred, "y"), Some(vec![1, 4, 8, 8]));
    let y = model.graph.tensors.iter().position(|t| t.name == "y");
    assert_eq!(y.map(|i| inferred.assumed(TensorId(i as u32))), Some(true));
}
