"""Pooling layers: each window over the axes between the first (batch) and
the last (features) reduced to its max, sum or mean, as in Trax.

``pool_size`` and ``strides`` give one size per window axis; ``strides``
defaults to 1 on each (overlapping windows, as in Trax). ``padding`` is
'VALID' (partial windows dropped) or 'SAME' (edges padded; the padding is
never counted in a mean).
"""

from trax_compat import fastmath
from trax_compat.layers.functional import Fn


def _pool_layer(kind, reduce_op, pool_size, strides, padding):
    if len(pool_size) == 0:  # pylint: disable=g-explicit-length-test
        raise ValueError(f"{kind}: pool_size must give at least one window "
                         f"axis, got {pool_size!r}.")
    if strides is not None and len(strides) != len(pool_size):
        raise ValueError(
            f"{kind}: strides {strides!r} must have one entry per pool_size "
            f"axis ({len(pool_size)}).")
    name = f"{kind}{pool_size}".replace(" ", "")
    # Trax needs a tuple here; a list is taken too (the name keeps its form).
    window = tuple(pool_size)
    steps = None if strides is None else tuple(strides)
    return Fn(name, lambda x: reduce_op(x, pool_size=window, strides=steps,
                                        padding=padding))


def MaxPool(pool_size=(2, 2), strides=None, padding="VALID"):  # pylint: disable=invalid-name
    """The largest value in each window."""
    return _pool_layer("MaxPool", fastmath.max_pool, pool_size, strides,
                       padding)


def SumPool(pool_size=(2, 2), strides=None, padding="VALID"):  # pylint: disable=invalid-name
    """The sum of each window's values (integer inputs stay integers)."""
    return _pool_layer("SumPool", fastmath.sum_pool, pool_size, strides,
                       padding)


def AvgPool(pool_size=(2, 2), strides=None, padding="VALID"):  # pylint: disable=invalid-name
    """The mean of each window's values, over the positions inside the input
    only ('SAME' padding does not dilute the edges)."""
    return _pool_layer("AvgPool", fastmath.avg_pool, pool_size, strides,
                       padding)
