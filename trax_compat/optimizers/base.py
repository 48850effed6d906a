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

Numerics: real Trax runs its update inside ``jax.jit`` on jax 0.4.34, whose
XLA CPU backend contracted ``a * b - c`` into a fused multiply-add. Inside
``jax.jit`` current XLA on CPU contracts the same expression itself, so the
plain formula (``fused_multiply_add = False``, the default, and the fast
path) reproduces the oracle's first Loop step bitwise. Outside jit, or on a
backend that does not contract, set ``fused_multiply_add = True`` to use an
exactly rounded FMA emulated in float32 (slower: several extra passes over
every weight). Two more XLA behaviours are worked around with
``lax.optimization_barrier``: current XLA rewrites ``x / broadcast(s)`` as
``x * (1 / s)`` (Trax's XLA divided), and it contracts products into adds,
which would break the exact FMA emulation.

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
# Exactly rounded arithmetic helpers (error-free transformations).
# ---------------------------------------------------------------------------

def _two_sum(a, b):
    """Returns (s, e) with s = fl(a + b) and s + e == a + b exactly."""
    s = a + b
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    return s, e


# Bit-level splits: a multiply-based (Veltkamp) split breaks when XLA
# contracts ``c - (c - x)`` into an FMA, masking the significand cannot.
# Formats with an even significand width only, so both halves multiply
# exactly: float32 (24 = 12 + 12 bits) and bfloat16 (8 = 4 + 4 bits).
_SPLIT_MASKS = {
        jnp.dtype(jnp.float32): (jnp.uint32, 0xFFFFF000),
        jnp.dtype(jnp.bfloat16): (jnp.uint16, 0xFFF0),
}


def _split(x):
    """x == hi + lo exactly, each half with at most half the bits."""
    uint, mask = _SPLIT_MASKS[x.dtype]
    bits = lax.bitcast_convert_type(x, uint)
    hi = lax.bitcast_convert_type(bits & uint(mask), x.dtype)
    return hi, x - hi


def _two_prod(a, b):
    """Returns (p, e) with p = fl(a * b) and p + e == a * b exactly."""
    # The barrier keeps XLA from contracting this product into a later add
    # (it does so on CPU and GPU), which would break the exact error terms.
    p = lax.optimization_barrier(a * b)
    ah, al = _split(a)
    bh, bl = _split(b)
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, e


_UINT_OF_WIDTH = {2: jnp.uint16, 4: jnp.uint32, 8: jnp.uint64}


def _add_round_to_odd(a, b):
    # Round-to-odd sum: keeps the sticky information the final rounding needs.
    s, e = _two_sum(a, b)
    bits = lax.bitcast_convert_type(s, _UINT_OF_WIDTH[s.dtype.itemsize])
    even = (bits & 1) == 0
    toward = jnp.where(e > 0, jnp.inf, -jnp.inf).astype(s.dtype)
    return jnp.where((e != 0) & even, jnp.nextafter(s, toward), s)


def fma(a, b, c):
    """Correctly rounded ``a * b + c`` (one rounding), computed without FMA.

    Boldo & Melquiond's emulation: exact product, exact sum, round-to-odd of
    the low parts, then one round-to-nearest. Falls back to the plain
    expression where it is not finite (the emulation would give NaN there).
    """
    a, b, c = jnp.broadcast_arrays(*_promote(a, b, c))
    if a.dtype not in _SPLIT_MASKS:
        return a * b + c
    # c may itself be a product; materialise it so it is not fused either.
    a, b, c = lax.optimization_barrier((a, b, c))
    ph, pl = _two_prod(a, b)
    th, tl = _two_sum(c, ph)
    fused = th + _add_round_to_odd(tl, pl)
    plain = a * b + c
    return jnp.where(jnp.isfinite(plain), fused, plain)


def _promote(*xs):
    dtype = jnp.result_type(*xs)
    return [jnp.asarray(x, dtype) for x in xs]


def _dw_mul(ah, al, bh, bl):
    # Double-word product, renormalised so that hi == fl(hi + lo).
    p, e = _two_prod(ah, bh)
    e = e + (ah * bl + al * bh)
    hi = p + e
    return hi, e - (hi - p)


def int_pow(base, n):
    """``base ** n`` for an integer ``n >= 0`` (may be traced), rounded once.

    XLA's ``pow`` is not correctly rounded on every backend; Trax's jitted
    step went through libm ``powf``, which is. Double-word binary
    exponentiation gives the correctly rounded float32 result.
    """
    base = jnp.asarray(base)
    n = jnp.asarray(n, jnp.int32)
    one = jnp.ones_like(base)
    zero = jnp.zeros_like(base)

    def body(i, carry):
        rh, rl, xh, xl = carry
        take = ((n >> i) & 1) == 1
        ph, pl = _dw_mul(rh, rl, xh, xl)
        rh, rl = jnp.where(take, ph, rh), jnp.where(take, pl, rl)
        xh, xl = _dw_mul(xh, xl, xh, xl)
        return rh, rl, xh, xl

    rh, rl, _, _ = lax.fori_loop(0, 31, body, (one, zero, base, zero))
    return rh + rl


def div_by_scalar(x, s):
    """IEEE ``x / s`` for a scalar ``s``.

    Current XLA rewrites ``x / broadcast(s)`` into ``x * (1 / s)``, which is
    not correctly rounded (Trax's XLA divided); an opaque full-size divisor
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

    # See the module docstring: True emulates the FMA contraction of Trax's
    # jit exactly; False relies on XLA's own contraction under jit (fast).
    fused_multiply_add = False

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

    def update_leaf(self, step, grads, weights, slots, opt_params,
                    fused=False):
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
                    store_slots=True, fused=None):
        """Trax's full-tree update: returns ``(weights, slots, metrics)``.

        ``fused`` defaults to False here: Trax's standalone (eager) calls did
        not fuse; pass True to get the numerics of Trax's jitted Loop.
        """
        fused = False if fused is None else fused
        grads_flat, _ = jax.tree_util.tree_flatten(grad_tree)
        grads_norm = l2_norm(grads_flat)
        if self._clip_grad_norm is not None:
            grads_flat = self._clip(grads_flat, grads_norm)
        weights_flat, treedef = jax.tree_util.tree_flatten(weight_tree)
        weights_norm = l2_norm(weights_flat)
        pairs = [self.update_leaf(step, g, w, s, opt_params, fused=fused)
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

    def apply(self, grads, state, params):
        """Returns ``(new_params, new_state)``: Trax's weights, no deltas."""
        if params is None:
            raise ValueError(
                    f'{type(self).__name__} needs params (weight decay).')
        count = state.count
        step = count + FIRST_STEP
        opt_params = dict(self._init_opt_params)
        if self._schedule is not None:
            opt_params['learning_rate'] = jnp.asarray(
                    self._schedule(step), jnp.float32)
        grads_flat = jax.tree_util.tree_leaves(grads)
        if self._clip_grad_norm is not None:
            grads_flat = self._clip(grads_flat, l2_norm(grads_flat))
        weights_flat, treedef = jax.tree_util.tree_flatten(params)
        slot_leaves = self._slot_leaves(state, treedef)
        pairs = [self.update_leaf(step, g, w, s, opt_params,
                                  fused=self.fused_multiply_add)
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
