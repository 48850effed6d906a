"""Trax's (Nesterov) momentum with ``(1 - wd) * w`` weight decay.

optax's ``sgd(momentum=..., nesterov=...)`` scales the velocity differently
(learning rate applied after the trace, no decoupled decay), so this is a
custom transformation."""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from trax_compat.optimizers import base


class MomentumState(NamedTuple):
    """optax state of ``Momentum``: update count and velocity."""
    count: jax.Array
    velocity: Any


class Momentum(base.Optimizer):
    """Momentum SGD, Nesterov by default, as Trax defines it."""

    def __init__(self, learning_rate=0.01, mass=0.9, weight_decay_rate=1e-5,
                 nesterov=True):
        super().__init__(learning_rate=learning_rate, mass=mass,
                         weight_decay_rate=weight_decay_rate)
        self._nesterov = nesterov

    @property
    def nesterov(self):
        return self._nesterov

    def init_slot(self, weight):
        return jnp.zeros_like(weight)

    def update_leaf(self, step, grads, weights, slots, opt_params):
        del step
        mu = opt_params['mass']
        decay = opt_params['weight_decay_rate']
        lr = opt_params['learning_rate']
        new_v = mu * slots + grads
        step_dir = mu * new_v + grads if self._nesterov else new_v
        new_weights = (1 - decay) * weights - lr * step_dir
        return new_weights.astype(weights.dtype), new_v

    def _make_state(self, count, slot_leaves, treedef):
        return MomentumState(count=count, velocity=jax.tree_util.tree_unflatten(
                treedef, list(slot_leaves)))

    def _slot_leaves(self, state, treedef):
        return treedef.flatten_up_to(state.velocity)
