"""Trax's layer-skipping language models
(``trax.models.research.layerdrop_transformer``), after Fan, Grave and
Joulin, "Reducing Transformer Depth on Demand with Structured Dropout"
(https://arxiv.org/abs/1909.11556).

Each is ``TransformerLM``'s stack (shift, embedding, dropout, positional
encoding, decoder blocks, LayerNorm, Dense) with every decoder block inside
a ``tl.Cond`` that runs it or passes its input through, on a number drawn
by a ``tl.RandomUniform`` layer from the layer's key:

* ``LayerDropTransformerLM``: one draw per block; block ``i`` runs when the
  draw exceeds ``skip_fraction[i]`` (in 'eval'/'predict':
  ``eval_skip_fraction[i]``).
* ``EveryOtherLayerDropTransformerLM``: one draw per call, shared by the
  blocks; the blocks picked by ``skip_mode`` run when it exceeds
  ``skip_fraction``, the others always.
* ``SkippingTransformerLM``: one draw per call in ``[0, n_layers /
  skip_fraction)``; block ``i`` runs when it exceeds ``i``, so a call runs
  the first blocks only.

A skipped block keeps its weights (both ``Cond`` branches are built), so
the weights tree is the same whatever runs, and the draws come from the
layer keys Trax derives, so a fixed key skips the same blocks as in Trax.
"""

from trax_compat import layers as tl
from trax_compat.layers.assert_shape import assert_shape
from trax_compat.models import transformer


def LargerThan(val):  # pylint: disable=invalid-name
    """A weightless layer: ``x > val``, elementwise."""
    return tl.Fn("LargerThan", lambda x: x > val)


def _embedder(vocab_size, d_model, dropout, max_len, mode):
    return [
        tl.Embedding(vocab_size, d_model),
        tl.Dropout(rate=dropout, mode=mode),
        tl.PositionalEncoding(max_len=max_len, mode=mode),
    ]


def _block(d_model, d_ff, n_heads, dropout, mode, ff_activation):
    # Trax passes [] as the dropout's shared axes here (no axis shared).
    return tl.Serial(transformer._DecoderBlock(  # pylint: disable=protected-access
        d_model, d_ff, n_heads, dropout, [], mode, ff_activation))


def _fractions(value, n_layers, argument, model):
    """``value`` as one fraction per layer (a number is repeated)."""
    if not isinstance(value, (list, tuple)):
        return [value] * n_layers
    if len(value) != n_layers:
        raise ValueError(
            f"{model}: n_layers ({n_layers}) must be equal to "
            f"len({argument}) ({len(value)}); give one fraction per layer "
            f"or a single number for all of them.")
    return list(value)


@assert_shape("...s->...sv")
def SkippingTransformerLM(vocab_size,  # pylint: disable=invalid-name
                          d_model=512,
                          d_ff=2048,
                          n_layers=6,
                          n_heads=8,
                          dropout=0.1,
                          max_len=2048,
                          mode="train",
                          ff_activation=tl.Relu,
                          skip_fraction=0.4):
    """A language model (token ids to logits, as ``TransformerLM``) that in
    'train' mode runs only its first ``k`` decoder blocks, ``k`` drawn per
    call: block ``i`` runs when a draw ``u ~ U[0, n_layers /
    skip_fraction)`` exceeds ``i`` (all blocks with ``skip_fraction=0``, and
    in 'eval' and 'predict' mode).

    Like Trax's, the model keeps the draw on the stack next to the
    activations, so it maps ``(ids, *rest)`` to ``(logits, *rest)``.
    """
    transformer._check_mode(mode, "SkippingTransformerLM")  # pylint: disable=protected-access
    if mode == "train" and skip_fraction != 0.0:
        low, high = 0.0, float(n_layers) / skip_fraction
    else:
        low = high = float(n_layers)

    @assert_shape("...sd,->...sd,")
    def ConditionedBlock(layer_number):  # pylint: disable=invalid-name
        return tl.Serial(
            tl.Select([1, 0, 1]),  # draw, x, draw
            tl.Cond(LargerThan(float(layer_number)),
                    _block(d_model, d_ff, n_heads, dropout, mode,
                           ff_activation),
                    tl.Serial()),
        )  # x, draw

    return tl.Serial(
        tl.ShiftRight(mode=mode),
        _embedder(vocab_size, d_model, dropout, max_len, mode),
        tl.RandomUniform(low, high, sync=True),  # draw, x
        tl.Swap(),  # x, draw
        [ConditionedBlock(i) for i in range(n_layers)],
        tl.AssertShape("...sd,"),
        tl.Select([0], n_in=2),  # x
        tl.AssertShape("...sd"),
        tl.LayerNorm(),
        tl.Dense(vocab_size),
    )


# Which blocks EveryOtherLayerDropTransformerLM may skip, by skip_mode.
_SKIP_MODES = {
    "even": lambda i, n: i % 2 == 0,  # the first block is number 0
    "odd": lambda i, n: i % 2 == 1,
    "1half": lambda i, n: i < n / 2,
    "2half": lambda i, n: i >= n / 2,
}


@assert_shape("...s->...sv")
def EveryOtherLayerDropTransformerLM(vocab_size,  # pylint: disable=invalid-name
                                     d_model=512,
                                     d_ff=2048,
                                     n_layers=6,
                                     n_heads=8,
                                     dropout=0.1,
                                     max_len=2048,
                                     mode="train",
                                     ff_activation=tl.Relu,
                                     skip_mode="even",
                                     skip_fraction=0.5,
                                     eval_skip_fraction=0.0):
    """A language model (token ids to logits, as ``TransformerLM``) that
    skips a fixed set of decoder blocks (``skip_mode``: 'even', 'odd',
    '1half' or '2half') together, on a fraction ``skip_fraction`` of the
    calls in 'train' mode (``eval_skip_fraction`` otherwise), and runs the
    others always: one ``u ~ U[0, 1)`` per call; a skippable block runs
    when ``u > skip_fraction``, any other when ``u > 0``.
    """
    transformer._check_mode(mode, "EveryOtherLayerDropTransformerLM")  # pylint: disable=protected-access
    if skip_mode not in _SKIP_MODES:
        raise ValueError(
            f"EveryOtherLayerDropTransformerLM(skip_mode={skip_mode!r}): "
            f"skip_mode must be one of {sorted(_SKIP_MODES)}.")
    skippable = _SKIP_MODES[skip_mode]
    if mode != "train":
        skip_fraction = eval_skip_fraction

    @assert_shape("...sd,->...sd,")
    def ConditionedBlock(layer_number):  # pylint: disable=invalid-name
        threshold = (skip_fraction if skippable(layer_number, n_layers)
                     else 0.0)
        return tl.Serial(
            tl.Select([1, 0, 1]),  # draw, x, draw
            tl.Cond(LargerThan(threshold),
                    _block(d_model, d_ff, n_heads, dropout, mode,
                           ff_activation)),
        )  # x, draw

    return tl.Serial(
        tl.ShiftRight(mode=mode),
        _embedder(vocab_size, d_model, dropout, max_len, mode),
        tl.RandomUniform(0., 1., sync=True),  # draw, x
        tl.Swap(),  # x, draw
        [ConditionedBlock(i) for i in range(n_layers)],
        tl.Select([0], n_in=2),  # x
        tl.LayerNorm(),
        tl.Dense(vocab_size),
    )


def _every_other(skip_fraction):
    """The paper's pruning at inference: of every ``1 / p`` blocks
    (``p`` the block's training skip fraction) the first is always
    skipped, the rest kept; blocks never skipped in training are kept."""
    return [(1.0 if i % int(1. / p) == 0 else 0.0) if p != 0 else 0.0
            for i, p in enumerate(skip_fraction)]


@assert_shape("...s->...sv")
def LayerDropTransformerLM(vocab_size,  # pylint: disable=invalid-name
                           d_model=512,
                           d_ff=2048,
                           n_layers=6,
                           n_heads=8,
                           dropout=0.1,
                           max_len=2048,
                           mode="train",
                           ff_activation=tl.Relu,
                           skip_fraction=0.4,
                           eval_skip_fraction="every_other"):
    """A language model (token ids to logits, as ``TransformerLM``) whose
    decoder blocks are each skipped independently: block ``i`` draws its
    own ``u ~ U[0, 1)`` per call and runs when ``u > skip_fraction[i]`` in
    'train' mode, ``u > eval_skip_fraction[i]`` otherwise.

    ``skip_fraction``: one number for all blocks or one per block.
    ``eval_skip_fraction``: the same, or 'every_other' (the paper's
    inference-time pruning: see ``_every_other``) or 'same' (the training
    fractions).
    """
    transformer._check_mode(mode, "LayerDropTransformerLM")  # pylint: disable=protected-access
    skip_fraction = _fractions(skip_fraction, n_layers, "skip_fraction",
                               "LayerDropTransformerLM")
    if isinstance(eval_skip_fraction, str):
        if eval_skip_fraction == "every_other":
            eval_skip_fraction = _every_other(skip_fraction)
        elif eval_skip_fraction == "same":
            eval_skip_fraction = skip_fraction
        else:
            raise ValueError(
                f"LayerDropTransformerLM(eval_skip_fraction="
                f"{eval_skip_fraction!r}): a string must be 'every_other' "
                f"or 'same'; otherwise give a number or one per layer.")
    eval_skip_fraction = _fractions(eval_skip_fraction, n_layers,
                                    "eval_skip_fraction",
                                    "LayerDropTransformerLM")
    thresholds = skip_fraction if mode == "train" else eval_skip_fraction

    @assert_shape("...sd->...sd")
    def ConditionedBlock(layer_number):  # pylint: disable=invalid-name
        return tl.Serial(
            tl.RandomUniform(0., 1, sync=True),  # draw, x
            tl.Cond(LargerThan(thresholds[layer_number]),
                    _block(d_model, d_ff, n_heads, dropout, mode,
                           ff_activation),
                    tl.Serial()),
        )  # x

    return tl.Serial(
        tl.ShiftRight(mode=mode),
        _embedder(vocab_size, d_model, dropout, max_len, mode),
        [ConditionedBlock(i) for i in range(n_layers)],
        tl.LayerNorm(),
        tl.Dense(vocab_size),
    )
