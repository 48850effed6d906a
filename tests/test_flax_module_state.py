"""A Flax Linen module used as a Trax layer (``tl.FlaxModule``) keeps all its
collections: ``params`` are its weights and the others (``nn.BatchNorm``'s
``batch_stats``) its state, updated by training and restored from a
checkpoint."""

import contextlib
import io

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

import trax_compat as trax
from trax_compat import layers as tl
from trax_compat.supervised import checkpoints
from trax_compat.supervised import training
from tests.conftest import float_batches

LR = 0.1
N_STEPS = 6


class BatchNormClassifier(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.Dense(8)(x)
        x = nn.BatchNorm(use_running_average=False, momentum=0.9)(x)
        x = nn.relu(x)
        return nn.log_softmax(nn.Dense(2)(x))


def _loop(output_dir=None):
    task = training.TrainTask(float_batches(), tl.WeightedCategoryCrossEntropy(),
                              trax.optimizers.SGD(LR),
                              n_steps_per_checkpoint=N_STEPS)
    with contextlib.redirect_stdout(io.StringIO()):
        return training.Loop(tl.FlaxModule(BatchNormClassifier()), task,
                             output_dir=output_dir, random_seed=0)


def _run(loop, n):
    with contextlib.redirect_stdout(io.StringIO()):
        loop.run(n)


def _assert_trees_close(a, b, **kwargs):
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), **kwargs)


def test_batch_stats_are_state_and_train_like_plain_flax():
    loop = _loop()
    params = jax.tree_util.tree_map(np.asarray, loop.model.weights)
    stats = jax.tree_util.tree_map(np.asarray, loop.model.state)
    assert set(stats) == {"batch_stats"}
    initial_mean = stats["batch_stats"]["BatchNorm_0"]["mean"]
    np.testing.assert_array_equal(initial_mean, np.zeros(8, np.float32))
    _run(loop, N_STEPS)

    # The same module trained by hand with Flax and plain SGD.
    module = BatchNormClassifier()

    def loss_fn(params, stats, batch):
        x, y, w = batch
        log_probs, updated = module.apply({"params": params, **stats}, x,
                                          mutable=["batch_stats"])
        picked = jnp.take_along_axis(log_probs, y[:, None], axis=1)[:, 0]
        return -jnp.sum(picked * w) / jnp.sum(w), updated

    batches = float_batches()
    next(batches)  # The TrainTask's sample batch.
    for _ in range(N_STEPS):
        (_, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            params, stats, next(batches))
        params = jax.tree_util.tree_map(lambda p, g: p - LR * g, params,
                                        grads)

    _assert_trees_close(loop.model.weights, params, rtol=1e-5, atol=1e-6)
    _assert_trees_close(loop.model.state, stats, rtol=1e-5, atol=1e-6)
    trained_mean = loop.model.state["batch_stats"]["BatchNorm_0"]["mean"]
    assert np.abs(trained_mean).max() > 1e-2  # Training moved the statistics.
    # The Loop's TrainState carries them as model state.
    _assert_trees_close(loop.train_state.model_state, loop.model.state,
                        rtol=0, atol=0)


def test_batch_stats_are_restored_from_a_checkpoint(tmp_path):
    loop = _loop(str(tmp_path))
    _run(loop, N_STEPS)
    saved = jax.tree_util.tree_map(np.asarray, loop.model.state)
    loop.close()
    _, stored = checkpoints.load_model_params(str(tmp_path))
    _assert_trees_close(stored, saved, rtol=0, atol=0)

    resumed = _loop(str(tmp_path))
    assert resumed.step == N_STEPS
    _assert_trees_close(resumed.model.state, saved, rtol=0, atol=0)
    _assert_trees_close(resumed.train_state.model_state, saved, rtol=0,
                        atol=0)
    resumed.close()


def test_to_flax_gives_back_the_module_and_all_its_collections():
    layer = tl.FlaxModule(BatchNormClassifier())
    x = np.random.RandomState(0).randn(4, 3).astype(np.float32)
    layer.init(trax.shapes.signature(x))
    module, variables = layer.to_flax()
    assert isinstance(module, BatchNormClassifier)
    assert set(variables) == {"params", "batch_stats"}
    y, updated = module.apply(variables, x, mutable=["batch_stats"])
    np.testing.assert_allclose(y, layer(x), rtol=1e-6)
    _assert_trees_close(updated["batch_stats"], layer.state["batch_stats"],
                        rtol=1e-6)
