"""``fastmath.numpy``: the active backend's NumPy.

Every attribute is looked up at the time of use, so the same
``import trax_compat.fastmath.numpy as jnp`` gives ``jax.numpy`` functions
under the JAX backend and NumPy's inside ``use_backend('numpy')``::

    jnp.exp(x)         # jax.numpy.exp, or numpy.exp under the NumPy backend
    jnp.float32        # the backend's dtype

Trax's nested-structure helpers (``nested_map``, ``tree_flatten``, ...) can
be imported from here as well, as Trax allows.
"""

from trax_compat.fastmath import backend_state as _backend_state
from trax_compat.fastmath.nested import nested_map  # noqa: F401
from trax_compat.fastmath.nested import nested_map_multiarg  # noqa: F401
from trax_compat.fastmath.nested import nested_stack  # noqa: F401
from trax_compat.fastmath.nested import nested_zip  # noqa: F401
from trax_compat.fastmath.nested import tree_flatten  # noqa: F401
from trax_compat.fastmath.nested import tree_leaves  # noqa: F401
from trax_compat.fastmath.nested import tree_unflatten  # noqa: F401

# Names the import system looks for on a package: forwarding them would let
# `import trax_compat.fastmath.numpy.x` load the backend's submodules under
# this module's name. `__module__` is looked up by tools listing a module's
# names (`trax.layers` does on import): forwarding it would load the
# backend chosen by set_backend() (TensorFlow's) at that moment.
_NOT_FORWARDED = frozenset({"__path__", "__all__", "__module__"})


def __getattr__(name):
    if name in _NOT_FORWARDED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(_backend_state.backend()["np"], name)


def __dir__():
    return sorted(set(globals()) | set(dir(_backend_state.backend()["np"])))
