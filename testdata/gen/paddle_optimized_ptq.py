"""Quantize the convnet float program after Paddle optimized it, for rules QL105 and QL108.

Two real ways to quantize an optimized program, each run in its own process because Paddle's
unique-name counters change tensor names when several models are saved in one process:

ptq_optimize_model
    PostTrainingQuantization(onnx_format=True, optimize_model=True, is_full_quantize=False).
    With is_full_quantize=True the same call aborts on any model with batch norm: the
    `elementwise_add` that conv_bn_fuse_pass writes has no `op_role` attribute, and
    AddQuantDequantPassV2 reads it ("Attribute op_role is not found"). The script tries that
    call first and prints the error. With is_full_quantize=False that add is not quantized, so
    the run finishes and writes batch norm folded into each conv: QL105.
ptq_after_inference_opt
    Paddle Inference (CPU, IR optimization on, the default) saves its optimized program
    (`enable_save_optim_model`), which contains `fused_conv2d` and `fc`. PostTrainingQuantization
    (onnx_format=True, is_full_quantize=True, optimize_model=False) then quantizes that program
    and leaves the fused ops float: QL105. Paddle2ONNX 1.3.1 has no converter for either op:
    QL108. When the `paddle2onnx` command is installed, the script runs it on the result and
    keeps its error lines in `p2o131.error.txt`.

Usage (Paddle 2.6.2 and Paddle2ONNX 1.3.1 from PyPI, Python 3.11):
  /work/venv-paddle/bin/pip install paddlepaddle==2.6.2 "numpy<2" paddle2onnx==1.3.1
  /work/venv-paddle/bin/python testdata/gen/paddle_optimized_ptq.py

Input: testdata/corpus/convnet/pd331-float (4 Conv + BatchNorm + ReLU, max pool, FC; saved by
Paddle 3.3.1 as a ProgramDesc, which Paddle 2.6.2 reads).
Output: testdata/generated/<name>/model.pdmodel + model.pdiparams.
"""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import paddle

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.path.normpath(os.path.join(HERE, ".."))
FLOAT_MODEL = os.path.join(TESTDATA, "corpus", "convnet", "pd331-float")
MODEL_FILES = {"model_filename": "model.pdmodel", "params_filename": "model.pdiparams"}


class CalibrationLoader(paddle.io.DataLoader):
    """Yields 8 feed dicts of uniform [-1, 1] data (seed 123). PTQ in Paddle 2.6.2 accepts
    only a `paddle.io.DataLoader`, so this subclass skips the base initializer on purpose."""

    def __init__(self):  # noqa: D107
        self.batches = 8

    def __iter__(self):
        rng = np.random.RandomState(123)
        for _ in range(self.batches):
            yield {"x": rng.uniform(-1, 1, size=(1, 3, 32, 32)).astype("float32")}

    def __call__(self):
        return self.__iter__()

    def __len__(self):
        return self.batches


def quantize(model_dir, out_dir, **options):
    """Run PostTrainingQuantization on `model_dir` and save the result in `out_dir`."""
    from paddle.static.quantization import PostTrainingQuantization

    paddle.enable_static()
    executor = paddle.static.Executor(paddle.CPUPlace())
    scope = paddle.static.Scope()
    with paddle.static.scope_guard(scope):
        ptq = PostTrainingQuantization(
            executor=executor, scope=scope, model_dir=model_dir, data_loader=CalibrationLoader(),
            algo="hist", batch_nums=8, onnx_format=True, **MODEL_FILES, **options)
        ptq.quantize()
        ptq.save_quantized_model(out_dir, **MODEL_FILES)


def optimize_for_inference(model_dir, out_dir):
    """Let Paddle Inference optimize `model_dir` and copy its saved program to `out_dir`."""
    import paddle.inference as inference

    cache = tempfile.mkdtemp(prefix="qlint-optim-")
    config = inference.Config(os.path.join(model_dir, "model.pdmodel"),
                              os.path.join(model_dir, "model.pdiparams"))
    config.disable_gpu()
    config.switch_ir_optim(True)
    config.enable_save_optim_model(True)
    config.set_optim_cache_dir(cache)
    predictor = inference.create_predictor(config)
    handle = predictor.get_input_handle(predictor.get_input_names()[0])
    handle.copy_from_cpu(np.zeros((1, 3, 32, 32), dtype="float32"))
    predictor.run()
    os.makedirs(out_dir, exist_ok=True)
    shutil.copy(os.path.join(cache, "_optimized.pdmodel"), os.path.join(out_dir, "model.pdmodel"))
    shutil.copy(os.path.join(cache, "_optimized.pdiparams"),
                os.path.join(out_dir, "model.pdiparams"))
    shutil.rmtree(cache)


def make_optimize_model(out_dir):
    try:
        with tempfile.TemporaryDirectory() as scratch:
            quantize(FLOAT_MODEL, scratch, optimize_model=True, is_full_quantize=True)
        print("optimize_model=True with is_full_quantize=True unexpectedly succeeded")
    except RuntimeError as error:
        print("optimize_model=True with is_full_quantize=True failed as expected:",
              str(error).splitlines()[0])
    quantize(FLOAT_MODEL, out_dir, optimize_model=True, is_full_quantize=False)


def make_after_inference_opt(out_dir):
    with tempfile.TemporaryDirectory() as optimized:
        optimize_for_inference(FLOAT_MODEL, optimized)
        quantize(optimized, out_dir, optimize_model=False, is_full_quantize=True)
    export_errors(out_dir)


def export_errors(model_dir):
    """Run Paddle2ONNX 1.3.1 on `model_dir` and keep its error lines in p2o131.error.txt."""
    command = shutil.which("paddle2onnx") or os.path.join(os.path.dirname(sys.executable),
                                                          "paddle2onnx")
    if not os.path.exists(command):
        print("paddle2onnx not installed; p2o131.error.txt not written")
        return
    with tempfile.TemporaryDirectory() as scratch:
        result = subprocess.run(
            [command, "--model_dir", model_dir, "--model_filename", "model.pdmodel",
             "--params_filename", "model.pdiparams",
             "--save_file", os.path.join(scratch, "model.onnx")],
            capture_output=True, text=True, check=False)
    lines = [line for line in (result.stdout + result.stderr).splitlines()
             if "Oops" in line or line.startswith("[ERROR]")]
    with open(os.path.join(model_dir, "p2o131.error.txt"), "w") as f:
        f.write(f"exit status {result.returncode}\n" + "\n".join(lines) + "\n")


MAKERS = {"ptq_optimize_model": make_optimize_model,
          "ptq_after_inference_opt": make_after_inference_opt}


def main():
    if len(sys.argv) == 2 and sys.argv[1] in MAKERS:
        name = sys.argv[1]
        out_dir = os.path.join(TESTDATA, "generated", name)
        shutil.rmtree(out_dir, ignore_errors=True)
        MAKERS[name](out_dir)
        print("wrote", out_dir, sorted(os.listdir(out_dir)))
        return
    for name in MAKERS:
        subprocess.run([sys.executable, os.path.abspath(__file__), name], check=True)


if __name__ == "__main__":
    main()
