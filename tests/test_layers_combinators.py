"""Trax's combinators against real Trax's records (combinators.json of the
oracle's layers_combinators folder, written by
testdata/generate_layers_combinators.py): reprs, arity, the weight and state
trees with Trax's cache markers, initial weights bit for bit, outputs, state
after each call and gradients; the named Flax view of each new combinator;
and a Cond/Bidirectional model trained in the Loop against the same model in
JAX."""

import contextlib
import io

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import trax_compat as trax
from trax_compat import layers as tl
from trax_compat import shapes
from trax_compat.fastmath import numpy as fnp
from trax_compat.fastmath import random as trax_random
from trax_compat.supervised import training

from conftest import float_batches
from conftest import load_oracle_json
from conftest import oracle_array

RTOL = 1e-6
# The records' cases in their order (test_case_list_is_the_oracles checks
# it), so that collecting the tests reads no file.
CASES = (
    "cond_dense_true_false", "cond_default_false", "cond_two_in_two_out",
    "chunk_dense_2", "chunk_dense_3_unchunkable_passes",
    "chunk_size_0_is_the_layer", "cache_dense", "gate", "flatten_list",
    "batch_leading_axes_dense", "batch_leading_axes_keep2",
    "bidirectional_dense_cumsum", "bidirectional_axis0_add",
    "bidirectional_gru", "serial_with_side_outputs",
    "serial_with_side_outputs_list", "scan_dense_cell_axis1",
    "scan_predict_add", "scan_no_carry_dense", "serial_dense_relu_dense",
    "parallel_dense_none", "branch_dense_none", "residual_dense_shortcut",
    "split_3_axis0", "concatenate_axis1", "select_drop_dup_swap",
    "add_subtract_multiply")


@pytest.fixture(scope="module")
def oracle():
    return load_oracle_json("layers_combinators/combinators.json")


def test_case_list_is_the_oracles(oracle):
    assert tuple(oracle["cases"]) == CASES


def _value(record):
    """An input or output record as arrays in tuples/lists."""
    if "tuple" in record:
        return tuple(_value(r) for r in record["tuple"])
    if "list" in record:
        return [_value(r) for r in record["list"]]
    return oracle_array(record)


def _assert_tree(ours, record, where, exact=False):
    """``ours`` (a weight/state tree or outputs) equals the record: the same
    nesting (tuple or list), cache markers and dtypes/shapes; values bit for
    bit when ``exact``, else within RTOL."""
    if record is None:
        assert isinstance(ours, (tuple, list)) and not ours, (where, ours)
        return
    if "marker" in record:
        marker = (tl.GET_WEIGHTS_FROM_CACHE if record["marker"] == "weights"
                  else tl.GET_STATE_FROM_CACHE)
        assert ours == marker, where
        return
    for kind in ("tuple", "list"):
        if kind in record:
            assert type(ours).__name__ == kind, (where, type(ours))
            assert len(ours) == len(record[kind]), where
            for i, (o, r) in enumerate(zip(ours, record[kind])):
                _assert_tree(o, r, f"{where}[{i}]", exact)
            return
    want = oracle_array(record)
    got = np.asarray(ours)
    assert got.shape == want.shape and got.dtype == want.dtype, (
        where, got.shape, got.dtype, want.shape, want.dtype)
    if exact:
        np.testing.assert_array_equal(got, want, err_msg=where)
    else:
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL,
                                   err_msg=where)


def _build(record):
    namespace = {"tl": tl, "jnp": fnp}
    return eval(record["constructor"], namespace)  # pylint: disable=eval-used


def _signature(x):
    if isinstance(x, list):  # FlattenList's nested input
        return shapes.signature(x[0][0])
    return shapes.signature(x)


def _initialized(record):
    model = _build(record)
    x = _value(record["calls"][0]["input"])
    model.init(_signature(x), rng=trax_random.get_prng(0))
    return model, x


@pytest.mark.parametrize("name", CASES)
def test_repr_arity_and_trees_are_traxs(oracle, name):
    record = oracle["cases"][name]
    model, _ = _initialized(record)
    assert str(model) == record["repr"]
    assert (model.name, model.n_in, model.n_out) == (
        record["name"], record["n_in"], record["n_out"])
    # Initial weights bit for bit, markers and nesting included.
    _assert_tree(model.weights, record["weights"], "weights", exact=True)
    _assert_tree(model.state, record["state"], "state", exact=True)


@pytest.mark.parametrize("name", CASES)
def test_outputs_and_state_after_each_call_are_traxs(oracle, name):
    record = oracle["cases"][name]
    model, _ = _initialized(record)
    for i, call in enumerate(record["calls"]):
        out = model(_value(call["input"]))
        _assert_tree(out, call["output"], f"call {i} output")
        _assert_tree(model.state, call["state_after"], f"call {i} state")


def _half_sum_squares(outputs):
    return sum(jnp.sum(y.astype(jnp.float32) ** 2)
               for y in jax.tree_util.tree_leaves(outputs)) / 2.0


@pytest.mark.parametrize("name", [n for n in CASES if n not in (
    "gate", "flatten_list", "split_3_axis0", "concatenate_axis1",
    "select_drop_dup_swap", "add_subtract_multiply", "scan_predict_add")])
def test_gradients_are_traxs(oracle, name):
    record = oracle["cases"][name]
    model, x = _initialized(record)
    weights, state, rng = model.weights, model.state, model.rng

    def loss(w):
        outputs, _ = model.pure_fn(x, w, state, rng)
        return _half_sum_squares(outputs)

    _assert_tree(jax.grad(loss)(weights), record["grad_of_half_sum_squares"],
                 "gradient")


ERRORS = {
    "cond_cond_n_out_2": lambda: tl.Cond(tl.Dup(), tl.Dense(2)),
    "cond_branches_n_in_differ": lambda: tl.Cond(
        tl.Fn("P", lambda p: p > 0), tl.Dense(2),
        tl.Fn("Two", lambda a, b: a + b)),
    "cond_branches_n_out_differ": lambda: tl.Cond(
        tl.Fn("P", lambda p: p > 0), tl.Dense(2), tl.Dup()),
    "batch_leading_axes_n_out_2": lambda: tl.BatchLeadingAxes(tl.Dup()),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_constructor_errors_are_traxs_with_a_fix(oracle, name):
    record = oracle["errors"][name]
    with pytest.raises(ValueError) as info:
        ERRORS[name]()
    assert record["error_type"] == "ValueError"
    # Trax's message, then what to do about it.
    assert str(info.value).startswith(record["error_message"])
    assert len(str(info.value)) > len(record["error_message"]) + 10


def test_cond_with_too_few_inputs_is_traxs_layer_error(oracle):
    record = oracle["errors"]["cond_too_few_inputs"]
    layer = tl.Cond(tl.Fn("P", lambda p: p > 0), tl.Dense(2))
    x = np.ones((4, 3), np.float32)
    layer.init(shapes.signature((np.float32(1.0), x)))
    with pytest.raises(tl.LayerError) as info:
        layer(np.float32(1.0))
    assert str(info.value).splitlines()[-1] == (
        f"{record['underlying_error_type']}: "
        f"{record['underlying_error_message']}")


def test_chunk_that_cannot_divide_the_batch_says_so(oracle):
    record = oracle["errors"]["chunk_not_dividing_batch"]
    layer = tl.Chunk(tl.Dense(2), 3, pass_unchunkable=False)
    with pytest.raises(tl.LayerError) as info:
        layer.init(shapes.signature(np.ones((4, 3), np.float32)))
    last = str(info.value).splitlines()[-1]
    assert last.startswith(f"{record['underlying_error_type']}: "
                           f"{record['underlying_error_message']}")
    assert "pass_unchunkable=True" in last


# -- the named Flax view -----------------------------------------------------------

def _same_tree(a, b):
    """Equal structure (markers included) and the very same values."""
    la, da = jax.tree_util.tree_flatten(a)
    lb, db = jax.tree_util.tree_flatten(b)
    assert da == db
    for x, y in zip(la, lb):
        np.testing.assert_array_equal(x, y)


X43 = (np.arange(12, dtype=np.float32).reshape(4, 3) - 5.5) / 4.0
SEQ = np.cos(np.arange(30, dtype=np.float32) / 3.0).reshape(2, 5, 3)
POSITIVE = lambda: tl.Fn("Positive", lambda p: p > 0)  # noqa: E731
# layer, its input, and the Flax params' top-level names.
FLAX_CASES = {
    "cond": (lambda: tl.Cond(POSITIVE(), tl.Dense(3), tl.Dense(3)),
             (np.float32(-1.0), X43), {"layers_1", "layers_2"}),
    "chunk": (lambda: tl.Chunk(tl.Dense(2), 2), X43, {"layers_1"}),
    "cache": (lambda: tl.Cache(tl.Dense(2)), X43, {"layers_0"}),
    "batch_leading_axes": (lambda: tl.BatchLeadingAxes(tl.Dense(2)),
                           X43[None], {"layers_0"}),
    "bidirectional": (lambda: tl.Bidirectional(tl.GRU(3)), SEQ,
                      {"layers_0"}),
    "serial_with_side_outputs": (
        lambda: tl.SerialWithSideOutputs(
            [tl.Branch(tl.Dense(3), tl.Dense(2)), tl.Dense(3)],
            n_side_outputs=[1, 0]),
        X43, {"layers_0", "layers_2"}),
}


@pytest.mark.parametrize("name", sorted(FLAX_CASES))
def test_weights_round_trip_through_the_named_flax_view(name):
    make, x, top = FLAX_CASES[name]
    layer = make()
    layer.init(shapes.signature(x), rng=trax_random.get_prng(0))
    params = layer.params
    assert set(params) == top
    _same_tree(layer.weights_from_params(params), layer.weights)
    # The generic Flax module computes the layer from those variables.
    module, variables = layer.to_flax()
    flax_inputs = x if isinstance(x, tuple) else (x,)
    expected = layer(x)
    got = module.apply(variables, *flax_inputs, mutable=["state"])[0]
    _same_tree(got, expected)


def test_bidirectional_backward_layer_has_weights_of_its_own():
    layer = tl.Bidirectional(tl.Dense(2))
    layer.init(shapes.signature(SEQ), rng=trax_random.get_prng(0))
    branch = layer.params["layers_0"]["layers_1"]
    forward = branch["layers_0"]
    backward = branch["layers_1"]["layers_1"]
    assert not np.array_equal(forward["kernel"], backward["kernel"])
    # The reversing layer is used twice: Trax's cache marker, no entry.
    assert layer.weights[0][1][1][2] == tl.GET_WEIGHTS_FROM_CACHE


def test_cache_keeps_its_outputs_as_flax_state():
    layer = tl.Cache(tl.Dense(2))
    layer.init(shapes.signature(X43), rng=trax_random.get_prng(0))
    assert layer.flax_state_from_state(layer.state) == {}
    first = layer(X43)
    named = layer.flax_state_from_state(layer.state)
    assert set(named) == {"cached"}
    np.testing.assert_array_equal(named["cached"], first)
    _same_tree(layer.state_from_flax_state(named), layer.state)
    # In Flax too the second call returns the first call's outputs.
    module, variables = layer.to_flax()
    y, _ = module.apply(variables, X43 * 10.0, mutable=["state"])
    np.testing.assert_array_equal(y, first)


def test_cond_runs_only_the_chosen_branch_and_keeps_the_others_state():
    calls = []

    class CountCalls(tl.Layer):
        """Identity whose state counts its calls."""

        def init_weights_and_state(self, input_signature):
            self.state = jnp.zeros((), jnp.int32)

        def forward(self, x):
            calls.append(1)
            self.state = self.state + 1
            return x

    layer = tl.Cond(POSITIVE(), CountCalls(), tl.Fn("Neg", lambda x: -x))
    layer.init(shapes.signature((np.float32(1.0), X43)))
    np.testing.assert_array_equal(layer((np.float32(-1.0), X43)), -X43)
    assert int(layer.state[1]) == 0
    np.testing.assert_array_equal(layer((np.float32(2.0), X43)), X43)
    assert int(layer.state[1]) == 1


# -- training in the Loop -------------------------------------------------------

LR = 0.1
N_STEPS = 6


def _loop_model():
    """Bidirectional over the 3 features as a sequence, then one of two
    Dense layers picked by Cond from the sign of the features' mean."""
    steps = tl.Serial(tl.Fn("Steps", lambda x: x[..., None]), tl.Dense(2),
                      tl.Fn("CumSum", lambda x: fnp.cumsum(x, axis=1)))
    return tl.Serial(
        tl.Bidirectional(steps),
        tl.Fn("MeanOverSteps", lambda x: fnp.mean(x, axis=1)),
        tl.Dup(),
        tl.Cond(tl.Fn("MeanPositive", lambda x: fnp.mean(x) > 0),
                tl.Dense(2), tl.Dense(2)),
        tl.LogSoftmax())


def _features(params, x):
    """Bidirectional and the mean over steps, in JAX."""
    fk, fb, bk, bb = params[:4]
    steps = x[..., None]
    forward = jnp.cumsum(steps @ fk + fb, axis=1)
    backward = jnp.flip(
        jnp.cumsum(jnp.flip(steps, axis=1) @ bk + bb, axis=1), axis=1)
    return jnp.mean(jnp.concatenate([forward, backward], axis=-1), axis=1)


def _by_hand(params, x):
    """The same model in JAX: params are its 8 weight arrays in order."""
    tk, tb, ek, eb = params[4:]
    h = _features(params, x)
    logits = jnp.where(jnp.mean(h) > 0, h @ tk + tb, h @ ek + eb)
    return jax.nn.log_softmax(logits)


def test_the_loop_trains_a_cond_and_bidirectional_model_as_jax_does():
    task = training.TrainTask(float_batches(),
                              tl.WeightedCategoryCrossEntropy(),
                              trax.optimizers.SGD(LR))
    with contextlib.redirect_stdout(io.StringIO()):
        loop = training.Loop(_loop_model(), task, output_dir=None,
                             random_seed=0)
        initial = [np.asarray(w) for w in
                   jax.tree_util.tree_leaves(loop.model.weights)]
        loop.run(N_STEPS)
    assert [w.shape for w in initial] == [(1, 2), (2,)] * 2 + [(4, 2),
                                                             (2,)] * 2

    def loss_fn(params, batch):
        x, y, w = batch
        picked = jnp.take_along_axis(_by_hand(params, x), y[:, None], axis=1)
        return -jnp.sum(picked[:, 0] * w) / jnp.sum(w)

    batches = float_batches()
    next(batches)  # The TrainTask's sample batch.
    params, branches = initial, set()
    for _ in range(N_STEPS):
        batch = next(batches)
        branches.add(bool(jnp.mean(_features(params, batch[0])) > 0))
        grads = jax.grad(loss_fn)(params, batch)
        params = [p - LR * g for p, g in zip(params, grads)]
    assert branches == {True, False}  # both branches trained
    trained = jax.tree_util.tree_leaves(loop.model.weights)
    for got, want in zip(trained, params):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    for got, start in zip(trained, initial):
        assert np.abs(np.asarray(got) - start).max() > 1e-4

