"""``trax_compat.models.transformer`` against real Trax's Transformer models
(``trax_oracle/models_transformer``, made by
``testdata/generate_models_transformer.py``): reprs, arity, weight and state
trees in the three modes, initial weights bit for bit, eval and train
outputs, predict-mode decoding piece by piece; and a jitted predict step
compiled once for the whole decode."""

import functools
import hashlib

import jax
import numpy as np
import pytest

import trax_compat as trax  # noqa: F401  (the constructor expressions)
from trax_compat import fastmath
from trax_compat import layers as tl  # noqa: F401  (ff_activation=tl.Gelu)
from trax_compat import shapes
from trax_compat.models import transformer
from trax_compat.gin_registry import unwrapped

from conftest import load_oracle_json
from conftest import oracle_array

# The oracle's cases, in its order (test_case_list_is_the_oracles checks
# it), so that collecting the tests reads no file.
CASES = ("TransformerEncoder", "TransformerDecoder", "TransformerLM",
         "Transformer", "encoder_b3_gelu", "decoder_no_vocab_tanh",
         "lm_b3_3layers", "transformer_two_vocabs")
MODES = ("eval", "train", "predict")
# Outputs differ from Trax's in the last bits only: the oracle ran jax
# 0.4.34, whose matmul and reduction rounding differs from today's.
TOL = dict(rtol=1e-5, atol=1e-5)
# Initial weights are Trax's bit for bit, except where a leaf drawn from a
# normal distribution (Embedding, Dense bias) meets a value that jax
# 0.4.34's normal sampler rounds differently from today's: the uniform
# bits are the same, the inverse-erf transform differs by up to 3 units in
# the last place on about 1 in 3000 values. Such a leaf (a bias: the oracle
# records 1-D leaves in full) must agree to that; every other bit for bit.
MAX_ULPS = 4


@pytest.fixture(scope="module")
def oracle():
    return load_oracle_json("models_transformer/models_transformer.json")


def test_case_list_is_the_oracles(oracle):
    assert tuple(oracle["cases"]) == CASES


def _value(entry):
    if "tuple" in entry:
        return tuple(_value(e) for e in entry["tuple"])
    return oracle_array(entry)


def _typed(tree):
    """Our tree in the oracle's ``tree_typed`` notation."""
    if isinstance(tree, tuple):
        return {"tuple": [_typed(t) for t in tree]} if tree else None
    if isinstance(tree, list):
        return {"list": [_typed(t) for t in tree]}
    return {"shape": list(np.shape(tree)),
            "dtype": str(np.asarray(tree).dtype)}


def _flat(tree, prefix=(), markers=False):
    """(index path, array) depth first; with ``markers`` also (path, dict)
    for a shared layer's later occurrences."""
    if isinstance(tree, (tuple, list)):
        for i, t in enumerate(tree):
            yield from _flat(t, prefix + (i,), markers)
    elif isinstance(tree, dict):
        if markers:
            yield "/".join(map(str, prefix)), tree
    elif tree is not None:
        yield "/".join(map(str, prefix)), np.asarray(tree)


def _assert_weights_are_traxs(weights, records):
    """Bit for bit, or within MAX_ULPS on a fully recorded leaf; returns
    the paths of the leaves that are not bitwise."""
    ours = list(_flat(weights, markers=True))
    assert [p for p, _ in ours] == [r["path"] for r in records]
    rounded = []
    for (path, a), want in zip(ours, records):
        if "marker" in want:
            assert isinstance(a, dict) and sorted(a) == want["marker"], path
            continue
        assert (list(a.shape), a.dtype.name) == (want["shape"],
                                                 want["dtype"]), path
        sha = hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()
        if sha == want["sha256"]:
            continue
        assert "values" in want, f"{path} differs from Trax's (SHA-256)"
        expected = np.asarray(want["values"], a.dtype).reshape(a.shape)
        ulps = np.abs(a.view(np.int32).astype(np.int64)
                      - expected.view(np.int32).astype(np.int64))
        assert ulps.max() <= MAX_ULPS, path
        assert (ulps > 0).sum() <= 2, path  # stray values, not a leaf
        rounded.append(path)
    return rounded


def _is_encdec(case):
    return isinstance(_value(case["input"]), tuple)


def _signature(case, mode):
    x = _value(case["input"])
    if mode == "predict" and _is_encdec(case):
        # Decoding feeds the target one token at a time.
        return (shapes.signature(x[0]),
                shapes.ShapeDtype((x[1].shape[0], 1), x[1].dtype))
    return shapes.signature(x)


def _build(case, mode):
    model = eval(case["constructor"].format(mode=mode))  # pylint: disable=eval-used
    model.init(_signature(case, mode), rng=fastmath.random.get_prng(0))
    return model


@functools.lru_cache(maxsize=None)
def _built(constructor, mode):
    """A model initialised as the oracle's, its initial weights and state
    (built once per module: initialising is a slow part of these tests)."""
    model = _build({"constructor": constructor,
                    "input": _inputs[constructor]}, mode)
    return model, model.weights, model.state


_inputs = {}


def _model(case, mode):
    """The case's model in ``mode``, with its initial weights and state."""
    _inputs[case["constructor"]] = case["input"]
    model, weights, state = _built(case["constructor"], mode)
    model.weights, model.state = weights, state
    return model


# Calls go through ``jax.jit(model.pure_fn)`` (what the Loop and decoding
# run; compiling a model once is several times faster than running it op
# by op the first time), except for the cases named here, which call the
# model eagerly as ``model(x, rng=...)``.
EAGER = ("TransformerLM", "Transformer")


def _call(model, x, name, rng=None):
    """``model(x, rng=rng)``, jitted unless ``name`` is in EAGER; the new
    state is kept in the model, as a call does."""
    rng = fastmath.random.get_prng(0) if rng is None else rng
    if name in EAGER:
        return model(x, rng=rng)
    if model not in _jitted:  # one jitted function per model: compiled
        _jitted[model] = jax.jit(model.pure_fn)  # once per input shape
    y, model.state = _jitted[model](x, model.weights, model.state, rng)
    return y


_jitted = {}


def _assert_close(actual, expected):
    if isinstance(expected, tuple):
        assert isinstance(actual, tuple) and len(actual) == len(expected)
        for a, e in zip(actual, expected):
            _assert_close(a, e)
        return
    actual = np.asarray(actual)
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    np.testing.assert_allclose(actual, expected, **TOL)


@pytest.mark.parametrize("name", CASES)
def test_modes_repr_arity_trees_initial_weights(oracle, name):
    case = oracle["cases"][name]
    eval_weights = _model(case, "eval").weights
    rounded = _assert_weights_are_traxs(eval_weights, case["weights"])
    # Bitwise but for the rare values named above (none in most cases).
    assert len(rounded) <= 1, rounded
    assert sum(a.size for _, a in _flat(eval_weights)) == (
        case["n_weights_total"])
    for mode in MODES:
        want = case["modes"][mode]
        model = _model(case, mode)
        assert str(model) == want["repr"], mode
        assert (model.n_in, model.n_out) == (want["n_in"], want["n_out"])
        assert _typed(model.weights) == want["weights_typed"], mode
        assert _typed(model.state) == want["state_typed"], mode
        if mode == "eval":
            continue
        same = [(p, a.tobytes()) for p, a in _flat(model.weights)] == [
            (p, a.tobytes()) for p, a in _flat(eval_weights)]
        assert same == want["weights_equal_eval"], mode
        if "weights" in want:  # Trax's own predict-mode initial weights
            _assert_weights_are_traxs(model.weights, want["weights"])


@pytest.mark.parametrize("name", CASES)
def test_eval_output(oracle, name):
    case = oracle["cases"][name]
    model = _model(case, "eval")
    _assert_close(_call(model, _value(case["input"]), name),
                  _value(case["output_eval"]))


@pytest.mark.parametrize("name", CASES)
def test_train_output_with_trax_dropout_keys(oracle, name):
    case = oracle["cases"][name]
    model = _model(case, "train")
    output = _call(model, _value(case["input"]), name,
                   rng=fastmath.random.get_prng(1))
    expected = _value(case["output_train"])
    _assert_close(output, expected)
    # Dropout did act: the train output is not the eval output.
    eval_output = _value(case["output_eval"])
    first = expected[0] if isinstance(expected, tuple) else expected
    first_eval = eval_output[0] if isinstance(expected, tuple) else eval_output
    assert not np.allclose(first, first_eval, atol=1e-3)


def _with_eval_weights(model, eval_weights):
    """``model`` with ``eval_weights`` put in, in flat order (a
    checkpoint's flat weights are loaded so)."""
    model.weights = jax.tree_util.tree_unflatten(
        jax.tree_util.tree_structure(model.weights),
        jax.tree_util.tree_leaves(eval_weights))
    return model


def _predict_pieces(case):
    """The inputs the oracle fed its predict-mode model, piece by piece."""
    x = _value(case["input"])
    want = case["predict"]
    target = x[1] if _is_encdec(case) else x
    if want["input_shifted_right"]:
        target = np.pad(target, [(0, 0), (1, 0)])[:, :-1]
    start = 0
    for n in want["pieces"]:
        piece = target[:, start:start + n]
        yield (x[0], piece) if _is_encdec(case) else piece
        start += n


def _counters(state):
    return [int(a) for _, a in _flat(state)
            if a.shape == () and np.issubdtype(a.dtype, np.integer)]


@pytest.mark.parametrize("name", CASES)
def test_predict_mode_decoding(oracle, name):
    case = oracle["cases"][name]
    want = case["predict"]
    model = _with_eval_weights(_model(case, "predict"),
                               _model(case, "eval").weights)
    if "pieces" not in want:  # a classifier: one whole call
        _assert_close(_call(model, _value(case["input"]), name),
                      _value(want["output"]))
        return
    outputs = []
    for piece in _predict_pieces(case):
        y = _call(model, piece, name)
        outputs.append(np.asarray(y[0] if _is_encdec(case) else y))
    output = np.concatenate(outputs, axis=1)
    _assert_close(output, _value(want["output"]))
    # Caches and positions live in the layer state, as in Trax.
    assert _counters(model.state) == want["counters_after"]
    assert _typed(model.state) == want["state_typed_after"]
    eval_output = _value(case["output_eval"])
    eval_output = eval_output[0] if _is_encdec(case) else eval_output
    if want["input_shifted_right"]:  # LM, Transformer: predict == eval
        assert want["max_abs_diff_to_eval"] < 1e-5
        np.testing.assert_allclose(output, eval_output, **TOL)


@pytest.mark.parametrize("name", ["TransformerLM", "Transformer"])
def test_jitted_predict_step_compiles_once(oracle, name):
    """One jitted step (weights and state as arguments) decodes every
    token; it is traced once for the LM. The Transformer's first step
    fills the encoder's Cache (its state changes from () to the encoder
    outputs), so it is traced once for that step and once for all the
    others, as Trax's own accelerated decoding is."""
    case = oracle["cases"][name]
    model = _with_eval_weights(_model(case, "predict"),
                               _model(case, "eval").weights)
    traces = []

    def step(x, weights, state, rng):
        traces.append(1)
        return model.pure_fn(x, weights, state, rng)

    jitted = jax.jit(step)
    weights, state = model.weights, model.state
    rng = fastmath.random.get_prng(0)
    outputs, counts = [], []
    for piece in _predict_pieces(case):
        y, state = jitted(piece, weights, state, rng)
        outputs.append(np.asarray(y[0] if _is_encdec(case) else y))
        counts.append(len(traces))
    n_tokens = len(outputs)
    assert n_tokens >= 6
    expected = [1] * n_tokens if name == "TransformerLM" else (
        [1] + [2] * (n_tokens - 1))
    assert counts == expected
    _assert_close(np.concatenate(outputs, axis=1),
                  _value(case["predict"]["output"]))
    assert _counters(state) == case["predict"]["counters_after"]


def test_transformer_predict_tree_nests_as_trax_with_train_flat_order():
    """Predict mode wraps the encoder and the cross-attention's key/value
    Dense layers in Cache; the flat weights keep the train-mode order."""
    kw = dict(input_vocab_size=9, d_model=4, d_ff=8, n_encoder_layers=1,
              n_decoder_layers=1, n_heads=2, max_len=8)
    src = np.ones((1, 3), np.int32)
    train = transformer.Transformer(mode="train", **kw)
    train.init(shapes.signature((src, src)))
    predict = transformer.Transformer(mode="predict", **kw)
    predict.init((shapes.signature(src),
                  shapes.ShapeDtype((1, 1), np.int32)))
    assert _typed(predict.weights) != _typed(train.weights)
    assert ([a.shape for _, a in _flat(predict.weights)]
            == [a.shape for _, a in _flat(train.weights)])
    assert "Cache" in str(predict) and "Cache" not in str(train)


@pytest.mark.parametrize("constructor", [
    lambda: transformer.TransformerLM(10, mode="predcit"),
    lambda: transformer.Transformer(10, mode="test"),
    lambda: transformer.TransformerEncoder(10, mode="Train"),
    lambda: transformer.TransformerDecoder(10, mode=None),
])
def test_unknown_mode_is_refused(constructor):
    with pytest.raises(ValueError, match="mode must be 'train', 'eval' or "
                                         "'predict'"):
        constructor()


def test_exported_by_models_package():
    from trax_compat import models  # pylint: disable=g-import-not-at-top
    for name in ("TransformerEncoder", "TransformerDecoder", "TransformerLM",
                 "Transformer"):
        assert unwrapped(getattr(models, name)) is getattr(transformer, name)
    assert unwrapped(trax.models.TransformerLM) is transformer.TransformerLM
