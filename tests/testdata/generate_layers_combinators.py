"""Records real Trax's combinators over small Dense/Fn sublayers.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_layers_combinators.py OUT

It writes ``OUT/trax_oracle/layers_combinators/combinators.json.gz``. Each case
of ``CASES`` is built from its constructor expression (``tl =
trax.layers``, ``jnp = trax.fastmath.numpy``), initialised with
``model.init(trax.shapes.signature(x), rng=get_prng(0))`` and called as
``model(x)`` once per input listed (the state carries over between calls).
Recorded: repr, name, n_in/n_out, the weight and state trees (typed, with
shapes), the initial weights (exact float32 values), each call's outputs and
the state after it, and the gradients of ``sum(outputs**2) / 2`` (over every
output) with respect to the weights at the first input, through
``model.pure_fn``. ``ERRORS``: what Trax raises on 6 misuses.
"""

import argparse
import gzip
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
X43 = (np.arange(12, dtype=F32).reshape(4, 3) - 5.5) / 4.0
X234 = np.sin(np.arange(24, dtype=F32)).reshape(2, 3, 4)
SEQ = np.cos(np.arange(30, dtype=F32) / 3.0).reshape(2, 5, 3)
POS, NEG = np.array(1.0, F32), np.array(-1.0, F32)

ADD_CARRY = ("tl.Fn('AddWithCarry', lambda x, c: (x + c, x + c), n_out=2)")
CELL = ("tl.Serial(tl.Parallel(tl.Dense(3), None), tl.Fn('AddCarry', "
        "lambda x, c: (jnp.tanh(x + c), x + c), n_out=2))")
POSITIVE = "tl.Fn('Positive', lambda p: p > 0)"
# An activation of our own: Trax's tl.Relu carries shape checks (AssertShape
# sublayers) that belong to another family's records.
RELU = "tl.Fn('Relu0', lambda x: jnp.maximum(x, 0.0))"
CUMSUM = ("tl.Serial(tl.Dense(3), tl.Fn('CumSum', "
          "lambda x: jnp.cumsum(x, axis=1)))")
# name -> (constructor, [inputs of successive calls])
CASES = {
    "cond_dense_true_false": (
        f"tl.Cond({POSITIVE}, tl.Dense(3), tl.Dense(3))",
        [(POS, X43), (NEG, X43)]),
    "cond_default_false": (
        f"tl.Cond({POSITIVE}, tl.Dense(3))", [(POS, X43), (NEG, X43)]),
    "cond_two_in_two_out": (
        "tl.Cond(tl.Fn('Less', lambda a, b: jnp.sum(a) < jnp.sum(b)), "
        "tl.Parallel(tl.Dense(2), tl.Dense(2)), tl.Parallel(tl.Dense(2), "
        f"tl.Serial({RELU}, tl.Dense(2))))",
        [(X43, X43 + 1.0, X43, X43 * 2.0), (X43 + 1.0, X43, X43, X43)]),
    "chunk_dense_2": ("tl.Chunk(tl.Dense(2), 2)", [X43]),
    "chunk_dense_3_unchunkable_passes": ("tl.Chunk(tl.Dense(2), 3)", [X43]),
    "chunk_size_0_is_the_layer": ("tl.Chunk(tl.Dense(2), 0)", [X43]),
    "cache_dense": ("tl.Cache(tl.Dense(2))", [X43, X43 * 3.0]),
    "gate": ("tl.Gate()", [(X43, np.tanh(X43) * 0.5 + 0.5, -X43)]),
    "flatten_list": ("tl.FlattenList()", [[[X43, (X43 + 1.0, [X43 * 2.0])]]]),
    "batch_leading_axes_dense": ("tl.BatchLeadingAxes(tl.Dense(2))", [X234]),
    "batch_leading_axes_keep2": (
        "tl.BatchLeadingAxes(tl.Serial(tl.Dense(2), tl.Fn('SumAxis1', "
        "lambda x: jnp.sum(x, axis=1))), n_last_axes_to_keep=2)",
        [X234[None]]),
    "bidirectional_dense_cumsum": (f"tl.Bidirectional({CUMSUM})", [SEQ]),
    "bidirectional_axis0_add": (
        f"tl.Bidirectional({CUMSUM}, axis=0, merge_layer=tl.Add())", [SEQ]),
    "bidirectional_gru": ("tl.Bidirectional(tl.GRU(n_units=3))", [SEQ]),
    "serial_with_side_outputs": (
        "tl.SerialWithSideOutputs([tl.Branch(tl.Dense(3), tl.Dense(2)), "
        "tl.Branch(tl.Dense(3), tl.Dense(1))])", [X43]),
    "serial_with_side_outputs_list": (
        "tl.SerialWithSideOutputs([tl.Parallel(tl.Dense(3), tl.Dense(2)), "
        "tl.Serial(tl.Dense(4), tl.Dup(), tl.Dup())], n_side_outputs=[1, 2])",
        [(X43, X43 * 2.0)]),
    "scan_dense_cell_axis1": (f"tl.Scan({CELL}, axis=1)",
                              [(SEQ, np.zeros((2, 3), F32))]),
    "scan_predict_add": (
        f"tl.Scan({ADD_CARRY}, axis=1, mode='predict')",
        [(SEQ, np.ones((2, 3), F32)), (SEQ[:, :2], np.zeros((2, 3), F32))]),
    "scan_no_carry_dense": ("tl.Scan(tl.Dense(2), n_carry=0)", [X234]),
    "serial_dense_relu_dense": (
        f"tl.Serial(tl.Dense(4), {RELU}, tl.Dense(2))", [X43]),
    "parallel_dense_none": ("tl.Parallel(tl.Dense(2), None, [tl.Dense(1)])",
                            [(X43, X43, X43)]),
    "branch_dense_none": ("tl.Branch(tl.Dense(2), None)", [X43]),
    "residual_dense_shortcut": (
        f"tl.Residual(tl.Dense(3), {RELU}, shortcut=tl.Dense(3))", [X43]),
    "split_3_axis0": ("tl.Split(n_items=2, axis=0)", [X43]),
    "concatenate_axis1": ("tl.Concatenate(axis=1)", [(X43, X43 * 2.0)]),
    "select_drop_dup_swap": (
        "tl.Serial(tl.Select([1, 0, 0], n_in=2), tl.Drop(), tl.Dup(), "
        "tl.Swap())", [(X43, X43 + 1.0)]),
    "add_subtract_multiply": (
        "tl.Serial(tl.Branch(tl.Add(), tl.SubtractTop()), tl.Multiply())",
        [(X43, X43 * 0.5 + 1.0)]),
}


def _cond_bad_n_out():
    tl.Cond(tl.Dup(), tl.Dense(2))


def _cond_bad_n_in():
    tl.Cond(tl.Fn("P", lambda p: p > 0), tl.Dense(2),
            tl.Fn("Two", lambda a, b: a + b))


def _cond_bad_n_out_branches():
    tl.Cond(tl.Fn("P", lambda p: p > 0), tl.Dense(2), tl.Dup())


def _cond_too_few_inputs():
    layer = tl.Cond(tl.Fn("P", lambda p: p > 0), tl.Dense(2))
    layer.init(shapes.signature((POS, X43)))
    layer(POS)


def _batch_leading_axes_two_outputs():
    tl.BatchLeadingAxes(tl.Dup())


def _chunk_undivided():
    layer = tl.Chunk(tl.Dense(2), 3, pass_unchunkable=False)
    layer.init(shapes.signature(X43))


ERRORS = {
    "cond_cond_n_out_2": _cond_bad_n_out,
    "cond_branches_n_in_differ": _cond_bad_n_in,
    "cond_branches_n_out_differ": _cond_bad_n_out_branches,
    "cond_too_few_inputs": _cond_too_few_inputs,
    "batch_leading_axes_n_out_2": _batch_leading_axes_two_outputs,
    "chunk_not_dividing_batch": _chunk_undivided,
}


def value(x):
    """Inputs/outputs: an array record, or {"tuple"|"list": [...]}."""
    if isinstance(x, tuple):
        return {"tuple": [value(t) for t in x]}
    if isinstance(x, list):
        return {"list": [value(t) for t in x]}
    return oc.array(x)


def tree(t):
    """A weight/state tree with its values: like ``value``, plus the cache
    markers as {"marker": "weights"|"state"}, () as null."""
    if isinstance(t, dict):
        return {"marker": "weights" if t == tl.GET_WEIGHTS_FROM_CACHE
                else "state"}
    if isinstance(t, (tuple, list)):
        if not t:
            return None
        return {type(t).__name__: [tree(s) for s in t]}
    return oc.array(t)


def signature(x):
    if isinstance(x, list):  # FlattenList's nested input
        return shapes.signature(x[0][0])
    return shapes.signature(x)


def _sum_squares(outputs):
    return sum(jnp.sum(y.astype(jnp.float32) ** 2)
               for y in jax.tree_util.tree_leaves(outputs)) / 2.0


def case_record(constructor, inputs):
    model = eval(constructor)  # pylint: disable=eval-used
    record = {"constructor": constructor, "repr": str(model),
              "name": model.name, "n_in": model.n_in, "n_out": model.n_out}
    model.init(signature(inputs[0]), rng=trax_random.get_prng(0))
    weights, state = model.weights, model.state
    record.update({"weights": tree(weights), "state": tree(state)})
    if jax.tree_util.tree_leaves(weights):
        rng = model.rng

        def loss(w):
            outputs, _ = model.pure_fn(inputs[0], w, state, rng)
            return _sum_squares(outputs)

        record["grad_of_half_sum_squares"] = tree(jax.grad(loss)(weights))
    calls = []
    for x in inputs:
        out = model(x)
        calls.append({"input": value(x), "output": value(out),
                      "state_after": tree(model.state)})
    record["calls"] = calls
    return record


def error_record(call):
    try:
        call()
    except Exception as e:  # pylint: disable=broad-except
        record = {"error_type": type(e).__name__}
        if isinstance(e, tl.LayerError):
            lines = str(e).split("\n--------------------\n")[0].splitlines()
            kind, _, message = lines[-1].partition(": ")
            return {**record, "underlying_error_type": kind,
                    "underlying_error_message": message}
        return {**record, "error_message": str(e)}
    return {"raised": False}


def combinators_json():
    return {
        "description": "Real trax.layers combinators; see README.md.",
        "env": oc.env("generate_layers_combinators.py"),
        "init_rng": "trax.fastmath.random.get_prng(0)",
        "gradient": "jax.grad of sum(outputs**2)/2 through model.pure_fn("
                    "first input, weights, initial state, model.rng)",
        "cases": {name: case_record(constructor, inputs)
                  for name, (constructor, inputs) in CASES.items()},
        "errors": {name: error_record(call) for name, call in ERRORS.items()},
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=pathlib.Path,
                        help="output folder: files go to OUT/trax_oracle/...")
    args = parser.parse_args(argv)
    path = args.out / "trax_oracle" / "layers_combinators" / "combinators.json"
    oc.write_json(path, combinators_json())
    # Stored gzipped, reproducibly (no name, mtime 0); the tests read .gz.
    with open(path, "rb") as f, open(str(path) + ".gz", "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                          compresslevel=9) as gz:
        gz.write(f.read())
    path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
