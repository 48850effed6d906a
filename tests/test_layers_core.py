"""Core and activation layers, and the functions of ``layers.core``, against
real Trax (``trax_oracle/layers_core/``, made by
``testdata/generate_layers_core.py``): reprs, arity, weight and state trees,
initial weights bit for bit, outputs, state after a call and gradients
within 1e-6 relative; plus where we deliberately differ (two functions
that always fail in Trax) and the errors."""

import contextlib
import io
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import trax_compat as trax
from trax_compat import layers as tl
from trax_compat import shapes
from trax_compat.layers import initializers as init

from conftest import load_oracle_json
from conftest import oracle_npz

ORACLE = load_oracle_json("layers_core/layers_core.json")
ARRAYS = oracle_npz("layers_core/layers_core.npz")
LAYERS = ORACLE["layers"]
RTOL, ATOL = 1e-6, 1e-7

ACTIVATIONS = ("Relu", "ParametricRelu", "LeakyRelu", "Elu", "Selu", "Gelu",
               "FastGelu", "Sigmoid", "Tanh", "HardSigmoid", "HardTanh",
               "Softplus", "Exp", "Log", "Swish", "Glu",
               "ThresholdedLinearUnit")


def unflat(skeleton):
    """The oracle's tree skeleton (see the generator's ``flat``) with its
    arrays from the npz."""
    if "array" in skeleton:
        return ARRAYS[skeleton["array"]]
    if "dict" in skeleton:
        return {k: unflat(v) for k, v in skeleton["dict"].items()}
    kind, items = next(iter(skeleton.items()))
    items = [unflat(s) for s in items]
    return tuple(items) if kind == "tuple" else items


def assert_tree(actual, expected, exact=False, path="tree"):
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: {type(actual)}"
        assert sorted(actual) == sorted(expected), path
        for k in expected:
            assert_tree(actual[k], expected[k], exact, f"{path}[{k!r}]")
    elif isinstance(expected, (tuple, list)):
        assert isinstance(actual, type(expected)), f"{path}: {type(actual)}"
        assert len(actual) == len(expected), path
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_tree(a, e, exact, f"{path}[{i}]")
    else:
        actual = np.asarray(actual)
        assert actual.dtype == expected.dtype, path
        assert actual.shape == expected.shape, path
        if exact or not np.issubdtype(expected.dtype, np.floating):
            np.testing.assert_array_equal(actual, expected, err_msg=path)
        else:
            np.testing.assert_allclose(actual, expected, rtol=RTOL,
                                       atol=ATOL, err_msg=path)


def build(record):
    env = {"tl": tl, "init": init, "jnp": jnp}
    return eval(record["constructor"], env)  # pylint: disable=eval-used


def initialized(name):
    record = LAYERS[name]
    layer = build(record)
    x = unflat(record["input"])
    layer.init(shapes.signature(x), rng=trax.fastmath.random.get_prng(0))
    return layer, x, record


def cotangent(shape):
    n = int(np.prod(shape))
    return (np.cos(np.arange(n, dtype=np.float64)) + 0.5).astype(
        np.float32).reshape(shape)


def test_every_trax_activation_and_core_name_exists():
    core = ("Dense", "Embedding", "Dropout", "Weights", "PrintShape",
            "SummaryImage", "SummaryScalar", "RandomUniform",
            "LocallyConnected1d", "Flatten", "LogSoftmax", "LogSumExp",
            "Softmax", "ToFloat", "Mean", "Min", "Max", "Sum",
            "ThresholdToBinary", "ArgMax", "Negate", "StopGradient",
            "one_hot", "log_softmax", "log_gaussian_pdf",
            "log_gaussian_diag_pdf", "multigaussian_loss",
            "logsoftmax_sample")
    missing = [n for n in ACTIVATIONS + core if not hasattr(tl, n)]
    assert not missing


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_repr_and_arity(name):
    record = LAYERS[name]
    layer = build(record)
    assert (str(layer), layer.name, layer.n_in, layer.n_out) == (
        record["repr"], record["name"], record["n_in"], record["n_out"])


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_initial_weights_bitwise_and_state(name):
    layer, _, record = initialized(name)
    assert_tree(layer.weights, unflat(record["weights"]), exact=True)
    assert_tree(layer.state, unflat(record["state"]), exact=True)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_output_stdout_and_state_after_call(name):
    layer, x, record = initialized(name)
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        y = layer(x)
    assert printed.getvalue() == record["stdout"]
    assert_tree(y, unflat(record["output"]))
    assert_tree(layer.state, unflat(record["state_after"]))


GRADIENT_CASES = sorted(n for n, r in LAYERS.items() if "grad_weights" in r)


@pytest.mark.parametrize("name", GRADIENT_CASES)
def test_gradients(name):
    layer, x, record = initialized(name)
    weights, state, rng = layer.weights, layer.state, layer.rng
    inputs = list(x) if layer.n_in != 1 else [x]
    float_inputs = [int(i) for i in record["grad_inputs"]]

    def loss(w, *xs):
        full = list(inputs)
        for i, xi in zip(float_inputs, xs):
            full[i] = xi
        out, _ = layer.pure_fn(tuple(full) if layer.n_in != 1 else full[0],
                               w, state, rng)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        return sum(jnp.sum(o * cotangent(o.shape)) for o in outs)

    # Jitted, as the Loop runs it: current JAX's op-by-op gradient of
    # FastGelu at x = -3 differs from its compiled one by 2e-5 relative
    # (a cancellation in 1 + tanh); the compiled one is Trax's, bit for bit.
    grad_fn = jax.jit(jax.grad(loss,
                               argnums=tuple(range(1 + len(float_inputs)))))
    with contextlib.redirect_stdout(io.StringIO()):
        grads = grad_fn(weights, *[inputs[i] for i in float_inputs])
    assert_tree(grads[0], unflat(record["grad_weights"]))
    for i, g in zip(float_inputs, grads[1:]):
        assert_tree(g, unflat(record["grad_inputs"][str(i)]))


def test_gradient_cases_cover_kinks_and_weights():
    # The float layers all have gradient records; ties at the kinks are in
    # the inputs (x = 0 for Relu, x = -1 + 1 for HardSigmoid, ...).
    for name in ("Relu", "ParametricRelu", "HardSigmoid", "HardTanh", "Gelu",
                 "LocallyConnected1d_wrap", "ThresholdedLinearUnit",
                 "StopGradient", "Dropout_train"):
        assert name in GRADIENT_CASES
    assert np.all(unflat(LAYERS["StopGradient"]["grad_inputs"]["0"]) == 0)


@pytest.mark.parametrize("index", range(len(ORACLE["functions"])))
def test_core_functions(index):
    record = ORACLE["functions"][index]
    env = {f"a{i}": unflat(a) for i, a in enumerate(record["args"])}
    env.update(tl=tl, jnp=jnp)
    np.random.seed(record["numpy_seed"])
    result = eval(record["call"], env)  # pylint: disable=eval-used
    assert_tree(result, unflat(record["result"]))


def test_gelu_is_erf_gelu_and_fast_gelu_is_tanh():
    x = np.linspace(-4, 4, 81).astype(np.float32)
    exact = np.asarray(tl.Gelu()(x))
    fast = np.asarray(tl.FastGelu()(x))
    assert np.max(np.abs(exact - fast)) > 1e-4  # they are different functions
    x64 = x.astype(np.float64)
    erf = np.vectorize(math.erf)
    np.testing.assert_allclose(exact, x64 * 0.5 * (1 + erf(x64 / np.sqrt(2))),
                               rtol=1e-5, atol=1e-6)


def _errors():
    return {e["case"]: e for e in ORACLE["errors"]}


def test_glu_works_where_trax_raises():
    assert _errors()["tl.Glu()"]["error_type"] == "ValueError"
    layer = tl.Glu()
    assert str(layer) == "Serial[\n  Glu\n]"
    x = np.arange(12, dtype=np.float32).reshape(3, 4) / 4 - 1
    expected = x[:, :2] / (1 + np.exp(-x[:, 2:]))
    np.testing.assert_allclose(layer(x), expected, rtol=1e-6)
    with pytest.raises(tl.LayerError, match="odd size 3"):
        layer(np.ones((2, 3), np.float32))


def test_multigaussian_loss_works_where_trax_raises():
    case = "tl.multigaussian_loss(preds (2, 7), targets (2, 2), ngauss=1)"
    assert _errors()[case]["error_type"] == "TypeError"
    ngauss, ndims = 2, 3
    rng = np.random.RandomState(1)
    preds = rng.randn(4, ngauss * (1 + 2 * ndims)).astype(np.float32)
    targets = rng.randn(4, ndims).astype(np.float32)
    got = tl.multigaussian_loss(preds, targets, ngauss=ngauss)
    # The mixture by hand, from the same (Trax) diagonal log-density.
    logits = preds[:, :ngauss]
    mus = preds[:, ngauss:ngauss * (ndims + 1)].reshape(4, ngauss, ndims)
    sig = preds[:, ngauss * (ndims + 1):].reshape(4, ngauss, ndims) ** 2 + 1e-6
    logw = logits - np.log(np.sum(np.exp(logits), -1, keepdims=True))
    comp = np.stack([tl.log_gaussian_diag_pdf(targets, mus[:, g], sig[:, g])
                     for g in range(ngauss)], -1)
    np.testing.assert_allclose(got, np.log(np.sum(np.exp(logw + comp), -1)),
                               rtol=1e-5)
    with pytest.raises(ValueError, match=r"preds has 7 columns.*needs .* 5"):
        tl.multigaussian_loss(np.ones((2, 7), np.float32),
                              np.ones((2, 2), np.float32))


def test_locally_connected_errors():
    assert _errors()["tl.LocallyConnected1d(2, 4)  # even kernel size"][
        "error_type"] == "AssertionError"  # ours: a ValueError that says why
    with pytest.raises(ValueError, match="odd kernel_size.*got 4"):
        tl.LocallyConnected1d(2, 4)
    trax_error = _errors()[
        "LocallyConnected1d(2, 3, padding='FULL') init + call"]
    layer = tl.LocallyConnected1d(2, 3, padding="FULL")
    x = unflat(LAYERS["LocallyConnected1d_same"]["input"])
    layer.init(shapes.signature(x))
    with pytest.raises(tl.LayerError) as e:
        layer(x)
    assert str(e.value).splitlines()[0] == trax_error["message_first_line"]
    assert (f"{trax_error['underlying_error_type']}: "
            f"{trax_error['underlying_error_message']}") in str(e.value)


def test_dense_with_a_bare_weight_array():
    trax_error = _errors()["Dense(2) called with a single weight array"]
    layer = tl.Dense(2)
    x = unflat(LAYERS["Log"]["input"])
    layer.init(shapes.signature(x))
    with pytest.raises(tl.LayerError) as e:
        layer(x, weights=np.ones((3, 2), np.float32))
    assert str(e.value).splitlines()[0] == trax_error["message_first_line"]
    head = trax_error["underlying_error_message"].split(":")[0]
    assert f"ValueError: {head}: " in str(e.value)


def test_flatten_error():
    trax_error = _errors()["tl.Flatten(n_axes_to_keep=3)(float32 (2, 3, 4))"]
    with pytest.raises(tl.LayerError) as e:
        tl.Flatten(n_axes_to_keep=3)(np.ones((2, 3, 4), np.float32))
    assert str(e.value).splitlines()[0] == trax_error["message_first_line"]
    assert str(e.value).rstrip().endswith(
        f"ValueError: {trax_error['underlying_error_message']}")


def test_locally_connected_takes_a_plain_initializer():
    # Trax would pass nonreceptive_dims=[0] and fail on this initializer.
    layer = tl.LocallyConnected1d(
        2, 3, kernel_initializer=lambda shape, rng: jnp.ones(shape))
    x = np.ones((4, 3), np.float32)
    layer.init(shapes.signature(x))
    assert layer.weights[0].shape == (4, 3, 3, 2)
    assert layer(x).shape == (2, 2)


def test_dropout_rate_from_a_dict_state():
    layer = tl.Dropout(rate=0.0)
    x = np.ones((4, 100), np.float32)
    layer.init(shapes.signature(x))
    assert np.all(layer(x) == 1)
    layer.state = {layer.name: jnp.array(0.5)}
    y = np.asarray(layer(x))
    assert set(np.unique(y)) == {0.0, 2.0}


def test_summaries_in_flax_state_and_jit():
    layer = tl.SummaryScalar("loss")
    x = np.array([[3., 5.], [2., 6.]], np.float32)
    layer.init(shapes.signature(x))
    assert layer.variables["state"] == {"state": {"summary_loss": 0.0}}
    y, state = jax.jit(layer.pure_fn)(x, layer.weights, layer.state,
                                      layer.rng)
    np.testing.assert_array_equal(y, x)
    assert float(state["summary_loss"]) == 4.0


def test_random_uniform_draws_new_numbers_per_key():
    layer = tl.RandomUniform(shape=(3,))
    layer.init(())
    a = layer(())
    b = layer((), rng=trax.fastmath.random.get_prng(1))
    assert not np.array_equal(a, b)
    assert layer(()).tolist() == a.tolist()  # the layer's own key: same


def test_thresholded_linear_unit_threshold_is_a_named_weight():
    layer = tl.ThresholdedLinearUnit()
    layer.init(shapes.ShapeDtype((2,), np.float32))
    assert layer.params == {"threshold": 0.0}
    np.testing.assert_array_equal(
        layer(np.array([-1., 2.], np.float32), weights=jnp.array(0.5)),
        [0.5, 2.0])
