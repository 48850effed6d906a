"""Small networks for Atari frames, as Trax's ``trax.models.atari_cnn``.

Inputs are (batch, time, ...) sequences of frames; the models stack each
frame with its ``n_frames - 1`` predecessors along the last axis.
"""

from trax_compat import layers as tl


def _shifted(n):
    # The same weightless ShiftRight layer used n times, as Trax builds it.
    return [tl.ShiftRight()] * n


def _FrameStack(n_frames):  # pylint: disable=invalid-name
    """(B, T, ..., C) -> (B, T, ..., C * n_frames): each frame followed by
    the frames 1..n_frames-1 steps before it (zeros before the start)."""
    if n_frames < 1:
        raise ValueError(f"n_frames must be at least 1, got {n_frames}.")
    if n_frames == 1:
        return []
    return [tl.Branch(*[_shifted(n) for n in range(n_frames)]),
            tl.Concatenate(n_items=n_frames, axis=-1)]


def _BytesToFloats():  # pylint: disable=invalid-name
    return tl.Fn("BytesToFloats", lambda x: x / 255.0)


def AtariCnn(n_frames=4, hidden_sizes=(32, 32), output_size=128,  # pylint: disable=invalid-name
             mode="train"):
    """Two strided 5x5 convolutions and a dense layer over stacked frames:
    (B, T, H, W, C) bytes -> (B, T, output_size). ``mode`` has no effect."""
    del mode
    return tl.Serial(
        _BytesToFloats(),
        _FrameStack(n_frames=n_frames),
        tl.Conv(hidden_sizes[0], (5, 5), (2, 2), "SAME"),
        tl.Relu(),
        tl.Conv(hidden_sizes[1], (5, 5), (2, 2), "SAME"),
        tl.Relu(),
        tl.Flatten(n_axes_to_keep=2),
        tl.Dense(output_size),
        tl.Relu(),
    )


def AtariCnnBody(n_frames=4, hidden_sizes=(32, 64, 64), output_size=512,  # pylint: disable=invalid-name
                 mode="train", kernel_initializer=None, padding="VALID"):
    """The DQN-style body: 8x8/4, 4x4/2 and 3x3/1 convolutions and a dense
    layer over stacked frames. ``mode`` has no effect."""
    del mode
    convs = []
    for i, (size, stride) in enumerate(((8, 4), (4, 2), (3, 1))):
        convs += [tl.Conv(hidden_sizes[i], (size, size), (stride, stride),
                          padding=padding,
                          kernel_initializer=kernel_initializer),
                  tl.Relu()]
    return tl.Serial(
        _BytesToFloats(),
        _FrameStack(n_frames=n_frames),
        convs,
        tl.Flatten(n_axes_to_keep=2),
        tl.Dense(output_size),
        tl.Relu(),
    )


def FrameStackMLP(n_frames=4, hidden_sizes=(64,), output_size=64,  # pylint: disable=invalid-name
                  mode="train"):
    """Dense layers over the last ``n_frames`` frames. ``mode`` has no
    effect."""
    del mode
    return tl.Serial(
        _FrameStack(n_frames=n_frames),
        [[tl.Dense(width), tl.Relu()] for width in hidden_sizes],
        tl.Dense(output_size),
    )
