"""Weightless layers from plain functions: ``PureLayer`` and ``Fn``."""

import inspect

from trax_compat.layers import base


class PureLayer(base.Layer):
    """A layer with no weights and no randomness: ``forward_fn(inputs)``,
    inputs packaged as Trax packages them."""

    def __init__(self, forward_fn, n_in=1, n_out=1, name="PureLayer"):
        super().__init__(n_in=n_in, n_out=n_out, name=name)
        self._forward_fn = forward_fn

    def forward(self, inputs):
        items = self._pack_inputs(inputs)  # Trax's checks of the count.
        outputs = self._forward_fn(items[0] if self._n_in == 1 else items)
        if outputs is None:
            raise ValueError('Argument "container" is None.')
        if isinstance(outputs, (list, tuple)) and not outputs:
            return ()
        return outputs


def Fn(name, f, n_out=1):  # pylint: disable=invalid-name
    """A weightless layer computing ``f(*inputs)``; ``n_in`` is the number of
    positional arguments of ``f``, which may have no defaults, ``*args`` or
    ``**kwargs`` (Trax's rules and messages)."""
    spec = inspect.getfullargspec(f)
    if spec.defaults is not None:
        raise ValueError("Function has default arguments (not allowed).")
    if spec.varkw is not None:
        raise ValueError("Function has keyword arguments (not allowed).")
    if spec.varargs is not None:
        raise ValueError("Function has variable args (not allowed).")

    def forward(xs):
        if not isinstance(xs, (tuple, list)):
            xs = (xs,)
        return f(*xs)

    return PureLayer(forward, n_in=len(spec.args), n_out=n_out,
                     name=name or "Fn")
