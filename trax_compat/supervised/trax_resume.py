"""A Loop's train state from a Trax checkpoint, and back.

Trax keeps weights, state and optimizer slots as flat lists in its weight
order; a Loop keeps Flax params (named, in Flax's key order) and an optax
state. These functions translate between the two, with Trax's rule for
checkpoints that hold fewer arrays than the model (match by shape).
"""

import jax
import jax.numpy as jnp
import numpy as np

from trax_compat.optimizers import base as optimizers_base
from trax_compat.supervised import history as history_lib
from trax_compat.supervised import trax_checkpoint


def _params_order(model, weights):
    """For each leaf of the Flax params, the index of its Trax weight."""
    leaves, treedef = jax.tree_util.tree_flatten(weights)
    tagged = jax.tree_util.tree_unflatten(
        treedef, [np.full(np.shape(w), i, np.int32) for i, w in
                  enumerate(leaves)])
    params = model.params_from_weights(tagged)
    return [int(np.asarray(p).flat[0]) if np.size(p) else None
            for p in jax.tree_util.tree_leaves(params)]


def _flat_trax_slots(optimizer, opt_state, params, order):
    """The optimizer's slots in Trax's flat order: per weight (Trax order)
    its slot arrays."""
    per_param = optimizer.slots_from_state(opt_state, params)
    per_weight = [None] * len(per_param)
    for param_index, weight_index in enumerate(order):
        per_weight[weight_index] = per_param[param_index]
    return per_weight


def train_state_from_trax(loop_state, model, tasks, ckpt, log):
    """``(train_state, step, history)`` of a Loop resumed from ``ckpt``."""
    weights = model.weights_from_params(loop_state.params)
    leaves, treedef = jax.tree_util.tree_flatten(weights)
    matched = trax_checkpoint.match_by_shape(
        [np.asarray(w) for w in leaves], ckpt.flat_weights, log=log)
    weights = jax.tree_util.tree_unflatten(
        treedef, [jnp.asarray(w) for w in matched])
    params = model.params_from_weights(weights)
    model_state = loop_state.model_state
    if model_state and ckpt.flat_state:
        state = model.state_from_flax_state(model_state)
        s_leaves, s_treedef = jax.tree_util.tree_flatten(state)
        s_matched = trax_checkpoint.match_by_shape(
            [np.asarray(s) for s in s_leaves], ckpt.flat_state, "state")
        model_state = model.flax_state_from_state(jax.tree_util.tree_unflatten(
            s_treedef, [jnp.asarray(s) for s in s_matched]))
    step = int(ckpt.step or 0)
    opt_states = list(loop_state.opt_state)
    order = _params_order(model, weights)
    for i, (task, opt_state) in enumerate(zip(tasks, opt_states)):
        optimizer = task.optimizer
        slots_in_file = (ckpt.slots_per_task[i] if ckpt.slots_per_task
                         and i < len(ckpt.slots_per_task) else None)
        if not isinstance(optimizer, optimizers_base.Optimizer):
            log(f"Task {i}'s optimizer is not a trax_compat optimizer; its "
                f"state starts afresh instead of from the Trax slots.")
            continue
        per_weight = _flat_trax_slots(optimizer, opt_state, params, order)
        s_leaves, s_treedef = jax.tree_util.tree_flatten(per_weight)
        if slots_in_file is not None:
            s_leaves = trax_checkpoint.match_by_shape(
                [np.asarray(s) for s in s_leaves], slots_in_file,
                "optimizer slots")
        per_weight = jax.tree_util.tree_unflatten(
            s_treedef, [jnp.asarray(s) for s in s_leaves])
        per_param = tuple(per_weight[w] for w in order)
        opt_states[i] = optimizer.state_from_slots(per_param, params,
                                                   count=step)
    train_state = loop_state.replace(
        params=params, opt_state=tuple(opt_states), model_state=model_state,
        step=jnp.asarray(step, jnp.int32))
    return train_state, step, _plain_history(ckpt.history)


def _plain_history(history):
    """The history with Python floats (a Loop's checkpoints keep it as
    JSON); None stays None."""
    if history is None:
        return None
    plain = history_lib.History()
    for mode in history.modes:
        for metric in history.metrics_for_mode(mode):
            for step, value in history.get(mode, metric):
                plain.append(mode, metric, step, float(value))
    return plain


def trax_checkpoint_from_loop(loop_state, model, tasks, step, history,
                              input_signature, eval_state=None):
    """The dict and side-file arrays of Trax's Loop checkpoint for a Loop's
    state: ``(pickled_dict, flat_weights, [flat_slots of each task])``."""
    weights = model.weights_from_params(loop_state.params)
    flat_weights = [np.asarray(w) for w in jax.tree_util.tree_leaves(weights)]
    flat_state = []
    if loop_state.model_state:
        flat_state = [np.asarray(s) for s in jax.tree_util.tree_leaves(
            model.state_from_flax_state(loop_state.model_state))]
    order = _params_order(model, weights)
    slots = []
    for task, opt_state in zip(tasks, loop_state.opt_state):
        optimizer = task.optimizer
        if not isinstance(optimizer, optimizers_base.Optimizer):
            raise TypeError(
                f"Writing Trax's checkpoint format needs trax_compat "
                f"optimizers (Trax's slots); this task uses {optimizer!r}.")
        per_weight = _flat_trax_slots(optimizer, opt_state,
                                      loop_state.params, order)
        slots.append([np.asarray(s) for s in
                      jax.tree_util.tree_leaves(per_weight)])
    level = trax_checkpoint.DEFAULT_COMPRESSLEVEL
    pickled = {
        "step": int(step),
        "flat_weights": level,  # "the arrays are in the side file"
        "flat_state": flat_state,
        "flat_eval_state": (flat_state if eval_state is None
                            else [np.asarray(s) for s in eval_state]),
        "history": trax_checkpoint.history_to_pickled(history),
        "slots_per_task": level,
        "input_signature": trax_checkpoint.trax_shape_dtypes(
            input_signature),
        "version_timestamp": "Mar-10-2021",
    }
    return pickled, flat_weights, slots
