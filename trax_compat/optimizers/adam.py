"""Trax's Adam: eps outside the sqrt, bias correction with ``step + 1``,
weight decay as ``(1 - wd) * w``. None of this matches ``optax.adam``, hence a
custom transformation."""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from trax_compat.optimizers import base


class AdamState(NamedTuple):
    """optax state of ``Adam``: update count and first/second moments."""
    count: jax.Array
    m: Any
    v: Any


class Adam(base.Optimizer):
    """Adam as Trax defines it (https://arxiv.org/abs/1412.6980 plus decay)."""

    def __init__(self, learning_rate=0.0001, weight_decay_rate=1e-5,
                 b1=0.9, b2=0.999, eps=1e-5, clip_grad_norm=None):
        super().__init__(learning_rate=learning_rate,
                         weight_decay_rate=weight_decay_rate,
                         b1=b1, b2=b2, eps=eps,
                         clip_grad_norm=clip_grad_norm)

    def init_slot(self, weight):
        return base.zeros_like(weight), base.zeros_like(weight)

    def update_leaf(self, step, grads, weights, slots, opt_params):
        m, v = slots
        lr = opt_params['learning_rate']
        wd = opt_params['weight_decay_rate']
        b1 = opt_params['b1']
        b2 = opt_params['b2']
        eps = opt_params['eps']
        m = (1 - b1) * grads + b1 * m
        v = (1 - b2) * (grads ** 2) + b2 * v
        mhat = base.div_by_scalar(m, 1 - b1 ** (step + 1))
        vhat = base.div_by_scalar(v, 1 - b2 ** (step + 1))
        delta = (lr * mhat / (jnp.sqrt(vhat) + eps)).astype(weights.dtype)
        new_weights = (1 - wd) * weights - delta
        return new_weights.astype(weights.dtype), (m, v)

    def _make_state(self, count, slot_leaves, treedef):
        slot_leaves = list(slot_leaves)
        unflatten = jax.tree_util.tree_unflatten
        return AdamState(count=count,
                         m=unflatten(treedef, [s[0] for s in slot_leaves]),
                         v=unflatten(treedef, [s[1] for s in slot_leaves]))

    def _slot_leaves(self, state, treedef):
        return list(zip(treedef.flatten_up_to(state.m),
                        treedef.flatten_up_to(state.v)))
