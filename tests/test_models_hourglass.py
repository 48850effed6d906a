"""Transformer2, HourglassLM (with its resampling and relative-attention
layers), ResidualShuffleExchange and rotary positions (alone and in
pure-LSH attention) against real Trax (trax_oracle/models_hourglass, made by
tests/testdata/generate_models_hourglass.py): repr, weight and state
structure, initial weights bit for bit, eval and train outputs, Transformer2
piece by piece in 'predict' mode, and the layers' outputs and gradients."""

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

ORACLE = "models_hourglass/models_hourglass.json.gz"
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


def _assert_initial_weights(leaves, summaries):
    """Bit for bit, except where JAX's normal sampler rounds differently:
    today's XLA inverse error function differs from that of Trax's JAX
    (0.4.34) by a few ulps in about 3 of 10,000 normal draws (the same
    uniform bits under them), so such a leaf must match Trax's first values
    to 4 ulps and its sum closely, and such leaves must be rare."""
    assert len(leaves) == len(summaries)
    n_rounded = 0
    for leaf, summary in zip(leaves, summaries):
        leaf = np.asarray(leaf)
        assert (list(leaf.shape), leaf.dtype.name) == (summary["shape"],
                                                      summary["dtype"])
        if reformer_checks._sha256(leaf) == summary["sha256"]:  # pylint: disable=protected-access
            continue
        n_rounded += 1
        first = np.asarray(summary["first"], np.float32)
        ulp = np.spacing(np.float32(np.max(np.abs(leaf))))
        np.testing.assert_allclose(leaf.reshape(-1)[:first.size], first,
                                   rtol=0, atol=4 * ulp)
        np.testing.assert_allclose(np.sum(leaf, dtype=np.float64),
                                   summary["sum"], rtol=0,
                                   atol=4 * ulp * leaf.size ** 0.5)
    assert n_rounded <= 2, f"{n_rounded} leaves are not Trax's bits"


def _build(constructor, mode=None):
    if mode is not None:
        constructor = constructor.replace("MODE", repr(mode))
    return eval(constructor)  # pylint: disable=eval-used


# One configuration per model is run in train mode (dropout on), the others
# in eval mode: compiling both programs would double the file's time.
TRAIN_RUN = ("transformer2_two_vocabs", "hourglass_default",
             "rse_one_block")
# Layers the models do not already cover (the relative attention with
# queries longer than keys runs in every model's upsampling).
LAYERS = ("no_upsampling", "naive_upsampling", "linear_pooling",
          "rel_attention_lm_down", "rotate", "purelsh_wrapper_rotary",
          "shift_right_cls")


@pytest.mark.parametrize("name", _names("models"))
def test_model_matches_trax(oracle, name):
    rec = oracle["models"][name]
    x = _value(rec["input"])
    models = {mode: _build(rec["constructor"], mode)
              for mode in ("eval", "train")}
    for mode, model in models.items():
        assert str(model) == rec["repr"][mode]
    weights, state = models["train"].init(shapes.signature(x),
                                          rng=trax_random.get_prng(0))
    assert _typed(weights) == rec["weights_typed"]
    assert _typed(state) == rec["state_typed"]
    _assert_initial_weights(jax.tree_util.tree_leaves(weights),
                            rec["weights"])
    if name not in TRAIN_RUN:
        eval_y, _ = jax.jit(models["eval"].pure_fn)(x, weights, state,
                                                     trax_random.get_prng(0))
        _assert_tree_close(eval_y, _value(rec["eval_output"]))
        return
    train_y, _ = jax.jit(models["train"].pure_fn)(
        x, weights, state, trax_random.get_prng(oracle["train_rng_seed"]))
    _assert_tree_close(train_y, _value(rec["train_output"]))


@pytest.mark.parametrize("name", _names("predict"))
def test_transformer2_predict_mode_matches_trax(oracle, name):
    # The source with the first target token, then one token per call: the
    # encoder runs once (cached), the joined sequence only on the first call.
    rec = oracle["predict"][name]
    model = _build(rec["constructor"])
    assert str(model) == rec["repr"]
    source = oracle_array(rec["source"])
    targets = [oracle_array(t) for t in rec["targets"]]
    model.init((shapes.signature(source), shapes.signature(targets[0])),
               rng=trax_random.get_prng(0))
    assert _typed(model.state) == rec["state_typed"]
    # Compiled twice: the first call changes the state's shapes.
    step = jax.jit(model.pure_fn)
    state, rng = model.state, model.rng
    for target, expected in zip(targets, rec["outputs"]):
        (logits, _), state = step((source, target), model.weights, state,
                                  rng)
        np.testing.assert_allclose(logits, oracle_array(expected), **TOL)


@pytest.mark.parametrize("name", LAYERS)
def test_layer_matches_trax(oracle, name):
    rec = oracle["layers"][name]
    layer = _build(rec["constructor"])
    x = _value(rec["input"])
    assert str(layer) == rec["repr"]
    assert (layer.n_in, layer.n_out) == (rec["n_in"], rec["n_out"])
    layer.init(shapes.signature(x), rng=trax_random.get_prng(0))
    weights, state, rng = layer.weights, layer.state, layer.rng
    assert _typed(weights) == rec["weights_typed"]
    _assert_tree_close(weights, _value(rec["weights"]), exact=True)
    xs = x if isinstance(x, tuple) else (x,)

    def loss(float_xs, w):
        y, _ = layer.pure_fn(float_xs if isinstance(x, tuple)
                             else float_xs[0], w, state, rng)
        return jnp.sum(y * _cotangent(y.shape)), y
    (x_grad, w_grad), y = jax.jit(jax.grad(loss, argnums=(0, 1),
                                           has_aux=True))(xs, weights)
    np.testing.assert_allclose(y, oracle_array(rec["output"]), **TOL)
    _assert_tree_close(x_grad, _value(rec["grad_float_inputs"]))
    _assert_tree_close(w_grad, _value(rec["grad_weights"]))


def test_bad_hierarchies_and_predict_mode_are_refused(oracle):
    # Trax refuses the same calls (its predict refusal is a bare assert).
    for name, expected_words in (
            ("hourglass_not_palindrome", "not a palindrome"),
            ("hourglass_not_divisible", "not divisible by previous level"),
            ("hourglass_predict", "'predict' mode")):
        rec = oracle["errors"][name]
        assert rec["type"] in ("ValueError", "AssertionError")
        with pytest.raises(ValueError, match=expected_words):
            _build(rec["constructor"])


def test_exported_as_in_trax():
    from trax_compat.layers import attention  # pylint: disable=g-import-not-at-top
    from trax_compat.layers.research import rel_attention  # pylint: disable=g-import-not-at-top
    from trax_compat.layers.research import resampling  # pylint: disable=g-import-not-at-top
    from trax_compat.models.research import hourglass  # pylint: disable=g-import-not-at-top
    from trax_compat.models.research import rse  # pylint: disable=g-import-not-at-top
    from trax_compat.models.research import transformer2  # pylint: disable=g-import-not-at-top
    assert unwrapped(trax.models.HourglassLM) is hourglass.HourglassLM
    assert unwrapped(trax.models.ResidualShuffleExchange) is (
        rse.ResidualShuffleExchange)
    assert unwrapped(trax.models.Transformer2) is transformer2.Transformer2
    assert trax.models.rse is rse
    # trax.models names the models only, not their modules' helper layers.
    assert not hasattr(trax.models, "ConcatWithPadding")
    assert unwrapped(tl.LinearPooling) is resampling.LinearPooling
    assert unwrapped(tl.RelativeAttentionWrapper) is (
        rel_attention.RelativeAttentionWrapper)
    # As before: tl.DotProductAttention stays the attention module's layer.
    assert tl.DotProductAttention is attention.DotProductAttention


def test_gin_configures_them_under_traxs_names():
    gin = pytest.importorskip("gin")
    gin.clear_config()
    try:
        gin.parse_config("""
            HourglassLM.d_model = 8
            HourglassLM.attention_upsampling_fn = @NaiveUpsampling
            ResidualShuffleExchange.d_model = 4
        """)
        lm = gin.get_configurable("trax.models.HourglassLM")(
            vocab_size=5, d_ff=8, n_heads=2, hierarchy="1@2")
        assert "Repeat" in str(lm)
        rse = gin.get_configurable("trax.models.ResidualShuffleExchange")(
            vocab_size=5, input_dropout=0.0, dropout=0.0)
        assert "Dense_8" in str(rse)  # 2 * d_model from the binding
        gin.get_configurable("trax.models.Transformer2")
    finally:
        gin.clear_config()
