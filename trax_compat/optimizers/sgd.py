"""Trax's plain SGD: no slots, ``w - lr * g``."""

from typing import NamedTuple

import jax

from trax_compat.optimizers import base


class SGDState(NamedTuple):
    """optax state of ``SGD``: only the count (for learning-rate schedules)."""
    count: jax.Array


class SGD(base.Optimizer):
    """Plain SGD; same constructor as Trax's base ``Optimizer``."""

    def init_slot(self, weight):
        return None

    def update_leaf(self, step, grads, weights, slots, opt_params):
        del step, slots
        lr = opt_params['learning_rate']
        new_weights = weights - (lr * grads).astype(weights.dtype)
        return new_weights.astype(weights.dtype), None

    def _make_state(self, count, slot_leaves, treedef):
        del slot_leaves, treedef
        return SGDState(count=count)

    def _slot_leaves(self, state, treedef):
        return [None] * treedef.num_leaves
