"""Trax's "Layers Intro" notebook (docs/source/notebooks/layers_intro.ipynb)
run unchanged apart from imports, plus all layers.json metric cases, the
fastmath/shapes API and the way out to plain Flax."""

import contextlib
import inspect
import io
import itertools
import pathlib

import flax.linen as nn
import jax
import numpy as np
import pytest

from conftest import check_metric_case
from conftest import load_oracle_json
from conftest import oracle_array

# -- the notebook's imports, with our package in place of trax -----------------
from trax_compat import fastmath
from trax_compat import layers as tl
from trax_compat import shapes
from trax_compat.fastmath import numpy as jnp  # For defining new layer types.
from trax_compat.shapes import ShapeDtype  # noqa: F401
from trax_compat.shapes import signature  # noqa: F401


@pytest.fixture(scope="module")
def oracle_models():
    return load_oracle_json("layers.json")["models"]


def test_notebook_layers_intro(oracle_models, capsys):
    np.set_printoptions(precision=3)
    try:
        # Example 1: Relu on ints.
        relu = tl.Relu()
        x = np.array([[-2, -1, 0, 1, 2],
                      [-20, -10, 0, 10, 20]])
        y = relu(x)
        assert (relu.n_in, relu.n_out) == (1, 1)
        np.testing.assert_array_equal(y, [[0, 0, 0, 1, 2], [0, 0, 0, 10, 20]])
        assert np.issubdtype(np.asarray(y).dtype, np.integer)
        print(f"relu(x):\n{y}")
        assert capsys.readouterr().out == (
            "relu(x):\n[[ 0  0  0  1  2]\n [ 0  0  0 10 20]]\n")

        # Example 2: Concatenate with a list input.
        concat = tl.Concatenate()
        x0 = np.array([[1, 2, 3], [4, 5, 6]])
        x1 = np.array([[10, 20, 30], [40, 50, 60]])
        y = concat([x0, x1])
        np.testing.assert_array_equal(
            y, [[1, 2, 3, 10, 20, 30], [4, 5, 6, 40, 50, 60]])
        assert (concat.n_in, concat.n_out) == (2, 1)

        # Example 3: Concatenate(n_items=3, axis=0).
        concat3 = tl.Concatenate(n_items=3, axis=0)
        x2 = np.array([[100, 200, 300], [400, 500, 600]])
        y = concat3([x0, x1, x2])
        np.testing.assert_array_equal(y, np.concatenate([x0, x1, x2], 0))
        assert str(concat3) == oracle_models["g_concatenate_3_axis0"]["repr"]

        # Example 4: LayerNorm and its weights.
        layer_norm = tl.LayerNorm()
        x = np.array([[-2, -1, 0, 1, 2],
                      [1, 2, 3, 4, 5],
                      [10, 20, 30, 40, 50]]).astype(np.float32)
        layer_norm.init(shapes.signature(x))
        y = layer_norm(x)
        np.testing.assert_allclose(
            y, np.tile([-1.414, -0.707, 0., 0.707, 1.414], (3, 1)),
            atol=1e-3)
        scale, bias = layer_norm.weights
        np.testing.assert_array_equal(scale, np.ones(5, np.float32))
        np.testing.assert_array_equal(bias, np.zeros(5, np.float32))
        assert np.asarray(scale).dtype == np.float32

        # Example 5: Serial(Relu, LayerNorm); repr as current Trax prints.
        layer_block = tl.Serial(
            tl.Relu(),
            tl.LayerNorm(),
        )
        x = np.array([[-2, -1, 0, 1, 2],
                      [-20, -10, 0, 10, 20]]).astype(np.float32)
        layer_block.init(shapes.signature(x))
        y = layer_block(x)
        np.testing.assert_allclose(
            y, np.tile([-0.75, -0.75, -0.75, 0.5, 1.75], (2, 1)), atol=1e-3)
        assert str(layer_block) == oracle_models["b_relu_layernorm"]["repr"]
        relu_w, (scale, bias) = layer_block.weights
        assert relu_w == ((), (), ())
        np.testing.assert_array_equal(scale, np.ones(5, np.float32))

        # Example 6: Branch(Relu, Fn('Times100')).
        relu = tl.Relu()
        times_100 = tl.Fn("Times100", lambda x: x * 100.0)
        branch_relu_t100 = tl.Branch(relu, times_100)
        x = np.array([[-2, -1, 0, 1, 2],
                      [-20, -10, 0, 10, 20]])
        branch_relu_t100.init(shapes.signature(x))
        y0, y1 = branch_relu_t100(x)
        np.testing.assert_array_equal(y0, [[0, 0, 0, 1, 2], [0, 0, 0, 10, 20]])
        np.testing.assert_array_equal(y1, x * 100.0)
        assert str(branch_relu_t100) == (
            oracle_models["c_branch_relu_times100"]["repr"])

        # Example 7: Fn('Gcd') on a tuple.
        def Gcd():  # pylint: disable=invalid-name
            return tl.Fn("Gcd", lambda x0, x1: jnp.gcd(x0, x1))
        gcd = Gcd()
        x0 = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
        x1 = np.array([11, 12, 13, 14, 15, 16, 17, 18, 19, 20])
        y = gcd((x0, x1))
        np.testing.assert_array_equal(y, [1, 2, 1, 2, 5, 2, 1, 2, 1, 10])
        assert (gcd.n_in, gcd.n_out, str(gcd)) == (2, 1, "Gcd_in2")

        # Example 8: Fn('SumAndMax', n_out=2) on a list.
        def SumAndMax():  # pylint: disable=invalid-name
            return tl.Fn("SumAndMax",
                         lambda x0, x1: (x0 + x1, jnp.maximum(x0, x1)),
                         n_out=2)
        sum_and_max = SumAndMax()
        x0 = np.array([1, 2, 3, 4, 5])
        x1 = np.array([10, -20, 30, -40, 50])
        y0, y1 = sum_and_max([x0, x1])
        np.testing.assert_array_equal(y0, [11, -18, 33, -36, 55])
        np.testing.assert_array_equal(y1, [10, 2, 30, 4, 50])
        assert str(sum_and_max) == oracle_models["i_fn_sum_and_max"]["repr"]

        # Example 9: a configurable Flatten built with Fn.
        def Flatten(n_axes_to_keep=1):  # pylint: disable=invalid-name
            layer_name = f"Flatten_keep{n_axes_to_keep}"

            def f(x):
                in_rank = len(x.shape)
                if in_rank <= n_axes_to_keep:
                    raise ValueError(
                        f"Input rank ({in_rank}) must exceed the number of "
                        f"axes to keep ({n_axes_to_keep}) after flattening.")
                return jnp.reshape(x, (x.shape[:n_axes_to_keep] + (-1,)))
            return tl.Fn(layer_name, f)

        flatten_keep_1_axis = Flatten(n_axes_to_keep=1)
        flatten_keep_2_axes = Flatten(n_axes_to_keep=2)
        x = np.array([[[1, 2, 3], [10, 20, 30], [100, 200, 300]],
                      [[4, 5, 6], [40, 50, 60], [400, 500, 600]]])
        y1 = flatten_keep_1_axis(x)
        y2 = flatten_keep_2_axes(x)
        np.testing.assert_array_equal(y1, x.reshape(2, 9))
        np.testing.assert_array_equal(y2, x)
        assert str(flatten_keep_1_axis) == "Flatten_keep1"
        with pytest.raises(tl.LayerError) as info:
            Flatten(n_axes_to_keep=3)(x)
        assert str(info.value).splitlines()[-1] == (
            "ValueError: Input rank (3) must exceed the number of axes to "
            "keep (3) after flattening.")
    finally:
        np.set_printoptions(precision=8)


# -- metrics (layers.json metrics.cases, all of them) ---------------------------

# The layers of layers.json's metrics.cases, in order (checked below), so
# that collecting the tests reads no file.
METRIC_CASES = (
    "tl.WeightedCategoryCrossEntropy()", "tl.WeightedCategoryCrossEntropy()",
    "tl.WeightedCategoryAccuracy()", "tl.WeightedCategoryAccuracy()",
    "tl.CategoryCrossEntropy()", "tl.CategoryAccuracy()",
    "tl.CrossEntropyLoss()", "tl.CrossEntropyLoss()", "tl.Accuracy()",
    "tl.L2Loss()", "tl.WeightedCategoryCrossEntropy(label_smoothing=0.1)",
    "tl.CategoryCrossEntropy(label_smoothing=0.1)",
    "tl.WeightedCategoryCrossEntropy(cutoff=0.5)")


@pytest.fixture(scope="module")
def metric_cases():
    return load_oracle_json("layers.json")["metrics"]["cases"]


def test_metric_case_list_is_the_oracles(metric_cases):
    assert tuple(c["layer"] for c in metric_cases) == METRIC_CASES


@pytest.mark.parametrize("index", [
    pytest.param(i, id=f"{i}:{layer}") for i, layer in enumerate(METRIC_CASES)])
def test_every_metric_case(metric_cases, index):
    case = metric_cases[index]
    assert case["layer"] == METRIC_CASES[index]
    check_metric_case(case, rtol=2e-7)


# -- combinators on the stack ----------------------------------------------------

def test_stack_combinators():
    a = np.array([1.0, 2.0], np.float32)
    b = np.array([10.0, 20.0], np.float32)
    c = np.array([5.0, 5.0], np.float32)
    swap = tl.Swap()
    s0, s1 = swap((a, b))
    np.testing.assert_array_equal(s0, b)
    np.testing.assert_array_equal(s1, a)
    # Drop removes the top item; the rest of the stack comes back.
    model = tl.Serial(tl.Drop(), tl.Add())
    assert (model.n_in, model.n_out) == (3, 1)
    np.testing.assert_array_equal(model((a, b, c)), b + c)
    # Serial returns the whole remaining stack.
    model = tl.Serial(tl.Dup(), tl.Parallel(None, tl.Fn("Neg", lambda x: -x)))
    out = model((a, c))
    assert isinstance(out, tuple) and len(out) == 3
    np.testing.assert_array_equal(out[1], -a)
    np.testing.assert_array_equal(out[2], c)
    # Branch with a None branch keeps its input.
    x0, x1 = tl.Branch(None, tl.Fn("Twice", lambda x: 2 * x))(a)
    np.testing.assert_array_equal(x0, a)
    np.testing.assert_array_equal(x1, 2 * a)
    # Nested lists are flattened.
    assert str(tl.Serial([tl.Dup(), [tl.Add()]])) == (
        "Serial[\n  Dup_out2\n  Add_in2\n]")
    with pytest.raises(ValueError, match="at least two elements"):
        tl.Parallel(tl.Dup())


def test_fn_validation_errors():
    with pytest.raises(ValueError, match=r"^Function has keyword arguments"):
        tl.Fn("F", lambda x, **kw: x)
    with pytest.raises(ValueError, match=r"^Function has variable args"):
        tl.Fn("F", lambda *xs: xs[0])
    fn = tl.Fn("Pair", lambda x, y: x + y)
    with pytest.raises(tl.LayerError) as info:
        fn(np.ones(3))
    assert str(info.value).splitlines()[-1].startswith(
        "TypeError: Expected input to be a tuple or list")


def test_layer_error_names_creation_site_and_nesting():
    model = tl.Serial(tl.Dense(4), tl.Serial(tl.Dense(2)))
    created = inspect.currentframe().f_lineno - 1
    with pytest.raises(tl.LayerError) as info:
        model.init(shapes.ShapeDtype((), np.float32))
    text = str(info.value)
    lines = text.splitlines()
    assert lines[0] == "Exception passing through layer Serial (in init):"
    # As Trax: the path's last three parts, and the line creating the layer.
    here = pathlib.Path(__file__)
    where = (f"  layer created in file [...]/{here.parents[1].name}/tests/"
             f"{here.name}, line {created}")
    assert lines[1] == where
    assert "Exception passing through layer Dense_4 (in init):\n" + where \
        in text
    assert text.splitlines()[-1] == "IndexError: tuple index out of range"


def test_rnn_layers_run_and_keep_shapes():
    x = np.random.RandomState(0).randint(0, 20, size=(2, 6)).astype(np.int32)
    for rnn in (tl.GRU(8), tl.LSTM(8), tl.SRU(8)):
        model = tl.Serial(tl.ShiftRight(mode="train"), tl.Embedding(20, 8),
                          rnn, tl.Dense(20), tl.LogSoftmax())
        model.init(shapes.signature(x), rng=fastmath.random.get_prng(0))
        out = np.asarray(model(x))
        assert out.shape == (2, 6, 20)
        np.testing.assert_allclose(np.exp(out).sum(-1), 1.0, rtol=1e-5)
        # Causal: changing the last token changes nothing (it is shifted
        # out by ShiftRight); changing the first changes later positions.
        x2 = x.copy()
        x2[:, -1] = (x2[:, -1] + 1) % 20
        np.testing.assert_array_equal(np.asarray(model(x2)), out)
        x3 = x.copy()
        x3[:, 0] = (x3[:, 0] + 1) % 20
        assert not np.allclose(np.asarray(model(x3))[:, 1:], out[:, 1:])
    # ShiftRight itself: zeros in, the rest moved right.
    np.testing.assert_array_equal(tl.ShiftRight()(np.array([[1, 2, 3]])),
                                  [[0, 1, 2]])


def test_conv_maxpool_fashion_mnist_model():
    model = tl.Serial(
        tl.ToFloat(), tl.Conv(4, (3, 3), (1, 1), "SAME"), tl.LayerNorm(),
        tl.Relu(), tl.MaxPool(), tl.Flatten(), tl.Dense(3))
    x = np.random.RandomState(1).randint(0, 255, (2, 6, 6, 1)).astype(
        np.uint8)
    model.init(shapes.signature(x), rng=fastmath.random.get_prng(0))
    # MaxPool's default stride 1: 6 -> 5.
    assert model.weights[-1][0].shape == (5 * 5 * 4, 3)
    w, b = model.weights[1]
    conv = jax.lax.conv_general_dilated(
        x.astype(np.float32), w, (1, 1), "SAME",
        dimension_numbers=("NHWC", "HWIO", "NHWC")) + b
    np.testing.assert_allclose(
        np.asarray(tl.Serial(tl.ToFloat(), tl.Conv(4, (3, 3), (1, 1), "SAME"))
                   .pure_fn(x, ((), (w, b)), ((), ()), None)[0]), conv,
        rtol=1e-6)
    # Trax's Conv init ignores the receptive field: fan_in 1, fan_out 4.
    assert np.std(np.asarray(w)) > 0.3
    assert model(x).shape == (2, 3)


# -- fastmath and shapes ---------------------------------------------------------

def test_fastmath_api():
    assert fastmath.numpy.add(1, 2) == 3
    assert fastmath.numpy.float32 is jax.numpy.float32
    assert fastmath.grad(lambda x: x * x)(3.0) == 6.0
    assert fastmath.backend_name() == "jax"
    ctx = fastmath.use_backend("numpy")  # nothing happens until entered
    assert fastmath.backend_name() == "jax"
    with ctx:
        assert fastmath.backend_name() == "numpy"
    assert fastmath.backend_name() == "jax"
    with pytest.raises(ValueError):
        with fastmath.use_backend("torch"):
            pass
    # Trax's tree_flatten returns only the leaves; tree_unflatten refills a
    # structure and hands back what was left over.
    assert fastmath.tree_flatten(((1, 2), (3,))) == [1, 2, 3]
    assert fastmath.tree_unflatten([4, 5, 6, 7], ((1, 2), (3,))) == (
        ((4, 5), (6,)), [7])
    assert fastmath.nested_map(lambda v: v * 2, ((1, [2]), {"a": 3})) == (
        (2, [4]), {"a": 6})
    key = fastmath.random.get_prng(0)
    np.testing.assert_array_equal(key, [0, 0])
    assert fastmath.random.split(key, 3).shape == (3, 2)


def test_shapes_api():
    sig = shapes.signature((np.zeros((2, 3), np.int32), [np.ones(4)]))
    assert str(sig) == ("(ShapeDtype{shape:(2, 3), dtype:int32}, "
                        "[ShapeDtype{shape:(4,), dtype:float64}])")
    assert shapes.ShapeDtype((2, 3), np.int32) == sig[0]
    assert shapes.ShapeDtype((2,)).as_tuple() == ((2,), np.float32)


# -- the way out to plain Flax ---------------------------------------------------

@pytest.mark.parametrize("name", ["b_relu_layernorm", "d_dense_dup_parallel",
                                  "e_residual_dense3", "h_nested_serial"])
def test_to_flax_computes_the_same(oracle_models, name):
    model = oracle_models[name]
    layer = eval(model["constructor"])  # pylint: disable=eval-used
    x = oracle_array(model["input"])
    layer.init(shapes.signature(x), rng=fastmath.random.get_prng(0))
    module, variables = layer.to_flax()
    assert isinstance(module, nn.Module) and set(variables) == {"params"}
    out = jax.jit(module.apply)(variables, x)
    ours = layer(x)
    for a, b in zip(jax.tree_util.tree_leaves(out),
                    jax.tree_util.tree_leaves(ours)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # The variables are the Trax weights, restructured.
    assert sorted(np.size(v) for v in jax.tree_util.tree_leaves(variables)) \
        == sorted(np.size(v) for v in jax.tree_util.tree_leaves(
            layer.weights))
    # And the Flax module initializes on its own too (fresh weights).
    fresh = module.init(jax.random.PRNGKey(0), x)
    assert jax.tree_util.tree_structure(fresh) == \
        jax.tree_util.tree_structure(variables)


def test_loop_trains_a_dropout_gru_model():
    from trax_compat import optimizers
    from trax_compat.supervised import training
    rs = np.random.RandomState(0)
    ids = rs.randint(1, 30, size=(8, 5)).astype(np.int32)
    labels = (ids[:, 0] > 15).astype(np.int32)
    batch = (ids, labels, np.ones(8, np.float32))
    model = tl.Serial(tl.Embedding(30, 8), tl.Dropout(0.1), tl.GRU(8),
                      tl.Mean(axis=1), tl.Dense(2), tl.LogSoftmax())
    task = training.TrainTask(itertools.cycle([batch]),
                              tl.WeightedCategoryCrossEntropy(),
                              optimizers.Adam(0.05), n_steps_per_checkpoint=30)
    loss = tl.WeightedCategoryCrossEntropy()
    with contextlib.redirect_stdout(io.StringIO()):
        loop = training.Loop(model, task, random_seed=0)
        before = float(loss((model(ids), labels, batch[2])))
        loop.run(30)
    after = float(loss((model(ids), labels, batch[2])))
    assert after < 0.5 * before
    assert model.weights[2][1][0][0].shape == (16, 16)
