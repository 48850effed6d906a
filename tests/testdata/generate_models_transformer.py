"""Records real Trax's Transformer models (``trax.models.transformer``).

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_models_transformer.py OUT

It writes ``OUT/trax_oracle/models_transformer/models_transformer.json.gz``
(gzipped reproducibly); with OUT = ``tests/testdata`` it replaces the
committed data. For each case of ``CASES`` (a constructor expression with
``{mode}``, and its inputs):

* ``modes.<mode>`` for 'eval', 'train' and 'predict': ``str(model)``,
  ``n_in``/``n_out``, the weight and state trees after
  ``init(signature, rng=get_prng(0))`` (``tree_typed``), and whether the
  flat weights equal the eval-mode ones bit for bit;
* ``weights``: the eval-mode flat weights, one record per leaf: index path,
  shape, dtype, SHA-256 of the float32 C-order bytes, first values, and
  all values of 1-D leaves (biases, LayerNorm); a shared
  layer's later occurrence is ``{"path", "marker": [its key]}``;
* ``output_eval``: ``model(x)`` in 'eval' mode;
* ``output_train``: a fresh train-mode model (same init), ``model(x,
  rng=get_prng(1))``;
* ``predict``: a predict-mode model (init as above; for ``Transformer`` the
  target signature is (batch, 1); where its initial weights differ from the
  eval-mode ones, ``modes.predict.weights`` records them and the eval-mode
  weights are put in, in flat order, as loading a checkpoint does) fed
  the target side in pieces along axis 1 (``pieces``: lengths), the
  source whole on every call; each piece's
  first output, concatenated; the cache indices and position counters in
  the state at the end (every integer scalar of the state, in tree order).
  ``TransformerLM`` and ``Transformer`` are fed the target shifted right by
  one (0 first), as decoding feeds them, so their outputs match the eval
  outputs; ``TransformerDecoder`` does not shift and is fed the input as is.
"""

import argparse
import hashlib
import pathlib
import sys

import jax
import numpy as np

import trax  # pylint: disable=unused-import  (the constructors)
from trax import layers as tl  # pylint: disable=unused-import
from trax import shapes
from trax.fastmath import random as trax_random

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import oracle_common as oc  # noqa: E402  (this folder)


def _ids(seed, batch, length, vocab, pad_row0_from=None):
    ids = np.random.default_rng(seed).integers(
        1, vocab, size=(batch, length)).astype(np.int32)
    if pad_row0_from is not None:
        ids[0, pad_row0_from:] = 0
    return ids


# The inputs of the shared models oracle (its README, "Inputs").
IDS = _ids(5, 2, 8, 20, pad_row0_from=5)
# Other parameter sets: odd batch sizes, other widths, heads, depths,
# activations, dropout rates and shared dropout axes.
IDS_B3 = _ids(11, 3, 7, 23, pad_row0_from=4)
IDS_LM3 = _ids(12, 3, 7, 17, pad_row0_from=6)
SRC_B3 = _ids(13, 3, 7, 15, pad_row0_from=5)
TGT_B3 = _ids(14, 3, 5, 11)
FLOATS = np.random.default_rng(15).standard_normal((3, 5, 6)).astype(
    np.float32)

M = "trax.models."
# name -> (constructor with {mode}, inputs, predict pieces or None)
CASES = {
    "TransformerEncoder": (
        M + "TransformerEncoder(vocab_size=20, n_classes=3, d_model=16, "
        "d_ff=32, n_layers=1, n_heads=2, max_len=16, mode='{mode}')",
        IDS, None),
    "TransformerDecoder": (
        M + "TransformerDecoder(vocab_size=20, d_model=16, d_ff=32, "
        "n_layers=2, n_heads=2, max_len=32, mode='{mode}')",
        IDS, [1] * 8),
    "TransformerLM": (
        M + "TransformerLM(vocab_size=20, d_model=16, d_ff=32, n_layers=2, "
        "n_heads=2, max_len=32, mode='{mode}')",
        IDS, [1] * 8),
    "Transformer": (
        M + "Transformer(input_vocab_size=20, d_model=16, d_ff=32, "
        "n_encoder_layers=1, n_decoder_layers=1, n_heads=2, max_len=32, "
        "mode='{mode}')",
        (IDS, IDS[:, :6].copy()), [1] * 6),
    "encoder_b3_gelu": (
        M + "TransformerEncoder(vocab_size=23, n_classes=4, d_model=12, "
        "d_ff=20, n_layers=2, n_heads=3, max_len=10, dropout=0.2, "
        "dropout_shared_axes=(1,), mode='{mode}', ff_activation=tl.Gelu)",
        IDS_B3, None),
    "decoder_no_vocab_tanh": (
        M + "TransformerDecoder(d_model=8, d_ff=16, n_layers=1, n_heads=4, "
        "max_len=12, dropout=0.3, mode='{mode}', ff_activation=tl.Tanh)",
        FLOATS, [2, 1, 2]),
    "lm_b3_3layers": (
        M + "TransformerLM(vocab_size=17, d_model=12, d_ff=24, n_layers=3, "
        "n_heads=3, max_len=16, dropout=0.25, dropout_shared_axes=(0,), "
        "mode='{mode}', ff_activation=tl.Gelu)",
        IDS_LM3, [3, 1, 1, 2]),
    "transformer_two_vocabs": (
        M + "Transformer(input_vocab_size=15, output_vocab_size=11, "
        "d_model=12, d_ff=16, n_encoder_layers=2, n_decoder_layers=1, "
        "n_heads=3, max_len=16, dropout=0.2, mode='{mode}', "
        "ff_activation=tl.Gelu)",
        (SRC_B3, TGT_B3), [1] * 5),
}


def _build(constructor, mode):
    return eval(constructor.format(mode=mode))  # pylint: disable=eval-used


def _flat_paths(tree, prefix=(), markers=False):
    """(index path, leaf) of every array, depth first (Trax's flat order);
    with ``markers`` also a shared layer's later occurrences (Trax's
    ``{'__marker_for_cached_weights_': ()}``), as (path, dict)."""
    if isinstance(tree, (tuple, list)):
        for i, t in enumerate(tree):
            yield from _flat_paths(t, prefix + (i,), markers)
    elif isinstance(tree, dict):
        if markers:
            yield "/".join(map(str, prefix)), tree
    elif tree is not None:
        yield "/".join(map(str, prefix)), np.asarray(tree)


def _sha256(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


# 1-D leaves (Dense biases, LayerNorm) are recorded in full: a bias is
# drawn from a normal distribution, whose values a newer JAX may round
# differently in the last bit, and a test then needs the values.


def _weight_record(path, a):
    if isinstance(a, dict):
        return {"path": path, "marker": sorted(a)}
    out = {"path": path, "shape": list(a.shape), "dtype": a.dtype.name,
           "sha256": _sha256(a), "first": a.ravel()[:4].tolist()}
    if a.ndim == 1:
        out["values"] = a.ravel().tolist()
    return out


def _weight_records(weights):
    return [_weight_record(path, a)
            for path, a in _flat_paths(weights, markers=True)]


def _flat_equal(a, b):
    xs, ys = list(_flat_paths(a)), list(_flat_paths(b))
    return len(xs) == len(ys) and all(
        x.shape == y.shape and np.array_equal(x, y)
        for (_, x), (_, y) in zip(xs, ys))


def _output(y):
    if isinstance(y, (tuple, list)):
        return {"tuple": [oc.array(t) for t in y]}
    return oc.array(y)


def _counters(state):
    """Every integer scalar in the state: cache indices, positions."""
    return [int(a) for _, a in _flat_paths(state)
            if a.shape == () and np.issubdtype(a.dtype, np.integer)]


def _mode_record(model):
    return {"repr": str(model), "n_in": model.n_in, "n_out": model.n_out,
            "weights_typed": oc.tree_typed(model.weights),
            "state_typed": oc.tree_typed(model.state)}


def _predict_signature(x, encdec):
    if encdec:
        src, tgt = x
        return (shapes.signature(src),
                shapes.ShapeDtype((tgt.shape[0], 1), tgt.dtype))
    return shapes.signature(x)


def record(constructor, x, pieces):
    encdec = isinstance(x, tuple)
    out = {"constructor": constructor, "input": _output(x), "modes": {}}

    model = _build(constructor, "eval")
    model.init(shapes.signature(x), rng=trax_random.get_prng(0))
    eval_weights = model.weights
    out["modes"]["eval"] = _mode_record(model)
    out["weights"] = _weight_records(eval_weights)
    out["n_weights_total"] = int(sum(a.size for _, a in
                                     _flat_paths(eval_weights)))
    model_eval_output = model(x)
    out["output_eval"] = _output(model_eval_output)

    model = _build(constructor, "train")
    model.init(shapes.signature(x), rng=trax_random.get_prng(0))
    out["modes"]["train"] = _mode_record(model)
    out["modes"]["train"]["weights_equal_eval"] = _flat_equal(
        model.weights, eval_weights)
    out["output_train"] = _output(model(x, rng=trax_random.get_prng(1)))

    model = _build(constructor, "predict")
    model.init(_predict_signature(x, encdec), rng=trax_random.get_prng(0))
    out["modes"]["predict"] = _mode_record(model)
    out["modes"]["predict"]["weights_equal_eval"] = _flat_equal(
        model.weights, eval_weights)
    if not out["modes"]["predict"]["weights_equal_eval"]:
        # Its own initial weights (a Cache draws keys differently), then
        # the eval-mode weights in flat order, as a checkpoint loads them.
        out["modes"]["predict"]["weights"] = _weight_records(model.weights)
        model.weights = jax.tree_util.tree_unflatten(
            jax.tree_util.tree_structure(model.weights),
            jax.tree_util.tree_leaves(eval_weights))
    if pieces is None:
        # No incremental decoding for a classifier: one whole call.
        out["predict"] = {"output": _output(model(x))}
        return out
    target = x[1] if encdec else x
    assert sum(pieces) == target.shape[1]
    shifted = "TransformerDecoder" not in constructor
    if shifted:
        # A predict-mode model does not shift: it is fed the tokens before
        # each position (0 first), as decoding feeds it.
        target = np.pad(target, [(0, 0), (1, 0)])[:, :-1]
    outputs, start = [], 0
    for n in pieces:
        piece = target[:, start:start + n]
        y = model((x[0], piece) if encdec else piece)
        outputs.append(np.asarray(y[0] if encdec else y))
        start += n
    output = np.concatenate(outputs, axis=1)
    reference = np.asarray(model_eval_output[0] if encdec
                           else model_eval_output)
    out["predict"] = {"pieces": pieces, "input_shifted_right": shifted,
                      "output": oc.array(output),
                      "max_abs_diff_to_eval": float(
                          np.max(np.abs(output - reference))),
                      "counters_after": _counters(model.state),
                      "state_typed_after": oc.tree_typed(model.state)}
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=pathlib.Path,
                        help="folder to write trax_oracle/models_transformer/ "
                             "into (tests/testdata replaces the committed "
                             "data)")
    args = parser.parse_args(argv)
    data = {"env": oc.env(pathlib.Path(__file__).name),
            "cases": {name: record(*case) for name, case in CASES.items()}}
    oc.write_json_gz(args.out / "trax_oracle" / "models_transformer" /
                     "models_transformer.json.gz", data, indent=None)


if __name__ == "__main__":
    main()
