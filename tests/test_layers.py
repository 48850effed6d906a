"""Layers of the seed tutorial against real-Trax oracle data (layers.json,
init_and_step.npz): reprs, weights (bitwise), outputs, errors, and
the Flax side (``to_flax()``, ``FlaxModule``, Flax modules in ``Loop``)."""

import contextlib
import io
import itertools
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import trax_compat as trax
from trax_compat import layers as tl
from trax_compat import optimizers
from trax_compat import shapes
from trax_compat.supervised import training

from conftest import load_oracle_json
from conftest import oracle_array
from conftest import oracle_npz

SEED_MODEL = "a_seed_model_v50_d4"


def seed_model(vocab_size=50, d_feature=4):
    return tl.Serial(
        tl.Embedding(vocab_size=vocab_size, d_feature=d_feature),
        tl.Mean(axis=1),
        tl.Dense(2),
        tl.LogSoftmax(),
    )


@pytest.fixture(scope="module")
def layers_oracle():
    return load_oracle_json("layers.json")


@pytest.fixture(scope="module")
def seed_oracle(layers_oracle):
    return layers_oracle["models"][SEED_MODEL]


@pytest.fixture
def initialized_seed_model(seed_oracle):
    model = seed_model()
    x = oracle_array(seed_oracle["input"])
    model.init(shapes.signature(x), rng=trax.fastmath.random.get_prng(0))
    return model, x


def _assert_tree_bitwise(actual, expected_typed_values):
    """``expected_typed_values``: the oracle's nested ``weights_values``
    (null = empty tuple, list = tuple, dict = array)."""
    if expected_typed_values is None:
        assert actual == ()
    elif isinstance(expected_typed_values, list):
        assert isinstance(actual, tuple)
        assert len(actual) == len(expected_typed_values)
        for a, e in zip(actual, expected_typed_values):
            _assert_tree_bitwise(a, e)
    else:
        expected = oracle_array(expected_typed_values)
        actual = np.asarray(actual)
        assert actual.shape == expected.shape
        assert actual.dtype == expected.dtype
        np.testing.assert_array_equal(actual, expected)


def _shapes_of(weights):
    """Like the oracle's ``weights_shapes``: () -> None, arrays -> shape."""
    if isinstance(weights, tuple):
        if not weights:
            return None
        return [_shapes_of(w) for w in weights]
    return list(np.shape(weights))


# -- the seed model (layers.json, model a) ------------------------------------

def test_seed_model_repr_and_arity_before_init(seed_oracle):
    model = seed_model()
    assert str(model) == seed_oracle["repr"]
    assert repr(model) == seed_oracle["repr"]
    assert model.n_in == seed_oracle["n_in"] == 1
    assert model.n_out == seed_oracle["n_out"] == 1
    assert model.name == seed_oracle["name"] == "Serial"


def test_seed_model_init_weights_bitwise(seed_oracle, initialized_seed_model):
    model, x = initialized_seed_model
    assert str(shapes.signature(x)) == seed_oracle["input_signature"]
    assert str(model) == seed_oracle["repr_after_init"]
    weights = model.weights
    # Structure (emb, (), (w, b), ()) exactly, as nested tuples.
    assert jax.tree_util.tree_structure(weights) == \
        jax.tree_util.tree_structure((0, (), (0, 0), ()))
    assert _shapes_of(weights) == seed_oracle["weights_shapes"]
    assert _shapes_of(model.state) == seed_oracle["state_shapes"]
    _assert_tree_bitwise(weights, seed_oracle["weights_values"])
    assert tl.base.count_weights(weights) == seed_oracle["n_weights_total"]


def test_seed_model_output(seed_oracle, initialized_seed_model):
    model, x = initialized_seed_model
    out = np.asarray(model(x))
    expected = oracle_array(seed_oracle["output"])
    assert out.shape == expected.shape and out.dtype == expected.dtype
    # jit vs Trax's eager evaluation may differ in the last bit.
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-6)


def test_seed_model_clips_out_of_range_ids(seed_oracle,
                                           initialized_seed_model):
    model, _ = initialized_seed_model
    extra = seed_oracle["extra_call_out_of_range_ids"]
    x = oracle_array(extra["input"])
    assert x.max() >= 50 and x.min() < 0
    out = np.asarray(model(x))
    np.testing.assert_allclose(out, oracle_array(extra["output"]),
                               rtol=0, atol=1e-6)
    # Same as explicitly clipped ids (55 -> 49, -3 -> 0).
    np.testing.assert_array_equal(out, np.asarray(model(np.clip(x, 0, 49))))


def test_init_returns_weights_and_state(seed_oracle):
    model = seed_model()
    x = oracle_array(seed_oracle["input"])
    weights, state = model.init(shapes.signature(x),
                                rng=trax.fastmath.random.get_prng(0))
    _assert_tree_bitwise(weights, seed_oracle["weights_values"])
    assert state == ((), (), (), ())


def test_init_does_not_change_global_threefry_flag(seed_oracle):
    before = jax.config.jax_threefry_partitionable
    for flag in (True, False):
        jax.config.update("jax_threefry_partitionable", flag)
        try:
            model = seed_model()
            x = oracle_array(seed_oracle["input"])
            model.init(shapes.signature(x),
                       rng=trax.fastmath.random.get_prng(0))
            # Trax's numbers regardless of the user's setting...
            _assert_tree_bitwise(model.weights, seed_oracle["weights_values"])
            # ...and the user's setting is left alone.
            assert jax.config.jax_threefry_partitionable is flag
        finally:
            jax.config.update("jax_threefry_partitionable", before)


def test_weights_setter_is_used_by_call(initialized_seed_model):
    model, x = initialized_seed_model
    emb, _, (w, b), _ = model.weights
    new_b = jnp.asarray([5.0, -5.0], jnp.float32)
    model.weights = (emb, (), (w, new_b), ())
    np.testing.assert_array_equal(np.asarray(model.weights[2][1]),
                                  np.asarray(new_b))
    out = np.asarray(model(x))
    logits = np.asarray(jnp.mean(jnp.take(emb, x, axis=0), axis=1) @ w
                        + new_b)
    expected = logits - np.log(np.sum(np.exp(logits), -1, keepdims=True))
    np.testing.assert_allclose(out, expected, atol=1e-5)
    assert (out[:, 0] > out[:, 1]).all()  # the bias dominates
    # Zero embeddings: every example gets log_softmax(b).
    model.weights = (jnp.zeros_like(emb), (), (w, new_b), ())
    out = np.asarray(model(x))
    np.testing.assert_allclose(
        out, np.broadcast_to(np.asarray(jax.nn.log_softmax(new_b)), (2, 2)),
        atol=1e-6)
    with pytest.raises(ValueError):
        model.weights = (emb, (), (w, new_b))  # wrong number of sublayers


def test_nested_serial_print(layers_oracle):
    # Oracle model h: Serial(Dense(4), Serial(Relu(), Dense(2)), LogSoftmax()),
    # where Trax prints Relu as Serial[Relu] (its assert_shape wrapper); an
    # Fn named Relu inside a Serial prints the same.
    relu = tl.Serial(tl.Fn("Relu", lambda x: jnp.maximum(x, 0.0)))
    model = tl.Serial(tl.Dense(4), tl.Serial(relu, tl.Dense(2)),
                      tl.LogSoftmax())
    oracle = layers_oracle["models"]["h_nested_serial"]
    assert str(model) == oracle["repr"]
    print(model)
    x = oracle_array(oracle["input"])
    model.init(shapes.signature(x), rng=trax.fastmath.random.get_prng(0))
    assert str(model) == oracle["repr_after_init"]
    # Same keys per sublayer as Trax, so the same draws; only Trax's Relu
    # wrapper weights ((), (), ()) differ from the Fn's ().
    expected = oracle["weights_values"]
    assert expected[1][0] == [None, None, None]
    assert model.weights[1][0] == ((),)
    expected = [expected[0], [[None], expected[1][1]], expected[2]]
    _assert_tree_bitwise(model.weights, expected)
    np.testing.assert_allclose(np.asarray(model(x)),
                               oracle_array(oracle["output"]), atol=1e-6)
    # Serial flattens lists and drops None like Trax.
    flat = tl.Serial([tl.Dense(3), None, [tl.LogSoftmax()]])
    assert str(flat) == "Serial[\n  Dense_3\n  LogSoftmax\n]"


def test_print_nested_serial_stdout(capsys):
    model = tl.Serial(tl.Embedding(10, 2), tl.Serial(tl.Mean(axis=1)),
                      tl.Dense(2))
    print(model)
    assert capsys.readouterr().out == (
        "Serial[\n  Embedding_10_2\n  Serial[\n    Mean\n  ]\n"
        "  Dense_2\n]\n")


def test_layer_names_and_arity():
    assert str(tl.Embedding(8192, 256)) == "Embedding_8192_256"
    assert str(tl.Dense(2)) == "Dense_2"
    assert str(tl.Mean(axis=1)) == "Mean"
    assert str(tl.LogSoftmax()) == "LogSoftmax"
    fn = tl.Fn("SumAndMax", lambda x, y: (x + y, jnp.maximum(x, y)), n_out=2)
    assert (fn.n_in, fn.n_out, str(fn)) == (2, 2, "SumAndMax_in2_out2")
    s, m = fn((np.array([1.0, 5.0]), np.array([3.0, 2.0])))
    np.testing.assert_array_equal(np.asarray(s), [4.0, 7.0])
    np.testing.assert_array_equal(np.asarray(m), [3.0, 5.0])
    # Serial's arity follows the stack.
    model = tl.Serial(tl.Dense(2), tl.WeightedCategoryCrossEntropy())
    assert (model.n_in, model.n_out) == (3, 1)


def test_serial_passes_extra_stack_items_through():
    model = tl.Serial(tl.Dense(2))
    x = np.ones((2, 3), np.float32)
    model.init(shapes.signature(x), rng=trax.fastmath.random.get_prng(0))
    y = np.arange(2)
    out, passed = model((x, y))
    np.testing.assert_array_equal(np.asarray(out), np.asarray(model(x)))
    np.testing.assert_array_equal(np.asarray(passed), y)


# -- Loop(random_seed=0) initialization (init_and_step.npz) -------------------

@pytest.fixture(scope="module")
def init_npz():
    # init.embedding is stored as a hash: regenerated and checked bitwise.
    z = oracle_npz("init_and_step.npz")
    return {k: v for k, v in z.items()
            if k.startswith(("init.", "train_sample_batch."))}


def test_loop_init_matches_trax_bitwise(init_npz):
    before = jax.config.jax_threefry_partitionable
    batch = tuple(init_npz[f"train_sample_batch.{k}"]
                  for k in ("inputs", "labels", "weights"))
    model = seed_model(8192, 256)
    task = training.TrainTask(
        labeled_data=itertools.cycle([batch]),
        loss_layer=tl.WeightedCategoryCrossEntropy(),
        optimizer=optimizers.Adam(0.01), n_steps_per_checkpoint=100)
    with contextlib.redirect_stdout(io.StringIO()):
        loop = training.Loop(model, task, random_seed=0)
    emb, mean_w, (w, b), softmax_w = loop.model.weights
    assert mean_w == () and softmax_w == ()
    np.testing.assert_array_equal(np.asarray(emb), init_npz["init.embedding"])
    np.testing.assert_array_equal(np.asarray(w), init_npz["init.dense_w"])
    np.testing.assert_array_equal(np.asarray(b), init_npz["init.dense_b"])
    assert np.asarray(emb).dtype == np.float32
    assert jax.config.jax_threefry_partitionable is before


def test_loop_init_recipe(init_npz):
    # Trax's recipe: model.rng = 2nd half of split(get_prng(0)), then init.
    rnd = trax.fastmath.random
    _, model_key = rnd.split(rnd.get_prng(0))
    model = seed_model(8192, 256)
    model.rng = model_key
    model.init(shapes.ShapeDtype((10, 30), np.int32))
    np.testing.assert_array_equal(np.asarray(model.weights[2][0]),
                                  init_npz["init.dense_w"])
    np.testing.assert_array_equal(np.asarray(model.weights[0]),
                                  init_npz["init.embedding"])


# -- metric layers ---------------------------------------------------------------
# Every case of layers.json's metrics.cases is checked in
# test_layer_tutorial.py; here, what those cases leave out.

def test_accuracy_ties_pick_first_index():
    model_output = np.array([[0.3, 0.3, 0.1]], np.float32)
    acc = tl.CategoryAccuracy()
    assert float(acc((model_output, np.array([0])))) == 1.0
    assert float(acc((model_output, np.array([1])))) == 0.0


# -- errors (layers.json errors) -----------------------------------------------

def _header(message):
    return message.split("\n")[:3]


def _trax_short_path(path):
    # Trax prints the last three parts of the creating file's path.
    return "[...]/" + "/".join(os.path.abspath(path).split(os.sep)[-3:])


def test_fn_with_default_argument_raises(layers_oracle):
    expected = layers_oracle["errors"][0]
    assert expected["error_type"] == "ValueError"
    with pytest.raises(ValueError) as info:
        tl.Fn("F", lambda x, y=1: x)
    assert str(info.value) == expected["error_message"]



def _assert_same_underlying_error(info, expected):
    """The LayerError's last line is Trax's underlying error line."""
    assert str(info.value).splitlines()[-1] == (
        f"{expected['underlying_error_type']}: "
        f"{expected['underlying_error_message']}")

def test_dense_init_rank0_raises_layer_error(layers_oracle):
    expected = layers_oracle["errors"][2]
    with pytest.raises(tl.LayerError) as info:
        tl.Dense(3).init(shapes.ShapeDtype((), np.float32))
    lines = _header(str(info.value))
    assert lines[0] == expected["message_header"][0]
    assert lines[0] == "Exception passing through layer Dense_3 (in init):"
    assert lines[1].startswith(
        f"  layer created in file {_trax_short_path(__file__)}, line ")
    assert lines[2] == expected["message_header"][2]
    _assert_same_underlying_error(info, expected)


def test_dense_wrong_width_raises_layer_error(layers_oracle):
    expected = layers_oracle["errors"][3]
    model = tl.Dense(2)
    model.init(shapes.signature(np.ones((2, 3), np.float32)))
    with pytest.raises(tl.LayerError) as info:
        model(np.ones((2, 5), np.float32))
    lines = _header(str(info.value))
    assert lines[0] == expected["message_header"][0]
    assert lines[0] == "Exception passing through layer Dense_2 (in pure_fn):"
    assert lines[1].startswith(
        f"  layer created in file {_trax_short_path(__file__)}, line ")
    assert lines[2] == expected["message_header"][2]
    assert "(2, 5)" in lines[2]
    # The message ends with the same underlying error as Trax's (jnp.dot's
    # TypeError), not a JAX note.
    _assert_same_underlying_error(info, expected)
    assert "For simplicity" not in str(info.value)


def test_serial_with_too_few_inputs_raises(layers_oracle):
    expected = layers_oracle["errors"][1]
    model = tl.Serial(tl.Dense(2))
    model.init(shapes.signature(np.ones((2, 3), np.float32)))
    with pytest.raises(tl.LayerError) as info:
        model(())
    lines = _header(str(info.value))
    assert lines[0] == expected["message_header"][0]
    assert lines[2] == expected["message_header"][2]
    _assert_same_underlying_error(info, expected)


def test_label_smoothing_out_of_range_raises(layers_oracle):
    expected = layers_oracle["errors"][4]
    layer = tl.WeightedCategoryCrossEntropy(label_smoothing=1.5)
    with pytest.raises(tl.LayerError) as info:
        layer((np.ones((2, 3), np.float32), np.array([0, 1]),
               np.ones(2, np.float32)))
    lines = _header(str(info.value))
    assert lines[0] == expected["message_header"][0]
    assert lines[2] == expected["message_header"][2]
    _assert_same_underlying_error(info, expected)


# -- the Flax side ---------------------------------------------------------------

def test_to_flax_computes_the_same(seed_oracle, initialized_seed_model):
    model, x = initialized_seed_model
    module, variables = model.to_flax()
    import flax.linen as nn
    assert isinstance(module, nn.Module)
    out = np.asarray(module.apply(variables, x))
    np.testing.assert_array_equal(out, np.asarray(model(x)))
    np.testing.assert_allclose(out, oracle_array(seed_oracle["output"]),
                               atol=1e-6)
    # The variables hold the model's (Trax-initialized) weights.
    leaves = jax.tree_util.tree_leaves(variables)
    assert sum(np.size(l) for l in leaves) == 210
    # Changing the variables changes the result.
    bumped = jax.tree_util.tree_map(lambda a: a * 2.0, variables)
    assert not np.allclose(np.asarray(module.apply(bumped, x)), out)


def test_flax_module_adapter_matches_trax_serial(initialized_seed_model):
    from models.sentiment import SentimentClassifier
    from models.sentiment import params_from_trax_weights
    model, x = initialized_seed_model
    layer = tl.FlaxModule(SentimentClassifier(vocab_size=50, d_feature=4))
    assert (layer.n_in, layer.n_out, layer.name) == (
        1, 1, "SentimentClassifier")
    layer.init(shapes.signature(x), rng=trax.fastmath.random.get_prng(1))
    assert set(layer.weights) == {"embed", "dense"}
    assert layer.weights["embed"]["embedding"].shape == (50, 4)
    layer.weights = params_from_trax_weights(model.weights)["params"]
    x_out_of_range = np.array([[1, 2, 55, -3, 0, 0, 0]] * 2, np.int32)
    for ids in (x, x_out_of_range):
        np.testing.assert_allclose(np.asarray(layer(ids)),
                                   np.asarray(model(ids)), atol=1e-6)
    with pytest.raises(TypeError):
        tl.FlaxModule(model)  # not a flax.linen.Module


def test_loop_accepts_a_flax_module():
    from models.sentiment import SentimentClassifier
    rs = np.random.RandomState(0)
    ids = rs.randint(1, 50, size=(8, 6)).astype(np.int32)
    labels = (ids[:, 0] > 25).astype(np.int32)
    batch = (ids, labels, np.ones(8, np.float32))
    module = SentimentClassifier(vocab_size=50, d_feature=4)
    task = training.TrainTask(
        itertools.cycle([batch]), tl.WeightedCategoryCrossEntropy(),
        optimizers.Adam(0.05), n_steps_per_checkpoint=20)
    eval_task = training.EvalTask(itertools.cycle([batch]),
                                  [tl.WeightedCategoryCrossEntropy()])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        loop = training.Loop(module, task, eval_tasks=[eval_task],
                             random_seed=0)
        loop.run(20)
    state = loop.train_state
    assert set(state.params) == {"embed", "dense"}
    assert state.params["embed"]["embedding"].shape == (50, 4)
    assert int(state.step) == 20
    losses = loop.history.get("train", "metrics/WeightedCategoryCrossEntropy")
    assert [s for s, _ in losses] == [1, 20]
    assert losses[1][1] < losses[0][1]
    # The trained params compute the loss the history reports at step 20.
    log_probs = module.apply({"params": state.params}, ids)
    final = float(tl.WeightedCategoryCrossEntropy()((log_probs, batch[1],
                                                     batch[2])))
    assert final < losses[0][1]
