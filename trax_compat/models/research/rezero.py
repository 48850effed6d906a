"""Trax's ReZero Transformers (``trax.models.research.rezero``), after
Bachlechner et al., "ReZero is All You Need"
(https://arxiv.org/abs/2003.04887).

The models are the Transformer family (``trax_compat.models.transformer``)
with each residual connection ``x + f(x)`` replaced by ``x + alpha * f(x)``
(``ResidualZero``), ``alpha`` a trainable scalar that starts at zero: at
initialisation every block is the identity. Laid out as Trax lays them out,
so weights trees, initial weights and checkpoints are Trax's.
"""

import jax.numpy as jnp

from trax_compat import layers as tl
from trax_compat.models import transformer


def _flat_layers(layers):
    """Nested lists/tuples of layers as one flat list; a lone None is no
    layer at all."""
    if len(layers) == 1 and layers[0] is None:
        return []
    flat = []
    for item in layers:
        if isinstance(item, (list, tuple)):
            flat.extend(_flat_layers(item))
        elif isinstance(item, tl.Layer):
            flat.append(item)
        else:
            raise ValueError(
                f"ResidualZero: found a non-layer object ({item!r}) in "
                f"layers {layers}; pass layers (or lists of layers) only.")
    return flat


def _zero(shape, rng):
    del rng  # alpha always starts at zero
    return jnp.zeros(shape, dtype=jnp.float32)


def ResidualZero(*layers, shortcut=None):  # pylint: disable=invalid-name
    """``shortcut(x) + alpha * layers(x)``, ``alpha`` a trainable scalar
    initialised to zero; ``shortcut`` None is the identity (as in
    ``tl.Residual``)."""
    layers = _flat_layers(layers)
    layer = layers[0] if len(layers) == 1 else tl.Serial(layers)
    return tl.Serial(
        tl.Branch(shortcut, tl.Serial(layer, tl.Weights(_zero),
                                      tl.Multiply())),
        tl.Add(),
    )


def _dropout_factory(dropout, shared_axes, mode):
    return lambda: tl.Dropout(rate=dropout, shared_axes=shared_axes,
                              mode=mode)


def ReZeroTransformerEncoder(vocab_size,  # pylint: disable=invalid-name
                             n_classes=10,
                             d_model=512,
                             d_ff=2048,
                             n_layers=6,
                             n_heads=8,
                             dropout=0.1,
                             dropout_shared_axes=None,
                             max_len=2048,
                             mode="train",
                             ff_activation=tl.Relu):
    """A classifier: token ids (batch, length), 0 = padding, to
    ``n_classes`` raw scores per sequence, with ReZero blocks."""
    transformer._check_mode(mode, "ReZeroTransformerEncoder")  # pylint: disable=protected-access
    dropout_layer = _dropout_factory(dropout, dropout_shared_axes, mode)
    embedder = [tl.Embedding(vocab_size, d_model), dropout_layer(),
                tl.PositionalEncoding(max_len=max_len)]
    blocks = [_EncoderBlock(d_model, d_ff, n_heads, dropout,
                            dropout_shared_axes, mode, ff_activation)
              for _ in range(n_layers)]
    return tl.Serial(
        tl.Branch(embedder, tl.PaddingMask()),  # x, mask
        blocks,
        tl.Select([0], n_in=2),  # x
        tl.LayerNorm(),
        tl.Mean(axis=1),
        tl.Dense(n_classes),
    )


def ReZeroTransformerDecoder(vocab_size=None,  # pylint: disable=invalid-name
                             d_model=512,
                             d_ff=2048,
                             n_layers=6,
                             n_heads=8,
                             dropout=0.1,
                             dropout_shared_axes=None,
                             max_len=2048,
                             mode="train",
                             ff_activation=tl.Relu):
    """A stack of causal ReZero blocks, without shifting its input; token
    ids with ``vocab_size`` (Embedding), vectors without it (Dense to
    ``d_model``)."""
    transformer._check_mode(mode, "ReZeroTransformerDecoder")  # pylint: disable=protected-access
    dropout_layer = _dropout_factory(dropout, dropout_shared_axes, mode)
    embed = (tl.Embedding(vocab_size, d_model) if vocab_size is not None
             else tl.Dense(d_model))
    blocks = [_DecoderBlock(d_model, d_ff, n_heads, dropout,
                            dropout_shared_axes, mode, ff_activation)
              for _ in range(n_layers)]
    # As in Trax, the positional encoding here is built without ``mode``.
    return tl.Serial(
        embed,
        dropout_layer(),
        tl.PositionalEncoding(max_len=max_len),
        blocks,
        tl.LayerNorm(),
    )


def ReZeroTransformerLM(vocab_size,  # pylint: disable=invalid-name
                        d_model=512,
                        d_ff=2048,
                        n_layers=6,
                        n_heads=8,
                        dropout=0.1,
                        dropout_shared_axes=None,
                        max_len=2048,
                        mode="train",
                        ff_activation=tl.Relu):
    """An autoregressive language model with ReZero blocks: token ids to
    logits, the input shifted right by one; piece by piece in 'predict'
    mode, as ``TransformerLM``."""
    transformer._check_mode(mode, "ReZeroTransformerLM")  # pylint: disable=protected-access
    dropout_layer = _dropout_factory(dropout, dropout_shared_axes, mode)
    blocks = [_DecoderBlock(d_model, d_ff, n_heads, dropout,
                            dropout_shared_axes, mode, ff_activation)
              for _ in range(n_layers)]
    return tl.Serial(
        tl.ShiftRight(mode=mode),
        tl.Embedding(vocab_size, d_model),
        dropout_layer(),
        tl.PositionalEncoding(max_len=max_len, mode=mode),
        blocks,
        tl.LayerNorm(),
        tl.Dense(vocab_size),
    )


def ReZeroTransformer(input_vocab_size,  # pylint: disable=invalid-name
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
                      ff_activation=tl.Relu):
    """The encoder-decoder with ReZero blocks: ``(source ids, target
    ids)`` to ``(logits, target ids)``, as ``Transformer`` (one shared
    Embedding without ``output_vocab_size``; in 'predict' mode the encoder
    runs once, in 'eval' mode, and is cached)."""
    transformer._check_mode(mode, "ReZeroTransformer")  # pylint: disable=protected-access
    dropout_layer = _dropout_factory(dropout, dropout_shared_axes, mode)
    encoder_mode = "eval" if mode == "predict" else mode

    source_embedder = [tl.Embedding(input_vocab_size, d_model),
                       dropout_layer()]
    if output_vocab_size is None:
        # The same layer objects: one Embedding shared by both sides.
        target_embedder = source_embedder
        output_vocab_size = input_vocab_size
    else:
        target_embedder = [tl.Embedding(output_vocab_size, d_model),
                           dropout_layer()]

    encoder = tl.Serial(
        source_embedder,
        tl.PositionalEncoding(max_len=max_len, mode=encoder_mode),
        [_EncoderBlock(d_model, d_ff, n_heads, dropout, dropout_shared_axes,
                       mode, ff_activation)
         for _ in range(n_encoder_layers)],
        tl.LayerNorm(),
    )
    if mode == "predict":
        encoder = tl.Cache(encoder)

    decoder_blocks = [
        _EncoderDecoderBlock(d_model, d_ff, n_heads, dropout,
                             dropout_shared_axes, mode, ff_activation)
        for _ in range(n_decoder_layers)]

    return tl.Serial(
        tl.Select([0, 1, 1]),                    # src tgt tgt
        tl.Branch([], tl.PaddingMask()),         # src mask tgt tgt
        encoder,                                 # enc mask tgt tgt
        tl.Select([2, 1, 0]),                    # tgt mask enc tgt
        tl.ShiftRight(mode=mode),
        target_embedder,
        tl.PositionalEncoding(max_len=max_len, mode=mode),
        tl.Branch([], tl.EncoderDecoderMask()),  # dec cross_mask enc tgt
        decoder_blocks,
        tl.LayerNorm(),
        tl.Select([0], n_in=3),                  # dec tgt
        tl.Dense(output_vocab_size),             # logits tgt
    )


def _EncoderBlock(d_model, d_ff, n_heads, dropout, dropout_shared_axes,  # pylint: disable=invalid-name
                  mode, ff_activation):
    """``(x, mask) -> (x, mask)``: ReZero self-attention (keys masked by
    ``mask``), then a ReZero feed-forward part. As in Trax, both parts end
    in the same Dropout layer object."""
    dropout_layer = tl.Dropout(rate=dropout, shared_axes=dropout_shared_axes,
                               mode=mode)
    return [
        ResidualZero(
            tl.LayerNorm(),
            tl.Attention(d_model, n_heads=n_heads, dropout=dropout,
                         mode=mode),
            dropout_layer,
        ),
        ResidualZero(
            tl.LayerNorm(),
            _FeedForwardBlock(d_model, d_ff, dropout, dropout_shared_axes,
                              mode, ff_activation),
            dropout_layer,
        ),
    ]


def _DecoderBlock(d_model, d_ff, n_heads, dropout, dropout_shared_axes,  # pylint: disable=invalid-name
                  mode, ff_activation):
    """``x -> x``: ReZero causal self-attention, then a ReZero feed-forward
    part, sharing one Dropout layer object as in Trax."""
    dropout_layer = tl.Dropout(rate=dropout, shared_axes=dropout_shared_axes,
                               mode=mode)
    return [
        ResidualZero(
            tl.LayerNorm(),
            tl.CausalAttention(d_model, n_heads=n_heads, dropout=dropout,
                               mode=mode),
            dropout_layer,
        ),
        ResidualZero(
            tl.LayerNorm(),
            _FeedForwardBlock(d_model, d_ff, dropout, dropout_shared_axes,
                              mode, ff_activation),
            dropout_layer,
        ),
    ]


def _EncoderDecoderBlock(d_model, d_ff, n_heads, dropout,  # pylint: disable=invalid-name
                         dropout_shared_axes, mode, ff_activation):
    """``(dec, mask, enc) -> (dec, mask, enc)``: ReZero causal
    self-attention, attention to the encoder output (keys and values
    computed once in 'predict' mode), then feed-forward."""
    dropout_layer = _dropout_factory(dropout, dropout_shared_axes, mode)
    return [
        ResidualZero(
            tl.LayerNorm(),
            # No attention dropout here, as in Trax.
            tl.CausalAttention(d_model, n_heads=n_heads, mode=mode),
            dropout_layer(),
        ),
        ResidualZero(
            tl.LayerNorm(),
            tl.Select([0, 2, 2, 1, 2]),  # q=dec k=enc v=enc mask enc
            tl.AttentionQKV(d_model, n_heads=n_heads, dropout=dropout,
                            mode=mode, cache_KV_in_predict=True),
            dropout_layer(),
        ),
        ResidualZero(
            tl.LayerNorm(),
            _FeedForwardBlock(d_model, d_ff, dropout, dropout_shared_axes,
                              mode, ff_activation),
            dropout_layer(),
        ),
    ]


def _FeedForwardBlock(d_model, d_ff, dropout, dropout_shared_axes, mode,  # pylint: disable=invalid-name
                      activation):
    return transformer._FeedForwardBlock(  # pylint: disable=protected-access
        d_model, d_ff, dropout, dropout_shared_axes, mode, activation)
