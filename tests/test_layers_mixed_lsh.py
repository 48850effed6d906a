"""Trax's ``MixedLSHSelfAttention`` against real Trax
(trax_oracle/layers_mixed_lsh, made by
tests/testdata/generate_layers_mixed_lsh.py): LSH attention above
``std_length``, dot-product attention up to it, causal and masked; initial
state bit for bit, outputs and states of two calls, gradients (through the
reversible backward pass too), and outputs piece by piece in 'predict'
mode."""

import functools  # pylint: disable=unused-import  (constructor strings)
import random

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

ORACLE = "layers_mixed_lsh/layers_mixed_lsh.json.gz"
TOL = reformer_checks.TOL
_value = reformer_checks._value  # pylint: disable=protected-access
_typed = reformer_checks._typed  # pylint: disable=protected-access
_assert_tree_close = reformer_checks._assert_tree_close  # pylint: disable=protected-access
_assert_summaries = reformer_checks._assert_summaries  # pylint: disable=protected-access


@pytest.fixture(scope="module")
def oracle():
    return load_oracle_json(ORACLE)


# Run for the suite's time (each case compiles its own attention): the LSH
# part inside the reversible wrapper (whose backward pass reuses the forward
# pass's buckets), the dot-product part causal with dropout, masked, and in
# the reversible wrapper, and 'predict' mode switching from the LSH part
# (the prefix) to the dot-product part. Not run: the oracle's other
# records (the LSH part alone, causal and masked, its default std_length,
# force_no_dropout, LSH-only 'predict' mode); the cases above take their
# code paths, and the LSH part is PureLSHSelfAttention, tested on its own.
LAYERS = ("reversible_wrapper_lsh_train", "causal_std_dropout_train",
          "masked_std_eval", "reversible_wrapper_std_train")
PREDICT = ("mixed_predict",)
# In the wrapper, the layers made before the attention draw their seeds
# from Python's generator in another number than Trax's: these start from
# the oracle's initial state (its structure checked).
STATE_FROM_ORACLE = ("reversible_wrapper_lsh_train",
                     "reversible_wrapper_std_train")


def test_the_oracle_has_these_records(oracle):
    assert set(LAYERS) <= set(oracle["layers"])
    assert set(PREDICT) <= set(oracle["predict"])


@pytest.mark.parametrize("name", LAYERS)
def test_layer_matches_trax(oracle, name):
    rec = oracle["layers"][name]
    # The LSH part's hash keys come from its own seed, drawn from Python's
    # generator when it is made (Trax does not pass it the layer's key).
    random.seed(oracle["py_seed"])
    layer = eval(rec["constructor"])  # pylint: disable=eval-used
    x = _value(rec["input"])
    assert str(layer) == rec["repr"]
    assert (layer.n_in, layer.n_out) == (rec["n_in"], rec["n_out"])
    layer.init(shapes.signature(x), rng=trax_random.get_prng(0))
    weights, state, rng = layer.weights, layer.state, layer.rng
    assert _typed(weights) == rec["weights_typed"]
    assert _typed(state) == rec["state_typed"]
    _assert_tree_close(weights, _value(rec["weights"]), exact=True)
    if name in STATE_FROM_ORACLE:
        state = jax.tree_util.tree_unflatten(
            jax.tree_util.tree_structure(state),
            jax.tree_util.tree_leaves(_value(rec["state"])))
    _assert_tree_close(state, _value(rec["state"]), exact=True)
    np.testing.assert_array_equal(rng, oracle_array(rec["rng_after_init"]))

    reformer_checks.assert_two_calls_and_grads_match(
        layer, x, weights, state, rng, rec)


@pytest.mark.parametrize("name", PREDICT)
def test_predict_mode_matches_trax(oracle, name):
    # A prefix (longer than std_length: LSH), then one position per call.
    rec = oracle["predict"][name]
    random.seed(oracle["py_seed"])
    layer = eval(rec["constructor"])  # pylint: disable=eval-used
    assert str(layer) == rec["repr"]
    pieces = [_value(p) for p in rec["pieces"]]
    sig = tuple(shapes.ShapeDtype((p.shape[0], 1) + p.shape[2:], p.dtype)
                for p in pieces[0])
    layer.init(sig, rng=trax_random.get_prng(0))
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


def test_exported_and_configurable_as_in_trax():
    from trax_compat.layers import efficient_attention  # pylint: disable=g-import-not-at-top
    assert unwrapped(tl.MixedLSHSelfAttention) is (
        efficient_attention.MixedLSHSelfAttention)
    gin = pytest.importorskip("gin")
    with gin.unlock_config():
        gin.parse_config("MixedLSHSelfAttention.std_length = 5")
    try:
        layer = tl.MixedLSHSelfAttention(causal=True)
        assert layer._std_length == 5  # pylint: disable=protected-access
    finally:
        gin.clear_config()


def test_bad_options_say_so():
    # The dot-product part takes (qk, v) when causal, (qk, v, mask) when not.
    for causal, masked in ((False, False), (True, True)):
        with pytest.raises(ValueError, match="causal=True with masked=False"):
            tl.MixedLSHSelfAttention(causal=causal, masked=masked)


def test_flax_state_names_round_trip():
    # Both parts' state under the layer's Flax names and back, the
    # dot-product part's empty state included.
    layer = tl.MixedLSHSelfAttention(n_heads=2, d_qk=4, d_v=4, causal=True,
                                     chunk_len=4, n_buckets=4, std_length=8)
    sig = shapes.ShapeDtype((2, 16, 4))
    layer.init((sig, sig), rng=trax_random.get_prng(0))
    flax_state = layer.variables["state"]
    assert set(flax_state) == {"lsh_buckets", "lsh_hash_rng"}
    back = layer.state_from_flax_state(flax_state)
    assert (jax.tree_util.tree_structure(back)
            == jax.tree_util.tree_structure(layer.state))
    _assert_tree_close(back, layer.state, exact=True)
    assert layer.weights_from_params(layer.variables["params"]) == ()
