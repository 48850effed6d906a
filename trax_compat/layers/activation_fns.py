"""Activation layers; Trax wraps them in shape asserts (see assert_shape)."""

import jax
import jax.numpy as jnp

from trax_compat.layers.assert_shape import AssertFunction
from trax_compat.layers.functional import Fn


def _same_shape(name, f):
    return AssertFunction("...->...", Fn(name, f))


def Relu():  # pylint: disable=invalid-name
    """``max(x, 0)``; keeps integer dtypes (Trax's tutorial feeds ints)."""
    return _same_shape("Relu", lambda x: jnp.where(x <= 0, jnp.zeros_like(x),
                                                   x))


def Sigmoid():  # pylint: disable=invalid-name
    return _same_shape("Sigmoid",
                       lambda x: jax.scipy.special.expit(x))


def Tanh():  # pylint: disable=invalid-name
    return _same_shape("Tanh", lambda x: jnp.tanh(x))


def Gelu():  # pylint: disable=invalid-name
    return _same_shape("Gelu", lambda x: x * 0.5 * (
        1.0 + jnp.tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x))))


def LeakyRelu(a=0.01):  # pylint: disable=invalid-name
    return _same_shape("LeakyRelu", lambda x: jnp.where(x >= 0, x, a * x))
