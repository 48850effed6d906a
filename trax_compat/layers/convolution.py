"""Conv and pooling with Trax's layout (NHWC inputs, HWIO kernel) and initializers."""

import itertools

import jax
import jax.numpy as jnp

from trax_compat.layers import base
from trax_compat.layers import flax_names
from trax_compat.layers import initializers as init
from trax_compat.layers.functional import Fn


class Conv(base.Layer):
    """2-D (or n-D) convolution; weights ``(kernel, bias)``."""

    def __init__(self, filters, kernel_size, strides=None, padding="VALID",
                 dimension_numbers=("NHWC", "HWIO", "NHWC"),
                 kernel_initializer=None,
                 bias_initializer=None, use_bias=True):
        super().__init__()
        self._filters = filters
        self._kernel_size = tuple(kernel_size)
        self._strides = tuple(strides or (1,) * len(self._kernel_size))
        self._padding = padding
        self._dimension_numbers = tuple(dimension_numbers)
        self._lhs_spec, self._rhs_spec, self._out_spec = dimension_numbers
        self._use_bias = use_bias
        self._bias_initializer = (bias_initializer
                                  or init.RandomNormalInitializer(1e-6))
        self._kernel_initializer = (
            kernel_initializer or init.GlorotNormalInitializer(
                self._rhs_spec.index("O"), self._rhs_spec.index("I")))

    def _kernel_shape(self, input_shape):
        sizes = iter(self._kernel_size)
        return tuple(
            self._filters if c == "O"
            else input_shape[self._lhs_spec.index("C")] if c == "I"
            else next(sizes) for c in self._rhs_spec)

    def _bias_shape(self):
        shape = [self._filters if c == "C" else 1 for c in self._out_spec]
        return tuple(itertools.dropwhile(lambda d: d == 1, shape))

    @property
    def weight_names(self):
        return flax_names.kernel_and_bias(self._use_bias)

    def forward(self, x):
        kernel = self.weights[0] if self._use_bias else self.weights
        y = jax.lax.conv_general_dilated(
            x, kernel, self._strides, self._padding,
            rhs_dilation=(1,) * len(self._kernel_size),
            dimension_numbers=self._dimension_numbers)
        return y + self.weights[1] if self._use_bias else y

    def init_weights_and_state(self, input_signature):
        rng_w, rng_b = jax.random.split(self.rng, 2)
        w = self._kernel_initializer(self._kernel_shape(input_signature.shape),
                                     rng_w)
        if self._use_bias:
            self._weights = (w, self._bias_initializer(self._bias_shape(),
                                                       rng_b))
        else:
            self._weights = w


def _pool(x, reducer, init_value, pool_size, strides, padding):
    strides = strides or (1,) * len(pool_size)
    dims = (1,) + tuple(pool_size) + (1,)
    window_strides = (1,) + tuple(strides) + (1,)
    return jax.lax.reduce_window(x, init_value, reducer, dims, window_strides,
                                 padding)


def MaxPool(pool_size=(2, 2), strides=None, padding="VALID"):  # pylint: disable=invalid-name
    """Max over windows of ``pool_size``; Trax's default stride is 1."""
    name = f"MaxPool{pool_size}".replace(" ", "")
    return Fn(name, lambda x: _pool(x, jax.lax.max, -jnp.inf, pool_size,
                                    strides, padding))


def AvgPool(pool_size=(2, 2), strides=None, padding="VALID"):  # pylint: disable=invalid-name
    """Mean over windows of ``pool_size`` (VALID windows)."""
    name = f"AvgPool{pool_size}".replace(" ", "")
    size = 1
    for d in pool_size:
        size *= d
    return Fn(name, lambda x: _pool(x, jax.lax.add, 0.0, pool_size, strides,
                                    padding) / size)
