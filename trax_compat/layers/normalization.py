"""LayerNorm with Trax's weights ``(scale, bias)`` and arithmetic."""

import flax.linen as nn
import jax.numpy as jnp

from trax_compat.layers import base
from trax_compat.layers import flax_names


class LayerNormModule(base.TraxModule):
    """``(x - mean) / sqrt(var + eps) * scale + bias`` over the last axis."""
    center: bool = True
    epsilon: float = 1e-6

    @nn.compact
    def __call__(self, x, rng=None):
        del rng
        features = x.shape[-1]
        scale = flax_names.param(self, "scale",
                                 lambda k, s: jnp.ones(s, x.dtype),
                                 (features,))
        bias = flax_names.param(self, "bias",
                                lambda k, s: jnp.zeros(s, x.dtype),
                                (features,))
        mean = jnp.mean(x, axis=-1, keepdims=True)
        centered = x - mean if self.center else x
        variance = jnp.mean(centered * centered, axis=-1, keepdims=True)
        scaled = centered / jnp.sqrt(variance + self.epsilon) * scale
        return scaled + bias if self.center else scaled


class LayerNorm(base.Layer):
    """Layer normalization over the last axis; weights ``(ones, zeros)``."""
    weight_names = ("scale", "bias")

    def __init__(self, center=True, epsilon=1e-6):
        super().__init__()
        self._center = center
        self._epsilon = epsilon

    def make_module(self):
        return LayerNormModule(center=self._center, epsilon=self._epsilon)

    def init_weights_and_state(self, input_signature):
        features = input_signature.shape[-1]
        dtype = input_signature.dtype
        self._weights = (jnp.ones(features, dtype=dtype),
                         jnp.zeros(features, dtype=dtype))
