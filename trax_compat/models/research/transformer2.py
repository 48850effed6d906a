"""Trax's ``trax.models.research.transformer2``: ``Transformer2``, an
encoder-decoder Transformer whose decoder has no encoder-decoder attention
but runs causal self-attention over the encoder's output joined with the
decoder's input, and the layers that join and split the two sequences
(the Terraformer uses them too).

Joining puts each example's encoder positions without their padding, then
its decoder positions, then zeros; the inverse takes the decoder positions
back out. In 'predict' mode only the first call joins: later calls carry
one decoder position and pass it through (the state records that the first
call happened by growing from shape () to (1,))."""

import jax
import jax.numpy as jnp

from trax_compat import layers as tl
from trax_compat.layers import base
from trax_compat.layers import reversible
from trax_compat.models.reformer import configurable as ct


def _residual_attentions(attention_type, d_model, n_heads, dropout,
                         dropout_shared_axes, mode, attention_chunk_size,
                         n_layers, causal):
    """``n_layers`` pre-norm residual attention blocks, as Trax's
    configurable encoder (masked) and decoder (causal) blocks have them."""
    return [
        tl.Residual(
            tl.LayerNorm(),
            ct.ApplyAttentionLayer(
                attention_type, d_model, n_heads, d_model // n_heads,
                d_model // n_heads, causal=causal, masked=not causal,
                attention_dropout=dropout, output_dropout=dropout,
                attention_chunk_size=attention_chunk_size, mode=mode),
            tl.Dropout(rate=dropout, shared_axes=dropout_shared_axes,
                       mode=mode))
        for _ in range(n_layers)]


def _block(causal, d_model, d_ff, n_heads, dropout, dropout_shared_axes,
           mode, ff_activation, ff_dropout, ff_chunk_size, ff_use_sru,
           ff_sparsity, ff_sparsity_type, attention_chunk_size,
           attention_type, n_attention_layers):
    """One encoder (``causal=False``: (vecs, mask) -> (vecs, mask)) or
    decoder (``causal=True``: vecs -> vecs) block: attention residuals,
    then one feed-forward residual with a centred LayerNorm."""
    return _residual_attentions(
        attention_type, d_model, n_heads, dropout, dropout_shared_axes, mode,
        attention_chunk_size, n_attention_layers, causal) + [
            tl.Residual(ct.FeedForwardWithOptions(
                d_model, d_ff, dropout, dropout_shared_axes, ff_activation,
                ff_dropout, ff_chunk_size, ff_use_sru, ff_sparsity, True,
                mode, False, ff_sparsity_type))]


def Transformer2(input_vocab_size,  # pylint: disable=invalid-name
                 output_vocab_size=None,
                 d_model=512,
                 d_ff=2048,
                 n_encoder_layers=6,
                 n_decoder_layers=6,
                 n_heads=8,
                 dropout=0.1,
                 dropout_shared_axes=None,
                 max_len=2048,
                 mode="train",
                 ff_activation=tl.Relu,
                 ff_dropout=0.1,
                 ff_chunk_size=0,
                 ff_use_sru=0,
                 ff_sparsity=0,
                 ff_sparsity_type="1inN",
                 attention_chunk_size=0,
                 encoder_attention_type=tl.Attention,
                 n_encoder_attention_layers=1,
                 decoder_attention_type=tl.CausalAttention,
                 n_decoder_attention_layers=2,
                 pos_type=None,
                 pos_axial_shape=None,
                 pos_d_axial_embs=None):
    """(source tokens, target tokens) -> (target logits, target tokens).

    The encoder (embedding, positions, ``n_encoder_layers`` masked
    self-attention blocks, LayerNorm; cached in 'predict' mode) reads the
    source; the shifted target is embedded (sharing the source's embedding
    unless ``output_vocab_size`` is given) and joined after each source's
    non-padding positions; ``n_decoder_layers`` causal blocks run over the
    joined sequence, and the target positions, taken back out, go through a
    Dense to ``output_vocab_size`` (or ``input_vocab_size``) logits.
    """
    if mode not in ("train", "eval", "predict"):
        raise ValueError(f"Transformer2(mode={mode!r}): mode must be "
                         f"'train', 'eval' or 'predict'.")
    if d_model % n_heads:
        raise ValueError(f"Transformer2: d_model={d_model} must be a "
                         f"multiple of n_heads={n_heads}.")
    in_encoder, out_encoder, output_vocab_size = (
        ct.EmbeddingAndPositionalEncodings(
            input_vocab_size, d_model, mode, dropout, dropout_shared_axes,
            max_len, output_vocab_size=output_vocab_size, pos_type=pos_type,
            pos_axial_shape=pos_axial_shape,
            pos_d_axial_embs=pos_d_axial_embs))
    options = (d_ff, n_heads, dropout, dropout_shared_axes, mode,
               ff_activation, ff_dropout, ff_chunk_size, ff_use_sru,
               ff_sparsity, ff_sparsity_type, attention_chunk_size)
    encoder_blocks = [_block(False, d_model, *options,
                             encoder_attention_type,
                             n_encoder_attention_layers)
                      for _ in range(n_encoder_layers)]
    encoder = tl.Serial(in_encoder, encoder_blocks, tl.LayerNorm())
    if mode == "predict":
        encoder = tl.Cache(encoder)  # the source is encoded once
    decoder_blocks = [_block(True, d_model, *options,
                             decoder_attention_type,
                             n_decoder_attention_layers)
                      for _ in range(n_decoder_layers)]
    return tl.Serial(
        tl.Select([0, 0, 1, 1]),           # tok_e tok_e tok_d tok_d
        tl.Branch([], tl.PaddingMask()),   # tok_e mask_e tok_e tok_d tok_d
        encoder,                           # vec_e mask_e tok_e tok_d tok_d
        tl.Select([2, 0, 2], n_in=3),      # tok_e vec_e tok_e tok_d tok_d
        tl.Fn("EncoderMask", lambda x: x != 0, n_out=1),  # mask_e vec_e ...
        tl.Select([3, 1, 0, 2]),           # tok_d vec_e mask_e tok_e tok_d
        tl.ShiftRight(mode=mode),          # stok_d vec_e mask_e tok_e tok_d
        out_encoder,                       # svec_d vec_e mask_e tok_e tok_d
        tl.Select([1, 0]),                 # vec_e svec_d mask_e tok_e tok_d
        ConcatWithPadding(mode=mode),      # vec_ed tok_e tok_d
        decoder_blocks,                    # vec_ed tok_e tok_d
        tl.LayerNorm(),
        tl.Select([0, 1, 2, 2]),           # vec_ed tok_e tok_d tok_d
        StripFromConcatenateWithPadding(mode=mode),  # vec_d tok_d
        tl.Dense(output_vocab_size),       # logits tok_d
    )


def _check_shape(what, shape, expected):
    if tuple(shape) != tuple(expected):
        raise ValueError(f"Shape of {what}, {tuple(shape)}, does not equal "
                         f"{tuple(expected)}.")


def concat_with_padding(vec_e, vec_d, mask_e):
    """(B, L1, H) encoder and (B, L2, H) decoder vectors -> (B, L1 + L2, H):
    per example the decoder vectors start right after its last unmasked
    encoder position."""
    batch, len_e, depth = vec_e.shape
    _check_shape("decoder vector", vec_d.shape,
                 (batch, vec_d.shape[1], depth))
    _check_shape("encoder mask", mask_e.shape, (batch, len_e))

    def one_row(row_e, row_d, row_mask):
        joined = jnp.concatenate([row_e, jnp.zeros_like(row_d)], axis=0)
        start = jnp.sum(row_mask, dtype=jnp.int32)
        return jax.lax.dynamic_update_slice(
            joined, row_d, (start, jnp.zeros((), start.dtype)))
    return jax.lax.map(lambda rows: one_row(*rows), (vec_e, vec_d, mask_e))


def strip_from_concatenate_with_padding(vec_ed, tok_e, tok_d):
    """The decoder part (B, L2, H) of joined vectors (B, L1 + L2, H), found
    from the encoder tokens' padding (token 0)."""
    batch, length, depth = vec_ed.shape
    len_e, len_d = tok_e.shape[1], tok_d.shape[1]
    if length != len_e + len_d:
        raise ValueError(
            f"Length from encoder-decoder vectors ({length}) does not equal "
            f"sum of lengths from encoder ({len_e}) and decoder ({len_d}).")
    _check_shape("encoder tokens", tok_e.shape, (batch, len_e))
    _check_shape("decoder tokens", tok_d.shape, (batch, len_d))

    def one_row(row_ed, row_e):
        start = jnp.sum(row_e != 0, dtype=jnp.int32)
        return jax.lax.dynamic_slice(
            row_ed, (start, jnp.zeros((), start.dtype)), (len_d, depth))
    return jax.lax.map(lambda rows: one_row(*rows), (vec_ed, tok_e))


def _first_call(mode, state):
    return mode != "predict" or not state.shape


class StripFromConcatenateWithPadding(base.Layer):
    """(joined vectors, encoder tokens, decoder tokens) -> the decoder
    vectors."""

    def __init__(self, mode="train"):
        super().__init__(n_in=3, n_out=1)
        self._mode = mode

    def init_weights_and_state(self, input_signature):
        del input_signature
        self.state = jnp.array(0, dtype=jnp.int32)

    def forward(self, inputs):
        vec_ed, tok_e, tok_d = inputs
        if _first_call(self._mode, self.state):
            self.state = self.state.reshape((1,))
            return strip_from_concatenate_with_padding(vec_ed, tok_e, tok_d)
        return vec_ed  # later predict calls: only the decoder vector


class ConcatWithPadding(reversible.ReversibleLayer):
    """(encoder vectors, decoder vectors, encoder mask, encoder tokens,
    decoder tokens) -> (joined vectors, encoder tokens, decoder tokens)."""

    def __init__(self, mode="train"):
        super().__init__(n_in=5, n_out=3)
        self._mode = mode

    def init_weights_and_state(self, input_signature):
        del input_signature
        self.state = jnp.array(0, dtype=jnp.int32)

    def forward(self, inputs):
        vec_e, vec_d, mask_e, tok_e, tok_d = inputs
        if _first_call(self._mode, self.state):
            self.state = self.state.reshape((1,))
            return concat_with_padding(vec_e, vec_d, mask_e), tok_e, tok_d
        return vec_d, tok_e, tok_d  # later predict calls

    def reverse(self, output, weights=(), state=(), new_state=(), rng=None):
        del weights, state, new_state, rng
        if self._mode == "predict":
            raise ValueError("ConcatWithPadding cannot reverse in predict "
                             "mode.")
        vec_ed, tok_e, tok_d = output
        vec_d = strip_from_concatenate_with_padding(vec_ed, tok_e, tok_d)
        mask_e = tok_e != 0
        vec_e = vec_ed[:, :tok_e.shape[1], :] * mask_e.astype(
            jnp.float32)[:, :, None]
        return vec_e, vec_d, mask_e, tok_e, tok_d


class ConcatWithPadding2(reversible.ReversibleLayer):
    """ConcatWithPadding for a reversible pair of encoder vectors:
    (enc1, enc2, decoder vectors, encoder mask, encoder tokens, decoder
    tokens) -> (joined1, joined2, encoder tokens, decoder tokens)."""

    def __init__(self, mode="train"):
        super().__init__(n_in=6, n_out=4)
        self._mode = mode

    def init_weights_and_state(self, input_signature):
        del input_signature
        self.state = jnp.array(0, dtype=jnp.int32)

    def forward(self, inputs):
        vec_e1, vec_e2, vec_d, mask_e, tok_e, tok_d = inputs
        if _first_call(self._mode, self.state):
            self.state = self.state.reshape((1,))
            return (concat_with_padding(vec_e1, vec_d, mask_e),
                    concat_with_padding(vec_e2, vec_d, mask_e), tok_e, tok_d)
        return vec_d, vec_d, tok_e, tok_d  # later predict calls

    def reverse(self, output, weights=(), state=(), new_state=(), rng=None):
        del weights, state, new_state, rng
        if self._mode == "predict":
            raise ValueError("ConcatWithPadding2 cannot reverse in predict "
                             "mode.")
        vec_ed1, vec_ed2, tok_e, tok_d = output
        vec_d = strip_from_concatenate_with_padding(vec_ed1, tok_e, tok_d)
        mask_e = tok_e != 0
        keep = mask_e.astype(jnp.float32)[:, :, None]
        len_e = tok_e.shape[1]
        return (vec_ed1[:, :len_e, :] * keep, vec_ed2[:, :len_e, :] * keep,
                vec_d, mask_e, tok_e, tok_d)
