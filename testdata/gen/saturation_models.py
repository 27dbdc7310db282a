"""Build small real ONNX models with known int8 weight pairs for qlint's QL402 tests.

Requires: onnx (1.17 or newer) and onnxruntime==1.31.1 from PyPI. Run from the repository root:

    python3 testdata/gen/saturation_models.py

Each float model is built with onnx.helper and quantized with
onnxruntime.quantization.quantize_static (per-channel symmetric int8 weights, uint8 activations,
seeded random calibration data). ONNX Runtime's CPU execution provider then optimizes the QDQ
model at ORT_ENABLE_EXTENDED and writes the result with optimized_model_filepath.

The weights are chosen so that the pair count is known. Every output channel has its largest
magnitude 1.0 at input channel 0, kernel position 0, so per-channel quantization maps it to 127.
In output channel 0 its neighbour in ORT's reduction order (input channel 1, same kernel
position) is 1.0 too, giving the pair (127, 127). In every other channel that neighbour is -0.01,
of the opposite sign. All other weights are uniform in [-0.3, 0.3], at most 38 after
quantization, so no other pair reaches 129. With reduce_range=True the weights are quantized to
7 bits and the largest pair is (64, 64).
"""

import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "generated", "saturation")


class RandomReader(CalibrationDataReader):
    """Feeds a few seeded uniform [-1, 1] batches for calibration."""

    def __init__(self, name, shape, count=4, seed=0):
        rng = np.random.default_rng(seed)
        self.batches = iter(
            [{name: rng.uniform(-1, 1, shape).astype(np.float32)} for _ in range(count)]
        )

    def get_next(self):
        return next(self.batches, None)


def paired_weight(rng, channels, reduction_first, reduction_second):
    """Returns weights [channels, first, second, ...] with the (127, 127) pair in channel 0.

    `reduction_first` indexes the elements that ORT pairs (input channels of a conv filter at one
    kernel position, or rows 0 and 1 of a MatMul column after the caller transposes).
    """
    w = rng.uniform(-0.3, 0.3, (channels, reduction_first, *reduction_second)).astype(np.float32)
    origin = (0,) * len(reduction_second)
    for c in range(channels):
        w[(c, 0, *origin)] = 1.0
        w[(c, 1, *origin)] = 1.0 if c == 0 else -0.01
    return w


def save_float(graph, path):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def quantize(float_path, out_path, input_name, shape, quant_format, reduce_range):
    quantize_static(
        float_path,
        out_path,
        RandomReader(input_name, shape),
        quant_format=quant_format,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        per_channel=True,
        reduce_range=reduce_range,
    )


def optimize(qdq_path):
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = qdq_path.replace(".onnx", ".ort_extended.onnx")
    ort.InferenceSession(qdq_path, options, providers=["CPUExecutionProvider"])


def conv_models(rng):
    """Writes the Conv models: a 3x3 Conv with 8 input and 8 output channels on a 1x8x8x8 input."""
    weight = paired_weight(rng, 8, 8, (3, 3))
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1])],
        "paired_conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 8, 8])],
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(np.zeros(8, np.float32), "b")],
    )
    float_path = os.path.join(OUT, "conv.float.onnx")
    save_float(graph, float_path)
    shape = (1, 8, 8, 8)

    qdq = os.path.join(OUT, "conv_int8.qdq.onnx")
    quantize(float_path, qdq, "x", shape, QuantFormat.QDQ, reduce_range=False)
    optimize(qdq)
    quantize(float_path, os.path.join(OUT, "conv_int8.qoperator.onnx"), "x", shape, QuantFormat.QOperator, False)
    seven_bit = os.path.join(OUT, "conv_7bit.qdq.onnx")
    quantize(float_path, seven_bit, "x", shape, QuantFormat.QDQ, reduce_range=True)
    optimize(seven_bit)

    # The same QDQ model with every initializer in an external data file. onnx appends to an
    # existing data file, so a previous run's file is removed first.
    data_path = os.path.join(OUT, "conv_int8.external.onnx.data")
    if os.path.exists(data_path):
        os.remove(data_path)
    model = onnx.load(qdq)
    onnx.save(
        model,
        os.path.join(OUT, "conv_int8.external.onnx"),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="conv_int8.external.onnx.data",
        size_threshold=0,
    )
    # onnx writes the data file owner-only; make it readable like the other files.
    os.chmod(data_path, 0o644)
    os.remove(float_path)


def matmul_models(rng):
    """Writes the MatMul model [1, 16] x [16, 8], whose B has the (127, 127) pair in column 0."""
    # paired_weight puts the pair along axis 1 of a [N, K] array; B is [K, N].
    weight = paired_weight(rng, 8, 16, ()).T.copy()
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "paired_matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
        [numpy_helper.from_array(weight, "w")],
    )
    float_path = os.path.join(OUT, "matmul.float.onnx")
    save_float(graph, float_path)
    qdq = os.path.join(OUT, "matmul_int8.qdq.onnx")
    quantize(float_path, qdq, "x", (1, 16), QuantFormat.QDQ, reduce_range=False)
    optimize(qdq)
    os.remove(float_path)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(0)
    conv_models(rng)
    matmul_models(rng)
    print(f"onnx {onnx.__version__}, onnxruntime {ort.__version__}: models written under {OUT}")


if __name__ == "__main__":
    main()
