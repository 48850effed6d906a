"""Trax's low-level trainer (``trax.optimizers.trainer``): one optimizer
step of a model-with-loss layer at a time, for code that writes its own
training loop instead of using ``training.Loop``.

``Trainer(model_with_loss, optimizer)`` takes an initialized layer whose
output is the loss and an optimizer whose ``tree_init`` has been called on
that layer's weights. ``one_step(batch, rng)`` computes the gradients of
``model_with_loss.pure_fn``, applies ``optimizer.tree_update`` in one
compiled program and writes the new weights, state and slots back, as
Trax does. With several devices the batch is split across them and the
gradients are averaged (``pmap``).
"""

import functools

import jax
import jax.numpy as jnp

from trax_compat import fastmath
from trax_compat.layers import acceleration
from trax_compat.layers import base


class Trainer:
    """Runs optimizer steps on ``model_with_loss`` (see the module doc).

    ``n_devices`` defaults to every local device. ``adasum`` (Trax's
    adaptive summation of multi-device gradients) is not supported.
    """

    def __init__(self, model_with_loss, optimizer, n_devices=None,
                 adasum=False):
        if adasum:
            raise NotImplementedError(
                "Trainer(adasum=True) is not supported; leave it at False "
                "(gradients are averaged over the devices).")
        if base.N_WEIGHTS_SHARDS > 1:
            raise NotImplementedError(
                "Trainer with N_WEIGHTS_SHARDS > 1 is not supported; shard "
                "with training.Loop(n_devices=...) instead.")
        if optimizer.slots is None:
            raise ValueError(
                "The optimizer has no slots yet: call "
                "optimizer.tree_init(model_with_loss.weights) before "
                "Trainer(model_with_loss, optimizer).")
        self._model_with_loss = model_with_loss
        self._optimizer = optimizer
        self._n_devices = n_devices or fastmath.local_device_count()
        # A copy: one_step(learning_rate=...) changes this trainer's rate
        # (for its later steps too), not the optimizer's own.
        self._slots, self._opt_params = acceleration.for_n_devices(
            (optimizer.slots, dict(optimizer.opt_params)), self._n_devices)
        self._accelerated_model_with_loss = acceleration.Accelerate(
            model_with_loss, n_devices=n_devices)
        self._update_fn = _update_fn(model_with_loss, optimizer,
                                     self._n_devices)

    @property
    def model_with_loss(self):
        """The layer trained: the model followed by its loss."""
        return self._model_with_loss

    @property
    def accelerated_model_with_loss(self):
        """``Accelerate(model_with_loss)``: it holds the (replicated)
        weights and state between steps."""
        return self._accelerated_model_with_loss

    @property
    def optimizer(self):
        return self._optimizer

    @property
    def slots(self):
        """The optimizer's slots (one device's copy)."""
        return self._optimizer.slots

    @slots.setter
    def slots(self, slots):
        self._optimizer.slots = slots
        self._slots = acceleration.for_n_devices(slots, self._n_devices)

    def one_step(self, batch, rng, step=0, learning_rate=None):
        """One update from ``batch``; returns ``(loss, stats)``, stats being
        the optimizer's (``gradients_l2``, ``weights_l2``) and ``loss``.
        ``learning_rate`` replaces the rate from this step on."""
        if learning_rate is not None:
            self._opt_params["learning_rate"] = acceleration.for_n_devices(
                jnp.asarray(learning_rate, jnp.float32), self._n_devices)
        if self._n_devices > 1:
            batch = acceleration.reshape_by_device(batch, self._n_devices)
            rng = jnp.stack(fastmath.random.split(rng, self._n_devices))
        accelerated = self._accelerated_model_with_loss
        (weights, slots), state, stats = self._update_fn(
            (accelerated.weights, self._slots), step, self._opt_params,
            batch, accelerated.state, rng)
        accelerated.weights = weights
        accelerated.state = state
        self._slots = slots
        self._optimizer.slots = self._unreplicate(slots)
        return stats["loss"], stats

    def _unreplicate(self, tree):
        if self._n_devices == 1:
            return tree
        return jax.tree_util.tree_map(lambda x: x[0], tree)


def _update_fn(model_with_loss, optimizer, n_devices):
    """The compiled step: ``((weights, slots), step, opt_params, batch,
    state, rng) -> ((weights, slots), state, stats)``."""
    grad_fn = jax.value_and_grad(model_with_loss.pure_fn, argnums=1,
                                 has_aux=True)

    def update(weights_and_slots, step, opt_params, batch, state, rng,
               axis_name=None):
        weights, slots = weights_and_slots
        (loss, state), grads = grad_fn(batch, weights, state, rng)
        if axis_name is not None:
            n = jnp.asarray(fastmath.global_device_count(), jnp.float32)
            grads = jax.tree_util.tree_map(
                lambda g: g / n, jax.lax.psum(grads, axis_name))
        weights, slots, stats = optimizer.tree_update(
            step, grads, weights, slots, opt_params, store_slots=False)
        stats["loss"] = loss
        return (weights, slots), state, stats

    if n_devices == 1:
        jitted = jax.jit(update)
        return lambda ws, step, *args: jitted(
            ws, jnp.asarray(step, jnp.int32), *args)
    mapped = jax.pmap(functools.partial(update, axis_name="batch"),
                      axis_name="batch", donate_argnums=(0,))
    return lambda ws, step, *args: mapped(
        ws, jnp.repeat(jnp.asarray(step, jnp.int32), n_devices), *args)
