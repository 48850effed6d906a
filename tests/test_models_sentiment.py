"""Tests for the Flax version of the Trax sentiment tutorial model."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models import (
    SentimentClassifier,
    params_from_trax_weights,
    trax_initial_weights,
    trax_weights_from_params,
)
from tests.conftest import load_oracle_json, oracle_array, oracle_npz


def _init(model, key=0, shape=(2, 5)):
    return model.init(jax.random.PRNGKey(key), jnp.zeros(shape, jnp.int32))


def _random_trax_weights(vocab_size, d_feature, n_classes, seed=0):
    rng = np.random.default_rng(seed)
    emb = rng.normal(size=(vocab_size, d_feature)).astype(np.float32)
    w = rng.normal(size=(d_feature, n_classes)).astype(np.float32)
    b = rng.normal(size=(n_classes,)).astype(np.float32)
    return (emb, (), (w, b), ())


def _numpy_forward(weights, ids):
    emb, _, (w, b), _ = weights
    ids = np.clip(np.asarray(ids), 0, emb.shape[0] - 1)
    x = emb[ids].astype(np.float64).mean(axis=1)  # all positions, padding too
    logits = x @ w.astype(np.float64) + b.astype(np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


@pytest.fixture(scope="module")
def default_variables():
    return _init(SentimentClassifier())


def test_default_hyperparameters_and_param_tree(default_variables):
    model = SentimentClassifier()
    assert (model.vocab_size, model.d_feature, model.n_classes) == (8192, 256, 2)
    variables = default_variables
    shapes = jax.tree_util.tree_map(lambda a: a.shape, variables)
    assert shapes == {"params": {"embed": {"embedding": (8192, 256)},
                                 "dense": {"kernel": (256, 2), "bias": (2,)}}}
    assert all(a.dtype == jnp.float32
               for a in jax.tree_util.tree_leaves(variables))


def test_output_shape_and_log_probabilities():
    model = SentimentClassifier(vocab_size=100, d_feature=16, n_classes=3)
    variables = _init(model)
    ids = np.random.default_rng(1).integers(0, 100, size=(4, 9))
    out = model.apply(variables, ids)
    assert out.shape == (4, 3)
    assert out.dtype == jnp.float32
    assert np.all(np.asarray(out) <= 0)
    np.testing.assert_allclose(np.exp(np.asarray(out)).sum(axis=-1), 1.0,
                               rtol=1e-6)


def test_rejects_float_ids():
    model = SentimentClassifier(vocab_size=10, d_feature=4)
    variables = _init(model)
    with pytest.raises(TypeError, match="integer token ids"):
        model.apply(variables, jnp.zeros((1, 3), jnp.float32))


def test_embedding_initializer_matches_trax_default(default_variables):
    params = default_variables["params"]
    emb = np.asarray(params["embed"]["embedding"])
    limit = math.sqrt(3.0 / 256)
    assert np.abs(emb).max() <= limit
    assert np.abs(emb).max() > 0.99 * limit  # fills the whole range
    # Uniform(-l, l): mean 0, std l / sqrt(3) = 1 / 16.
    assert abs(emb.mean()) < 1e-3
    np.testing.assert_allclose(emb.std(), 1.0 / 16, rtol=0.01)


def test_dense_kernel_is_glorot_uniform(default_variables):
    kernel = np.asarray(default_variables["params"]["dense"]["kernel"])
    limit = math.sqrt(6.0 / (256 + 2))
    assert np.abs(kernel).max() <= limit
    assert np.abs(kernel).max() > 0.95 * limit
    np.testing.assert_allclose(kernel.std(), limit / math.sqrt(3), rtol=0.1)


def test_dense_bias_is_tiny_normal():
    # Many classes so the std of the bias can be estimated.
    model = SentimentClassifier(vocab_size=4, d_feature=4, n_classes=4000)
    bias = np.asarray(_init(model)["params"]["dense"]["bias"])
    assert np.all(bias != 0)
    np.testing.assert_allclose(bias.std(), 1e-6, rtol=0.1)
    assert abs(bias.mean()) < 1e-7


def test_out_of_range_ids_are_clipped_like_trax():
    model = SentimentClassifier(vocab_size=50, d_feature=8)
    variables = _init(model)
    clipped = model.apply(variables, np.array([[49, 49, 0, 0]]))
    raw = model.apply(variables, np.array([[50, 1000, -1, -7]]))
    np.testing.assert_array_equal(np.asarray(raw), np.asarray(clipped))
    assert np.all(np.isfinite(np.asarray(raw)))
    # Sanity: other ids give another output, so the equality is meaningful.
    other = model.apply(variables, np.array([[48, 48, 1, 1]]))
    assert not np.allclose(np.asarray(other), np.asarray(clipped))


def test_mean_includes_padding_positions():
    model = SentimentClassifier(vocab_size=20, d_feature=6)
    variables = _init(model)
    short = model.apply(variables, np.array([[5, 7]]))
    padded = model.apply(variables, np.array([[5, 7, 0, 0, 0]]))
    assert not np.allclose(np.asarray(short), np.asarray(padded))
    weights = trax_weights_from_params(jax.device_get(variables))
    np.testing.assert_allclose(np.asarray(padded),
                               _numpy_forward(weights, [[5, 7, 0, 0, 0]]),
                               atol=1e-6)


def test_params_round_trip_with_trax_weights():
    weights = _random_trax_weights(30, 8, 2)
    variables = params_from_trax_weights(weights)
    assert set(variables) == {"params"}
    assert variables["params"]["embed"]["embedding"] is weights[0]
    assert variables["params"]["dense"]["kernel"] is weights[2][0]
    assert variables["params"]["dense"]["bias"] is weights[2][1]
    back = trax_weights_from_params(variables)
    assert back[1] == () and back[3] == ()
    np.testing.assert_array_equal(back[0], weights[0])
    np.testing.assert_array_equal(back[2][0], weights[2][0])
    np.testing.assert_array_equal(back[2][1], weights[2][1])
    # The bare params dict is accepted too.
    assert trax_weights_from_params(variables["params"])[2][1] is weights[2][1]


def test_converted_params_have_the_module_tree():
    model = SentimentClassifier(vocab_size=30, d_feature=8)
    flax_tree = jax.tree_util.tree_structure(_init(model))
    converted = params_from_trax_weights(_random_trax_weights(30, 8, 2))
    assert jax.tree_util.tree_structure(converted) == flax_tree


def test_params_from_trax_weights_accepts_lists():
    emb, _, (w, b), _ = _random_trax_weights(10, 4, 2)
    variables = params_from_trax_weights([emb, [], [w, b], []])
    assert variables["params"]["dense"]["bias"] is b


@pytest.mark.parametrize("bad", [
    "not weights",
    (np.zeros((10, 4)), ()),
    (np.zeros((10, 4)), (np.zeros(1),), (np.zeros((4, 2)), np.zeros(2)), ()),
    (np.zeros((10, 4)), (), (np.zeros((4, 2)),), ()),
    (np.zeros((10, 4)), (), (np.zeros((5, 2)), np.zeros(2)), ()),
    (np.zeros((10, 4)), (), (np.zeros((4, 2)), np.zeros(3)), ()),
])
def test_params_from_trax_weights_rejects_wrong_structure(bad):
    with pytest.raises(ValueError):
        params_from_trax_weights(bad)


def test_trax_weights_from_params_rejects_other_trees():
    with pytest.raises(ValueError, match="dense/kernel"):
        trax_weights_from_params({"params": {"embed": {"embedding": 1}}})


def test_forward_pass_matches_hand_computed_numpy():
    weights = _random_trax_weights(40, 12, 2, seed=3)
    variables = params_from_trax_weights(weights)
    ids = np.array([[3, 17, 39, 0, 0, 0],
                    [1, 2, 3, 4, 5, 6],
                    [45, -2, 8, 8, 8, 0]])  # out-of-range ids clip
    out = SentimentClassifier(vocab_size=40, d_feature=12).apply(variables, ids)
    np.testing.assert_allclose(np.asarray(out), _numpy_forward(weights, ids),
                               atol=1e-5)


def test_trax_initial_weights_shapes_and_ranges():
    emb, e1, (w, b), e3 = trax_initial_weights(jax.random.PRNGKey(0), 64, 16, 3)
    assert e1 == () and e3 == ()
    assert emb.shape == (64, 16) and w.shape == (16, 3) and b.shape == (3,)
    assert emb.dtype == w.dtype == b.dtype == jnp.float32
    assert np.abs(np.asarray(emb)).max() <= math.sqrt(3 / 16)
    assert np.abs(np.asarray(w)).max() <= math.sqrt(6 / 19)
    assert np.abs(np.asarray(b)).max() < 1e-5


# --- Against real-Trax oracle data (developer checkouts only) -------------

def test_trax_initial_weights_bit_exact_with_trax_loop_init():
    # init.embedding is stored as a hash: regenerated and checked bitwise.
    oracle = oracle_npz("init_and_step.npz")
    # Trax ran with jax 0.4.34, whose default was a non-partitionable PRNG.
    with jax.threefry_partitionable(False):
        _, model_key = jax.random.split(jax.random.PRNGKey(0))
        emb, _, (w, b), _ = trax_initial_weights(model_key)
        emb, w, b = (np.asarray(a) for a in (emb, w, b))
    np.testing.assert_array_equal(emb, oracle["init.embedding"])
    np.testing.assert_array_equal(w, oracle["init.dense_w"])
    np.testing.assert_array_equal(b, oracle["init.dense_b"])


def test_forward_matches_trax_oracle_small_model():
    entry = load_oracle_json("layers.json")["models"]["a_seed_model_v50_d4"]
    weights = entry["weights_values"]
    trax_weights = (oracle_array(weights[0]), (),
                    (oracle_array(weights[2][0]), oracle_array(weights[2][1])),
                    ())
    with jax.threefry_partitionable(False):
        drawn = trax_initial_weights(jax.random.PRNGKey(0), 50, 4, 2)
    np.testing.assert_array_equal(np.asarray(drawn[0]), trax_weights[0])
    np.testing.assert_array_equal(np.asarray(drawn[2][0]), trax_weights[2][0])

    model = SentimentClassifier(vocab_size=50, d_feature=4, n_classes=2)
    variables = params_from_trax_weights(trax_weights)
    for case in (entry, entry["extra_call_out_of_range_ids"]):
        out = model.apply(variables, oracle_array(case["input"]))
        np.testing.assert_allclose(np.asarray(out),
                                   oracle_array(case["output"]),
                                   rtol=1e-6, atol=1e-6)
