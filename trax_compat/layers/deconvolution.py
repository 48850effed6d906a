"""Transposed convolution (``ConvTranspose``), as in Trax."""

from jax import lax

from trax_compat.layers import convolution
from trax_compat.layers import initializers as init


class ConvTranspose(convolution._ConvBase):  # pylint: disable=protected-access
    """A transposed ("de-") convolution, ``lax.conv_transpose``; weights
    ``(kernel, bias)``.

    ``kernel_initialzer`` keeps Trax's spelling; ``kernel_initializer`` is
    accepted as well.
    """

    _kind = "Deconvolutions"

    def __init__(self, filters, kernel_size, strides=None, padding="VALID",
                 rhs_dilation=None,
                 dimension_numbers=("NHWC", "HWIO", "NHWC"),
                 kernel_initialzer=None,
                 bias_initializer=init.RandomNormalInitializer(1e-6), *,
                 kernel_initializer=None):
        if kernel_initialzer is not None and kernel_initializer is not None:
            raise ValueError(
                "ConvTranspose: give kernel_initializer or Trax's spelling "
                "kernel_initialzer, not both.")
        super().__init__(filters, kernel_size, strides, padding,
                         dimension_numbers,
                         kernel_initialzer or kernel_initializer,
                         bias_initializer, use_bias=True)
        self._rhs_dilation = rhs_dilation

    def _convolve(self, x, kernel):
        return lax.conv_transpose(x, kernel, self._strides, self._padding,
                                  self._rhs_dilation, self._dimension_numbers)
