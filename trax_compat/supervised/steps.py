"""The Loop's train and eval steps: pure functions, built once per task and
jitted (the train step donates its state).

The Loop's step number is an argument of the train step: it drives the
dropout key, the optimizer's step and ``TrainState.step``, so nothing on the
device counts steps on its own. The learning rate, when a schedule sets it,
is an argument too (a float32 scalar): changing it never recompiles.
"""

from typing import Any

import flax.struct
from flax.training import train_state as flax_train_state
import jax
import jax.numpy as jnp
import numpy as np
import optax

from trax_compat.fastmath import random as trax_random
from trax_compat.optimizers import base as optimizers_base
from trax_compat.supervised import sharding


class TrainState(flax_train_state.TrainState):
    """Flax's ``TrainState`` plus the model's ``state`` collection (the
    Trax layer state, e.g. BatchNorm statistics), as the Flax examples add
    ``batch_stats``."""
    model_state: Any = flax.struct.field(default_factory=dict)


class Totals(flax.struct.PyTreeNode):
    """Device-side sums since the last report (read only when logging)."""
    loss: jax.Array  # This task's losses (reset when the task changes).
    all_losses: jax.Array  # Every task's (Trax's "training/loss" sums it).
    gradients_l2: jax.Array
    weights_l2: jax.Array
    n_steps: jax.Array
    n_measured: jax.Array  # Steps whose norms are in the l2 sums.

    @classmethod
    def zeros(cls):
        # Separate buffers: the train step donates each of them.
        def z():
            return jnp.zeros((), jnp.float32)
        return cls(loss=z(), all_losses=z(), gradients_l2=z(), weights_l2=z(),
                   n_steps=jnp.zeros((), jnp.int32),
                   n_measured=jnp.zeros((), jnp.int32))

    def restart_loss(self):
        """Trax resets the loss average, not the optimizer metrics' sums
        (its "training/loss" among them), on a task change."""
        return self.replace(loss=jnp.zeros((), jnp.float32),
                            n_steps=jnp.zeros((), jnp.int32))


def as_tuple(outputs, n_out):
    return (outputs,) if n_out == 1 else tuple(outputs)


def model_then(model, end_layers, params, model_state, batch, rng):
    """Runs ``model`` with its ``pure_fn`` on the first ``model.n_in`` batch
    items, then each end layer (loss or metric) on the resulting stack.

    ``params`` and ``model_state`` are the model's named Flax view of its
    weights and state (what ``TrainState`` holds, checkpoints store and
    gradients are taken for). Returns the end layers' values and the model's
    new state, in the same view (``{}`` for a model without state).
    """
    weights = model.weights_from_params(params)
    state = model.state_from_flax_state(model_state)
    stack = list(batch)
    inputs = stack[0] if model.n_in == 1 else tuple(stack[:model.n_in])
    # Trax runs Serial(model, ends): the model gets the first of two keys.
    model_rng = None if rng is None else trax_random.split(rng, 2)[0]
    outputs, new_state = model.pure_fn(inputs, weights, state, model_rng)
    stack = list(as_tuple(outputs, model.n_out)) + stack[model.n_in:]
    values = []
    for layer in end_layers:
        inputs = stack[0] if layer.n_in == 1 else tuple(stack[:layer.n_in])
        value, _ = layer.pure_fn(inputs, layer.weights, layer.state, None)
        values.append(value)
    return values, model.flax_state_from_state(new_state)


def as_gradient_transformation(optimizer):
    """Our optimizers as themselves (they write Trax's new weights directly,
    see ``optimizers.apply_gradients``); anything optax-like as optax."""
    if isinstance(optimizer, type):
        raise TypeError(
            f"TrainTask got the optimizer class {optimizer.__name__}; pass an "
            f"instance, e.g. {optimizer.__name__}(0.01).")
    if isinstance(optimizer, (optax.GradientTransformation,
                              optimizers_base.Optimizer)):
        return optimizer
    if hasattr(optimizer, "init") and hasattr(optimizer, "update"):
        return optax.GradientTransformation(optimizer.init, optimizer.update)
    raise TypeError(
        f"Optimizer {optimizer!r} is neither a trax_compat optimizer nor an "
        f"optax GradientTransformation.")


def _injected(node):
    """The state of ``optax.inject_hyperparams`` with a learning rate."""
    hyperparams = getattr(node, "hyperparams", None)
    return isinstance(hyperparams, dict) and "learning_rate" in hyperparams


def _children(node):
    if isinstance(node, dict):
        return list(node.values())
    if isinstance(node, (tuple, list)):
        return list(node)
    return []


def optax_learning_rate(opt_state):
    """The ``learning_rate`` of an ``optax.inject_hyperparams`` state
    inside ``opt_state`` (the first found), or None."""
    if _injected(opt_state):
        return opt_state.hyperparams["learning_rate"]
    for child in _children(opt_state):
        rate = optax_learning_rate(child)
        if rate is not None:
            return rate
    return None


def optax_schedules_learning_rate(opt_state):
    """Whether an ``inject_hyperparams`` state in ``opt_state`` computes its
    learning rate from its own schedule (then nothing set from outside
    sticks)."""
    if _injected(opt_state):
        return "learning_rate" in (getattr(opt_state, "hyperparams_states",
                                           None) or {})
    return any(optax_schedules_learning_rate(c)
               for c in _children(opt_state))


def with_optax_learning_rate(opt_state, learning_rate):
    """``opt_state`` with every injected ``learning_rate`` set."""
    if _injected(opt_state):
        current = opt_state.hyperparams["learning_rate"]
        return opt_state._replace(hyperparams=dict(
            opt_state.hyperparams,
            learning_rate=jnp.asarray(learning_rate, current.dtype)))
    if isinstance(opt_state, dict):
        return {k: with_optax_learning_rate(v, learning_rate)
                for k, v in opt_state.items()}
    if isinstance(opt_state, (tuple, list)):
        children = [with_optax_learning_rate(c, learning_rate)
                    for c in opt_state]
        if hasattr(opt_state, "_fields"):  # a NamedTuple state
            return type(opt_state)(*children)
        return type(opt_state)(children)
    return opt_state


def update(tx, grads, opt_state, params, step, learning_rate):
    """One optimizer update; returns ``(new_params, new_opt_state)``."""
    if isinstance(tx, optimizers_base.Optimizer):
        return tx.apply(grads, opt_state, params, step=step,
                        learning_rate=learning_rate)
    if learning_rate is not None:
        opt_state = with_optax_learning_rate(opt_state, learning_rate)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state


def _branch_is_cheap():
    """On the CPU a conditional is free, so ordinary steps skip the pass
    over the gradients. On accelerators that pass is nearly free while a
    conditional reads its predicate back to the host mid-program, so the
    norm is always computed and selected."""
    return jax.default_backend() == "cpu"


def _gradients_l2(grads):
    return optimizers_base.l2_norm(grads).astype(jnp.float32)


def _gradients_l2_by_branch(grads, with_norms):
    """The gradients' norm where ``with_norms``, else zero."""
    return jax.lax.cond(with_norms, _gradients_l2,
                        lambda _: jnp.zeros((), jnp.float32), grads)


def _gradients_l2_by_select(grads, with_norms):
    return jnp.where(with_norms, _gradients_l2(grads),
                     jnp.zeros((), jnp.float32))


def make_add_weights_l2(data_parallel=None):
    """``add_weights_l2(totals, params) -> (totals, weights_l2)``, jitted
    (donating ``totals``): adds the norm of the weights a logged step starts
    from. The host runs it before that step rather than the step itself:
    the step updates the weights in place, and reading them there as well
    makes XLA copy them first (a pass over every weight, every step)."""
    def add_weights_l2(totals, params):
        norm = optimizers_base.l2_norm(params).astype(jnp.float32)
        return totals.replace(weights_l2=totals.weights_l2 + norm), norm

    kwargs = {}
    if data_parallel is not None:
        replicated = data_parallel.replicated
        kwargs = {"in_shardings": (replicated, replicated),
                  "out_shardings": replicated}
    return jax.jit(add_weights_l2, donate_argnums=0, **kwargs)


def make_train_step(model, loss_layer, tx, task_index, data_parallel=None):
    """``train_step(state, totals, batch, step, learning_rate, loop_rng,
    with_norms) -> (state, totals, loss, gradients_l2, loop_rng)`` for one
    task, jitted.
    ``loop_rng`` is the Loop's key: the step splits it as Trax's Loop does
    for each step, trains with the second key and returns the first, the
    Loop's next key. Splitting inside the program gives the same keys as
    splitting eagerly, without two small programs dispatched per step.

    ``state.opt_state`` holds one optimizer state per task; this task's is
    ``[task_index]``. ``with_norms`` (a traced bool) adds the gradients'
    norm to ``totals`` and counts the step as measured (the weights' norm
    comes from ``make_add_weights_l2``): one program per batch shape,
    logged steps or not.

    ``data_parallel`` (a ``sharding.DataParallel``, or None for one device)
    compiles the step for its mesh: the batch split along its leading axis,
    everything else replicated.
    """
    gradients_l2 = (_gradients_l2_by_branch if _branch_is_cheap()
                    else _gradients_l2_by_select)

    def loss_fn(params, model_state, batch, rng):
        (loss,), model_state = model_then(model, [loss_layer], params,
                                          model_state, batch, rng)
        return loss, model_state

    def train_step(state, totals, batch, step, learning_rate, loop_rng,
                   with_norms):
        loop_rng, rng = trax_random.split(loop_rng)
        (loss, model_state), grads = jax.value_and_grad(
            loss_fn, has_aux=True)(state.params, state.model_state, batch,
                                   rng)
        totals = totals.replace(loss=totals.loss + loss,
                                all_losses=totals.all_losses + loss,
                                n_steps=totals.n_steps + 1)
        grads_l2 = gradients_l2(grads, with_norms)
        totals = totals.replace(
            gradients_l2=totals.gradients_l2 + grads_l2,
            n_measured=totals.n_measured + with_norms.astype(jnp.int32))
        opt_states = list(state.opt_state)
        params, opt_states[task_index] = update(
            tx, grads, opt_states[task_index], state.params, step,
            learning_rate)
        state = state.replace(step=step, params=params,
                              opt_state=tuple(opt_states),
                              model_state=model_state)
        return state, totals, loss, grads_l2, loop_rng

    return jax.jit(train_step, donate_argnums=(0, 1),
                   **sharding.jit_kwargs(data_parallel, 2, 7))


def make_eval_step(model, metrics, data_parallel=None):
    """``eval_step(params, model_state, batch, loop_rng) -> (metric
    values, loop_rng)``, the values a float32 vector, jitted. As in the
    train step, the Loop's key is split inside (Trax's Loop splits it for
    each eval batch) and the next one returned. The state the model
    computes is dropped, as Trax drops it in evaluation."""
    def eval_step(params, model_state, batch, loop_rng):
        loop_rng, rng = trax_random.split(loop_rng)
        values, _ = model_then(model, metrics, params, model_state, batch,
                               rng)
        return (jnp.stack([jnp.asarray(v, jnp.float32) for v in values]),
                loop_rng)

    return jax.jit(eval_step, **sharding.jit_kwargs(data_parallel, 2, 4))


def settled_model_state(model, params, model_state, batch, rng):
    """``model_state`` with each array in the shape a training step leaves
    it in, where only its shape changes (same dtype and size): Trax's
    ``ConcatWithPadding`` and ``StripFromConcatenateWithPadding`` keep a
    counter that is ``int32[]`` at init and ``int32[1]`` after a step. The
    values are kept (a reshape), so the train step is compiled once per
    batch shape instead of twice. Anything else (a model without state, a
    state whose dtypes or sizes change) is returned as is.

    ``batch`` and ``rng`` may be shapes (``jax.ShapeDtypeStruct``).
    """
    if not jax.tree_util.tree_leaves(model_state):
        return model_state

    def new_state(params, model_state, batch, rng):
        return model_then(model, [], params, model_state, batch, rng)[1]

    try:
        after = jax.eval_shape(new_state, params, model_state, batch, rng)
    except Exception:  # pylint: disable=broad-except
        return model_state  # The train step reports it, as it always did.
    leaves, treedef = jax.tree_util.tree_flatten(model_state)
    after_leaves, after_treedef = jax.tree_util.tree_flatten(after)
    if treedef != after_treedef:
        return model_state
    settled = []
    for leaf, shaped in zip(leaves, after_leaves):
        if np.shape(leaf) == tuple(shaped.shape):
            settled.append(leaf)
            continue
        if (np.dtype(leaf.dtype) != np.dtype(shaped.dtype)
                or np.size(leaf) != int(np.prod(shaped.shape))):
            return model_state
        # On the host: no reshape program to compile.
        settled.append(jax.device_put(
            np.asarray(leaf).reshape(shaped.shape)))
    return jax.tree_util.tree_unflatten(treedef, settled)
