"""The parts of Trax's configurable Transformer
(``trax.models.research.configurable_transformer``) that the Reformer models
are built from: feed-forward block, attention wrapper, positional encoding
and embedders, with the options those models use (the sparse
feed-forward blocks included). Options beyond them (the infinite and
time-bin positional encodings) say so."""

from trax_compat import layers as tl


def _unsupported(what, value, fix):
    raise NotImplementedError(
        f"{what}={value!r} is not available in trax_compat yet (Trax builds it "
        f"from its research layers); {fix}.")


def _FeedForward(d_model, d_ff, dropout, activation, act_dropout,  # pylint: disable=invalid-name
                 use_bfloat16, mode):
    act_dropout = dropout if act_dropout is None else act_dropout
    return [
        tl.Dense(d_ff, use_bfloat16=use_bfloat16),
        tl.Dropout(rate=act_dropout, shared_axes=[-2], mode=mode),
        activation(),
        tl.Dense(d_model, use_bfloat16=use_bfloat16),
    ]


def _one_in_n_options(ff_sparsity, d_ff):
    """SparseFF's arguments from ``ff_sparsity`` (Trax's forms)."""
    options = {"temperature": 0.1, "quant_prob": 0.3}
    if isinstance(ff_sparsity, str):  # e.g. "16 64 0.1 0.3", from sweeps
        ff_sparsity = [float(v) if "." in v else int(v)
                       for v in ff_sparsity.split()]
    if isinstance(ff_sparsity, (list, tuple)):
        if len(ff_sparsity) not in (2, 4):
            raise ValueError(
                f"ff_sparsity={ff_sparsity!r}: give N, (N, d_lowrank) or "
                f"(N, d_lowrank, temperature, quant_prob).")
        names = ("n_elements_in_block", "d_lowrank", "temperature",
                 "quant_prob")
        options.update(zip(names, ff_sparsity))
    elif isinstance(ff_sparsity, int):
        options.update(n_elements_in_block=ff_sparsity,
                       d_lowrank=d_ff // ff_sparsity)
    else:
        raise TypeError(
            f"ff_sparsity={ff_sparsity!r}: give an int N, a tuple "
            f"(N, d_lowrank[, temperature, quant_prob]) or such a string.")
    return options


def FeedForwardWithOptions(d_model, d_ff, dropout, dropout_shared_axes,  # pylint: disable=invalid-name
                           ff_activation, ff_dropout, ff_chunk_size,
                           ff_use_sru, ff_sparsity, center_layernorm, mode,
                           use_bfloat16=False, ff_sparsity_type="1inN"):
    """LayerNorm, Dense-activation-Dense and dropout, optionally run on
    ``ff_chunk_size`` positions at a time (same result, less memory). With
    ``ff_sparsity`` the block is sparse: ``tl.SparseFF`` for
    ``ff_sparsity_type='1inN'`` (``ff_sparsity`` is N, or (N, d_lowrank)
    or (N, d_lowrank, temperature, quant_prob), or those as a string),
    ``tl.BlockSparseFF`` ('Block') or ``tl.SwitchSparseFF`` ('Switch') with
    ``ff_sparsity`` experts."""
    if ff_sparsity and ff_sparsity_type == "1inN":
        ff = tl.SparseFF(d_ff, **_one_in_n_options(ff_sparsity, d_ff),
                         use_bfloat16=use_bfloat16, mode=mode,
                         dropout_rate=dropout,
                         dropout_shared_axes=dropout_shared_axes,
                         ff_chunk_size=ff_chunk_size)
    elif ff_sparsity and ff_sparsity_type == "Block":
        ff = tl.BlockSparseFF(d_ff, n_experts=ff_sparsity, mode=mode)
    elif ff_sparsity and ff_sparsity_type == "Switch":
        ff = tl.SwitchSparseFF(d_ff, n_experts=ff_sparsity, mode=mode)
    else:
        ff = _FeedForward(d_model, d_ff, dropout, ff_activation, ff_dropout,
                          use_bfloat16, mode)
    res = [tl.LayerNorm(center=center_layernorm), ff]
    # As in Trax: SparseFF has its own dropout and chunking (and any other
    # ff_sparsity_type with ff_sparsity set gets the dense block).
    if ff_sparsity_type != "1inN" or ff_sparsity == 0:
        res.append(tl.Dropout(rate=dropout, shared_axes=dropout_shared_axes,
                              mode=mode))
        if ff_chunk_size > 0:
            res = tl.BatchLeadingAxes(tl.Chunk(tl.Serial(res), ff_chunk_size))
    if ff_use_sru:
        # ff_use_sru SRU layers (or (layers, units)) of 32 units by default,
        # in a residual branch whose shortcut is the feed-forward block.
        if isinstance(ff_use_sru, (list, tuple)):
            sru_n_layers, sru_n_units = ff_use_sru
        else:
            sru_n_layers, sru_n_units = ff_use_sru, 32
        block = ([tl.LayerNorm(center=center_layernorm),
                  tl.Dense(sru_n_units)]
                 + [tl.SRU(sru_n_units, mode=mode)
                    for _ in range(sru_n_layers)]
                 + [tl.Dense(d_model)])
        res = tl.Residual(block, shortcut=res)
    return [res]


def ApplyAttentionLayer(attention_type, d_model, n_heads, d_qk, d_v, causal,  # pylint: disable=invalid-name
                        masked, attention_dropout, output_dropout,
                        attention_chunk_size, mode):
    """``attention_type`` built with the efficient-attention arguments, or
    (for a layer without ``d_qk``) the classic ones; chunked over the batch
    when ``attention_chunk_size`` > 0."""
    try:
        attention = attention_type(
            n_heads=n_heads, d_qk=d_qk, d_v=d_v, causal=causal, masked=masked,
            output_dropout=output_dropout,
            attention_dropout=attention_dropout, mode=mode)
    except TypeError:  # A classic attention layer: no d_qk argument.
        attention = attention_type(d_model, n_heads=n_heads,
                                   dropout=attention_dropout, mode=mode)
    return tl.Chunk(attention, attention_chunk_size)


@tl.assert_shape("...d->...d")
def PositionalEncoder(mode, dropout=None, max_len=None, pos_type=None,  # pylint: disable=invalid-name
                      pos_axial_shape=None, pos_d_axial_embs=None,
                      pos_start_from_zero_prob=1.0, pos_max_offset_to_add=0,
                      use_bfloat16=False):
    """The positional encoding ``pos_type`` names: Trax's learned-sinusoid
    ``PositionalEncoding`` (None), ``'sin-cos'``, ``'fixed-base'``, none
    at all (``'no'``), or for any other name the axial encoding over
    ``pos_axial_shape`` with widths ``pos_d_axial_embs``."""
    if not pos_type:
        return tl.PositionalEncoding(
            max_len=max_len, dropout=dropout, use_bfloat16=use_bfloat16,
            start_from_zero_prob=pos_start_from_zero_prob,
            max_offset_to_add=pos_max_offset_to_add, mode=mode)
    if pos_type == "sin-cos":
        return tl.SinCosPositionalEncoding(mode=mode)
    if pos_type == "fixed-base":
        return tl.FixedBasePositionalEncoding(mode=mode)
    if pos_type == "no":
        return tl.Serial()
    if pos_type in ("infinite", "infinite-affine", "time-bin"):
        _unsupported("pos_type", pos_type,
                     "use pos_type=None, 'sin-cos', 'fixed-base' or 'axial'")
    # Trax takes every other name for the axial encoding.
    if pos_d_axial_embs is None or not pos_axial_shape:
        raise ValueError(
            f"pos_type={pos_type!r} selects the axial positional encoding, "
            f"which needs pos_axial_shape and pos_d_axial_embs (got "
            f"{pos_axial_shape!r} and {pos_d_axial_embs!r}); give both, or "
            f"use pos_type=None.")
    return tl.AxialPositionalEncoding(
        shape=pos_axial_shape, d_embs=pos_d_axial_embs,
        dropout_broadcast_dims=tuple(range(1, len(pos_axial_shape) + 1)),
        dropout=dropout, mode=mode)


def EmbeddingAndPositionalEncodings(input_vocab_size, d_model, mode,  # pylint: disable=invalid-name
                                    embedding_dropout, dropout_shared_axes,
                                    max_len, output_vocab_size=None,
                                    pos_type=None, pos_axial_shape=None,
                                    pos_d_axial_embs=None,
                                    pos_start_from_zero_prob=1.0,
                                    pos_max_offset_to_add=0,
                                    use_bfloat16=False):
    """(input encoder, output encoder, output vocabulary size): embedding,
    dropout and positional encoding for each side. Without
    ``output_vocab_size`` both sides share one embedding layer; the encoder
    side never runs in 'predict' mode."""
    def embedder(vocab_size, embedding_mode):
        if vocab_size is not None:
            embedding = tl.Embedding(vocab_size, d_model,
                                     use_bfloat16=use_bfloat16)
        else:
            embedding = tl.Dense(d_model, use_bfloat16=use_bfloat16)
        return [embedding,
                tl.Dropout(rate=embedding_dropout,
                           shared_axes=dropout_shared_axes,
                           mode=embedding_mode)]

    def encoder(embedding_mode):
        return PositionalEncoder(
            embedding_mode, dropout=embedding_dropout, max_len=max_len,
            pos_type=pos_type, pos_axial_shape=pos_axial_shape,
            pos_d_axial_embs=pos_d_axial_embs,
            pos_start_from_zero_prob=pos_start_from_zero_prob,
            pos_max_offset_to_add=pos_max_offset_to_add,
            use_bfloat16=use_bfloat16)

    encoder_mode = "eval" if mode == "predict" else mode
    in_embedder = embedder(input_vocab_size, encoder_mode)
    in_encoder = in_embedder + [encoder(encoder_mode)]
    if not (input_vocab_size or output_vocab_size):
        raise ValueError("Give input_vocab_size or output_vocab_size.")
    out_embedder = (in_embedder if output_vocab_size is None
                    else embedder(output_vocab_size, mode))
    out_encoder = out_embedder + [encoder(mode)]
    if output_vocab_size is None:
        output_vocab_size = input_vocab_size
    in_spec = "...a->...b" if input_vocab_size is None else "...->...d"
    return (tl.AssertFunction(in_spec, in_encoder),
            tl.AssertFunction("...->...d", out_encoder), output_vocab_size)
