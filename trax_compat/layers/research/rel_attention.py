"""Trax's relative attention (``trax.layers.research.rel_attention``): the
Transformer-XL parametrisation (content and position terms with two global
biases shared by every layer), in the form the Funnel Transformer and the
Hourglass language model use it, where queries may be shorter (pooled) or
longer (upsampled) than keys by a whole factor.

Positions are sinusoidal embeddings of the relative distances, in units of
the original tokens (``total_kv_pooling`` tokens per key); the position
scores are realigned with the usual pad-reshape shift, generalised to
funnel factors. The language-model layer adds a causal mask that follows
the funnel factor.
"""

import jax.numpy as jnp

from trax_compat import fastmath
from trax_compat.layers import base
from trax_compat.layers import combinators as cb
from trax_compat.layers import core
from trax_compat.layers import initializers as init
from trax_compat.layers.assert_shape import assert_shape


def RelativeAttentionWrapper(d_feature,  # pylint: disable=invalid-name
                             n_heads=1,
                             dropout=0.0,
                             max_inference_length=2048,
                             mode="train",
                             context_bias_layer=None,
                             location_bias_layer=None,
                             total_pooling=None):
    """Causal relative self-attention with the signature of Trax's attention
    layers (one input), so that models can take it as their attention
    type; ``max_inference_length`` is accepted and unused."""
    del max_inference_length
    attention = RelativeAttentionLMLayer(
        d_feature, context_bias_layer, location_bias_layer, total_pooling,
        n_heads=n_heads, dropout=dropout, mode=mode)
    return cb.Serial(cb.Select([0, 0, 0]), attention)


def get_rel_att_inputs(d_model, n_heads):
    """The (context bias, location bias) weight layers, each of shape
    (1, n_heads, 1, d_model // n_heads): build them once and pass the same
    two layers to every relative attention layer of a model, which then
    share their weights."""
    if d_model % n_heads or d_model % 2:
        raise ValueError(f"Relative attention needs an even d_model that "
                         f"n_heads divides (got d_model={d_model}, "
                         f"n_heads={n_heads}).")
    shape = (1, n_heads, 1, d_model // n_heads)
    initializer = init.RandomNormalInitializer(1e-6)
    return (core.Weights(initializer, shape=shape),
            core.Weights(initializer, shape=shape))


@assert_shape("bSq,blk,blv,b1xl->bSd,b1xl")
def RelativeAttentionLayer(d_feature,  # pylint: disable=invalid-name
                           context_bias_layer,
                           location_bias_layer,
                           total_kv_pooling,
                           separate_cls,
                           n_heads=1,
                           dropout=0.0,
                           mode="train"):
    """(queries, keys, values, mask) -> (activations, mask): positional
    embeddings from the query and key lengths, Dense projections of them
    and of q, k, v, the two shared biases, attention and an output Dense."""
    return cb.Serial(
        cb.Branch(
            PositionalEmbeddings(d_feature, separate_cls, total_kv_pooling),
            cb.Select([0]), cb.Select([1])),
        cb.Parallel(core.Dense(d_feature), core.Dense(d_feature),
                    core.Dense(d_feature), core.Dense(d_feature)),
        context_bias_layer,
        location_bias_layer,
        RelativeAttention(separate_cls=separate_cls, n_heads=n_heads,
                          dropout=dropout, mode=mode),
        core.Dense(d_feature),
    )


@assert_shape("bSq,blk,blv->bSd")
def RelativeAttentionLMLayer(d_feature,  # pylint: disable=invalid-name
                             context_bias_layer,
                             location_bias_layer,
                             total_kv_pooling,
                             separate_cls=False,
                             n_heads=1,
                             dropout=0.0,
                             mode="train"):
    """(queries, keys, values) -> activations, causally masked (the mask
    built from the two lengths, see :func:`CreateAttentionMaskLayer`)."""
    attention = RelativeAttentionLayer(
        d_feature, context_bias_layer, location_bias_layer,
        total_kv_pooling, separate_cls, n_heads=n_heads, dropout=dropout,
        mode=mode)
    return cb.Serial(CreateAttentionMaskLayer(), attention,
                     cb.Select([0], n_in=2))


def _heads(x, n_heads):
    """(batch, length, d) -> (batch, n_heads, length, d // n_heads)."""
    batch, length, depth = x.shape
    return x.reshape(batch, length, n_heads, depth // n_heads).transpose(
        0, 2, 1, 3)


def _merge(x):
    """(batch, n_heads, length, d_head) -> (batch, length, n_heads * d_head)."""
    batch, n_heads, length, d_head = x.shape
    return x.transpose(0, 2, 1, 3).reshape(batch, length, n_heads * d_head)


class RelativeAttention(base.Layer):
    """(location bias, context bias, position embeddings, q, k, v, mask) ->
    (activations, mask): multi-head attention whose scores add a content
    term (queries plus context bias against keys) and a position term
    (queries plus location bias against the position embeddings), masked,
    softmaxed, with dropout in 'train' mode. In 'viz' mode the state keeps
    the attention weights."""

    def __init__(self, separate_cls, n_heads=1, dropout=0.0, mode="train"):
        super().__init__(n_in=7, n_out=2)
        self._separate_cls = separate_cls
        self._n_heads = n_heads
        self._dropout = dropout
        self._mode = mode

    def forward(self, inputs):
        location_bias, context_bias, pos_emb, q, k, v, mask = inputs
        d_feature, n_heads = q.shape[-1], self._n_heads
        if d_feature % n_heads:
            raise ValueError(
                f"Dimensionality of feature embedding ({d_feature}) is not a "
                f"multiple of the requested number of attention heads "
                f"({n_heads}).")
        out, dots = DotProductAttention(
            _heads(q, n_heads), _heads(k, n_heads), _heads(v, n_heads),
            pos_emb.reshape((-1, n_heads, d_feature // n_heads)),
            context_bias, location_bias, mask,
            separate_cls=self._separate_cls, dropout=self._dropout,
            mode=self._mode, rng=self.rng)
        if self._mode == "viz":
            self.state = dots
        return _merge(out), mask


def DotProductAttention(queries, keys, values, pos_emb, context_bias,  # pylint: disable=invalid-name
                        location_bias, mask, separate_cls, dropout, mode,
                        rng):
    """Per-head relative attention: (activations, attention weights), both
    float32. Inputs are (batch, heads, length, d_head), ``pos_emb`` is
    (positions, heads, d_head)."""
    d_head = queries.shape[-1]
    funnel_factor, is_upsampling = calc_funnel_ratio(keys.shape[-2],
                                                     queries.shape[-2])
    content = jnp.einsum("bnid,bnjd->bnij", queries + context_bias, keys)
    position = jnp.einsum("bnid,jnd->bnij", queries + location_bias, pos_emb)
    position = _fast_matrix_shift(position, funnel_factor, is_upsampling)
    if separate_cls:  # the first token attends, and is attended, by content
        position = position.at[:, :, :, 0].set(0)
        position = position.at[:, :, 0, :].set(0)
    dots = (content + position) / jnp.sqrt(d_head)
    if mask is not None:
        dots = jnp.where(mask, dots, jnp.full_like(dots, -1e9))
    dots = jnp.exp(dots - fastmath.logsumexp(dots, axis=-1, keepdims=True))
    if dropout >= 1.0:
        raise ValueError(f"Dropout rates must be lower than 1 (got "
                         f"dropout={dropout}).")
    if dropout is not None and dropout > 0.0 and mode == "train":
        keep = fastmath.random.bernoulli(rng, 1.0 - dropout, dots.shape)
        dots = jnp.where(keep, dots / (1.0 - dropout), jnp.zeros_like(dots))
    out = jnp.matmul(dots, values)
    return out.astype(jnp.float32), dots.astype(jnp.float32)


def PositionalEmbeddings(d_feature, separate_cls, total_kv_pooling):  # pylint: disable=invalid-name
    """(queries, keys) -> sinusoidal embeddings (positions, d_feature) of
    the relative distances between them, in original-token units: the
    key offsets when lengths agree, else every distance that a query can
    have to a key under the funnel factor."""

    def distances(queries, keys):
        if separate_cls:
            raise NotImplementedError(
                "PositionalEmbeddings(separate_cls=True) is not available "
                "(Trax's code refuses it too); use separate_cls=False.")
        keys_len, queries_len = keys.shape[-2], queries.shape[-2]
        funnel_factor, is_upsampling = calc_funnel_ratio(keys_len,
                                                         queries_len)
        if funnel_factor == 1:
            return (jnp.arange(keys_len) - (keys_len - 1)) * total_kv_pooling
        if is_upsampling:
            return jnp.arange(-queries_len + 1, queries_len, 1.0)
        return jnp.arange(-keys_len + 1, keys_len, 1.0) * total_kv_pooling

    def sinusoids(positions):
        inv_freq = 1 / (10000 ** (jnp.arange(0.0, d_feature, 2.0)
                                  / d_feature))
        angles = jnp.einsum("i,j->ij", positions, inv_freq)
        return jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=1)

    return cb.Serial(
        core.Fn("Generate positions vectors", distances, n_out=1),
        core.Fn("Transform to sinusoidal encodings", sinusoids, n_out=1))


def calc_funnel_ratio(keys_len, queries_len):
    """(factor, is_upsampling): how many times longer the queries are than
    the keys (upsampling) or the keys than the queries."""
    longer, shorter = max(keys_len, queries_len), min(keys_len, queries_len)
    if longer % shorter:
        raise ValueError(f"Relative attention needs one of the query length "
                         f"({queries_len}) and key length ({keys_len}) to "
                         f"divide the other.")
    return longer // shorter, queries_len > keys_len


def _fast_matrix_shift(x, funnel_factor=1, is_upsampling=False):
    """Realigns position scores (batch, heads, queries, positions) so that
    entry [i, j] scores query i against key j: pad one column of zeros in
    front, reinterpret the rows, drop the first, as in Transformer-XL; with
    a funnel factor, the same over 2 * keys - 1 distances, then every
    ``funnel_factor``-th column when upsampling."""
    batch, heads, n_queries = x.shape[0], x.shape[1], x.shape[2]
    if funnel_factor == 1 and not is_upsampling:
        n_keys = x.shape[3]
        x = jnp.concatenate(
            [jnp.zeros((batch, heads, n_queries, 1)), x], axis=3)
        x = x.reshape(batch, heads, n_keys + 1, n_queries)[:, :, 1:, :]
        return x
    stride, shift = (funnel_factor, 1) if is_upsampling else (1,
                                                              funnel_factor)
    n_keys = (x.shape[3] + 1) // 2
    x = jnp.concatenate(
        [jnp.zeros((batch, heads, n_queries, shift)), x], axis=3)
    x = x.reshape(batch, heads, 2 * n_keys - 1 + shift, n_queries)
    x = x[:, :, shift:, :].reshape(batch, heads, n_queries, 2 * n_keys - 1)
    return x[:, :, :, shift - 1:shift - 1 + n_keys:stride]


@assert_shape("bqd,bkd,bvd->bqd,bkd,bvd,b1qk")
def CreateAttentionMaskLayer():  # pylint: disable=invalid-name
    """(q, k, v) -> (q, k, v, causal mask (batch, 1, queries, keys)): the
    lower triangle, each entry repeated along the keys (queries pooled) or
    along the queries (upsampled) by the funnel factor."""

    def causal_mask(queries, keys):
        batch = queries.shape[0]
        keys_len, queries_len = keys.shape[-2], queries.shape[-2]
        factor, is_upsampling = calc_funnel_ratio(keys_len, queries_len)
        if factor == 1:
            mask = jnp.tril(jnp.ones((queries_len, queries_len), jnp.bool_))
        elif is_upsampling:
            mask = jnp.repeat(
                jnp.tril(jnp.ones((keys_len, keys_len), jnp.bool_)),
                factor, axis=-2)
        else:
            mask = jnp.repeat(
                jnp.tril(jnp.ones((queries_len, queries_len), jnp.bool_)),
                factor, axis=-1)
        return jnp.repeat(mask[None, None, :, :], batch, axis=0)

    return cb.Branch(
        cb.Select([0]), cb.Select([1]), cb.Select([2]),
        core.Fn("create attention mask layer", causal_mask, n_out=1))


@assert_shape("...d->...d")
def ShiftRightCls(cls_id):  # pylint: disable=invalid-name
    """Shifts the sequence (axis 1) right by one position, putting
    ``cls_id`` first, as BERT's [CLS] token."""

    def shift_right(x):
        widths = [(0, 0)] * len(x.shape)
        widths[1] = (1, 0)
        padded = jnp.pad(x, widths, mode="constant",
                         constant_values=x.dtype.type(cls_id))
        return padded[:, :-1]

    return core.Fn("ShiftRightCls()", shift_right)
