"""Trax's ``fastmath``: NumPy-style math on a switchable backend.

``fastmath.numpy`` and ``fastmath.random`` follow the active backend, JAX by
default; ``use_backend('numpy')`` (or ``set_backend``) computes with NumPy
instead, as in Trax. ``fastmath.backend()`` returns the active backend's
table of operations and ``fastmath.ops`` holds the operations themselves
(all re-exported here), ``fastmath.nested`` the helpers for nested
tuples/lists/dicts.
"""

# pylint: disable=redefined-builtin  (`map` is one of Trax's names)

from trax_compat.fastmath import nested
from trax_compat.fastmath import numpy
from trax_compat.fastmath import ops
from trax_compat.fastmath import random
from trax_compat.fastmath.nested import nested_map
from trax_compat.fastmath.nested import nested_map_multiarg
from trax_compat.fastmath.nested import nested_stack
from trax_compat.fastmath.nested import nested_zip
from trax_compat.fastmath.nested import tree_flatten
from trax_compat.fastmath.nested import tree_leaves
from trax_compat.fastmath.nested import tree_unflatten
from trax_compat.fastmath.ops import *  # noqa: F401,F403  (see ops.__all__)

from trax_compat import missing as _missing  # noqa: E402

# A Trax name not here yet (or a Trax submodule not imported yet).
__getattr__ = _missing.module_getattr(__name__)

# Trax's gin names for what this package has (a no-op without gin).
from trax_compat import gin_registry as _gin_registry  # noqa: E402
_gin_registry.register('trax.fastmath')
