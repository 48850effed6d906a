"""Records real Trax's core and activation layers and core functions.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_layers_core.py OUT

It writes ``OUT/trax_oracle/layers_core/layers_core.json.gz`` and
``layers_core.npz``, byte for byte reproducible (gzip without name or
mtime, zip entries with a fixed time); with ``OUT`` = ``tests/testdata``
they replace the committed copies. See
``tests/testdata/trax_oracle/layers_core/README.md``.

Each case of ``LAYERS`` is built from its constructor expression (``tl =
trax.layers``, ``init = trax.layers.initializers``, ``jnp =
trax.fastmath.numpy``), initialised with ``init(signature(x),
rng=get_prng(0))`` and called as ``layer(x)`` (the layer's own key, i.e.
``get_prng(0)``): repr, arity, weight and state trees with their arrays,
the output, the state after the call, and the gradients of
``sum(output * cotangent(output))`` with respect to the weights and the
float inputs (``cotangent``: below). ``FUNCTIONS`` records the plain
functions of ``trax.layers.core``; ``ERRORS`` what Trax raises on misuse.
"""

import argparse
import contextlib
import io
import json
import pathlib
import re
import sys

import jax
import numpy as np

from trax import layers as tl
from trax import shapes
from trax.fastmath import numpy as jnp  # pylint: disable=unused-import
from trax.fastmath import random as trax_random
from trax.layers import initializers as init  # pylint: disable=unused-import

import oracle_common as oc  # this folder
from make_testdata import gzip_bytes, write_npz  # this folder

F32 = np.float32
# Kinks of the piecewise activations (0, +-1, -1 + 0) are included on
# purpose: which side of a tie a gradient takes is part of the numerics.
XA = np.array([[-3.0, -1.0, -0.5, 0.0, 0.25],
               [0.5, 1.0, 2.0, 4.5, -7.25]], F32)
XPOS = np.array([[0.25, 1.0, 2.5], [3.0, 0.5, 7.0]], F32)
X234 = np.arange(24, dtype=F32).reshape(2, 3, 4) / 7.0 - 1.5
XLC = np.array([[[0.5, -1.0], [2.0, 0.25], [-0.75, 1.5], [1.0, 0.0],
                 [-2.0, 0.5]]], F32)  # (1, 5, 2): batch, length, depth
IMG = np.arange(2 * 3 * 4, dtype=F32).reshape(2, 3, 4) / 10.0

ACTIVATIONS = ["Relu()", "ParametricRelu()", "ParametricRelu(a=.25)",
               "LeakyRelu()", "LeakyRelu(a=.125)", "Elu()", "Elu(a=.5)",
               "Selu()", "Gelu()", "FastGelu()", "Sigmoid()", "Tanh()",
               "HardSigmoid()", "HardTanh()", "Softplus()", "Exp()",
               "Swish()"]
# name -> (constructor, input or tuple of inputs)
LAYERS = {a.split("(")[0] + ("" if a.endswith("()") else "_args"):
          ("tl." + a, XA) for a in ACTIVATIONS}
LAYERS.update({
    "Relu_int32": ("tl.Relu()", np.array([-2, 0, 3], np.int32)),
    "Log": ("tl.Log()", XPOS),
    "ThresholdedLinearUnit": ("tl.ThresholdedLinearUnit()", XA),
    "Dense": ("tl.Dense(3)", X234),
    "Dense_nobias": ("tl.Dense(2, use_bias=False)", X234),
    "Embedding": ("tl.Embedding(7, 3)",
                  np.array([[0, 6, 2], [9, -1, 3]], np.int32)),
    "Dropout_train": ("tl.Dropout(rate=0.5)", X234),
    "Dropout_shared": ("tl.Dropout(rate=0.25, shared_axes=[1])", X234),
    "Dropout_eval": ("tl.Dropout(rate=0.5, mode='eval')", X234),
    "Weights_scalar": ("tl.Weights(init.RandomNormalInitializer())", ()),
    "Weights_shape": ("tl.Weights(init.GlorotUniformInitializer(), (3, 4))",
                      ()),
    "RandomUniform": ("tl.RandomUniform()", ()),
    "RandomUniform_range": ("tl.RandomUniform(1., 2., shape=(2, 5))", ()),
    "StopGradient": ("tl.StopGradient()", XA),
    "Negate": ("tl.Negate()", XA),
    "PrintShape": ("tl.PrintShape()", XA),
    "PrintShape_2": ("tl.PrintShape(n_in=2, msg='two')",
                     (XA, np.array([1, 2], np.int32))),
    "SummaryScalar": ("tl.SummaryScalar('test')", XA),
    "SummaryScalar_max": ("tl.SummaryScalar('top', jnp.max)", XA),
    "SummaryImage": ("tl.SummaryImage('img', 2, num_summaries=1)",
                     (IMG, IMG + 5.0)),
    "ThresholdToBinary": ("tl.ThresholdToBinary()", XA),
    "ThresholdToBinary_0": ("tl.ThresholdToBinary(threshold=0.)", XA),
    "ArgMax": ("tl.ArgMax()", XA),
    "ArgMax_0": ("tl.ArgMax(axis=0)", XA),
    "Flatten": ("tl.Flatten()", X234),
    "Flatten_2": ("tl.Flatten(n_axes_to_keep=2)", X234),
    "LogSoftmax": ("tl.LogSoftmax()", XA),
    "LogSoftmax_0": ("tl.LogSoftmax(axis=0)", XA),
    "Softmax": ("tl.Softmax()", XA),
    "LogSumExp": ("tl.LogSumExp()", XA),
    "ToFloat": ("tl.ToFloat()", np.array([[1, 2], [3, -4]], np.int32)),
    "Mean": ("tl.Mean()", X234),
    "Mean_keep": ("tl.Mean(axis=1, keepdims=True)", X234),
    "Sum": ("tl.Sum()", X234),
    "Sum_axis": ("tl.Sum(axis=-1, keepdims=True)", X234),
    "Min": ("tl.Min()", XA),
    "Max": ("tl.Max(axis=0)", XA),
    "LocallyConnected1d_valid": ("tl.LocallyConnected1d(4, 3)", XLC),
    "LocallyConnected1d_same": (
        "tl.LocallyConnected1d(3, 3, padding='SAME')", XLC),
    "LocallyConnected1d_wrap": (
        "tl.LocallyConnected1d(2, 5, padding='WRAP', use_bias=False)", XLC),
    "LocallyConnected1d_k1": ("tl.LocallyConnected1d(3, 1)", XLC[0]),
})

MU = np.array([[0.5, -1.0, 0.25], [1.0, 0.0, -0.5]], F32)
XG = np.array([[0.0, -0.5, 1.0], [2.0, 0.5, 0.0]], F32)
SIGMA = np.stack([np.diag([1.0, 2.0, 0.5]),
                  np.array([[2.0, 0.3, 0.0], [0.3, 1.0, 0.2],
                            [0.0, 0.2, 1.5]])]).astype(F32)
DIAG = np.array([[1.0, 2.0, 0.5], [0.25, 1.5, 3.0]], F32)
LOGP = np.log(np.array([[0.1, 0.2, 0.3, 0.4], [0.7, 0.1, 0.1, 0.1],
                        [0.25, 0.25, 0.25, 0.25]], F32))
# (call expression, arguments); ``np.random.seed(0)`` before each call.
FUNCTIONS = [
    ("tl.one_hot(a0, 5)", (np.array([2, 0, 4, 1], np.int32),)),
    ("tl.one_hot(a0, 3, dtype=jnp.int32)", (np.array([[0, 2], [1, 1]]),)),
    ("tl.log_softmax(a0)", (XA,)),
    ("tl.log_softmax(a0, axis=0)", (XA,)),
    ("tl.log_gaussian_pdf(a0, a1, a2)", (XG, MU, SIGMA)),
    ("tl.log_gaussian_diag_pdf(a0, a1, a2)", (XG, MU, DIAG)),
    ("tl.logsoftmax_sample(a0)", (LOGP,)),
    ("tl.logsoftmax_sample(a0, temperature=0.5)", (LOGP,)),
    ("tl.logsoftmax_sample(a0, temperature=0.0)", (LOGP,)),
]


def _call_dense_single_weight():
    layer = tl.Dense(2)
    layer.init(shapes.signature(XPOS))
    layer(XPOS, weights=np.ones((3, 2), F32))


def _call_lc_bad_padding():
    layer = tl.LocallyConnected1d(2, 3, padding='FULL')
    layer.init(shapes.signature(XLC))
    layer(XLC)


def _flatten_too_many():
    tl.Flatten(n_axes_to_keep=3)(X234)


ERRORS = [
    ("tl.Glu()", lambda: tl.Glu()),  # pylint: disable=unnecessary-lambda
    ("tl.multigaussian_loss(preds (2, 7), targets (2, 2), ngauss=1)",
     lambda: tl.multigaussian_loss(np.ones((2, 7), F32),
                                   np.ones((2, 2), F32))),
    ("tl.LocallyConnected1d(2, 4)  # even kernel size",
     lambda: tl.LocallyConnected1d(2, 4)),
    ("LocallyConnected1d(2, 3, padding='FULL') init + call",
     _call_lc_bad_padding),
    ("Dense(2) called with a single weight array", _call_dense_single_weight),
    ("tl.Flatten(n_axes_to_keep=3)(float32 (2, 3, 4))", _flatten_too_many),
]


def cotangent(shape):
    """The fixed output cotangent of the gradient records."""
    n = int(np.prod(shape))
    return (np.cos(np.arange(n, dtype=np.float64)) + 0.5).astype(
        F32).reshape(shape)


def flat(prefix, tree, out):
    """Adds the arrays of a tuple/list/dict tree to ``out`` under
    ``prefix.i.j`` / ``prefix.key`` names; returns its JSON skeleton."""
    if isinstance(tree, dict):
        return {"dict": {k: flat(f"{prefix}.{k}", v, out)
                         for k, v in sorted(tree.items())}}
    if isinstance(tree, (tuple, list)):
        kind = "tuple" if isinstance(tree, tuple) else "list"
        return {kind: [flat(f"{prefix}.{i}", t, out)
                       for i, t in enumerate(tree)]}
    a = np.asarray(tree)
    out[prefix] = a
    return {"array": prefix, "shape": list(a.shape), "dtype": a.dtype.name}


def _is_float(a):
    return np.issubdtype(np.asarray(a).dtype, np.floating)


def layer_record(name, constructor, x, arrays):
    layer = eval(constructor)  # pylint: disable=eval-used
    record = {"constructor": constructor, "repr": str(layer),
              "name": layer.name, "n_in": layer.n_in, "n_out": layer.n_out}
    record["input"] = flat(f"{name}.input", x, arrays)
    signature = shapes.signature(x)
    layer.init(signature, rng=trax_random.get_prng(0))
    record["weights"] = flat(f"{name}.weights", layer.weights, arrays)
    record["state"] = flat(f"{name}.state", layer.state, arrays)
    weights, state, rng = layer.weights, layer.state, layer.rng
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        y = layer(x)
    record["stdout"] = printed.getvalue()
    record["output"] = flat(f"{name}.output", y, arrays)
    record["state_after"] = flat(f"{name}.state_after", layer.state, arrays)
    outputs = y if isinstance(y, (tuple, list)) else (y,)
    if not all(_is_float(o) for o in outputs):
        return record
    float_inputs = [i for i, a in enumerate(x if layer.n_in != 1 else (x,))
                    if _is_float(a)] if layer.n_in else []

    def loss(w, *xs):
        full = list(x if layer.n_in != 1 else (x,))
        for i, xi in zip(float_inputs, xs):
            full[i] = xi
        inputs = tuple(full) if layer.n_in != 1 else full[0]
        out, _ = layer.pure_fn(inputs, w, state, rng)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        return sum(jnp.sum(o * cotangent(o.shape)) for o in outs)

    xs = [(x if layer.n_in != 1 else (x,))[i] for i in float_inputs]
    with contextlib.redirect_stdout(io.StringIO()):
        grads = jax.grad(loss, argnums=tuple(range(1 + len(xs))))(
            weights, *xs)
    record["grad_weights"] = flat(f"{name}.grad_weights", grads[0], arrays)
    record["grad_inputs"] = {str(i): flat(f"{name}.grad_inputs.{i}", g,
                                          arrays)
                             for i, g in zip(float_inputs, grads[1:])}
    return record


def function_record(index, call, args, arrays):
    env = {f"a{i}": a for i, a in enumerate(args)}
    env.update(tl=tl, jnp=jnp)
    np.random.seed(0)
    result = eval(call, env)  # pylint: disable=eval-used
    name = f"fn{index}"
    return {"call": call, "numpy_seed": 0,
            "args": [flat(f"{name}.arg{i}", a, arrays)
                     for i, a in enumerate(args)],
            "result": flat(f"{name}.result", result, arrays)}


def error_record(case, call):
    try:
        call()
    except Exception as e:  # pylint: disable=broad-except
        record = {"case": case, "error_type": type(e).__name__}
        if isinstance(e, tl.LayerError):
            # The underlying error closes the message, before JAX's note
            # on its filtered traceback; its text may span several lines.
            lines = str(e).split("\n--------------------\n")[0].splitlines()
            start = max(i for i, line in enumerate(lines)
                        if re.match(r"\w+: ", line))
            kind, _, message = "\n".join(lines[start:]).partition(": ")
            return {**record, "message_first_line": lines[0],
                    "underlying_error_type": kind,
                    "underlying_error_message": message}
        return {**record, "error_message": str(e)}
    return {"case": case, "error_type": None}


def build(out):
    arrays = {}
    layers = {name: layer_record(name, constructor, x, arrays)
              for name, (constructor, x) in LAYERS.items()}
    doc = {
        "description": "Real trax.layers core and activation layers; see "
                       "README.md in this folder.",
        "env": oc.env("generate_layers_core.py"),
        "init_rng": "trax.fastmath.random.get_prng(0)",
        "cotangent": "(cos(arange(n)) + 0.5) as float32, in the output's "
                     "shape",
        "layers": layers,
        "functions": [function_record(i, call, args, arrays)
                      for i, (call, args) in enumerate(FUNCTIONS)],
        "errors": [error_record(case, call) for case, call in ERRORS],
    }
    folder = out / "trax_oracle" / "layers_core"
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    (folder / "layers_core.json.gz").write_bytes(
        gzip_bytes(text.encode("utf-8")))
    write_npz(folder / "layers_core.npz", arrays)
    print(f"wrote {folder}", file=sys.stderr)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=pathlib.Path,
                        help="output folder: files go to "
                             "OUT/trax_oracle/layers_core/")
    build(parser.parse_args(argv).out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
