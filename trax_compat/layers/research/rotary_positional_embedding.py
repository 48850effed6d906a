"""Trax's rotary positional embedding (``trax.layers.research.
rotary_positional_embedding``, https://arxiv.org/abs/2104.09864): each
pair of features (i, i + d/2) of position p turned by the angle p * f_i,
with f_i = 10000 ** (-2i / d). Pure-LSH attention applies it to its
queries/keys when asked (``rotary_position_emb=True``)."""

import jax.numpy as jnp

from trax_compat.layers import core


def rotate(x):
    """(batch, length, d) -> the same vectors rotated by their position."""
    _, length, depth = x.shape
    inv_freq = jnp.exp(jnp.arange(0, depth, 2) * -(jnp.log(10000.0) / depth))
    angles = jnp.einsum("i,j->ij", jnp.arange(length), inv_freq)
    angles = jnp.concatenate((angles, angles), axis=-1)
    half = x.shape[-1] // 2
    turned = jnp.concatenate((-x[..., half:], x[..., :half]), axis=-1)
    return (jnp.einsum("bld,ld->bld", x, jnp.cos(angles))
            + jnp.einsum("bld,ld->bld", turned, jnp.sin(angles)))


def Rotate():  # pylint: disable=invalid-name
    """The layer applying :func:`rotate`."""
    return core.Fn("Rotate", rotate)
