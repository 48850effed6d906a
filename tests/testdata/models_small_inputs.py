"""The inputs of the ``models_small`` oracle (NumPy only): the generator
(real Trax) and the tests build them here, and the oracle keeps their
SHA-256, so a change of NumPy's streams shows as a clear failure."""

import numpy as np

I32 = np.int32


def inputs():
    """Name -> array. The first five are the developers' fixtures' inputs
    (same generators, same draw order); the rest are this oracle's own."""
    ids = np.random.default_rng(5).integers(1, 20, size=(2, 8)).astype(I32)
    ids[0, 5:] = 0
    frng = np.random.default_rng(6)
    mlp = frng.standard_normal((3, 2, 5)).astype(np.float32)
    wrn = (frng.integers(-16, 17, size=(2, 32, 32, 3)).astype(np.float32)
           / 16)
    r50 = (frng.integers(-16, 17, size=(1, 200, 200, 3)).astype(np.float32)
           / 16)
    atari = frng.integers(0, 256, size=(1, 3, 16, 16, 3)).astype(np.uint8)
    g = np.random.default_rng(14)
    ids3 = g.integers(1, 11, size=(3, 5)).astype(I32)
    ids3[1, 3:] = 0
    src3 = g.integers(1, 11, size=(3, 7)).astype(I32)
    src3[2, 4:] = 0
    tgt3 = g.integers(1, 9, size=(3, 5)).astype(I32)
    # The Neural GPU's ids, [batch, rows, length], from a stream of their
    # own (the draws above keep their order).
    n = np.random.default_rng(21)
    ngpu = n.integers(0, 5, size=(2, 1, 7)).astype(I32)
    ngpu2 = n.integers(0, 7, size=(3, 2, 5)).astype(I32)
    return {
        "ids": ids, "mlp": mlp, "wrn": wrn, "r50": r50, "atari": atari,
        "ids3": ids3, "src3": src3, "tgt3": tgt3,
        "ids_gru2": g.integers(1, 13, size=(3, 5)).astype(I32),
        "mlp2": g.standard_normal((5, 7)).astype(np.float32),
        "wrn2": (g.integers(-16, 17, size=(3, 32, 32, 2)).astype(np.float32)
                 / 16),
        "atari2": g.integers(0, 256, size=(2, 2, 12, 12, 1)).astype(np.uint8),
        "body": g.integers(0, 256, size=(2, 2, 36, 36, 1)).astype(np.uint8),
        "body_same": g.integers(0, 256, size=(1, 3, 8, 8, 2)).astype(np.uint8),
        "frames": g.standard_normal((2, 4, 6)).astype(np.float32),
        "ngpu": ngpu, "ngpu2": ngpu2,
    }


def model_input(keys, arrays):
    """A model's input from its oracle ``input`` field: a name or an
    expression over the names (``ids[:, :6]``), or a list of them."""
    if isinstance(keys, (tuple, list)):
        return tuple(model_input(k, arrays) for k in keys)
    return eval(keys, {}, dict(arrays)).copy()  # pylint: disable=eval-used
