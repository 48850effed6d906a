"""The Transformer family, as ``trax.models.transformer``: a classifying
encoder, a decoder stack, a language model and the encoder-decoder.

Every model is a ``tl.Serial`` of trax_compat layers laid out exactly as
Trax lays it out (same sublayers, same order, same nesting), so the weights
tree has Trax's structure and a Trax checkpoint loads into it. In 'predict'
mode the causal attentions keep their keys, values and position in their
layer state, ``PositionalEncoding`` and ``ShiftRight`` work one piece at a
time, and ``Transformer`` computes its encoder once (``tl.Cache``).
"""

from trax_compat import layers as tl

# Trax's defaults, shared by the constructors below.
MODE = "train"
D_MODEL = 512
D_FF = 2048
N_LAYERS = 6
N_HEADS = 8
MAX_SEQUENCE_LENGTH = 2048
DROPOUT_RATE = .1
DROPOUT_SHARED_AXES = None
FF_ACTIVATION_TYPE = tl.Relu


def _check_mode(mode, model):
    if mode not in ("train", "eval", "predict"):
        raise ValueError(f"{model}(mode={mode!r}): mode must be 'train', "
                         f"'eval' or 'predict'.")


def _dropout_factory(dropout, shared_axes, mode):
    return lambda: tl.Dropout(rate=dropout, shared_axes=shared_axes,
                              mode=mode)


def TransformerEncoder(vocab_size,  # pylint: disable=invalid-name
                       n_classes=10,
                       d_model=D_MODEL,
                       d_ff=D_FF,
                       n_layers=N_LAYERS,
                       n_heads=N_HEADS,
                       max_len=MAX_SEQUENCE_LENGTH,
                       dropout=DROPOUT_RATE,
                       dropout_shared_axes=DROPOUT_SHARED_AXES,
                       mode=MODE,
                       ff_activation=FF_ACTIVATION_TYPE):
    """A classifier: token ids (batch, length), 0 = padding, to
    ``n_classes`` raw scores per sequence (batch, n_classes).

    Embedding, dropout and positional encoding, then ``n_layers`` pre-norm
    blocks of padding-masked self-attention and a feed-forward part, a final
    LayerNorm, the mean over positions and a Dense to ``n_classes``.
    """
    _check_mode(mode, "TransformerEncoder")
    dropout_layer = _dropout_factory(dropout, dropout_shared_axes, mode)
    blocks = [_EncoderBlock(d_model, d_ff, n_heads, dropout,
                            dropout_shared_axes, mode, ff_activation)
              for _ in range(n_layers)]
    return tl.Serial(
        tl.Branch([], tl.PaddingMask()),  # ids -> ids, mask
        tl.Embedding(vocab_size, d_model),
        dropout_layer(),
        tl.PositionalEncoding(max_len=max_len),
        blocks,
        tl.Select([0], n_in=2),  # the mask is no longer needed
        tl.LayerNorm(),
        tl.Mean(axis=1),
        tl.Dense(n_classes),
    )


def TransformerDecoder(vocab_size=None,  # pylint: disable=invalid-name
                       d_model=D_MODEL,
                       d_ff=D_FF,
                       n_layers=N_LAYERS,
                       n_heads=N_HEADS,
                       max_len=MAX_SEQUENCE_LENGTH,
                       dropout=DROPOUT_RATE,
                       dropout_shared_axes=DROPOUT_SHARED_AXES,
                       mode=MODE,
                       ff_activation=FF_ACTIVATION_TYPE):
    """A stack of causal self-attention blocks, without shifting its input:
    the output at position t sees inputs 0..t.

    With ``vocab_size`` the input is token ids (batch, length) and goes
    through an Embedding; without it the input is vectors (batch, length,
    any width) and goes through a Dense to ``d_model``. The output is
    (batch, length, d_model).
    """
    _check_mode(mode, "TransformerDecoder")
    dropout_layer = _dropout_factory(dropout, dropout_shared_axes, mode)
    embed = (tl.Dense(d_model) if vocab_size is None
             else tl.Embedding(vocab_size, d_model))
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


def TransformerLM(vocab_size,  # pylint: disable=invalid-name
                  d_model=D_MODEL,
                  d_ff=D_FF,
                  n_layers=N_LAYERS,
                  n_heads=N_HEADS,
                  max_len=MAX_SEQUENCE_LENGTH,
                  dropout=DROPOUT_RATE,
                  dropout_shared_axes=DROPOUT_SHARED_AXES,
                  mode=MODE,
                  ff_activation=FF_ACTIVATION_TYPE):
    """An autoregressive language model: token ids (batch, length) to
    logits (batch, length, vocab_size), position t predicting token t from
    tokens 0..t-1 (the input is shifted right by one).

    In 'predict' mode the model takes the sequence piece by piece (usually
    one token per call), keeping the attention caches and the position in
    its state; feed it the tokens themselves, not shifted.
    """
    _check_mode(mode, "TransformerLM")
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


def Transformer(input_vocab_size,  # pylint: disable=invalid-name
                output_vocab_size=None,
                d_model=D_MODEL,
                d_ff=D_FF,
                n_encoder_layers=N_LAYERS,
                n_decoder_layers=N_LAYERS,
                n_heads=N_HEADS,
                max_len=MAX_SEQUENCE_LENGTH,
                dropout=DROPOUT_RATE,
                dropout_shared_axes=DROPOUT_SHARED_AXES,
                mode=MODE,
                ff_activation=FF_ACTIVATION_TYPE):
    """The encoder-decoder: ``(source ids, target ids)`` to ``(logits over
    the output vocabulary, target ids)``; the target ids are passed through
    for the loss.

    Without ``output_vocab_size`` both sides share one vocabulary and one
    Embedding (a shared layer: its weights appear once, at the encoder). In
    'predict' mode the encoder runs in 'eval' mode once, on the first call,
    and is kept (``tl.Cache``); the decoder then takes the target piece by
    piece with its caches in the layer state.
    """
    _check_mode(mode, "Transformer")
    # The encoder sees the whole source at once, even when decoding.
    encoder_mode = "eval" if mode == "predict" else mode
    dropout_layer = _dropout_factory(dropout, dropout_shared_axes, mode)

    source_embedding = tl.Embedding(input_vocab_size, d_model)
    if output_vocab_size is None:
        output_vocab_size = input_vocab_size
        target_embedding = source_embedding
    else:
        target_embedding = tl.Embedding(output_vocab_size, d_model)

    # Trax builds the encoder blocks with ``mode`` (not ``encoder_mode``);
    # in 'predict' mode the blocks' attention and dropout ignore it.
    encoder = tl.Serial(
        source_embedding,
        dropout_layer(),
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

    # Stack comments: the items on top of the data stack after each step.
    return tl.Serial(
        tl.Select([0, 1, 1]),               # src tgt tgt
        tl.Branch([], tl.PaddingMask()),    # src mask tgt tgt
        encoder,                            # enc mask tgt tgt
        tl.Select([2, 1, 0]),               # tgt mask enc tgt
        tl.ShiftRight(mode=mode),
        target_embedding,
        dropout_layer(),
        tl.PositionalEncoding(max_len=max_len, mode=mode),
        tl.Branch([], tl.EncoderDecoderMask()),  # dec cross_mask enc tgt
        decoder_blocks,
        tl.LayerNorm(),
        tl.Select([0], n_in=3),             # dec tgt
        tl.Dense(output_vocab_size),        # logits tgt
    )


def _EncoderBlock(d_model, d_ff, n_heads, dropout, dropout_shared_axes,  # pylint: disable=invalid-name
                  mode, ff_activation):
    """``(x, mask) -> (x, mask)``: pre-norm residual self-attention (keys
    masked by ``mask``), then a pre-norm residual feed-forward part."""
    dropout_layer = _dropout_factory(dropout, dropout_shared_axes, mode)
    return [
        tl.Residual(
            tl.LayerNorm(),
            tl.Attention(d_model, n_heads=n_heads, dropout=dropout,
                         mode=mode),
            dropout_layer(),
        ),
        tl.Residual(
            tl.LayerNorm(),
            _FeedForwardBlock(d_model, d_ff, dropout, dropout_shared_axes,
                              mode, ff_activation),
            dropout_layer(),
        ),
    ]


def _DecoderBlock(d_model, d_ff, n_heads, dropout, dropout_shared_axes,  # pylint: disable=invalid-name
                  mode, ff_activation):
    """``x -> x``: pre-norm residual causal self-attention, then a pre-norm
    residual feed-forward part."""
    dropout_layer = _dropout_factory(dropout, dropout_shared_axes, mode)
    return [
        tl.Residual(
            tl.LayerNorm(),
            tl.CausalAttention(d_model, n_heads=n_heads, dropout=dropout,
                               mode=mode),
            dropout_layer(),
        ),
        tl.Residual(
            tl.LayerNorm(),
            _FeedForwardBlock(d_model, d_ff, dropout, dropout_shared_axes,
                              mode, ff_activation),
            dropout_layer(),
        ),
    ]


def _EncoderDecoderBlock(d_model, d_ff, n_heads, dropout,  # pylint: disable=invalid-name
                         dropout_shared_axes, mode, ff_activation):
    """``(dec, mask, enc) -> (dec, mask, enc)``: causal self-attention over
    the decoder side, attention from the decoder to the encoder output
    (keys and values computed once in 'predict' mode), then the
    feed-forward part; each pre-norm and residual."""
    dropout_layer = _dropout_factory(dropout, dropout_shared_axes, mode)
    return [
        tl.Residual(
            tl.LayerNorm(),
            # No attention dropout here, as in Trax.
            tl.CausalAttention(d_model, n_heads=n_heads, mode=mode),
            dropout_layer(),
        ),
        tl.Residual(
            tl.LayerNorm(),
            tl.Select([0, 2, 2, 1, 2]),     # q=dec k=enc v=enc mask enc
            tl.AttentionQKV(d_model, n_heads=n_heads, dropout=dropout,
                            mode=mode, cache_KV_in_predict=True),
            dropout_layer(),
        ),
        tl.Residual(
            tl.LayerNorm(),
            _FeedForwardBlock(d_model, d_ff, dropout, dropout_shared_axes,
                              mode, ff_activation),
            dropout_layer(),
        ),
    ]


def _FeedForwardBlock(d_model, d_ff, dropout, dropout_shared_axes, mode,  # pylint: disable=invalid-name
                      activation):
    """Dense to ``d_ff``, the activation, dropout, Dense back to
    ``d_model``."""
    return [
        tl.Dense(d_ff),
        activation(),
        tl.Dropout(rate=dropout, shared_axes=dropout_shared_axes, mode=mode),
        tl.Dense(d_model),
    ]
