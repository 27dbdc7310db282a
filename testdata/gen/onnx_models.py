"""Build small real ONNX models for qlint's tests with the onnx and onnxruntime packages.

Requires: onnx (1.17 or newer) and onnxruntime==1.31.1 from PyPI. Run from the repository root:

    python3 testdata/gen/onnx_models.py

Each model is a float graph built with onnx.helper, quantized to QDQ with
onnxruntime.quantization.quantize_static (seeded random calibration data), and optimized by
ONNX Runtime's CPU execution provider at ORT_ENABLE_EXTENDED with optimized_model_filepath.
"""

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


def conv_weight(rng, cout, cin, k, name):
    w = rng.normal(0, 0.2, (cout, cin, k, k)).astype(np.float32)
    return numpy_helper.from_array(w, name)


def save_float(graph, path, opset=13):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def quantize_and_optimize(float_path, qdq_path, input_name, shape, op_types):
    quantize_static(
        float_path,
        qdq_path,
        RandomReader(input_name, shape),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=op_types,
    )
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = qdq_path.replace(".onnx", ".ort_extended.onnx")
    ort.InferenceSession(qdq_path, options, providers=["CPUExecutionProvider"])


def big_conv(rng):
    """Two LeakyRelu convs on a 1x3x224x224 input: about 51 million MACs, all quantized.

    Writes the float model (to big_conv_float/), its QDQ model and ORT's optimized QDQ graph.
    """
    folder = os.path.join(OUT, "big_conv")
    os.makedirs(folder, exist_ok=True)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("LeakyRelu", ["c1"], ["a1"], alpha=0.1),
        helper.make_node("Conv", ["a1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("LeakyRelu", ["c2"], ["y"], alpha=0.1),
    ]
    inits = [
        conv_weight(rng, 16, 3, 3, "w1"),
        numpy_helper.from_array(np.zeros(16, np.float32), "b1"),
        conv_weight(rng, 16, 16, 3, "w2"),
        numpy_helper.from_array(np.zeros(16, np.float32), "b2"),
    ]
    graph = helper.make_graph(
        nodes,
        "big_conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 224, 224])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 16, 112, 112])],
        inits,
    )
    # The float model stays, in a folder of its own so that linting big_conv/ finds only the
    # quantized graphs. It is the float twin that `qlint --bench --float-model` times.
    float_folder = os.path.join(OUT, "big_conv_float")
    os.makedirs(float_folder, exist_ok=True)
    float_path = os.path.join(float_folder, "model.onnx")
    save_float(graph, float_path)
    quantize_and_optimize(float_path, os.path.join(folder, "model.qdq.onnx"), "x", (1, 3, 224, 224), ["Conv", "LeakyRelu"])


def float_gemm_head(rng):
    """A small quantized conv followed by a Gemm left in float: most MACs stay float."""
    folder = os.path.join(OUT, "float_gemm_head")
    os.makedirs(folder, exist_ok=True)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("LeakyRelu", ["c1"], ["a1"], alpha=0.1),
        helper.make_node("Flatten", ["a1"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["y"]),
    ]
    inits = [
        conv_weight(rng, 8, 3, 3, "w1"),
        numpy_helper.from_array(np.zeros(8, np.float32), "b1"),
        numpy_helper.from_array(rng.normal(0, 0.05, (8 * 16 * 16, 64)).astype(np.float32), "fc_w"),
        numpy_helper.from_array(np.zeros(64, np.float32), "fc_b"),
    ]
    graph = helper.make_graph(
        nodes,
        "float_gemm_head",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])],
        inits,
    )
    float_path = os.path.join(folder, "model.float.onnx")
    save_float(graph, float_path)
    quantize_and_optimize(float_path, os.path.join(folder, "model.qdq.onnx"), "x", (1, 3, 16, 16), ["Conv", "LeakyRelu"])
    os.remove(float_path)


def main():
    rng = np.random.default_rng(0)
    big_conv(rng)
    float_gemm_head(rng)
    print(f"onnx {onnx.__version__}, onnxruntime {ort.__version__}: models written under {OUT}")


if __name__ == "__main__":
    main()
