"""Records real Trax's initializers, convolution, deconvolution and pooling.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_layers_conv_init.py [OUT_DIR]

It writes ``OUT_DIR/layers_conv_init.json.gz`` (default OUT_DIR:
``tests/testdata/trax_oracle/layers_conv_init/``; gzip without name or
mtime, so a rerun gives the same bytes). What it holds is described in that
folder's README.md:

* ``public_names``: per module, the public names it defines, with their
  parameter names;
* ``initializers``: each of Trax's 12 initializers called on a small shape
  with ``get_prng(seed)`` (``InitializerFromFile`` on a ``.npy`` file whose
  contents are recorded too);
* ``layers``: per layer expression (``tl = trax.layers``), its repr, arity,
  the weight tree after ``init(signature(x), rng=get_prng(0))``, the initial
  weights, ``layer(x)``, and the gradients of ``sum(layer(x) * cotangent)``
  with respect to the input and the weights (float inputs);
* ``errors``: what Trax raises for bad arguments and inputs.

Inputs and cotangents are ``RandomState(seed).randn`` in float32 (or small
integers), stored with the data.
"""

import gzip
import importlib
import inspect
import json
import pathlib
import sys
import tempfile

import jax
import numpy as np

from trax import layers as tl
from trax import shapes
from trax.fastmath import numpy as jnp
from trax.fastmath import random as trax_random

import oracle_common as oc  # this folder
from generate_layers import error_record  # this folder

DEFAULT_OUT = oc.HERE / "trax_oracle" / "layers_conv_init"
F32 = np.float32
FROM_FILE = np.array([[0.0, 0.1], [0.2, 0.3], [0.4, 0.5]])  # float64

# (expression, shape, seed): `expression(shape, get_prng(seed))`.
INITIALIZERS = [
    ("tl.RandomNormalInitializer()", (3, 4), 0),
    ("tl.RandomNormalInitializer(0.5)", (2, 3, 4), 1),
    ("tl.RandomUniformInitializer()", (3, 4), 0),
    ("tl.RandomUniformInitializer(0.1)", (5,), 2),
    ("tl.ScaledInitializer(-1, -2, 2.0, 'fan_out', 'uniform')", (3, 4), 0),
    ("tl.ScaledInitializer(0, 1, 0.5, 'fan_avg', 'normal')", (3, 4, 2), 3),
    ("tl.GlorotNormalInitializer()", (3, 4), 0),
    ("tl.GlorotNormalInitializer(3, 2)", (2, 2, 3, 4), 4),
    ("tl.GlorotUniformInitializer()", (3, 4), 0),
    ("tl.GlorotUniformInitializer(scale=2.0)", (4,), 5),
    ("tl.LeCunNormalInitializer()", (3, 4), 0),
    ("tl.LeCunUniformInitializer()", (4, 3), 6),
    ("tl.KaimingNormalInitializer()", (3, 4), 0),
    ("tl.KaimingNormalInitializer(param=0.2)", (2, 2, 3, 4), 7),
    ("tl.KaimingUniformInitializer()", (3, 4), 0),
    ("tl.KaimingUniformInitializer(param=0.1)", (4, 3), 8),
    ("tl.OrthogonalInitializer()", (3, 4), 0),
    ("tl.OrthogonalInitializer()", (4, 3), 9),
    ("tl.OrthogonalInitializer()", (2, 3, 4), 10),
    ("tl.OrthogonalInitializer()", (5,), 11),
    ("tl.OrthogonalInitializer(2.0)", (6, 6), 12),
    ("tl.AtariConvInit", (2, 2, 3, 4), 13),
    ("tl.InitializerFromFile(PATH)", FROM_FILE.shape, 0),
]
NONRECEPTIVE = ("tl.GlorotNormalInitializer()", (2, 3, 4), 14, 0)


def randn(shape, seed):
    return np.random.RandomState(seed).randn(*shape).astype(F32)


def ints(shape, seed):
    return np.random.RandomState(seed).randint(-9, 10, size=shape).astype(
        np.int32)


# (expression, input): float inputs also get their gradients recorded.
LAYERS = [
    ("tl.Conv(3, (2, 2))", randn((2, 4, 4, 2), 0)),
    ("tl.Conv(3, (2, 2), strides=(2, 1), padding='SAME', use_bias=False)",
     randn((2, 5, 4, 2), 1)),
    ("tl.Conv(2, (2, 2))", randn((2, 2, 3, 3, 2), 2)),
    ("tl.Conv(2, (2, 2), dimension_numbers=('NCHW', 'OIHW', 'NCHW'))",
     randn((2, 3, 4, 4), 3)),
    ("tl.Conv(4, (3,), dimension_numbers=('NWC', 'WIO', 'NWC'), "
     "kernel_initializer=tl.KaimingUniformInitializer())", randn((2, 5, 2), 4)),
    ("tl.CausalConv(3)", randn((2, 5, 2), 5)),
    ("tl.CausalConv(2, kernel_width=2, use_bias=False)", randn((2, 4, 3), 6)),
    ("tl.Conv1d(3, 2, stride=2, padding='SAME')", randn((2, 5, 2), 7)),
    ("tl.CausalDepthwiseConv()", randn((2, 5, 3), 8)),
    ("tl.CausalDepthwiseConv(kernel_size=2, "
     "kernel_initializer=tl.RandomNormalInitializer(0.5))", randn((2, 4, 2), 9)),
    ("tl.CausalDepthwiseConv(kernel_size=2, use_bfloat16=True)",
     randn((2, 3, 2), 23)),
    ("tl.ConvTranspose(3, (2, 2))", randn((2, 3, 3, 2), 10)),
    ("tl.ConvTranspose(2, (3, 3), strides=(2, 2), padding='SAME')",
     randn((1, 3, 3, 2), 11)),
    ("tl.ConvTranspose(2, (2, 2))", randn((2, 2, 3, 3, 2), 12)),
    ("tl.ConvTranspose(2, (2, 1), rhs_dilation=(2, 1), "
     "kernel_initialzer=tl.LeCunNormalInitializer())", randn((1, 3, 3, 2), 13)),
    ("tl.MaxPool()", randn((2, 4, 4, 2), 14)),
    ("tl.MaxPool(pool_size=(3,), strides=(3,), padding='SAME')",
     randn((2, 7, 2), 15)),
    ("tl.MaxPool(pool_size=(2, 2), strides=(2, 1))", ints((1, 4, 3, 2), 16)),
    ("tl.SumPool(pool_size=(2, 2), strides=(1, 2))", randn((2, 4, 4, 2), 17)),
    ("tl.SumPool(pool_size=(3,), strides=(2,), padding='SAME')",
     randn((2, 6, 2), 18)),
    ("tl.SumPool((2,))", ints((1, 5, 2), 19)),
    ("tl.AvgPool()", randn((2, 4, 4, 2), 20)),
    ("tl.AvgPool(pool_size=(3, 2), strides=(2, 2), padding='SAME')",
     randn((1, 5, 5, 2), 21)),
    ("tl.AvgPool((2,), padding='SAME')", ints((1, 5, 2), 22)),
]


def _bad_from_file(path):
    tl.InitializerFromFile(path)((2, 2), trax_random.get_prng(0))


def _init(layer_expr, shape):
    layer = eval(layer_expr)  # pylint: disable=eval-used
    layer.init(shapes.ShapeDtype(shape, np.float32))


def _call(layer_expr, x):
    eval(layer_expr)(x)  # pylint: disable=eval-used


def scaled(distribution, scale=1.0, mode="fan_in"):
    return tl.ScaledInitializer(-1, -2, scale, mode, distribution)


def errors(path):
    key = trax_random.get_prng(0)
    cases = [
        ("tl.ScaledInitializer(-1, -2, 0.0, 'fan_in', 'normal')",
         lambda: scaled("normal", scale=0.0)),
        ("tl.ScaledInitializer(-1, -2, 1.0, 'fan_x', 'normal')",
         lambda: scaled("normal", mode="fan_x")),
        ("tl.ScaledInitializer(-1, -2, 1.0, 'fan_in', 'cauchy')((3, 4), key)",
         lambda: scaled("cauchy")((3, 4), key)),
        ("tl.ScaledInitializer(-1, -2, 1.0, 'fan_in', 'truncated_normal')"
         "((3, 4), key)", lambda: scaled("truncated_normal")((3, 4), key)),
        ("tl.GlorotNormalInitializer()((), key)",
         lambda: tl.GlorotNormalInitializer()((), key)),
        ("tl.GlorotNormalInitializer(3, 2)((3, 4), key)",
         lambda: tl.GlorotNormalInitializer(3, 2)((3, 4), key)),
        ("tl.InitializerFromFile(<file of shape (3, 2)>)((2, 2), key)",
         lambda: _bad_from_file(path)),
        ("tl.Conv(2, (2, 2), dimension_numbers=('NCHW', 'OIHW', 'NCHW'))"
         ".init(ShapeDtype((2, 2, 3, 4, 4)))",
         lambda: _init("tl.Conv(2, (2, 2), dimension_numbers=('NCHW', "
                       "'OIHW', 'NCHW'))", (2, 2, 3, 4, 4))),
        ("tl.ConvTranspose(2, (2, 2), dimension_numbers=('NCHW', 'OIHW', "
         "'NCHW')).init(ShapeDtype((2, 2, 3, 4, 4)))",
         lambda: _init("tl.ConvTranspose(2, (2, 2), dimension_numbers=("
                       "'NCHW', 'OIHW', 'NCHW'))", (2, 2, 3, 4, 4))),
        ("tl.MaxPool(pool_size=[2, 2])(ones((1, 4, 4, 1)))",
         lambda: _call("tl.MaxPool(pool_size=[2, 2])",
                       np.ones((1, 4, 4, 1), F32))),
    ]
    return [error_record(case, call) for case, call in cases]


MODULES = ("initializers", "convolution", "deconvolution", "pooling")


def public_names():
    """Per module, the public names it defines and their parameter names."""
    out = {}
    for module_name in MODULES:
        module = importlib.import_module(f"trax.layers.{module_name}")
        out[module_name] = {
            name: list(inspect.signature(obj).parameters)
            for name, obj in sorted(vars(module).items())
            if not name.startswith("_") and callable(obj)
            and getattr(obj, "__module__", None) == module.__name__}
    return out


def array(x):
    """``oc.array``, with bfloat16 widened to float32 (exact) and noted."""
    x = np.asarray(x)
    if x.dtype.name == "bfloat16":
        return {**oc.array(x.astype(F32)), "trax_dtype": "bfloat16"}
    return oc.array(x)


def initializer_record(expr, shape, seed, path):
    f = eval(expr.replace("PATH", "path"))  # pylint: disable=eval-used
    value = f(shape, trax_random.get_prng(seed))
    return {"expr": expr, "shape": list(shape), "seed": seed,
            "value": array(value)}


def layer_record(expr, x):
    layer = eval(expr)  # pylint: disable=eval-used
    layer.init(shapes.signature(x), rng=trax_random.get_prng(0))
    weights, state = layer.weights, layer.state
    y = layer(x)
    record = {"expr": expr, "repr": str(layer), "n_in": layer.n_in,
              "n_out": layer.n_out, "input": array(x),
              "weights_typed": oc.tree_typed(weights),
              "weights": oc.nested(weights, array), "output": array(y)}
    if x.dtype != F32:
        return record
    cotangent = randn(np.shape(y), 1000)
    rng = layer.rng

    def loss(x, w):
        out, _ = layer.pure_fn(x, w, state, rng)
        return jnp.sum(out * cotangent)

    grad_x, grad_w = jax.grad(loss, argnums=(0, 1))(x, weights)
    record.update({"cotangent": array(cotangent), "grad_input": array(grad_x),
                   "grad_weights": oc.nested(grad_w, array)})
    return record


def oracle(tmp):
    path = str(pathlib.Path(tmp) / "params.npy")
    np.save(path, FROM_FILE)
    bad_path = str(pathlib.Path(tmp) / "params_3x2.npy")
    np.save(bad_path, np.zeros((3, 2), F32))
    expr, shape, seed, dims = NONRECEPTIVE
    nonreceptive = eval(expr)(shape, trax_random.get_prng(seed),  # pylint: disable=eval-used
                              nonreceptive_dims=dims)
    return {
        "description": "Real Trax's initializers, convolution, "
                       "deconvolution and pooling layers; see README.md.",
        "env": oc.env("generate_layers_conv_init.py"),
        "public_names": public_names(),
        "from_file_contents": oc.array(FROM_FILE),
        "initializers": [initializer_record(e, s, k, path)
                         for e, s, k in INITIALIZERS],
        "nonreceptive_dims": {"expr": expr, "shape": list(shape),
                              "seed": seed, "nonreceptive_dims": dims,
                              "value": array(nonreceptive)},
        "layers": [layer_record(e, x) for e, x in LAYERS],
        "errors": errors(bad_path),
    }


def write_json_gz(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(obj, indent=None, separators=(",", ":")) + "\n"
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                           compresslevel=9) as f:
            f.write(text.encode("utf-8"))
    print(f"[generate_layers_conv_init] wrote {path}", file=sys.stderr)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    out = pathlib.Path(argv[0]) if argv else DEFAULT_OUT
    assert not jax.config.jax_enable_x64
    with tempfile.TemporaryDirectory() as tmp:
        data = oracle(tmp)
    write_json_gz(out / "layers_conv_init.json.gz", data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
