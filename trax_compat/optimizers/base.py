"""Base class for Trax-style optimizers, exposed as optax transformations.

A Trax optimizer is described per weight array ("leaf"): ``init_slot`` makes
the optimizer's per-leaf slots and ``update_leaf`` maps
``(step, grad, weight, slot, opt_params)`` to ``(new_weight, new_slot)``.
From that one description this class provides

* the Trax tree API: ``tree_init(weights)`` and
  ``tree_update(step, grads, weights, slots, opt_params)``;
* an ``optax.GradientTransformation`` (``gradient_transformation`` /
  ``to_optax()``), and the object itself follows optax's protocol
  (``init(params)``, ``update(updates, state, params)``), so it can be given
  to ``TrainState.create(tx=...)`` or ``optax.chain``;
* ``apply(grads, state, params)``, which returns Trax's new weights directly.

Numerics: the update rules are Trax's formulas, written plainly in float32.
Evaluated eagerly (``tree_update`` outside jit) they match Trax's
standalone, eager optimizer calls bitwise. Inside ``jax.jit`` XLA on CPU
contracts ``a * b - c`` into a fused multiply-add, as the XLA of Trax's
jitted Loop step did, so the jitted update (``apply``, the Loop) matches
that step bitwise (checked for Adam); eager and jitted results may differ
by an ulp. One XLA rewrite is undone: ``x / scalar`` becoming
``x * (1 / scalar)`` (see ``div_by_scalar``).

``params + updates`` (what optax and ``TrainState.apply_gradients`` do)
cannot always hit Trax's new weight: where a weight shrinks past zero, no
float ``u`` gives ``fl(w + u) == new``. ``apply`` / ``apply_gradients`` below
write the new weights directly and are bitwise.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

# Trax's Loop passes step=1 to the first update; optax counts from 0.
FIRST_STEP = 1


# ---------------------------------------------------------------------------
# Arithmetic helpers.
# ---------------------------------------------------------------------------

def div_by_scalar(x, s):
    """IEEE ``x / s`` for a scalar ``s``.

    XLA may rewrite ``x / broadcast(s)`` into ``x * (1 / s)``, which is not
    correctly rounded (Trax divided). Current XLA does so under jit, jax
    0.4.34's when ``s`` is a compile-time constant; with plain ``/`` Adam's
    jitted step misses Trax's Loop by an ulp. An opaque full-size divisor
    keeps the real division.
    """
    x = jnp.asarray(x)
    s = jnp.broadcast_to(jnp.asarray(s, x.dtype), x.shape)
    return x / lax.optimization_barrier(s)


def exact_delta(new, old):
    """An update ``u`` with ``old + u == new`` in floating point.

    ``new - old`` alone can miss ``new`` by one ulp after ``old + u``; nudging
    ``u`` by one ulp (twice at most) fixes that whenever such a ``u`` exists.
    """
    # Barriers: XLA must not rewrite old + (new - old) inside one fusion.
    new, old = lax.optimization_barrier((new, old))
    d = new - old
    for _ in range(2):
        r = old + d
        toward = jnp.where(new > r, jnp.inf, -jnp.inf).astype(d.dtype)
        d = jnp.where(r == new, d, jnp.nextafter(d, toward))
    return lax.optimization_barrier(jnp.where(old + d == new, d, new - old))


# ---------------------------------------------------------------------------
# Norms and clipping as Trax does them.
# ---------------------------------------------------------------------------

def l2_norm(tree):
    """Global L2 norm of all leaves, summed in leaf order like Trax."""
    leaves = jax.tree_util.tree_leaves(tree)
    return jnp.sqrt(sum(jnp.vdot(x, x) for x in leaves))


def clip_grads(grad_tree, max_norm):
    """Scales the whole gradient tree down to global norm ``max_norm``."""
    norm = l2_norm(grad_tree)
    return jax.tree_util.tree_map(
            lambda g: jnp.where(norm < max_norm, g, g * (max_norm / norm)),
            grad_tree)


# ---------------------------------------------------------------------------
# The optimizer base class.
# ---------------------------------------------------------------------------


def zeros_like(weight):
    """``jnp.zeros_like(weight)`` made on the host and copied where
    ``weight`` lives: eagerly, ``jnp.zeros_like`` compiles one small program
    per weight shape, paid at every start-up. Inside a trace it is
    ``jnp.zeros_like``."""
    if isinstance(weight, jax.Array) and not isinstance(weight,
                                                        jax.core.Tracer):
        zeros = np.zeros(weight.shape, weight.dtype)
        if weight.committed:
            return jax.device_put(zeros, weight.sharding)
        return jax.device_put(zeros)
    return jnp.zeros_like(weight)

class TraxOptimizerState(NamedTuple):
    """Default optax state: update count plus one slot pytree."""
    count: jax.Array
    slots: Any


class Optimizer:
    """Trax's optimizer base class on top of optax.

    Args:
      learning_rate: a float, or a schedule ``f(step) -> lr`` called with
        Trax's step number (1 for the first update, i.e. optax count + 1).
      clip_grad_norm: if set, gradients are scaled down to this global norm.
      **init_opt_params: further hyperparameters (stored as float32 arrays).
    """

    def __init__(self, learning_rate=0.01, clip_grad_norm=None,
                 **init_opt_params):
        self._schedule = learning_rate if callable(learning_rate) else None
        if self._schedule is not None:
            learning_rate = self._schedule(FIRST_STEP)
        init_opt_params['learning_rate'] = learning_rate
        # Trax stores jnp.array(value): float32 with x64 off.
        self._init_opt_params = {
                name: jnp.asarray(value, jnp.float32)
                for name, value in init_opt_params.items()}
        self._clip_grad_norm = clip_grad_norm
        self._slots = None

    # -- per-leaf rule, overridden by subclasses ---------------------------

    def init_slot(self, weight):
        """Slots for one weight array (Trax's ``Optimizer.init``)."""
        raise NotImplementedError

    def update_leaf(self, step, grads, weights, slots, opt_params):
        """New (weights, slots) for one leaf (Trax's ``Optimizer.update``)."""
        raise NotImplementedError

    # -- optax state <-> per-leaf slots, overridable -----------------------

    def _make_state(self, count, slot_leaves, treedef):
        slots = jax.tree_util.tree_unflatten(treedef, list(slot_leaves))
        return TraxOptimizerState(count=count, slots=slots)

    def _slot_leaves(self, state, treedef):
        # flatten_up_to keeps per-leaf slots whole, whatever their shape.
        return treedef.flatten_up_to(state.slots)

    # -- Trax attributes ---------------------------------------------------

    @property
    def opt_params(self):
        return self._init_opt_params

    @opt_params.setter
    def opt_params(self, opt_params):
        self._init_opt_params = opt_params

    @property
    def slots(self):
        return self._slots

    @slots.setter
    def slots(self, slots):
        self._slots = slots

    @property
    def learning_rate_schedule(self):
        return self._schedule

    # -- Trax tree API -----------------------------------------------------

    def tree_init(self, weight_tree):
        """Returns ``(slots, opt_params)``; slots is a tuple over leaves."""
        self._slots = tuple(self.init_slot(w)
                            for w in jax.tree_util.tree_leaves(weight_tree))
        return self._slots, self._init_opt_params

    def tree_update(self, step, grad_tree, weight_tree, slots, opt_params,
                    store_slots=True):
        """Trax's full-tree update: returns ``(weights, slots, metrics)``."""
        grads_flat, _ = jax.tree_util.tree_flatten(grad_tree)
        grads_norm = l2_norm(grads_flat)
        if self._clip_grad_norm is not None:
            grads_flat = self._clip(grads_flat, grads_norm)
        weights_flat, treedef = jax.tree_util.tree_flatten(weight_tree)
        weights_norm = l2_norm(weights_flat)
        pairs = [self.update_leaf(step, g, w, s, opt_params)
                 for g, w, s in zip(grads_flat, weights_flat, slots)]
        new_flat = [p[0] for p in pairs]
        new_slots = tuple(p[1] for p in pairs)
        if store_slots:
            self._slots = new_slots
        metrics = {'gradients_l2': grads_norm, 'weights_l2': weights_norm}
        return (jax.tree_util.tree_unflatten(treedef, new_flat), new_slots,
                metrics)

    def _clip(self, grads_flat, norm):
        max_norm = self._clip_grad_norm
        return [jnp.where(norm < max_norm, g, g * (max_norm / norm))
                for g in grads_flat]

    # -- conversions for checkpoints ---------------------------------------

    def slots_from_state(self, state, params=None):
        """Trax-shaped slots (tuple over weight leaves) from an optax state."""
        if params is None:
            raise ValueError('params are needed to know the leaf structure')
        treedef = jax.tree_util.tree_structure(params)
        return tuple(self._slot_leaves(state, treedef))

    def state_from_slots(self, slots, params, count=0):
        """Optax state from Trax-shaped slots.

        ``count`` is the number of updates already applied (Trax's saved
        ``step``); the next update then uses Trax step ``count + 1``.
        """
        treedef = jax.tree_util.tree_structure(params)
        return self._make_state(jnp.asarray(count, jnp.int32), tuple(slots),
                                treedef)

    # -- optax protocol ----------------------------------------------------

    def init(self, params):
        """optax ``init``: zero slots and count 0."""
        leaves, treedef = jax.tree_util.tree_flatten(params)
        slot_leaves = [self.init_slot(w) for w in leaves]
        return self._make_state(jnp.zeros([], jnp.int32), slot_leaves,
                                treedef)

    def update(self, updates, state, params=None):
        """optax ``update``: returns ``(new_params - params, new_state)``.

        The deltas are nudged so that ``params + updates`` is bitwise equal
        to the new weights Trax computes (see ``exact_delta``).
        """
        new_params, new_state = self.apply(updates, state, params)
        deltas = jax.tree_util.tree_map(exact_delta, new_params, params)
        return deltas, new_state

    def apply(self, grads, state, params, step=None, learning_rate=None):
        """Returns ``(new_params, new_state)``: Trax's weights, no deltas.

        ``step``: Trax's step number for this update; by default the
        state's count + 1. A Loop passes its own step (with several tasks
        Trax gives every optimizer the Loop's step, not its own count).
        ``learning_rate``: the rate to apply, overriding the optimizer's
        own rate or schedule (how ``TrainTask.lr_schedule`` reaches it).
        """
        if params is None:
            raise ValueError(
                    f'{type(self).__name__} needs params (weight decay).')
        count = state.count
        if step is None:
            step = count + FIRST_STEP
        opt_params = dict(self._init_opt_params)
        if learning_rate is not None:
            opt_params['learning_rate'] = jnp.asarray(learning_rate,
                                                      jnp.float32)
        elif self._schedule is not None:
            opt_params['learning_rate'] = jnp.asarray(
                    self._schedule(step), jnp.float32)
        grads_flat = jax.tree_util.tree_leaves(grads)
        if self._clip_grad_norm is not None:
            grads_flat = self._clip(grads_flat, l2_norm(grads_flat))
        weights_flat, treedef = jax.tree_util.tree_flatten(params)
        slot_leaves = self._slot_leaves(state, treedef)
        pairs = [self.update_leaf(step, g, w, s, opt_params)
                 for g, w, s in zip(grads_flat, weights_flat, slot_leaves)]
        new_params = jax.tree_util.tree_unflatten(
                treedef, [p[0] for p in pairs])
        new_state = self._make_state(optax.safe_int32_increment(count),
                                     [p[1] for p in pairs], treedef)
        return new_params, new_state

    @property
    def gradient_transformation(self):
        """This optimizer as a plain ``optax.GradientTransformation``."""
        return optax.GradientTransformation(self.init, self.update)

    def to_optax(self):
        return self.gradient_transformation

    def __repr__(self):
        params = {k: float(np.asarray(v))
                  for k, v in self._init_opt_params.items()}
        return f'{type(self).__name__}({params})'


def apply_gradients(train_state, grads, **kwargs):
    """``TrainState.apply_gradients`` that writes Trax's weights directly.

    With a trax_compat optimizer as ``tx`` it skips the ``params + updates``
    round trip (``tx.update`` already makes that exact wherever possible,
    this path is exact always); any other ``tx`` falls back to
    ``train_state.apply_gradients``.
    """
    tx = train_state.tx
    if not isinstance(tx, Optimizer):
        return train_state.apply_gradients(grads=grads, **kwargs)
    new_params, new_opt_state = tx.apply(grads, train_state.opt_state,
                                         train_state.params)
    return train_state.replace(step=train_state.step + 1, params=new_params,
                               opt_state=new_opt_state, **kwargs)


# Trax defines SGD in this module; ours lives in sgd.py (which imports the
# names above, so importing it last is safe).
from trax_compat.optimizers.sgd import SGD  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import
