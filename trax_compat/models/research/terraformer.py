"""Trax's Terraformer (``trax.models.research.terraformer``): a reversible
encoder-decoder whose decoder runs over the encoder's output and the target
joined into one sequence (``ConcatWithPadding``), with Reformer's blocks,
efficient attention and optional SRU feed-forward branches.

Built: the token-input and embedded-input variants, the attention types
the Reformer blocks take (``LSHSelfAttention``, ``SelfAttention``,
``PureLSHSelfAttentionWrapper``, ``CausalAttention``), ``ff_use_sru``,
``n_layers_forget``, ``reversible_encoder`` (the encoder's two halves each
joined with the decoder's input, without the averaging Dense and
LayerNorm), the positional encodings of ``pos_type``,
``half_before_layer`` / ``double_after_layer`` (half-width embeddings,
encoder and first decoder blocks, widened by ``ReversibleConcatenatePair``)
and 'predict' mode (the encoder runs once and is cached; the decoder's
causal attention, sparse feed-forward and SRU layers read the encoder's
padding mask there, as in Trax).
"""

import contextlib

import jax.numpy as jnp

from trax_compat import layers as tl
from trax_compat.layers import attention
from trax_compat.layers import rnn
from trax_compat.layers.research import sparsity
from trax_compat.models.reformer import configurable as ct
from trax_compat.models.reformer import reformer
from trax_compat.models.research import transformer2 as t2


def _unsupported(option, value, fix):
    raise NotImplementedError(
        f"ConfigurableTerraformer({option}={value!r}) is not available in "
        f"trax_compat yet; {fix}.")


def _check_options(d_model, d_ff, d_attention_key, d_attention_value,
                   n_heads, n_decoder_layers, half_before_layer,
                   double_after_layer):
    if (d_model / 2) % n_heads != 0:
        raise ValueError(f"n_heads ({n_heads}) must divide d_model/2 "
                         f"({d_model / 2}).")
    if half_before_layer:
        for name, value in (("d_ff", d_ff),
                            ("d_attention_key", d_attention_key),
                            ("d_attention_value", d_attention_value)):
            if value % 2:
                raise ValueError(
                    f"half_before_layer={half_before_layer} halves {name}, "
                    f"which is odd ({value}); give an even {name}.")
        if half_before_layer > n_decoder_layers:
            raise ValueError(
                f"half_before_layer ({half_before_layer}) must be at most "
                f"n_decoder_layers ({n_decoder_layers}), so that the halved "
                f"vectors are joined back to d_model.")
    if double_after_layer and double_after_layer >= n_decoder_layers:
        raise ValueError(
            f"double_after_layer ({double_after_layer}) must be below "
            f"n_decoder_layers ({n_decoder_layers}), so that a decoder "
            f"block follows the doubling.")


def _stage_dims(d_model, d_ff, d_key, d_value, half_before_layer,
                double_after_layer):
    """(d_model, d_ff, d_key, d_value) of the first stage (embeddings,
    encoder, decoder blocks before ``half_before_layer``) and of the last
    (decoder blocks after ``double_after_layer``, output layer)."""
    dims = (d_model, d_ff, d_key, d_value)
    # True division, as in Trax: the halved widths are floats (4.0), which
    # the layers take as sizes and show in their names.
    first = tuple(d / 2 for d in dims) if half_before_layer else dims
    last = tuple(d * 2 for d in dims) if double_after_layer else dims
    return first, last


def ConfigurableTerraformer(input_vocab_size, output_vocab_size=None,  # pylint: disable=invalid-name
                            d_model=512, d_ff=2048, d_attention_key=None,
                            d_attention_value=None, n_encoder_layers=6,
                            n_decoder_layers=6, n_heads=8, dropout=0.1,
                            max_len=2048,
                            encoder_attention_type=tl.SelfAttention,
                            encoder_decoder_attention_type=tl.SelfAttention,
                            pos_type="fixed-base", pos_axial_shape=(),
                            pos_d_axial_embs=None,
                            pos_start_from_zero_prob=1.0,
                            pos_max_offset_to_add=0, ff_activation=tl.Relu,
                            ff_use_sru=0, ff_chunk_size=0, ff_dropout=None,
                            ff_sparsity=0, loss_sparsity_type="mult",
                            loss_sparsity=0, loss_d_lowrank=0,
                            loss_sparsity_prob=None, attention_chunk_size=0,
                            n_layers_forget=0, forget_dense=True,
                            n_decoder_attention_layers=2, use_bfloat16=False,
                            reversible_encoder=False,
                            use_two_swaps_per_encoder_block=True,
                            center_layernorm=True, half_before_layer=None,
                            double_after_layer=None, mode="train"):
    """Terraformer: (source tokens, target tokens) -> (logits over the
    target vocabulary, target tokens); with ``input_vocab_size=None`` the
    source is given embedded, with its mask: (vectors, mask, target
    tokens). ``encoder_decoder_attention_type`` may be a list, cycled
    through the decoder blocks."""
    d_attention_key = d_attention_key or d_model // n_heads
    d_attention_value = d_attention_value or d_model // n_heads
    _check_options(d_model, d_ff, d_attention_key, d_attention_value,
                   n_heads, n_decoder_layers, half_before_layer,
                   double_after_layer)
    dims = (d_model, d_ff, d_attention_key, d_attention_value)
    first, last = _stage_dims(*dims, half_before_layer, double_after_layer)
    d_model1, d_ff1 = first[:2]
    # In predict mode the SRU layers read the encoder's mask through this.
    portal_mask = _PortalInput() if mode == "predict" else None

    in_encoder, out_encoder, output_vocab_size = (
        ct.EmbeddingAndPositionalEncodings(
            input_vocab_size, d_model1, mode, dropout, [-2], max_len,
            output_vocab_size=output_vocab_size, pos_type=pos_type,
            pos_axial_shape=pos_axial_shape,
            pos_d_axial_embs=pos_d_axial_embs,
            pos_start_from_zero_prob=pos_start_from_zero_prob,
            pos_max_offset_to_add=pos_max_offset_to_add,
            use_bfloat16=use_bfloat16))

    encoder_blocks = [
        reformer.EncoderBlock(
            d_model1, d_ff1, n_heads, encoder_attention_type, dropout=dropout,
            ff_activation=ff_activation, ff_dropout=ff_dropout,
            ff_use_sru=ff_use_sru, ff_chunk_size=ff_chunk_size,
            ff_sparsity=ff_sparsity,
            attention_chunk_size=attention_chunk_size,
            center_layernorm=center_layernorm, use_bfloat16=use_bfloat16,
            use_two_swaps_per_block=use_two_swaps_per_encoder_block,
            mode=mode)
        for _ in range(n_encoder_layers)]
    encoder = [tl.ReversibleSelect([0, 0]),
               _ReversibleSerialForget(encoder_blocks, d_model1,
                                       n_layers_forget, forget_dense)]
    if reversible_encoder:
        # Both halves go on, each joined with the decoder's vectors:
        # vec_e1 vec_e2 vec_d mask_e tok_e, then vec_ed1 vec_ed2 tok_e tok_d.
        join = [tl.ReversibleSelect([0, 1, 4, 2, 3]),
                t2.ConcatWithPadding2(mode=mode)]
    else:
        encoder += [_XYAvg(), tl.Dense(d_model1, use_bfloat16=use_bfloat16),
                    tl.LayerNorm()]
        join = [tl.ReversibleSelect([0, 3, 1, 2]),
                t2.ConcatWithPadding(mode=mode),  # vec_ed tok_e tok_d
                tl.ReversibleSelect([0, 0])]
    encoder = tl.Serial(encoder)
    if mode == "predict":
        encoder = tl.Cache(encoder)

    decoder_blocks = _decoder_blocks(
        portal_mask, encoder_decoder_attention_type, n_decoder_layers,
        _layer_dims(n_decoder_layers, first, dims, last, half_before_layer,
                    double_after_layer),
        n_heads, dropout, ff_activation, ff_dropout, ff_use_sru,
        ff_chunk_size, ff_sparsity, attention_chunk_size,
        n_decoder_attention_layers, center_layernorm, use_bfloat16, mode)

    return tl.Serial(
        _input_layers(input_vocab_size, in_encoder),  # vec_e mask_e tok_e tok_d
        tl.Parallel([], portal_mask),
        tl.Select([0, 1, 2, 3, 3]),  # the target tokens, kept for the loss
        tl.Parallel([], [], [], [tl.ShiftRight(mode=mode), out_encoder]),
        encoder,                     # vec_e mask_e tok_e vec_d tok_d
        join,                        # vec_ed vec_ed tok_e tok_d
        _ReversibleSerialForget(decoder_blocks, last[0], n_layers_forget,
                                forget_dense),
        _XYAvg(),
        tl.LayerNorm(),
        tl.Select([0, 1, 2, 2]),     # vec_ed tok_e tok_d tok_d
        t2.StripFromConcatenateWithPadding(mode=mode),  # vec_d tok_d
        reformer._loss_dense(  # pylint: disable=protected-access
            output_vocab_size, last[0], loss_sparsity_type, loss_sparsity,
            loss_d_lowrank, loss_sparsity_prob, mode),
    )


def _layer_dims(n_layers, first, middle, last, half_before_layer,
                double_after_layer):
    """Per decoder block: its (d_model, d_ff, d_key, d_value), and whether
    a ``ReversibleConcatenatePair`` (doubling the width) follows it."""
    result = []
    for i in range(n_layers):
        dims = first
        if half_before_layer and i >= half_before_layer:
            dims = middle
        if double_after_layer and i > double_after_layer:
            dims = last
        grows = bool((half_before_layer and i == half_before_layer - 1)
                     or (double_after_layer and i == double_after_layer))
        result.append((dims, grows))
    return result


def _decoder_blocks(portal_mask, attention_types, n_layers, layer_dims,
                    n_heads, dropout, ff_activation, ff_dropout, ff_use_sru,
                    ff_chunk_size, ff_sparsity, attention_chunk_size,
                    n_attention_layers, center_layernorm, use_bfloat16, mode):
    if not isinstance(attention_types, (tuple, list)):
        attention_types = [attention_types]
    if n_layers % len(attention_types):
        raise ValueError(
            f"n_decoder_layers ({n_layers}) must be a multiple of the number "
            f"of encoder_decoder_attention_type entries "
            f"({len(attention_types)}).")
    blocks = []
    with _lend_mask(portal_mask):
        for i, ((d_m, d_f, d_k, d_v), grows) in enumerate(layer_dims):
            blocks.append(reformer.DecoderBlock(
                d_m, d_f, d_k, d_v, n_heads,
                attention_type=attention_types[i % len(attention_types)],
                dropout=dropout, ff_activation=ff_activation,
                ff_dropout=ff_dropout, ff_use_sru=ff_use_sru,
                ff_chunk_size=ff_chunk_size, ff_sparsity=ff_sparsity,
                attention_chunk_size=attention_chunk_size,
                n_attention_layers=n_attention_layers,
                center_layernorm=center_layernorm,
                use_bfloat16=use_bfloat16, mode=mode))
            if grows:
                blocks.append(tl.ReversibleConcatenatePair())
    return blocks


@contextlib.contextmanager
def _lend_mask(portal_mask):
    """While the decoder blocks are made in 'predict' mode, their causal
    attention, sparse feed-forward and SRU layers are given the portal to
    the encoder's padding mask, through the hooks Trax patches for this."""
    if portal_mask is None:
        yield
        return
    patched = [(attention.DotProductCausalAttention, "monkey_patched_mask",
                lambda self: portal_mask),
               (sparsity._RememberPad, "monkey_patched_mask",  # pylint: disable=protected-access
                lambda self: portal_mask)]
    original_scan_sru_cell = rnn.ScanSRUCell
    originals = [(owner, name, owner.__dict__.get(name))
                 for owner, name, _ in patched]
    try:
        for owner, name, value in patched:
            setattr(owner, name, value)
        rnn.ScanSRUCell = lambda mode: original_scan_sru_cell(
            mode, monkey_patched_mask=portal_mask)
        yield
    finally:
        for owner, name, value in originals:
            if value is None:  # inherited: drop the patch
                delattr(owner, name)
            else:
                setattr(owner, name, value)
        rnn.ScanSRUCell = original_scan_sru_cell


def _input_layers(input_vocab_size, in_encoder):
    if input_vocab_size is not None:
        return tl.AssertFunction(
            "bl,br->bld,bl,bl,br",
            tl.Serial(tl.Select([0, 0, 0, 1]),
                      tl.Parallel(in_encoder, [tl.PaddingMask(),
                                               _RemoveAxes12()])))
    return tl.AssertFunction(
        "blf,bl,br->bld,bl,bl,br",
        tl.Serial(tl.Select([0, 1, 1, 2]),
                  tl.Parallel(in_encoder, [], _AsTokenIDs())))


def _RemoveAxes12():  # pylint: disable=invalid-name
    return tl.Fn("RemoveAxes12", lambda x: jnp.squeeze(x, (1, 2)))


def _AsTokenIDs():  # pylint: disable=invalid-name
    return tl.Fn("AsTokenIDs", lambda x: x.astype(jnp.int32))


def _XYAvg():  # pylint: disable=invalid-name
    return tl.Fn("XYAvg", lambda x, y: (x + y) / 2.0)


def _ReversibleSerialForget(layers, d_model, n_layers, forget_dense=True):  # pylint: disable=invalid-name
    """``ReversibleSerial`` of ``layers``, cut every ``n_layers`` blocks by
    a non-reversible step that averages the two halves through a Dense
    (``forget_dense``) or passes them on."""
    if not n_layers or len(layers) <= n_layers + 1:
        return tl.ReversibleSerial(layers)
    if forget_dense:
        forget = tl.Serial(_XYAvg(), tl.Dense(d_model), tl.Dup())
    else:
        forget = tl.Select([0, 1])
    return tl.Serial(
        tl.ReversibleSerial(layers[:n_layers]), forget,
        _ReversibleSerialForget(layers[n_layers:], d_model, n_layers,
                                forget_dense))


class _PortalInput(tl.Layer):
    """Passes its input through and keeps it as its state, for the layer
    ``get_layer()`` returns (no inputs, that value as output) to read later
    in the same call."""

    def __init__(self):
        super().__init__(name="_PortalInput", n_in=1, n_out=1)
        self._portal_output = _PortalOutput(self)

    def forward(self, x):
        if isinstance(x, (list, tuple)):
            x = x[0]
        self.state = (x,)
        return x

    def init_weights_and_state(self, input_signature):
        if isinstance(input_signature, (list, tuple)):
            input_signature = input_signature[0]
        self.state = (jnp.zeros(input_signature.shape),)

    def get_value(self):
        return self.state[0]

    def get_layer(self):
        return self._portal_output


class _PortalOutput(tl.Layer):
    """The portal's value, taken from its ``_PortalInput``."""

    def __init__(self, portal_input):
        super().__init__(name="_PortalOutput", n_in=0, n_out=1)
        self._portal_input = portal_input

    def forward(self, x):
        del x
        return self._portal_input.get_value()

    def get_value(self):
        return self._portal_input.get_value()
