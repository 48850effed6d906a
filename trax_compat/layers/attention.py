"""Trax's attention module: multi-head attention, causal attention with a
predict-mode key/value cache, masks, positional encoding and ShiftRight.

Modes as in Trax: 'train' (dropout and shifts on), 'eval' (dropout off),
'predict' (dropout and shifts off; decoding layers keep a cache as state so
that feeding a sequence in pieces gives the outputs of the whole).
"""

import jax
import jax.numpy as jnp
import numpy as np

from trax_compat.fastmath import random as trax_random
# The class itself: the package's name `assert_shape` is Trax's decorator.
from trax_compat.layers.assert_shape import AssertShape
from trax_compat.layers import base
from trax_compat.layers import combinators as cb
from trax_compat.layers import core
from trax_compat.layers import initializers as init
from trax_compat.layers.assert_shape import AssertFunction
from trax_compat.layers.functional import Fn


def _check_heads(d_feature, n_heads):
    if d_feature % n_heads != 0:
        raise ValueError(
            f"Dimensionality of feature embedding ({d_feature}) is not a "
            f"multiple of the requested number of attention heads "
            f"({n_heads}).")


class _ShapeChecked(base.Layer):
    """Checks inputs and outputs of ``forward`` against an einsum-like spec,
    as Trax's ``assert_shape`` does on a layer class: the two checkers are
    made before the layer (Trax's order of Python random draws) and are not
    sublayers, so the repr and weights stay the class's own. No spec, no
    checks."""

    _shape_spec = None

    def __init__(self, n_in=1, n_out=1):
        checks = None
        if self._shape_spec is not None:
            before, after = self._shape_spec.split("->")
            checks = (AssertShape(before), AssertShape(after))
        super().__init__(n_in=n_in, n_out=n_out)
        self._shape_checks = checks

    def _check_shapes(self, inputs, which):
        if self._shape_checks is not None:
            self._shape_checks[0 if which == "in" else 1].forward(inputs)


# -- Attention built from Dense layers -----------------------------------------

def Attention(d_feature, n_heads=1, dropout=0.0, mode="train"):  # pylint: disable=invalid-name
    """Multi-head self-attention: ``(x, mask) -> (new_x, mask)``; queries,
    keys and values are all computed from ``x``."""
    return AssertFunction("bld,b11l->bld,b11l", cb.Serial(
        cb.Select([0, 0, 0]),
        AttentionQKV(d_feature, n_heads=n_heads, dropout=dropout, mode=mode)))


def AttentionQKV(d_feature, n_heads=1, dropout=0.0, mode="train",  # pylint: disable=invalid-name
                 cache_KV_in_predict=False, q_sparsity=None,  # pylint: disable=invalid-name
                 result_sparsity=None):
    """Multi-head attention on separate sources: ``(q_in, k_in, v_in, mask)
    -> (new_x, mask)``; each input gets its own Dense, then PureAttention,
    then a final Dense. With ``cache_KV_in_predict`` the key and value
    Dense outputs are computed once in 'predict' mode (``Cache``)."""

    def q_or_result_layer(sparsity):
        if sparsity is None:
            return core.Dense(d_feature)
        if sparsity == "noop":
            return cb.Serial()
        # Trax's research layers: FactoredDense, then a convolution over
        # modules (kernel 3) and, causally, positions (3).
        from trax_compat.layers.research import sparsity as research  # pylint: disable=g-import-not-at-top
        return cb.Serial(
            research.FactoredDense(sparsity, d_feature, d_feature),
            research.LocallyConvDense(sparsity, d_feature // sparsity,
                                      mode=mode, kernel_size=3,
                                      length_kernel_size=3))

    def kv_layer():
        if cache_KV_in_predict and mode == "predict":
            cache = getattr(cb, "Cache", None)
            if cache is None:
                raise NotImplementedError(
                    "AttentionQKV(cache_KV_in_predict=True, mode='predict') "
                    "needs the Cache combinator, not in this version; pass "
                    "cache_KV_in_predict=False.")
            return cache(core.Dense(d_feature))
        return core.Dense(d_feature)

    return AssertFunction("bSq,blk,blv,b1xl->bSd,b1xl", cb.Serial(
        cb.Parallel(q_or_result_layer(q_sparsity),
                    kv_layer(), kv_layer()),
        PureAttention(n_heads=n_heads, dropout=dropout, mode=mode),
        q_or_result_layer(result_sparsity)))


def _split_heads(x, n_heads, merged_batch_and_head):
    """(batch, length, d) -> (batch * heads, length, d / heads), or
    (batch, heads, length, d / heads) unmerged."""
    batch_size, seq_len, d_feature = x.shape
    if d_feature % n_heads != 0:
        raise ValueError(
            f"Feature embedding dimensionality ({d_feature}) is not a "
            f"multiple of the requested number of attention heads "
            f"({n_heads}).")
    d_head = d_feature // n_heads
    x = x.reshape((batch_size, seq_len, n_heads, d_head)).transpose(
        (0, 2, 1, 3))
    if merged_batch_and_head:
        x = x.reshape((batch_size * n_heads, seq_len, d_head))
    return x


def _merge_heads(x, n_heads, merged_batch_and_head):
    """The inverse of ``_split_heads``."""
    if merged_batch_and_head:
        dim_0, seq_len, d_head = x.shape
        if dim_0 % n_heads != 0:
            raise ValueError(
                f"Array's leading dimension ({dim_0}) is not a multiple of "
                f"the number of attention heads ({n_heads}).")
        batch_size = dim_0 // n_heads
        x = x.reshape((batch_size, n_heads, seq_len, d_head))
    else:
        batch_size, _, seq_len, d_head = x.shape
    return x.transpose((0, 2, 1, 3)).reshape(
        (batch_size, seq_len, n_heads * d_head))


@jax.custom_vjp
def _softmax(x):
    """Softmax over the last axis computed as Trax does, exp(x -
    logsumexp(x)), so the strengths round as Trax's do."""
    return jnp.exp(x - jax.scipy.special.logsumexp(x, axis=-1, keepdims=True))


def _softmax_fwd(x):
    y = _softmax(x)
    return y, y


def _softmax_bwd(y, g):
    # The softmax's own Jacobian-vector product, from its outputs: cheaper
    # than differentiating through exp and logsumexp, and equal to it up
    # to rounding.
    return (y * (g - jnp.sum(g * y, axis=-1, keepdims=True)),)


_softmax.defvjp(_softmax_fwd, _softmax_bwd)


def _per_head_attention(queries, keys, values, mask, dropout, mode, rng):
    """Scaled dot-product attention on per-head arrays; returns the new
    activations and the attention strengths. Masked positions get -1e9
    before the softmax; dropout (train mode only) zeroes strengths."""
    if dropout >= 1.0:
        raise ValueError(f"Dropout rate ({dropout}) must be lower than 1.")
    d_head = queries.shape[-1]
    dots = jnp.matmul(queries, jnp.swapaxes(keys, -1, -2)) / jnp.sqrt(d_head)
    if mask is not None:
        dots = jnp.where(mask, dots, jnp.full_like(dots, -1e9))
    strengths = _softmax(dots)
    if dropout is not None and dropout > 0.0 and mode == "train":
        keep = trax_random.bernoulli(rng, 1.0 - dropout, strengths.shape)
        strengths = jnp.where(keep, strengths / (1.0 - dropout),
                              jnp.zeros_like(strengths))
    activations = jnp.matmul(strengths, values).astype(jnp.float32)
    return activations, strengths.astype(jnp.float32)


class _AttentionCore(_ShapeChecked):
    """Shared by the attention classes: ``dropout`` and ``mode``, and in
    'viz' mode the attention strengths kept as state."""

    def __init__(self, n_in, n_out, dropout, mode):
        super().__init__(n_in=n_in, n_out=n_out)
        self._dropout = dropout
        self._mode = mode

    def _attend(self, q, k, v, mask):
        activations, strengths = _per_head_attention(
            q, k, v, mask, dropout=self._dropout, mode=self._mode,
            rng=self.rng)
        if self._mode == "viz":
            self.state = strengths
        return activations


class PureAttention(_AttentionCore):
    """``(Q, K, V, mask) -> (activations, mask)``: splits Q, K and V into
    ``n_heads`` heads, attends per head and merges the heads; no weights."""

    _shape_spec = "blq,bkq,bkd,b1xk->bld,b1xk"

    def __init__(self, n_heads=1, dropout=0.0, mode="train"):
        super().__init__(4, 2, dropout, mode)
        self._n_heads = n_heads

    def forward(self, inputs):
        self._check_shapes(inputs, "in")
        q, k, v, mask = inputs
        _check_heads(q.shape[-1], self._n_heads)
        split = [_split_heads(a, self._n_heads, False) for a in (q, k, v)]
        results = self._attend(*split, mask)
        outputs = (_merge_heads(results, self._n_heads, False), mask)
        self._check_shapes(outputs, "out")
        return outputs


class DotProductAttention(_AttentionCore):
    """``(Q, K, V, mask) -> activations`` on arrays already split into heads
    (Trax's ``trax.layers.attention.DotProductAttention``)."""

    def __init__(self, dropout=0.0, mode="train"):
        super().__init__(4, 1, dropout, mode)

    def forward(self, inputs):
        return self._attend(*inputs)


def SplitIntoHeads(n_heads, merged_batch_and_head=True):  # pylint: disable=invalid-name
    """(batch, length, d) -> (batch * n_heads, length, d / n_heads); with
    ``merged_batch_and_head=False`` (batch, n_heads, length, d / n_heads)."""
    return AssertFunction("bld->...lh", Fn(
        "SplitIntoHeads",
        lambda x: _split_heads(x, n_heads, merged_batch_and_head)))


def MergeHeads(n_heads, merged_batch_and_head=True):  # pylint: disable=invalid-name
    """The inverse of ``SplitIntoHeads``: heads back into the last axis."""
    return AssertFunction("...lh->bld", Fn(
        "MergeHeads",
        lambda x: _merge_heads(x, n_heads, merged_batch_and_head)))


def ConfigurableAttention(q_layer, k_layer, v_layer, final_layer,  # pylint: disable=invalid-name
                          qkv_attention_layer, n_heads=1):
    """Multi-head attention from given parts: ``q_layer``, ``k_layer`` and
    ``v_layer`` on copies of the input, each split into heads, then
    ``qkv_attention_layer``, the heads merged, then ``final_layer``."""
    return AssertFunction("bld->bld", cb.Serial(
        cb.Branch([q_layer, SplitIntoHeads(n_heads)],
                  [k_layer, SplitIntoHeads(n_heads)],
                  [v_layer, SplitIntoHeads(n_heads)]),
        qkv_attention_layer,
        MergeHeads(n_heads),
        final_layer))


def CausalAttention(d_feature, n_heads=1, dropout=0.0,  # pylint: disable=invalid-name
                    max_inference_length=2048, use_dconv=False, mode="train"):
    """Multi-head self-attention where each position sees only itself and
    earlier positions. In 'predict' mode it keeps the keys and values seen
    so far (up to ``max_inference_length``) as state."""
    _check_heads(d_feature, n_heads)

    def qkv_layer():
        if not use_dconv:
            return core.Dense(d_feature)
        from trax_compat.layers import convolution  # pylint: disable=g-import-not-at-top
        conv = getattr(convolution, "CausalDepthwiseConv", None)
        if conv is None:
            raise NotImplementedError(
                "CausalAttention(use_dconv=True) needs CausalDepthwiseConv, "
                "not in this version; pass use_dconv=False.")
        return cb.Serial(core.Dense(d_feature), conv())

    # Trax asserts the shapes here and again in ConfigurableAttention.
    return AssertFunction("bld->bld", ConfigurableAttention(
        qkv_layer(), qkv_layer(), qkv_layer(), core.Dense(d_feature),
        n_heads=n_heads,
        qkv_attention_layer=DotProductCausalAttention(
            dropout=dropout, max_inference_length=max_inference_length,
            mode=mode)))


class DotProductCausalAttention(_AttentionCore):
    """``(Q, K, V) -> activations`` (per head) with a causal mask. In
    'predict' mode its state is ``(keys, values, index)``: buffers of
    ``max_inference_length`` positions filled as the pieces arrive."""

    _shape_spec = "bld,bld,bld->bld"

    def __init__(self, dropout=0.0, max_inference_length=2048, mode="train"):
        super().__init__(3, 1, dropout, mode)
        self._max_len = max_inference_length
        # Trax's hook through which the Terraformer lends its encoder
        # padding mask (an object with get_value()) in 'predict' mode.
        self._portal_mask = self.monkey_patched_mask()  # pylint: disable=assignment-from-none

    def monkey_patched_mask(self):
        return None

    @property
    def state_names(self):
        if self._mode == "predict":
            names = ("cached_key", "cached_value", "cache_index")
            if self._portal_mask is not None:
                names = ("predict_mask",) + names
            return names
        return "state"

    def forward(self, inputs):
        self._check_shapes(inputs, "in")
        q, k, v = inputs
        if self._mode == "predict":
            portal = self._portal_mask is not None
            index = self.state[3 if portal else 2]
            _check_room(index, k.shape[1], self._max_len,
                        "DotProductCausalAttention", "max_inference_length")
            if portal:
                self.state, mask = _cache_update_with_mask(
                    inputs, self.state, self._portal_mask.get_value())
                _, k, v, _ = self.state
            else:
                self.state, mask = _cache_update(inputs, self.state)
                k, v, _ = self.state
        else:
            length = q.shape[-2]
            mask = jnp.tril(jnp.ones((1, length, length), dtype=np.bool_))
        activations = self._attend(q, k, v, mask)
        self._check_shapes(activations, "out")
        return activations

    def init_weights_and_state(self, input_signature):
        if self._mode != "predict":
            return
        batch_size = input_signature[0].shape[0]

        def buffer(sig):
            return jnp.zeros((batch_size, self._max_len, sig.shape[-1]),
                             dtype=sig.dtype)

        state = (buffer(input_signature[1]), buffer(input_signature[2]),
                 jnp.array(0))
        if self._portal_mask is not None:
            # Which cached positions may be attended to (see below).
            state = (jnp.zeros((self._max_len,), dtype=np.bool_),) + state
        self.state = state


def _check_room(index, length, capacity, layer_name, argument):
    """Refuses a predict-mode piece that runs past the buffers (JAX would
    clamp the write and silently give wrong outputs, as in Trax). Only
    where the position is known, i.e. outside jit."""
    if isinstance(index, jax.core.Tracer):
        return
    end = int(index) + length
    if end > capacity:
        raise ValueError(
            f"{layer_name} in predict mode holds {argument}={capacity} "
            f"positions; this input of length {length} at position "
            f"{int(index)} runs to {end}. Create the layer with a larger "
            f"{argument}, or reset its state to start a new sequence.")


def _cache_update(inputs, state):
    """Writes the new keys and values at the cache index; returns the new
    state and the mask letting each new query see the positions up to its
    own."""
    _, new_k, new_v = inputs
    ks, vs, index = state
    length = new_k.shape[1]
    ks = jax.lax.dynamic_update_slice_in_dim(ks, new_k, index, axis=1)
    vs = jax.lax.dynamic_update_slice_in_dim(vs, new_v, index, axis=1)
    k_length = ks.shape[1]
    mask = (jnp.arange(k_length).reshape((1, 1, k_length))
            <= (jnp.arange(length) + index).reshape((1, length, 1)))
    return (ks, vs, index + length), mask


def _cache_update_with_mask(inputs, state, padding_mask):
    """``_cache_update`` for the Terraformer's joined encoder-decoder
    sequence, whose first predict call holds the encoder's positions with
    their padding: a per-position flag (shared by the batch, as in Trax)
    lets a query see only the encoder's real tokens, the first decoder
    position and every position written since. As in Trax, the flags take
    the padding mask flattened over the batch, so they are exact for a
    batch of one."""
    allowed, ks, vs, index = state
    (ks, vs, new_index), mask = _cache_update(inputs, (ks, vs, index))
    flat = padding_mask.reshape((-1,)) != 0
    allowed = jax.lax.dynamic_update_slice_in_dim(allowed, flat, 0, axis=0)
    true = jnp.ones((1,), dtype=np.bool_)
    first_decoder = jnp.sum(padding_mask, dtype=jnp.int32)
    allowed = jax.lax.dynamic_update_slice_in_dim(allowed, true,
                                                  first_decoder, axis=0)
    allowed = jax.lax.dynamic_update_slice_in_dim(allowed, true, index,
                                                  axis=0)
    mask = mask * allowed.reshape((1, 1, -1))
    return (allowed, ks, vs, new_index), mask


# -- sequence helpers and masks ------------------------------------------------

def ShiftRight(n_positions=1, mode="train"):  # pylint: disable=invalid-name
    """Shifts axis 1 right by ``n_positions``, filling with zeros (a no-op
    in 'predict' mode); wrapped in shape asserts as in Trax."""
    def f(x):
        if mode == "predict":
            return x
        pad = [(0, 0)] * len(x.shape)
        pad[1] = (n_positions, 0)
        padded = jnp.pad(x, pad, mode="constant", constant_values=0)
        return padded[:, :-n_positions]
    return AssertFunction("...->...", Fn(f"ShiftRight({n_positions})", f))


def _require_rank(x, rank, what, axes):
    if len(x.shape) != rank:
        raise ValueError(f"{what} must be a {rank}-D array with shape {axes}; "
                         f"instead got shape {x.shape}.")


def PaddingMask(pad=0):  # pylint: disable=invalid-name
    """Integer sequences (batch, length) -> boolean mask (batch, 1, 1,
    length), False where the id is ``pad``."""
    def f(x):
        _require_rank(x, 2, "Input to PaddingMask",
                      "(batch_size, sequence_length)")
        return (x != pad).reshape((x.shape[0], 1, 1, x.shape[1]))
    return AssertFunction("bs->b11l", Fn(f"PaddingMask({pad})", f))


def EncoderDecoderMask():  # pylint: disable=invalid-name
    """``(decoder activations, encoder padding mask)`` -> mask of shape
    (batch, 1, decoder length, encoder length) for cross attention."""
    def f(decoder_input, mask):
        _require_rank(decoder_input, 3, "Decoder input to EncoderDecoderMask",
                      "(batch_size, decoder_sequence_length, d_model)")
        mask = mask.reshape((mask.shape[0], 1, 1, mask.shape[-1]))
        # Float, as in Trax: a boolean mask plus float zeros.
        return mask + jnp.zeros((1, 1, decoder_input.shape[1], 1))
    return Fn("EncoderDecoderMask", f)


# -- positional encoding -------------------------------------------------------

class PositionalEncoding(_ShapeChecked):
    """Adds sinusoidal position vectors (trainable weights, shape (max_len,
    d)) to the input. With ``d_feature`` the table is ``d_feature`` wide and
    a Dense-like kernel maps it to the input's width. In 'predict' mode the
    state is the next position, so pieces of a sequence get their own
    positions. Train mode only: ``dropout`` leaves out the encoding at
    random positions; ``start_from_zero_prob`` < 1 starts at a random offset
    below ``max_offset_to_add``."""

    _shape_spec = "...d->...d"

    def __init__(self, max_len=2048, dropout=0.0, dropout_broadcast_dims=(-2,),
                 use_bfloat16=False, start_from_zero_prob=1.0,
                 max_offset_to_add=0, d_feature=None, mode="train"):
        super().__init__()
        if dropout >= 1.0:
            raise ValueError("Dropout rates must be lower than 1.")
        self._max_len = max_len
        self._dropout = dropout if mode == "train" else 0.0
        self._dropout_broadcast_dims = dropout_broadcast_dims
        self._use_bfloat16 = use_bfloat16
        self._start_from_zero_prob = start_from_zero_prob
        self._max_offset_to_add = max_offset_to_add
        self._d_feature = d_feature
        self._mode = mode

    @property
    def weight_names(self):
        if self._d_feature is None:
            return "encoding"
        return ("encoding", "kernel")

    state_names = "index"

    def _table(self, length):
        """The encodings as (1, positions, d)."""
        table = self.weights
        if self._d_feature is not None:
            table, kernel = table
            table = jnp.dot(table[:length, :], kernel)
        if len(table.shape) < 3:  # older checkpoints store (1, max_len, d)
            table = table[None, :, :]
        return table

    def forward(self, inputs):
        self._check_shapes(inputs, "in")
        outputs = (self._predict_step(inputs) if self._mode == "predict"
                   else self._add_encoding(inputs))
        self._check_shapes(outputs, "out")
        return outputs

    def _add_encoding(self, x):
        length = x.shape[1]
        table = self._table(length)
        if self._mode != "train" or self._start_from_zero_prob >= 1.0:
            px = table[:, :length, :]
        else:
            rng_start, rng_zero = trax_random.split(self.rng, 2)
            start = trax_random.randint(rng_start, (), 0,
                                        self._max_offset_to_add)
            from_zero = trax_random.uniform(rng_zero, (), jnp.float32, 0, 1)
            start = jnp.where(from_zero < self._start_from_zero_prob,
                              jnp.zeros((), dtype=jnp.int32), start)
            px = jax.lax.dynamic_slice_in_dim(table, start, length, axis=1)
        if self._dropout == 0:
            return x + px
        noise_shape = list(px.shape)
        for dim in self._dropout_broadcast_dims:
            noise_shape[dim] = 1
        keep_prob = 1.0 - self._dropout
        keep = trax_random.bernoulli(self.rng, keep_prob, tuple(noise_shape))
        return x + px * (keep.astype(x.dtype) / keep_prob)

    def _predict_step(self, x):
        if self._dropout != 0:
            raise ValueError(f"In predict mode, but dropout rate "
                             f"({self._dropout}) is not zero.")
        # As Trax: with d_feature, the table is cut to this piece's length
        # before the kernel, then sliced at the current position.
        _check_room(self.state, x.shape[1], self._max_len,
                    "PositionalEncoding", "max_len")
        table = self._table(x.shape[1])
        emb = jax.lax.dynamic_slice_in_dim(table, self.state, x.shape[1],
                                           axis=1)
        self.state = self.state + x.shape[1]
        return x + emb

    def init_weights_and_state(self, input_signature):
        d_input = input_signature.shape[-1]
        d_feature = d_input if self._d_feature is None else self._d_feature
        # Computed in NumPy float64, stored float32: Trax's exact values.
        table = np.zeros((self._max_len, d_feature), dtype=np.float32)
        position = np.arange(0, self._max_len)[:, np.newaxis]
        div_term = np.exp(np.arange(0, d_feature, 2)
                          * -(np.log(10000.0) / d_feature))
        table[:, 0::2] = np.sin(position * div_term)
        table[:, 1::2] = np.cos(position * div_term)
        if self._use_bfloat16:
            table = table.astype(jnp.bfloat16)
        table = jnp.array(table)
        if self._d_feature is not None:
            kernel = init.GlorotUniformInitializer()(
                (d_feature, d_input), self.rng)
            self.weights = (table, kernel)
        else:
            self.weights = table
        if self._mode == "predict":
            self.state = jnp.zeros((), dtype=jnp.int32)
