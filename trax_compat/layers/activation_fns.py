"""Activation layers, element by element, as in Trax.

Trax wraps each in shape asserts (see assert_shape), so ``Relu()`` prints
``Serial[Relu]`` and has weights ``((), (), ())``. Each formula uses the
same operations as Trax's, in the same order: the values, and which side
of a kink a gradient takes (``maximum`` splits a tie, ``where`` does not),
are Trax's.
"""

import jax
import jax.numpy as jnp

from trax_compat.layers import base
from trax_compat.layers.assert_shape import AssertFunction
from trax_compat.layers.functional import Fn

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_LAMBDA = 1.0507009873554804934193349852946


def _same_shape(name, f):
    return AssertFunction("...->...", Fn(name, f))


def Relu():  # pylint: disable=invalid-name
    """``max(x, 0)``; keeps integer dtypes (Trax's tutorial feeds ints)."""
    return _same_shape("Relu", lambda x: jnp.where(x <= 0, jnp.zeros_like(x),
                                                   x))


def ParametricRelu(a=1.):  # pylint: disable=invalid-name
    """``max(a * x, 0)``: a ReLU with slope ``a`` for positive inputs."""
    return _same_shape("ParametricRelu",
                       lambda x: jnp.maximum(a * x, jnp.zeros_like(x)))


def LeakyRelu(a=0.01):  # pylint: disable=invalid-name
    """``x`` for ``x >= 0``, else ``a * x``."""
    return _same_shape("LeakyRelu", lambda x: jnp.where(x >= 0, x, a * x))


def Elu(a=1.):  # pylint: disable=invalid-name
    """``x`` for ``x > 0``, else ``a * (exp(x) - 1)``."""
    return _same_shape("Elu", lambda x: jnp.where(x > 0, x, a * jnp.expm1(x)))


def Selu(alpha=_SELU_ALPHA, lmbda=_SELU_LAMBDA):  # pylint: disable=invalid-name
    """``lmbda * Elu(alpha)``; the defaults make it self-normalizing."""
    return _same_shape("Selu", lambda x: lmbda * jnp.where(
        x > 0, x, alpha * jnp.expm1(x)))


def Gelu():  # pylint: disable=invalid-name
    """The exact GELU, ``x * Phi(x)`` through ``erf`` (``FastGelu`` is the
    tanh approximation)."""
    return _same_shape("Gelu", lambda x: x * 0.5 * (
        1.0 + jax.scipy.special.erf(x / jnp.sqrt(2.0))))


def FastGelu():  # pylint: disable=invalid-name
    """The tanh approximation of ``Gelu``."""
    return _same_shape("FastGelu", lambda x: 0.5 * x * (
        1 + jnp.tanh(x * 0.7978845608 * (1 + 0.044715 * x * x))))


def Sigmoid():  # pylint: disable=invalid-name
    return _same_shape("Sigmoid", lambda x: jax.scipy.special.expit(x))


def Tanh():  # pylint: disable=invalid-name
    return _same_shape("Tanh", lambda x: jnp.tanh(x))


def HardSigmoid():  # pylint: disable=invalid-name
    """``1 + x`` clipped to ``[0, 1]`` (Trax's formula: it is 1 from x = 0
    on, not a symmetric approximation of the sigmoid)."""
    return _same_shape("HardSigmoid",
                       lambda x: jnp.maximum(0, jnp.minimum(1, (1 + x))))


def HardTanh():  # pylint: disable=invalid-name
    """``x`` clipped to ``[-1, 1]``."""
    return _same_shape("HardTanh",
                       lambda x: jnp.maximum(-1, jnp.minimum(1, x)))


def Softplus():  # pylint: disable=invalid-name
    """``log(exp(x) + 1)``, computed stably."""
    return _same_shape("Softplus", lambda x: jnp.logaddexp(x, 0.))


def Exp():  # pylint: disable=invalid-name
    return _same_shape("Exp", lambda x: jnp.exp(x))


def Log():  # pylint: disable=invalid-name
    return _same_shape("Log", lambda x: jnp.log(x))


def Swish():  # pylint: disable=invalid-name
    """``x * sigmoid(x)``."""
    return _same_shape("Swish", lambda x: x * jax.scipy.special.expit(x))


def _glu(x):
    size = x.shape[-1]
    if size % 2:
        raise ValueError(
            f"Glu splits its input's last axis in two halves; that axis has "
            f"odd size {size}. Give it an even number of features.")
    a, b = jnp.split(x, 2, axis=-1)
    return a * jax.scipy.special.expit(b)


def Glu():  # pylint: disable=invalid-name
    """Gated linear unit: ``a * sigmoid(b)``, ``a`` and ``b`` the two halves
    of the last axis.

    Trax's ``Glu()`` raises at construction (its function has a default
    argument, which ``Fn`` refuses), so no working Trax code depends on it;
    this one computes what Trax documents.
    """
    return AssertFunction("...a->...b", Fn("Glu", _glu))


class ThresholdedLinearUnit(base.Layer):
    """``max(x, t)`` with a trainable threshold ``t``, initially 0 (TLU,
    arXiv:1911.09737)."""
    weight_names = "threshold"

    def forward(self, inputs):
        return jnp.maximum(inputs, self.weights)

    def init_weights_and_state(self, input_signature):
        del input_signature
        self.weights = jnp.zeros((), dtype=jnp.float32)
