"""Combinators: layers built from other layers, threading Trax's stack."""

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from trax_compat import shapes
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


def _inputs_from_stack(stack, n_in):
    return stack[0] if n_in == 1 else tuple(stack[:n_in])


# -- Serial --------------------------------------------------------------------

class SerialModule(base.TraxModule):
    """Runs ``layers`` in sequence on a stack of arrays (Trax's Serial)."""
    layers: Sequence[Any]
    n_ins: Sequence[int]
    n_outs: Sequence[int]

    def __call__(self, *xs, rng=None):
        stack = list(xs)
        rngs = base.split_rngs(rng, len(self.layers))
        for layer, n_in, n_out, r in zip(self.layers, self.n_ins, self.n_outs,
                                         rngs):
            if len(stack) < n_in:
                raise ValueError(
                    f"Number of inputs ({len(stack)}) to {type(layer).__name__}"
                    f" less than n_in ({n_in}).")
            outputs = base.call_module(layer, stack[:n_in], r)
            stack = list(base.as_stack(outputs, n_out)) + stack[n_in:]
        return base.pack(stack)


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

    def make_module(self):
        return SerialModule(
            layers=tuple(layer.module for layer in self._sublayers),
            n_ins=tuple(layer.n_in for layer in self._sublayers),
            n_outs=tuple(layer.n_out for layer in self._sublayers))

    def init_weights_and_state(self, input_signature):
        stack = (list(input_signature) if isinstance(input_signature,
                                                      (list, tuple))
                 else [input_signature])
        for layer in self._sublayers:
            if len(stack) < layer.n_in:
                raise ValueError(
                    f"Number of inputs ({len(stack)}) to {layer.name} less "
                    f"than n_in ({layer.n_in}).")
            sig = _inputs_from_stack(stack, layer.n_in)
            layer.init(sig)
            out = layer.output_signature(sig)
            stack = list(base.as_stack(out, layer.n_out)) + stack[layer.n_in:]


# -- Parallel ------------------------------------------------------------------

class ParallelModule(base.TraxModule):
    """Applies ``layers`` to successive spans of the inputs."""
    layers: Sequence[Any]
    n_ins: Sequence[int]
    n_outs: Sequence[int]

    def __call__(self, *xs, rng=None):
        rngs = base.split_rngs(rng, len(self.layers))
        outputs = []
        start = 0
        for layer, n_in, n_out, r in zip(self.layers, self.n_ins, self.n_outs,
                                         rngs):
            out = base.call_module(layer, xs[start:start + n_in], r)
            outputs.extend(base.as_stack(out, n_out))
            start += n_in
        return base.pack(outputs)


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

    def make_module(self):
        return ParallelModule(
            layers=tuple(layer.module for layer in self._sublayers),
            n_ins=tuple(layer.n_in for layer in self._sublayers),
            n_outs=tuple(layer.n_out for layer in self._sublayers))

    def init_weights_and_state(self, input_signature):
        sigs = ((input_signature,) if self._n_in == 1
                else tuple(input_signature))
        start = 0
        for layer in self._sublayers:
            layer.init(_inputs_from_stack(sigs[start:], layer.n_in))
            start += layer.n_in


# -- Scan ----------------------------------------------------------------------

class ScanModule(base.TraxModule):
    """Runs ``cell`` along ``axis``, threading ``n_carry`` carries (Trax's
    Scan; the cell's key at step i is ``fold_in(rng, i)``)."""
    cell: Any
    cell_n_out: int
    n_carry: int = 1
    axis: int = 0

    def __call__(self, *xs, rng=None):
        n_carry = self.n_carry
        inputs = xs[:len(xs) - n_carry] if n_carry else xs
        carry = tuple(xs[len(xs) - n_carry:]) if n_carry else ()
        inputs = tuple(jnp.moveaxis(x, self.axis, 0) for x in inputs)
        length = inputs[0].shape[0]
        steps = jnp.arange(length, dtype=jnp.int32)
        keys = (None if rng is None
                else jax.vmap(lambda i: jax.random.fold_in(rng, i))(steps))
        cell_n_out = self.cell_n_out

        def body(cell, carry, step):
            x_t, key = step
            out = base.call_module(cell, tuple(x_t) + tuple(carry), key)
            out = base.as_stack(out, cell_n_out)
            if n_carry:
                return tuple(out[-n_carry:]), tuple(out[:-n_carry])
            return (), tuple(out)

        scan = nn.scan(body, variable_broadcast="params",
                       split_rngs={"params": False, "dropout": True})
        carry, ys = scan(self.cell, carry, (inputs, keys))
        ys = tuple(jnp.moveaxis(y, 0, self.axis) for y in ys)
        return base.pack(ys + tuple(carry))


def _shape_without_axis(sig, axis):
    return shapes.ShapeDtype(sig.shape[:axis] + sig.shape[axis + 1:],
                             sig.dtype)


class Scan(base.Layer):
    """Applies ``layer`` cumulatively along ``axis``; the layer takes
    ``(inputs..., carries...)`` and returns ``(outputs..., new carries...)``."""

    def __init__(self, layer, axis=0, n_carry=1, remat=False, mode="train"):
        super().__init__(n_in=layer.n_in, n_out=layer.n_out)
        del remat
        self._sublayers = (layer,)
        self._n_carry = n_carry
        self._axis = axis
        self._mode = mode

    @property
    def sublayer(self):
        return self._sublayers[0]

    @property
    def weights(self):
        return (self.sublayer.weights,)

    @weights.setter
    def weights(self, weights):
        if len(weights) != 1:
            raise ValueError(
                f"Number of weight elements ({len(weights)}) does not equal "
                f"the number of sublayers (1) in: {self}.")
        self.sublayer.weights = weights[0]

    @property
    def state(self):
        # Trax keeps (sublayer state, carry kept for predict mode).
        return (self.sublayer.state, ())

    @state.setter
    def state(self, state):
        self.sublayer.state = state[0]

    def params_from_weights(self, weights):
        sub = self.sublayer.params_from_weights(weights[0])
        return {"cell": sub} if sub else {}

    def weights_from_params(self, params):
        return (self.sublayer.weights_from_params(params.get("cell", {})),)

    def make_module(self):
        return ScanModule(cell=self.sublayer.module,
                          cell_n_out=self.sublayer.n_out,
                          n_carry=self._n_carry, axis=self._axis)

    def init_weights_and_state(self, input_signature):
        sigs = ((input_signature,) if self._n_in == 1
                else tuple(input_signature))
        n_carry = self._n_carry
        xs = sigs[:len(sigs) - n_carry] if n_carry else sigs
        carry = sigs[len(sigs) - n_carry:] if n_carry else ()
        cell_sigs = tuple(_shape_without_axis(s, self._axis) for s in xs)
        cell_sigs += tuple(carry)
        self.sublayer.init(_inputs_from_stack(cell_sigs,
                                              self.sublayer.n_in))


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
    indices = list(indices)
    if n_in is None:
        n_in = max(indices) + 1
    if name is None:
        name = f"Select{indices}".replace(" ", "")

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


class ConcatenateModule(base.TraxModule):
    axis: int = -1

    def __call__(self, *xs, rng=None):
        del rng
        return jnp.concatenate(xs, self.axis)


class Concatenate(base.Layer):
    """Joins ``n_items`` arrays along ``axis``."""

    def __init__(self, n_items=2, axis=-1):
        name = "Concatenate" if axis == -1 else f"Concatenate_axis{axis}"
        super().__init__(n_in=n_items, name=name)
        self._axis = axis

    def make_module(self):
        return ConcatenateModule(axis=self._axis)


def Split(n_items=2, axis=-1):  # pylint: disable=invalid-name
    """Splits one array into ``n_items`` along ``axis``."""
    layer = Fn("Split", lambda x: tuple(jnp.split(x, n_items, axis)),
               n_out=n_items)
    return layer
