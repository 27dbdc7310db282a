"""Write a Paddle static-graph training program with backward and SGD ops.

qlint rule QL102 reports training ops (`*_grad`, optimizer updates) left in a model
that is meant for inference. This script builds a one-conv net with a
loss, appends the backward pass and an SGD update with
`paddle.optimizer.SGD(...).minimize(loss)`, and writes the main program's
serialized ProgramDesc, so the test reads a file that real Paddle produced.

Usage (Paddle 2.6.2 from PyPI, Python 3.11):
  python3 -m venv /work/venv-paddle
  /work/venv-paddle/bin/pip install paddlepaddle==2.6.2 "numpy<2"
  /work/venv-paddle/bin/python testdata/gen/paddle_training_program.py

Output: testdata/generated/train_program/model.pdmodel (no parameter file: the
program is a test input for the graph, and its weights were never trained).
"""
import os
import sys

import paddle

OUT_DIR = os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "generated", "train_program")
)


def build_program():
    """Return the main program of a one-conv classifier with backward and SGD ops."""
    main = paddle.static.Program()
    startup = paddle.static.Program()
    with paddle.static.program_guard(main, startup):
        image = paddle.static.data(name="image", shape=[None, 3, 8, 8], dtype="float32")
        label = paddle.static.data(name="label", shape=[None, 1], dtype="int64")
        conv = paddle.static.nn.conv2d(image, num_filters=4, filter_size=3, padding=1)
        activation = paddle.nn.functional.relu(conv)
        pooled = paddle.nn.functional.adaptive_avg_pool2d(activation, 1)
        logits = paddle.static.nn.fc(paddle.flatten(pooled, 1), size=2)
        loss = paddle.mean(paddle.nn.functional.cross_entropy(logits, label))
        paddle.optimizer.SGD(learning_rate=0.01).minimize(loss)
    return main


def main():
    paddle.enable_static()
    paddle.seed(0)
    program = build_program()
    op_types = [op.type for op in program.global_block().ops]
    grads = sorted({t for t in op_types if t.endswith("_grad")})
    if "sgd" not in op_types or "conv2d_grad" not in op_types:
        sys.exit(f"expected sgd and conv2d_grad ops, got {sorted(set(op_types))}")
    # Call stacks contain this machine's paths and line numbers. Without them the
    # output is smaller and byte-identical across runs.
    for block in program.blocks:
        for op in block.ops:
            if op.desc.has_attr("op_callstack"):
                op.desc.remove_attr("op_callstack")
    os.makedirs(OUT_DIR, exist_ok=True)
    path = os.path.join(OUT_DIR, "model.pdmodel")
    with open(path, "wb") as f:
        f.write(program.desc.serialize_to_string())
    print(f"paddle {paddle.__version__}: wrote {path} ({os.path.getsize(path)} bytes)")
    print(f"{len(op_types)} ops; grad ops: {grads}; sgd ops: {op_types.count('sgd')}")


if __name__ == "__main__":
    main()
