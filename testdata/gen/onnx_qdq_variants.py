"""Build QDQ models with unusual element types, opsets, parameters and axes for qlint's tests.

Requires onnx (1.17 or newer; 1.23.2 was used) and onnxruntime==1.31.1 from PyPI. Run from the
repository root:

    python3 testdata/gen/onnx_qdq_variants.py

Every model starts as a float graph built with onnx.helper and is quantized to QDQ with
onnxruntime.quantization (quantize_static with seeded random calibration data, or
MatMulNBitsQuantizer). Where a file name ends in .ort_extended.onnx, ONNX Runtime's CPU
execution provider optimized the model at ORT_ENABLE_EXTENDED and saved it.

Two directories are edited after quantization, because no tool writes such parameters on
purpose: bad_qparams/ (scales and zero points changed through onnx.numpy_helper and the
TensorProto class) and missing_axis/ (the `axis` attribute removed from the weight
DequantizeLinear nodes). The script prints what ONNX Runtime does with each defect.
"""

import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "generated")
SHAPE = (1, 3, 16, 16)


class RandomReader(CalibrationDataReader):
    """Feeds four seeded uniform [-1, 1] batches for calibration."""

    def __init__(self, shape=SHAPE, seed=0):
        rng = np.random.default_rng(seed)
        self.batches = iter([{"x": rng.uniform(-1, 1, shape).astype(np.float32)} for _ in range(4)])

    def get_next(self):
        return next(self.batches, None)


def folder(name):
    path = os.path.join(OUT, name)
    os.makedirs(path, exist_ok=True)
    return path


def conv_net(path, opset, second_cin=8):
    """Conv(3->8) -> LeakyRelu -> MaxPool -> Conv(8->8) -> LeakyRelu, saved as a float model."""
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("LeakyRelu", ["c1"], ["a1"], alpha=0.1),
        helper.make_node("MaxPool", ["a1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("LeakyRelu", ["c2"], ["y"], alpha=0.1),
    ]
    inits = [
        numpy_helper.from_array(rng.normal(0, 0.2, (8, 3, 3, 3)).astype(np.float32), "w1"),
        numpy_helper.from_array(np.zeros(8, np.float32), "b1"),
        numpy_helper.from_array(rng.normal(0, 0.2, (8, second_cin, 3, 3)).astype(np.float32), "w2"),
        numpy_helper.from_array(np.zeros(8, np.float32), "b2"),
    ]
    graph = helper.make_graph(
        nodes,
        "conv_net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(SHAPE))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 8, 8])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, path)


def optimize(path):
    """Save ORT's ORT_ENABLE_EXTENDED graph of `path` beside it; return its op types."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = path.replace(".onnx", ".ort_extended.onnx")
    ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return [n.op_type for n in onnx.load(options.optimized_model_filepath).graph.node]


def run(model_or_path, level=ort.GraphOptimizationLevel.ORT_ENABLE_ALL):
    """Run the model once on ones; return the first output or the error text."""
    data = model_or_path if isinstance(model_or_path, str) else model_or_path.SerializeToString()
    options = ort.SessionOptions()
    options.graph_optimization_level = level
    try:
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        shape = [d if isinstance(d, int) else 1 for d in session.get_inputs()[0].shape]
        return session.run(None, {name: np.ones(shape, np.float32)})[0]
    except Exception as error:  # print ORT's message whatever the error class
        return f"ORT error: {str(error).splitlines()[0][:160]}"


def quantized_conv_net(name, opset=13, second_cin=8, **kwargs):
    """Quantize conv_net into generated/<name>/model.qdq.onnx; return that path."""
    path = folder(name)
    float_path = os.path.join(path, "model.float.onnx")
    conv_net(float_path, opset, second_cin)
    qdq_path = os.path.join(path, kwargs.pop("file", "model.qdq.onnx"))
    quantize_static(float_path, qdq_path, RandomReader(), quant_format=QuantFormat.QDQ, **kwargs)
    os.remove(float_path)
    return qdq_path


def element_types():
    """Write models with 16-bit activations, 4-bit weights, and a 4-bit MatMul weight for MatMulNBits."""
    path = quantized_conv_net(
        "qdq_uint16", per_channel=True, activation_type=QuantType.QUInt16, weight_type=QuantType.QInt8
    )
    print("qdq_uint16 optimized:", optimize(path))
    path = quantized_conv_net(
        "qdq_int4_weights", per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt4
    )
    print("qdq_int4_weights optimized:", optimize(path))

    from onnxruntime.quantization.matmul_nbits_quantizer import (
        DefaultWeightOnlyQuantConfig,
        MatMulNBitsQuantizer,
    )

    rng = np.random.default_rng(1)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 32])],
        [numpy_helper.from_array(rng.normal(0, 0.2, (64, 32)).astype(np.float32), "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    config = DefaultWeightOnlyQuantConfig(block_size=32, is_symmetric=True, quant_format=QuantFormat.QDQ)
    quantizer = MatMulNBitsQuantizer(model, algo_config=config)
    quantizer.process()
    path = os.path.join(folder("matmul_nbits"), "model.qdq.onnx")
    quantizer.model.save_model_to_file(path)
    print("matmul_nbits optimized:", optimize(path))


def old_opset():
    """Quantize an opset-10 model per tensor (valid) and per channel (ORT rejects that one)."""
    path = quantized_conv_net("opset10_qdq", opset=10, per_channel=False)
    print("opset10_qdq optimized:", optimize(path))
    path = quantized_conv_net("opset10_qdq", opset=10, per_channel=True, file="model.per_channel.qdq.onnx")
    print("opset10_qdq per channel:", run(path))


def initializer(model, name):
    return next(i for i in model.graph.initializer if i.name == name)


def replace(model, name, array):
    init = initializer(model, name)
    init.CopyFrom(numpy_helper.from_array(array, name))


def out_of_range_zero_point(model, name, value):
    """Store `value` in int32_data of the zero point `name`, keeping its type (uint8)."""
    init = initializer(model, name)
    replacement = TensorProto()
    replacement.name = name
    replacement.data_type = init.data_type
    replacement.dims.extend(init.dims)
    replacement.int32_data.append(value)
    init.CopyFrom(replacement)


def bad_qparams():
    """Write one defect per quantization parameter, and run each alone to print what ORT does."""
    path = quantized_conv_net(
        "bad_qparams", per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8
    )
    clean = onnx.load(path)
    edits = {
        "negative scale around MaxPool": lambda m: replace(m, "a1_scale", -numpy_helper.to_array(initializer(m, "a1_scale"))),
        "infinite weight scale": lambda m: replace(m, "w2_scale", np.full(8, np.inf, np.float32)),
        "zero point 300 (uint8)": lambda m: out_of_range_zero_point(m, "c1_zero_point", 300),
        "zero activation scale": lambda m: replace(m, "x_scale", np.array(0.0, np.float32)),
        "3 zero points for 8 scales": lambda m: replace(m, "w1_zero_point", np.zeros(3, np.int8)),
    }
    reference = run(clean)
    for label, edit in edits.items():
        model = onnx.load(path)
        edit(model)
        result = run(model)
        if isinstance(result, str):
            print(f"bad_qparams {label}: {result}")
        else:
            print(f"bad_qparams {label}: max |y - clean y| = {np.abs(result - reference).max():.4f}")
    model = onnx.load(path)
    edits["negative scale around MaxPool"](model)
    negative = os.path.join(folder("bad_qparams"), "negative.onnx")
    onnx.save(model, negative)
    print("bad_qparams negative scale around MaxPool, optimized:", optimize(negative))
    for name in (negative, negative.replace(".onnx", ".ort_extended.onnx")):
        os.remove(name)
    model = onnx.load(path)
    for edit in edits.values():
        edit(model)
    onnx.save(model, path)


def missing_axis():
    """Remove `axis` from the per-channel weight DequantizeLinear of conv 3->8 and conv 8->8."""
    path = quantized_conv_net("missing_axis", per_channel=True)
    clean = onnx.load(path)

    def without_axis(weights):
        model = onnx.load(path)
        for node in model.graph.node:
            if node.op_type == "DequantizeLinear" and node.input[0] in weights:
                kept = [a for a in node.attribute if a.name != "axis"]
                del node.attribute[:]
                node.attribute.extend(kept)
        return model

    for weights in (["w2_quantized"], ["w1_quantized", "w2_quantized"]):
        model = without_axis(weights)
        for level in (ort.GraphOptimizationLevel.ORT_ENABLE_ALL, ort.GraphOptimizationLevel.ORT_DISABLE_ALL):
            result, reference = run(model, level), run(clean, level)
            if isinstance(result, str):
                print(f"missing_axis {weights} at {level}: {result}")
            else:
                print(f"missing_axis {weights} at {level}: max |y - y with axis| = {np.abs(result - reference).max():.4f}")
    onnx.save(without_axis(["w1_quantized", "w2_quantized"]), path)


def axes_ok():
    """Quantize ConvTranspose, MatMul and Gemm(transB=1) per channel with quantize_static."""
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("ConvTranspose", ["x", "wt", "bt"], ["c1"], strides=[2, 2], kernel_shape=[2, 2]),
        helper.make_node("LeakyRelu", ["c1"], ["a1"], alpha=0.1),
        helper.make_node("Flatten", ["a1"], ["f"], axis=1),
        helper.make_node("MatMul", ["f", "wm"], ["m"]),
        helper.make_node("Gemm", ["m", "wg", "bg"], ["y"], transB=1),
    ]
    inits = [
        numpy_helper.from_array(rng.normal(0, 0.2, (3, 6, 2, 2)).astype(np.float32), "wt"),
        numpy_helper.from_array(np.zeros(6, np.float32), "bt"),
        numpy_helper.from_array(rng.normal(0, 0.2, (6 * 8 * 8, 8)).astype(np.float32), "wm"),
        numpy_helper.from_array(rng.normal(0, 0.2, (4, 8)).astype(np.float32), "wg"),
        numpy_helper.from_array(np.zeros(4, np.float32), "bg"),
    ]
    graph = helper.make_graph(
        nodes,
        "axes",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = folder("axes_ok")
    float_path = os.path.join(path, "model.float.onnx")
    onnx.save(model, float_path)
    qdq_path = os.path.join(path, "model.qdq.onnx")
    quantize_static(
        float_path, qdq_path, RandomReader((1, 3, 4, 4)), quant_format=QuantFormat.QDQ, per_channel=True,
        op_types_to_quantize=["ConvTranspose", "MatMul", "Gemm", "LeakyRelu"],
    )
    os.remove(float_path)
    print("axes_ok optimized:", optimize(qdq_path))


def main():
    element_types()
    old_opset()
    bad_qparams()
    missing_axis()
    axes_ok()
    print(f"onnx {onnx.__version__}, onnxruntime {ort.__version__}: models written under {OUT}")


if __name__ == "__main__":
    main()
