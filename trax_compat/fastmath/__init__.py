"""Trax's ``fastmath``: the array backend (JAX here) behind layers."""

from trax_compat.fastmath import random
from trax_compat.fastmath.backend import backend_name
from trax_compat.fastmath.backend import global_device_count
from trax_compat.fastmath.backend import grad
from trax_compat.fastmath.backend import jit
from trax_compat.fastmath.backend import local_device_count
from trax_compat.fastmath.backend import stop_gradient
from trax_compat.fastmath.backend import vjp
from trax_compat.fastmath.backend import logsumexp
from trax_compat.fastmath.backend import nested_map
from trax_compat.fastmath.backend import numpy
from trax_compat.fastmath.backend import set_backend
from trax_compat.fastmath.backend import tree_flatten
from trax_compat.fastmath.backend import tree_leaves
from trax_compat.fastmath.backend import use_backend
from trax_compat.fastmath.backend import Backend
