"""Sequence helpers from Trax's attention module: ShiftRight."""

import jax.numpy as jnp

from trax_compat.layers.assert_shape import AssertFunction
from trax_compat.layers.functional import Fn


def ShiftRight(n_positions=1, mode="train"):  # pylint: disable=invalid-name
    """Shifts axis 1 right by ``n_positions``, filling with zeros (a no-op
    in 'predict' mode); wrapped in shape asserts as in Trax."""
    def f(x):
        if mode == "predict":
            return x
        pad = [(0, 0)] * len(x.shape)
        pad[1] = (n_positions, 0)
        padded = jnp.pad(x, pad, mode="constant", constant_values=0)
        return padded[:, :-n_positions]
    return AssertFunction("...->...", Fn(f"ShiftRight({n_positions})", f))
