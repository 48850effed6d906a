"""Trax's configurable Transformers
(``trax.models.research.configurable_transformer``): the encoder with a
classification head, the language model and the encoder-decoder of
``trax.models.transformer``, with the attention layer, positional encoding
and feed-forward block chosen by arguments.

The building helpers (``FeedForwardWithOptions``, ``ApplyAttentionLayer``,
``PositionalEncoder``, ``EmbeddingAndPositionalEncodings``) live with the
Reformer models that share them and are re-exported here under Trax's
module. Built: any attention layer class for ``attention_type`` (the
classic ``tl.Attention`` family or the efficient ``tl.SelfAttention`` /
``tl.LSHSelfAttention`` family, as gin binds them), every ``pos_type``
that ``PositionalEncoder`` builds, ``ff_use_sru``, ``ff_chunk_size``,
``attention_chunk_size``, the sparse options (``ff_sparsity`` with
``ff_sparsity_type``, the output layer's ``loss_sparsity``,
``loss_sparsity_type``, ``loss_d_lowrank``, ``loss_sparsity_prob``, and
``enc_dec_attention_sparsity``) from the research sparsity layers, and
the 'train', 'eval' and 'predict' modes.
"""

from trax_compat import layers as tl
from trax_compat.models.reformer.configurable import (  # noqa: F401  (Trax's names here)
    ApplyAttentionLayer, EmbeddingAndPositionalEncodings,
    FeedForwardWithOptions, PositionalEncoder, _FeedForward)

_MODES = ("train", "eval", "predict")


def _check_mode(mode, model):
    if mode not in _MODES:
        raise ValueError(f"{model}: mode={mode!r} is not one of {_MODES}.")


def _enc_dec_sparsities(enc_dec_attention_sparsity):
    """AttentionQKV's (q_sparsity, result_sparsity): a pair as given, or
    for N > 0 an N-sparse query layer and no layer after the attention."""
    if isinstance(enc_dec_attention_sparsity, tuple):
        return enc_dec_attention_sparsity
    if enc_dec_attention_sparsity and enc_dec_attention_sparsity > 0:
        return enc_dec_attention_sparsity, "noop"
    return None, None


def _output_layer(vocab_size, d_model, loss_sparsity_type, loss_sparsity,
                  loss_d_lowrank, loss_sparsity_prob, mode):
    return tl.SparseDenseWithOptions(
        vocab_size, d_input=d_model, sparsity_type=loss_sparsity_type,
        sparsity=loss_sparsity, d_lowrank=loss_d_lowrank,
        prob_sparse=loss_sparsity_prob, mode=mode)


def _dropout(dropout, dropout_shared_axes, mode):
    return tl.Dropout(rate=dropout, shared_axes=dropout_shared_axes,
                      mode=mode)


def _feed_forward(d_model, d_ff, dropout, dropout_shared_axes, mode,  # pylint: disable=invalid-name
                  ff_activation, ff_dropout, ff_chunk_size, ff_use_sru,
                  ff_sparsity, ff_sparsity_type):
    # The blocks always centre their LayerNorm and keep float32 weights.
    return FeedForwardWithOptions(
        d_model, d_ff, dropout, dropout_shared_axes, ff_activation,
        ff_dropout, ff_chunk_size, ff_use_sru, ff_sparsity, True, mode,
        False, ff_sparsity_type)


def _self_attention(attention_type, d_model, n_heads, dropout, causal,
                    masked, attention_chunk_size, mode):
    d_head = d_model // n_heads
    attention = ApplyAttentionLayer(
        attention_type, d_model, n_heads, d_head, d_head, causal=causal,
        masked=masked, attention_dropout=dropout, output_dropout=dropout,
        attention_chunk_size=attention_chunk_size, mode=mode)
    # In a residual over (vectors, mask, ...) the layer must give back as
    # many items as it takes; a masked efficient attention (vectors, mask)
    # -> vectors would swallow the mask (Trax fails later, in init).
    if attention.n_in != attention.n_out:
        name = getattr(attention_type, "__name__", attention_type)
        raise ValueError(
            f"attention type {name!r} built with masked={masked} maps "
            f"{attention.n_in} inputs to "
            f"{attention.n_out} outputs; these blocks need a layer giving "
            f"back as many as it takes (such as tl.Attention where a mask "
            f"is passed, or a causal attention without one).")
    return attention


def EncoderBlock(d_model, d_ff, n_heads, dropout, dropout_shared_axes, mode,  # pylint: disable=invalid-name
                 ff_activation, ff_dropout, ff_chunk_size, ff_use_sru,
                 ff_sparsity, ff_sparsity_type, attention_chunk_size,
                 attention_type, n_attention_layers=1,
                 n_feedforward_layers=1):
    """Layers mapping ``(vectors, mask) -> (vectors, mask)``:
    ``n_attention_layers`` pre-norm residual self-attentions (keys masked
    by ``mask``), then ``n_feedforward_layers`` residual feed-forward
    blocks."""
    attentions = [
        tl.Residual(
            tl.LayerNorm(),
            _self_attention(attention_type, d_model, n_heads, dropout,
                            False, True, attention_chunk_size, mode),
            _dropout(dropout, dropout_shared_axes, mode))
        for _ in range(n_attention_layers)]
    feed_forwards = [
        tl.Residual(_feed_forward(
            d_model, d_ff, dropout, dropout_shared_axes, mode, ff_activation,
            ff_dropout, ff_chunk_size, ff_use_sru, ff_sparsity,
            ff_sparsity_type))
        for _ in range(n_feedforward_layers)]
    return attentions + feed_forwards


def DecoderBlock(d_model, d_ff, n_heads, dropout, dropout_shared_axes, mode,  # pylint: disable=invalid-name
                 ff_activation, ff_dropout, ff_chunk_size, ff_use_sru,
                 ff_sparsity, ff_sparsity_type, attention_chunk_size,
                 attention_type, n_attention_layers=1,
                 n_feedforward_layers=1):
    """Layers mapping vectors to vectors: ``n_attention_layers`` pre-norm
    residual causal self-attentions, then ``n_feedforward_layers`` residual
    feed-forward blocks."""
    attentions = [
        _self_attention(attention_type, d_model, n_heads, dropout, True,
                        False, attention_chunk_size, mode)
        for _ in range(n_attention_layers)]
    residual_attentions = [
        tl.Residual(tl.LayerNorm(), attention,
                    _dropout(dropout, dropout_shared_axes, mode))
        for attention in attentions]
    feed_forwards = [
        tl.Residual(_feed_forward(
            d_model, d_ff, dropout, dropout_shared_axes, mode, ff_activation,
            ff_dropout, ff_chunk_size, ff_use_sru, ff_sparsity,
            ff_sparsity_type))
        for _ in range(n_feedforward_layers)]
    return residual_attentions + feed_forwards


def EncoderDecoderBlock(d_model, d_ff, n_heads, dropout, dropout_shared_axes,  # pylint: disable=invalid-name
                        mode, ff_activation, ff_dropout, ff_chunk_size,
                        ff_use_sru, ff_sparsity, ff_sparsity_type,
                        attention_chunk_size, attention_type,
                        enc_dec_attention_sparsity=0):
    """Layers mapping ``(decoder vectors, mask, encoder vectors)`` to the
    same: causal self-attention of ``attention_type``, then attention from
    the decoder to the encoder (``AttentionQKV``, keys and values computed
    once in 'predict' mode), then the feed-forward block; each residual."""
    q_sparsity, result_sparsity = _enc_dec_sparsities(
        enc_dec_attention_sparsity)
    cross_attention = tl.AttentionQKV(
        d_model, n_heads=n_heads, dropout=dropout, mode=mode,
        cache_KV_in_predict=True, q_sparsity=q_sparsity,
        result_sparsity=result_sparsity)
    causal_attention = _self_attention(
        attention_type, d_model, n_heads, dropout, True, True,
        attention_chunk_size, mode)
    feed_forward = _feed_forward(
        d_model, d_ff, dropout, dropout_shared_axes, mode, ff_activation,
        ff_dropout, ff_chunk_size, ff_use_sru, ff_sparsity, ff_sparsity_type)
    return [                                # dec mask enc
        tl.Residual(tl.LayerNorm(), causal_attention,
                    _dropout(dropout, dropout_shared_axes, mode)),
        tl.Residual(tl.LayerNorm(),
                    tl.Select([0, 2, 2, 1, 2]),  # q=dec k=enc v=enc mask enc
                    cross_attention,
                    _dropout(dropout, dropout_shared_axes, mode)),
        tl.Residual(feed_forward),
    ]


def ConfigurableTransformerEncoder(vocab_size, n_classes=10, d_model=512,  # pylint: disable=invalid-name
                                   d_ff=2048, n_layers=6, n_heads=8,
                                   max_len=2048, dropout=0.1,
                                   dropout_shared_axes=None, mode="train",
                                   ff_activation=tl.Relu, ff_dropout=0.1,
                                   ff_chunk_size=0, ff_use_sru=0,
                                   ff_sparsity=0, ff_sparsity_type="1inN",
                                   attention_chunk_size=0,
                                   attention_type=tl.Attention,
                                   pos_type=None, pos_axial_shape=None,
                                   pos_d_axial_embs=None):
    """Classifier: tokens (batch, length), 0 for padding -> logits (batch,
    ``n_classes``) from the mean of the encoded positions."""
    _check_mode(mode, "ConfigurableTransformerEncoder")
    embedder = tl.AssertFunction("...->...d", [
        tl.Embedding(vocab_size, d_model),
        _dropout(dropout, dropout_shared_axes, mode),
        PositionalEncoder(mode, dropout, max_len, pos_type, pos_axial_shape,
                          pos_d_axial_embs),
    ])
    blocks = [EncoderBlock(d_model, d_ff, n_heads, dropout,
                           dropout_shared_axes, mode, ff_activation,
                           ff_dropout, ff_chunk_size, ff_use_sru, ff_sparsity,
                           ff_sparsity_type, attention_chunk_size,
                           attention_type)
              for _ in range(n_layers)]
    return tl.Serial(
        tl.Branch(embedder, tl.PaddingMask()),  # vecs mask
        blocks,
        tl.Select([0], n_in=2),                 # vecs
        tl.LayerNorm(),
        tl.Mean(axis=1),
        tl.Dense(n_classes),
    )


def ConfigurableTransformerLM(vocab_size, d_model=512, d_ff=2048, n_layers=6,  # pylint: disable=invalid-name
                              n_heads=8, max_len=2048, dropout=0.1,
                              dropout_shared_axes=None, mode="train",
                              ff_activation=tl.Relu, ff_dropout=0.1,
                              ff_chunk_size=0, ff_use_sru=0, ff_sparsity=0,
                              ff_sparsity_type="1inN",
                              loss_sparsity_type="mult", loss_sparsity=0,
                              loss_d_lowrank=0, loss_sparsity_prob=None,
                              attention_chunk_size=0,
                              attention_type=tl.CausalAttention,
                              pos_type=None, pos_axial_shape=None,
                              pos_d_axial_embs=None,
                              pos_start_from_zero_prob=1.0,
                              pos_max_offset_to_add=0):
    """Language model: tokens (batch, length) -> logits (batch, length,
    ``vocab_size``), each position seeing the tokens before it. In
    'predict' mode it takes the tokens one call at a time (fast decoding
    with the attention caches in the layer state)."""
    _check_mode(mode, "ConfigurableTransformerLM")
    embedder = [
        tl.Embedding(vocab_size, d_model),
        _dropout(dropout, dropout_shared_axes, mode),
        PositionalEncoder(mode, dropout, max_len, pos_type, pos_axial_shape,
                          pos_d_axial_embs, pos_start_from_zero_prob,
                          pos_max_offset_to_add),
    ]
    blocks = [DecoderBlock(d_model, d_ff, n_heads, dropout,
                           dropout_shared_axes, mode, ff_activation,
                           ff_dropout, ff_chunk_size, ff_use_sru, ff_sparsity,
                           ff_sparsity_type, attention_chunk_size,
                           attention_type)
              for _ in range(n_layers)]
    return tl.Serial(
        tl.ShiftRight(mode=mode),
        embedder,
        blocks,
        tl.LayerNorm(),
        _output_layer(vocab_size, d_model, loss_sparsity_type, loss_sparsity,
                    loss_d_lowrank, loss_sparsity_prob, mode),
    )


def ConfigurableTransformer(input_vocab_size, output_vocab_size=None,  # pylint: disable=invalid-name
                            d_model=512, d_ff=2048, n_encoder_layers=6,
                            n_decoder_layers=6, n_heads=8, max_len=2048,
                            dropout=0.1, dropout_shared_axes=None,
                            mode="train", ff_activation=tl.Relu,
                            ff_dropout=0.1, ff_chunk_size=0, ff_use_sru=0,
                            ff_sparsity=0, ff_sparsity_type="1inN",
                            loss_sparsity_type="mult", loss_sparsity=0,
                            loss_d_lowrank=0, loss_sparsity_prob=None,
                            attention_chunk_size=0,
                            encoder_attention_type=tl.Attention,
                            encoder_decoder_attention_type=tl.CausalAttention,
                            pos_type=None, pos_axial_shape=None,
                            pos_d_axial_embs=None,
                            enc_dec_attention_sparsity=0):
    """Encoder-decoder: ``(source tokens, target tokens)`` -> ``(logits
    over the output vocabulary, target tokens)``. Without
    ``output_vocab_size`` both sides share one embedding. In 'predict' mode
    the encoder runs once, in 'eval' mode, and is kept (``tl.Cache``);
    the decoder takes the target one call at a time."""
    _check_mode(mode, "ConfigurableTransformer")
    in_encoder, out_encoder, output_vocab_size = (
        EmbeddingAndPositionalEncodings(
            input_vocab_size, d_model, mode, dropout, dropout_shared_axes,
            max_len, output_vocab_size=output_vocab_size, pos_type=pos_type,
            pos_axial_shape=pos_axial_shape,
            pos_d_axial_embs=pos_d_axial_embs))
    # As in Trax, the encoder blocks get ``mode`` itself; in 'predict' mode
    # their attention and dropout act as in 'eval'.
    encoder_blocks = [
        EncoderBlock(d_model, d_ff, n_heads, dropout, dropout_shared_axes,
                     mode, ff_activation, ff_dropout, ff_chunk_size,
                     ff_use_sru, ff_sparsity, ff_sparsity_type,
                     attention_chunk_size, encoder_attention_type)
        for _ in range(n_encoder_layers)]
    encoder = tl.Serial(in_encoder, encoder_blocks, tl.LayerNorm())
    if mode == "predict":
        encoder = tl.Cache(encoder)
    decoder_blocks = [
        EncoderDecoderBlock(d_model, d_ff, n_heads, dropout,
                            dropout_shared_axes, mode, ff_activation,
                            ff_dropout, ff_chunk_size, ff_use_sru,
                            ff_sparsity, ff_sparsity_type,
                            attention_chunk_size,
                            encoder_decoder_attention_type,
                            enc_dec_attention_sparsity)
        for _ in range(n_decoder_layers)]
    # Stack comments: the items on top of the data stack after each step.
    return tl.Serial(
        tl.Select([0, 1, 1]),                    # src tgt tgt
        tl.Branch([], tl.PaddingMask()),         # src mask tgt tgt
        encoder,                                 # enc mask tgt tgt
        tl.Select([2, 1, 0]),                    # tgt mask enc tgt
        tl.ShiftRight(mode=mode),
        out_encoder,                             # dec mask enc tgt
        tl.Branch([], tl.EncoderDecoderMask()),  # dec cross_mask enc tgt
        decoder_blocks,
        tl.LayerNorm(),
        tl.Select([0], n_in=3),                  # dec tgt
        _output_layer(output_vocab_size, d_model, loss_sparsity_type,
                    loss_sparsity, loss_d_lowrank, loss_sparsity_prob, mode),
    )
