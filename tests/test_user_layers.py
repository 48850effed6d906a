"""Users' own layers, written in Trax's protocol (``forward``,
``init_weights_and_state``, ``backward``, layer state), train in the jitted
Loop and run in Flax through the generic host module.

Each Loop run is checked against the same model written by hand in JAX and
trained with plain SGD on the same batches."""

import contextlib
import io

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import trax_compat as trax
from trax_compat import layers as tl
from trax_compat.supervised import training
from tests.conftest import float_batches

LR = 0.1
N_STEPS = 4


class Scale(tl.Layer):
    """Forward only: no weights, no state."""

    def forward(self, x):
        return 2.0 * x


class AddBias(tl.Layer):
    """Trax's documented example: weights made by init_weights_and_state."""

    def init_weights_and_state(self, input_signature):
        self.weights = jnp.zeros(input_signature.shape[-1], jnp.float32)

    def forward(self, x):
        return x + self.weights


class GradTimesThree(tl.Layer):
    """Identity with custom gradients: three times the incoming gradient."""

    @property
    def has_backward(self):
        return True

    def forward(self, x):
        return x

    def backward(self, inputs, output, grad, weights, state, new_state, rng):
        del inputs, output, weights, state, new_state, rng
        return 3.0 * grad, ()


class BatchMeanSum(tl.Layer):
    """Identity whose state sums the batch means it has seen, and counts
    them."""

    def init_weights_and_state(self, input_signature):
        self.state = (jnp.zeros(input_signature.shape[-1], jnp.float32),
                      jnp.zeros((), jnp.int32))

    def forward(self, x):
        total, count = self.state
        self.state = (total + jnp.mean(x, axis=0), count + 1)
        return x


def _train(layer, n_steps=N_STEPS):
    """Trains ``Serial(Dense(2), layer, LogSoftmax())`` with SGD; returns the
    Loop and the initial weights."""
    model = tl.Serial(tl.Dense(2), layer, tl.LogSoftmax())
    task = training.TrainTask(float_batches(),
                              tl.WeightedCategoryCrossEntropy(),
                              trax.optimizers.SGD(LR))
    with contextlib.redirect_stdout(io.StringIO()):
        loop = training.Loop(model, task, output_dir=None, random_seed=0)
        initial = jax.tree_util.tree_map(np.asarray, loop.model.weights)
        loop.run(n_steps)
    return loop, initial


def _reference(initial, middle, lr=LR, n_steps=N_STEPS):
    """The same model and SGD in plain JAX: ``middle(h, layer_weights)``
    stands for the user's layer; returns the weights after training."""

    def loss_fn(weights, batch):
        (kernel, bias), layer_weights, _ = weights
        x, y, w = batch
        logits = middle(x @ kernel + bias, layer_weights)
        logp = jax.nn.log_softmax(logits)
        picked = jnp.take_along_axis(logp, y[:, None], axis=1)[:, 0]
        return -jnp.sum(picked * w) / jnp.sum(w)

    batches = float_batches()
    next(batches)  # The TrainTask's sample batch.
    weights = initial
    for _ in range(n_steps):
        grads = jax.grad(loss_fn)(weights, next(batches))
        weights = jax.tree_util.tree_map(lambda p, g: p - lr * g, weights,
                                         grads)
    return weights


def _assert_trees_close(actual, expected, rtol=1e-6, atol=1e-7):
    actual_leaves, actual_def = jax.tree_util.tree_flatten(actual)
    expected_leaves, expected_def = jax.tree_util.tree_flatten(expected)
    assert actual_def == expected_def
    for a, e in zip(actual_leaves, expected_leaves):
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), rtol=rtol,
                                   atol=atol)


def test_forward_only_layer_trains_in_the_loop():
    loop, initial = _train(Scale())
    assert jax.tree_util.tree_structure(initial) == jax.tree_util.tree_structure(
        ((0, 0), (), ()))
    expected = _reference(initial, lambda h, _: 2.0 * h)
    _assert_trees_close(loop.model.weights, expected)


def test_layer_with_init_weights_and_state_trains_its_weights():
    loop, initial = _train(AddBias())
    np.testing.assert_array_equal(initial[1], np.zeros(2, np.float32))
    expected = _reference(initial, lambda h, b: h + b)
    _assert_trees_close(loop.model.weights, expected)
    assert np.abs(loop.model.weights[1]).max() > 1e-3  # The bias moved.
    # Its weights have a name of their own in the Flax params.
    np.testing.assert_array_equal(
        loop.train_state.params["layers_1"]["weights"], loop.model.weights[1])


def test_backward_gives_the_gradients():
    loop, initial = _train(GradTimesThree())
    # Three times the true gradient at every step is SGD with three times
    # the learning rate on the model without the layer.
    expected = _reference(initial, lambda h, _: h, lr=3 * LR)
    _assert_trees_close(loop.model.weights, expected, rtol=1e-5)
    plain = _reference(initial, lambda h, _: h)
    assert not np.allclose(loop.model.weights[0][0], plain[0][0], rtol=1e-3)


def test_backward_is_used_by_jax_grad_through_pure_fn():
    layer = tl.Serial(GradTimesThree(), tl.Fn("Square", lambda x: x * x))
    x = np.array([1.0, -2.0, 0.5], np.float32)
    layer.init(trax.shapes.signature(x))

    def f(x):
        y, _ = layer.pure_fn(x, layer.weights, layer.state, None)
        return jnp.sum(y)

    np.testing.assert_allclose(jax.grad(f)(x), 3.0 * 2.0 * x)


def test_layer_state_is_updated_by_every_training_step():
    loop, initial = _train(BatchMeanSum())
    total, count = loop.model.state[1]
    assert int(count) == N_STEPS
    # The layer sees the Dense layer's outputs: recompute them from the
    # weights each step trained with.
    reference_weights = initial
    batches = float_batches()
    next(batches)  # The TrainTask's sample batch.
    expected_total = np.zeros(2, np.float32)
    for step in range(N_STEPS):
        x, _, _ = next(batches)
        (kernel, bias), _, _ = reference_weights
        expected_total += np.mean(x @ kernel + bias, axis=0)
        reference_weights = _reference(initial, lambda h, _: h,
                                       n_steps=step + 1)
    np.testing.assert_allclose(total, expected_total, rtol=1e-5, atol=1e-6)
    # Training follows the plain model: the state does not touch gradients.
    _assert_trees_close(loop.model.weights,
                        _reference(initial, lambda h, _: h))
    # The Loop's TrainState carries the state, under the layer's name.
    flax_total, flax_count = loop.train_state.model_state["layers_1"]["state"]
    np.testing.assert_array_equal(flax_total, total)
    assert int(flax_count) == N_STEPS


@pytest.mark.parametrize("make_layer", [Scale, AddBias, BatchMeanSum])
def test_user_layer_runs_in_flax_through_the_generic_host(make_layer):
    layer = make_layer()
    x = np.random.RandomState(0).randn(4, 3).astype(np.float32)
    layer.init(trax.shapes.signature(x))
    if isinstance(layer, AddBias):
        layer.weights = jnp.array([1.0, -1.0, 0.5], jnp.float32)
    module, variables = layer.to_flax()
    expected = layer(x)
    if layer.state:
        y, updated = module.apply(variables, x, mutable=["state"])
        total, count = updated["state"]["state"]
        np.testing.assert_allclose(total, np.mean(x, axis=0), rtol=1e-6)
        assert int(count) == 1
    else:
        y = module.apply(variables, x)
    np.testing.assert_allclose(y, expected, rtol=1e-6)


def test_the_benchmarks_user_written_tutorial_model_equals_the_built_in_one():
    from benchmarks import user_layers  # pylint: disable=g-import-not-at-top
    ids = np.random.RandomState(0).randint(0, 8192, (5, 7)).astype(np.int32)
    key = trax.fastmath.random.get_prng(3)
    built_in = tl.Serial(tl.Embedding(8192, 256), tl.Mean(axis=1),
                         tl.Dense(2), tl.LogSoftmax())
    user = user_layers.tutorial_model()
    for model in (built_in, user):
        model.init(trax.shapes.signature(ids), rng=key)
    for a, b in zip(jax.tree_util.tree_leaves(built_in.weights),
                    jax.tree_util.tree_leaves(user.weights)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(built_in(ids), user(ids))
