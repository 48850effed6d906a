"""``Fn``: a layer from a plain function of arrays (Trax's ``tl.Fn``)."""

import inspect
from typing import Callable

import flax.linen as nn

from trax_compat.layers import base


class FnModule(nn.Module):
    """Applies a weightless function to the module inputs."""
    fn: Callable
    n_out: int = 1

    def __call__(self, *xs):
        return self.fn(*xs)


def _n_positional_args(name, f):
    sig = inspect.signature(f)
    n = 0
    for param in sig.parameters.values():
        if param.default is not inspect.Parameter.empty:
            raise ValueError("Function has default arguments (not allowed).")
        if param.kind in (inspect.Parameter.VAR_POSITIONAL,
                          inspect.Parameter.VAR_KEYWORD):
            raise ValueError(
                f"Function {name!r} has *args/**kwargs; Fn needs a fixed "
                f"number of positional arguments.")
        if param.kind == inspect.Parameter.KEYWORD_ONLY:
            raise ValueError(
                f"Function {name!r} has keyword-only arguments (not allowed).")
        n += 1
    return n


class Fn(base.Layer):
    """A layer with no weights computing ``f(*inputs)``; ``n_in`` is the
    number of arguments of ``f``."""

    def __init__(self, name, f, n_out=1):
        n_in = _n_positional_args(name, f)
        super().__init__(n_in=n_in, n_out=n_out, name=name)
        self._fn = f

    def make_module(self):
        return FnModule(fn=self._fn, n_out=self._n_out)
