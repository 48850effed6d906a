"""``trax.lr`` schedules against real Trax's values (steps 0..200), on both
backends, eagerly and traced under ``jax.jit``, and through optax."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import trax_compat as trax
from trax_compat import fastmath
from trax_compat.supervised import lr_schedules
from tests.conftest import load_oracle_json, without_gin_note

ORACLE = load_oracle_json("training_api/lr_schedules.json")
CASES = ORACLE["schedules"]
STEPS = np.arange(ORACLE["n_steps"] + 1)
# Trax computes these in Python floats; traced (float32) values may differ
# from Trax's rounded to float32 by a few ulp. All others are bitwise equal.
PYTHON_FLOAT_CASES = {"constant", "warmup", "warmup_and_rsqrt_decay"}


def _run(code):
    """Evaluates the oracle's Python text, where ``lr`` is ``trax.lr``."""
    return eval(code, {"lr": trax.lr})  # pylint: disable=eval-used


def _make(case):
    return _run(CASES[case]["constructor"])


def _type_ok(value, type_name):
    if type_name == "builtins.float":
        return type(value) is float
    if type_name == "builtins.int":
        return type(value) is int
    if type_name == "numpy.float64":
        return type(value) is np.float64
    assert type_name.endswith("ArrayImpl"), type_name
    return (isinstance(value, jax.Array) and value.dtype == jnp.float32
            and value.shape == ())


def _expected_types(types_by_step):
    expected = {}
    for type_name, ranges in types_by_step.items():
        for first, last in ranges:
            expected.update((step, type_name)
                            for step in range(first, last + 1))
    assert sorted(expected) == list(STEPS)
    return expected


def _ulp_distance(a, b):
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return np.abs(a.view(np.int32).astype(np.int64)
                  - b.view(np.int32).astype(np.int64))


@pytest.mark.parametrize("backend", ["numpy_backend", "jax_backend"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_eager_values_and_types_equal_trax(case, backend):
    schedule = _make(case)
    expected = CASES[case][backend]
    if backend == "numpy_backend":
        with fastmath.use_backend(fastmath.Backend.NUMPY):
            values = [schedule(int(step)) for step in STEPS]
    else:
        values = [schedule(int(step)) for step in STEPS]
    # Bitwise: the same arithmetic in the same precision as Trax.
    assert [float(v) for v in values] == expected["values"]
    types = _expected_types(expected["types_by_step"])
    wrong = [(int(s), type(v).__name__, types[s])
             for s, v in zip(STEPS, values) if not _type_ok(v, types[s])]
    assert not wrong


def test_minimum_is_returned_itself():
    schedule = trax.lr.multifactor()
    assert schedule(0) == 0 and type(schedule(0)) is int
    schedule = trax.lr.multifactor(minimum=0.004)
    assert schedule(0) is 0.004


@pytest.mark.parametrize("case", sorted(CASES))
def test_traced_values_equal_trax_float32(case):
    schedule = _make(case)
    expected = np.float32(CASES[case]["jax_backend"]["values"])
    vectorized = jax.jit(schedule)(jnp.asarray(STEPS))
    assert vectorized.dtype == jnp.float32
    assert vectorized.shape == STEPS.shape
    one_step = jax.jit(schedule)
    scalar = np.array([one_step(jnp.int32(step)) for step in STEPS])
    for got in (np.asarray(vectorized), scalar):
        if case in PYTHON_FLOAT_CASES:
            assert _ulp_distance(got, expected).max() <= 3
            np.testing.assert_allclose(got, CASES[case]["jax_backend"]
                                       ["values"], rtol=1e-6, atol=0)
        else:
            np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("case", ["warmup", "multifactor_all_defaults",
                                  "multifactor[constant*linear_warmup*"
                                  "cosine_decay, minimum]"])
def test_one_compilation_serves_every_step(case):
    schedule = _make(case)
    traces = []

    @jax.jit
    def rate(step):
        traces.append(step)
        return schedule(step)

    values = [rate(jnp.int32(step)) for step in STEPS]
    assert len(traces) == 1
    # Eager (Trax's types) and traced (float32) agree as float32.
    eager = np.float32([float(schedule(int(step))) for step in STEPS])
    assert _ulp_distance(np.array(values), eager).max() <= (
        3 if case in PYTHON_FLOAT_CASES else 0)


def test_decay_factors_other_than_one_half_trace_exactly():
    # Many decays and a factor whose powers are not exact in float32.
    schedule = trax.lr.multifactor(
        "constant * decay_every * linear_warmup * decay_every",
        constant=0.0123, decay_factor=0.97, steps_per_decay=7,
        warmup_steps=50, minimum=1e-4)
    steps = np.arange(0, 3000, 3)
    eager = np.float32([float(schedule(int(s))) for s in steps])
    traced = np.asarray(jax.jit(schedule)(jnp.asarray(steps)))
    np.testing.assert_array_equal(traced, eager)


def test_factor_string_spacing_and_unknown_factor():
    spaced = trax.lr.multifactor(" constant*linear_warmup *  rsqrt_decay ")
    plain = trax.lr.multifactor()
    assert [spaced(s) for s in range(5, 500, 50)] == [
        plain(s) for s in range(5, 500, 50)]
    (error,) = ORACLE["errors"]
    with pytest.raises(ValueError) as raised:
        _run(error["call"])
    assert type(raised.value).__name__ == error["error_type"]
    # Raised inside the gin-wrapped call (ours checks eagerly), so gin adds
    # its note to the message.
    assert without_gin_note(raised.value) == error["error_message"]


def test_trax_lr_is_lr_schedules():
    from trax_compat import lr  # pylint: disable=import-outside-toplevel
    assert lr is lr_schedules and trax.lr is lr_schedules
    assert "lr" in dir(trax)


@pytest.mark.parametrize("schedule, exact", [
    (lr_schedules.multifactor(constant=0.05, warmup_steps=4), True),
    (lr_schedules.warmup_and_rsqrt_decay(3, 0.02), False),
])
def test_optax_applies_trax_rates_step_by_step(schedule, exact):
    # Gradient 1 for every update: SGD moves the parameter by -rate.
    tx = optax.inject_hyperparams(optax.sgd)(
        learning_rate=lr_schedules.to_optax(schedule))
    params = jnp.zeros((), jnp.float32)
    state = tx.init(params)
    compilations = []

    @jax.jit
    def train_step(params, state):
        compilations.append(None)
        updates, state = tx.update(jnp.ones_like(params), state, params)
        return optax.apply_updates(params, updates), state, -updates

    applied = []
    for _ in range(12):
        params, state, rate = train_step(params, state)
        applied.append(rate)
    assert len(compilations) == 1
    trax_rates = np.float32([float(schedule(k)) for k in range(1, 13)])
    if exact:
        np.testing.assert_array_equal(np.array(applied), trax_rates)
    else:
        np.testing.assert_allclose(np.array(applied), trax_rates, rtol=1e-6)
    assert trax_rates[0] > 0  # step 1, not step 0 (which is 0 here)


def test_schedule_passed_straight_to_optax_sees_zero_based_counts():
    # Without to_optax, optax evaluates the schedule at 0, 1, ...
    schedule = lr_schedules.warmup(4, 0.5)
    tx = optax.sgd(learning_rate=schedule)
    params = jnp.zeros(())
    state = tx.init(params)
    update = jax.jit(tx.update)
    moves = []
    for _ in range(3):
        updates, state = update(jnp.ones(()), state, params)
        moves.append(float(-updates))
    np.testing.assert_allclose(moves, [0.0, 0.1, 0.2], rtol=1e-6)
