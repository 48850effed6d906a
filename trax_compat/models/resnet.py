"""Residual networks, as Trax's ``trax.models.resnet``: ResNet-50 and
Wide ResNets, with their building blocks."""

from trax_compat import layers as tl


def _bottleneck(kernel_size, filters, strides, norm, non_linearity, mode):
    """1x1 (strided), kxk and 1x1 convolutions, each normalised."""
    filters1, filters2, filters3 = filters
    return [
        tl.Conv(filters1, (1, 1), strides), norm(mode=mode), non_linearity(),
        tl.Conv(filters2, (kernel_size, kernel_size), padding="SAME"),
        norm(mode=mode), non_linearity(),
        tl.Conv(filters3, (1, 1)), norm(mode=mode),
    ]


def ConvBlock(kernel_size, filters, strides, norm, non_linearity,  # pylint: disable=invalid-name
              mode="train"):
    """A bottleneck block whose shortcut is a strided, normalised 1x1
    convolution (it changes the spatial size and the depth)."""
    main = _bottleneck(kernel_size, filters, strides, norm, non_linearity,
                       mode)
    shortcut = [tl.Conv(filters[2], (1, 1), strides), norm(mode=mode)]
    return [tl.Residual(main, shortcut=shortcut), non_linearity()]


def IdentityBlock(kernel_size, filters, norm, non_linearity, mode="train"):  # pylint: disable=invalid-name
    """A bottleneck block with the identity shortcut."""
    # Trax's main branch has the unstrided 1x1 convolution here: Conv's
    # default strides are None, which its repr shows.
    main = _bottleneck(kernel_size, filters, None, norm, non_linearity, mode)
    return [tl.Residual(main), non_linearity()]


def Resnet50(d_hidden=64, n_output_classes=1001, mode="train",  # pylint: disable=invalid-name
             norm=tl.BatchNorm, non_linearity=tl.Relu):
    """ResNet-50: a 7x7/2 convolution and 3x3/2 max pool, 16 bottleneck
    blocks in four stages of depth 4, 8, 16 and 32 x ``d_hidden``, a 7x7
    average pool and a dense classifier. ``norm`` is built with
    ``mode=mode`` (``tl.BatchNorm``, or e.g. ``tl.FilterResponseNorm`` with
    ``tl.ThresholdedLinearUnit`` as ``non_linearity``)."""

    def filters(multiplier):
        return [multiplier * d for d in (d_hidden, d_hidden, 4 * d_hidden)]

    def conv_block(multiplier=1, strides=(2, 2)):
        return ConvBlock(3, filters(multiplier), strides, norm,
                         non_linearity, mode)

    def identity_block(multiplier=1):
        return IdentityBlock(3, filters(multiplier), norm, non_linearity, mode)

    return tl.Serial(
        tl.ToFloat(),
        tl.Conv(d_hidden, (7, 7), (2, 2), "SAME"),
        norm(mode=mode),
        non_linearity(),
        tl.MaxPool(pool_size=(3, 3), strides=(2, 2)),
        conv_block(strides=(1, 1)),
        [identity_block() for _ in range(2)],
        conv_block(2),
        [identity_block(2) for _ in range(3)],
        conv_block(4),
        [identity_block(4) for _ in range(5)],
        conv_block(8),
        [identity_block(8) for _ in range(2)],
        tl.AvgPool(pool_size=(7, 7)),
        tl.Flatten(),
        tl.Dense(n_output_classes),
    )


def WideResnetBlock(channels, strides=(1, 1), bn_momentum=0.9, mode="train"):  # pylint: disable=invalid-name
    """Pre-activation block: BatchNorm, Relu, 3x3 convolution, twice."""
    return [
        tl.BatchNorm(momentum=bn_momentum, mode=mode),
        tl.Relu(),
        tl.Conv(channels, (3, 3), strides, padding="SAME"),
        tl.BatchNorm(momentum=bn_momentum, mode=mode),
        tl.Relu(),
        tl.Conv(channels, (3, 3), padding="SAME"),
    ]


def WideResnetGroup(n, channels, strides=(1, 1), bn_momentum=0.9,  # pylint: disable=invalid-name
                    mode="train"):
    """A group of ``n`` blocks: the first, with a 3x3 convolution as its
    shortcut, may stride; the other ``n - 1`` sit in one identity
    residual (as in Trax)."""
    first = tl.Residual(
        WideResnetBlock(channels, strides, bn_momentum=bn_momentum,
                        mode=mode),
        shortcut=[tl.Conv(channels, (3, 3), strides, padding="SAME")])
    rest = tl.Residual([WideResnetBlock(channels, (1, 1),
                                        bn_momentum=bn_momentum, mode=mode)
                        for _ in range(n - 1)])
    return [first, rest]


def WideResnet(n_blocks=3, widen_factor=1, n_output_classes=10,  # pylint: disable=invalid-name
               bn_momentum=0.9, mode="train"):
    """Wide ResNet (Zagoruyko and Komodakis, arXiv:1605.07146): three
    groups of ``n_blocks`` blocks of 16, 32 and 64 x ``widen_factor``
    channels (6n + 4 layers) on 32x32 images, ending in an 8x8 average
    pool and a dense classifier."""
    def group(channels, strides=(1, 1)):
        return WideResnetGroup(n_blocks, channels * widen_factor, strides,
                               bn_momentum=bn_momentum, mode=mode)
    return tl.Serial(
        tl.ToFloat(),
        tl.Conv(16, (3, 3), padding="SAME"),
        group(16),
        group(32, (2, 2)),
        group(64, (2, 2)),
        tl.BatchNorm(momentum=bn_momentum, mode=mode),
        tl.Relu(),
        tl.AvgPool(pool_size=(8, 8)),
        tl.Flatten(),
        tl.Dense(n_output_classes),
    )
