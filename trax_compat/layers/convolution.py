"""Convolutions with Trax's layouts (``dimension_numbers``, NHWC inputs and
HWIO kernels by default), weights and initializers.

Inputs with more axes than the layout (e.g. ``(batch, time, H, W, C)``) have
their leading axes folded into the batch and unfolded after, as in Trax.
"""

import functools
import itertools
import operator

from trax_compat import fastmath
from trax_compat.fastmath import numpy as jnp
from trax_compat.layers import base
from trax_compat.layers import flax_names
from trax_compat.layers import initializers as init


class _ConvBase(base.Layer):
    """What Conv and ConvTranspose share: the kernel and bias shapes from
    the layout, their initialization, and folding extra leading axes."""

    _kind = "Convolutions"

    def __init__(self, filters, kernel_size, strides, padding,
                 dimension_numbers, kernel_initializer, bias_initializer,
                 use_bias):
        super().__init__()
        self._filters = filters
        self._kernel_size = kernel_size
        self._padding = padding
        self._dimension_numbers = dimension_numbers
        self._lhs_spec, self._rhs_spec, self._out_spec = dimension_numbers
        self._one = (1,) * len(kernel_size)
        self._strides = strides or self._one
        self._bias_initializer = bias_initializer
        self._use_bias = use_bias
        self._kernel_initializer = kernel_initializer
        if kernel_initializer is None:
            self._kernel_initializer = init.GlorotNormalInitializer(
                self._rhs_spec.index("O"), self._rhs_spec.index("I"))

    @property
    def weight_names(self):
        return flax_names.kernel_and_bias(self._use_bias)

    def _folded_shape(self, shape):
        """``shape`` with the axes before the last three multiplied into one
        batch axis (only for inputs of rank > 4)."""
        shape = list(shape)
        if len(shape) <= 4:
            return shape
        if not self._lhs_spec == self._out_spec == "NHWC":
            raise ValueError(
                f"{self._kind} on more than 4 dimensions only supported in "
                f"NHWC. Inputs of shape {tuple(shape)} need "
                f"dimension_numbers ('NHWC', ..., 'NHWC'), got "
                f"{self._dimension_numbers}.")
        return [functools.reduce(operator.mul, shape[:-3])] + shape[-3:]

    def _convolve(self, x, kernel):
        raise NotImplementedError

    def forward(self, x):
        if self._use_bias:
            kernel, bias = self.weights
        else:
            kernel = self.weights
        x_shape = list(x.shape)
        folded = self._folded_shape(x_shape)
        if folded != x_shape:
            x = jnp.reshape(x, folded)
        y = self._convolve(x, kernel)
        if self._use_bias:
            y = y + bias
        if folded != x_shape:
            y = jnp.reshape(y, x_shape[:-3] + list(y.shape[-3:]))
        return y

    def _kernel_shape(self, input_shape):
        sizes = iter(self._kernel_size)
        return [self._filters if c == "O"
                else input_shape[self._lhs_spec.index("C")] if c == "I"
                else next(sizes) for c in self._rhs_spec]

    def _bias_shape(self):
        # Broadcasts against the output: leading size-1 axes dropped.
        shape = [self._filters if c == "C" else 1 for c in self._out_spec]
        return tuple(itertools.dropwhile(lambda d: d == 1, shape))

    def init_weights_and_state(self, input_signature):
        kernel_shape = self._kernel_shape(
            self._folded_shape(input_signature.shape))
        rng_w, rng_b = fastmath.random.split(self.rng, 2)
        w = self._kernel_initializer(kernel_shape, rng_w)
        if self._use_bias:
            self.weights = (w, self._bias_initializer(self._bias_shape(),
                                                      rng_b))
        else:
            self.weights = w


class Conv(_ConvBase):
    """A general convolution; weights ``(kernel, bias)``, or the kernel alone
    with ``use_bias=False``."""

    def __init__(self, filters, kernel_size, strides=None, padding="VALID",
                 dimension_numbers=("NHWC", "HWIO", "NHWC"),
                 kernel_initializer=None,
                 bias_initializer=init.RandomNormalInitializer(1e-6),
                 use_bias=True):
        super().__init__(filters, kernel_size, strides, padding,
                         dimension_numbers, kernel_initializer,
                         bias_initializer, use_bias)

    def _convolve(self, x, kernel):
        return fastmath.conv(x, kernel, self._strides, self._padding,
                             self._dimension_numbers, self._one)


class CausalConv(Conv):
    """A 1-D convolution over ``(batch, time, depth)`` in which no output
    sees a later time step: the sequence is left-padded with
    ``kernel_width - 1`` zeros, so the output keeps its length."""

    def __init__(self, filters, kernel_width=3, kernel_initializer=None,
                 bias_initializer=init.RandomNormalInitializer(1e-6),
                 use_bias=True):
        super().__init__(filters=filters, kernel_size=(kernel_width,),
                         strides=None, padding="VALID",
                         dimension_numbers=("NWC", "WIO", "NWC"),
                         kernel_initializer=kernel_initializer,
                         bias_initializer=bias_initializer, use_bias=use_bias)

    def forward(self, x):
        if len(x.shape) != 3:
            raise ValueError(
                f"CausalConv takes inputs of shape (batch, time, depth), got "
                f"shape {tuple(x.shape)}.")
        pad = self._kernel_size[0] - 1
        return super().forward(
            jnp.pad(x, [[0, 0], [pad, 0], [0, 0]], mode="constant"))


def Conv1d(filters, kernel_size, stride=1, padding="VALID",  # pylint: disable=invalid-name
           kernel_initializer=None,
           bias_initializer=init.RandomNormalInitializer(1e-6),
           use_bias=True):
    """A 1-D convolution over ``(batch, width, channels)`` (a ``Conv``)."""
    return Conv(filters, (kernel_size,), strides=(stride,), padding=padding,
                dimension_numbers=("NWC", "WIO", "NWC"),
                kernel_initializer=kernel_initializer,
                bias_initializer=bias_initializer, use_bias=use_bias)


class CausalDepthwiseConv(base.Layer):
    """Per-feature causal convolution over ``(batch, length, depth)``: each
    output is a weighted sum of the same feature at the current and the
    ``kernel_size - 1`` previous positions; weights ``(kernel_size,
    depth)``, row ``i`` for the position ``i`` steps back."""

    weight_names = "kernel"

    def __init__(self, kernel_size=3,
                 kernel_initializer=init.GlorotUniformInitializer(),
                 use_bfloat16=False):
        super().__init__(n_in=1, n_out=1)
        self._kernel_size = kernel_size
        self._kernel_initializer = kernel_initializer
        self._use_bfloat16 = use_bfloat16

    def forward(self, x):
        if len(x.shape) != 3:
            raise ValueError(
                f"CausalDepthwiseConv takes inputs of shape (batch, length, "
                f"depth), got shape {tuple(x.shape)}.")
        w = self.weights
        # Summed in Trax's order (shift by one, add), for Trax's rounding.
        res = x * w[0, :][None, None, :]
        for i in range(1, self._kernel_size):
            x = jnp.pad(x, [(0, 0), (1, 0), (0, 0)], mode="constant")[:, :-1]
            res += x * w[i, :][None, None, :]
        return res

    def init_weights_and_state(self, input_signature):
        shape_w = (self._kernel_size, input_signature.shape[-1])
        rng_w, _ = fastmath.random.split(self.rng, 2)
        w = self._kernel_initializer(shape_w, rng_w)
        if self._use_bfloat16:
            w = w.astype(jnp.bfloat16)
        self.weights = w
