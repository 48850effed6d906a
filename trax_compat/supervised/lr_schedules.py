"""Learning-rate schedules, Trax's ``trax.lr``: functions from step to rate.

Steps are 1-based, as in Trax's ``Loop`` (the k-th update uses ``s(k)``).

Every schedule accepts two kinds of step:

* A Python or NumPy integer gives exactly Trax's value and type. Under
  ``fastmath.use_backend(Backend.NUMPY)`` that is a Python float or a NumPy
  float64; under the default JAX backend it is a float32 JAX array wherever
  Trax computes with ``jax.numpy`` and a Python float where Trax's arithmetic
  is plain Python (``constant``, ``warmup``, ``decay_every``, ...).
  ``multifactor`` returns ``minimum`` itself (an ``int`` 0 by default) when
  the rate would be at or below it.
* A JAX array, including a traced one inside ``jax.jit``, gives a float32
  JAX array (the same shape as the step) computed without Python branching,
  so one compilation serves every step. ``multifactor`` then gives exactly
  Trax's value rounded to float32 (for up to 8192 ``decay_every`` decays;
  float32 powers after that); ``constant``, ``warmup`` and
  ``warmup_and_rsqrt_decay``, which Trax computes in Python floats, are
  within 3 float32 ulp of it.

``to_optax(s)`` turns a schedule into an ``optax.Schedule`` on optax's
0-based update count.
"""

import math
import operator

import jax
import jax.numpy as jnp
import numpy as np

from trax_compat.fastmath import backend_state as _backend

__all__ = ["constant", "warmup", "warmup_and_rsqrt_decay", "multifactor",
           "to_optax"]


class _Eager:
    """Operations for a concrete step, as Trax does them: the active
    backend's NumPy, and ``math`` where Trax uses it."""

    div = staticmethod(operator.truediv)

    def __init__(self):
        self.np = np if _backend.backend_name() == "numpy" else jnp
        self.math = math


def _exact_div(a, b):
    """``a / b``, correctly rounded, under jit too. XLA rewrites a division
    by a constant or broadcast divisor (and ``x / sqrt(y)``) into a
    multiplication by a reciprocal, which can be off by one ulp; hiding the
    divisor, at full shape, behind an optimization barrier keeps a true
    division, so traced values equal Trax's eagerly computed ones."""
    shape = jnp.broadcast_shapes(jnp.shape(a), jnp.shape(b))
    b = jnp.broadcast_to(jnp.asarray(b, jnp.result_type(a, b, float)), shape)
    return a / jax.lax.optimization_barrier(b)


class _Traced:
    """Operations for a JAX-array step: everything stays traceable."""

    np = jnp
    math = jnp
    div = staticmethod(_exact_div)


def _ops(step):
    # Tracers are jax.Array instances too.
    return _Traced if isinstance(step, jax.Array) else _Eager()


def _as_rate(value, step):
    return jnp.broadcast_to(jnp.asarray(value, jnp.float32), jnp.shape(step))


def constant(value):
    """``value`` from step 1 on (step 0, a linear warm-up from (0, 0), gives
    0.0)."""
    return _BodyAndTail(value, body_start=1)


def warmup(n_warmup_steps, max_value):
    """Rises linearly from (0, 0) to (``n_warmup_steps + 1``, ``max_value``),
    then stays at ``max_value``."""
    return _BodyAndTail(max_value, body_start=n_warmup_steps + 1)


def warmup_and_rsqrt_decay(n_warmup_steps, max_value):
    """The same linear warm-up, then ``max_value * sqrt(t0 / step)`` from
    ``t0 = n_warmup_steps + 1`` on."""
    return _BodyAndTail(max_value, tail_start=n_warmup_steps + 1,
                        tail_fn=_rsqrt)


# Trax multiplies these three factors in as Python floats (float64); the
# others are computed with the backend's NumPy.
_PYTHON_FACTORS = ("constant", "two_constants", "decay_every")
# Traced steps look the Python-float factors up in a table of at most this
# many decays (beyond it, float32 powers take over; see _python_table).
_MAX_DECAYS = 1 << 13


def _python_factor(name, hp, before_second, n_decays):
    """The Python float Trax multiplies in for ``name``."""
    if name == "constant":
        return hp["constant"]
    if name == "two_constants":
        return hp["constant"] if before_second else hp["second_constant"]
    try:
        return hp["decay_factor"] ** n_decays
    except OverflowError:  # a decay factor above 1, after many decays
        return math.inf


def _f_python(name):
    def factor(rate, step, ops, hp):
        # Only what this factor reads (steps_per_decay=0 is fine elsewhere).
        first = name == "two_constants" and step < hp["second_constant_step"]
        n_decays = (step // hp["steps_per_decay"] if name == "decay_every"
                    else 0)
        return rate * _python_factor(name, hp, first, n_decays)
    return factor


# The factors Trax computes with the backend's NumPy map (rate so far, step,
# ops, hyperparameters) to the new rate, in Trax's order of operations so
# that results round identically.

def _f_linear_warmup(rate, step, ops, hp):
    return rate * ops.np.minimum(1.0, ops.div(step, hp["warmup_steps"]))


def _f_rsqrt_decay(rate, step, ops, hp):
    return ops.div(rate,
                   ops.np.sqrt(ops.np.maximum(step, hp["warmup_steps"])))


def _f_rsqrt_normalized_decay(rate, step, ops, hp):
    rate = rate * ops.np.sqrt(hp["warmup_steps"])
    return ops.div(rate,
                   ops.np.sqrt(ops.np.maximum(step, hp["warmup_steps"])))


def _f_cosine_decay(rate, step, ops, hp):
    # Position in the current cycle, counted from the end of the warm-up.
    progress = ops.np.maximum(
        0.0,
        ops.div(step - hp["warmup_steps"], float(hp["steps_per_cycle"])))
    return rate * (0.5 * (1.0 + ops.np.cos(ops.np.pi * (progress % 1.0))))


_FACTORS = {
    "constant": _f_python("constant"),
    "linear_warmup": _f_linear_warmup,
    "rsqrt_decay": _f_rsqrt_decay,
    "rsqrt_normalized_decay": _f_rsqrt_normalized_decay,
    "decay_every": _f_python("decay_every"),
    "cosine_decay": _f_cosine_decay,
    "two_constants": _f_python("two_constants"),
}


def _python_table(names, hp, minimum=None):
    """For traced steps: Trax's Python-float product of ``names`` (all in
    _PYTHON_FACTORS), rounded once to float32 as Trax's value is, as a
    function ``step -> float32 array``.

    The product depends on the step only through ``step <
    second_constant_step`` and ``step // steps_per_decay``, so it is
    tabulated over both, up to the decay count where its float32 value stops
    changing (0, inf, or a decay factor of 0 or 1). With ``minimum``, values
    at or below it become ``minimum`` first, as in Trax.
    """
    firsts = (True, False) if "two_constants" in names else (True,)
    rows = [[] for _ in firsts]
    n_decays = 0
    settled = "decay_every" not in names
    while True:
        for row, first in zip(rows, firsts):
            value = 1.0
            for name in names:
                value *= _python_factor(name, hp, first, n_decays)
            row.append(value)
        if not settled:
            with np.errstate(over="ignore"):
                settled = all(np.float32(row[-1]) == 0
                              or math.isinf(row[-1]) for row in rows)
            settled |= n_decays > 0 and all(row[-1] == row[-2]
                                            for row in rows)
        if settled or n_decays == _MAX_DECAYS:
            break
        n_decays += 1
    table = np.asarray(rows, np.float64)
    if minimum is not None:
        table = np.where(table <= minimum, minimum, table)
    with np.errstate(over="ignore"):
        table = jnp.asarray(table.astype(np.float32))

    def lookup(step):
        row = 0
        if len(firsts) == 2:
            row = jnp.where(step < hp["second_constant_step"], 0, 1)
        k = 0
        if "decay_every" in names:
            k = step // hp["steps_per_decay"]
        # Steps are non-negative; clipping only stops at the last entry.
        value = table[row, jnp.clip(k, 0, n_decays).astype(jnp.int32)]
        if not settled:
            # Past the table (only for decays slower than the cap allows).
            extra = jnp.maximum(k - n_decays, 0)
            count = names.count("decay_every")
            value = value * jnp.float32(hp["decay_factor"]) ** (extra * count)
        return value

    return lookup


def multifactor(factors="constant * linear_warmup * rsqrt_decay",
                constant=0.1,  # pylint: disable=redefined-outer-name
                warmup_steps=400,
                decay_factor=0.5,
                steps_per_decay=20000,
                steps_per_cycle=100000,
                second_constant=0.01,
                second_constant_step=10000,
                minimum=0):
    """The product of the factors named in ``factors`` (``'*'``-separated):

    * ``constant``: ``constant``;
    * ``linear_warmup``: ``min(1, step / warmup_steps)``;
    * ``rsqrt_decay``: ``1 / sqrt(max(step, warmup_steps))``;
    * ``rsqrt_normalized_decay``: ``sqrt(warmup_steps / max(step,
      warmup_steps))``;
    * ``decay_every``: ``decay_factor ** (step // steps_per_decay)``;
    * ``cosine_decay``: a half cosine from 1 to 0 over every
      ``steps_per_cycle`` steps after ``warmup_steps``;
    * ``two_constants``: ``constant`` before ``second_constant_step``, then
      ``second_constant``.

    A product at or below ``minimum`` gives ``minimum``. An unknown name
    raises ``ValueError`` here already (Trax raises it at the first call).
    """
    names = [name.strip() for name in factors.split("*")]
    for name in names:
        if name not in _FACTORS:
            raise ValueError(f"Unknown factor {name}.")
    hp = dict(constant=constant, warmup_steps=warmup_steps,
              decay_factor=decay_factor, steps_per_decay=steps_per_decay,
              steps_per_cycle=steps_per_cycle,
              second_constant=second_constant,
              second_constant_step=second_constant_step)

    # For traced steps: Trax's leading Python-float factors (float64 until
    # the first array factor) come from a table; the rest follow in float32.
    n_leading = next((i for i, name in enumerate(names)
                      if name not in _PYTHON_FACTORS), len(names))
    leading, rest = names[:n_leading], names[n_leading:]
    traced_start = None
    if any(name != "constant" for name in leading):
        traced_start = _python_table(
            leading, hp, minimum=minimum if not rest else None)
    traced_rest = [(_python_table([name], hp) if name in _PYTHON_FACTORS
                    else _FACTORS[name]) for name in rest]

    def eager(step):
        ops = _Eager()
        rate = 1.0
        for name in names:
            rate = _FACTORS[name](rate, step, ops, hp)
        return minimum if rate <= minimum else rate

    def traced(step):
        if traced_start is not None:
            rate = traced_start(step)
        else:
            rate = 1.0
            for name in leading:
                rate = rate * hp[name]
        for name, factor in zip(rest, traced_rest):
            if name in _PYTHON_FACTORS:
                rate = rate * factor(step)
            else:
                rate = factor(rate, step, _Traced, hp)
            # Trax rounds after every factor; stop XLA from reassociating
            # products across factors (x * c1 * c2 -> x * (c1 * c2)).
            rate = jax.lax.optimization_barrier(rate)
        if rest:
            rate = jnp.where(rate <= minimum, minimum, rate)
        elif traced_start is None:  # constants only
            rate = minimum if rate <= minimum else rate
        return _as_rate(rate, step)

    def learning_rate(step):
        return traced(step) if isinstance(step, jax.Array) else eager(step)

    return learning_rate


class _BodyAndTail:
    """A linear ramp from (0, 0) to (``body_start``, ``body_value``), then
    ``body_value``, then (from ``tail_start`` on, when given)
    ``tail_fn(step, tail_start, body_value)``.

    Without ``body_start`` the ramp runs up to ``tail_start`` (no body).
    """

    def __init__(self, body_value, body_start=None, tail_start=None,
                 tail_fn=None):
        if body_start is None and tail_start is None:
            raise ValueError("Both body start and tail start are None.")
        if tail_start is not None and tail_fn is None:
            raise ValueError(
                f"Tail start has value ({tail_start}) but tail_fn is None.")
        self._body_value = body_value
        self._body_start = tail_start if body_start is None else body_start
        self._tail_start = tail_start
        self._tail_fn = tail_fn

    def __call__(self, step):
        ops = _ops(step)
        if ops is not _Traced:
            if step < self._body_start:
                return self._ramp(step)
            if self._tail_start is not None and step >= self._tail_start:
                return self._tail_fn(step, self._tail_start, self._body_value)
            return self._body_value
        # Every branch is computed; the ones not selected may be inf or nan
        # (e.g. a ramp up to step 0), which jnp.where discards.
        rate = jnp.where(step < self._body_start, self._ramp(step),
                         self._body_value)
        if self._tail_start is not None:
            rate = jnp.where(
                step >= self._tail_start,
                self._tail_fn(step, self._tail_start, self._body_value), rate)
        return _as_rate(rate, step)

    def _ramp(self, step):
        return _ops(step).div(step, self._body_start) * self._body_value


def _rsqrt(step, tail_start, body_value):
    """``body_value * sqrt(tail_start / step)``: meets the body at
    ``tail_start``."""
    ops = _ops(step)
    return body_value * ops.div(math.sqrt(tail_start), ops.math.sqrt(step))


class _CosineSawtoothTail:
    """Cosine warm restarts (Loshchilov & Hutter, 2017): every
    ``steps_per_cycle`` steps from the tail's start, half a cosine falling
    from the body value to ``min_value``."""

    def __init__(self, steps_per_cycle, min_value=1e-5):
        self._steps_per_cycle = steps_per_cycle
        self._min_value = min_value

    def __call__(self, step, tail_start, body_value):
        ops = _ops(step)
        position = ops.div(step - tail_start, self._steps_per_cycle) % 1.0
        top, bottom = body_value, self._min_value
        return bottom + (top - bottom) * .5 * (
            1 + ops.math.cos(math.pi * position))


def to_optax(schedule):
    """An ``optax.Schedule`` that gives update number ``count + 1`` (optax
    counts updates from 0, Trax's steps from 1) the rate ``schedule`` gives
    that step, e.g.
    ``optax.inject_hyperparams(optax.adam)(learning_rate=to_optax(s))``.

    The count is passed on as a JAX integer array, so ``schedule`` must accept
    one (every schedule here does).
    """
    def optax_schedule(count):
        return schedule(jnp.asarray(count) + 1)

    return optax_schedule
