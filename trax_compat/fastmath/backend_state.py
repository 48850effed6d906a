"""Which backend ``fastmath`` computes with, chosen as Trax chooses it.

``backend()`` returns the active backend's table (a mapping from operation
names to functions, ``'np'`` to its NumPy module and ``'name'`` to its
name). The choice, first match wins: the innermost ``use_backend(...)``
block, then ``set_backend(name)``, then the ``name`` argument of
``backend()``, which gin can bind (``backend.name = 'numpy'``) when
gin-config is installed (``gin_registry`` registers it under Trax's name,
``trax.fastmath.ops.backend``, and only there). The default is JAX.
"""

import contextlib
import enum

from trax_compat.fastmath.jax_backend import JAX_BACKEND
from trax_compat.fastmath.numpy_backend import NUMPY_BACKEND
from trax_compat.fastmath.tf_backend import TF_BACKEND

__all__ = ["Backend", "backend", "backend_name", "is_backend", "set_backend",
           "use_backend", "JAX_BACKEND", "NUMPY_BACKEND", "TF_BACKEND"]


@enum.unique
class Backend(enum.Enum):
    JAX = "jax"
    TFNP = "tensorflow-numpy"
    NUMPY = "numpy"


_backend_dict = {
    Backend.JAX: JAX_BACKEND,
    Backend.NUMPY: NUMPY_BACKEND,
    Backend.TFNP: TF_BACKEND,
}

# The innermost use_backend() name (None outside any block) and the name
# given to set_backend() (None: not set).
_override_name = None
_default_name = None


def _checked_name(name):
    """The backend name for ``name`` (a name or a Backend); ValueError for
    an unknown one."""
    if isinstance(name, Backend):
        return name.value
    if any(b.value == name for b in Backend):
        return name
    raise ValueError(f"No backend with name {name!r}; expected one of "
                     f"{[b.value for b in Backend]}.")


def _table(name):
    """The table of the backend named ``name``; JAX's for a name that is
    not a backend's (as Trax does for unknown names)."""
    for b in Backend:
        if b.value == name or b is name:
            return _backend_dict[b]
    return JAX_BACKEND


def backend(name="jax"):
    """The active backend's table of operations (see the module doc)."""
    if _override_name:
        return _table(_override_name)
    if _default_name:
        return _table(_default_name)
    return _table(name)


def set_backend(name):
    """Makes ``name`` (a backend name or Backend) the default backend;
    ``None`` (or '') goes back to the default, JAX."""
    global _default_name
    _default_name = _checked_name(name) if name else None


@contextlib.contextmanager
def use_backend(name):
    """Computes with backend ``name`` inside the ``with`` block."""
    global _override_name
    name = _checked_name(name)
    previous = _override_name
    _override_name = name
    try:
        yield
    finally:
        _override_name = previous


def backend_name():
    """The active backend's name: 'jax', 'numpy' or 'tensorflow-numpy'."""
    return backend()["name"]


def is_backend(backend_):
    """Whether ``backend_`` (a Backend) is the active backend."""
    return backend_name() == backend_.value
