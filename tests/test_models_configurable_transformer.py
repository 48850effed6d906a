"""The configurable Transformers
(trax.models.research.configurable_transformer) against real Trax
(trax_oracle/models_configurable_transformer, see
tests/testdata/generate_models_configurable_transformer.py).

Models: repr in eval and train mode, weight and state structure, every
initial weight bit for bit (SHA-256), and the output in one mode (the
train output with Trax's dropout keys and its new state, or the eval
output). Decoding: the 'predict'-mode model's initial weights bit for bit
and the tokens of greedy ``autoregressive_sample``. Floats within 1e-5.
"""

import functools  # pylint: disable=unused-import  (constructor strings)
import hashlib

import jax
import numpy as np
import pytest

import trax_compat as trax
from trax_compat import layers as tl  # pylint: disable=unused-import  (constructors)
from trax_compat import shapes
from trax_compat.fastmath import random as trax_random
from trax_compat.gin_registry import unwrapped
from trax_compat.models.reformer import configurable
from trax_compat.models.research import configurable_transformer as ct
from trax_compat.supervised import decoding

from conftest import load_oracle_json
from conftest import oracle_array

ORACLE = ("models_configurable_transformer/"
          "models_configurable_transformer.json.gz")
TOL = dict(rtol=1e-5, atol=1e-5)
MODELS = ("encoder_chunked_attention", "encoder_axial",
          "lm_lsh_sru_chunked_ff", "lm_self_attention_random_start",
          "transformer_sru_sincos")
DECODES = ("lm_decode", "transformer_shared_vocab_decode")


@pytest.fixture(scope="module")
def oracle():
    return load_oracle_json(ORACLE)


def test_the_oracle_lists_these_models(oracle):
    assert tuple(oracle["models"]) == MODELS
    assert tuple(oracle["decodes"]) == DECODES


def _value(entry):
    if "tuple" in entry:
        return tuple(_value(e) for e in entry["tuple"])
    return oracle_array(entry)


def _typed(tree):
    """Our tree in the oracle's ``tree_typed`` layout."""
    if isinstance(tree, tuple):
        return {"tuple": [_typed(t) for t in tree]} if tree else None
    if isinstance(tree, list):
        return {"list": [_typed(t) for t in tree]}
    return {"shape": list(np.shape(tree)),
            "dtype": np.asarray(tree).dtype.name}


def _build(constructor, mode):
    return eval(constructor.replace("MODE", repr(mode)))  # pylint: disable=eval-used


def _sha256(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _assert_leaves(tree, summaries, float_hash=True):
    """Leaves against the oracle's summaries: SHA-256 (for computed floats,
    ``float_hash=False``, the first values and sums instead)."""
    leaves = jax.tree_util.tree_leaves(tree)
    assert len(leaves) == len(summaries)
    for leaf, summary in zip(leaves, summaries):
        leaf = np.asarray(leaf)
        assert list(leaf.shape) == summary["shape"]
        assert leaf.dtype.name == summary["dtype"]
        if float_hash or not np.issubdtype(leaf.dtype, np.floating):
            assert _sha256(leaf) == summary["sha256"]
            continue
        flat = leaf.reshape(-1)
        np.testing.assert_allclose(flat[:len(summary["first"])],
                                   summary["first"], **TOL)
        np.testing.assert_allclose(np.sum(flat, dtype=np.float64),
                                   summary["sum"], rtol=1e-5, atol=1e-4)


def _assert_close(ours, theirs):
    ours, theirs = jax.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(
        theirs)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert np.shape(a) == np.shape(b)
        np.testing.assert_allclose(a, b, **TOL)


# The mode each model's output is compared in (each compile costs seconds):
# 'train' where Trax's train output differs from its eval output (dropout,
# LSH hashing, the sin-cos encoding's random offset), so that Trax's keys
# are followed; 'eval' for the rest, for eval mode's own paths.
RUN_MODE = {"encoder_chunked_attention": "train", "encoder_axial": "eval",
            "lm_lsh_sru_chunked_ff": "train",
            "lm_self_attention_random_start": "train",
            "transformer_sru_sincos": "train"}


@pytest.mark.parametrize("name", MODELS)
def test_model_matches_trax(oracle, name):
    rec = oracle["models"][name]
    x = _value(rec["input"])
    models = {mode: _build(rec["constructor"], mode)
              for mode in ("eval", "train")}
    for mode, model in models.items():
        assert str(model) == rec["repr"][mode]
    # Both modes initialise the same weights and state (the oracle checks
    # it), so one initialisation serves both.
    assert rec["eval_weights_equal_train"]
    weights, state = models["train"].init(shapes.signature(x),
                                          rng=trax_random.get_prng(0))
    assert _typed(weights) == rec["weights_typed"]
    assert _typed(state) == rec["state_typed"]
    _assert_leaves(weights, rec["weights"])

    mode = RUN_MODE[name]
    rng = trax_random.get_prng(
        oracle["train_rng_seed"] if mode == "train" else 0)
    y, new_state = jax.jit(models[mode].pure_fn)(x, weights, state, rng)
    _assert_close(y, _value(rec[mode + "_output"]))
    if mode == "train":
        _assert_leaves(new_state, rec["train_new_state"], float_hash=False)


@pytest.mark.parametrize("name", DECODES)
def test_greedy_decoding_matches_trax(oracle, name):
    rec = oracle["decodes"][name]
    assert rec["argmax_equals_greedy"] and rec["min_margin"] > 1e-3
    model = _build(rec["constructor"], "predict")
    assert str(model) == rec["repr"]
    inputs = oracle_array(rec["inputs"])
    step = shapes.ShapeDtype((rec["batch_size"], 1), np.int32)
    sig = step if model.n_in == 1 else (shapes.signature(inputs), step)
    model.init(sig, rng=trax_random.get_prng(0))
    assert _typed(model.weights) == rec["weights_typed"]
    _assert_leaves(model.weights, rec["weights"])
    tokens = decoding.autoregressive_sample(
        model, inputs=inputs, batch_size=rec["batch_size"], temperature=0.0,
        max_length=rec["max_length"])
    np.testing.assert_array_equal(tokens, oracle_array(rec["output"]))


def test_names_as_in_trax():
    # The helpers are the Reformer's, reached under Trax's module too.
    for name in ("FeedForwardWithOptions", "ApplyAttentionLayer",
                 "PositionalEncoder", "EmbeddingAndPositionalEncodings",
                 "_FeedForward"):
        assert getattr(ct, name) is getattr(configurable, name)
    for name in ("ConfigurableTransformer", "ConfigurableTransformerLM",
                 "ConfigurableTransformerEncoder"):
        assert unwrapped(getattr(trax.models, name)) is getattr(ct, name)
    assert trax.models.research.configurable_transformer is ct


def test_sparse_options_build_the_sparsity_layers():
    # Their numbers are checked against Trax with the layers themselves;
    # here, that each option reaches its layer as in Trax.
    lm = str(ct.ConfigurableTransformerLM(
        10, d_model=4, d_ff=8, n_layers=1, n_heads=2, ff_sparsity=2,
        loss_sparsity=2))
    # SparseFF's layers, and FactoredDense's weights in place of Dense_10.
    assert "_SparseFFMain_8" in lm and "Dense_8" not in lm
    assert "Weights_[2, 4]" in lm and "Dense_10" not in lm
    prob = str(ct.ConfigurableTransformerLM(
        10, d_model=4, d_ff=8, n_layers=1, n_heads=2, loss_sparsity_prob=0.5,
        loss_sparsity_type=None))
    assert "Cond" in prob
    # enc_dec_attention_sparsity=N: an N-sparse query layer and nothing
    # after the attention, in place of two of the four Dense layers.
    dense = [ct.EncoderDecoderBlock(
        4, 8, 2, 0.0, None, "eval", tl.Relu, 0.0, 0, 0, 0, "1inN", 0,
        tl.CausalAttention, enc_dec_attention_sparsity=s)[1]
        for s in (0, 2)]
    assert str(dense[0]).count("Dense_4") == 4
    assert str(dense[1]).count("Dense_4") == 2


def test_mode_and_masked_attention_are_checked():
    with pytest.raises(ValueError, match="mode='test'"):
        ct.ConfigurableTransformerEncoder(10, mode="test")
    # A masked SelfAttention takes (vectors, mask) and gives vectors only:
    # the encoder's residual would lose the mask.
    with pytest.raises(ValueError, match="'SelfAttention' built with "
                                         "masked=True maps 2 inputs to 1"):
        ct.ConfigurableTransformerEncoder(
            10, d_model=4, d_ff=8, n_layers=1, n_heads=2,
            attention_type=tl.SelfAttention)


def test_gin_binds_the_models_by_trax_names():
    import gin  # pylint: disable=g-import-not-at-top
    from trax_compat import gin_registry  # pylint: disable=g-import-not-at-top
    gin.clear_config()
    try:
        gin.parse_config([
            "trax.models.ConfigurableTransformerLM.d_model = 4",
            "trax.models.ConfigurableTransformerLM.d_ff = 6",
            "trax.models.ConfigurableTransformerLM.n_layers = 1",
            "trax.models.ConfigurableTransformerLM.n_heads = 2",
            "trax.models.ConfigurableTransformerLM.attention_type = "
            "@trax.layers.SelfAttention",
        ])
        model = gin_registry.configurable(trax.models.ConfigurableTransformerLM
                                          )(vocab_size=7)
    finally:
        gin.clear_config()
    text = str(model)
    assert "SelfAttention" in text and "Dense_6" in text
    assert "Dense_7" in text and "Dense_2048" not in text
