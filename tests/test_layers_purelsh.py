"""Trax's weightless LSH attention (``PureLSHSelfAttention``), its wrapper
(``PureLSHSelfAttentionWrapper``) and a Terraformer built with them against
real Trax (trax_oracle/layers_purelsh, made by
tests/testdata/generate_layers_purelsh.py), with the checks of
test_models_reformer.py: initial weights and state bit for bit, outputs and
states of two calls (the hashes drawn again on the second), gradients,
outputs piece by piece in 'predict' mode, and a Terraformer's
predict-mode logits."""

import functools  # pylint: disable=unused-import  (constructor strings)

import jax
import numpy as np
import pytest

import trax_compat as trax  # pylint: disable=unused-import  (constructors)
from trax_compat import layers as tl
from trax_compat import shapes
from trax_compat.fastmath import random as trax_random
from trax_compat.gin_registry import unwrapped

from conftest import load_oracle_json
from conftest import oracle_array
import test_models_reformer as reformer_checks

ORACLE = "layers_purelsh/layers_purelsh.json.gz"
TOL = reformer_checks.TOL
_value = reformer_checks._value  # pylint: disable=protected-access
_typed = reformer_checks._typed  # pylint: disable=protected-access
_assert_tree_close = reformer_checks._assert_tree_close  # pylint: disable=protected-access
_assert_summaries = reformer_checks._assert_summaries  # pylint: disable=protected-access


@pytest.fixture(scope="module")
def oracle():
    return load_oracle_json(ORACLE)


def _names(section):
    return tuple(load_oracle_json(ORACLE)[section])


# Run for the suite's time (each case compiles its own attention, seconds
# apiece): the weightless layer causal and masked, the wrapper with Trax's
# defaults, the wrapper's gradients through the reversible backward pass,
# the wrapper in 'predict' mode (memory rolling), and the Terraformer in
# 'predict' mode (encoder masked in eval mode, decoder in predict mode).
# Not run: the oracle's masked two-projection wrapper, the weightless
# layer's own predict record and the Terraformer's eval/train record; the
# cases above take their code paths.
LAYERS = ("pure_causal_train", "pure_masked_factored",
          "wrapper_three_weights", "reversible_wrapper_train")
PREDICT = ("wrapper_predict",)


def test_the_oracle_has_these_records(oracle):
    assert set(LAYERS) <= set(oracle["layers"])
    assert set(PREDICT) <= set(oracle["predict"])
    assert oracle["terraformer_predict"]


@pytest.mark.parametrize("name", LAYERS)
def test_layer_matches_trax(oracle, name):
    rec = oracle["layers"][name]
    layer = eval(rec["constructor"])  # pylint: disable=eval-used
    x = _value(rec["input"])
    assert str(layer) == rec["repr"]
    assert (layer.n_in, layer.n_out) == (rec["n_in"], rec["n_out"])
    layer.init(shapes.signature(x), rng=trax_random.get_prng(0))
    weights, state, rng = layer.weights, layer.state, layer.rng
    assert _typed(weights) == rec["weights_typed"]
    assert _typed(state) == rec["state_typed"]
    _assert_tree_close(weights, _value(rec["weights"]), exact=True)
    _assert_tree_close(state, _value(rec["state"]), exact=True)
    np.testing.assert_array_equal(rng, oracle_array(rec["rng_after_init"]))

    reformer_checks.assert_two_calls_and_grads_match(
        layer, x, weights, state, rng, rec)


@pytest.mark.parametrize("name", PREDICT)
def test_predict_mode_matches_trax(oracle, name):
    # A prefix, then one position per call past the memory's size (which
    # then drops its oldest positions), as in fast decoding.
    rec = oracle["predict"][name]
    layer = eval(rec["constructor"])  # pylint: disable=eval-used
    assert str(layer) == rec["repr"]
    pieces = [_value(p) for p in rec["pieces"]]
    first = pieces[0] if isinstance(pieces[0], tuple) else (pieces[0],)
    sig = tuple(shapes.ShapeDtype((p.shape[0], 1) + p.shape[2:], p.dtype)
                for p in first)
    layer.init(sig if len(sig) > 1 else sig[0], rng=trax_random.get_prng(0))
    assert _typed(layer.state) == rec["state_typed"]
    step = jax.jit(layer.pure_fn)
    state, rng = layer.state, layer.rng
    for piece, expected in zip(pieces, rec["outputs"]):
        y, state = step(piece, layer.weights, state, rng)
        np.testing.assert_allclose(y, oracle_array(expected), **TOL)
    leaves = [np.asarray(leaf).astype(summary["dtype"]) for leaf, summary
              in zip(jax.tree_util.tree_leaves(state), rec["final_state"])]
    _assert_summaries(leaves, rec["final_state"], with_hash=True,
                      float_hash=False)


@pytest.mark.parametrize("name", _names("terraformer_predict"))
def test_terraformer_with_pure_lsh_predict_mode_matches_trax(oracle, name):
    rec = oracle["terraformer_predict"][name]
    model = eval(rec["constructor"])  # pylint: disable=eval-used
    assert str(model) == rec["repr"]
    source = oracle_array(rec["source"])
    targets = [oracle_array(t) for t in rec["targets"]]
    model.init((shapes.signature(source), shapes.signature(targets[0])),
               rng=trax_random.get_prng(0))
    assert _typed(model.state) == rec["state_typed"]
    step = jax.jit(model.pure_fn)
    state, rng = model.state, model.rng
    for target, expected in zip(targets, rec["outputs"]):
        (logits, _), state = step((source, target), model.weights, state, rng)
        np.testing.assert_allclose(logits, oracle_array(expected), **TOL)


def test_exported_as_in_trax():
    from trax_compat.layers import efficient_attention  # pylint: disable=g-import-not-at-top
    assert unwrapped(tl.PureLSHSelfAttention) is (
        efficient_attention.PureLSHSelfAttention)
    assert (unwrapped(tl.PureLSHSelfAttentionWrapper)
            is efficient_attention.PureLSHSelfAttentionWrapper)


def test_bad_options_say_so():
    with pytest.raises(ValueError, match="causal=True"):
        tl.PureLSHSelfAttention(mode="predict")
    with pytest.raises(ValueError, match="takes no mask"):
        tl.PureLSHSelfAttention(causal=True, masked=True, mode="predict")
    with pytest.raises(ValueError, match="n_buckets must be even"):
        tl.PureLSHSelfAttention(n_buckets=5)
    with pytest.raises(ValueError, match="num_weights=4"):
        tl.PureLSHSelfAttentionWrapper(num_weights=4)
    with pytest.raises(NotImplementedError, match="weights_format='sparse'"):
        tl.PureLSHSelfAttentionWrapper(weights_format="sparse")
    layer = tl.PureLSHSelfAttention(n_heads=2)
    sig = shapes.ShapeDtype((3, 8, 4))
    with pytest.raises(Exception, match="multiple of n_heads"):
        layer.init((sig, sig))
    with pytest.raises(ValueError, match="takes 2 inputs"):
        tl.PureLSHSelfAttention(n_heads=1).init_weights_and_state(sig)
