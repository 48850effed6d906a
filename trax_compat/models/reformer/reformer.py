"""Reformer models, with Trax's constructors and layer layout: reversible
residual blocks (``ReversibleHalfResidual`` / ``ReversibleSwap`` in a
``ReversibleSerial``) around efficient attention (``tl.SelfAttention``,
``tl.LSHSelfAttention``, ``tl.EncDecAttention``)."""

import jax.numpy as jnp

from trax_compat import layers as tl
from trax_compat.models.reformer import configurable as ct


def DecoderBlock(d_model, d_ff, d_attention_key, d_attention_value,  # pylint: disable=invalid-name
                 n_heads, attention_type, dropout, ff_activation, ff_dropout,
                 ff_use_sru, ff_chunk_size, ff_sparsity, attention_chunk_size,
                 n_attention_layers=1, n_feedforward_layers=1,
                 center_layernorm=True, use_bfloat16=False, mode="train"):
    """Layers of one reversible decoder block: ``n_attention_layers``
    causal attention half-residuals, then ``n_feedforward_layers``
    feed-forward half-residuals, each followed by a swap."""
    def attention_half_residual():
        attention = ct.ApplyAttentionLayer(
            attention_type, d_model, n_heads, d_attention_key,
            d_attention_value, True, False, dropout, dropout,
            attention_chunk_size, mode)
        return [tl.ReversibleHalfResidual(
                    tl.LayerNorm(center=center_layernorm),
                    attention_layer=attention,
                    name="ReversibleHalfResidualDecoderAttn"),
                tl.ReversibleSwap()]

    def feed_forward():
        ff = ct.FeedForwardWithOptions(
            d_model, d_ff, dropout, [-2], ff_activation, ff_dropout,
            ff_chunk_size, ff_use_sru, ff_sparsity, center_layernorm, mode,
            use_bfloat16)
        return [tl.ReversibleHalfResidual(
                    ff, name="ReversibleHalfResidualDecoderFF"),
                tl.ReversibleSwap()]

    return ([attention_half_residual() for _ in range(n_attention_layers)]
            + [feed_forward() for _ in range(n_feedforward_layers)])


def _attention_types(attention_type, n_layers):
    if not isinstance(attention_type, (tuple, list)):
        return [attention_type]
    if n_layers % len(attention_type):
        raise ValueError(
            f"n_layers ({n_layers}) must be a multiple of the number of "
            f"attention types given ({len(attention_type)}).")
    return list(attention_type)


def _decoder_blocks(n_layers, attention_type, d_model, d_ff, d_attention_key,
                    d_attention_value, n_heads, dropout, ff_activation,
                    ff_use_sru, ff_chunk_size, ff_sparsity,
                    attention_chunk_size, mode):
    types = _attention_types(attention_type, n_layers)
    return [DecoderBlock(d_model, d_ff, d_attention_key, d_attention_value,
                         n_heads, attention_type=types[i % len(types)],
                         dropout=dropout, ff_activation=ff_activation,
                         ff_dropout=dropout, ff_use_sru=ff_use_sru,
                         ff_chunk_size=ff_chunk_size, ff_sparsity=ff_sparsity,
                         attention_chunk_size=attention_chunk_size, mode=mode)
            for i in range(n_layers)]


def _loss_dense(vocab_size, d_model, loss_sparsity_type, loss_sparsity,
                loss_d_lowrank, loss_sparsity_prob, mode):
    """The output layer: Trax's ``SparseDenseWithOptions`` (a plain Dense in
    its shape check, unless ``loss_sparsity`` asks for a sparse one)."""
    return tl.SparseDenseWithOptions(
        vocab_size, d_input=d_model, sparsity_type=loss_sparsity_type,
        sparsity=loss_sparsity, d_lowrank=loss_d_lowrank,
        prob_sparse=loss_sparsity_prob, mode=mode)


def ReformerLM(vocab_size, d_model=512, d_ff=2048, d_attention_key=64,  # pylint: disable=invalid-name
               d_attention_value=64, n_layers=6, n_heads=8, dropout=0.1,
               max_len=2048, attention_type=tl.SelfAttention, pos_type=None,
               pos_axial_shape=(), pos_d_axial_embs=None,
               pos_start_from_zero_prob=1.0, pos_max_offset_to_add=0,
               ff_activation=tl.FastGelu, ff_use_sru=0, ff_chunk_size=0,
               ff_sparsity=0, loss_sparsity_type="mult", loss_sparsity=0,
               loss_d_lowrank=0, loss_sparsity_prob=None,
               attention_chunk_size=0, mode="train"):
    """Reversible Transformer language model (decoder only): tokens (batch,
    length) -> logits (batch, length, vocab_size). The embedded input is
    duplicated into the two halves the reversible blocks update, which are
    concatenated (width ``2 * d_model``) before the output layer.
    ``attention_type`` may be a list, cycled through the layers."""
    positional_embedder = [
        tl.Embedding(vocab_size, d_model),
        tl.Dropout(rate=dropout, shared_axes=[-2], mode=mode),
        ct.PositionalEncoder(mode, dropout, max_len, pos_type,
                             pos_axial_shape, pos_d_axial_embs,
                             pos_start_from_zero_prob, pos_max_offset_to_add),
    ]
    decoder_blocks = _decoder_blocks(
        n_layers, attention_type, d_model, d_ff, d_attention_key,
        d_attention_value, n_heads, dropout, ff_activation, ff_use_sru,
        ff_chunk_size, ff_sparsity, attention_chunk_size, mode)
    return tl.Serial(
        tl.ShiftRight(mode=mode),
        positional_embedder,
        tl.Dup(),
        tl.ReversibleSerial(decoder_blocks),
        tl.Concatenate(),
        tl.LayerNorm(),
        tl.Dropout(rate=dropout, shared_axes=[-2], mode=mode),
        _loss_dense(vocab_size, d_model, loss_sparsity_type, loss_sparsity,
                    loss_d_lowrank, loss_sparsity_prob, mode),
    )


def ReformerShortenLM(vocab_size, shorten_factor=1, d_embedding=256,  # pylint: disable=invalid-name
                      d_model=512, d_ff=2048, d_attention_key=64,
                      d_attention_value=64, n_layers=6, n_heads=8,
                      dropout=0.1, max_len=2048,
                      attention_type=tl.SelfAttention, pos_type=None,
                      pos_axial_shape=(), pos_d_axial_embs=None,
                      ff_activation=tl.FastGelu, ff_use_sru=0,
                      ff_chunk_size=0, ff_sparsity=0, attention_chunk_size=0,
                      mode="train"):
    """ReformerLM that runs its blocks on groups of ``shorten_factor``
    positions (length / shorten_factor), then widens back and finishes with
    a causal convolution and an SRU. No 'predict' mode (as in Trax)."""
    if mode == "predict":
        raise ValueError("ReformerShortenLM has no 'predict' mode (neither "
                         "has Trax's); use 'train' or 'eval'.")
    positional_embedder = [
        tl.Embedding(vocab_size, d_embedding),
        tl.Dropout(rate=dropout, shared_axes=[-2], mode=mode),
        ct.PositionalEncoder(mode, dropout, max_len, pos_type,
                             pos_axial_shape, pos_d_axial_embs),
    ]
    decoder_blocks = _decoder_blocks(
        n_layers, attention_type, d_model, d_ff, d_attention_key,
        d_attention_value, n_heads, dropout, ff_activation, ff_use_sru,
        ff_chunk_size, ff_sparsity, attention_chunk_size, mode)
    return tl.Serial(
        tl.ShiftRight(),
        positional_embedder,
        tl.Dup(),
        # Shift by the group size too, so no group sees its own future.
        tl.ShiftRight(n_positions=shorten_factor - 1),
        tl.Fn("Shorten", lambda x: jnp.reshape(
            x, (x.shape[0], x.shape[1] // shorten_factor, -1)), n_out=1),
        tl.Dense(d_model),
        tl.Dup(),
        tl.ReversibleSerial(decoder_blocks),
        tl.Select([0], n_in=2),
        tl.LayerNorm(),
        tl.Dropout(rate=dropout, shared_axes=[-2], mode=mode),
        tl.Dense(shorten_factor * d_embedding),
        tl.Fn("ProlongBack", lambda x: jnp.reshape(
            x, (x.shape[0], x.shape[1] * shorten_factor, -1)), n_out=1),
        tl.Concatenate(),
        tl.CausalConv(d_embedding),
        tl.Relu(),
        tl.SRU(d_embedding),
        tl.Dense(vocab_size),
    )


def EncoderBlock(d_model, d_ff, n_heads, attention_type, dropout,  # pylint: disable=invalid-name
                 ff_activation, ff_dropout, ff_use_sru=0, ff_chunk_size=0,
                 ff_sparsity=0, attention_chunk_size=0, center_layernorm=True,
                 use_bfloat16=False, use_two_swaps_per_block=True,
                 mode="train"):
    """Layers of one reversible encoder block over (activations, mask):
    masked non-causal attention and feed-forward half-residuals. The
    encoder always sees whole sequences, so 'predict' runs as 'eval'."""
    if mode == "predict":
        mode = "eval"
    attention = ct.ApplyAttentionLayer(
        attention_type=attention_type, d_model=d_model, n_heads=n_heads,
        d_qk=d_model // n_heads, d_v=d_model // n_heads, masked=True,
        causal=False, attention_dropout=dropout, output_dropout=dropout,
        attention_chunk_size=attention_chunk_size, mode=mode)
    if attention.n_out == 2:
        # Classic attention takes a (batch, 1, 1, length) mask and returns it.
        attention = tl.Serial(tl.Parallel([], _InsertAxes12()), attention,
                              tl.Select([0], n_in=2))
    ff = ct.FeedForwardWithOptions(
        d_model, d_ff, dropout, [-2], ff_activation, ff_dropout,
        ff_chunk_size, ff_use_sru, ff_sparsity, center_layernorm, mode,
        use_bfloat16)
    layers = [
        tl.ReversibleHalfResidual(tl.LayerNorm(center=center_layernorm),
                                  attention_layer=attention,
                                  name="ReversibleHalfResidualEncoderAttn"),
        tl.ReversibleSwap(),
        tl.ReversibleHalfResidual(ff, name="ReversibleHalfResidualEncoderFF"),
    ]
    if use_two_swaps_per_block:
        layers.append(tl.ReversibleSwap())
    return layers


def EncoderDecoderBlock(d_model, d_ff, n_heads, dropout, ff_activation,  # pylint: disable=invalid-name
                        ff_dropout, mode, ff_use_sru=0, ff_chunk_size=0,
                        ff_sparsity=0):
    """Layers of one reversible decoder block of ``Reformer``: causal
    self-attention, encoder-decoder attention and feed-forward
    half-residuals, each followed by a swap."""
    d_head = d_model // n_heads
    enc_dec_attention = tl.EncDecAttention(
        n_heads=n_heads, d_qk=d_head, d_v=d_head, attention_dropout=dropout,
        output_dropout=dropout, mode=mode)
    causal_attention = tl.SelfAttention(
        n_heads=n_heads, d_qk=d_head, d_v=d_head, causal=True,
        attention_dropout=dropout, output_dropout=dropout, mode=mode)
    feed_forward = ct.FeedForwardWithOptions(
        d_model, d_ff, dropout, [-2], ff_activation, ff_dropout,
        ff_chunk_size, ff_use_sru, ff_sparsity, True, mode)
    return [
        tl.ReversibleHalfResidual(tl.LayerNorm(),
                                  attention_layer=causal_attention),
        tl.ReversibleSwap(),
        tl.ReversibleHalfResidual(tl.LayerNorm(),
                                  attention_layer=enc_dec_attention),
        tl.ReversibleSwap(),
        tl.ReversibleHalfResidual(feed_forward),
        tl.ReversibleSwap(),
    ]


def Reformer(input_vocab_size, output_vocab_size=None, d_model=512,  # pylint: disable=invalid-name
             d_ff=2048, n_encoder_layers=6, n_decoder_layers=6, n_heads=8,
             dropout=0.1, max_len=2048, ff_activation=tl.Relu,
             ff_dropout=None, mode="train", pos_type=None,
             pos_axial_shape=None, pos_d_axial_embs=None, ff_use_sru=0,
             ff_chunk_size=0, ff_sparsity=0):
    """Reversible encoder-decoder Transformer: (source tokens, target
    tokens) -> (logits over the target vocabulary, target tokens). Encoder
    and decoder use dot-product ``SelfAttention``; the decoder attends to
    the encoder through ``EncDecAttention`` with the source padding mask."""
    in_encoder, out_encoder, output_vocab_size = (
        ct.EmbeddingAndPositionalEncodings(
            input_vocab_size, d_model, mode, dropout, [-2], max_len,
            output_vocab_size=output_vocab_size, pos_type=pos_type,
            pos_axial_shape=pos_axial_shape,
            pos_d_axial_embs=pos_d_axial_embs))
    encoder_blocks = [
        EncoderBlock(d_model, d_ff, n_heads, tl.SelfAttention, dropout,
                     ff_activation, ff_dropout, mode=mode,
                     ff_use_sru=ff_use_sru, ff_chunk_size=ff_chunk_size,
                     ff_sparsity=ff_sparsity)
        for _ in range(n_encoder_layers)]
    encoder = tl.Serial([in_encoder, tl.Dup(),
                         tl.ReversibleSerial(encoder_blocks), _XYAvg(),
                         tl.LayerNorm()])
    if mode == "predict":
        encoder = tl.Cache(encoder)
    encoder_decoder_blocks = [
        EncoderDecoderBlock(d_model, d_ff, n_heads, dropout, ff_activation,
                            ff_dropout, mode, ff_use_sru=ff_use_sru,
                            ff_chunk_size=ff_chunk_size,
                            ff_sparsity=ff_sparsity)
        for _ in range(n_decoder_layers)]
    return tl.Serial(
        tl.Select([0, 1, 1]),                 # tok_e tok_d tok_d
        tl.Branch([], [tl.PaddingMask(), _RemoveAxes12()]),
        encoder,                              # vec_e mask tok_d tok_d
        tl.Select([2, 0, 1]),                 # tok_d vec_e mask tok_d
        tl.ShiftRight(mode=mode),
        out_encoder,                          # vec_d vec_e mask tok_d
        tl.Dup(),
        tl.ReversibleSerial(encoder_decoder_blocks),
        _XYAvg(),
        tl.LayerNorm(),
        tl.Select([0], n_in=3),               # vec_d tok_d
        tl.Dense(output_vocab_size),
    )


def _InsertAxes12():  # pylint: disable=invalid-name
    return tl.Fn("InsertAxes12",
                 lambda x: jnp.reshape(x, (x.shape[0], 1, 1, x.shape[1])))


def _RemoveAxes12():  # pylint: disable=invalid-name
    return tl.Fn("RemoveAxes12", lambda x: jnp.squeeze(x, (1, 2)))


def _XYAvg():  # pylint: disable=invalid-name
    return tl.Fn("XYAvg", lambda x, y: (x + y) / 2.0)
