"""Normalization and metric layers against real Trax's recorded values
(``trax_oracle/layers_norm_metrics/``, see its README.md): reprs, weight and
state trees, initial weights, outputs, state after a call (BatchNorm in
train and eval mode), gradients and errors; then BatchNorm trained in the
Loop against the same model in plain JAX, checkpointed and resumed."""

import contextlib
import io

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import trax_compat as trax
from trax_compat import layers as tl
from trax_compat import shapes
from trax_compat.fastmath import random as trax_random
from trax_compat.supervised import training
from tests.conftest import check_metric_case
from tests.conftest import load_oracle_json
from tests.conftest import oracle_array

ORACLE = "layers_norm_metrics/layers_norm_metrics.json"
RTOL, ATOL = 1e-6, 1e-6

NORM_CASES = (
    "batchnorm_default_nhwc", "batchnorm_axis0_momentum09",
    "batchnorm_axes01_eps", "batchnorm_axes02_momentum05",
    "layernorm_default", "layernorm_no_center_eps", "frn_default",
    "frn_learn_epsilon", "frn_learn_epsilon_custom")
N_METRIC_CASES = 27


@pytest.fixture(scope="module")
def oracle():
    return load_oracle_json(ORACLE)


def _tree(record):
    """A recorded weight/state tree back as Trax's tuples of arrays."""
    if record is None:
        return ()
    if isinstance(record, list):
        return tuple(_tree(r) for r in record)
    return oracle_array(record)


def _assert_trees(actual, expected, exact=False):
    actual_leaves, actual_def = jax.tree_util.tree_flatten(actual)
    expected_leaves, expected_def = jax.tree_util.tree_flatten(expected)
    assert actual_def == expected_def
    for a, e in zip(actual_leaves, expected_leaves):
        a = np.asarray(a)
        assert a.shape == e.shape and a.dtype == e.dtype
        if exact:
            np.testing.assert_array_equal(a, e)
        else:
            np.testing.assert_allclose(a, e, rtol=RTOL, atol=ATOL)


def _typed(tree):
    """``oracle_common.tree_typed`` of our tree."""
    if isinstance(tree, tuple):
        return {"tuple": [_typed(t) for t in tree]} if tree else None
    return {"shape": list(np.shape(tree)),
            "dtype": np.asarray(tree).dtype.name}


def _forward_and_grads(layer, x, weights, state, cotangent):
    key = trax_random.get_prng(0)

    def objective(x, weights):
        y, _ = layer.pure_fn(x, weights, state, key)
        return jnp.sum(y * cotangent)
    y, new_state = layer.pure_fn(x, weights, state, key)
    grad_x, grad_w = jax.grad(objective, argnums=(0, 1))(x, weights)
    return y, new_state, grad_x, grad_w


def test_case_lists_are_the_oracles(oracle):
    assert tuple(oracle["norm"]) == NORM_CASES
    assert len(oracle["metrics"]) == N_METRIC_CASES


# -- normalization -------------------------------------------------------------

@pytest.mark.parametrize("name", NORM_CASES)
def test_norm_layer_matches_trax(oracle, name):
    case = oracle["norm"][name]
    layer = eval(case["constructor"])  # pylint: disable=eval-used
    assert repr(layer) == case["repr"]
    assert (layer.n_in, layer.n_out) == (case["n_in"], case["n_out"])
    x = oracle_array(case["input"])
    weights, state = layer.init(shapes.signature(x),
                                rng=trax_random.get_prng(0))
    assert _typed(weights) == case["weights_typed"]
    assert _typed(state) == case["state_typed"]
    _assert_trees(weights, _tree(case["init_weights"]), exact=True)
    _assert_trees(state, _tree(case["init_state"]), exact=True)
    y, _ = layer.pure_fn(x, weights, state, trax_random.get_prng(0))
    _assert_trees(y, oracle_array(case["output_with_init_weights"]))

    weights = _tree(case["weights"])
    y, new_state, grad_x, grad_w = _forward_and_grads(
        layer, x, weights, state, oracle_array(case["cotangent"]))
    _assert_trees(y, oracle_array(case["output"]))
    _assert_trees(new_state, _tree(case["state_after"]))
    _assert_trees(grad_x, oracle_array(case["grad_input"]))
    _assert_trees(grad_w, _tree(case["grad_weights"]))

    if "second_call" in case:
        second = case["second_call"]
        y2, state2 = layer.pure_fn(oracle_array(second["input"]), weights,
                                   new_state, trax_random.get_prng(0))
        _assert_trees(y2, oracle_array(second["output"]))
        _assert_trees(state2, _tree(second["state_after"]))


@pytest.mark.parametrize("name", ["batchnorm_default_nhwc",
                                  "batchnorm_axis0_momentum09"])
def test_batchnorm_eval_mode_uses_the_running_statistics(oracle, name):
    case = oracle["norm"][name]
    expected = case["eval_mode"]
    layer = eval(expected["constructor"])  # pylint: disable=eval-used
    assert repr(layer) == expected["repr"]
    x = oracle_array(case["input"])
    layer.init(shapes.signature(x))
    trained_state = _tree(case["state_after"])
    y, state, grad_x, grad_w = _forward_and_grads(
        layer, x, _tree(case["weights"]), trained_state,
        oracle_array(case["cotangent"]))
    _assert_trees(y, oracle_array(expected["output"]))
    _assert_trees(grad_x, oracle_array(expected["grad_input"]))
    _assert_trees(grad_w, _tree(expected["grad_weights"]))
    # Eval mode leaves the statistics (and the batch count) alone.
    _assert_trees(state, _tree(expected["state_after"]), exact=True)
    _assert_trees(state, trained_state, exact=True)


def _normalized(x, axes, epsilon=1e-5):
    mean = np.mean(x, axes, keepdims=True)
    var = np.mean(x**2, axes, keepdims=True) - mean**2
    return (x - mean) / np.sqrt(var + epsilon)


@pytest.mark.parametrize("center,scale", [(False, True), (True, False),
                                          (False, False)])
def test_batchnorm_without_center_or_scale(center, scale):
    # Trax fails here (its forward indexes the () standing for the missing
    # weight; recorded in the oracle's errors): ours leaves the term out.
    x = np.random.RandomState(0).randn(4, 3, 2).astype(np.float32)
    layer = tl.BatchNorm(axis=(0, 1), center=center, scale=scale)
    layer.init(shapes.signature(x))
    beta, gamma = layer.weights
    assert isinstance(beta, tuple) == (not center)
    assert isinstance(gamma, tuple) == (not scale)
    weights = (np.array([0.5, -1.0], np.float32) if center else (),
               np.array([2.0, 3.0], np.float32) if scale else ())
    y, _ = layer.pure_fn(x, weights, layer.state, trax_random.get_prng(0))
    expected = _normalized(x, (0, 1))
    if scale:
        expected = expected * weights[1]
    if center:
        expected = expected + weights[0]
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    if not (center or scale):
        # Flax holds no params for it; its weights come back as ().
        module, variables = layer.to_flax()
        assert "params" not in variables or not variables["params"]
        y_flax, _ = module.apply(variables, x, mutable=["state"])
        np.testing.assert_allclose(y_flax, expected, rtol=1e-5, atol=1e-6)


def test_batchnorm_int_axis_means_that_axis():
    x = np.random.RandomState(1).randn(6, 3).astype(np.float32)
    by_int, by_tuple = tl.BatchNorm(axis=0), tl.BatchNorm(axis=(0,))
    for layer in (by_int, by_tuple):
        layer.init(shapes.signature(x))
    np.testing.assert_array_equal(by_int(x), by_tuple(x))
    _assert_trees(by_int.state, by_tuple.state, exact=True)


def test_batchnorm_axis_outside_the_input_is_one_clear_error():
    with pytest.raises(tl.LayerError) as info:
        tl.BatchNorm().init(shapes.ShapeDtype((4, 3), np.float32))
    last = str(info.value).splitlines()[-1]
    assert last.startswith("ValueError: BatchNorm: axis (0, 1, 2) does not "
                           "fit inputs of shape (4, 3)")
    assert "axis=" in last


def test_batchnorm_in_flax_updates_its_state_collection():
    x = np.random.RandomState(2).randn(5, 3).astype(np.float32)
    layer = tl.BatchNorm(axis=(0,), momentum=0.9)
    layer.init(shapes.signature(x))
    module, variables = layer.to_flax()
    assert set(variables["params"]) == {"bias", "scale"}
    assert set(variables["state"]) == {"mean", "var", "n_batches"}
    y, updated = module.apply(variables, x, mutable=["state"])
    expected_y = layer(x)
    np.testing.assert_allclose(y, expected_y, rtol=1e-6)
    np.testing.assert_allclose(updated["state"]["mean"], layer.state[0],
                               rtol=1e-6)
    assert int(updated["state"]["n_batches"]) == 1


# -- metrics ---------------------------------------------------------------------

@pytest.mark.parametrize("index", range(N_METRIC_CASES))
def test_metric_matches_trax(oracle, index):
    case = oracle["metrics"][index]
    layer, inputs = check_metric_case(case, rtol=RTOL)

    def f(first):
        return layer.pure_fn((first,) + inputs[1:], layer.weights,
                             layer.state, trax_random.get_prng(0))[0]
    _assert_trees(jax.grad(f)(inputs[0]),
                  oracle_array(case["grad_first_input"]))


def test_all_of_traxs_metric_layers_are_there():
    names = ("BinaryCrossEntropy", "BinaryCrossEntropyLoss",
             "BinaryCrossEntropySum", "CategoryAccuracy",
             "CategoryCrossEntropy", "CrossEntropyLoss",
             "CrossEntropyLossWithLogSoftmax", "CrossEntropySum", "L2Loss",
             "MacroAveragedFScore", "MaskedSequenceAccuracy",
             "SequenceAccuracy", "SmoothL1Loss", "WeightedCategoryAccuracy",
             "WeightedCategoryCrossEntropy", "WeightedFScore", "WeightedSum",
             "Accuracy")
    assert len(set(names)) == 18
    for name in names:
        assert getattr(tl, name).__module__ == "trax_compat.layers.metrics"


# -- errors (the oracle's errors) --------------------------------------------------

def _error(oracle, case_prefix):
    (record,) = [e for e in oracle["errors"]
                 if e["case"].startswith(case_prefix)]
    return record


def test_batchnorm_changing_the_dtype_is_traxs_type_error(oracle):
    expected = _error(oracle, "tl.BatchNorm() on bfloat16")
    layer = tl.BatchNorm()
    x = np.ones((2, 2, 2, 3), jnp.bfloat16)
    layer.init(shapes.signature(x))
    with pytest.raises(tl.LayerError) as info:
        layer(x)
    assert str(info.value).splitlines()[-1] == (
        f"{expected['underlying_error_type']}: "
        f"{expected['underlying_error_message']}")


@pytest.mark.parametrize("prefix,call", [
    ("tl.CategoryAccuracy()", lambda x, y, w: tl.CategoryAccuracy()(
        (x, y[:3]))),
    ("tl.L2Loss()", lambda x, y, w: tl.L2Loss()(
        (w[:3, :4], w[:3, :4], w[:3, :2]))),
])
def test_metric_shape_errors_start_as_traxs(oracle, prefix, call):
    expected = _error(oracle, prefix)
    assert expected["underlying_error_type"] == "AssertionError"
    logits = oracle_array(oracle["metrics"][0]["inputs"][0])
    labels = oracle_array(oracle["metrics"][0]["inputs"][1])
    with pytest.raises(tl.LayerError) as info:
        call(logits, labels, np.ones((5, 4), np.float32))
    last = str(info.value).splitlines()[-1]
    # Trax's type and message, then which inputs disagree.
    assert last.startswith(f"AssertionError: "
                           f"{expected['underlying_error_message']} (")
    assert "must have the same shape" in last


def test_filter_response_norm_bad_epsilon_is_an_assertion_naming_it(oracle):
    assert _error(oracle, "tl.FilterResponseNorm(")["error_type"] == (
        "AssertionError")
    with pytest.raises(AssertionError, match="init_epsilon must be > 0"):
        tl.FilterResponseNorm(init_epsilon=0.0)
    with pytest.raises(AssertionError, match="init_learnt_epsilon"):
        tl.FilterResponseNorm(init_learnt_epsilon=-1.0)


# -- BatchNorm in the Loop ---------------------------------------------------------

LR = 0.1
MOMENTUM = 0.8
EPS = 1e-5


def _batches(seed=0):
    rng = np.random.RandomState(seed)
    while True:
        x = (2.0 * rng.randn(8, 3) + 1.0).astype(np.float32)
        y = (x[:, 0] > 1.0).astype(np.int64)
        yield x, y, np.ones((8,), np.float32)


def _model(mode="train"):
    return tl.Serial(tl.Dense(4), tl.BatchNorm(axis=(0,), momentum=MOMENTUM,
                                               mode=mode),
                     tl.Relu(), tl.Dense(2), tl.LogSoftmax())


def _loop(output_dir, eval_batches=None):
    task = training.TrainTask(_batches(), tl.WeightedCategoryCrossEntropy(),
                              trax.optimizers.SGD(LR),
                              n_steps_per_checkpoint=2)
    eval_tasks = None
    if eval_batches is not None:
        eval_tasks = [training.EvalTask(
            eval_batches, [tl.WeightedCategoryCrossEntropy()],
            n_eval_batches=1)]
    return training.Loop(_model(), task, eval_model=_model("eval"),
                         eval_tasks=eval_tasks, output_dir=output_dir,
                         random_seed=0)


def _plain(weights, stats, x, train):
    """The model in plain JAX; returns (log-probs, new running stats)."""
    (k1, b1), (beta, gamma), _, (k2, b2), _ = weights
    h = x @ k1 + b1
    mean, var, count = stats
    if train:
        batch_mean = jnp.mean(h, 0, keepdims=True)
        batch_var = jnp.mean(h**2, 0, keepdims=True) - batch_mean**2
        stats = (MOMENTUM * mean + (1 - MOMENTUM) * batch_mean,
                 MOMENTUM * var + (1 - MOMENTUM) * batch_var, count + 1)
        mean, var = batch_mean, batch_var
    h = gamma * ((h - mean) / jnp.sqrt(var + EPS)) + beta
    return jax.nn.log_softmax(jax.nn.relu(h) @ k2 + b2), stats


def _stream_steps(n_steps):
    """The batches a fresh Loop trains on: its stream after the TrainTask's
    sample batch."""
    batches = _batches()
    next(batches)
    return [next(batches) for _ in range(n_steps)]


def _plain_training(initial, steps_batches):
    """SGD on ``steps_batches`` in plain JAX, from ``initial`` and fresh
    statistics; returns the weights and the running statistics."""
    def loss(weights, stats, batch):
        x, y, w = batch
        logp, new_stats = _plain(weights, stats, x, train=True)
        picked = jnp.take_along_axis(logp, y[:, None], axis=1)[:, 0]
        return -jnp.sum(picked * w) / jnp.sum(w), new_stats

    weights = initial
    stats = (jnp.zeros((1, 4)), jnp.ones((1, 4)), 0)
    for batch in steps_batches:
        grads, stats = jax.grad(loss, has_aux=True)(weights, stats, batch)
        weights = jax.tree_util.tree_map(lambda p, g: p - LR * g, weights,
                                         grads)
    return weights, stats


def _quiet(f, *args):
    with contextlib.redirect_stdout(io.StringIO()):
        return f(*args)


def test_batchnorm_trains_in_the_loop_and_resumes_its_statistics(tmp_path):
    loop = _quiet(_loop, str(tmp_path))
    initial = jax.tree_util.tree_map(np.asarray, loop.model.weights)
    _quiet(loop.run, 4)
    weights, (mean, var, count) = _plain_training(initial,
                                                   _stream_steps(4))
    running_mean, running_var, n_batches = loop.model.state[1]
    assert int(n_batches) == 4 == count
    np.testing.assert_allclose(running_mean, mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(running_var, var, rtol=1e-5, atol=1e-6)
    # The statistics moved away from their start (0 and 1).
    assert np.abs(np.asarray(running_mean)).min() > 1e-3
    jax.tree_util.tree_map(
        lambda a, e: np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6),
        loop.model.weights, weights)
    # The TrainState carries them under the layer's Flax names.
    flax_state = loop.train_state.model_state["layers_1"]
    np.testing.assert_array_equal(flax_state["mean"], running_mean)
    assert int(flax_state["n_batches"]) == 4

    # A new Loop on the same folder resumes at step 4 with the statistics.
    resumed = _quiet(_loop, str(tmp_path))
    assert resumed.step == 4
    _assert_trees(resumed.model.state, loop.model.state, exact=True)
    _quiet(resumed.run, 2)  # two more steps
    # The resumed Loop reads its own new stream from the start.
    _, (mean6, var6, count6) = _plain_training(
        initial, _stream_steps(4) + _stream_steps(2))
    resumed_mean, resumed_var, resumed_count = resumed.model.state[1]
    assert int(resumed_count) == 6 == count6
    np.testing.assert_allclose(resumed_mean, mean6, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(resumed_var, var6, rtol=1e-5, atol=1e-6)


def test_batchnorm_eval_model_uses_the_trained_statistics(tmp_path):
    eval_x, eval_y, eval_w = next(_batches(seed=7))

    def eval_stream():
        while True:
            yield eval_x, eval_y, eval_w
    loop = _quiet(_loop, str(tmp_path), eval_stream())
    initial = jax.tree_util.tree_map(np.asarray, loop.model.weights)
    _quiet(loop.run, 4)
    _, stats = _plain_training(initial, _stream_steps(4))
    # Evaluated at step 4 with the weights and statistics after step 4.
    logp, unchanged = _plain(loop.model.weights, stats, eval_x, train=False)
    assert unchanged is stats
    expected = -np.mean(np.take_along_axis(np.asarray(logp),
                                           eval_y[:, None], axis=1))
    (step, value), = [
        (s, v) for s, v in loop.history.get(
            "eval", "metrics/WeightedCategoryCrossEntropy") if s == 4]
    assert step == 4
    np.testing.assert_allclose(value, expected, rtol=1e-5)
    # With the batch's own statistics (train mode) the loss differs.
    train_logp, _ = _plain(loop.model.weights, stats, eval_x, train=True)
    train_loss = -np.mean(np.take_along_axis(np.asarray(train_logp),
                                             eval_y[:, None], axis=1))
    assert abs(train_loss - expected) > 1e-3
    # Evaluating did not touch the statistics.
    assert int(loop.model.state[1][2]) == 4


def test_batchnorm_state_round_trips_through_save_to_file(tmp_path):
    x = next(_batches())[0]
    model = _model()
    model.init(shapes.signature(x))
    model(x)
    path = str(tmp_path / "model.pkl.gz")
    model.save_to_file(path, input_signature=shapes.signature(x))
    restored = _model("eval")
    restored.init_from_file(path, input_signature=shapes.signature(x))
    _assert_trees(restored.state, model.state, exact=True)



@pytest.mark.parametrize("center", [True, False])
def test_layernorm_gradient_matches_autodiff_of_its_arithmetic(center):
    """LayerNorm's written-out gradient against JAX's autodiff of the same
    forward, with weights that broadcast ((1, d) or (L, d)), plus a
    bfloat16 input and a gradient of a gradient."""
    rng = np.random.RandomState(3)
    eps = 1e-2

    def plain(x, scale, bias):
        mean = jnp.mean(x, axis=-1, keepdims=True)
        centered = x - mean if center else x
        variance = jnp.mean(centered * centered, axis=-1, keepdims=True)
        scaled = centered / jnp.sqrt(variance + eps) * scale
        return scaled + bias if center else scaled

    layer = tl.LayerNorm(center=center, epsilon=eps)
    x = jnp.asarray(rng.randn(3, 4, 6).astype(np.float32))
    layer.init(shapes.signature(x))
    for weight_shape in [(1, 6) if center else (4, 6)]:
        scale, bias = (jnp.asarray(rng.randn(*weight_shape), jnp.float32)
                       for _ in range(2))
        cotangent = jnp.asarray(rng.randn(3, 4, 6).astype(np.float32))

        def ours(x, scale, bias):
            y, _ = layer.pure_fn(x, (scale, bias), (), None)
            return jnp.sum(y * cotangent)

        got = jax.grad(ours, argnums=(0, 1, 2))(x, scale, bias)
        want = jax.grad(lambda *a: jnp.sum(plain(*a) * cotangent),
                        argnums=(0, 1, 2))(x, scale, bias)
        for g, w in zip(got, want):
            assert g.shape == w.shape and g.dtype == w.dtype
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)
    half = x.astype(jnp.bfloat16)
    layer.init(shapes.signature(half))
    grad = jax.grad(lambda x: jnp.sum(
        layer.pure_fn(x, layer.weights, (), None)[0]).astype(jnp.float32))
    assert grad(half).dtype == jnp.bfloat16
    second = jax.grad(lambda x: jnp.sum(jax.grad(lambda y: jnp.sum(
        layer.pure_fn(y, layer.weights, (), None)[0] ** 3))(x)))
    np.testing.assert_allclose(
        second(x.astype(jnp.float32)),
        jax.grad(lambda x: jnp.sum(jax.grad(lambda y: jnp.sum(
            plain(y, *layer.weights) ** 3))(x)))(x.astype(jnp.float32)),
        rtol=1e-4, atol=1e-4)
