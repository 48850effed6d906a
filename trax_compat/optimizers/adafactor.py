"""Trax's Adafactor (https://arxiv.org/abs/1804.04235).

``optax.adafactor`` differs from Trax's in its decay schedule, where epsilon
enters, how parameter scale and weight decay apply and in its state layout,
so this is a custom transformation following Trax's formulas.

Slots per weight, in Trax's order (a list, so checkpoints line up):

* factored (``factored=True`` and rank >= 2): ``[v_row, v_col]``, the second
  moment's means over the last axis (shape ``shape[:-1]``) and over the
  second-to-last one (shape ``shape[:-2] + shape[-1:]``), float32;
* otherwise: ``[v]``, the full second moment, the weight's dtype;
* then, with ``do_momentum``: the momentum ``m`` (bfloat16 with
  ``momentum_in_bfloat16``).
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from trax_compat.optimizers import base


class AdafactorState(NamedTuple):
    """optax state of ``Adafactor``.

    Each field but ``count`` is a tree shaped like the params, holding None
    where a weight has no such slot: ``v_row``/``v_col`` for factored
    weights, ``v`` for the others, ``m`` only with momentum.
    """
    count: jax.Array
    v_row: Any
    v_col: Any
    v: Any
    m: Any


class Adafactor(base.Optimizer):
    """Adafactor with Trax's defaults and update rule.

    ``factored``, ``multiply_by_parameter_scale``, ``do_clipping``,
    ``do_momentum`` and ``momentum_in_bfloat16`` fix the structure of the
    computation; the other arguments are hyperparameters in ``opt_params``
    and may change between steps, as in Trax.
    """

    def __init__(self, learning_rate=0.05, factored=True,
                 multiply_by_parameter_scale=True, do_clipping=True,
                 do_momentum=False, momentum_in_bfloat16=False, beta1=0.0,
                 decay_rate=0.8, clipping_threshold=1.0,
                 weight_decay_rate=1e-5, weight_decay_n_steps=0,
                 epsilon1=1e-16, epsilon2=1e-3):
        self._factored = factored
        self._multiply_by_parameter_scale = multiply_by_parameter_scale
        self._do_clipping = do_clipping
        self._do_momentum = do_momentum
        self._momentum_in_bfloat16 = momentum_in_bfloat16
        super().__init__(learning_rate=learning_rate, beta1=beta1,
                         decay_rate=decay_rate,
                         clipping_threshold=clipping_threshold,
                         weight_decay_rate=weight_decay_rate,
                         weight_decay_n_steps=weight_decay_n_steps,
                         epsilon1=epsilon1, epsilon2=epsilon2)
        # Trax keeps jnp.array(value)'s own dtype: a step count given as an
        # int stays int32 in opt_params (the same values in the update).
        self.opt_params = dict(
                self.opt_params,
                weight_decay_n_steps=jnp.asarray(weight_decay_n_steps))

    def _is_factored(self, weight):
        return self._factored and len(weight.shape) >= 2

    def init_slot(self, weight):
        shape = tuple(weight.shape)
        if self._is_factored(weight):
            slots = [jnp.zeros(shape[:-1], jnp.float32),
                     jnp.zeros(shape[:-2] + shape[-1:], jnp.float32)]
        else:
            slots = [jnp.zeros_like(weight)]
        if self._do_momentum:
            m = jnp.zeros_like(weight)
            if self._momentum_in_bfloat16:
                m = m.astype(jnp.bfloat16)
            slots.append(m)
        return slots

    @staticmethod
    def _second_moment_decay(step, exponent):
        # 1 - (t + 1)^-exponent: 0 before the first step, tending to 1.
        t = jnp.asarray(step, jnp.float32) + 1.0
        return 1.0 - t ** (-exponent)

    def update_leaf(self, step, grads, weights, slots, opt_params):
        lr = opt_params['learning_rate']
        beta1 = opt_params['beta1']
        clipping_threshold = opt_params['clipping_threshold']
        epsilon1 = opt_params['epsilon1']
        epsilon2 = opt_params['epsilon2']
        wd = opt_params['weight_decay_rate']
        wd_steps = opt_params['weight_decay_n_steps']
        # With weight_decay_n_steps >= 1 the decay fades out linearly.
        wd = jnp.where(wd_steps < 1, wd,
                       wd * jnp.maximum(wd_steps - step, 0.0)
                       / jnp.maximum(wd_steps, 0.0))
        decay = self._second_moment_decay(step, opt_params['decay_rate'])
        mixing = 1.0 - decay

        scale = lr
        if self._multiply_by_parameter_scale:
            rms = jnp.sqrt(jnp.mean(weights * weights))
            scale = scale * jnp.maximum(rms, epsilon2)

        grads_sq = grads * grads
        if self._is_factored(weights):
            v_row, v_col = slots[0], slots[1]
            new_v_row = decay * v_row + mixing * jnp.mean(grads_sq, axis=-1)
            new_v_col = decay * v_col + mixing * jnp.mean(grads_sq, axis=-2)
            new_slots = [new_v_row, new_v_col]
            row_mean = jnp.mean(new_v_row, axis=-1, keepdims=True)
            row_factor = (row_mean / (new_v_row + epsilon1)) ** 0.5
            col_factor = (new_v_col + epsilon1) ** -0.5
            y = (grads * jnp.expand_dims(row_factor, -1)
                 * jnp.expand_dims(col_factor, -2))
        else:
            new_v = decay * slots[0] + mixing * grads_sq
            new_slots = [new_v]
            y = grads * (new_v + epsilon1) ** -0.5

        if self._do_clipping:
            # Scale y down to RMS clipping_threshold (never up).
            y_rms = jnp.sqrt(jnp.mean(y * y))
            y = base.div_by_scalar(
                    y, jnp.maximum(1.0, y_rms / clipping_threshold))

        subtrahend = scale * y
        if self._do_momentum:
            m_slot = slots[-1]
            # Accumulated in the step's precision, stored in the slot's.
            m = m_slot.astype(subtrahend.dtype)
            subtrahend = beta1 * m + (1.0 - beta1) * subtrahend
            new_slots.append(subtrahend.astype(m_slot.dtype))

        new_weights = (1 - wd) * weights - subtrahend
        return new_weights.astype(weights.dtype), new_slots

    # -- optax state <-> Trax slot lists -------------------------------------

    def _make_state(self, count, slot_leaves, treedef):
        fields = {'v_row': [], 'v_col': [], 'v': [], 'm': []}
        for slots in slot_leaves:
            slots = list(slots)
            m = slots.pop() if self._do_momentum else None
            if len(slots) == 2:
                row, col, v = slots[0], slots[1], None
            else:
                row, col, v = None, None, slots[0]
            for name, value in zip(('v_row', 'v_col', 'v', 'm'),
                                   (row, col, v, m)):
                fields[name].append(value)
        unflatten = jax.tree_util.tree_unflatten
        return AdafactorState(
                count=count,
                **{name: unflatten(treedef, leaves)
                   for name, leaves in fields.items()})

    def _slot_leaves(self, state, treedef):
        flat = [treedef.flatten_up_to(getattr(state, name))
                for name in ('v_row', 'v_col', 'v', 'm')]
        leaves = []
        for row, col, v, m in zip(*flat):
            slots = [v] if row is None else [row, col]
            if self._do_momentum:
                slots.append(m)
            leaves.append(slots)
        return leaves
