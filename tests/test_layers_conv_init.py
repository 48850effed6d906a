"""Initializers, convolution, deconvolution and pooling against real Trax.

The oracle (``trax_oracle/layers_conv_init/``, see its README.md and
``testdata/generate_layers_conv_init.py``) holds Trax's public names and
parameter names of the four modules, each initializer's values for a fixed
key, and per layer its repr, weight tree, initial weights, output and
gradients.

Precision: every initializer and every layer's initial weights are Trax's
bit for bit (the same key derivation, the same float32 arithmetic, the same
LAPACK QR for the orthogonal one). Outputs and gradients are checked to 1e-6
relative to each array's largest magnitude: convolutions and sums may
accumulate in a different order under current XLA than under Trax's jax
0.4.34.
"""

import inspect
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trax_compat import layers as tl
from trax_compat import shapes
from trax_compat.fastmath import random as trax_random
from trax_compat.layers import convolution
from trax_compat.layers import deconvolution
from trax_compat.layers import initializers
from trax_compat.layers import pooling
from trax_compat.gin_registry import unwrapped

from conftest import load_oracle_json, oracle_array

ORACLE = load_oracle_json("layers_conv_init/layers_conv_init.json")
RTOL = 1e-6
MODULES = {"initializers": initializers, "convolution": convolution,
           "deconvolution": deconvolution, "pooling": pooling}
# Parameters we take beyond Trax's (all keyword-only, so no Trax call
# changes meaning): the correct spelling next to Trax's
# `kernel_initialzer`.
EXTRA_PARAMS = {"ConvTranspose": ["kernel_initializer"]}


def _expected(record):
    """An oracle array; bfloat16 ones are stored widened to float32."""
    return oracle_array(record), record.get("trax_dtype", record["dtype"])


def assert_bitwise(ours, record):
    expected, dtype = _expected(record)
    ours = np.asarray(ours)
    assert ours.dtype.name == dtype
    np.testing.assert_array_equal(ours.astype(expected.dtype), expected,
                                  strict=True)


def assert_close(ours, record):
    """Within RTOL of the array's largest magnitude, same shape and dtype."""
    expected, dtype = _expected(record)
    ours = np.asarray(ours)
    assert ours.dtype.name == dtype
    assert ours.shape == expected.shape
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    np.testing.assert_allclose(ours.astype(expected.dtype), expected,
                               rtol=RTOL, atol=RTOL * scale)


def _typed(tree):
    """Our weights in the oracle's ``weights_typed`` notation."""
    if isinstance(tree, tuple):
        return {"tuple": [_typed(t) for t in tree]} if tree else None
    return {"shape": list(np.shape(tree)), "dtype": np.asarray(tree).dtype.name}


def _nested(tree, records, check):
    if records is None:
        assert tree == ()
        return
    if isinstance(records, list):
        assert isinstance(tree, tuple) and len(tree) == len(records)
        for t, r in zip(tree, records):
            _nested(t, r, check)
        return
    check(tree, records)


# -- names and signatures ----------------------------------------------------------

@pytest.mark.parametrize("module_name", sorted(MODULES))
def test_every_public_name_of_trax_module_with_its_parameters(module_name):
    module = MODULES[module_name]
    for name, trax_params in ORACLE["public_names"][module_name].items():
        ours = getattr(module, name)
        assert unwrapped(getattr(tl, name)) is ours
        params = inspect.signature(ours).parameters
        extra = EXTRA_PARAMS.get(name, [])
        assert list(params) == trax_params + extra, name
        assert all(params[p].kind == inspect.Parameter.KEYWORD_ONLY
                   for p in extra)


def test_pooling_layers_live_in_pooling_module():
    for name in ("MaxPool", "SumPool", "AvgPool"):
        assert getattr(tl, name).__module__ == pooling.__name__
        assert not hasattr(convolution, name)


# -- initializers ---------------------------------------------------------------

@pytest.mark.parametrize("case", ORACLE["initializers"],
                         ids=lambda c: f"{c['expr']}{tuple(c['shape'])}")
def test_initializer_values_are_traxs_bitwise(case, tmp_path):
    path = str(tmp_path / "params.npy")
    np.save(path, oracle_array(ORACLE["from_file_contents"]))
    f = eval(case["expr"].replace("PATH", "path"))  # pylint: disable=eval-used
    value = f(tuple(case["shape"]), trax_random.get_prng(case["seed"]))
    if case["expr"].startswith("tl.OrthogonalInitializer"):
        # A QR decomposition (LAPACK): its last bits follow the CPU's
        # vector instructions, so Trax's numbers within float32 rounding.
        expected, dtype = _expected(case["value"])
        assert np.asarray(value).dtype.name == dtype
        np.testing.assert_allclose(np.asarray(value), expected, rtol=1e-6,
                                   atol=1e-6)
        return
    assert_bitwise(value, case["value"])


def test_initializer_takes_nonreceptive_dims():
    case = ORACLE["nonreceptive_dims"]
    f = eval(case["expr"])  # pylint: disable=eval-used
    value = f(tuple(case["shape"]), trax_random.get_prng(case["seed"]),
              nonreceptive_dims=case["nonreceptive_dims"])
    assert_bitwise(value, case["value"])


def test_initializer_takes_a_shape_as_list_of_array_ints():
    shape = [np.int64(3), jnp.int32(4)]
    key = trax_random.get_prng(0)
    np.testing.assert_array_equal(
        tl.KaimingUniformInitializer()(shape, key),
        tl.KaimingUniformInitializer()((3, 4), key))


def test_kaiming_uses_the_leaky_relu_gain():
    key = trax_random.get_prng(0)
    std0 = np.std(tl.KaimingNormalInitializer()((400, 500), key))
    std1 = np.std(tl.KaimingNormalInitializer(param=1.0)((400, 500), key))
    # He: variance 2 / sqrt(1 + param^2) / fan_in (Trax's scale).
    np.testing.assert_allclose(std0, np.sqrt(2.0 / 400), rtol=0.01)
    np.testing.assert_allclose(std1, np.sqrt(2.0 / np.sqrt(2.0) / 400),
                               rtol=0.01)


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (2, 3, 4), (6,)])
def test_orthogonal_has_orthonormal_rows_or_columns(shape):
    q = np.asarray(tl.OrthogonalInitializer(stddev=2.0)(
        shape, trax_random.get_prng(1)))
    assert q.shape == shape
    m = q.reshape(-1, shape[-1]) / 2.0
    gram = m @ m.T if m.shape[0] < m.shape[1] else m.T @ m
    np.testing.assert_allclose(gram, np.eye(gram.shape[0]), atol=1e-5)


def test_truncated_normal_stays_within_two_stddevs():
    # Trax fails here (its fastmath.random has no truncated_normal); ours
    # draws from JAX's, rescaled to the intended variance.
    f = tl.ScaledInitializer(-1, -2, 1.0, "fan_in", "truncated_normal")
    w = np.asarray(f((100, 200), trax_random.get_prng(0)))
    assert w.dtype == np.float32
    std = np.sqrt(1.0 / 100)
    assert np.abs(w).max() <= 2 * std / .87962566103423978 + 1e-6
    np.testing.assert_allclose(np.std(w), std, rtol=0.02)


def test_initializers_follow_the_numpy_backend():
    from trax_compat import fastmath  # pylint: disable=import-outside-toplevel
    with fastmath.use_backend("numpy"):
        w = tl.GlorotUniformInitializer()((3, 4), None)
    assert type(w) is np.ndarray and w.shape == (3, 4)


# -- layers -----------------------------------------------------------------------

@pytest.mark.parametrize("case", ORACLE["layers"], ids=lambda c: c["expr"])
def test_layer_matches_trax(case):
    layer = eval(case["expr"])  # pylint: disable=eval-used
    assert str(layer) == case["repr"]
    assert (layer.n_in, layer.n_out) == (case["n_in"], case["n_out"])
    x = oracle_array(case["input"])
    weights, state = layer.init(shapes.signature(x),
                                rng=trax_random.get_prng(0))
    assert _typed(weights) == case["weights_typed"]
    _nested(weights, case["weights"], assert_bitwise)
    y = layer(x)
    assert_close(y, case["output"])
    if "grad_input" not in case:
        return
    cotangent = oracle_array(case["cotangent"])

    def loss(x, w):
        out, _ = layer.pure_fn(x, w, state, layer.rng)
        return jnp.sum(out * cotangent)

    grad_x, grad_w = jax.grad(loss, argnums=(0, 1))(x, weights)
    assert_close(grad_x, case["grad_input"])
    _nested(grad_w, case["grad_weights"], assert_close)


@pytest.mark.parametrize("layer", [
    tl.Conv(3, (2, 2)), tl.Conv(3, (2, 2), use_bias=False),
    tl.ConvTranspose(3, (2, 2))], ids=str)
def test_conv_runs_in_flax_with_kernel_and_bias(layer):
    x = np.random.RandomState(0).randn(2, 4, 4, 2).astype(np.float32)
    layer.init(shapes.signature(x), rng=trax_random.get_prng(0))
    module, variables = layer.to_flax()
    params = variables["params"]
    names = {"kernel", "bias"} if isinstance(layer.weights, tuple) else {
        "kernel"}
    assert set(params) == names
    np.testing.assert_allclose(module.apply(variables, x), layer(x),
                               rtol=1e-6, atol=1e-6)


def test_depthwise_conv_kernel_name():
    layer = tl.CausalDepthwiseConv()
    layer.init(shapes.ShapeDtype((1, 4, 3)))
    assert set(layer.params) == {"kernel"}


def _future_gradient(layer, shape):
    """d output[:, t] / d input[:, t'] summed over everything else, as a
    (time, time) matrix."""
    x = np.random.RandomState(0).randn(*shape).astype(np.float32)
    layer.init(shapes.signature(x), rng=trax_random.get_prng(0))
    jac = jax.jacobian(lambda x: layer.pure_fn(x, layer.weights, layer.state,
                                               layer.rng)[0])(x)
    return np.abs(np.asarray(jac)).sum(axis=(0, 2, 3, 5))


@pytest.mark.parametrize("layer", [tl.CausalConv(2, kernel_width=3),
                                   tl.CausalDepthwiseConv(kernel_size=3)],
                         ids=str)
def test_causal_layers_never_see_the_future(layer):
    dependence = _future_gradient(layer, (2, 6, 2))
    assert np.all(np.triu(dependence, k=1) == 0)
    # ...but do see the current and the two previous steps.
    assert np.all(np.diag(dependence) > 0)
    assert np.all(np.diag(dependence, k=-2) > 0)
    assert np.all(np.tril(dependence, k=-3) == 0)


@pytest.mark.parametrize("make", [lambda: tl.Conv(3, (2, 2)),
                                  lambda: tl.ConvTranspose(3, (2, 2))],
                         ids=["Conv", "ConvTranspose"])
def test_extra_leading_axes_fold_into_the_batch(make):
    x = np.random.RandomState(0).randn(2, 3, 4, 4, 2).astype(np.float32)
    layer = make()
    layer.init(shapes.signature(x), rng=trax_random.get_prng(0))
    y = layer(x)
    flat = make()
    flat.init(shapes.signature(x[0]), rng=trax_random.get_prng(0))
    np.testing.assert_array_equal(flat.weights[0], layer.weights[0])
    np.testing.assert_allclose(y[1], flat(x[1]), rtol=1e-6, atol=1e-6)
    assert y.shape[:2] == (2, 3)


def test_conv_transpose_takes_the_correct_spelling_too():
    init = tl.RandomUniformInitializer(0.5)
    a = tl.ConvTranspose(2, (2, 2), kernel_initialzer=init)
    b = tl.ConvTranspose(2, (2, 2), kernel_initializer=init)
    sig = shapes.ShapeDtype((1, 3, 3, 2))
    wa, _ = a.init(sig, rng=trax_random.get_prng(0))
    wb, _ = b.init(sig, rng=trax_random.get_prng(0))
    np.testing.assert_array_equal(wa[0], wb[0])
    assert float(np.abs(wa[0]).max()) <= 0.5
    with pytest.raises(ValueError, match="not both"):
        tl.ConvTranspose(2, (2, 2), kernel_initialzer=init,
                         kernel_initializer=init)


def test_pool_takes_a_list_pool_size():
    # Trax fails with a TypeError on a list; the window is the same.
    x = np.random.RandomState(0).randn(1, 4, 4, 1).astype(np.float32)
    layer = tl.MaxPool(pool_size=[2, 2])
    assert str(layer) == "MaxPool[2,2]"
    np.testing.assert_array_equal(layer(x), tl.MaxPool(pool_size=(2, 2))(x))


# -- errors -------------------------------------------------------------------------

ERRORS = {e["case"]: e for e in ORACLE["errors"]}


def _error(prefix):
    (case,) = [c for c in ERRORS if c.startswith(prefix)]
    return ERRORS[case]


@pytest.mark.parametrize("make, prefix", [
    (lambda: tl.ScaledInitializer(-1, -2, 0.0, "fan_in", "normal"),
     "tl.ScaledInitializer(-1, -2, 0.0"),
    (lambda: tl.ScaledInitializer(-1, -2, 1.0, "fan_x", "normal"),
     "tl.ScaledInitializer(-1, -2, 1.0, 'fan_x'"),
    (lambda: tl.ScaledInitializer(-1, -2, 1.0, "fan_in", "cauchy")(
        (3, 4), trax_random.get_prng(0)),
     "tl.ScaledInitializer(-1, -2, 1.0, 'fan_in', 'cauchy'"),
], ids=["scale", "mode", "distribution"])
def test_scaled_initializer_errors_are_traxs(make, prefix):
    trax_error = _error(prefix)
    with pytest.raises(ValueError) as info:
        make()
    assert trax_error["error_type"] == "ValueError"
    assert str(info.value).startswith(trax_error["error_message"])


@pytest.mark.parametrize("make, shape, prefix", [
    (tl.GlorotNormalInitializer, (), "tl.GlorotNormalInitializer()(()"),
    (lambda: tl.GlorotNormalInitializer(3, 2), (3, 4),
     "tl.GlorotNormalInitializer(3, 2)"),
])
def test_initializer_axis_outside_the_shape(make, shape, prefix):
    assert _error(prefix)["error_type"] == "IndexError"
    with pytest.raises(IndexError, match=r"out of range for a weight of "
                                         rf"shape {re.escape(str(shape))}"):
        make()(shape, trax_random.get_prng(0))


def test_initializer_from_file_of_the_wrong_shape(tmp_path):
    # Trax: a bare AssertionError; ours says which file and what to do.
    assert _error("tl.InitializerFromFile")["error_type"] == "AssertionError"
    path = tmp_path / "w.npy"
    np.save(path, np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match=r"w.npy.*\(3, 2\).*\(2, 2\)"):
        tl.InitializerFromFile(str(path))((2, 2), None)


@pytest.mark.parametrize("make, prefix", [
    (tl.Conv, "tl.Conv(2"), (tl.ConvTranspose, "tl.ConvTranspose(2")])
def test_rank_5_input_needs_nhwc(make, prefix):
    trax_error = _error(prefix)
    layer = make(2, (2, 2), dimension_numbers=("NCHW", "OIHW", "NCHW"))
    with pytest.raises(tl.LayerError) as info:
        layer.init(shapes.ShapeDtype((2, 2, 3, 4, 4)))
    message = str(info.value)
    assert trax_error["message_header"][0] in message
    assert trax_error["underlying_error_message"] in message
    assert "dimension_numbers ('NHWC', ..., 'NHWC')" in message


def test_causal_conv_names_the_input_shape_it_takes():
    layer = tl.CausalConv(2)
    layer.init(shapes.ShapeDtype((2, 5, 3)))
    with pytest.raises(tl.LayerError, match=r"\(batch, time, depth\), got "
                                            r"shape \(2, 5, 3, 1\)"):
        layer(np.ones((2, 5, 3, 1), np.float32))


def test_pool_strides_must_match_the_window():
    with pytest.raises(ValueError, match=r"strides \(2,\) must have one "
                                         r"entry per pool_size axis \(2\)"):
        tl.AvgPool(pool_size=(2, 2), strides=(2,))
