"""Records real Trax's rnn, reversible, assert_shape and acceleration layers.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_layers_rnn_rev.py OUT

It writes ``OUT/trax_oracle/layers_rnn_rev/layers_rnn_rev.json.gz`` (gzip
with no name and mtime 0, so a rerun gives the same bytes). Each layer of
``LAYERS`` is built from its constructor expression (``tl =
trax.layers``), initialised with ``layer.init(signature(x),
rng=get_prng(0))`` and called as ``layer(x)``: repr, arity, weight and state
shapes, initial weights, outputs, and the gradients of ``sum(y * cot)``
(``cot`` from ``cotangent``) with respect to the weights and the float
inputs, through ``pure_fn`` with the layer's key after init. Reversible
layers add ``reverse`` of their outputs; ``ASSERTS`` records which shape
asserts pass and the errors of those that fail; ``ACCELERATION`` the device
helpers on this one-CPU machine.
"""

import argparse
import gzip
import json
import pathlib
import sys

import jax
import numpy as np

from trax import layers as tl
from trax import shapes
from trax.fastmath import numpy as jnp  # pylint: disable=unused-import
from trax.fastmath import random as trax_random

import oracle_common as oc  # this folder

F32 = np.float32


def ramp(shape, phase=0.0):
    """Deterministic float32 inputs in [-1, 1]."""
    n = int(np.prod(shape))
    return np.sin(np.arange(n, dtype=F32) * F32(0.37) + F32(phase)).astype(
        F32).reshape(shape)


def cotangent(shape):
    """The fixed output cotangent of the recorded gradients."""
    n = int(np.prod(shape))
    return np.cos(np.arange(n, dtype=F32) * F32(0.71)).astype(F32).reshape(
        shape)


# name -> (constructor, input); inputs are arrays or tuples of arrays.
LAYERS = {
    "lstm_cell": ("tl.LSTMCell(4)", (ramp((2, 3)), ramp((2, 8), 1.0))),
    "gru_cell": ("tl.GRUCell(4)", (ramp((2, 3)), ramp((2, 4), 1.0))),
    "conv_gru_cell": ("tl.ConvGRUCell(3, kernel_size=(3, 3))",
                      ramp((2, 4, 5, 3))),
    "general_gru_cell_dense": (
        "tl.GeneralGRUCell(lambda: tl.Dense(4), dropout_rate_c=0.0, "
        "sigmoid_bias=0.25)", ramp((3, 4))),
    "general_gru_cell_memory_hard": (
        "tl.GeneralGRUCell(lambda: tl.Dense(4), memory_transform_fn=lambda: "
        "tl.Dense(4), gate_nonlinearity=tl.HardSigmoid, "
        "candidate_nonlinearity=tl.HardTanh)", ramp((3, 4))),
    "inner_sru_cell": ("tl.InnerSRUCell()",
                       (ramp((2, 3)), ramp((2, 3), 1.0), ramp((2, 3), 2.0))),
    "scan_sru_cell": ("tl.ScanSRUCell('train')",
                      (ramp((2, 5, 3)), ramp((2, 5, 3), 1.0), ramp((2, 3), 2.0))),
    "make_zero_state_2": ("tl.MakeZeroState(depth_multiplier=2)",
                          ramp((2, 5, 3))),
    "lstm": ("tl.LSTM(4)", ramp((2, 5, 4))),
    "lstm_return_state": ("tl.LSTM(4, return_state=True)", ramp((2, 5, 4))),
    "lstm_initial_state": ("tl.LSTM(4, initial_state=True)",
                           (ramp((2, 5, 3)), ramp((2, 8), 1.0))),
    "gru": ("tl.GRU(3)", ramp((2, 5, 3))),
    "sru": ("tl.SRU(3)", ramp((2, 5, 3))),
    "sru_relu": ("tl.SRU(3, activation=tl.Relu())", ramp((2, 5, 3))),
    "reversible_swap": ("tl.ReversibleSwap()", (ramp((2, 3)), ramp((2, 3), 1))),
    "reversible_select": ("tl.ReversibleSelect([2, 0, 1])",
                          (ramp((2,)), ramp((3,), 1), ramp((4,), 2))),
    "reversible_concatenate_pair": ("tl.ReversibleConcatenatePair()",
                                    (ramp((2, 3)), ramp((2, 3), 1))),
    "reversible_reshape": ("tl.ReversibleReshape((2, 6), (2, 3, 2), n_in=2)",
                           (ramp((2, 6, 1)), ramp((2, 6, 2), 1))),
    "reversible_half_residual": (
        "tl.ReversibleHalfResidual(tl.Dense(3), tl.Relu())",
        (ramp((2, 3)), ramp((2, 3), 1))),
    "reversible_half_residual_attention": (
        "tl.ReversibleHalfResidual(tl.Dense(3), attention_layer=tl.Dense(3))",
        (ramp((2, 3)), ramp((2, 3), 1))),
    "reversible_serial": (
        "tl.ReversibleSerial(tl.ReversibleHalfResidual(tl.Dense(3), "
        "tl.Relu()), tl.ReversibleSwap(), tl.ReversibleHalfResidual("
        "tl.Dense(3)), tl.ReversibleSwap())",
        (ramp((2, 3)), ramp((2, 3), 1))),
    "assert_function_linked": ("tl.AssertFunction('ab->ba', tl.Fn('T', "
                               "lambda x: x.T))", ramp((2, 3))),
    "accelerate_dense": ("tl.Accelerate(tl.Dense(2))", ramp((3, 4))),
}

# (spec or specification, input shapes): AssertShape when there is no
# '->', else AssertFunction around a no-op Serial().
ASSERTS = [
    ("aba,ba", [(10, 5, 10), (5, 10)]),
    ("aba,ab", [(10, 5, 10), (5, 8)]),
    ("...22,...3", [(1, 2, 3, 2, 2), (1, 2, 3, 3)]),
    ("...a,...b", [(1, 2, 3, 7), (1, 2, 8)]),
    ("b..c,2", [(2, 3, 4, 5), (2,)]),
    ("ab,c", [(2, 3)]),
    ("ab->ba", [(2, 3)]),
    ("ab->ab", [(2, 3)]),
    ("aa->aa", [(3, 3)]),
    ("...c->...c", [(4, 5, 6)]),
]


def float_leaves_grad(layer, x, weights, state, rng):
    """Gradients of sum(y * cot) with respect to the weights and inputs."""
    def loss(x, w):
        y, _ = layer.pure_fn(x, w, state, rng)
        ys = y if isinstance(y, (tuple, list)) else (y,)
        return sum(jnp.sum(a * cotangent(a.shape)) for a in ys)
    return jax.grad(loss, argnums=(0, 1))(x, weights)


def value(x):
    if isinstance(x, (tuple, list)):
        return {"tuple": [value(t) for t in x]}
    return oc.array(x)


def layer_record(constructor, x):
    layer = eval(constructor)  # pylint: disable=eval-used
    record = {"constructor": constructor, "repr": str(layer),
              "n_in": layer.n_in, "n_out": layer.n_out, "name": layer.name,
              "input": value(x)}
    if isinstance(layer, tl.Accelerate):
        # Its init takes no rng: the sublayer's key is set first.
        layer.sublayer.init(shapes.signature(x), rng=trax_random.get_prng(0))
        layer.init(shapes.signature(x))
    else:
        layer.init(shapes.signature(x), rng=trax_random.get_prng(0))
    weights, state, rng = layer.weights, layer.state, layer.rng
    record.update({"weights_typed": oc.tree_typed(weights),
                   "state_typed": oc.tree_typed(state),
                   "weights": oc.nested(weights, oc.array),
                   "rng_after_init": oc.array(rng)})
    y = layer(x)
    record["output"] = value(y)
    record["state_after_call"] = oc.nested(layer.state, oc.array)
    x_grad, w_grad = float_leaves_grad(layer, x, weights, state, rng)
    record["grad_inputs"] = value(x_grad)
    record["grad_weights"] = oc.nested(w_grad, oc.array)
    if isinstance(layer, tl.ReversibleLayer):
        try:
            record["reverse"] = value(layer.reverse(
                y, weights, state, layer.state, rng=rng))
        except NotImplementedError as e:
            record["reverse_error"] = f"NotImplementedError: {e}"
        back_x, (back_x_grad, back_w_grad) = layer.reverse_and_grad(
            y, _cotangents(y), weights, state, layer.state, rng=rng)
        record["reverse_and_grad"] = {
            "inputs": value(back_x), "inputs_grad": value(back_x_grad),
            "weights_grad": oc.nested(back_w_grad, oc.array)}
    return record


def _cotangents(y):
    if isinstance(y, (tuple, list)):
        return tuple(cotangent(np.shape(a)) for a in y)
    return cotangent(np.shape(y))


def assert_record(spec, input_shapes):
    if "->" in spec:
        layer = tl.AssertFunction(spec, tl.Serial())
    else:
        layer = tl.AssertShape(spec)
    xs = [np.zeros(s, F32) for s in input_shapes]
    record = {"spec": spec, "input_shapes": [list(s) for s in input_shapes]}
    try:
        layer(xs if len(xs) > 1 else xs[0])
        record["passed"] = True
    except tl.LayerError as e:
        last = str(e).split("\n--------------------\n")[0].splitlines()[-1]
        # Drop the 'Defined at FILE:LINE' suffix (a path on this machine).
        record.update({"passed": False,
                       "underlying_error": last.split(" Defined at ")[0]})
    return record


def acceleration_json():
    x = ramp((4, 3))
    return {
        "reshape_by_device_2": value(tl.reshape_by_device(x, 2)),
        "reshape_by_device_3_error": _error(lambda: tl.reshape_by_device(x, 3)),
        "for_n_devices_1": value(tl.for_n_devices(x, 1)),
        "mean_or_pmean_1_axis0": value(tl.mean_or_pmean(1, x, axis=0)),
        "mean_or_pmean_1": value(tl.mean_or_pmean(1, x)),
        "local_device_count": jax.local_device_count(),
    }


def _error(call):
    try:
        call()
    except Exception as e:  # pylint: disable=broad-except
        return f"{type(e).__name__}: {e}"
    return None


def oracle_json():
    return {
        "description": "Real trax.layers rnn/reversible/assert_shape/"
                       "acceleration behaviour; see README.md.",
        "env": oc.env("generate_layers_rnn_rev.py"),
        "init_rng": "trax.fastmath.random.get_prng(0)",
        "gradient": "d/d(weights, inputs) of sum(y * cotangent(y.shape)) "
                    "through pure_fn with the layer's rng after init; "
                    "cotangent = cos(0.71 * arange(size)) as float32",
        "layers": {name: layer_record(c, x)
                   for name, (c, x) in LAYERS.items()},
        "asserts": [assert_record(s, shapes_) for s, shapes_ in ASSERTS],
        "acceleration": acceleration_json(),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=pathlib.Path,
                        help="output folder: files go to OUT/trax_oracle/...")
    args = parser.parse_args(argv)
    path = (args.out / "trax_oracle" / "layers_rnn_rev"
            / "layers_rnn_rev.json.gz")
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(oracle_json(), indent=None, ensure_ascii=False) + "\n"
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                           compresslevel=9) as f:
            f.write(text.encode("utf-8"))
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
