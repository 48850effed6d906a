"""One layer used twice in a network is one set of weights, as in Trax: in
init (Trax's cache markers), in calls, in training (the gradients of both
uses are summed) and in the named params and checkpoints."""

import contextlib
import io

import jax
import jax.numpy as jnp
import numpy as np

import trax_compat as trax
from trax_compat import layers as tl
from trax_compat.supervised import checkpoints
from trax_compat.supervised import training

N_STEPS = 20
LR = 0.05


def _shared_model():
    dense = tl.Dense(4)
    model = tl.Serial(tl.Embedding(20, 4), tl.Mean(axis=1), dense, tl.Relu(),
                      dense, tl.Dense(2), tl.LogSoftmax())
    return model, dense


def _batches(seed=0):
    rng = np.random.RandomState(seed)
    while True:
        ids = rng.randint(0, 20, size=(8, 5)).astype(np.int32)
        yield ids, (ids[:, 0] > 9).astype(np.int32), np.ones(8, np.float32)


def _loop(model, output_dir=None):
    task = training.TrainTask(_batches(), tl.WeightedCategoryCrossEntropy(),
                              trax.optimizers.SGD(LR),
                              n_steps_per_checkpoint=10)
    with contextlib.redirect_stdout(io.StringIO()):
        return training.Loop(model, task, output_dir=output_dir,
                             random_seed=0)


def _by_hand(weights, ids):
    """The shared model written in JAX, its Dense kernel used twice."""
    table, _, (kernel, bias), _, _, (kernel2, bias2), _ = weights
    x = jnp.mean(jnp.take(table, ids, axis=0), axis=1)
    x = jnp.dot(x, kernel) + bias
    x = jnp.where(x <= 0, 0.0, x)
    x = jnp.dot(x, kernel) + bias
    logits = jnp.dot(x, kernel2) + bias2
    return logits - jax.scipy.special.logsumexp(logits, axis=-1,
                                                keepdims=True)


def test_init_gives_the_second_use_trax_cache_markers():
    model, dense = _shared_model()
    weights, state = model.init(trax.shapes.ShapeDtype((8, 5), np.int32))
    assert weights[4] == tl.GET_WEIGHTS_FROM_CACHE
    assert state[4] == tl.GET_STATE_FROM_CACHE
    assert weights[2][0].shape == (4, 4)
    assert weights[2][0] is dense.weights[0]
    # The named view holds the shared layer once, at its first use.
    assert set(model.params) == {"layers_0", "layers_2", "layers_5"}
    rebuilt = model.weights_from_params(model.params)
    assert rebuilt[4] == tl.GET_WEIGHTS_FROM_CACHE
    assert rebuilt[2][0] is weights[2][0]


def test_a_call_uses_the_one_set_of_weights_twice():
    model, _ = _shared_model()
    ids = next(_batches())[0]
    model.init(trax.shapes.signature(ids))
    weights = model.weights
    full = (weights[0], (), weights[2], (), None, weights[5], ())
    np.testing.assert_allclose(model(ids), _by_hand(full, ids), rtol=1e-6)


def test_the_loop_trains_one_shared_set_of_weights():
    model, dense = _shared_model()
    loop = _loop(model)
    initial = jax.tree_util.tree_map(np.asarray, loop.model.weights)
    with contextlib.redirect_stdout(io.StringIO()):
        loop.run(N_STEPS)

    # Plain SGD on the model written by hand, the kernel's two uses summed.
    def loss_fn(params, batch):
        ids, targets, w = batch
        full = (params[0], (), params[1], (), None, params[2], ())
        log_probs = _by_hand(full, ids)
        picked = jnp.take_along_axis(log_probs, targets[:, None], axis=1)
        return -jnp.sum(picked[:, 0] * w) / jnp.sum(w)

    params = (initial[0], initial[2], initial[5])
    batches = _batches()
    next(batches)  # The TrainTask's sample batch.
    for _ in range(N_STEPS):
        grads = jax.grad(loss_fn)(params, next(batches))
        params = jax.tree_util.tree_map(lambda p, g: p - LR * g, params,
                                        grads)
    trained = loop.model.weights
    for got, want in zip(jax.tree_util.tree_leaves((trained[0], trained[2],
                                                    trained[5])),
                         jax.tree_util.tree_leaves(params)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    moved = np.abs(np.asarray(dense.weights[0]) - initial[2][0]).max()
    assert moved > 2e-3
    assert trained[4] == tl.GET_WEIGHTS_FROM_CACHE
    assert set(loop.train_state.params) == {"layers_0", "layers_2",
                                            "layers_5"}


def test_a_checkpoint_holds_the_shared_layer_once_and_resumes(tmp_path):
    model, _ = _shared_model()
    loop = _loop(model, output_dir=str(tmp_path))
    with contextlib.redirect_stdout(io.StringIO()):
        loop.run(10)
    loop.close()
    params, _ = checkpoints.load_model_params(str(tmp_path))
    assert set(params) == {"layers_0", "layers_2", "layers_5"}

    resumed_model, resumed_dense = _shared_model()
    resumed = _loop(resumed_model, output_dir=str(tmp_path))
    assert resumed.step == 10
    np.testing.assert_array_equal(resumed_dense.weights[0],
                                  params["layers_2"]["kernel"])
    resumed.close()


# -- Scan keeps its carry in predict mode -----------------------------------------

def test_predict_mode_lstm_one_step_at_a_time_equals_the_whole_sequence():
    x = np.random.RandomState(0).randn(2, 6, 4).astype(np.float32)
    model = tl.LSTM(4, mode="predict")
    model.init(trax.shapes.signature(x), rng=trax.fastmath.random.get_prng(1))
    fresh_state = model.state
    whole = model(x)
    model.state = fresh_state
    steps = [model(x[:, i:i + 1]) for i in range(x.shape[1])]
    np.testing.assert_allclose(np.concatenate(steps, axis=1), whole,
                               rtol=1e-6, atol=1e-6)
    # Without the kept carry every step would start from zeros again.
    model.state = fresh_state
    restarted = model(x[:, 1:2])
    assert not np.allclose(restarted, whole[:, 1:2], atol=1e-4)


def test_predict_mode_carry_is_state_in_flax():
    x = np.random.RandomState(0).randn(2, 4, 4).astype(np.float32)
    model = tl.LSTM(4, mode="predict")
    model.init(trax.shapes.signature(x[:, :1]))
    module, variables = model.to_flax()
    y1, updated = module.apply(variables, x[:, :1], mutable=["state"])
    carry = jax.tree_util.tree_leaves(updated["state"])
    assert carry and carry[0].shape == (2, 8)  # concat(c, h)
    y2, _ = module.apply({**variables, **updated}, x[:, 1:2],
                         mutable=["state"])
    whole = model(x[:, :2])
    np.testing.assert_allclose(np.concatenate([y1, y2], axis=1), whole,
                               rtol=1e-6, atol=1e-6)
