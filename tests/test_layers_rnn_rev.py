"""rnn, reversible, assert_shape and acceleration layers against real Trax
(trax_oracle/layers_rnn_rev, see its README.md): reprs, arity, weight and
state structure, initial weights, outputs and gradients; reversible layers'
reverse and reverse_and_grad; which shape asserts fail."""

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trax_compat import layers as tl
from trax_compat import shapes
from trax_compat.fastmath import random as trax_random
from trax_compat.layers import reversible

from conftest import load_oracle_json
from conftest import oracle_array

ORACLE = "layers_rnn_rev/layers_rnn_rev.json.gz"
RTOL = 1e-6
# The kernel gradient of an LSTM scanned from a given (nonzero) state sums 5
# steps' terms: JAX's scan transpose here orders the sum differently from
# jax 0.4.34's, 1.3e-6 of the largest entry.
SCAN_GRAD_RTOL = {"lstm_initial_state": 2e-6}
LAYERS = (
    "lstm_cell", "gru_cell", "conv_gru_cell", "general_gru_cell_dense",
    "general_gru_cell_memory_hard", "inner_sru_cell", "scan_sru_cell",
    "make_zero_state_2", "lstm", "lstm_return_state", "lstm_initial_state",
    "gru", "sru", "sru_relu", "reversible_swap", "reversible_select",
    "reversible_concatenate_pair", "reversible_reshape",
    "reversible_half_residual", "reversible_half_residual_attention",
    "reversible_serial", "assert_function_linked", "accelerate_dense")


@pytest.fixture(scope="module")
def oracle():
    return load_oracle_json(ORACLE)


def test_layer_list_is_the_oracles(oracle):
    assert tuple(oracle["layers"]) == LAYERS


def _value(entry):
    if entry is None:
        return ()
    if isinstance(entry, list):
        return tuple(_value(e) for e in entry)
    if "tuple" in entry:
        return tuple(_value(e) for e in entry["tuple"])
    if entry["dtype"] == "object":
        # A shared layer's second use: Trax's cache marker, a dict.
        return {k: tuple(v) for k, v in entry["data"].items()}
    return oracle_array(entry)


def _typed(tree):
    if isinstance(tree, (tuple, list)):
        return {"tuple": [_typed(t) for t in tree]} if tree else None
    return {"shape": list(np.shape(tree)), "dtype": str(np.asarray(tree).dtype)}


def _is_marker(x):
    return isinstance(x, dict) and "data" not in x and "tuple" not in x


def _assert_close(actual, expected, what, rtol=RTOL):
    """Equal within 1e-6 relative to the array's largest value (gradients
    summed in another order differ in the last bits of small entries)."""
    if not isinstance(expected, (tuple, np.ndarray)) and not _is_marker(
            expected):
        expected = _value(expected)
    if _is_marker(expected):
        assert actual == expected, what
        return
    if isinstance(expected, tuple):
        assert isinstance(actual, (tuple, list)), what
        assert len(actual) == len(expected), what
        for i, (a, e) in enumerate(zip(actual, expected)):
            _assert_close(a, e, f"{what}[{i}]", rtol)
        return
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    np.testing.assert_allclose(np.asarray(actual), expected, rtol=rtol,
                               atol=rtol * scale, err_msg=what)


def _cotangent(shape):
    n = int(np.prod(shape))
    return np.cos(np.arange(n, dtype=np.float32) * np.float32(0.71)).astype(
        np.float32).reshape(shape)


def _cotangents(y):
    if isinstance(y, (tuple, list)):
        return tuple(_cotangent(np.shape(a)) for a in y)
    return _cotangent(np.shape(y))


def _built(record):
    """The layer of ``record`` built and initialised as the generator did."""
    layer = eval(record["constructor"])  # pylint: disable=eval-used
    x = _value(record["input"])
    sig = shapes.signature(x)
    if isinstance(layer, tl.Accelerate):
        layer.sublayer.init(sig, rng=trax_random.get_prng(0))
        layer.init(sig)
    else:
        layer.init(sig, rng=trax_random.get_prng(0))
    return layer, x


@pytest.mark.parametrize("name", LAYERS)
def test_structure_and_initial_weights(oracle, name):
    record = oracle["layers"][name]
    layer = eval(record["constructor"])  # pylint: disable=eval-used
    assert (str(layer), layer.n_in, layer.n_out, layer.name) == (
        record["repr"], record["n_in"], record["n_out"], record["name"])
    layer, _ = _built(record)
    assert _typed(layer.weights) == record["weights_typed"]
    assert _typed(layer.state) == record["state_typed"]
    # Initializers draw the same bits from the same key.
    _assert_close(layer.weights, record["weights"], "initial weights")
    if isinstance(layer, tl.Accelerate):
        return  # its init takes no key: Trax's is its own random seed
    np.testing.assert_array_equal(
        np.asarray(jax.random.key_data(layer.rng)
                   if jnp.issubdtype(layer.rng.dtype, jax.dtypes.prng_key)
                   else layer.rng), oracle_array(record["rng_after_init"]))


@pytest.mark.parametrize("name", LAYERS)
def test_outputs_and_gradients(oracle, name):
    record = oracle["layers"][name]
    layer, x = _built(record)
    weights, state, rng = layer.weights, layer.state, layer.rng
    y = layer(x)
    _assert_close(y, record["output"], "output")
    _assert_close(layer.state, record["state_after_call"], "state after call")

    def loss(x, w):
        out, _ = layer.pure_fn(x, w, state, rng)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        return sum(jnp.sum(a * _cotangent(a.shape)) for a in outs)

    x_grad, w_grad = jax.grad(loss, argnums=(0, 1))(x, weights)
    _assert_close(x_grad, record["grad_inputs"], "input gradients")
    _assert_close(w_grad, record["grad_weights"], "weight gradients",
                  rtol=SCAN_GRAD_RTOL.get(name, RTOL))


REVERSIBLE = [n for n in LAYERS if n.startswith("reversible_")]


@pytest.mark.parametrize("name", REVERSIBLE)
def test_reverse_and_reverse_and_grad(oracle, name):
    record = oracle["layers"][name]
    layer, x = _built(record)
    weights, state, rng = layer.weights, layer.state, layer.rng
    y = layer(x)
    if "reverse" in record:
        _assert_close(layer.reverse(y, weights, state, layer.state, rng=rng),
                      record["reverse"], "reverse")
        _assert_close(layer.reverse(y, weights, state, layer.state, rng=rng),
                      x, "reverse gives the inputs")
    else:
        with pytest.raises(NotImplementedError):
            layer.reverse(y, weights, state, layer.state, rng=rng)
    back_x, (x_grad, w_grad) = layer.reverse_and_grad(
        y, _cotangents(y), weights, state, layer.state, rng=rng)
    expected = record["reverse_and_grad"]
    _assert_close(back_x, expected["inputs"], "reconstructed inputs")
    _assert_close(x_grad, expected["inputs_grad"], "inputs gradient")
    _assert_close(w_grad, expected["weights_grad"], "weights gradient")


def _plain_autodiff(layer):
    """``layer`` (reversible) with its custom gradients switched off."""
    class Plain:
        def __enter__(self):
            self.saved = reversible.ReversibleLayer.has_backward
            reversible.ReversibleLayer.has_backward = property(
                lambda self: False)

        def __exit__(self, *exc):
            reversible.ReversibleLayer.has_backward = self.saved
    del layer
    return Plain()


def test_reversible_model_gradients_equal_plain_autodiff():
    model = tl.ReversibleSerial(
        tl.ReversibleHalfResidual(tl.Dense(4), tl.Relu()), tl.ReversibleSwap(),
        tl.ReversibleHalfResidual(tl.Dense(4), attention_layer=tl.Dense(4)),
        tl.ReversibleSwap(), tl.ReversibleReshape((2, 4), (2, 2, 2), n_in=2),
        tl.ReversibleSelect([1, 0]))
    x = (np.sin(np.arange(8, dtype=np.float32)).reshape(2, 4),
         np.cos(np.arange(8, dtype=np.float32)).reshape(2, 4))
    model.init(shapes.signature(x), rng=trax_random.get_prng(0))
    weights, state, rng = model.weights, model.state, trax_random.get_prng(1)

    def loss(x, w):
        y, _ = model.pure_fn(x, w, state, rng)
        return sum(jnp.sum(a * jnp.sin(3 * a)) for a in y)

    reversed_grads = jax.jit(jax.grad(loss, argnums=(0, 1)))(x, weights)
    with _plain_autodiff(model):
        plain_grads = jax.grad(loss, argnums=(0, 1))(x, weights)
    leaves = jax.tree_util.tree_leaves(plain_grads)
    assert len(leaves) == 8 and all(np.any(g != 0) for g in leaves[2:])
    jax.tree_util.tree_map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
        reversed_grads, plain_grads)


def test_reversible_select_needs_every_input():
    with pytest.raises(ValueError, match="input 1 is not in"):
        tl.ReversibleSelect([0, 0], n_in=2)


def test_reversible_serial_refuses_plain_layers():
    with pytest.raises(ValueError, match="Sub-layer 1 .* not reversible"):
        tl.ReversibleSerial(tl.ReversibleSwap(), tl.Dense(2))


def test_reversible_swap_keeps_a_list_input():
    # Trax's own test: integer inputs, no gradient taken.
    ys = tl.ReversibleSwap()([np.array([1, 2]), np.array([10, 20])])
    assert tl.to_list(ys) == [[10, 20], [1, 2]]


def test_reversible_print_shape(capsys):
    layer = tl.ReversiblePrintShape(n_in=2, msg="here")
    xs = (np.zeros((2, 3), np.float32), np.zeros((4,), np.int32))
    assert tl.to_list(layer(xs)) == tl.to_list(xs)
    assert capsys.readouterr().out == (
        "PrintShape: here: [(2, 3)[float32], (4,)[int32]]\n")
    assert layer.reverse(xs) is xs


# -- assert_shape ------------------------------------------------------------

def _assert_layer(spec):
    if "->" in spec:
        return tl.AssertFunction(spec, tl.Serial())
    return tl.AssertShape(spec)


def test_asserts_pass_and_fail_as_trax(oracle):
    for record in oracle["asserts"]:
        layer = _assert_layer(record["spec"])
        xs = [np.zeros(s, np.float32) for s in record["input_shapes"]]
        x = xs if len(xs) > 1 else xs[0]
        if record["passed"]:
            assert layer(x) is x, record["spec"]
            continue
        with pytest.raises(tl.LayerError) as info:
            layer(x)
        last = str(info.value).splitlines()[-1].split(" Defined at ")[0]
        if record["underlying_error"].startswith("ValueError: too many values"):
            # Trax fails to unpack a spec with two ellipses; we say so.
            assert "more than one '...'" in last, record["spec"]
            continue
        assert last == record["underlying_error"], record["spec"]


def test_assert_function_links_input_and_output_letters():
    # 'ab->ab' on a transpose: each side alone is fine, linked they differ.
    transpose = tl.Fn("T", lambda x: x.T)
    with pytest.raises(tl.LayerError, match=r"dict \{'a': 2, 'b': 3\}"):
        tl.AssertFunction("ab->ab", transpose)(np.zeros((2, 3)))
    # A second call with other sizes starts afresh.
    layer = tl.AssertFunction("ab->ba", transpose)
    layer(np.zeros((2, 3)))
    layer(np.zeros((5, 4)))


def test_assert_shape_decorator_on_class_and_function():
    @tl.assert_shape("ab->ba")
    class Transpose(tl.Layer):
        def forward(self, x):
            return x.T

    @tl.assert_shape("...a->...")
    def ReduceLast():  # pylint: disable=invalid-name
        return tl.Fn("ReduceLast", lambda x: jnp.sum(x, axis=-1))

    assert Transpose()(np.zeros((2, 3))).shape == (3, 2)
    assert ReduceLast()(np.zeros((2, 3))).shape == (2,)
    with pytest.raises(tl.LayerError, match="function output"):
        tl.assert_shape("ab->ab")(Transpose.__mro__[0])()(np.zeros((2, 3)))


def test_assert_shape_bad_spec_is_one_clear_error():
    with pytest.raises(ValueError, match=r"invalid character.*'-'"):
        tl.AssertShape("a-b")
    with pytest.raises(ValueError, match="exactly one '->'"):
        tl.AssertFunction("ab", tl.Serial())


# -- acceleration ------------------------------------------------------------

def test_device_helpers_match_trax(oracle):
    record = oracle["acceleration"]
    x = np.sin(np.arange(12, dtype=np.float32) * np.float32(0.37)).astype(
        np.float32).reshape(4, 3)
    _assert_close(tl.reshape_by_device(x, 2), record["reshape_by_device_2"],
                  "reshape_by_device")
    with pytest.raises(ValueError) as info:
        tl.reshape_by_device(x, 3)
    assert f"ValueError: {info.value}" == record["reshape_by_device_3_error"]
    _assert_close(tl.for_n_devices(x, 1), record["for_n_devices_1"], "for_n")
    _assert_close(tl.mean_or_pmean(1, x, axis=0),
                  record["mean_or_pmean_1_axis0"], "mean axis 0")
    _assert_close(tl.mean_or_pmean(1, x), record["mean_or_pmean_1"], "mean")


def test_accelerate_pads_a_batch_and_keeps_list_inputs():
    layer = tl.Accelerate(tl.Serial(tl.Select([0, 1, 1]), tl.Add(),
                                    tl.Dense(2)), n_devices=2)
    del layer  # needs two devices: see the subprocess test
    dense = tl.Dense(2)
    x = np.ones((3, 4), np.float32)
    dense.init(shapes.signature(x), rng=trax_random.get_prng(0))
    fast = tl.Accelerate(dense)
    np.testing.assert_array_equal(fast(x), dense(x))
    fast.replicate_weights(jax.tree_util.tree_map(lambda w: w * 2,
                                                  dense.weights))
    np.testing.assert_allclose(fast(x), dense(x))
    assert fast.weights[0] is dense.weights[0]


def test_on_cpu_and_on_accelerator():
    x = tl.on_cpu(np.ones(3))
    assert {d.platform for d in x.devices()} == {"cpu"}
    y = np.ones(3)
    # No accelerator here: unchanged.
    assert tl.on_accelerator(y) is y or jax.default_backend() != "cpu"


TWO_DEVICES = r"""
import numpy as np
from trax_compat import layers as tl, shapes
from trax_compat.fastmath import random as trax_random
dense = tl.Dense(2)
x = np.arange(15, dtype=np.float32).reshape(5, 3) / 10
dense.init(shapes.signature(x), rng=trax_random.get_prng(0))
fast = tl.Accelerate(dense)
assert fast.weights[0].shape == (2, 3, 2), fast.weights[0].shape
np.testing.assert_allclose(fast(x), dense(x), rtol=1e-6)
acc = tl.Accelerate(tl.WeightedCategoryAccuracy())
per_device = acc([np.array([[.2, .1, .7, 0.]] * 4), np.array([0, 1, 2, 3]),
                  np.array([1., 1., 1., 0.])])
# As in Trax, each device divides by the mean weight count per device
# (3 weights over 2 devices): device 1 has one right answer, 1 / 1.5.
np.testing.assert_allclose(per_device, [0.0, 2 / 3], rtol=1e-6)
w2 = tl.for_n_devices(dense.weights, 2)
f = tl.jit_forward(dense.pure_fn, 2)
y, _ = f(np.ones((4, 3), np.float32), w2, tl.for_n_devices((), 2),
         trax_random.get_prng(0))
# do_mean: the outputs averaged over the whole batch
np.testing.assert_allclose(y, dense(np.ones((4, 3), np.float32)).mean(0),
                           rtol=1e-6)
print("ok")
"""


def test_accelerate_on_two_host_devices():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
               JAX_PLATFORMS="cpu")
    run = subprocess.run([sys.executable, "-c", TWO_DEVICES], env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr
