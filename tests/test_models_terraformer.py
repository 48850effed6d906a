"""Trax's research positional encodings, ReformerLM with each ``pos_type``,
the pure-LSH attention and the Terraformer against real Trax
(trax_oracle/models_terraformer, made by
tests/testdata/generate_models_terraformer.py), with the checks of
test_models_reformer.py: initial weights bit for bit, outputs, states and
gradients in train and eval mode, and outputs piece by piece in 'predict'
mode."""

import functools  # pylint: disable=unused-import  (constructor strings)

import jax
import jax.numpy as jnp
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

ORACLE = "models_terraformer/models_terraformer.json.gz"
REVERSIBLE = "models_terraformer/models_terraformer_reversible.json.gz"
TOL = reformer_checks.TOL
_value = reformer_checks._value  # pylint: disable=protected-access
_typed = reformer_checks._typed  # pylint: disable=protected-access
_assert_tree_close = reformer_checks._assert_tree_close  # pylint: disable=protected-access
_assert_summaries = reformer_checks._assert_summaries  # pylint: disable=protected-access
_cotangent = reformer_checks._cotangent  # pylint: disable=protected-access


@pytest.fixture(scope="module")
def oracle():
    return load_oracle_json(ORACLE)


def _names(section):
    return tuple(load_oracle_json(ORACLE)[section])


@pytest.mark.parametrize("name", _names("layers"))
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
    # Two calls as ``layer(x)`` makes them (same key, the state carried),
    # compiled: eagerly the digit loops take seconds.
    xs = x if isinstance(x, tuple) else (x,)

    def loss(float_xs, w, s):
        y, new_state = layer.pure_fn(float_xs if isinstance(x, tuple)
                                     else float_xs[0], w, s, rng)
        return jnp.sum(y * _cotangent(y.shape)), (y, new_state)
    run = jax.jit(jax.grad(loss, argnums=(0, 1), has_aux=True))
    (x_grad, w_grad), (y, new_state) = run(xs, weights, state)
    np.testing.assert_allclose(y, oracle_array(rec["output"]), **TOL)
    _assert_tree_close(new_state, _value(rec["state_after_call"]))
    _, (y2, _) = run(xs, weights, new_state)
    np.testing.assert_allclose(y2, oracle_array(rec["output_2"]), **TOL)
    _assert_tree_close(x_grad, _value(rec["grad_float_inputs"]))
    _assert_tree_close(w_grad, _value(rec["grad_weights"]))


# The oracle's ReformerLM records ("models": fixed-base, sin-cos, axial in
# eval and train mode) are not run, for the test suite's time: the encodings
# are checked as layers above, the fixed-base ReformerLM in predict mode
# below.


@pytest.mark.parametrize("name", _names("predict"))
def test_predict_mode_matches_trax(oracle, name):
    rec = oracle["predict"][name]
    layer = eval(rec["constructor"])  # pylint: disable=eval-used
    assert str(layer) == rec["repr"]
    shape, dtype = rec["signature"]
    layer.init(shapes.ShapeDtype(tuple(shape), np.dtype(dtype)),
               rng=trax_random.get_prng(0))
    assert _typed(layer.state) == rec["state_typed"]
    step = jax.jit(layer.pure_fn)
    state, rng = layer.state, layer.rng
    for piece, expected in zip(rec["pieces"], rec["outputs"]):
        y, state = step(_value(piece), layer.weights, state, rng)
        np.testing.assert_allclose(y, oracle_array(expected), **TOL)
    # Trax's eager NumPy arithmetic may widen an int32 position to int64;
    # the values are what count.
    leaves = [np.asarray(leaf).astype(summary["dtype"]) for leaf, summary
              in zip(jax.tree_util.tree_leaves(state), rec["final_state"])]
    _assert_summaries(leaves, rec["final_state"], with_hash=True,
                      float_hash=False)


def test_positional_encodings_are_exported_as_in_trax():
    from trax_compat.layers.research import position_encodings  # pylint: disable=g-import-not-at-top
    assert (tl.FixedBasePositionalEncoding
            is position_encodings.FixedBasePositionalEncoding)
    assert unwrapped(tl.AxialPositionalEncoding) is (
        position_encodings.AxialPositionalEncoding)


def test_unbuilt_pos_types_and_bad_widths_say_so():
    with pytest.raises(NotImplementedError, match="pos_type='infinite'"):
        trax.models.ReformerLM(10, pos_type="infinite")
    with pytest.raises(ValueError, match="pos_axial_shape and pos_d_axial"):
        trax.models.ReformerLM(10, pos_type="axial", pos_axial_shape=())
    layer = tl.FixedBasePositionalEncoding(n_digits=3)
    with pytest.raises(Exception, match="divisible by n_digits"):
        layer.init(shapes.ShapeDtype((1, 4, 8)))
# The train output (dropout, random positions) of the dot-product one only:
# compiling the LSH one again in train mode doubles its time.
TRAIN_RUN = ("terraformer_dot_two_vocabs",)


@pytest.mark.parametrize("name", _names("terraformers"))
def test_terraformer_matches_trax(oracle, name):
    rec = oracle["terraformers"][name]
    x = _value(rec["input"])
    models = {mode: eval(  # pylint: disable=eval-used
        rec["constructor"].replace("MODE", repr(mode)))
        for mode in ("eval", "train")}
    for mode, model in models.items():
        assert str(model) == rec["repr"][mode]
    weights, state = models["train"].init(shapes.signature(x),
                                          rng=trax_random.get_prng(0))
    assert _typed(weights) == rec["weights_typed"]
    assert _typed(state) == rec["state_typed"]
    _assert_summaries(jax.tree_util.tree_leaves(weights), rec["weights"],
                      with_hash=True)
    eval_y, _ = jax.jit(models["eval"].pure_fn)(x, weights, state,
                                                 trax_random.get_prng(0))
    _assert_tree_close(eval_y, _value(rec["eval_output"]))
    if name not in TRAIN_RUN:
        return
    train_y, _ = jax.jit(models["train"].pure_fn)(
        x, weights, state, trax_random.get_prng(oracle["train_rng_seed"]))
    _assert_tree_close(train_y, _value(rec["train_output"]))


@pytest.mark.parametrize("name", _names("terraformer_predict"))
def test_terraformer_predict_mode_matches_trax(oracle, name):
    # The source with the first target token, then one token per call: the
    # encoder runs once (cached), the decoder continues from its memory.
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


def test_terraformer_is_exported_as_in_trax():
    from trax_compat.models.research import terraformer  # pylint: disable=g-import-not-at-top
    assert unwrapped(trax.models.ConfigurableTerraformer) is (
        terraformer.ConfigurableTerraformer)


def test_terraformer_bad_widths_say_so():
    make = functools.partial(trax.models.ConfigurableTerraformer, 10,
                             d_model=8, n_heads=2, n_decoder_layers=2)
    with pytest.raises(ValueError, match="halves d_ff, which is odd"):
        make(d_ff=15, half_before_layer=1)
    with pytest.raises(ValueError, match="half_before_layer .3. must be at"):
        make(half_before_layer=3)
    with pytest.raises(ValueError, match="double_after_layer .2. must be"):
        make(double_after_layer=2)


# -- reversible_encoder=True -------------------------------------------------

# Initial weights within float rounding of Trax's, compared by value:
# (model, leaf index) -> what. The decoder SRU's 1e-6-scaled normal bias
# differs in a few last bits (its sum by 6e-13); every other leaf is bitwise.
ROUNDED_INIT = {("reversible_dot_sru_forget", 147): "decoder SRU Dense bias"}


@pytest.fixture(scope="module")
def reversible_oracle():
    return load_oracle_json(REVERSIBLE)


# Run for the suite's time (each model compiles for seconds): the
# dot-product/SRU model with a forgetting layer in eval mode, and the
# pure-LSH one (as Trax's scientific-papers config) decoding greedily in
# 'predict' mode. Not run: the oracle's pure-LSH eval record, the other
# greedy record, and the train output and weight gradients (the
# reversible backward pass is checked on ReformerLM and the pure-LSH
# wrapper, whose blocks these are).
REVERSIBLE_RUN = ("reversible_dot_sru_forget",)
GREEDY_RUN = ("reversible_pure_lsh_greedy",)


def test_the_reversible_oracle_has_these_records(reversible_oracle):
    assert set(REVERSIBLE_RUN) <= set(reversible_oracle["terraformers"])
    assert set(GREEDY_RUN) <= set(reversible_oracle["greedy"])


@pytest.mark.parametrize("name", REVERSIBLE_RUN)
def test_reversible_encoder_terraformer_matches_trax(reversible_oracle,
                                                     name):
    # The encoder's two halves each joined with the decoder's input.
    rec = reversible_oracle["terraformers"][name]
    x = _value(rec["input"])
    models = {mode: eval(  # pylint: disable=eval-used
        rec["constructor"].replace("MODE", repr(mode)))
        for mode in ("eval", "train")}
    for mode, model in models.items():
        assert str(model) == rec["repr"][mode]
    weights, state = models["train"].init(shapes.signature(x),
                                          rng=trax_random.get_prng(0))
    assert _typed(weights) == rec["weights_typed"]
    assert _typed(state) == rec["state_typed"]
    leaves = jax.tree_util.tree_leaves(weights)
    assert len(leaves) == len(rec["weights"])
    for i, (leaf, summary) in enumerate(zip(leaves, rec["weights"])):
        _assert_summaries([leaf], [summary],
                          with_hash=(name, i) not in ROUNDED_INIT)
    eval_y, _ = jax.jit(models["eval"].pure_fn)(x, weights, state,
                                                 trax_random.get_prng(0))
    _assert_tree_close(eval_y, _value(rec["eval_output"]))


@pytest.mark.parametrize("name", GREEDY_RUN)
def test_reversible_encoder_greedy_decoding_matches_trax(reversible_oracle,
                                                         name):
    # Token 0 with the source, then each call's argmax token fed back.
    rec = reversible_oracle["greedy"][name]
    model = eval(rec["constructor"])  # pylint: disable=eval-used
    assert str(model) == rec["repr"]
    source = oracle_array(rec["source"])
    target = np.zeros((source.shape[0], 1), np.int32)
    model.init((shapes.signature(source), shapes.signature(target)),
               rng=trax_random.get_prng(0))
    assert _typed(model.state) == rec["state_typed"]
    step = jax.jit(model.pure_fn)
    state, rng = model.state, model.rng
    for expected_logits, expected_tokens in zip(rec["outputs"],
                                                rec["tokens"]):
        (logits, _), state = step((source, target), model.weights, state,
                                  rng)
        np.testing.assert_allclose(logits, oracle_array(expected_logits),
                                   **TOL)
        target = np.asarray(jnp.argmax(logits[:, -1, :], axis=-1),
                            np.int32)[:, None]
        assert target[:, 0].tolist() == expected_tokens
