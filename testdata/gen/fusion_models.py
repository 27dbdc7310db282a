"""Build the QDQ models behind qlint's predicted-fusion tests (QL203, QL204).

Requires onnx (1.17 or newer) and onnxruntime==1.31.1 from PyPI. Run from the repository root:

    python3 testdata/gen/fusion_models.py

Two models come from onnxruntime.quantization.quantize_static (seeded random calibration data);
the others are QDQ graphs written with onnx.helper, because no quantizer writes those patterns
on purpose (a Transpose between QuantizeLinear and DequantizeLinear, a float Add input, a
MaxPool at opset 11). Every node has a name, since ONNX Runtime keeps the name of the node it
fuses, so the tests can match nodes across the two graphs. Next to each `model.onnx` the script
saves the graph ONNX Runtime's CPU execution provider writes at ORT_ENABLE_EXTENDED
(`model.ort_extended.onnx`) and prints its op histogram.
"""

import collections
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "generated")


class RandomReader(CalibrationDataReader):
    """Feeds a few seeded uniform [-1, 1] batches for calibration."""

    def __init__(self, name, shape, count=4, seed=0):
        rng = np.random.default_rng(seed)
        self.batches = iter(
            [{name: rng.uniform(-1, 1, shape).astype(np.float32)} for _ in range(count)]
        )

    def get_next(self):
        return next(self.batches, None)


def folder(name):
    path = os.path.join(OUT, name)
    os.makedirs(path, exist_ok=True)
    return path


def optimize(path):
    """Saves ORT's ORT_ENABLE_EXTENDED graph next to `path` and prints its op histogram."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = path.replace(".onnx", ".ort_extended.onnx")
    ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    saved = onnx.load(options.optimized_model_filepath)
    ops = collections.Counter(
        (n.domain + "::" if n.domain else "") + n.op_type for n in saved.graph.node
    )
    print(f"{os.path.relpath(path, OUT)}: {dict(sorted(ops.items()))}")


def save(graph, path, opset):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    # Opset 21, which QuantizeLinear needs for uint16, needs IR version 10.
    model.ir_version = 8 if opset < 21 else 10
    onnx.checker.check_model(model)
    onnx.save(model, path)
    optimize(path)


def weight(rng, shape, name):
    return numpy_helper.from_array(rng.normal(0, 0.2, shape).astype(np.float32), name)


def quantize(float_graph, path, input_shape, activation_type):
    """Quantizes a float graph to QDQ (per-channel int8 weights) and optimizes it."""
    float_path = path.replace(".onnx", ".float.onnx")
    model = helper.make_model(float_graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, float_path)
    quantize_static(
        float_path,
        path,
        RandomReader("x", input_shape),
        quant_format=QuantFormat.QDQ,
        activation_type=activation_type,
        weight_type=QuantType.QInt8,
        per_channel=True,
    )
    os.remove(float_path)
    optimize(path)


def clean(rng):
    """Writes a model that ORT fuses completely: Conv, LeakyRelu, MaxPool, Add, Concat,
    AveragePool, GlobalAveragePool, Flatten, Gemm and Softmax with uint8 activations."""
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("LeakyRelu", ["c1"], ["a1"], alpha=0.1, name="leaky1"),
        helper.make_node("MaxPool", ["a1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2], name="pool1"),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], name="conv2"),
        helper.make_node("Add", ["c2", "p1"], ["s"], name="residual"),
        helper.make_node("Concat", ["s", "c2"], ["cat"], axis=1, name="concat"),
        helper.make_node("AveragePool", ["cat"], ["ap"], kernel_shape=[2, 2], strides=[2, 2], name="avgpool"),
        helper.make_node("GlobalAveragePool", ["ap"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], axis=1, name="flatten"),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], transB=1, name="fc"),
        helper.make_node("Softmax", ["logits"], ["y"], axis=1, name="softmax"),
    ]
    inits = [
        weight(rng, (8, 3, 3, 3), "w1"),
        numpy_helper.from_array(np.zeros(8, np.float32), "b1"),
        weight(rng, (8, 8, 3, 3), "w2"),
        numpy_helper.from_array(np.zeros(8, np.float32), "b2"),
        weight(rng, (10, 16), "fc_w"),
        numpy_helper.from_array(np.zeros(10, np.float32), "fc_b"),
    ]
    graph = helper.make_graph(
        nodes,
        "clean",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
        inits,
    )
    quantize(graph, os.path.join(folder("fusion_clean"), "model.onnx"), (1, 3, 16, 16), QuantType.QUInt8)


def int8_fanout(rng):
    """Writes a residual block quantized with int8 activations. The LeakyRelu output feeds a
    Conv and an Add, so its QuantizeLinear gets two readers and ORT keeps it int8."""
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("LeakyRelu", ["c1"], ["a1"], alpha=0.1, name="leaky1"),
        helper.make_node("Conv", ["a1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], name="conv2"),
        helper.make_node("Add", ["c2", "a1"], ["s"], name="residual"),
        helper.make_node("Conv", ["s", "w3", "b3"], ["y"], pads=[1, 1, 1, 1], name="conv3"),
    ]
    inits = [
        weight(rng, (8, 3, 3, 3), "w1"),
        numpy_helper.from_array(np.zeros(8, np.float32), "b1"),
        weight(rng, (8, 8, 3, 3), "w2"),
        numpy_helper.from_array(np.zeros(8, np.float32), "b2"),
        weight(rng, (8, 8, 3, 3), "w3"),
        numpy_helper.from_array(np.zeros(8, np.float32), "b3"),
    ]
    graph = helper.make_graph(
        nodes,
        "int8_fanout",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 8, 8])],
        inits,
    )
    quantize(graph, os.path.join(folder("fusion_int8_fanout"), "model.onnx"), (1, 3, 8, 8), QuantType.QInt8)


class Builder:
    """Writes QDQ graphs by hand: per-tensor activations, per-channel int8 weights."""

    def __init__(self, rng, qtype, per_channel=True):
        self.rng, self.nodes, self.inits = rng, [], []
        self.per_channel = per_channel
        self.signed = qtype == "int8"
        self.zero = 0 if self.signed else 128
        self.made = set()

    def const(self, name, array):
        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def params(self, name, scale):
        """Returns the scale and zero point named after `name`, adding them on first use."""
        if name not in self.made:
            dtype = np.int8 if self.signed else np.uint8
            self.const(f"{name}_scale", np.array(scale, np.float32))
            self.const(f"{name}_zp", np.array(self.zero, dtype))
            self.made.add(name)
        return f"{name}_scale", f"{name}_zp"

    def q(self, tensor, name, scale=0.05):
        s, z = self.params(name, scale)
        self.nodes.append(helper.make_node("QuantizeLinear", [tensor, s, z], [f"{name}_q"], name=f"{name}_Q"))
        return f"{name}_q"

    def dq(self, quantized, name, scale=0.05):
        s, z = self.params(name, scale)
        self.nodes.append(helper.make_node("DequantizeLinear", [quantized, s, z], [f"{name}_dq"], name=f"{name}_DQ"))
        return f"{name}_dq"

    def qdq(self, tensor, name, scale=0.05):
        return self.dq(self.q(tensor, name, scale), name, scale)

    def conv(self, x, cin, cout, name):
        w = self.rng.integers(-60, 60, (cout, cin, 3, 3)).astype(np.int8)
        if self.per_channel:
            scale, zp, axis = np.full(cout, 0.01, np.float32), np.zeros(cout, np.int8), {"axis": 0}
        else:
            scale, zp, axis = np.array(0.01, np.float32), np.array(0, np.int8), {}
        args = [self.const(f"{name}_w", w), self.const(f"{name}_ws", scale), self.const(f"{name}_wz", zp)]
        self.nodes.append(helper.make_node("DequantizeLinear", args, [f"{name}_wdq"], name=f"{name}_WDQ", **axis))
        self.nodes.append(helper.make_node("Conv", [x, f"{name}_wdq"], [name], pads=[1, 1, 1, 1], name=name))
        return name

    def graph(self, name, inputs, outputs, opset=13):
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.inits)
        return graph, opset


def layout_between(rng, qtype):
    """Writes Conv -> QuantizeLinear -> Transpose -> DequantizeLinear -> Conv -> QuantizeLinear
    -> Reshape -> DequantizeLinear -> Conv. With int8 the data-movement ops keep ORT's s8-to-u8
    conversion away from the pairs, and with uint8 there is nothing to convert."""
    b = Builder(rng, qtype)
    c1 = b.conv(b.qdq("x", "in"), 4, 8, "conv1")
    t = "t"
    b.nodes.append(helper.make_node("Transpose", [b.q(c1, "c1")], [t], perm=[0, 1, 3, 2], name="transpose"))
    c2 = b.conv(b.dq(t, "c1"), 8, 8, "conv2")
    shape = b.const("shape", np.array([1, 8, 4, 16], np.int64))
    b.nodes.append(helper.make_node("Reshape", [b.q(c2, "c2"), shape], ["r"], name="reshape"))
    c3 = b.conv(b.dq("r", "c2"), 8, 8, "conv3")
    y = b.qdq(c3, "out")
    graph, opset = b.graph(
        f"layout_{qtype}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])],
        [helper.make_tensor_value_info(y, TensorProto.FLOAT, [1, 8, 4, 16])],
    )
    save(graph, os.path.join(folder(f"fusion_layout_{qtype}"), "model.onnx"), opset)


def float_input(rng):
    """Writes an Add whose second input is a float graph input and a Mul whose second input is
    a float constant, both between DequantizeLinear and QuantizeLinear."""
    b = Builder(rng, "uint8")
    c1 = b.conv(b.qdq("x", "in"), 4, 8, "conv1")
    b.nodes.append(helper.make_node("Add", [b.qdq(c1, "c1"), "bias_map"], ["added"], name="add_float"))
    scale = b.const("gain", np.full((1, 8, 1, 1), 0.5, np.float32))
    b.nodes.append(helper.make_node("Mul", [b.qdq("added", "added"), scale], ["scaled"], name="mul_const"))
    y = b.qdq("scaled", "out")
    graph, opset = b.graph(
        "float_input",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8]),
            helper.make_tensor_value_info("bias_map", TensorProto.FLOAT, [1, 8, 8, 8]),
        ],
        [helper.make_tensor_value_info(y, TensorProto.FLOAT, [1, 8, 8, 8])],
    )
    save(graph, os.path.join(folder("fusion_float_input"), "model.onnx"), opset)


def old_opset(rng):
    """Writes a model at opset 11, where MaxPool has since-version 11, outside the versions
    whose QuantizeLinear/DequantizeLinear ORT drops. DequantizeLinear-10 has no axis, so the
    weights are per tensor."""
    b = Builder(rng, "uint8", per_channel=False)
    c1 = b.conv(b.qdq("x", "in"), 4, 8, "conv1")
    b.nodes.append(helper.make_node("MaxPool", [b.qdq(c1, "c1")], ["p"], kernel_shape=[2, 2], strides=[2, 2], name="pool"))
    c2 = b.conv(b.qdq("p", "p"), 8, 8, "conv2")
    y = b.qdq(c2, "out")
    graph, _ = b.graph(
        "old_opset",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])],
        [helper.make_tensor_value_info(y, TensorProto.FLOAT, [1, 8, 4, 4])],
    )
    save(graph, os.path.join(folder("fusion_old_opset"), "model.onnx"), 11)


def weights(rng):
    """Writes the weight cases. A Conv's weight is a float graph input, which ORT cannot
    quantize because it is not a constant. A Gemm has a float constant bias, which ORT
    quantizes. A MatMul has only its weight quantized, and ORT shares its scale constant with
    the Gemm weight's, which keeps it from MatMulNBits. A Conv writes a graph output, with no
    QuantizeLinear after it."""
    b = Builder(rng, "uint8")
    x = b.qdq("x", "in")
    b.nodes.append(helper.make_node("Conv", [x, "w_live"], ["c_live"], pads=[1, 1, 1, 1], name="conv_weight_input"))
    flat = b.qdq("c_live", "c_live")
    b.nodes.append(helper.make_node("Flatten", [flat], ["f"], axis=1, name="flatten"))
    fw = rng.integers(-60, 60, (8, 128)).astype(np.int8)
    args = [b.const("fc_w", fw), b.const("fc_ws", np.array(0.01, np.float32)), b.const("fc_wz", np.array(0, np.int8))]
    b.nodes.append(helper.make_node("DequantizeLinear", args, ["fc_wdq"], name="fc_WDQ"))
    bias = b.const("fc_b", np.zeros(8, np.float32))
    b.nodes.append(helper.make_node("Gemm", [b.qdq("f", "f"), "fc_wdq", bias], ["g"], transB=1, name="gemm_float_bias"))
    y1 = b.qdq("g", "g")

    mw = rng.integers(-60, 60, (16, 8)).astype(np.int8)
    args = [b.const("mm_w", mw), b.const("mm_ws", np.array(0.01, np.float32)), b.const("mm_wz", np.array(0, np.int8))]
    b.nodes.append(helper.make_node("DequantizeLinear", args, ["mm_wdq"], name="mm_WDQ"))
    b.nodes.append(helper.make_node("MatMul", ["v", "mm_wdq"], ["y2"], name="matmul_weight_only"))

    y3 = b.conv(b.qdq("x", "in2"), 4, 8, "conv_to_output")
    graph, opset = b.graph(
        "weights",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 4, 4]),
            helper.make_tensor_value_info("w_live", TensorProto.FLOAT, [8, 4, 3, 3]),
            helper.make_tensor_value_info("v", TensorProto.FLOAT, [4, 16]),
        ],
        [
            helper.make_tensor_value_info(y1, TensorProto.FLOAT, [1, 8]),
            helper.make_tensor_value_info("y2", TensorProto.FLOAT, [4, 8]),
            helper.make_tensor_value_info(y3, TensorProto.FLOAT, [1, 8, 4, 4]),
        ],
    )
    save(graph, os.path.join(folder("fusion_weights"), "model.onnx"), opset)


def edge_cases(rng):
    """Writes one branch per ORT rule that the prediction replays, each with its own input and
    output. The branches are Relu and Clip folding into the next QuantizeLinear (or not), QDQ
    propagation through a Transpose, MaxPool with a negative scale, and a Gemm bias with beta
    0.5. Then come uint16 activations (opset 21, where QuantizeLinear takes them), a
    ConvTranspose (no selector), a Conv with a float constant weight and bias (ORT quantizes
    them) and weight-only MatMuls (MatMulNBits per tensor, not per row)."""
    b = Builder(rng, "uint8")
    inputs, outputs = [], []

    def branch(name, shape):
        inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
        return name

    def out(tensor, shape):
        outputs.append(helper.make_tensor_value_info(tensor, TensorProto.FLOAT, shape))

    shape = [1, 4, 4, 4]
    for zero, name in ((0, "relu_zp0"), (128, "relu_zp128")):
        b.nodes.append(helper.make_node("Relu", [b.qdq(branch(f"{name}_x", shape), f"{name}_in")], [name], name=name))
        s, z = b.const(f"{name}_s", np.array(0.05, np.float32)), b.const(f"{name}_z", np.array(zero, np.uint8))
        b.nodes.append(helper.make_node("QuantizeLinear", [name, s, z], [f"{name}_q"], name=f"{name}_Q"))
        b.nodes.append(helper.make_node("DequantizeLinear", [f"{name}_q", s, z], [f"{name}_y"], name=f"{name}_DQ"))
        out(f"{name}_y", shape)
    for high, name in ((6.0, "clip6"), (3.0, "clip3")):
        lo, hi = b.const(f"{name}_lo", np.array(0.0, np.float32)), b.const(f"{name}_hi", np.array(high, np.float32))
        x = b.qdq(branch(f"{name}_x", shape), f"{name}_in")
        b.nodes.append(helper.make_node("Clip", [x, lo, hi], [name], name=name))
        s, z = b.const(f"{name}_s", np.array(6.0 / 255, np.float32)), b.const(f"{name}_z", np.array(0, np.uint8))
        b.nodes.append(helper.make_node("QuantizeLinear", [name, s, z], [f"{name}_q"], name=f"{name}_Q"))
        b.nodes.append(helper.make_node("DequantizeLinear", [f"{name}_q", s, z], [f"{name}_y"], name=f"{name}_DQ"))
        out(f"{name}_y", shape)
    x = b.qdq(branch("transpose_x", shape), "transpose_in")
    b.nodes.append(helper.make_node("Transpose", [x], ["transposed"], perm=[0, 1, 3, 2], name="transpose"))
    b.nodes.append(helper.make_node("Relu", ["transposed"], ["transpose_y"], name="transpose_relu"))
    out("transpose_y", shape)
    x = b.qdq(branch("pool_x", shape), "pool_in")
    b.nodes.append(helper.make_node("MaxPool", [x], ["pooled"], kernel_shape=[2, 2], strides=[2, 2], name="pool_negative"))
    out(b.qdq("pooled", "pool_out", scale=-0.05), [1, 4, 2, 2])
    x = b.qdq(branch("gemm_x", [2, 16]), "gemm_in")
    gw = [b.const("gemm_w", rng.integers(-60, 60, (8, 16)).astype(np.int8)),
          b.const("gemm_ws", np.array(0.011, np.float32)), b.const("gemm_wz", np.array(0, np.int8))]
    b.nodes.append(helper.make_node("DequantizeLinear", gw, ["gemm_wdq"], name="gemm_WDQ"))
    gb = [b.const("gemm_b", np.zeros(8, np.int32)), b.const("gemm_bs", np.array(0.00055, np.float32))]
    b.nodes.append(helper.make_node("DequantizeLinear", gb, ["gemm_bdq"], name="gemm_BDQ"))
    b.nodes.append(helper.make_node("Gemm", [x, "gemm_wdq", "gemm_bdq"], ["gemm"], transB=1, beta=0.5, name="gemm_beta"))
    out(b.qdq("gemm", "gemm_out"), [2, 8])
    s16, z16 = b.const("u16_s", np.array(0.001, np.float32)), b.const("u16_z", np.array(32768, np.uint16))
    b.nodes.append(helper.make_node("QuantizeLinear", [branch("u16_x", shape), s16, z16], ["u16_q"], name="u16_Q"))
    b.nodes.append(helper.make_node("DequantizeLinear", ["u16_q", s16, z16], ["u16_dq"], name="u16_DQ"))
    b.nodes.append(helper.make_node("Sigmoid", ["u16_dq"], ["sig"], name="sigmoid_uint16"))
    b.nodes.append(helper.make_node("QuantizeLinear", ["sig", s16, z16], ["sig_q"], name="sig_Q"))
    b.nodes.append(helper.make_node("DequantizeLinear", ["sig_q", s16, z16], ["sig_y"], name="sig_DQ"))
    out("sig_y", shape)
    x = b.qdq(branch("ct_x", shape), "ct_in")
    ct = [b.const("ct_w", rng.integers(-60, 60, (4, 4, 3, 3)).astype(np.int8)),
          b.const("ct_ws", np.array(0.012, np.float32)), b.const("ct_wz", np.array(0, np.int8))]
    b.nodes.append(helper.make_node("DequantizeLinear", ct, ["ct_wdq"], name="ct_WDQ"))
    b.nodes.append(helper.make_node("ConvTranspose", [x, "ct_wdq"], ["ct"], pads=[1, 1, 1, 1], name="conv_transpose"))
    out(b.qdq("ct", "ct_out"), shape)
    x = b.qdq(branch("fw_x", shape), "fw_in")
    fw = [b.const("fw_w", rng.normal(0, 0.2, (8, 4, 3, 3)).astype(np.float32)), b.const("fw_b", np.zeros(8, np.float32))]
    b.nodes.append(helper.make_node("Conv", [x, *fw], ["fw"], pads=[1, 1, 1, 1], name="conv_float_weight"))
    out(b.qdq("fw", "fw_out"), [1, 8, 4, 4])
    for name, scale, zp, axis in (
        ("nbits_tensor", np.array(0.0123, np.float32), np.array(0, np.int8), {}),
        ("nbits_rows", np.full(16, 0.0131, np.float32), np.zeros(16, np.int8), {"axis": 0}),
    ):
        args = [b.const(f"{name}_w", rng.integers(-60, 60, (16, 8)).astype(np.int8)),
                b.const(f"{name}_ws", scale), b.const(f"{name}_wz", zp)]
        b.nodes.append(helper.make_node("DequantizeLinear", args, [f"{name}_wdq"], name=f"{name}_WDQ", **axis))
        b.nodes.append(helper.make_node("MatMul", [branch(f"{name}_x", [2, 16]), f"{name}_wdq"], [name], name=name))
        out(name, [2, 8])
    graph, _ = b.graph("edge_cases", inputs, outputs)
    save(graph, os.path.join(folder("fusion_edge_cases"), "model.onnx"), 21)


def main():
    clean(np.random.default_rng(1))
    int8_fanout(np.random.default_rng(2))
    layout_between(np.random.default_rng(3), "int8")
    layout_between(np.random.default_rng(3), "uint8")
    float_input(np.random.default_rng(4))
    old_opset(np.random.default_rng(5))
    weights(np.random.default_rng(6))
    edge_cases(np.random.default_rng(7))
    print(f"onnx {onnx.__version__}, onnxruntime {ort.__version__}: models written under {OUT}")


if __name__ == "__main__":
    main()
