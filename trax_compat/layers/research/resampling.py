"""Trax's resampling layers (``trax.layers.research.resampling``), which the
Hourglass language model shortens and lengthens its sequences with.

Each constructor takes the shortening factor and ``d_model`` first and
ignores the options it has no use for, so that the model can call any of
them with one set of arguments: pooling (average, or a Dense over
``shorten_factor`` concatenated positions), upsampling (a Dense to
``shorten_factor`` positions, repetition, or zeros), and attention
resampling, where the resampled sequence attends to the original one with
causal relative attention.
"""

import jax.numpy as jnp

from trax_compat.layers import combinators as cb
from trax_compat.layers import core
from trax_compat.layers.normalization import LayerNorm
from trax_compat.layers.pooling import AvgPool
from trax_compat.layers.research.rel_attention import RelativeAttentionLMLayer


def AveragePooling(shorten_factor, *args, **kwargs):  # pylint: disable=invalid-name
    """The mean of each ``shorten_factor`` consecutive positions."""
    del args, kwargs
    return AvgPool(pool_size=(shorten_factor,), strides=(shorten_factor,))


def LinearPooling(shorten_factor, d_model, *args, dropout=0.0, mode="train",  # pylint: disable=invalid-name
                  **kwargs):
    """Each ``shorten_factor`` consecutive positions concatenated, then a
    Dense to ``d_model`` and dropout."""
    del args, kwargs
    return cb.Serial(
        core.Fn("Shorten", lambda x: jnp.reshape(
            x, (x.shape[0], x.shape[1] // shorten_factor, -1)), n_out=1),
        core.Dense(d_model),
        core.Dropout(rate=dropout, mode=mode))


def LinearUpsampling(shorten_factor, d_model, *args, dropout=0.0,  # pylint: disable=invalid-name
                     mode="train", **kwargs):
    """A Dense to ``shorten_factor * d_model`` and dropout, then split into
    ``shorten_factor`` positions of ``d_model`` each."""
    del args, kwargs
    return cb.Serial(
        core.Dense(shorten_factor * d_model),
        core.Dropout(rate=dropout, mode=mode),
        core.Fn("ProlongBack", lambda x: jnp.reshape(
            x, (x.shape[0], x.shape[1] * shorten_factor, -1)), n_out=1))


def NaiveUpsampling(shorten_factor, d_model, *args, **kwargs):  # pylint: disable=invalid-name
    """Each position repeated ``shorten_factor`` times."""
    del d_model, args, kwargs
    return core.Fn("Repeat",
                   lambda x: jnp.repeat(x, shorten_factor, axis=1))


def NoUpsampling(shorten_factor, d_model, *args, **kwargs):  # pylint: disable=invalid-name
    """Zeros, ``shorten_factor`` times as long as the input."""
    del d_model, args, kwargs
    return core.Fn("ReturnZero", lambda x: jnp.zeros(
        (x.shape[0], x.shape[1] * shorten_factor, x.shape[2]), dtype=x.dtype))


def FeedForwardBlock(d_model, d_ff, dropout, dropout_shared_axes, mode,  # pylint: disable=invalid-name
                     activation):
    """Dense to ``d_ff``, the activation, dropout, Dense back to
    ``d_model`` (a list of layers)."""
    return [
        core.Dense(d_ff),
        activation(),
        core.Dropout(rate=dropout, shared_axes=dropout_shared_axes,
                     mode=mode),
        core.Dense(d_model),
    ]


def AttentionResampling(shorten_factor, d_model, is_upsampling, d_ff,  # pylint: disable=invalid-name
                        n_heads, dropout, dropout_shared_axes, mode,
                        ff_activation, context_bias_layer,
                        location_bias_layer, total_pooling, resampling_fn):
    """``resampling_fn``'s output (plus, when upsampling, the residual the
    caller left below it) attends to the input with causal relative
    attention, then a feed-forward residual: a list of layers."""
    attention = RelativeAttentionLMLayer(
        d_model, context_bias_layer, location_bias_layer, total_pooling,
        n_heads=n_heads, dropout=dropout, mode=mode)
    feed_forward = FeedForwardBlock(d_model, d_ff, dropout,
                                    dropout_shared_axes, mode, ff_activation)
    resampling = resampling_fn(shorten_factor, d_model, mode=mode)

    def dropout_layer():
        return core.Dropout(rate=dropout, shared_axes=dropout_shared_axes,
                            mode=mode)

    return [
        LayerNorm(),                                          # h
        cb.Branch(cb.Serial(resampling, LayerNorm()), None),  # h', h
        # Upsampling adds the pre-shortening vectors (third on the stack).
        cb.Serial(cb.Select([0, 2, 1, 2]), cb.Add()) if is_upsampling else [],
        cb.Residual(cb.Select([0, 1, 1]),                     # h', h, h
                    attention, dropout_layer()),
        cb.Residual(LayerNorm(), feed_forward, dropout_layer()),
    ]
