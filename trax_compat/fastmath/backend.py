"""JAX as the one array backend, under Trax's ``fastmath`` names."""

import contextlib
import enum

import jax
import jax.numpy as jnp
import jax.scipy.special

class _NumpyProxy:
    """``fastmath.numpy``: forwards every attribute to ``jax.numpy`` (Trax's
    is a proxy to the active backend's NumPy; JAX is our one backend)."""

    def __getattr__(self, name):
        return getattr(jnp, name)

    def __dir__(self):
        return dir(jnp)

    def __repr__(self):
        return "<trax_compat.fastmath.numpy proxy to jax.numpy>"


numpy = _NumpyProxy()
grad = jax.grad
jit = jax.jit
vjp = jax.vjp
stop_gradient = jax.lax.stop_gradient
logsumexp = jax.scipy.special.logsumexp


def global_device_count():
    """The number of accelerators (or CPU devices) on all hosts."""
    return jax.device_count()


def local_device_count():
    """The number of accelerators (or CPU devices) on this host."""
    return jax.local_device_count()


class Backend(enum.Enum):
    JAX = "jax"
    TFNP = "tensorflow-numpy"
    NUMPY = "numpy"


# Trax allows switching to TF-NumPy or plain NumPy; every layer here is a
# Flax module, so the backend name is recorded but computation stays on JAX.
_BACKEND_NAME = [Backend.JAX.value]


def _normalize(name):
    if isinstance(name, Backend):
        return name.value
    valid = [b.value for b in Backend]
    if name not in valid:
        raise ValueError(f"Unknown backend {name!r}; expected one of {valid}.")
    return name


def backend_name():
    return _BACKEND_NAME[-1]


def set_backend(name):
    _BACKEND_NAME[-1] = _normalize(name)


@contextlib.contextmanager
def use_backend(name):
    _BACKEND_NAME.append(_normalize(name))
    try:
        yield
    finally:
        _BACKEND_NAME.pop()


def nested_map(f, obj, level=0, ignore_nones=True):
    """Maps ``f`` over the leaves of nested tuples/lists/dicts, keeping the
    container types (tuples stay tuples, as Trax's weights are tuples)."""
    if isinstance(obj, list):
        return [nested_map(f, o, level, ignore_nones) for o in obj]
    if isinstance(obj, tuple):
        return tuple(nested_map(f, o, level, ignore_nones) for o in obj)
    if isinstance(obj, dict):
        return {k: nested_map(f, v, level, ignore_nones) for k, v in obj.items()}
    if obj is None and ignore_nones:
        return None
    return f(obj)


def tree_flatten(tree):
    """Flattens nested tuples/lists/dicts into (leaves, rebuild_fn)."""
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    return leaves, lambda new_leaves: jax.tree_util.tree_unflatten(
        treedef, new_leaves)


def tree_leaves(tree):
    return jax.tree_util.tree_leaves(tree)
