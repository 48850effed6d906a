"""Trax's low-level trainers (``trax.optimizers.trainer``): one optimizer
step of a model-with-loss layer at a time, for code that writes its own
training loop instead of using ``training.Loop``.

``Trainer(model_with_loss, optimizer)`` takes an initialized layer whose
output is the loss and an optimizer whose ``tree_init`` has been called on
that layer's weights. ``one_step(batch, rng)`` computes the gradients of
``model_with_loss.pure_fn``, applies ``optimizer.tree_update`` in one
compiled program and writes the new weights, state and slots back, as
Trax does. With several devices the batch is split across them and the
gradients are averaged (``pmap``).

``ReversibleSerialTrainer(blocks, loss_layer, optimizer_fn)`` trains
``Serial(blocks + [loss_layer])`` with one optimizer per layer, as Trax's
memory-efficient trainer does, and gives the updates ``Trainer`` gives on
that Serial. Trax saves memory by keeping weights on the host and running
the layers one at a time, recomputing a reversible layer's inputs from its
outputs. Here the step is one compiled program, like ``Trainer``'s: it
takes the memory ``Trainer`` takes.
"""

import functools

import jax
import jax.numpy as jnp

from trax_compat import fastmath
from trax_compat.layers import acceleration
from trax_compat.layers import base
from trax_compat.layers import combinators as cb
from trax_compat.layers import reversible


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
            step, (accelerated.weights, self._slots), self._opt_params,
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
    """The compiled step: ``(step, (weights, slots), opt_params, batch,
    state, rng) -> ((weights, slots), state, stats)``."""
    grad_fn = jax.value_and_grad(model_with_loss.pure_fn, argnums=1,
                                 has_aux=True)

    def update(step, weights_and_slots, opt_params, batch, state, rng,
               axis_name=None):
        weights, slots = weights_and_slots
        (loss, state), grads = grad_fn(batch, weights, state, rng)
        grads = _mean_over_devices(grads, axis_name)
        weights, slots, stats = optimizer.tree_update(
            step, grads, weights, slots, opt_params, store_slots=False)
        stats["loss"] = loss
        return (weights, slots), state, stats

    return _compiled(update, n_devices)


def _mean_over_devices(grads, axis_name):
    """Gradients averaged over every device (Trax divides the sum by the
    global device count); unchanged on one device."""
    if axis_name is None:
        return grads
    n = jnp.asarray(fastmath.global_device_count(), jnp.float32)
    return jax.tree_util.tree_map(lambda g: g / n,
                                  jax.lax.psum(grads, axis_name))


def _compiled(update, n_devices):
    """``update(step, *args, axis_name=None)`` jitted on one device, or
    mapped over ``n_devices`` (every argument but ``step`` carrying a
    leading device axis); the step number goes in as int32, repeated per
    device."""
    if n_devices == 1:
        jitted = jax.jit(update)
        return lambda step, *args: jitted(jnp.asarray(step, jnp.int32), *args)
    mapped = jax.pmap(functools.partial(update, axis_name="batch"),
                      axis_name="batch")
    return lambda step, *args: mapped(
        jnp.repeat(jnp.asarray(step, jnp.int32), n_devices), *args)


class ReversibleSerialTrainer:
    """One optimizer per layer over ``Serial(blocks + [loss_layer])`` (see
    the module doc). ``blocks`` are pairs ``(standard layers, reversible
    layers)``; each block's standard layers run as one ``Serial``.
    ``optimizer_fn()`` makes each layer's optimizer. ``memoize_jit`` and
    ``free_accelerators_on_step`` are accepted and have no effect here (one
    program is compiled per trainer); ``adasum`` is not supported."""

    def __init__(self, blocks, loss_layer, optimizer_fn, n_devices=None,
                 memoize_jit=True, free_accelerators_on_step=False,
                 adasum=False):
        del memoize_jit, free_accelerators_on_step
        if adasum:
            raise NotImplementedError(
                "ReversibleSerialTrainer(adasum=True) is not supported; "
                "leave it at False (gradients are averaged over the "
                "devices).")
        self._blocks = [(cb.Serial(std), list(rev)) for std, rev in blocks]
        self._loss_layer = loss_layer
        self._optimizer_fn = optimizer_fn
        self._n_devices = n_devices or fastmath.local_device_count()

        def make_optimizer(layer):
            opt = optimizer_fn()
            opt.tree_init(layer.weights)
            return opt

        self._optimizers = [(make_optimizer(std),
                             [make_optimizer(layer) for layer in rev])
                            for std, rev in self._blocks]
        self._loss_opt = make_optimizer(loss_layer)
        self._opt_params = [
            acceleration.for_n_devices(dict(opt.opt_params), self._n_devices)
            for opt in self._flat_optimizers()]
        self._step_fn = _layerwise_update_fn(
            self.all_layers, self._flat_optimizers(), self._n_devices)

    @property
    def loss_layer(self):
        return self._loss_layer

    @property
    def all_layers(self):
        """The layers trained, in order: each block's standard layers as
        one ``Serial``, its reversible layers, then the loss layer."""
        layers = []
        for std, rev in self._blocks:
            layers += [std] + rev
        return layers + [self._loss_layer]

    @property
    def optimizer_fn(self):
        return self._optimizer_fn

    @property
    def slots(self):
        """Per block ``(standard slots, [reversible layers' slots])``, then
        the loss layer's slots."""
        return ([(std.slots, [opt.slots for opt in rev])
                 for std, rev in self._optimizers] + [self._loss_opt.slots])

    @slots.setter
    def slots(self, slots):
        for (std, rev), (std_slots, rev_slots) in zip(self._optimizers,
                                                      slots[:-1]):
            for opt, opt_slots in zip([std] + rev,
                                      [std_slots] + list(rev_slots)):
                opt.slots = opt_slots
        self._loss_opt.slots = slots[-1]

    def _flat_optimizers(self):
        flat = []
        for std, rev in self._optimizers:
            flat += [std] + rev
        return flat + [self._loss_opt]

    def one_step(self, batch, rng, step=0, learning_rate=None):
        """One update from ``batch``; returns ``(loss, stats)`` with the
        stats of layer ``i`` (of ``all_layers``) under ``layer{i}/``: its
        optimizer's ``gradients_l2`` and ``weights_l2`` where it has
        weights, and ``loss`` for the loss layer."""
        if learning_rate is not None:
            rate = acceleration.for_n_devices(
                jnp.asarray(learning_rate, jnp.float32), self._n_devices)
            for params in self._opt_params:
                params["learning_rate"] = rate
        layers, opts = self.all_layers, self._flat_optimizers()
        replicate = functools.partial(acceleration.for_n_devices,
                                      n_devices=self._n_devices)
        weights = replicate([layer.weights for layer in layers])
        state = replicate([layer.state for layer in layers])
        slots = replicate([opt.slots for opt in opts])
        if self._n_devices > 1:
            batch = acceleration.reshape_by_device(batch, self._n_devices)
            rng = jnp.stack(fastmath.random.split(rng, self._n_devices))
        weights, state, slots, stats = self._step_fn(
            step, weights, state, slots, self._opt_params, batch, rng)
        weights, state, slots = self._unreplicate((weights, state, slots))
        for layer, w, s in zip(layers, weights, state):
            layer.weights, layer.state = w, s
        for opt, opt_slots in zip(opts, slots):
            opt.slots = opt_slots
        joint = {f"layer{i}/{key}": value
                 for i, layer_stats in enumerate(stats)
                 for key, value in layer_stats.items()}
        return stats[-1]["loss"], joint

    def _unreplicate(self, tree):
        if self._n_devices == 1:
            return tree
        return jax.tree_util.tree_map(lambda x: x[0], tree)


def _layerwise_update_fn(layers, optimizers, n_devices):
    """The compiled step of ``ReversibleSerialTrainer``: ``(step, weights,
    state, slots, opt_params, batch, rng)``, the four lists over
    ``layers``, to the new weights, state and slots and per-layer stats."""

    def forward(weights, state, batch, rng):
        # Serial's forward: the same per-layer keys as Serial(layers).
        rngs = fastmath.random.split(rng, len(layers))
        stack, new_state = batch, []
        for layer, w, s, r in zip(layers, weights, state, rngs):
            inputs = cb.inputs_from_stack(stack, layer.n_in)
            outputs, s = layer.pure_fn(inputs, w, s, r, use_cache=True)
            stack = cb.outputs_onto_stack(outputs, stack, layer.n_in)
            new_state.append(s)
        return stack, new_state

    grad_fn = jax.value_and_grad(forward, has_aux=True)

    def update(step, weights, state, slots, opt_params, batch, rng,
               axis_name=None):
        (loss, state), grads = grad_fn(weights, state, batch, rng)
        grads = _mean_over_devices(grads, axis_name)
        new_weights, new_slots, stats = [], [], []
        for opt, w, g, s, params in zip(optimizers, weights, grads, slots,
                                        opt_params):
            if jax.tree_util.tree_leaves(w):
                w, s, layer_stats = opt.tree_update(step, g, w, s, params,
                                                    store_slots=False)
            else:  # Trax runs no optimizer on a layer without weights.
                layer_stats = {}
            new_weights.append(w)
            new_slots.append(s)
            stats.append(layer_stats)
        stats[-1]["loss"] = loss
        return new_weights, state, new_slots, stats

    return _compiled(update, n_devices)


def extract_reversible_blocks(layers, loss_chunk_size=0):
    """``(blocks, loss_layer)`` for ``ReversibleSerialTrainer`` from a model
    and loss (``[model, loss]`` or one ``Serial``): nested ``Serial``s are
    flattened, each run of standard layers followed by reversible ones is a
    block, and the standard layers after the last reversible one are the
    loss layer. With ``loss_chunk_size`` > 0 the loss's Dense, LogSoftmax
    and cross-entropy run on chunks of that many positions (``tl.Chunk``);
    the loss must then end with those after a ``Select`` or
    ``StripFromConcatenateWithPadding``, as in Trax."""

    def flatten(layer):
        if isinstance(layer, (list, tuple)):
            return [x for sub in layer for x in flatten(sub)]
        if isinstance(layer, cb.Serial):
            return flatten(list(layer.sublayers))
        return [layer]

    blocks, std_layers, rev_layers = [], [], []
    for layer in flatten(layers):
        if isinstance(layer, reversible.ReversibleLayer):
            rev_layers.append(layer)
        elif not rev_layers:
            std_layers.append(layer)
        else:
            blocks.append((std_layers, rev_layers))
            std_layers, rev_layers = [layer], []
    if rev_layers:
        raise ValueError(
            "The last layer must be a standard loss layer, not a reversible "
            "one.")
    if loss_chunk_size <= 0:
        return blocks, cb.Serial(std_layers)
    return blocks, _chunked_loss(std_layers, loss_chunk_size)


def _chunked_loss(std_layers, chunk_size):
    borders = ("StripFromConcatenateWithPadding", "Select")
    start = None
    for index, layer in enumerate(std_layers):
        if layer.name in borders:
            start = index + 1
    if start is None:
        raise ValueError(
            f"A chunked loss must follow one of {list(borders)}; the loss "
            f"layers are {[layer.name for layer in std_layers]}.")
    if len(std_layers) - start < 4:
        raise ValueError(
            "The loss is too short to chunk: it needs Dense, LogSoftmax, "
            "_CrossEntropy and _WeightedMean after the border layer.")
    last_3 = [layer.name for layer in std_layers[-3:]]
    if last_3 != ["LogSoftmax", "_CrossEntropy", "_WeightedMean"]:
        raise ValueError(
            f"Loss chunking needs the loss to end with LogSoftmax, "
            f"_CrossEntropy, _WeightedMean; it ends with {last_3}.")

    def merge_batch(preds, targets):
        return (jnp.reshape(preds, (-1, preds.shape[-1])),
                jnp.reshape(targets, (-1,)), targets)

    def unmerge_batch(xent, targets):
        return jnp.reshape(xent, targets.shape)

    chunked = cb.Serial(
        base.Fn("pre_xent_rebatch", merge_batch, n_out=3),
        cb.Chunk(cb.Serial(std_layers[start:-1]), chunk_size),
        base.Fn("after_xent_rebatch", unmerge_batch))
    return cb.Serial(std_layers[:start] + [chunked], std_layers[-1])


def init_reversible_blocks(blocks, loss_layer, input_signature, rng):
    """Initializes the layers of ``blocks`` and then ``loss_layer`` on
    ``input_signature``, each layer with its own key split from ``rng`` per
    block as Trax does."""
    stack = input_signature
    for std_layers, rev_layers in blocks:
        layers = list(std_layers) + list(rev_layers)
        keys = fastmath.random.split(rng, len(layers) + 1)
        rng = keys[0]
        for layer, key in zip(layers, keys[1:]):
            inputs = cb.inputs_from_stack(stack, layer.n_in)
            layer.init(inputs, rng=key)
            stack = cb.outputs_onto_stack(layer.output_signature(inputs),
                                          stack, layer.n_in)
    loss_layer.init(cb.inputs_from_stack(stack, loss_layer.n_in), rng=rng)
