"""Combinators: layers built from other layers, threading Trax's stack."""

import copy

import jax
import jax.numpy as jnp
import numpy as np

from trax_compat import shapes
from trax_compat.fastmath import random as trax_random
from trax_compat.layers import base
from trax_compat.layers.functional import Fn
from trax_compat.layers.functional import PureLayer


def _flatten_layers(layers):
    """Flattens nested lists/tuples of layers; drops ``None`` (Trax allows
    both in layer lists)."""
    flat = []
    for layer in layers:
        if layer is None:
            continue
        if isinstance(layer, (list, tuple)):
            flat.extend(_flatten_layers(layer))
        elif isinstance(layer, base.Layer):
            flat.append(layer)
        else:
            raise ValueError(
                f"Found nonlayer object ({layer}) in layers: {layers}")
    return flat


def _deep_flatten(items):
    out = []
    for item in items:
        if isinstance(item, (list, tuple)):
            out.extend(_deep_flatten(item))
        else:
            out.append(item)
    return out


def _stack_arity(layers):
    """(n_in, n_out) of running ``layers`` one after another on a stack."""
    running_max = 0
    running_total = 0
    for layer in layers:
        running_total += layer.n_in
        running_max = max(running_max, running_total)
        running_total -= layer.n_out
    return running_max, running_max - running_total


def _as_tuple(xs):
    return tuple(xs) if isinstance(xs, (list, tuple)) else (xs,)


def _one_or_all(xs):
    return xs[0] if isinstance(xs, (list, tuple)) and len(xs) == 1 else xs


def inputs_from_stack(stack, n):
    """The top ``n`` stack items, one bare."""
    return _one_or_all(_as_tuple(stack)[:n])


def outputs_onto_stack(outputs, stack, n):
    """The stack with its top ``n`` items replaced by ``outputs``."""
    return _one_or_all(_as_tuple(outputs) + _as_tuple(stack)[n:])


def _split_keys(rng, n):
    return (None,) * n if rng is None else trax_random.split(rng, n)


def _check_lengths(layer, weights, state):
    n = len(layer.sublayers)
    for what, tree in (("weight", weights), ("state", state)):
        if len(tree) != n:
            raise ValueError(
                f"Number of {what} elements ({len(tree)}) does not equal "
                f"number of sublayers ({n}).")


class _Wrapper(base.Layer):
    """A combinator around one layer, with that layer's arity."""

    def __init__(self, layer):
        super().__init__(n_in=layer.n_in, n_out=layer.n_out)
        self._sublayers = (layer,)

    @property
    def sublayer(self):
        return self._sublayers[0]


class _WrapperWithState(_Wrapper):
    """A wrapper keeping state of its own (Scan's carry, Cache's outputs)
    beside its layer's: its state is the pair, the own part at
    ``_OWN_INDEX``. In Flax the two parts are named ``_FLAX_NAMES`` (the
    layer's, the own), each left out while empty."""

    _OWN_INDEX = 1
    _FLAX_NAMES = ("layers_0", "own")

    def __init__(self, layer):
        super().__init__(layer)
        self._own_state = ()

    def _pair(self, sub, own):
        return (sub, own) if self._OWN_INDEX == 1 else (own, sub)

    @property
    def state(self):
        return self._pair(self.sublayer.state, self._own_state)

    @state.setter
    def state(self, state):
        if base.is_state_marker(state):
            return
        self._own_state = state[self._OWN_INDEX]
        self.sublayer.state = state[1 - self._OWN_INDEX]

    def flax_state_from_state(self, state):
        sub_name, own_name = self._FLAX_NAMES
        named = {}
        sub = self.sublayer.flax_state_from_state(state[1 - self._OWN_INDEX])
        if sub:
            named[sub_name] = sub
        if not base.is_empty(state[self._OWN_INDEX]):
            named[own_name] = state[self._OWN_INDEX]
        return named

    def state_from_flax_state(self, flax_state):
        sub_name, own_name = self._FLAX_NAMES
        flax_state = flax_state or {}
        return self._pair(
            self.sublayer.state_from_flax_state(flax_state.get(sub_name, {})),
            flax_state.get(own_name, ()))


# -- Serial --------------------------------------------------------------------

class Serial(base.Layer):
    """Layers applied one after another, each taking its inputs from the top
    of the stack and pushing its outputs back. Without sublayers it is a
    one-input no-op."""

    def __init__(self, *sublayers, name=None, sublayers_to_print=None):
        super().__init__(name=name, sublayers_to_print=sublayers_to_print)
        layers = _flatten_layers(sublayers)
        self._sublayers = tuple(layers)
        if layers:
            self._n_in, self._n_out = _stack_arity(layers)

    def _pack_inputs(self, x):
        # A tuple/list is the whole input stack (items beyond n_in pass
        # through); anything else is one input.
        if not isinstance(x, (tuple, list)):
            if self._n_in != 1:
                raise TypeError(
                    f"Serial.forward input must be a tuple or list; instead "
                    f"got {type(x)}.")
            return (x,)
        if len(x) < self._n_in:
            raise ValueError(
                f"Number of inputs ({len(x)}) to Serial.forward less than "
                f"n_in ({self._n_in}).")
        if self._n_in == 1 and not self._sublayers:
            return (x,)
        return tuple(x)

    def forward(self, xs):
        self._pack_inputs(xs)  # Trax's input checks
        if not self._sublayers:
            return xs
        weights, state = self.weights, self.state
        _check_lengths(self, weights, state)
        rngs = _split_keys(self.rng, len(self._sublayers))
        stack, new_state = xs, []
        for layer, w, s, r in zip(self._sublayers, weights, state, rngs):
            inputs = inputs_from_stack(stack, layer.n_in)
            outputs, s = layer.pure_fn(inputs, w, s, r, use_cache=True)
            stack = outputs_onto_stack(outputs, stack, layer.n_in)
            new_state.append(s)
        self.state = tuple(new_state)
        return stack

    def init_weights_and_state(self, input_signature):
        weights, states = [], []
        stack = input_signature
        for layer in self._sublayers:
            if len(_as_tuple(stack)) < layer.n_in:
                raise ValueError(
                    f"Number of inputs ({len(_as_tuple(stack))}) to "
                    f"{layer.name} less than n_in ({layer.n_in}).")
            inputs = inputs_from_stack(stack, layer.n_in)
            w, s = layer.init(inputs, use_cache=True)
            outputs = layer.output_signature(inputs)
            stack = outputs_onto_stack(outputs, stack, layer.n_in)
            weights.append(w)
            states.append(s)
        self.state = tuple(states)
        self.weights = tuple(weights)


# -- Parallel ------------------------------------------------------------------

class Parallel(base.Layer):
    """Sublayers applied side by side to successive spans of the stack;
    ``None`` or ``[]`` is a one-input no-op."""

    def __init__(self, *sublayers, name=None):
        super().__init__(name=name)
        if not sublayers or len(sublayers) < 2:
            raise ValueError(
                f"layers ({sublayers}) must be a list with at least two "
                f"elements")
        layers = []
        for obj in sublayers:
            if obj is None or (isinstance(obj, list) and not obj):
                obj = Serial(None)
            elif isinstance(obj, (list, tuple)):
                obj = Serial(obj)
            elif not isinstance(obj, base.Layer):
                raise ValueError(
                    f"Found nonlayer object ({obj}) in layers list: "
                    f"[{sublayers}]")
            if obj.n_in == 0:
                raise ValueError(
                    f"Sublayer with n_in = 0 not allowed in Parallel: {obj}")
            layers.append(obj)
        self._sublayers = tuple(layers)
        self._n_in = sum(l.n_in for l in layers)
        self._n_out = sum(l.n_out for l in layers)

    def _pack_inputs(self, x):
        if self._n_in == 1:
            return (x,)
        if not isinstance(x, (tuple, list)) or len(x) < self._n_in:
            raise ValueError(
                f"Parallel takes {self._n_in} inputs as a tuple or list; "
                f"got {shapes.signature(x) if x is not None else x}.")
        return tuple(x[:self._n_in])

    def _allot_to_sublayers(self, inputs):
        items = _as_tuple(inputs) if self._n_in != 1 else (inputs,)
        allotted, start = [], 0
        for layer in self._sublayers:
            allotted.append(inputs_from_stack(items[start:], layer.n_in))
            start += layer.n_in
        return allotted

    def forward(self, inputs):
        weights, state = self.weights, self.state
        _check_lengths(self, weights, state)
        rngs = _split_keys(self.rng, len(self._sublayers))
        outputs, new_state = [], []
        for layer, x, w, s, r in zip(self._sublayers,
                                     self._allot_to_sublayers(inputs),
                                     weights, state, rngs):
            out, s = layer.pure_fn(x, w, s, r, use_cache=True)
            outputs.extend(_as_tuple(out) if layer.n_out != 1 else (out,))
            new_state.append(s)
        self.state = tuple(new_state)
        return outputs[0] if self._n_out == 1 else tuple(outputs)

    def init_weights_and_state(self, input_signature):
        inits = [layer.init(sig, use_cache=True) for layer, sig in
                 zip(self._sublayers,
                     self._allot_to_sublayers(input_signature))]
        if inits:
            weights, state = zip(*inits)
            self.state = tuple(state)
            self.weights = tuple(weights)


# -- Scan ----------------------------------------------------------------------

def _shape_without_axis(sig, axis):
    return shapes.ShapeDtype(sig.shape[:axis] + sig.shape[axis + 1:],
                             sig.dtype)


class Scan(_WrapperWithState):
    """Applies ``layer`` cumulatively along ``axis``; the layer takes
    ``(inputs..., carries...)`` and returns ``(outputs..., new carries...)``."""

    def __init__(self, layer, axis=0, n_carry=1, remat=False, mode="train"):
        super().__init__(layer)
        self._remat = remat
        self._n_carry = n_carry
        self._axis = axis
        self._mode = mode

    # State: (the sublayer's state, the carry kept in predict mode).
    _FLAX_NAMES = ("cell", "carry")

    def flax_child_names(self):
        return ("cell",)

    def forward(self, inputs):
        weights = self.weights[0]
        inputs = _as_tuple(inputs)
        n_carry, cell, rng = self._n_carry, self.sublayer, self.rng

        def body(carry_state_i, x):
            carry, state, i = carry_state_i
            key = trax_random.fold_in(rng, i)
            res, state = cell.pure_fn(_one_or_all(tuple(x) + tuple(carry)),
                                      weights, state, key, use_cache=True)
            res = _as_tuple(res)
            if n_carry:
                return (res[-n_carry:], state, i + 1), res[:-n_carry]
            return ((), state, i + 1), res

        if self._remat:
            # Recomputes each step's activations in the backward pass
            # (Chunk's memory saving); the values are the same.
            body = jax.checkpoint(body)
        xs = inputs[:len(inputs) - n_carry]
        carry = inputs[len(inputs) - n_carry:] if n_carry else ()
        if (n_carry and self._mode == "predict"
                and not base.is_empty(self._own_state)):
            carry = tuple(self._own_state)
        xs = tuple(jnp.moveaxis(x, self._axis, 0) for x in xs)
        init = (tuple(carry), self.sublayer.state, jnp.array(0, jnp.int32))
        (carry, new_state, _), ys = jax.lax.scan(body, init, xs)
        ys = tuple(jnp.moveaxis(y, 0, self._axis) for y in ys)
        keep = tuple(carry) if self._mode == "predict" and n_carry else ()
        self.state = (new_state, keep)
        return _one_or_all(ys + tuple(carry))

    def init_weights_and_state(self, input_signature):
        sigs = _as_tuple(input_signature)
        n_carry = self._n_carry
        xs = sigs[:len(sigs) - n_carry]
        carry = sigs[len(sigs) - n_carry:] if n_carry else ()
        cell_sigs = tuple(_shape_without_axis(s, self._axis) for s in xs)
        # As Trax: without a carry the cell is initialized as a network of
        # its own (no cache markers even where it is shared).
        weights, state = self.sublayer.init(
            _one_or_all(cell_sigs + tuple(carry)), use_cache=bool(n_carry))
        self.state = (state, ())
        self.weights = (weights,)


# -- functions building combinators -------------------------------------------

def Branch(*layers, name="Branch"):  # pylint: disable=invalid-name
    """Applies each layer to copies of the inputs it needs; outputs are
    pushed in order. ``None`` is a one-input no-op."""
    if len(layers) == 1:
        return layers[0]
    parallel = Parallel(*layers)
    indices = [list(range(layer.n_in)) for layer in parallel.sublayers]
    return Serial(Select(_deep_flatten(indices)), parallel, name=name,
                  sublayers_to_print=layers)


def Residual(*layers, shortcut=None):  # pylint: disable=invalid-name
    """``layers(x) + shortcut(x)`` (shortcut None: identity)."""
    layers = _flatten_layers(layers)
    layer = layers[0] if len(layers) == 1 else Serial(layers)
    return Serial(Branch(shortcut, layer), Add())


def Select(indices, n_in=None, name=None):  # pylint: disable=invalid-name
    """Copies, reorders or drops stack items: outputs ``xs[i]`` for each i
    in ``indices`` in place of the top ``n_in`` items."""
    if name is None:
        # As Trax: a tuple prints as "Select(0,1,0)", a list as "Select[...]".
        name = f"Select{indices}".replace(" ", "")
    indices = list(indices)
    if n_in is None:
        n_in = max(indices) + 1

    def select(xs):
        if not isinstance(xs, (tuple, list)):
            xs = (xs,)
        chosen = tuple(xs[i] for i in indices)
        return chosen[0] if len(chosen) == 1 else chosen

    return PureLayer(select, n_in=n_in, n_out=len(indices), name=name)


def Drop():  # pylint: disable=invalid-name
    """Removes the top stack item."""
    return Fn("Drop", lambda x: (), n_out=0)


def Dup():  # pylint: disable=invalid-name
    """Copies the top stack item."""
    return Fn("Dup", lambda x: (x, x), n_out=2)


def Swap():  # pylint: disable=invalid-name
    """Swaps the top two stack items."""
    return Fn("Swap", lambda x0, x1: (x1, x0), n_out=2)


def Add():  # pylint: disable=invalid-name
    return Fn("Add", lambda x0, x1: x0 + x1)


def SubtractTop():  # pylint: disable=invalid-name
    return Fn("SubtractTop", lambda x0, x1: x1 - x0)


def Multiply():  # pylint: disable=invalid-name
    return Fn("Multiply", lambda x0, x1: x0 * x1)


class Concatenate(base.Layer):
    """Joins ``n_items`` arrays along ``axis``."""

    def __init__(self, n_items=2, axis=-1):
        name = "Concatenate" if axis == -1 else f"Concatenate_axis{axis}"
        super().__init__(n_in=n_items, name=name)
        self._axis = axis

    def forward(self, inputs):
        return jnp.concatenate(self._pack_inputs(inputs), self._axis)


class Split(base.Layer):
    """Splits one array into ``n_items`` equal parts along ``axis``."""

    def __init__(self, n_items=2, axis=-1):
        super().__init__(n_out=n_items)
        self._n_items = n_items
        self._axis = axis

    def forward(self, inputs):
        return tuple(jnp.split(inputs, self._n_items, self._axis))


# -- Cond ----------------------------------------------------------------------

class Cond(base.Layer):
    """``true(rest)`` if ``cond(front)`` else ``false(rest)``: ``cond`` reads
    the top ``cond.n_in`` stack items and gives one boolean; only the chosen
    branch runs (``jax.lax.cond``), and only its state changes. Without
    ``false`` the rest of the stack passes through unchanged."""

    def __init__(self, cond, true, false=None, name=None):
        super().__init__(name=name)
        self._identity_false = false is None
        if false is None:
            # Unused in forward; it gives the identity branch an arity.
            false = Serial()
        # Trax's messages, then the fix.
        if cond.n_out != 1:
            raise ValueError(
                f"cond.n_out must be 1: cond:{cond.n_in}->{cond.n_out}. "
                f"Cond's first layer gives the one boolean that picks the "
                f"branch; reduce its outputs to one.")
        for what in ("n_in", "n_out"):
            if getattr(true, what) != getattr(false, what):
                raise ValueError(
                    f"true.{what} and false.{what} must be equal: "
                    f"true:{true.n_in}->{true.n_out} ; "
                    f"false:{false.n_in}->{false.n_out}. Both branches "
                    f"replace the same stack items; wrap one in a Serial "
                    f"with Select/Drop to match the other.")
        self._sublayers = (cond, true, false)
        self._n_in = cond.n_in + true.n_in
        self._n_out = true.n_out

    def init_weights_and_state(self, input_signature):
        cond, true, false = self._sublayers
        stack = _as_tuple(input_signature)
        cond_inputs = inputs_from_stack(stack, cond.n_in)
        inits = [cond.init(cond_inputs, use_cache=True)]
        # Runs cond abstractly, as Trax does: its errors surface in init.
        cond.output_signature(cond_inputs)
        rest = _as_tuple(outputs_onto_stack((), stack, cond.n_in))
        for branch in (true, false):
            inits.append(branch.init(inputs_from_stack(rest, branch.n_in),
                                     use_cache=True))
        weights, state = zip(*inits)
        self.state = tuple(state)
        self.weights = tuple(weights)

    def forward(self, xs):
        stack = _as_tuple(xs)
        if len(stack) < self._n_in:
            raise ValueError(
                f"Number of inputs ({len(stack)}) to Cond.forward less than "
                f"n_in ({self._n_in}).")
        weights, state = self.weights, self.state
        _check_lengths(self, weights, state)
        cond, true, false = self._sublayers
        rngs = _split_keys(self.rng, 3)
        predicate, cond_state = cond.pure_fn(
            inputs_from_stack(xs, cond.n_in), weights[0], state[0], rngs[0],
            use_cache=True)
        rest = outputs_onto_stack((), stack, cond.n_in)

        def run_true(operand):
            (w, _), (s, other), (r, _) = operand
            outputs, s = true.pure_fn(rest, w, s, r)
            return outputs, (s, other)

        def run_false(operand):
            (_, w), (other, s), (_, r) = operand
            if self._identity_false:
                return rest, (other, s)
            outputs, s = false.pure_fn(rest, w, s, r)
            return outputs, (other, s)

        outputs, (true_state, false_state) = jax.lax.cond(
            predicate, run_true, run_false,
            ((weights[1], weights[2]), (state[1], state[2]),
             (rngs[1], rngs[2])))
        self.state = (cond_state, true_state, false_state)
        # Both branches take and give the same numbers of items.
        return outputs_onto_stack(outputs, rest, true.n_in)


# -- Cache ---------------------------------------------------------------------

class Cache(_WrapperWithState):
    """Runs its layer on the first call and keeps the outputs in its state;
    later calls return them without computing (until the state is reset)."""

    # State: (the outputs kept, () before the first call; the layer's state).
    _OWN_INDEX = 0
    _FLAX_NAMES = ("layers_0", "cached")

    def init_weights_and_state(self, input_signature):
        weights, state = self.sublayer.init(input_signature, use_cache=True)
        self.state = ((), state)
        self.weights = (weights,)

    def forward(self, inputs):
        cached, layer_state = self.state
        if not base.is_empty(cached):
            return cached
        outputs, layer_state = self.sublayer.pure_fn(
            inputs, self.weights[0], layer_state, self.rng)
        self.state = (outputs, layer_state)
        return outputs


# -- BatchLeadingAxes ----------------------------------------------------------

class BatchLeadingAxes(_Wrapper):
    """Runs ``layer`` with every axis but the last ``n_last_axes_to_keep``
    of each input folded into one batch axis, then unfolds the output: a
    layer written for ``[batch, ...]`` accepts any number of leading axes."""

    def __init__(self, layer, n_last_axes_to_keep=1):
        if layer.n_out != 1:
            raise ValueError(
                f"BatchLeadingAxes currently only works for layers with "
                f"n_out = 1, got {layer.n_out}. Wrap the layer in a Serial "
                f"ending in one that gives a single output.")
        super().__init__(layer)
        self._n_last_axes_to_keep = n_last_axes_to_keep

    def _fold(self, shape):
        kept = tuple(shape[-self._n_last_axes_to_keep:])
        return tuple(shape[:-self._n_last_axes_to_keep]), kept

    def forward(self, inputs):
        xs = (inputs,) if self._n_in == 1 else tuple(inputs)
        folded = []
        for x in xs:
            # The output takes the last input's leading axes, as in Trax.
            leading, kept = self._fold(x.shape)
            folded.append(jnp.reshape(x, (-1,) + kept))
        outputs, state = self.sublayer.pure_fn(
            _one_or_all(folded) if self._n_in == 1 else tuple(folded),
            self.weights[0], self.state[0], self.rng)
        self.state = (state,)
        return jnp.reshape(outputs, leading + outputs.shape[1:])

    def init_weights_and_state(self, input_signature):
        sigs = (_as_tuple(input_signature) if self._n_in != 1
                else (input_signature,))
        folded = []
        for sig in sigs:
            leading, kept = self._fold(sig.shape)
            folded.append(shapes.ShapeDtype((int(np.prod(leading)),) + kept,
                                            sig.dtype))
        weights, state = self.sublayer.init(
            folded[0] if self._n_in == 1 else tuple(folded), use_cache=True)
        self.state = (state,)
        self.weights = (weights,)


# -- combinators built from others ---------------------------------------------

def Chunk(layer, chunk_size, pass_unchunkable=True):  # pylint: disable=invalid-name
    """Runs ``layer`` on ``chunk_size`` batch items at a time (a Scan over
    chunks, rematerialized) to save memory. A batch that ``chunk_size`` does
    not divide runs whole, or raises if ``pass_unchunkable`` is False;
    ``chunk_size < 1`` gives ``layer`` itself."""
    if chunk_size < 1:
        return layer

    def to_chunks(x):
        batch = x.shape[0]
        size = chunk_size
        if batch % size:
            if not pass_unchunkable:
                raise ValueError(
                    f"Chunk size {size} must divide batch size {batch} "
                    f"(or pass pass_unchunkable=True to run such a batch "
                    f"whole).")
            size = batch
        return jnp.reshape(x, (batch // size, size) + tuple(x.shape[1:]))

    def from_chunks(x):
        return jnp.reshape(x, (x.shape[0] * x.shape[1],) + tuple(x.shape[2:]))

    return Serial(
        PureLayer(lambda xs: jax.tree_util.tree_map(to_chunks, xs),
                  n_in=layer.n_in, n_out=layer.n_in, name="ReshapeToChunks"),
        Scan(layer, axis=0, n_carry=0, remat=True),
        PureLayer(lambda xs: jax.tree_util.tree_map(from_chunks, xs),
                  n_in=layer.n_out, n_out=layer.n_out,
                  name="ReshapeFromChunks"))


def SerialWithSideOutputs(layers, n_side_outputs=1):  # pylint: disable=invalid-name
    """Layers run one after another, the last ``n_side_outputs`` outputs of
    each (an int, or one per layer) set aside at the bottom of the stack:
    the result is the final stack followed by the side outputs in order."""
    if isinstance(n_side_outputs, int):
        n_side_outputs = [n_side_outputs] * len(layers)
    # n_in: the deepest the stack reaches, side outputs not counted.
    depth = deepest = 0
    for layer, n_side in zip(layers, n_side_outputs):
        depth += layer.n_in
        deepest = max(deepest, depth)
        depth -= layer.n_out - n_side
    stack_size = deepest
    serial = []
    for layer, n_side in zip(layers, n_side_outputs):
        stack_size += layer.n_out - layer.n_in
        n_kept = layer.n_out - n_side
        # Kept outputs stay on top, the side outputs go below the rest.
        order = (list(range(n_kept))
                 + list(range(layer.n_out, stack_size))
                 + list(range(n_kept, layer.n_out)))
        serial += [layer, Select(order)]
    return Serial(serial)


def FlattenList():  # pylint: disable=invalid-name
    """Flattens nested lists and tuples of arrays into one tuple."""
    return Fn("FlattenList", lambda x: tuple(_deep_flatten(x)))


def Gate():  # pylint: disable=invalid-name
    """Highway gating of ``(memory, gate, candidate)``:
    ``gate * memory + (1 - gate) * candidate``."""
    return Fn("Gate", lambda m, g, c: g * m + (1.0 - g) * c)


def Bidirectional(forward_layer, axis=1, merge_layer=Concatenate()):  # pylint: disable=invalid-name,dangerous-default-value
    """Runs ``forward_layer`` and a copy of it (weights of its own) on the
    inputs reversed along ``axis``, re-reversing the copy's outputs, and
    merges the two (default: concatenated on the last axis).

    As in Trax, the default ``merge_layer`` is one instance for every call
    and the reversing layer is one instance used twice, so both show up as
    Trax's cache markers in the weights."""
    backward_layer = copy.deepcopy(forward_layer)
    flip = Fn("_FlipAlongTimeAxis", lambda x: jnp.flip(x, axis=axis))
    return Serial(Branch(forward_layer, Serial(flip, backward_layer, flip)),
                  merge_layer)
