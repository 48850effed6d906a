"""Trax's research positional encodings (``trax.layers.research.
position_encodings``), which ``ReformerLM``, ``Reformer`` and the
Terraformer pick with ``pos_type``: axial (learned, one table per axis),
sin-cos (fixed) and fixed-base (learned vectors scaled by the digits of the
position in several bases). In 'predict' mode each keeps the next position
as its state, so a sequence fed in pieces gets the positions of the whole.
"""

import jax
import jax.numpy as jnp
import numpy as np

from trax_compat.fastmath import random as trax_random
from trax_compat.layers import base
from trax_compat.layers import initializers as init


def _check_dropout(dropout):
    if dropout >= 1.0:
        raise ValueError(f"Dropout rates must be lower than 1 (got "
                         f"dropout={dropout}).")


def _broadcast_dropout(rng, values, rate, broadcast_dims):
    """``values`` with whole slices (along ``broadcast_dims``) zeroed at
    rate ``rate`` and the rest scaled up by 1 / (1 - rate)."""
    noise_shape = list(values.shape)
    for dim in broadcast_dims:
        noise_shape[dim] = 1
    keep_prob = 1.0 - rate
    keep = trax_random.bernoulli(rng, keep_prob, tuple(noise_shape))
    return values * (keep.astype(values.dtype) / keep_prob)


class AxialPositionalEncoding(base.Layer):
    """Adds learned position vectors built from one table per axis of
    ``shape`` (the positions laid out row-major on that grid); the tables
    are ``d_embs`` wide and concatenated, so ``sum(d_embs)`` must be the
    input's width. Inputs must be exactly ``prod(shape)`` long outside
    'predict' mode."""

    def __init__(self, shape=(64, 64, 3), d_embs=(384, 384, 256),
                 kernel_initializer=init.RandomNormalInitializer(1.0),
                 dropout=0.0, dropout_broadcast_dims=(), mode="train"):
        super().__init__()
        if len(shape) != len(d_embs):
            raise ValueError(
                f"AxialPositionalEncoding needs one width per axis: shape="
                f"{tuple(shape)} has {len(shape)} axes but d_embs="
                f"{tuple(d_embs)} has {len(d_embs)} entries.")
        _check_dropout(dropout)
        self._kernel_initializer = kernel_initializer
        self._shape = tuple(shape)
        self._d_embs = tuple(d_embs)
        self._dropout = dropout if mode == "train" else 0.0
        self._dropout_broadcast_dims = dropout_broadcast_dims
        self._mode = mode

    def _grid(self, batch_size):
        """Each axis table broadcast over the whole grid, (batch, *shape,
        d_emb)."""
        return [jnp.broadcast_to(table, (batch_size,) + self._shape
                                 + (table.shape[-1],))
                for table in self.weights]

    def forward(self, inputs):
        grids = self._grid(inputs.shape[0])
        if self._mode == "predict":
            emb = jnp.concatenate(grids, -1)
            emb = jnp.reshape(emb, (inputs.shape[0], -1, emb.shape[-1]))
            emb = jax.lax.dynamic_slice_in_dim(emb, self.state,
                                               inputs.shape[1], axis=1)
            self.state = self.state + inputs.shape[1]
            return inputs + emb
        if self._dropout == 0:
            return inputs + jnp.concatenate(
                [jnp.reshape(g, inputs.shape[:-1] + (g.shape[-1],))
                 for g in grids], -1)
        emb = _broadcast_dropout(self.rng, jnp.concatenate(grids, -1),
                                 self._dropout, self._dropout_broadcast_dims)
        return inputs + jnp.reshape(emb, inputs.shape)

    def init_weights_and_state(self, input_signature):
        d_feature = input_signature.shape[-1]
        if sum(self._d_embs) != d_feature:
            raise ValueError(
                f"AxialPositionalEncoding: the widths d_embs={self._d_embs} "
                f"sum to {sum(self._d_embs)}, but the input is {d_feature} "
                f"wide; make them sum to the model width.")
        rngs = trax_random.split(self.rng, len(self._d_embs))
        tables = []
        for axis, (rng, d_emb) in enumerate(zip(rngs, self._d_embs)):
            table_shape = [1] * len(self._shape)
            table_shape[axis] = self._shape[axis]
            tables.append(self._kernel_initializer(
                (1,) + tuple(table_shape) + (d_emb,), rng))
        if self._mode == "predict":
            self.state = np.array(0, dtype=np.int32)
        self.weights = tuple(tables)


class SinCosPositionalEncoding(base.Layer):
    """Adds the fixed sin-cos encoding of each position (sines in the first
    half of the features, cosines in the second). In training the positions
    start at a random offset below ``add_offset`` except one time in
    ``start_from_zero_one_in``, and ``dropout`` leaves the encoding out of
    whole positions."""

    def __init__(self, add_offset=2048, dropout=0.0,
                 dropout_broadcast_dims=(-2,), start_from_zero_one_in=2,
                 mode="train"):
        super().__init__()
        _check_dropout(dropout)
        self._add_offset = add_offset
        self._dropout = dropout if mode == "train" else 0.0
        self._dropout_broadcast_dims = dropout_broadcast_dims
        self._start_from_zero_one_in = start_from_zero_one_in
        self._mode = mode

    @staticmethod
    def _sincos(start, length, d_feature):
        """The encodings of positions start .. start + length, (1, length,
        d_feature)."""
        position = jnp.arange(0, length)[:, None] + start
        rates = jnp.exp(jnp.arange(0, d_feature, 2)
                        * -(jnp.log(10000.0) / d_feature))
        table = jnp.concatenate([jnp.sin(position * rates),
                                 jnp.cos(position * rates)], axis=1)
        return table[None, :, :]

    def forward(self, inputs):
        length, d_feature = inputs.shape[1], inputs.shape[2]
        if self._mode == "predict":
            if self._dropout != 0:
                raise ValueError(f"In predict mode, but dropout rate "
                                 f"({self._dropout}) is not zero.")
            table = self._sincos(self.state, length, d_feature)
            self.state = self.state + length
            return inputs + table
        start = 0
        if self._mode == "train":
            rng_start, rng_zero = trax_random.split(self.rng, 2)
            start = trax_random.randint(rng_start, (), 0, self._add_offset)
            nonzero = trax_random.randint(rng_zero, (), 0,
                                          self._start_from_zero_one_in)
            start = start * jnp.minimum(1, nonzero)
        table = self._sincos(start, length, d_feature)
        if self._dropout == 0:
            return inputs + table
        return inputs + _broadcast_dropout(self.rng, table, self._dropout,
                                           self._dropout_broadcast_dims)

    def init_weights_and_state(self, input_signature):
        del input_signature
        if self._mode == "predict":
            self.state = jnp.zeros((), dtype=jnp.int32)


class FixedBasePositionalEncoding(base.Layer):
    """Adds, for each base in ``bases`` and each of the ``n_digits`` lowest
    digits of the position in that base, the digit times a learned vector
    (d / n_digits wide; the digits' vectors are concatenated and the bases
    summed), plus a learned start vector at the first position. In training
    the positions start at a random offset except one time in
    ``start_from_zero_one_in``, and each base is left out of a whole example
    one time in ``base_dropout_one_in``."""

    def __init__(self, bases=(11, 13, 14, 15), n_digits=8,
                 start_from_zero_one_in=2, base_dropout_one_in=100,
                 mode="train", initializer=init.RandomUniformInitializer(1e-4)):
        super().__init__()
        self._bases = list(bases)
        self._n_digits = n_digits
        self._start_from_zero_one_in = start_from_zero_one_in
        self._base_dropout_one_in = base_dropout_one_in
        self._mode = mode
        self._initializer = initializer

    def forward(self, x):
        base_weights, start_vec = self.weights
        batch_size, length = x.shape[0], x.shape[1]
        max_pos = min(self._bases) ** self._n_digits
        if length >= max_pos:
            raise ValueError(
                f"FixedBasePositionalEncoding encodes positions below "
                f"{max_pos} (min(bases) ** n_digits); this input is {length} "
                f"long. Use more digits or larger bases.")
        rng_zero, rng_start, rng_drop = trax_random.split(self.rng, 3)
        positions = jnp.arange(0, length)[None, :]
        if self._mode == "train":
            nonzero = trax_random.randint(
                rng_zero, (batch_size,), 0, self._start_from_zero_one_in)
            start = trax_random.randint(rng_start, (batch_size,), 0,
                                        max_pos - length)
            positions = positions + (start * jnp.minimum(1, nonzero))[:, None]
        if self._mode == "predict":
            positions = positions + self.state
        total = 0
        for digit_vectors, number_base in zip(base_weights, self._bases):
            digits, rest = [], positions
            for vector in digit_vectors:
                digit = jnp.mod(rest, number_base)
                rest = rest // number_base
                digits.append(digit.astype(jnp.float32)[:, :, None] * vector)
            embeddings = jnp.concatenate(digits, axis=-1)
            if self._mode == "train":
                # The same key for every base, as in Trax.
                keep = trax_random.randint(rng_drop, (batch_size,), 0,
                                           self._base_dropout_one_in)
                keep = jnp.minimum(1, keep).astype(jnp.float32)
                embeddings = embeddings * keep[:, None, None]
            total = total + embeddings
        first = total[:, :1, :]
        marked = first + start_vec
        if self._mode == "predict":
            # Only the sequence's real first position gets the start vector.
            marked = jnp.where(jnp.equal(self.state, 0), marked, first)
            self.state = self.state + length
        return x + jnp.concatenate([marked, total[:, 1:, :]], axis=1)

    def init_weights_and_state(self, input_signature):
        d_feature = input_signature.shape[-1]
        if d_feature % self._n_digits != 0:
            raise ValueError(
                f"FixedBasePositionalEncoding splits the width among "
                f"n_digits={self._n_digits} digits, but the input is "
                f"{d_feature} wide; use a width divisible by n_digits.")
        d_digit = d_feature // self._n_digits
        rng_digits, rng_start = trax_random.split(self.rng, 2)
        # Every base starts from the same keys (as in Trax), so the bases'
        # initial vectors are equal.
        base_weights = [[self._initializer((1, d_digit), rng)
                         for rng in trax_random.split(rng_digits,
                                                      self._n_digits)]
                        for _ in self._bases]
        start_vec = self._initializer((1, 1, d_feature), rng_start)
        self.weights = (base_weights, start_vec)
        if self._mode == "predict":
            self.state = jnp.zeros((), dtype=jnp.int32)
