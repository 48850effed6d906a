"""Records real Trax's normalization and metric layers.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_layers_norm_metrics.py [OUT]

It writes ``OUT/layers_norm_metrics.json.gz`` (default OUT:
``tests/testdata/trax_oracle/layers_norm_metrics``; gzip without name or
mtime, so the bytes are reproducible). The folder's README.md describes the
fields. Inputs, weights and cotangents come from NumPy's legacy
``RandomState`` with fixed seeds, so they are the same on every run.

Per normalization case (``NORM``): repr, arity, weight and state trees,
the initial weights and state (``init`` with ``get_prng(0)``), the output
with them; then, with the weights replaced by random ones of the same
shapes: the output, the state after the call, the gradients of
``sum(output * cotangent)`` with respect to the input and the weights
(``jax.grad`` through ``pure_fn``). ``BatchNorm`` cases also record a
second call in train mode and an eval-mode twin run on the trained state.
Per metric case (``METRICS``): repr, arity, inputs, value and its gradient
with respect to the first input. ``ERRORS``: what Trax raises on misuse.
"""

import argparse
import pathlib
import sys

import jax
import numpy as np

from trax import layers as tl
from trax import shapes
from trax.fastmath import random as trax_random

import oracle_common as oc  # this folder

HERE = pathlib.Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "trax_oracle" / "layers_norm_metrics"
F32 = np.float32


def randn(seed, *shape, scale=1.0, offset=0.0):
    return (offset + scale * np.random.RandomState(seed).randn(*shape)).astype(
        F32)


# name -> (constructor, input, eval-mode constructor or None).
NORM = {
    "batchnorm_default_nhwc": (
        "tl.BatchNorm()", randn(1, 2, 3, 2, 4, scale=2.0, offset=0.5),
        "tl.BatchNorm(mode='eval')"),
    "batchnorm_axis0_momentum09": (
        "tl.BatchNorm(axis=(0,), momentum=0.9)", randn(2, 5, 3, offset=1.0),
        "tl.BatchNorm(axis=(0,), momentum=0.9, mode='eval')"),
    "batchnorm_axes01_eps": (
        "tl.BatchNorm(axis=(0, 1), epsilon=1e-3)", randn(3, 4, 3, 2), None),
    "batchnorm_axes02_momentum05": (
        "tl.BatchNorm(axis=(0, 2), momentum=0.5)", randn(4, 3, 2, 5), None),
    "layernorm_default": ("tl.LayerNorm()", randn(6, 2, 3, 5), None),
    "layernorm_no_center_eps": ("tl.LayerNorm(center=False, epsilon=1e-2)",
                                randn(7, 4, 6, offset=2.0), None),
    "frn_default": ("tl.FilterResponseNorm()", randn(8, 2, 3, 3, 4), None),
    "frn_learn_epsilon": ("tl.FilterResponseNorm(learn_epsilon=True)",
                          randn(9, 2, 2, 3, 3), None),
    "frn_learn_epsilon_custom": (
        "tl.FilterResponseNorm(mode='eval', learn_epsilon=True, "
        "init_epsilon=1e-3, init_learnt_epsilon=0.5)",
        randn(10, 3, 4, 2, scale=0.1), None),
}

LOGITS = randn(20, 5, 4)
LABELS = np.array([0, 3, 1, 1, 2], np.int32)
WEIGHTS = np.array([1.0, 0.5, 2.0, 0.0, 1.0], F32)
SEQ_LOGITS = randn(21, 3, 4, 2)
# The argmax, changed at a masked position of sequence 0 (still right) and
# an unmasked one of sequence 1 (wrong); sequence 2 is right.
SEQ_LABELS = np.argmax(SEQ_LOGITS, axis=-1).astype(np.int32)
SEQ_LABELS[0, 3] = 1 - SEQ_LABELS[0, 3]
SEQ_LABELS[1, 2] = 1 - SEQ_LABELS[1, 2]
SEQ_WEIGHTS = np.array([[1, 1, 1, 0], [1, 1, 1, 1], [1, 0, 0, 0]], F32)
BINARY_LOGITS = np.array([9.0, 1.0, -1.0, -0.5, 2.5, -9.0], F32)
BINARY_TARGETS = np.array([1, 1, 0, 1, 0, 0], np.int32)
PROBS = np.array([[0.9], [0.2], [0.6], [0.35]], F32)
PROB_TARGETS = np.array([[1.0], [0.0], [0.0], [1.0]], F32)
PROB_WEIGHTS = np.array([[1.0], [2.0], [0.5], [1.0]], F32)
# Predictions 1, 1, 2, 1, 1 (Trax's own F-score example), then one more.
F_OUTPUT = np.eye(4, dtype=F32)[[1, 1, 2, 1, 1, 0]]
F_TARGETS = np.array([1, 2, 2, 3, 1, 0], np.int32)
REGRESSION = (randn(22, 3, 4, scale=1.5), randn(23, 3, 4),
              np.abs(randn(24, 3, 4)))
LOG_PROBS = "log_probs"  # stands for tl.LogSoftmax()(LOGITS)
WEIGHTED = (LOGITS, LABELS, WEIGHTS)
SEQ = (SEQ_LOGITS, SEQ_LABELS, SEQ_WEIGHTS)
# (layer expression, inputs), in the recorded order.
METRICS = [
    ("tl.CategoryAccuracy()", (LOGITS, LABELS)),
    ("tl.WeightedCategoryAccuracy()", WEIGHTED),
    ("tl.CategoryCrossEntropy()", (LOGITS, LABELS)),
    ("tl.CategoryCrossEntropy(label_smoothing=0.2)", (LOGITS, LABELS)),
    ("tl.WeightedCategoryCrossEntropy()", WEIGHTED),
    ("tl.WeightedCategoryCrossEntropy(label_smoothing=0.1, cutoff=1.0)",
     WEIGHTED),
    ("tl.WeightedCategoryCrossEntropy(cutoff=-1.0)", WEIGHTED),
    ("tl.WeightedCategoryCrossEntropy()", SEQ),
    ("tl.BinaryCrossEntropy()", (BINARY_LOGITS, BINARY_TARGETS)),
    ("tl.MaskedSequenceAccuracy()", SEQ),
    ("tl.Accuracy()", WEIGHTED),
    ("tl.Accuracy(classifier=tl.ArgMax(axis=-1))", SEQ),
    ("tl.SequenceAccuracy()", SEQ),
    ("tl.CrossEntropyLoss()", (LOG_PROBS, LABELS, WEIGHTS)),
    ("tl.CrossEntropyLossWithLogSoftmax()", WEIGHTED),
    ("tl.CrossEntropyLossWithLogSoftmax()", SEQ),
    ("tl.BinaryCrossEntropyLoss()", (PROBS, PROB_TARGETS, PROB_WEIGHTS)),
    ("tl.L2Loss()", REGRESSION),
    ("tl.SmoothL1Loss()", REGRESSION),
    ("tl.MacroAveragedFScore()", (F_OUTPUT, F_TARGETS)),
    ("tl.MacroAveragedFScore(beta=2.0, initial_category_index=1)",
     (F_OUTPUT, F_TARGETS)),
    ("tl.MacroAveragedFScore()", (LOGITS, LABELS)),
    ("tl.WeightedFScore()", (F_OUTPUT, F_TARGETS)),
    ("tl.WeightedFScore(beta=0.5, initial_category_index=1)",
     (F_OUTPUT, F_TARGETS)),
    ("tl.WeightedSum()", (REGRESSION[0], REGRESSION[2])),
    ("tl.CrossEntropySum()", (LOG_PROBS, LABELS, WEIGHTS)),
    ("tl.BinaryCrossEntropySum()", (PROBS, PROB_TARGETS, PROB_WEIGHTS)),
]


def _batchnorm_bfloat16():
    layer = tl.BatchNorm()
    x = np.ones((2, 2, 2, 3), jax.numpy.bfloat16)
    layer.init(shapes.signature(x))
    layer(x)


def _batchnorm_without(**kwargs):
    def call():
        layer = tl.BatchNorm(**kwargs)
        x = randn(5, 2, 2, 3, 2)
        layer.init(shapes.signature(x))
        layer(x)
    return call


def _category_accuracy_bad_targets():
    tl.CategoryAccuracy()((LOGITS, LABELS[:3]))


def _l2_bad_weights():
    tl.L2Loss()((REGRESSION[0], REGRESSION[1], REGRESSION[2][:, :2]))


def _frn_zero_epsilon():
    tl.FilterResponseNorm(init_epsilon=0.0)


ERRORS = [
    ("tl.BatchNorm() on bfloat16 (2, 2, 2, 3)", _batchnorm_bfloat16),
    # Trax's forward indexes the () that stands for a switched-off weight.
    ("tl.BatchNorm(center=False) on (2, 2, 3, 2)",
     _batchnorm_without(center=False)),
    ("tl.BatchNorm(scale=False) on (2, 2, 3, 2)",
     _batchnorm_without(scale=False)),
    ("tl.CategoryAccuracy() with logits (5, 4) and targets (3,)",
     _category_accuracy_bad_targets),
    ("tl.L2Loss() with weights (3, 2) for outputs (3, 4)", _l2_bad_weights),
    ("tl.FilterResponseNorm(init_epsilon=0.0)", _frn_zero_epsilon),
]


def tree(x):
    return oc.nested(x, oc.array)


def random_like(weights, seed):
    """Weights of the same tree and shapes, drawn from RandomState(seed)."""
    rng = np.random.RandomState(seed)

    def draw(w):
        if isinstance(w, (tuple, list)):
            return tuple(draw(t) for t in w)
        return np.asarray(0.5 + rng.rand(*np.shape(w)),
                          np.asarray(w).dtype)
    return draw(weights)


def forward_and_grads(layer, x, weights, state, cotangent):
    rng = trax_random.get_prng(0)

    def objective(x, weights):
        y, _ = layer.pure_fn(x, weights, state, rng)
        return (y * cotangent).sum()
    y, new_state = layer.pure_fn(x, weights, state, rng)
    grad_x, grad_w = jax.grad(objective, argnums=(0, 1))(x, weights)
    return y, new_state, grad_x, grad_w


def norm_record(seed, constructor, x, eval_constructor):
    layer = eval(constructor)  # pylint: disable=eval-used
    signature = shapes.signature(x)
    layer.init(signature, rng=trax_random.get_prng(0))
    init_weights, init_state = layer.weights, layer.state
    record = {"constructor": constructor, "repr": str(layer),
              "n_in": layer.n_in, "n_out": layer.n_out,
              "init_rng": "trax.fastmath.random.get_prng(0)",
              "input": oc.array(x),
              "weights_typed": oc.tree_typed(init_weights),
              "state_typed": oc.tree_typed(init_state),
              "init_weights": tree(init_weights),
              "init_state": tree(init_state),
              "output_with_init_weights": oc.array(
                  layer.pure_fn(x, init_weights, init_state,
                                trax_random.get_prng(0))[0])}
    weights = random_like(init_weights, 100 + seed)
    y0 = layer.pure_fn(x, weights, init_state, trax_random.get_prng(0))[0]
    cotangent = randn(200 + seed, *np.shape(y0))
    y, new_state, grad_x, grad_w = forward_and_grads(
        layer, x, weights, init_state, cotangent)
    record.update({"weights": tree(weights), "cotangent": oc.array(cotangent),
                   "output": oc.array(y), "state_after": tree(new_state),
                   "grad_input": oc.array(grad_x),
                   "grad_weights": tree(grad_w)})
    if constructor.startswith("tl.BatchNorm("):
        x2 = randn(300 + seed, *x.shape, scale=3.0, offset=-1.0)
        y2, state2 = layer.pure_fn(x2, weights, new_state,
                                   trax_random.get_prng(0))
        record["second_call"] = {"input": oc.array(x2), "output": oc.array(y2),
                                 "state_after": tree(state2)}
    if eval_constructor:
        eval_layer = eval(eval_constructor)  # pylint: disable=eval-used
        eval_layer.init(signature, rng=trax_random.get_prng(0))
        ye, state_e, grad_xe, grad_we = forward_and_grads(
            eval_layer, x, weights, new_state, cotangent)
        record["eval_mode"] = {
            "constructor": eval_constructor, "repr": str(eval_layer),
            "note": "weights, input and cotangent as above; state = the "
                    "train-mode state_after",
            "output": oc.array(ye), "state_after": tree(state_e),
            "grad_input": oc.array(grad_xe), "grad_weights": tree(grad_we)}
    return record


def metric_record(layer_expr, inputs):
    metric = eval(layer_expr)  # pylint: disable=eval-used
    if inputs[0] is LOG_PROBS:
        inputs = (np.asarray(tl.LogSoftmax()(LOGITS)),) + inputs[1:]
    rng = trax_random.get_prng(0)

    def value(first):
        return metric.pure_fn((first,) + tuple(inputs[1:]), metric.weights,
                              metric.state, rng)[0]
    return {"layer": layer_expr, "repr": str(metric), "n_in": metric.n_in,
            "n_out": metric.n_out, "inputs": [oc.array(a) for a in inputs],
            "value": oc.array(metric(inputs)),
            "grad_first_input": oc.array(jax.grad(value)(inputs[0]))}


def error_record(case, call):
    try:
        call()
    except Exception as e:  # pylint: disable=broad-except
        record = {"case": case, "error_type": type(e).__name__}
        if isinstance(e, tl.LayerError):
            # The header names files; the underlying error is the last line
            # (before any note JAX appends after a dashed line).
            last = str(e).split("\n--------------------\n")[0].splitlines()[-1]
            kind, _, message = last.partition(": ")
            return {**record, "underlying_error_type": kind,
                    "underlying_error_message": message}
        return {**record, "error_message": str(e)}
    return {"case": case, "error_type": None}


def data():
    return {
        "description": "Real trax.layers normalization and metric layers; "
                       "see README.md.",
        "env": oc.env("generate_layers_norm_metrics.py"),
        "norm": {name: norm_record(seed, *case)
                 for seed, (name, case) in enumerate(NORM.items())},
        "metrics": [metric_record(layer, inputs)
                    for layer, inputs in METRICS],
        "errors": [error_record(case, call) for case, call in ERRORS],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=pathlib.Path, nargs="?",
                        default=DEFAULT_OUT,
                        help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)
    assert not jax.config.jax_enable_x64
    oc.write_json_gz(args.out / "layers_norm_metrics.json.gz", data())
    return 0


if __name__ == "__main__":
    sys.exit(main())
