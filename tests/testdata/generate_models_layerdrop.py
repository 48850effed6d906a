"""Records real Trax's layer-skipping and ReZero Transformers
(``trax.models.research.layerdrop_transformer`` and ``.rezero``).

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_models_layerdrop.py OUT

It writes ``OUT/trax_oracle/models_layerdrop/models_layerdrop.json.gz``
(gzipped reproducibly); with OUT = ``tests/testdata`` it replaces the
committed data. For each case of ``CASES`` (a constructor expression with
``{mode}``, its inputs, predict-mode pieces or None):

* ``modes.<mode>`` for 'eval', 'train' and (where recorded) 'predict':
  ``str(model)``,
  ``n_in``/``n_out``, the weight and state trees after
  ``init(signature, rng=get_prng(0))`` (``tree_typed``), and whether the
  flat weights equal the eval-mode ones bit for bit;
* ``weights``: the eval-mode flat weights (index path, shape, dtype,
  SHA-256 of the bytes, first values, all values of 1-D leaves; a shared
  layer's later occurrence as ``{"path", "marker"}``);
* ``set_scalars``: for the ReZero cases, the value put into every scalar
  weight (each ``alpha`` of ``ResidualZero``) before the outputs below are
  computed, ``0.5 + 0.1 * k`` for the k-th scalar in flat order: at
  initialisation every alpha is 0 and every ReZero block the identity, so
  outputs computed there would not see the blocks. ``output_eval_init`` is
  the eval output with the initial (zero) alphas;
* ``output_eval``: ``model(x, rng=get_prng(7))`` in 'eval' mode (a key
  matters where ``eval_skip_fraction`` skips at random);
* ``output_train``: ``{seed: model(x, rng=get_prng(seed))}`` for the
  seeds of ``TRAIN_SEEDS`` (calls compiled with ``jax.jit``, as here
  throughout);
* ``draws``: for the layer-skipping cases, per seed of ``TRAIN_SEEDS`` and
  ``PATTERN_SEEDS``, every ``LargerThan`` comparison the train-mode model
  made, in order, as ``[threshold, draw]`` (the draws come from the
  ``RandomUniform`` layers' keys; recorded by a ``LargerThan`` that notes
  its inputs through a debug callback);
* ``pattern_outputs``: for the cases without dropout (``dropout=0.0``, so
  that only the skipping is random), ``{seed: output.sum(-1)}`` for each
  seed of ``PATTERN_SEEDS``: whether a port skips the same blocks as Trax
  for each key;
* ``predict``: a predict-mode model with the eval-mode weights (and
  scalars) fed the input shifted right (0 first) in pieces (``pieces``),
  each piece's output concatenated, and the integer scalars of the state
  at the end; for "whole", one call with ``rng=get_prng(7)``; for None,
  nothing (each case records only what its test checks, to keep the tests
  fast).
"""

import argparse
import contextlib
import hashlib
import pathlib
import sys

import jax
import numpy as np

import trax  # pylint: disable=unused-import  (the constructors)
from trax import layers as tl  # pylint: disable=unused-import
from trax import shapes
from trax.fastmath import random as trax_random
from trax.models.research import layerdrop_transformer
from trax.models.research import rezero  # pylint: disable=unused-import

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import oracle_common as oc  # noqa: E402  (this folder)


def _ids(seed, batch, length, vocab):
    return np.random.default_rng(seed).integers(
        1, vocab, size=(batch, length)).astype(np.int32)


IDS_B3 = _ids(21, 3, 7, 17)
IDS_B5 = _ids(22, 5, 6, 11)
SRC_B3 = _ids(24, 3, 7, 15)
SRC_B3[0, 5:] = 0  # padding, for the encoder's mask
TGT_B3 = _ids(25, 3, 5, 11)
FLOATS = np.random.default_rng(26).standard_normal((3, 5, 6)).astype(
    np.float32)

TRAIN_SEEDS = (1, 2, 3)
PATTERN_SEEDS = tuple(range(100, 132))
EVAL_SEED = 7

L = "trax.models.research.layerdrop_transformer."
R = "trax.models.research.rezero."
# name -> (constructor with {mode}, inputs, predict: pieces, "whole" (one
# call) or None (predict mode not recorded))
CASES = {
    "layerdrop_b3": (
        L + "LayerDropTransformerLM(vocab_size=17, d_model=12, d_ff=24, "
        "n_layers=3, n_heads=3, max_len=16, dropout=0.1, skip_fraction=0.4, "
        "mode='{mode}')",
        IDS_B3, [1] * 7),
    "layerdrop_per_layer_same_b5": (
        L + "LayerDropTransformerLM(vocab_size=11, d_model=8, d_ff=16, "
        "n_layers=2, n_heads=2, max_len=8, dropout=0.0, "
        "skip_fraction=[0.2, 0.7], eval_skip_fraction='same', "
        "ff_activation=tl.Gelu, mode='{mode}')",
        IDS_B5, None),
    "everyother_even_b3": (
        L + "EveryOtherLayerDropTransformerLM(vocab_size=17, d_model=12, "
        "d_ff=24, n_layers=3, n_heads=3, max_len=16, dropout=0.1, "
        "skip_mode='even', mode='{mode}')",
        IDS_B3, None),
    "everyother_2half_b5": (
        L + "EveryOtherLayerDropTransformerLM(vocab_size=11, d_model=8, "
        "d_ff=16, n_layers=3, n_heads=2, max_len=8, dropout=0.0, "
        "skip_mode='2half', skip_fraction=0.6, eval_skip_fraction=0.5, "
        "mode='{mode}')",
        IDS_B5, "whole"),
    "skipping_b3": (
        L + "SkippingTransformerLM(vocab_size=17, d_model=12, d_ff=24, "
        "n_layers=3, n_heads=3, max_len=16, dropout=0.1, skip_fraction=0.4, "
        "mode='{mode}')",
        IDS_B3, None),
    "skipping_b5_gelu": (
        L + "SkippingTransformerLM(vocab_size=11, d_model=8, d_ff=16, "
        "n_layers=2, n_heads=2, max_len=8, dropout=0.0, skip_fraction=0.6, "
        "ff_activation=tl.Gelu, mode='{mode}')",
        IDS_B5, [1] * 6),
    "rezero_lm_b3": (
        R + "ReZeroTransformerLM(vocab_size=17, d_model=12, d_ff=24, "
        "n_layers=2, n_heads=3, max_len=16, dropout=0.2, mode='{mode}')",
        IDS_B3, [1] * 7),
    "rezero_encoder_b3": (
        R + "ReZeroTransformerEncoder(vocab_size=15, n_classes=4, "
        "d_model=12, d_ff=20, n_layers=2, n_heads=3, max_len=10, "
        "dropout=0.2, mode='{mode}')",
        SRC_B3, None),
    "rezero_decoder_floats": (
        R + "ReZeroTransformerDecoder(d_model=8, d_ff=16, n_layers=2, "
        "n_heads=4, max_len=12, dropout=0.3, ff_activation=tl.Tanh, "
        "mode='{mode}')",
        FLOATS, None),
    "rezero_transformer_shared_vocab": (
        R + "ReZeroTransformer(input_vocab_size=15, d_model=12, d_ff=16, "
        "n_encoder_layers=2, n_decoder_layers=1, n_heads=3, max_len=16, "
        "dropout=0.2, mode='{mode}')",
        (SRC_B3, TGT_B3 + 3), [1] * 5),
}


def _build(constructor, mode):
    return eval(constructor.format(mode=mode))  # pylint: disable=eval-used


# -- recording the skip decisions ----------------------------------------------

_COMPARISONS = []


def _noting_larger_than(val):
    """Trax's LargerThan, noting each comparison it makes when the
    compiled model runs (an ordered debug callback)."""
    def note(x):
        _COMPARISONS.append([float(val), float(x)])

    def larger_than(x):
        jax.debug.callback(note, x, ordered=True)
        return x > val
    return tl.Fn("LargerThan", larger_than)


@contextlib.contextmanager
def _noting_comparisons():
    original = layerdrop_transformer.LargerThan
    layerdrop_transformer.LargerThan = _noting_larger_than
    del _COMPARISONS[:]
    try:
        yield _COMPARISONS
    finally:
        layerdrop_transformer.LargerThan = original


# -- weights --------------------------------------------------------------------

def _flat_paths(tree, prefix=(), markers=False):
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


def _weight_record(path, a):
    if isinstance(a, dict):
        return {"path": path, "marker": sorted(a)}
    out = {"path": path, "shape": list(a.shape), "dtype": a.dtype.name,
           "sha256": _sha256(a), "first": a.ravel()[:4].tolist()}
    if a.ndim <= 1:
        out["values"] = a.ravel().tolist()
    return out


def _flat_equal(a, b):
    xs, ys = list(_flat_paths(a)), list(_flat_paths(b))
    return len(xs) == len(ys) and all(
        x.shape == y.shape and np.array_equal(x, y)
        for (_, x), (_, y) in zip(xs, ys))


def _with_scalars_set(weights):
    """``weights`` with the k-th scalar leaf (flat order) set to
    ``0.5 + 0.1 * k``; other leaves and markers unchanged."""
    leaves, tree = jax.tree_util.tree_flatten(weights)
    out, k = [], 0
    for leaf in leaves:
        if np.ndim(leaf) == 0 and not isinstance(leaf, dict):
            leaf = np.asarray(0.5 + 0.1 * k, np.asarray(leaf).dtype)
            k += 1
        out.append(leaf)
    return jax.tree_util.tree_unflatten(tree, out), k


def _flat_put(model, weights):
    """``weights``' leaves put into ``model`` in flat order (as a
    checkpoint loads)."""
    model.weights = jax.tree_util.tree_unflatten(
        jax.tree_util.tree_structure(model.weights),
        jax.tree_util.tree_leaves(weights))


_JITTED = {}


def _call(model, x, rng):
    """``model(x, rng=rng)`` through ``jax.jit(model.pure_fn)`` (Trax's
    ``Cond`` re-traces its branches on every eager call, which makes eager
    calls slow); the new state is kept in the model, as a call does."""
    if id(model) not in _JITTED:
        _JITTED[id(model)] = (model, jax.jit(model.pure_fn))
    y, model.state = _JITTED[id(model)][1](x, model.weights, model.state, rng)
    jax.block_until_ready(y)
    return y


def _output(y):
    if isinstance(y, (tuple, list)):
        return {"tuple": [oc.array(t) for t in y]}
    return oc.array(y)


def _first(y):
    return np.asarray(y[0] if isinstance(y, (tuple, list)) else y)


def _counters(state):
    return [int(a) for _, a in _flat_paths(state)
            if a.shape == () and np.issubdtype(a.dtype, np.integer)]


def _mode_record(model):
    return {"repr": str(model), "n_in": model.n_in, "n_out": model.n_out,
            "weights_typed": oc.tree_typed(model.weights),
            "state_typed": oc.tree_typed(model.state)}


def _signature(x, encdec, mode):
    if encdec and mode == "predict":
        src, tgt = x
        return (shapes.signature(src),
                shapes.ShapeDtype((tgt.shape[0], 1), tgt.dtype))
    return shapes.signature(x)


def _init(constructor, mode, x, encdec):
    model = _build(constructor, mode)
    model.init(_signature(x, encdec, mode), rng=trax_random.get_prng(0))
    return model


def record(constructor, x, pieces):
    encdec = isinstance(x, tuple)
    skipping = constructor.startswith(L)
    out = {"constructor": constructor, "input": _output(x), "modes": {}}

    model = _init(constructor, "eval", x, encdec)
    eval_weights = model.weights
    out["modes"]["eval"] = _mode_record(model)
    out["weights"] = [_weight_record(p, a) for p, a in
                      _flat_paths(eval_weights, markers=True)]
    out["n_weights_total"] = int(sum(a.size for _, a in
                                     _flat_paths(eval_weights)))
    eval_rng = trax_random.get_prng(EVAL_SEED)
    if not skipping:
        out["output_eval_init"] = _output(_call(model, x, eval_rng))
        eval_weights, n_scalars = _with_scalars_set(eval_weights)
        out["set_scalars"] = n_scalars
        model.weights = eval_weights
    out["output_eval"] = _output(_call(model, x, eval_rng))

    model = _init(constructor, "train", x, encdec)
    out["modes"]["train"] = _mode_record(model)
    out["modes"]["train"]["weights_equal_eval"] = _flat_equal(
        model.weights, _init(constructor, "eval", x, encdec).weights)
    train_weights = eval_weights
    out["output_train"] = {}
    for seed in TRAIN_SEEDS:
        model.weights = train_weights
        out["output_train"][str(seed)] = _output(
            _call(model, x, trax_random.get_prng(seed)))

    if skipping:
        with _noting_comparisons() as noted:
            noting = _init(constructor, "train", x, encdec)
            draws, sums = {}, {}
            for seed in TRAIN_SEEDS + PATTERN_SEEDS:
                del noted[:]
                y = _call(noting, x, trax_random.get_prng(seed))
                draws[str(seed)] = list(noted)
                if seed in PATTERN_SEEDS and "dropout=0.0" in constructor:
                    sums[str(seed)] = oc.array(_first(y).sum(-1))
        out["draws"] = draws
        if sums:
            out["pattern_outputs"] = sums

    if pieces is None:
        return out
    model = _init(constructor, "predict", x, encdec)
    out["modes"]["predict"] = _mode_record(model)
    _flat_put(model, eval_weights)
    if pieces == "whole":
        out["predict"] = {"output": _output(_call(model, x, eval_rng))}
        return out
    target = x[1] if encdec else x
    assert sum(pieces) == target.shape[1]
    shifted = np.pad(target, [(0, 0), (1, 0)])[:, :-1]
    outputs, start = [], 0
    for n in pieces:
        piece = shifted[:, start:start + n]
        y = _call(model, (x[0], piece) if encdec else piece, eval_rng)
        outputs.append(_first(y))
        start += n
    output = np.concatenate(outputs, axis=1)
    out["predict"] = {"pieces": pieces, "output": oc.array(output),
                      "max_abs_diff_to_eval": float(np.max(np.abs(
                          output - _first(
                              _build_eval_output(out))))),
                      "counters_after": _counters(model.state),
                      "state_typed_after": oc.tree_typed(model.state)}
    return out


def _build_eval_output(out):
    entry = out["output_eval"]
    entry = entry["tuple"][0] if "tuple" in entry else entry
    return np.asarray(entry["data"], entry["dtype"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=pathlib.Path,
                        help="folder to write trax_oracle/models_layerdrop/ "
                             "into (tests/testdata replaces the committed "
                             "data)")
    parser.add_argument("--only", nargs="*", help="case names (a try run)")
    args = parser.parse_args(argv)
    names = args.only or list(CASES)
    data = {"env": oc.env(pathlib.Path(__file__).name),
            "train_seeds": list(TRAIN_SEEDS),
            "pattern_seeds": list(PATTERN_SEEDS), "eval_seed": EVAL_SEED,
            "cases": {name: record(*CASES[name]) for name in names}}
    oc.write_json_gz(args.out / "trax_oracle" / "models_layerdrop" /
                     "models_layerdrop.json.gz", data, indent=None)


if __name__ == "__main__":
    main()
