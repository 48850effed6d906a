"""Trax's default weight initializers, as functions ``(shape, rng) -> array``.

Each is usable both on Trax's path (``layer.init`` with Trax's key
derivation) and as a Flax ``self.param`` initializer (``key, shape``), so a
Flax module created from a layer initializes from the same distributions.
"""

import numpy as np
import jax
import jax.numpy as jnp

from trax_compat.fastmath import random as trax_random


def _fans(shape, out_dim=-1, in_dim=-2):
    """Fan-in/fan-out like Trax: receptive field = product of the other dims."""
    if len(shape) < 1:
        raise ValueError(f"Cannot compute fans of a scalar shape {shape}.")
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod([d for i, d in enumerate(shape)
                             if i not in (out_dim % len(shape),
                                          in_dim % len(shape))]))
    return shape[in_dim] * receptive, shape[out_dim] * receptive


def ScaledInitializer(out_dim, in_dim, scale, mode, distribution):
    """Variance-scaling initializer with Trax's arithmetic (uniform on
    ``[-sqrt(3 var), sqrt(3 var)]``, normal with std ``sqrt(var)``)."""
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    if mode not in ("fan_in", "fan_out", "fan_avg"):
        raise ValueError(f"Invalid mode {mode!r}")

    def init(shape, rng):
        fan_in, fan_out = _fans(shape, out_dim, in_dim)
        if mode == "fan_in":
            variance = scale / fan_in
        elif mode == "fan_out":
            variance = scale / fan_out
        else:
            variance = scale / ((fan_in + fan_out) / 2.0)
        with trax_random.trax_key_semantics():
            if distribution == "uniform":
                lim = jnp.sqrt(3.0 * variance)
                return jax.random.uniform(rng, shape, jnp.float32, -lim, lim)
            if distribution == "normal":
                return (jax.random.normal(rng, shape) * jnp.sqrt(variance)
                        ).astype(jnp.float32)
        raise ValueError(f"Invalid distribution {distribution!r}")
    return init


def GlorotUniformInitializer(out_dim=-1, in_dim=-2, scale=1.0):
    return ScaledInitializer(out_dim, in_dim, scale, "fan_avg", "uniform")


def RandomNormalInitializer(stddev=1e-2):
    def init(shape, rng):
        with trax_random.trax_key_semantics():
            return (stddev * jax.random.normal(rng, shape)).astype(jnp.float32)
    return init


def RandomUniformInitializer(lim=1.0):
    def init(shape, rng):
        with trax_random.trax_key_semantics():
            return jax.random.uniform(rng, shape, jnp.float32, -lim, lim)
    return init


def as_flax_init(trax_init):
    """Adapts a Trax initializer to Flax's ``(key, shape, dtype)`` protocol."""
    def init(key, shape, dtype=jnp.float32):
        return trax_init(tuple(shape), key).astype(dtype)
    return init
