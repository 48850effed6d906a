"""Trax's SM3 (https://arxiv.org/abs/1901.11150), memory-efficient adaptive
optimization: one second-moment accumulator per weight dimension instead
of one per weight entry. optax has no SM3 with Trax's momentum variants and
grafting, so this is a custom transformation.

Slots per weight, Trax's layout (so checkpoints line up): a tuple
``(momentum, v1, v2)``:

* ``momentum``: an array like the weight, or ``[]`` when ``momentum`` is 0;
* ``v1``: a list with one accumulator per dimension, ``v1[i]`` of shape
  ``(weight.shape[i],)``;
* ``v2``: the same for the grafted (AdaGrad) accumulators when
  ``second_moment_averaging != 1``, else ``[]``.
"""

import enum
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from trax_compat.optimizers import base

# Added to square roots before dividing, and to the norm in grafting.
_EPS = 1e-16


class MomentumType(enum.IntEnum):
    """How SM3 applies its momentum (Trax's values)."""
    EMA = 1
    HEAVY_BALL = 2
    NESTEROV = 3


class SM3State(NamedTuple):
    """optax state of ``SM3``: trees shaped like the params, holding each
    weight's momentum (``[]`` without momentum) and its lists of
    per-dimension accumulators ``v1`` and ``v2``."""
    count: jax.Array
    momentum: Any
    v1: Any
    v2: Any


def _broadcastable(vector, rank, axis):
    """``vector`` reshaped to rank ``rank``, its entries along ``axis``."""
    shape = [1] * rank
    shape[axis] = vector.shape[0]
    return jnp.reshape(vector, shape)


def _inverse_sqrt_or_zero(acc):
    # Entries that never saw a gradient get no step (not 1/eps).
    return jnp.where(acc > 0, 1.0 / (jnp.sqrt(acc) + _EPS),
                     jnp.zeros_like(acc))


class SM3(base.Optimizer):
    """SM3 with Trax's defaults: with ``second_moment_averaging`` 1 the
    accumulators sum squared gradients (AdaGrad-like); otherwise they are
    exponential averages and the step is grafted onto AdaGrad's norm."""

    def __init__(self, learning_rate=0.01, momentum=0.9,
                 second_moment_averaging=1.0, weight_decay=0.0,
                 momentum_type=MomentumType.EMA):
        # Structure, fixed at construction as in Trax; an unknown type is an
        # error here rather than at the first update.
        self._has_momentum = momentum > 0.0
        self._momentum_type = MomentumType(momentum_type)
        self._graft = second_moment_averaging != 1.0
        super().__init__(learning_rate=learning_rate, momentum=momentum,
                         second_moment_averaging=second_moment_averaging,
                         weight_decay=weight_decay)

    def init_slot(self, weight):
        momentum = jnp.zeros_like(weight) if self._has_momentum else []
        v1 = [jnp.zeros(n, weight.dtype) for n in weight.shape]
        v2 = ([jnp.zeros(n, weight.dtype) for n in weight.shape]
              if self._graft else [])
        return momentum, v1, v2

    def _with_momentum(self, pg, m, beta):
        """Returns ``(new_m, step_direction)``."""
        if self._momentum_type == MomentumType.EMA:
            m = (1 - beta) * pg + beta * m
            return m, m
        m = pg + beta * m
        if self._momentum_type == MomentumType.HEAVY_BALL:
            return m, m
        return m, pg + beta * m  # Nesterov: one more look ahead.

    def update_leaf(self, step, grads, weights, slots, opt_params):
        del step
        m, v1, v2 = slots
        rank = len(weights.shape)
        if rank == 0:
            # Trax fails here too (its diagonal rule indexes v1[0]).
            raise ValueError('SM3 needs weights of rank 1 or more, got a '
                             'scalar weight.')
        lr = opt_params['learning_rate']
        beta2 = opt_params['second_moment_averaging']
        weight_decay = opt_params['weight_decay']
        g = grads

        # The new gradient counts fully when beta2 == 1 (a plain sum).
        beta2_is_1 = (beta2 == 1).astype(g.dtype)
        new_weight = beta2_is_1 + (1.0 - beta2) * (1.0 - beta2_is_1)

        # The accumulator of an entry: the smallest of its dimensions'.
        acc = _broadcastable(v1[0], rank, 0)
        for axis in range(1, rank):
            acc = jnp.minimum(acc, _broadcastable(v1[axis], rank, axis))
        acc = beta2 * acc + new_weight * g * g
        pg = _inverse_sqrt_or_zero(acc) * g

        if self._graft:
            acc2 = _broadcastable(v2[0], rank, 0)
            for axis in range(1, rank):
                acc2 = jnp.minimum(acc2, _broadcastable(v2[axis], rank, axis))
            acc2 = acc2 + g * g
            pg_graft = _inverse_sqrt_or_zero(acc2) * g
            # SM3's direction with AdaGrad's (grafted) length.
            pg = pg * (jnp.linalg.norm(pg_graft)
                       / (jnp.linalg.norm(pg) + _EPS))

        pg = pg + weights * weight_decay
        if self._has_momentum:
            m, direction = self._with_momentum(pg, m, opt_params['momentum'])
        else:
            direction = pg
        new_weights = weights - (lr * direction).astype(weights.dtype)

        def per_dimension_max(full):
            return [jnp.max(full, axis=tuple(a for a in range(rank) if a != i))
                    for i in range(rank)]

        new_v1 = per_dimension_max(acc)
        new_v2 = per_dimension_max(acc2) if self._graft else []
        return new_weights, (m, new_v1, new_v2)

    # -- optax state <-> Trax slot tuples ------------------------------------

    def _make_state(self, count, slot_leaves, treedef):
        slot_leaves = list(slot_leaves)
        unflatten = jax.tree_util.tree_unflatten
        return SM3State(
                count=count,
                momentum=unflatten(treedef, [s[0] for s in slot_leaves]),
                v1=unflatten(treedef, [list(s[1]) for s in slot_leaves]),
                v2=unflatten(treedef, [list(s[2]) for s in slot_leaves]))

    def _slot_leaves(self, state, treedef):
        return [(m, list(v1), list(v2)) for m, v1, v2 in zip(
                treedef.flatten_up_to(state.momentum),
                treedef.flatten_up_to(state.v1),
                treedef.flatten_up_to(state.v2))]
