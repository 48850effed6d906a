"""Combinators: layers built from other layers, threading Trax's stack."""

from typing import Any, Sequence

import flax.linen as nn

from trax_compat.layers import base


def _flatten_layers(layers):
    """Flattens nested lists/tuples of layers; drops ``None`` (Trax allows
    both in layer lists)."""
    flat = []
    for layer in layers:
        if layer is None:
            continue
        if isinstance(layer, (list, tuple)):
            flat.extend(_flatten_layers(layer))
        else:
            flat.append(layer)
    return flat


def _stack_arity(layers):
    """(n_in, n_out) of running ``layers`` one after another on a stack."""
    running_max = 0
    running_total = 0
    for layer in layers:
        running_total += layer.n_in
        running_max = max(running_max, running_total)
        running_total -= layer.n_out
    return running_max, running_max - running_total


def _as_tuple(outputs, n_out):
    return (outputs,) if n_out == 1 else tuple(outputs)


def _pack(stack):
    return stack[0] if len(stack) == 1 else tuple(stack)


class SerialModule(nn.Module):
    """Runs ``layers`` in sequence on a stack of arrays (Trax's Serial)."""
    layers: Sequence[Any]
    n_ins: Sequence[int]
    n_outs: Sequence[int]

    def __call__(self, *xs):
        stack = list(xs)
        for layer, n_in, n_out in zip(self.layers, self.n_ins, self.n_outs):
            if len(stack) < n_in:
                raise ValueError(
                    f"Number of inputs ({len(stack)}) to {type(layer).__name__}"
                    f" less than n_in ({n_in}).")
            outputs = layer(*stack[:n_in])
            stack = list(_as_tuple(outputs, n_out)) + stack[n_in:]
        return _pack(stack)


class Serial(base.Layer):
    """Layers applied one after another, each taking its inputs from the top
    of the stack and pushing its outputs back."""

    def __init__(self, *sublayers, name=None, sublayers_to_print=None):
        layers = _flatten_layers(sublayers)
        n_in, n_out = _stack_arity(layers)
        super().__init__(n_in=n_in, n_out=n_out, name=name or "Serial",
                         sublayers_to_print=sublayers_to_print)
        self._sublayers = tuple(layers)

    def _pack_inputs(self, x):
        # As Trax's Serial.forward: a tuple/list is the whole input stack
        # (items beyond n_in pass through); an array is one input.
        if not isinstance(x, (tuple, list)):
            return super()._pack_inputs(x)
        if len(x) < self._n_in:
            raise ValueError(
                f"Number of inputs ({len(x)}) to Serial.forward less than "
                f"n_in ({self._n_in}).")
        return tuple(x)

    def make_module(self):
        return SerialModule(
            layers=tuple(layer.module for layer in self._sublayers),
            n_ins=tuple(layer.n_in for layer in self._sublayers),
            n_outs=tuple(layer.n_out for layer in self._sublayers))

    def _init_recursive(self, input_signature):
        self.rng  # pylint: disable=pointless-statement
        stack = (list(input_signature) if self._n_in != 1
                 else [input_signature])
        for layer in self._sublayers:
            if len(stack) < layer.n_in:
                raise ValueError(
                    f"Number of inputs ({len(stack)}) to {layer.name} less "
                    f"than n_in ({layer.n_in}).")
            inputs = stack[:layer.n_in]
            sig = inputs[0] if layer.n_in == 1 else tuple(inputs)
            try:
                layer._init_recursive(sig)  # pylint: disable=protected-access
            except base.LayerError:
                raise
            except Exception as e:  # pylint: disable=broad-except
                raise base.LayerError(
                    layer.name, "init", layer._caller, sig,  # pylint: disable=protected-access
                    base._short_traceback(e)) from e  # pylint: disable=protected-access
            out = layer.output_signature(sig)
            stack = list(_as_tuple(out, layer.n_out)) + stack[layer.n_in:]
        self._initialized = True
