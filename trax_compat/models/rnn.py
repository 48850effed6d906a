"""Recurrent language and sequence-to-sequence models, as Trax's
``trax.models.rnn``."""

from trax_compat import layers as tl
from trax_compat.fastmath import numpy as jnp


def RNNLM(vocab_size, d_model=512, n_layers=2, rnn_cell=tl.LSTMCell,  # pylint: disable=invalid-name
          rnn_cell_d_state_multiplier=2, dropout=0.1, mode="train"):
    """A language model of ``n_layers`` (Trax allows only 2) stacked RNN
    cells scanned over the time axis: token ids (batch, length) -> logits
    (batch, length, vocab_size)."""
    if n_layers != 2:
        raise ValueError(f"Number of layers must be set to 2; instead got "
                         f"{n_layers}.")

    def stacked_cells():
        # The scanned state is all cells' states concatenated: split it,
        # run the cells one after the other, concatenate the new states.
        return tl.Serial(
            tl.Parallel([], tl.Split(n_items=n_layers)),
            tl.SerialWithSideOutputs(
                [rnn_cell(n_units=d_model) for _ in range(n_layers)]),
            tl.Parallel([], tl.Concatenate(n_items=n_layers)))

    zero_state = tl.MakeZeroState(
        depth_multiplier=n_layers * rnn_cell_d_state_multiplier)
    return tl.Serial(
        tl.ShiftRight(mode=mode),
        tl.Embedding(vocab_size, d_model),
        tl.Dropout(rate=dropout, mode=mode),
        tl.Branch([], zero_state),
        tl.Scan(stacked_cells(), axis=1, mode=mode),
        tl.Select([0], n_in=2),  # the outputs, without the final RNN state
        tl.Dense(vocab_size),
    )


def GRULM(vocab_size=256, d_model=512, n_layers=1, mode="train"):  # pylint: disable=invalid-name
    """A language model of ``n_layers`` GRUs: token ids (batch, length) ->
    logits (batch, length, vocab_size)."""
    return tl.Serial(
        tl.ShiftRight(mode=mode),
        tl.Embedding(vocab_size, d_model),
        [tl.GRU(d_model, mode=mode) for _ in range(n_layers)],
        tl.Dense(vocab_size),
    )


def _PrepareAttentionInputs():  # pylint: disable=invalid-name
    """(encoder activations, decoder activations, source ids) -> queries,
    keys, values and a float mask (batch, 1, decoder length, encoder
    length) that is 1 where the source token is not padding (id 0)."""
    def prepare(encoder_activations, decoder_activations, input_tokens):
        mask = (input_tokens != 0)
        mask = jnp.reshape(mask, (mask.shape[0], 1, 1, mask.shape[1]))
        mask = mask + jnp.zeros((1, 1, decoder_activations.shape[1], 1))
        return (decoder_activations, encoder_activations,
                encoder_activations, mask.astype(jnp.float32))
    return tl.Fn("PrepareAttentionInputs", prepare, n_out=4)


def LSTMSeq2SeqAttn(input_vocab_size=256, target_vocab_size=256,  # pylint: disable=invalid-name
                    d_model=512, n_encoder_layers=2, n_decoder_layers=2,
                    n_attention_heads=1, attention_dropout=0.0,
                    mode="train"):
    """An LSTM encoder-decoder with attention: (source ids, target ids) ->
    (log-probabilities over the target vocabulary, target ids). The
    decoder's first LSTM gives the queries, the encoder's outputs the keys
    and values; source padding is masked out."""
    encoder = tl.Serial(
        tl.Embedding(input_vocab_size, d_model),
        [tl.LSTM(d_model) for _ in range(n_encoder_layers)],
    )
    pre_attention_decoder = tl.Serial(
        tl.ShiftRight(mode=mode),
        tl.Embedding(target_vocab_size, d_model),
        tl.LSTM(d_model, mode=mode),
    )
    return tl.Serial(
        tl.Select([0, 1, 0, 1]),  # source, target, source, target
        tl.Parallel(encoder, pre_attention_decoder),
        _PrepareAttentionInputs(),  # q, k, v, mask, target
        tl.Residual(tl.AttentionQKV(d_model, n_heads=n_attention_heads,
                                    dropout=attention_dropout, mode=mode,
                                    cache_KV_in_predict=True)),
        tl.Select([0, 2]),  # decoder activations, target
        [tl.LSTM(d_model, mode=mode) for _ in range(n_decoder_layers)],
        tl.Dense(target_vocab_size),
        tl.LogSoftmax(),
    )
