"""The improved Neural GPU (arXiv 1702.08727), as Trax's
``trax.models.neural_gpu``.

The model is an embedding, one convolutional GRU cell applied ``steps``
times, and a Dense readout. The cell is a single layer instance repeated,
so the steps share one set of weights, as in Trax (the weights tree shows
the repeats as Trax's cache markers).
"""

from trax_compat import layers as tl
from trax_compat.fastmath import numpy as jnp


def SaturationCost(x, limit=0.9):  # pylint: disable=invalid-name
    """How far ``|x|`` stays below ``limit``: ``min(0, |x| - limit)``."""
    return jnp.minimum(0, jnp.abs(x) - limit)


def DiagonalGate():  # pylint: disable=invalid-name
    """Splits the channels of a ``[batch, rows, length, depth]`` input in
    three equal parts and shifts the first one step along ``length`` one
    way and the last one the other way (zeros fill in)."""

    def f(x):
        depth = x.shape[-1] // 3
        if 3 * depth != x.shape[-1]:
            raise ValueError(f"DiagonalGate needs a depth divisible by 3, "
                             f"got an input of shape {x.shape}.")
        x = jnp.pad(x, [(0, 0), (0, 0), (1, 1), (0, 0)], mode="constant",
                    constant_values=0.0)
        return jnp.concatenate([x[:, :, :-2, :depth],
                                x[:, :, 1:-1, depth:2 * depth],
                                x[:, :, 2:, 2 * depth:]], axis=3)

    return tl.Fn("DiagonalGate", f)


def ConvDiagonalGRU(units, kernel_size=(3, 3)):  # pylint: disable=invalid-name
    """The Neural GPU's cell: a GRU whose transforms are SAME convolutions,
    with hard gates and the diagonal memory shift."""

    def conv():
        return tl.Conv(filters=units, kernel_size=kernel_size, padding="SAME")

    return tl.GeneralGRUCell(candidate_transform=conv,
                             memory_transform_fn=DiagonalGate,
                             gate_nonlinearity=tl.HardSigmoid,
                             candidate_nonlinearity=tl.HardTanh)


def NeuralGPU(d_feature=96, steps=16, vocab_size=2, mode="train"):  # pylint: disable=invalid-name
    """Token ids ``[batch, rows, length]`` to logits
    ``[batch, rows, length, vocab_size]``: embed, run one shared
    ``ConvDiagonalGRU(d_feature)`` ``steps`` times, project. ``mode`` has no
    effect (the cell's dropout runs in every mode, as in Trax)."""
    del mode
    core = ConvDiagonalGRU(units=d_feature)
    return tl.Serial(tl.Embedding(vocab_size=vocab_size, d_feature=d_feature),
                     [core] * steps,
                     tl.Dense(vocab_size))
