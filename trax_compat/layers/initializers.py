"""Trax's default weight initializers, as functions ``(shape, rng) -> array``.

Each is usable both on Trax's path (``layer.init`` with Trax's key
derivation) and as a Flax ``self.param`` initializer (``key, shape``), so a
Flax module created from a layer initializes from the same distributions.
"""

import jax
import jax.numpy as jnp

from trax_compat.fastmath import random as trax_random


def _fans(shape, out_dim=-1, in_dim=-2):
    """Fan-in/fan-out as Trax computes them: the sizes of the in/out axes.

    Trax's quirk, kept for identical numbers: the receptive field (the other
    axes, e.g. a conv kernel's spatial size) is not multiplied in for rank
    >= 2; rank 1 uses the single axis for both.
    """
    if len(shape) >= 2:
        return shape[in_dim], shape[out_dim]
    if len(shape) == 1:
        return shape[0], shape[0]
    return 1.0, 1.0


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
            if distribution == "truncated_normal":
                # Divides by the std of a unit normal truncated to [-2, 2].
                stddev = jnp.sqrt(variance) / .87962566103423978
                return (jax.random.truncated_normal(rng, -2, 2, shape)
                        * stddev).astype(jnp.float32)
        raise ValueError(f"Invalid distribution {distribution!r}")
    return init


def GlorotUniformInitializer(out_dim=-1, in_dim=-2, scale=1.0):
    return ScaledInitializer(out_dim, in_dim, scale, "fan_avg", "uniform")


def GlorotNormalInitializer(out_dim=-1, in_dim=-2, scale=1.0):
    return ScaledInitializer(out_dim, in_dim, scale, "fan_avg", "normal")


def LeCunUniformInitializer(out_dim=-1, in_dim=-2, scale=1.0):
    return ScaledInitializer(out_dim, in_dim, scale, "fan_in", "uniform")


def LeCunNormalInitializer(out_dim=-1, in_dim=-2, scale=1.0):
    return ScaledInitializer(out_dim, in_dim, scale, "fan_in", "normal")


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

