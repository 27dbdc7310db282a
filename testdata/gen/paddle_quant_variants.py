"""Write small Paddle PTQ models with unusual quantization settings, and their Paddle2ONNX exports.

qlint rules QL106 (bit width other than 8), QL107 (per-channel axis against the op that reads the
weight), QL202 (invalid scales) and QL206 (quantization lost in export) are tested on them.
Every model is made by the real tools: a dygraph Layer saved with paddle.jit.save, quantized with
paddle.static.quantization.PostTrainingQuantization (the class PaddleSlim's PTQ wraps) and
exported with the Paddle2ONNX 1.3.1 command line at its default settings.

Outputs, each with model.pdmodel, model.pdiparams and p2o131.onnx:
  generated/paddle_ptq_4bit/        PTQ with weight_bits=4, activation_bits=4
  generated/paddle_ptq_trans_y/     PTQ of a matmul_v2 with trans_y=True and a conv2d_transpose
  generated/paddle_pruned_channel/  PTQ of a conv with one all-zero output channel

One edit follows PTQ: in paddle_ptq_trans_y the program's declared dims of a scale variable are
set to the dims of its stored record (align_declared_shapes), which is what Paddle itself uses
when it loads the parameters. The Paddle2ONNX export is made before that edit.

Usage (Python 3.11, packages from PyPI):
  python3 -m venv /work/venv-paddle
  /work/venv-paddle/bin/pip install paddlepaddle==2.6.2 paddle2onnx==1.3.1 "numpy<2"
  /work/venv-paddle/bin/python testdata/gen/paddle_quant_variants.py
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import paddle
import paddle.nn as nn
from paddle.static import InputSpec

OUT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "generated"))
SHAPE = [1, 3, 8, 8]


class ConvHead(nn.Layer):
    """conv2d -> relu -> flatten -> linear (matmul_v2 + elementwise_add)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 8, 3, padding=1)
        self.fc = nn.Linear(8 * 8 * 8, 10)

    def forward(self, x):
        y = nn.functional.relu(self.conv(x))
        return self.fc(paddle.flatten(y, 1))


class TransposedWeights(nn.Layer):
    """conv2d -> relu -> conv2d_transpose -> flatten -> matmul_v2(trans_y=True) with a [N, K] weight."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 8, 3, padding=1)
        self.up = nn.Conv2DTranspose(8, 4, 2, stride=2)
        self.w = self.create_parameter([10, 4 * 16 * 16])

    def forward(self, x):
        y = self.up(nn.functional.relu(self.conv(x)))
        return paddle.matmul(paddle.flatten(y, 1), self.w, transpose_y=True)


class PrunedConv(nn.Layer):
    """Two convs; output channel 2 of the first has only zero weights, as after filter pruning."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2D(8, 8, 3, padding=1)
        weight = self.conv.weight.numpy()
        weight[2] = 0.0
        self.conv.weight.set_value(weight)

    def forward(self, x):
        return self.conv2(nn.functional.relu(self.conv(x)))


class CalibLoader(paddle.io.DataLoader):
    """Yields four seeded uniform [-1, 1] batches; passes PTQ's isinstance(DataLoader) check."""

    def __init__(self):  # noqa: D107 (no super().__init__: nothing to load)
        pass

    def __iter__(self):
        rng = np.random.RandomState(1)
        for _ in range(4):
            yield {"x": rng.uniform(-1, 1, SHAPE).astype("float32")}

    def __call__(self):
        return self.__iter__()

    def __len__(self):
        return 4


def quantize(make_layer, name, **ptq_args):
    """Build the layer with seed 0, quantize it with PTQ into generated/<name>/ and export it."""
    from paddle.static.quantization import PostTrainingQuantization

    dst = os.path.join(OUT, name)
    os.makedirs(dst, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        paddle.disable_static()
        paddle.seed(0)
        layer = make_layer()
        layer.eval()
        paddle.jit.save(layer, os.path.join(tmp, "model"), input_spec=[InputSpec(SHAPE, "float32", name="x")])
        paddle.enable_static()
        exe = paddle.static.Executor(paddle.CPUPlace())
        scope = paddle.static.Scope()
        with paddle.static.scope_guard(scope):
            ptq = PostTrainingQuantization(
                executor=exe, scope=scope, model_dir=tmp,
                model_filename="model.pdmodel", params_filename="model.pdiparams",
                data_loader=CalibLoader(), algo="abs_max", batch_nums=4,
                onnx_format=True, is_full_quantize=True, optimize_model=False, **ptq_args)
            ptq.quantize()
            ptq.save_quantized_model(dst, model_filename="model.pdmodel", params_filename="model.pdiparams")
    paddle2onnx = os.path.join(os.path.dirname(sys.executable), "paddle2onnx")
    subprocess.run(
        [paddle2onnx, "--model_dir", dst, "--model_filename", "model.pdmodel",
         "--params_filename", "model.pdiparams", "--save_file", os.path.join(dst, "p2o131.onnx")],
        check=True,
    )


def align_declared_shapes(name):
    """Set each parameter's declared dims to the dims of its stored record, in place.

    PTQ declares the scale of a quant_axis=1 weight with the size of axis 1 ([1024] here) but
    stores one value per output channel ([1, 10]). Paddle ignores the declared dims when it
    loads parameters; qlint's loader rejects the mismatch. Returns the names it changed.
    """
    dst = os.path.join(OUT, name)
    exe = paddle.static.Executor(paddle.CPUPlace())
    scope = paddle.static.Scope()
    changed = []
    with paddle.static.scope_guard(scope):
        program, _, _ = paddle.static.load_inference_model(os.path.join(dst, "model"), exe)
        dense = paddle.framework.core.VarDesc.VarType.LOD_TENSOR
        for var in program.list_vars():
            if not var.persistable or var.type != dense:
                continue
            found = scope.find_var(var.name)
            if found is None or not found.get_tensor()._is_initialized():
                continue
            stored = list(np.array(found.get_tensor()).shape)
            declared = list(var.shape)
            if declared != stored:
                var.desc.set_shape(stored)
                changed.append(f"{var.name}: {declared} -> {stored}")
    with open(os.path.join(dst, "model.pdmodel"), "wb") as f:
        f.write(program.desc.serialize_to_string())
    return sorted(set(changed))


def main():
    quantize(ConvHead, "paddle_ptq_4bit", weight_bits=4, activation_bits=4)
    quantize(TransposedWeights, "paddle_ptq_trans_y")
    print("declared dims aligned with the stored records:", align_declared_shapes("paddle_ptq_trans_y"))
    quantize(PrunedConv, "paddle_pruned_channel")
    print(f"paddle {paddle.__version__}: models written under {OUT}")


if __name__ == "__main__":
    main()
