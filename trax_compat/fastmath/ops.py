"""Trax's ``fastmath`` operations: each call runs the active backend's
function (JAX unless ``use_backend``/``set_backend`` say otherwise).

Use them as Trax code does::

    from trax_compat import fastmath
    from trax_compat.fastmath import numpy as jnp

    y = fastmath.logsumexp(jnp.array([1.0, 2.0]))
    z = fastmath.fori_loop(0, 3, lambda i, acc: acc + i, 0)

An operation the active backend lacks raises ``UnsupportedOpError`` (a
``NotImplementedError`` and a ``KeyError``) naming the operation and the
backend.
"""

# `map` is one of Trax's operation names.
# pylint: disable=redefined-builtin

from trax_compat.fastmath import numpy  # noqa: F401  (Trax's fastmath.numpy)
from trax_compat.fastmath import random  # noqa: F401  (Trax's fastmath.random)
from trax_compat.fastmath.backend_state import _backend_dict  # noqa: F401
from trax_compat.fastmath.backend_state import Backend
from trax_compat.fastmath.backend_state import JAX_BACKEND  # noqa: F401
from trax_compat.fastmath.backend_state import NUMPY_BACKEND  # noqa: F401
from trax_compat.fastmath.backend_state import TF_BACKEND  # noqa: F401
from trax_compat.fastmath.backend_state import backend
from trax_compat.fastmath.backend_state import backend_name
from trax_compat.fastmath.backend_state import is_backend
from trax_compat.fastmath.backend_state import set_backend
from trax_compat.fastmath.backend_state import use_backend

__all__ = [
    "Backend", "backend", "backend_name", "is_backend", "set_backend",
    "use_backend", "UnsupportedOpError",
    "abstract_eval", "avg_pool", "cond", "conv", "custom_grad", "custom_vjp",
    "dataset_as_numpy", "device_count", "disable_jit", "dynamic_slice",
    "dynamic_slice_in_dim", "dynamic_update_slice",
    "dynamic_update_slice_in_dim", "erf", "expit", "fori_loop",
    "global_device_count", "grad", "index_add", "index_max", "index_min",
    "index_update", "jit", "local_device_count", "logsumexp", "lt", "map",
    "max_pool", "pmap", "psum", "remat", "scan", "sigmoid", "sort_key_val",
    "stop_gradient", "sum_pool", "top_k", "value_and_grad", "vjp", "vmap",
    "JAX_BACKEND", "NUMPY_BACKEND", "TF_BACKEND",
]


class UnsupportedOpError(NotImplementedError, KeyError):
    """The active backend has no such operation."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


def backend_op(name):
    """The active backend's function ``name``."""
    table = backend()
    try:
        return table[name]
    except KeyError:
        raise UnsupportedOpError(
            f"fastmath.{name} is not available with the {table['name']!r} "
            f"backend; use it under the 'jax' backend "
            f"(fastmath.use_backend('jax')).") from None


def _dispatching(name, doc):
    def op(*args, **kwargs):
        return backend_op(name)(*args, **kwargs)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


logsumexp = _dispatching("logsumexp", "log(sum(exp(x))), computed stably.")
expit = _dispatching("expit", "The logistic sigmoid 1 / (1 + exp(-x)).")
sigmoid = _dispatching("expit", "The logistic sigmoid (the same as expit).")
sigmoid.__name__ = sigmoid.__qualname__ = "sigmoid"
erf = _dispatching("erf", "The error function.")
conv = _dispatching(
    "conv", "conv(inp, fltr, window_strides, padding, dimension_numbers, "
    "filter_dilation=None): a general convolution.")
avg_pool = _dispatching(
    "avg_pool", "avg_pool(x, pool_size, strides, padding): the mean of each "
    "window of the spatial axes of (batch, spatial..., features) inputs.")
max_pool = _dispatching(
    "max_pool", "max_pool(x, pool_size, strides, padding): the maximum of "
    "each window.")
sum_pool = _dispatching(
    "sum_pool", "sum_pool(x, pool_size, strides, padding): the sum of each "
    "window.")
top_k = _dispatching(
    "top_k", "top_k(x, k): the k largest entries along the last axis and "
    "their indices.")
sort_key_val = _dispatching(
    "sort_key_val", "sort_key_val(keys, values, dimension=-1): keys sorted "
    "along dimension, values permuted the same way.")
scan = _dispatching(
    "scan", "scan(f, init, xs, length=None): loops f(carry, x) -> (carry, y) "
    "over the leading axis of xs; returns (carry, stacked ys).")
map = _dispatching("map", "map(f, xs): f applied over the leading axis of "
                   "xs, the results stacked.")
remat = _dispatching("remat", "The function, recomputed in the backward "
                     "pass instead of storing its intermediate values.")
cond = _dispatching(
    "cond", "cond(pred, true_fun, false_fun, *operands): the branch that "
    "pred selects, applied to the operands.")
lt = _dispatching("lt", "x < y, elementwise.")
index_update = _dispatching(
    "index_update", "index_update(x, idx, y): a copy of x with x[idx] = y.")
index_add = _dispatching(
    "index_add", "index_add(x, idx, y): a copy of x with y added at idx.")
index_min = _dispatching(
    "index_min", "index_min(x, idx, y): a copy of x with x[idx] = "
    "minimum(x[idx], y).")
index_max = _dispatching(
    "index_max", "index_max(x, idx, y): a copy of x with x[idx] = "
    "maximum(x[idx], y).")
dynamic_slice = _dispatching(
    "dynamic_slice", "dynamic_slice(x, start_indices, slice_sizes).")
dynamic_slice_in_dim = _dispatching(
    "dynamic_slice_in_dim",
    "dynamic_slice_in_dim(x, start_index, slice_size, axis=0).")
dynamic_update_slice = _dispatching(
    "dynamic_update_slice",
    "dynamic_update_slice(x, update, start_indices).")
dynamic_update_slice_in_dim = _dispatching(
    "dynamic_update_slice_in_dim",
    "dynamic_update_slice_in_dim(x, update, start_index, axis).")
stop_gradient = _dispatching(
    "stop_gradient", "The identity, with a zero gradient.")
vmap = _dispatching("vmap", "The function vectorized over a batch axis.")
grad = _dispatching("grad", "The gradient function of a function.")
value_and_grad = _dispatching(
    "value_and_grad", "A function returning (value, gradient).")
vjp = _dispatching("vjp", "vjp(f, *primals): (f(*primals), vjp_fn).")
pmap = _dispatching("pmap", "The function run in parallel on the devices.")
psum = _dispatching("psum", "Sum over a pmap axis (inside pmap).")
abstract_eval = _dispatching(
    "abstract_eval", "abstract_eval(f): a function mapping the arguments' "
    "shapes/dtypes (arrays or ShapeDtypes) to f's output ShapeDtypes.")
global_device_count = _dispatching(
    "global_device_count", "The number of devices on all hosts.")
local_device_count = _dispatching(
    "local_device_count", "The number of devices on this host.")
device_count = _dispatching(
    "global_device_count", "The number of devices on all hosts (the same "
    "as global_device_count).")
device_count.__name__ = device_count.__qualname__ = "device_count"


def fori_loop(lower, upper, body_fn, init_val):
    """``body_fn(i, val)`` for ``i`` in ``range(lower, upper)``, starting
    from ``init_val``; returns the final value."""
    table = backend()
    if "fori_loop" in table:
        return table["fori_loop"](lower, upper, body_fn, init_val)

    def step(carry, _):
        i, val = carry
        return (i + 1, body_fn(i, val)), None

    (_, val), _ = scan(step, (lower, init_val), None, length=upper - lower)
    return val


_jit_disabled = False


def jit(*args, **kwargs):
    """The function compiled by the backend (``jax.jit``'s arguments), or
    unchanged after ``disable_jit()``."""
    if _jit_disabled:
        return args[0]
    return backend_op("jit")(*args, **kwargs)


def disable_jit():
    """Makes every later ``fastmath.jit`` return its function uncompiled
    (for debugging; process-wide and permanent, as in Trax)."""
    global _jit_disabled
    _jit_disabled = True


def custom_grad(f_vjp, f_original):
    """``f_original`` whose gradient comes from ``f_vjp``: ``f_vjp(*args)``
    returns ``(output, vjp_fn)`` and ``vjp_fn(cotangent)`` one cotangent per
    argument."""
    return backend_op("custom_grad")(f_vjp, f_original)


def custom_vjp(f, f_fwd, f_bwd, nondiff_argnums=()):
    """``f`` with a custom vector-Jacobian product, in ``jax.custom_vjp``'s
    protocol: ``f_fwd(*args) -> (output, residuals)`` and
    ``f_bwd(residuals, cotangent)`` returning one cotangent per argument.

    As in Trax's JAX backend, ``nondiff_argnums`` is accepted and every
    argument is passed as a primal (the backward pass returns ``None`` for
    the ones that take no gradient).
    """
    del nondiff_argnums
    return backend_op("custom_vjp")(f, f_fwd, f_bwd)


def dataset_as_numpy(ds, batch_size=None):
    """Iterates over a ``tf.data.Dataset`` as NumPy structures, one example
    at a time (``batch_size``, a speed hint in Trax, is accepted and not
    needed here)."""
    del batch_size
    as_numpy_iterator = getattr(ds, "as_numpy_iterator", None)
    if as_numpy_iterator is not None:
        return as_numpy_iterator()
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    return iter(tfds.as_numpy(ds))

from trax_compat import missing as _missing  # noqa: E402

# A Trax name not here yet (or a Trax submodule not imported yet).
__getattr__ = _missing.module_getattr(__name__)
