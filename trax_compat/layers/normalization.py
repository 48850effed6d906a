"""LayerNorm with Trax's weights ``(scale, bias)`` and arithmetic."""

import jax.numpy as jnp

from trax_compat.layers import base


class LayerNorm(base.Layer):
    """Layer normalization over the last axis: ``(x - mean) / sqrt(var +
    eps) * scale + bias``; weights ``(ones, zeros)``."""
    weight_names = ("scale", "bias")

    def __init__(self, center=True, epsilon=1e-6):
        super().__init__()
        self._center = center
        self._epsilon = epsilon

    def forward(self, x):
        scale, bias = self.weights
        mean = jnp.mean(x, axis=-1, keepdims=True)
        centered = x - mean if self._center else x
        variance = jnp.mean(centered * centered, axis=-1, keepdims=True)
        scaled = centered / jnp.sqrt(variance + self._epsilon) * scale
        return scaled + bias if self._center else scaled

    def init_weights_and_state(self, input_signature):
        features = input_signature.shape[-1]
        dtype = input_signature.dtype
        self._weights = (jnp.ones(features, dtype=dtype),
                         jnp.zeros(features, dtype=dtype))
