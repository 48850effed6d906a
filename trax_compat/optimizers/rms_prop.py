"""Trax's RMSProp: the running mean of squared gradients starts at ones (not
zeros as in ``optax.rmsprop``) and ``eps`` is added outside the square root,
so this is a custom transformation."""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from trax_compat.optimizers import base


class RMSPropState(NamedTuple):
    """optax state of ``RMSProp``: update count and mean squared gradient."""
    count: jax.Array
    avg_sq_grad: Any


class RMSProp(base.Optimizer):
    """RMSProp as Trax defines it: one slot per weight, the decaying mean of
    squared gradients, which divides the step through its square root."""

    def __init__(self, learning_rate=0.001, gamma=0.9, eps=1e-8,
                 clip_grad_norm=None):
        super().__init__(learning_rate=learning_rate, gamma=gamma, eps=eps,
                         clip_grad_norm=clip_grad_norm)

    def init_slot(self, weight):
        # Ones, as Trax: the first steps are damped, not blown up by 1/sqrt(0).
        return jnp.ones_like(weight)

    def update_leaf(self, step, grads, weights, slots, opt_params):
        del step
        lr = opt_params['learning_rate']
        gamma = opt_params['gamma']
        eps = opt_params['eps']
        avg_sq_grad = slots * gamma + grads ** 2 * (1. - gamma)
        delta = lr * grads / (jnp.sqrt(avg_sq_grad) + eps)
        new_weights = weights - delta.astype(weights.dtype)
        return new_weights, avg_sq_grad

    def _make_state(self, count, slot_leaves, treedef):
        avg_sq_grad = jax.tree_util.tree_unflatten(treedef, list(slot_leaves))
        return RMSPropState(count=count, avg_sq_grad=avg_sq_grad)

    def _slot_leaves(self, state, treedef):
        return treedef.flatten_up_to(state.avg_sq_grad)
