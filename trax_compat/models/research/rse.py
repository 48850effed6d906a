"""Trax's Residual Shuffle-Exchange network (``trax.models.research.rse``,
https://arxiv.org/abs/2004.04662): after an embedding, Benes blocks of
residual switch units (each mixing neighbouring pairs of positions)
interleaved with perfect-shuffle permutations of the sequence (a bitwise
rotation of the position index), first forward then in reverse, once per
bit of the length; a last switch unit and a Dense give log-probabilities.
"""

import jax.numpy as jnp
import numpy as np

from trax_compat import fastmath
from trax_compat import layers as tl
from trax_compat.layers.assert_shape import assert_shape


def _inverse_sigmoid(x):
    return np.log(x / (1 - x))


@assert_shape("...->...")
class _ClippedScaling(tl.Layer):
    """x * sigmoid(s), elementwise over the last axis, with a learned
    vector s starting at inverse_sigmoid(residual_weight)."""

    def __init__(self, residual_weight):
        super().__init__(n_in=1, n_out=1)
        self._residual_weight = residual_weight

    def forward(self, x):
        return jnp.multiply(x, fastmath.expit(self.weights))

    def init_weights_and_state(self, input_signature):
        self.weights = (_inverse_sigmoid(self._residual_weight)
                        * np.ones(input_signature.shape[-1])
                        ).astype(np.float32)


@assert_shape("bld->bld")
def ResidualSwitchUnit(d_model, dropout=0.1, mode="train",  # pylint: disable=invalid-name
                       residual_weight=0.9):
    """The paper's residual switch unit: neighbouring positions paired into
    one vector i of 2 * d_model, then sigmoid(S) * i + h * (W GELU(LayerNorm(
    Z i)) + B), with h = sqrt(1 - residual_weight ** 2) / 4, unpaired, and
    dropout. The length must be even."""
    return tl.Serial(
        tl.Fn("Reshape2Pairs", lambda x: jnp.reshape(
            x, (x.shape[0], x.shape[1] // 2, -1)), n_out=1),
        tl.Residual(
            tl.Dense(4 * d_model, use_bias=False),
            tl.LayerNorm(),
            tl.Gelu(),
            tl.Dense(2 * d_model),
            tl.Fn("Scaling",
                  lambda x: x * np.sqrt(1 - residual_weight ** 2) * 0.25,
                  n_out=1),
            shortcut=_ClippedScaling(residual_weight)),
        tl.Fn("UnPair", lambda x: jnp.reshape(
            x, (x.shape[0], x.shape[1] * 2, -1)), n_out=1),
        tl.Dropout(rate=dropout, mode=mode))


def _ror(x, n, p=1):
    """``x``'s ``n``-bit values rotated right by ``p`` bits."""
    low = np.bitwise_and(x, np.left_shift(1, p) - 1)
    return np.right_shift(x, p) + np.left_shift(low, n - p)


def _rol(x, n, p=1):
    """``x``'s ``n``-bit values rotated left by ``p`` bits."""
    high = np.bitwise_and(np.left_shift(x, p), np.left_shift(1, n) - 1)
    return np.bitwise_or(high, np.right_shift(x, n - p))


def _n_bits(length):
    # Trax's count: the bits of length - 1, plus one.
    return np.int32(np.log(length - 1) / np.log(2.0)) + 1


def _shuffle_layer(inputs, shuffle_fn):
    """Positions (axis 1) permuted by rotating their indices' bits; indices
    past the end (lengths not a power of 2) take the last position."""
    length = inputs.shape[1]
    indices = shuffle_fn(np.arange(0, length).astype("int32"),
                         _n_bits(length))
    return jnp.take(inputs, indices, axis=1, mode="clip")


@assert_shape("bld->bld")
def ShuffleLayer():  # pylint: disable=invalid-name
    """The perfect shuffle: position i takes position rol(i)."""
    return tl.Fn("ShuffleLayer", lambda x: _shuffle_layer(x, _rol), n_out=1)


@assert_shape("bld->bld")
def ReverseShuffleLayer():  # pylint: disable=invalid-name
    """The inverse shuffle: position i takes position ror(i)."""
    return tl.Fn("ReverseShuffleLayer", lambda x: _shuffle_layer(x, _ror),
                 n_out=1)


@assert_shape("...,bld->...,bld")
def _ForwardStep(d_model, dropout, mode):  # pylint: disable=invalid-name
    """(step, state) -> (step, shuffle(rsu(state)))."""
    return tl.Parallel([], tl.Serial(
        ResidualSwitchUnit(d_model, dropout, mode), ShuffleLayer()))


@assert_shape("...,bld->...,bld")
def _BackwardStep(d_model, dropout, mode):  # pylint: disable=invalid-name
    """(step, state) -> (step, reverse_shuffle(rsu(state)))."""
    return tl.Parallel([], tl.Serial(
        ResidualSwitchUnit(d_model, dropout, mode), ReverseShuffleLayer()))


@assert_shape("bld->bld")
def BenesBlock(d_model, dropout, mode):  # pylint: disable=invalid-name
    """One forward step per bit of the length (scanned, one set of weights
    shared by the steps), then as many reverse steps."""
    def bit_sequence(inputs):
        return jnp.arange(0, _n_bits(inputs.shape[1]))
    return tl.Serial(
        tl.Dup(),
        tl.Fn("BitSeq", bit_sequence, n_out=1),
        tl.Scan(_ForwardStep(d_model, dropout, mode)),
        tl.Scan(_BackwardStep(d_model, dropout, mode)),
        tl.Select([1]),
    )


@assert_shape("bl->blv")
def ResidualShuffleExchange(vocab_size,  # pylint: disable=invalid-name
                            d_model,
                            input_dropout,
                            dropout,
                            mode="train",
                            n_blocks=2):
    """Token ids (batch, length) -> log-probabilities (batch, length,
    vocab_size); the length must be even (and at least 2)."""
    return tl.Serial(
        tl.Embedding(vocab_size, d_model),
        tl.Dropout(rate=input_dropout, mode=mode),
        *[BenesBlock(d_model, dropout, mode) for _ in range(n_blocks)],
        ResidualSwitchUnit(d_model, dropout, mode),
        tl.Dense(vocab_size),
        tl.LogSoftmax(),
    )
