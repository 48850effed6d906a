"""Trax's Hourglass (``trax.models.research.hourglass``): a hierarchical
Transformer language model. Token-level decoder layers surround a
"valley": the sequence is shifted right by ``k - 1`` (so that no shortened
position sees a later token), shortened ``k`` times, run through decoder
layers (and deeper valleys), upsampled back and added to the residual.
Attention is causal relative attention by default, its two global biases
shared by every layer of the model.
"""

from trax_compat import layers as tl
from trax_compat.layers.research.rel_attention import get_rel_att_inputs
from trax_compat.layers.research.rel_attention import RelativeAttentionWrapper
from trax_compat.layers.research.resampling import AttentionResampling
from trax_compat.layers.research.resampling import AveragePooling
from trax_compat.layers.research.resampling import FeedForwardBlock
from trax_compat.layers.research.resampling import LinearUpsampling
from trax_compat.models.reformer.configurable import ApplyAttentionLayer


def _RelativeDecoderBlock(attention_type, d_model, d_ff, n_heads, dropout,  # pylint: disable=invalid-name
                          dropout_shared_axes, mode, ff_activation,
                          context_bias_layer, location_bias_layer,
                          total_pooling):
    """Pre-norm residual causal attention and feed-forward (vecs -> vecs);
    relative attention gets the model's shared biases."""
    if attention_type == RelativeAttentionWrapper:
        attention = RelativeAttentionWrapper(
            d_model, n_heads, dropout, mode=mode,
            context_bias_layer=context_bias_layer,
            location_bias_layer=location_bias_layer,
            total_pooling=total_pooling)
    else:
        attention = ApplyAttentionLayer(
            attention_type, d_model, n_heads, d_model // n_heads,
            d_model // n_heads, causal=True, masked=False,
            attention_dropout=dropout, output_dropout=dropout,
            attention_chunk_size=0, mode=mode)
    feed_forward = FeedForwardBlock(d_model, d_ff, dropout,
                                    dropout_shared_axes, mode, ff_activation)

    def dropout_layer():
        return tl.Dropout(rate=dropout, shared_axes=dropout_shared_axes,
                          mode=mode)

    return [
        tl.Residual(tl.LayerNorm(), attention, dropout_layer()),
        tl.Residual(tl.LayerNorm(), feed_forward, dropout_layer()),
    ]


def _parse_hierarchy(hierarchy):
    """'2@3 4@6 2@3' -> ([2, 4], [3, 2]): the layers of each level down to
    the middle and how much each shortens the previous one."""
    levels = hierarchy.split(" ")
    if levels != levels[::-1]:
        raise ValueError(f"HourglassLM(hierarchy={hierarchy!r}): the "
                         f"hierarchy is not a palindrome; give levels "
                         f"'LAYERS@SHORTENING' that read the same both ways, "
                         f"e.g. '1@2 2@6 1@2'.")
    down = [level.split("@") for level in levels[:len(levels) // 2 + 1]]
    n_layers = [int(layers) for layers, _ in down]
    totals = [int(total) for _, total in down]
    factors = []
    for total, previous in zip(totals, [1] + totals[:-1]):
        if total % previous:
            raise ValueError(
                f"HourglassLM(hierarchy={hierarchy!r}): hierarchy not "
                f"divisible by previous level: {total}, {previous}. Each "
                f"level's total shortening must be a multiple of the "
                f"previous level's.")
        factors.append(total // previous)
    return n_layers, factors


def HourglassLM(vocab_size,  # pylint: disable=invalid-name
                d_model=512,
                d_ff=2048,
                vanilla_layers=(1, 1),
                hierarchy="6@3",
                n_heads=8,
                dropout=0.1,
                dropout_shared_axes=None,
                mode="train",
                ff_activation=tl.FastGelu,
                vanilla_attn_type=RelativeAttentionWrapper,
                middle_attn_type=RelativeAttentionWrapper,
                downsampling_fn=AttentionResampling,
                upsampling_fn=AttentionResampling,
                attention_downsampling_fn=AveragePooling,
                attention_upsampling_fn=LinearUpsampling):
    """Token ids (batch, length) -> logits (batch, length, vocab_size).

    ``vanilla_layers`` = (before, after) token-level decoder layers;
    ``hierarchy`` lists 'LAYERS@TOTAL_SHORTENING' levels as a palindrome
    ('1@2 2@6 1@2': one layer at 2x, two at 6x, one at 2x). The length must
    be divisible by the total shortening. ``downsampling_fn`` and
    ``upsampling_fn`` resample (attention resampling by default, which
    itself uses ``attention_downsampling_fn`` / ``attention_upsampling_fn``
    for its queries). 'predict' mode is not available (nor in Trax).
    """
    if mode == "predict":
        raise ValueError("HourglassLM does not run in 'predict' mode (nor "
                         "does Trax's); use mode='train' or 'eval'.")
    n_layers_per_level, shorten_factors = _parse_hierarchy(hierarchy)
    context_bias, location_bias = get_rel_att_inputs(d_model, n_heads)

    def decoder_blocks(n_layers, total_pooling, attention_type):
        return [
            _RelativeDecoderBlock(attention_type, d_model, d_ff, n_heads,
                                  dropout, dropout_shared_axes, mode,
                                  ff_activation, context_bias, location_bias,
                                  total_pooling)
            for _ in range(n_layers)] + [tl.LayerNorm()]

    def resampler(fn, factor, is_upsampling, total_pooling, inner_fn):
        kwargs = dict(d_ff=d_ff, n_heads=n_heads, dropout=dropout,
                      dropout_shared_axes=dropout_shared_axes, mode=mode,
                      ff_activation=ff_activation,
                      context_bias_layer=context_bias,
                      location_bias_layer=location_bias,
                      total_pooling=total_pooling, resampling_fn=inner_fn)
        if is_upsampling:
            return fn(factor, d_model=d_model, is_upsampling=True, **kwargs)
        return fn(factor, d_model, is_upsampling=False, **kwargs)

    def valley(factors, n_layers, total_pooling):
        factor, inner_pooling = factors[0], total_pooling * factors[0]
        shorten = resampler(downsampling_fn, factor, False, total_pooling,
                            attention_downsampling_fn)
        lengthen = resampler(upsampling_fn, factor, True, total_pooling,
                             attention_upsampling_fn)
        if len(factors) > 1:
            middle = [
                decoder_blocks(n_layers[0], inner_pooling, middle_attn_type),
                *valley(factors[1:], n_layers[1:], inner_pooling),
                decoder_blocks(n_layers[0], inner_pooling, middle_attn_type)]
            shift = tl.ShiftRight(factor - 1, mode=mode)
        else:
            middle = [decoder_blocks(n_layers[0], inner_pooling,
                                     middle_attn_type)]
            shift = tl.ShiftRight(factor - 1)  # as Trax: no mode here
        return [tl.Dup(), shift, shorten, *middle, lengthen, tl.LayerNorm(),
                tl.Add()]

    n_before, n_after = vanilla_layers
    return tl.Serial(
        tl.ShiftRight(mode=mode),
        [tl.Embedding(vocab_size, d_model),
         tl.Dropout(rate=dropout, shared_axes=dropout_shared_axes,
                    mode=mode)],
        decoder_blocks(n_before, 1, vanilla_attn_type),
        valley(shorten_factors, n_layers_per_level, 1),
        decoder_blocks(n_after, 1, vanilla_attn_type),
        tl.Dense(vocab_size),
    )
