"""Records real Trax's layers: 13 small models, 13 metric cases, 5 errors.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_layers.py OUT

It writes ``OUT/trax_oracle/layers.json`` (``make_testdata.py`` gzips it;
README.md describes the fields). Each model of ``MODELS`` is built from its
constructor expression (``tl = trax.layers``, ``jnp =
trax.fastmath.numpy``) and initialised with
``model.init(trax.shapes.signature(x), rng=get_prng(0))``: repr, arity,
weight and state trees, weight counts, and for a-j the initial weights and
``model(x)``. ``METRICS``: each metric layer's value on fixed inputs.
``ERRORS``: what Trax raises in 5 misuses (for a ``LayerError`` only its
header lines and the underlying error, its last line).
"""

import argparse
import pathlib
import sys

import numpy as np

from trax import layers as tl
from trax import shapes
from trax.fastmath import numpy as jnp  # pylint: disable=unused-import
from trax.fastmath import random as trax_random

import oracle_common as oc  # this folder

INIT_RNG = "trax.fastmath.random.get_prng(0)"
CALL = "model(x)  # default rng = the layer rng set by init (get_prng(0))"
F32 = np.float32
X23 = np.array([[-1.0, 0.5, 2.0], [3.0, -0.25, 0.0]], F32)
SEED_IDS = np.array([[1, 2, 3, 4, 5, 0, 0], [10, 20, 30, 40, 49, 7, 0]],
                    np.int32)
CNN = ("tl.Serial(tl.ToFloat(), tl.Conv(32, (3, 3), (1, 1), 'SAME'), "
       "tl.LayerNorm(), tl.Relu(), tl.MaxPool(), tl.Conv(64, (3, 3), (1, 1), "
       "'SAME'), tl.LayerNorm(), tl.Relu(), tl.MaxPool(), tl.Flatten(), "
       "tl.Dense(10))")
RNN_LM = ("tl.Serial(tl.ShiftRight(mode='train'), tl.Embedding(vocab_size="
          "256, d_feature=16), tl.{rnn}(n_units=16), tl.Dense(n_units=256), "
          "tl.LogSoftmax())")
DROPOUT = "tl.Serial(tl.Embedding(20, 8), tl.Dropout(0.5{mode}), " \
          "tl.Mean(axis=1))"
# name -> (constructor, input); an input given as (shape, dtype) is all
# zeros, and only the output's shape and dtype are recorded.
MODELS = {
    "a_seed_model_v50_d4": (
        "tl.Serial(tl.Embedding(vocab_size=50, d_feature=4), tl.Mean(axis=1),"
        " tl.Dense(2), tl.LogSoftmax())", SEED_IDS),
    "b_relu_layernorm": ("tl.Serial(tl.Relu(), tl.LayerNorm())", X23),
    "c_branch_relu_times100": (
        "tl.Branch(tl.Relu(), tl.Fn('Times100', lambda x: x * 100.0))", X23),
    "d_dense_dup_parallel": (
        "tl.Serial(tl.Dense(3), tl.Dup(), tl.Parallel(tl.Relu(), "
        "tl.Dense(2)))",
        np.array([[0.1, -0.2, 0.3, -0.4], [1.0, 2.0, -3.0, 0.5]], F32)),
    "e_residual_dense3": ("tl.Residual(tl.Dense(3))", X23),
    "f_select_0_1_1": ("tl.Select([0, 1, 1])",
                       (X23, np.array([7.0, 8.0], F32))),
    "g_concatenate_3_axis0": (
        "tl.Concatenate(n_items=3, axis=0)",
        (np.array([[1.0, 2.0, 3.0]], F32),
         np.array([[4.0, 5.0, 6.0], [7.0, 8.0, 9.0]], F32),
         np.array([[10.0, 11.0, 12.0]], F32))),
    "h_nested_serial": (
        "tl.Serial(tl.Dense(4), tl.Serial(tl.Relu(), tl.Dense(2)), "
        "tl.LogSoftmax())", X23),
    "i_fn_sum_and_max": (
        "tl.Fn('SumAndMax', lambda x0, x1: (x0 + x1, jnp.maximum(x0, x1)), "
        "n_out=2)",
        (X23, np.array([[0.0, 1.0, 1.0], [4.0, -1.0, -2.0]], F32))),
    "j_embedding_dropout_mean_train": (
        DROPOUT.format(mode=""),
        np.array([[1, 2, 3, 4, 5], [6, 7, 8, 9, 19]], np.int32)),
    "k_fashion_mnist_cnn": (CNN, ((2, 28, 28, 1), np.uint8)),
    "l_gru_lm": (RNN_LM.format(rnn="GRU"), ((2, 10), np.int32)),
    "l_lstm_lm": (RNN_LM.format(rnn="LSTM"), ((2, 10), np.int32)),
}
OUT_OF_RANGE_IDS = np.array([[1, 2, 3, 4, 5, 0, 0],
                             [10, 20, 30, 40, 49, 55, -3]], np.int32)

LOGITS = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.2], [1.0, 1.0, 3.0],
                   [0.3, 0.3, 0.1]], F32)
LABELS = np.array([0, 1, 1, 1], np.int32)
WEIGHTS = np.array([1.0, 0.5, 1.0, 0.0], F32)
SEQ = (np.array([[[-2.0, -1.0, 0.0, 1.0], [2.0, -2.0, -1.0, 0.0],
                  [1.0, 2.0, -2.0, -1.0]],
                 [[0.0, 1.0, 2.0, -2.0], [-1.0, 0.0, 1.0, 2.0],
                  [-2.0, -1.0, 0.0, 1.0]]], F32),
       np.array([[0, 3, 1], [2, 2, 0]], np.int32),
       np.array([[1.0, 1.0, 0.0], [1.0, 0.5, 1.0]], F32))
L2 = (np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 0.5]], F32),
      np.array([[1.5, 2.0, 1.0], [0.0, 1.0, 0.5]], F32),
      np.array([[1.0, 1.0, 0.5], [0.0, 2.0, 1.0]], F32))
LOG_PROBS = "log_probs"  # stands for tl.LogSoftmax()(LOGITS)
WEIGHTED = (LOGITS, LABELS, WEIGHTS)
# (layer expression, inputs), in the recorded order.
METRICS = [
    ("tl.WeightedCategoryCrossEntropy()", WEIGHTED),
    ("tl.WeightedCategoryCrossEntropy()", SEQ),
    ("tl.WeightedCategoryAccuracy()", WEIGHTED),
    ("tl.WeightedCategoryAccuracy()", SEQ),
    ("tl.CategoryCrossEntropy()", (LOGITS, LABELS)),
    ("tl.CategoryAccuracy()", (LOGITS, LABELS)),
    ("tl.CrossEntropyLoss()", (LOG_PROBS, LABELS, WEIGHTS)),
    ("tl.CrossEntropyLoss()", WEIGHTED),
    ("tl.Accuracy()", WEIGHTED),
    ("tl.L2Loss()", L2),
    ("tl.WeightedCategoryCrossEntropy(label_smoothing=0.1)", WEIGHTED),
    ("tl.CategoryCrossEntropy(label_smoothing=0.1)", (LOGITS, LABELS)),
    ("tl.WeightedCategoryCrossEntropy(cutoff=0.5)", WEIGHTED),
]
METRICS_NOTE = (
    "log_probs input = tl.LogSoftmax()(logits); CrossEntropyLoss expects "
    "log-probabilities (it does not apply log_softmax itself) -- it is also "
    "run on raw logits to show that.")
LAYER_ERROR_NOTE = (
    "LayerError message = header lines (layer name + phase, where the layer "
    "was created, input shapes) + a short traceback ending in the underlying "
    "error line; only the header and the underlying error are recorded.")


def _sig23():
    return shapes.ShapeDtype((2, 3), np.float32)


def _fn_default_arg():
    tl.Fn("F", lambda x, y=1: x)


def _serial_no_inputs():
    m = tl.Serial(tl.Dense(2))
    m.init(_sig23())
    m(())


def _dense_rank0():
    tl.Dense(3).init(shapes.ShapeDtype((), np.float32))


def _dense_wrong_width():
    m = tl.Dense(2)
    m.init(_sig23())
    m(np.ones((2, 5), np.float32))


def _label_smoothing_too_big():
    tl.WeightedCategoryCrossEntropy(label_smoothing=1.5)(
        (np.zeros((2, 3), np.float32), np.array([0, 1]),
         np.ones(2, np.float32)))


ERRORS = [
    ("tl.Fn('F', lambda x, y=1: x)  # function with a default argument",
     _fn_default_arg),
    ("m = tl.Serial(tl.Dense(2)); m.init(signature of float32 (2,3)); m(())"
     "  # 0 inputs", _serial_no_inputs),
    ("tl.Dense(3).init(ShapeDtype((), float32))  # rank-0 input signature",
     _dense_rank0),
    ("m = tl.Dense(2); m.init(signature of float32 (2,3)); "
     "m(np.ones((2, 5), float32))", _dense_wrong_width),
    ("tl.WeightedCategoryCrossEntropy(label_smoothing=1.5)((float32 (2,3), "
     "[0, 1], ones(2)))", _label_smoothing_too_big),
]


def shape_list(a):
    return list(np.shape(a))


def value(x):
    """An input or output: an array record, or {"tuple": [...]}."""
    if isinstance(x, (tuple, list)):
        return {"tuple": [value(t) for t in x]}
    return oc.array(x)


def n_weights(tree):
    if isinstance(tree, (tuple, list)):
        return sum(n_weights(t) for t in tree)
    return int(np.size(tree))


def model_record(name, constructor, x):
    model = eval(constructor)  # pylint: disable=eval-used
    record = {"constructor": constructor, "repr": str(model),
              "n_in": model.n_in, "n_out": model.n_out, "name": model.name,
              "init_rng": INIT_RNG}
    zeros = isinstance(x, tuple) and isinstance(x[0], tuple)  # (shape, dtype)
    if zeros:
        x = np.zeros(*x)
    signature = shapes.signature(x)
    record["input_signature"] = str(signature)
    model.init(signature, rng=trax_random.get_prng(0))
    weights, state = model.weights, model.state
    record.update({"repr_after_init": str(model),
                   "weights_shapes": oc.nested(weights, shape_list),
                   "weights_typed": oc.tree_typed(weights),
                   "state_shapes": oc.nested(state, shape_list),
                   "n_weights_total": n_weights(weights)})
    out = model(x)
    if zeros:
        record["input"] = {"shape": list(x.shape), "dtype": x.dtype.name,
                           "note": "all zeros"}
        record["output_shape_dtype"] = {"shape": list(out.shape),
                                        "dtype": out.dtype.name}
        return record
    record.update({"weights_values": oc.nested(weights, oc.array),
                   "input": value(x),
                   "output": value(out), "call": CALL})
    if name.startswith("a_"):
        record["extra_call_out_of_range_ids"] = {
            "input": value(OUT_OF_RANGE_IDS),
            "output": value(model(OUT_OF_RANGE_IDS)),
            "note": "Embedding clips ids to [0, vocab_size-1] "
                    "(55 -> 49, -3 -> 0)"}
    if name.startswith("j_"):
        record["explicit_rng_calls"] = [
            {"rng": f"trax.fastmath.random.get_prng({seed})",
             "output": value(model(x, rng=trax_random.get_prng(seed)))}
            for seed in (1, 2)]
        eval_constructor = DROPOUT.format(mode=", mode='eval'")
        eval_model = eval(eval_constructor)  # pylint: disable=eval-used
        eval_model.init(signature, rng=trax_random.get_prng(0))
        record["same_with_dropout_mode_eval"] = {
            "constructor": eval_constructor, "output": value(eval_model(x))}
    return record


def metric_record(layer, inputs):
    metric = eval(layer)  # pylint: disable=eval-used
    if inputs[0] is LOG_PROBS:
        inputs = (np.asarray(tl.LogSoftmax()(LOGITS)),) + inputs[1:]
    return {"layer": layer, "repr": str(metric), "n_in": metric.n_in,
            "n_out": metric.n_out, "inputs": [oc.array(a) for a in inputs],
            "value": oc.array(metric(inputs))}


def error_record(case, call):
    try:
        call()
    except Exception as e:  # pylint: disable=broad-except
        cls = type(e)
        record = {"case": case, "raised": True, "error_type": cls.__name__,
                  "error_class": f"{cls.__module__}.{cls.__qualname__}"}
        if not isinstance(e, tl.LayerError):
            return {**record, "error_message": str(e)}
        # JAX may append a note on its filtered traceback after a dashed
        # line: the underlying error is the last line before it.
        lines = str(e).split("\n--------------------\n")[0].splitlines()
        kind, _, message = lines[-1].partition(": ")
        return {**record, "message_header": lines[:3],
                "underlying_error_type": kind,
                "underlying_error_message": message,
                "note": LAYER_ERROR_NOTE}
    return {"case": case, "raised": False}


def layers_json():
    return {
        "description": "Real trax.layers behaviour; see README.md.",
        "env": oc.env("generate_layers.py"),
        "models": {name: model_record(name, constructor, x)
                   for name, (constructor, x) in MODELS.items()},
        "metrics": {"note": METRICS_NOTE,
                    "cases": [metric_record(layer, inputs)
                              for layer, inputs in METRICS]},
        "errors": [error_record(case, call) for case, call in ERRORS],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=pathlib.Path,
                        help="output folder: files go to OUT/trax_oracle/...")
    args = parser.parse_args(argv)
    oc.write_json(args.out / "trax_oracle" / "layers.json", layers_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
