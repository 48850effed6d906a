"""Trax's weight initializers, as functions ``(shape, rng) -> array``.

Every initializer draws its numbers with the same calls, in the same order
and precision as Trax's, through ``fastmath.random`` (Trax's key derivation,
see ``trax_key_semantics``), so a fixed key gives Trax's values bit for bit.
They follow the active backend as Trax's do: NumPy inside
``use_backend('numpy')``.
"""

import jax
import numpy as np

from trax_compat.fastmath import numpy as jnp
from trax_compat.fastmath import random as trax_random

# Standard deviation of a unit normal truncated to [-2, 2].
_TRUNCATED_NORMAL_STDDEV = .87962566103423978


def _int_shape(shape):
    """The shape as a tuple of Python ints (a shape may hold array ints)."""
    try:
        return tuple(int(d) for d in shape)
    except TypeError as e:
        raise TypeError(f"An initializer's shape must be a sequence of "
                        f"integers, got {shape!r}.") from e


def _check_axes(shape, axes):
    """Trax looks every axis up in ``shape`` (``np.delete``), so an axis
    outside it fails there too; here with a message saying which."""
    for axis in axes:
        if not -len(shape) <= axis < len(shape):
            raise IndexError(
                f"Initializer axis {axis} is out of range for a weight of "
                f"shape {shape} (rank {len(shape)}): in_dim, out_dim and "
                f"nonreceptive_dims must name axes of the weight shape.")


def _fans(shape, out_dim=-1, in_dim=-2, nonreceptive_dims=None):
    """Fan-in and fan-out as Trax computes them: the sizes of the in and out
    axes, both the single size for a vector.

    Trax's receptive field (the other axes, e.g. a conv kernel's spatial
    size) never multiplies in for rank >= 1 (kept, for Trax's numbers).
    """
    if out_dim < 0:
        out_dim += len(shape)
    if in_dim < 0:
        in_dim += len(shape)
    if nonreceptive_dims is None:
        nonreceptive_dims = []
    if not isinstance(nonreceptive_dims, (list, tuple)):
        nonreceptive_dims = [nonreceptive_dims]
    _check_axes(shape, [in_dim, out_dim, *nonreceptive_dims])
    if len(shape) == 1:
        return shape[0], shape[0]
    return shape[in_dim], shape[out_dim]


def InitializerFromFile(path):  # pylint: disable=invalid-name
    """Initial weights read from the ``.npy`` file at ``path``; the stored
    array must have the requested shape."""

    def init(shape, rng):
        del rng
        with open(path, "rb") as f:
            parameters = jnp.asarray(np.load(f))
        if tuple(jnp.shape(parameters)) != tuple(shape):
            raise ValueError(
                f"InitializerFromFile: {path!r} holds an array of shape "
                f"{tuple(jnp.shape(parameters))}, but the layer needs "
                f"shape {tuple(shape)}; save an array of that shape.")
        return parameters

    return init


def RandomNormalInitializer(stddev=1e-2):  # pylint: disable=invalid-name
    """Normal samples with standard deviation ``stddev``."""
    def init(shape, rng):
        return stddev * trax_random.normal(rng, _int_shape(shape)).astype(
            "float32")
    return init


def RandomUniformInitializer(lim=1.0):  # pylint: disable=invalid-name
    """Uniform samples on ``[-lim, lim)``."""
    def init(shape, rng):
        return trax_random.uniform(rng, _int_shape(shape), jnp.float32,
                                   -lim, lim)
    return init


def _truncated_normal(rng, shape):
    # Trax's fastmath.random has no truncated normal (Trax fails with an
    # AttributeError here); JAX's is the obvious meaning.
    with trax_random.trax_key_semantics():
        return jax.random.truncated_normal(rng, -2, 2, shape)


def ScaledInitializer(out_dim, in_dim, scale, mode, distribution):  # pylint: disable=invalid-name
    """Variance-scaling initializer: variance ``scale`` divided by the fan
    that ``mode`` names ('fan_in', 'fan_out' or 'fan_avg'); ``distribution``
    is 'uniform' (on ``[-sqrt(3 var), sqrt(3 var)]``), 'normal' or
    'truncated_normal'."""
    if scale <= 0.:
        raise ValueError(f"scale must be positive float, {scale} given")
    if mode not in {"fan_in", "fan_out", "fan_avg"}:
        raise ValueError(
            f"Invalid mode argument:, {mode}, must be either fan_in, fan_out "
            f"or fan_avg")

    def init(shape, rng, nonreceptive_dims=None):
        shape = _int_shape(shape)
        fan_in, fan_out = _fans(shape, out_dim, in_dim, nonreceptive_dims)
        # In Trax's order: `scale` may be a float32 array (Kaiming), and the
        # division then happens in float32.
        variance = scale
        if mode == "fan_in":
            variance /= fan_in
        elif mode == "fan_out":
            variance /= fan_out
        else:
            variance /= (fan_in + fan_out) / 2
        if distribution == "truncated_normal":
            stddev = jnp.sqrt(variance) / _TRUNCATED_NORMAL_STDDEV
            return (_truncated_normal(rng, shape) * stddev).astype("float32")
        if distribution == "normal":
            return (trax_random.normal(rng, shape) * jnp.sqrt(variance)
                    ).astype("float32")
        if distribution == "uniform":
            lim = jnp.sqrt(3. * variance)
            return trax_random.uniform(rng, shape, jnp.float32, -lim, lim)
        raise ValueError(
            f"invalid distribution for ScaleInitializer: {distribution!r} "
            f"(use 'uniform', 'normal' or 'truncated_normal')")

    return init


def GlorotNormalInitializer(out_dim=-1, in_dim=-2, scale=1.):  # pylint: disable=invalid-name
    return ScaledInitializer(out_dim, in_dim, scale, "fan_avg", "normal")


def GlorotUniformInitializer(out_dim=-1, in_dim=-2, scale=1.):  # pylint: disable=invalid-name
    return ScaledInitializer(out_dim, in_dim, scale, "fan_avg", "uniform")


def LeCunNormalInitializer(out_dim=-1, in_dim=-2, scale=1.):  # pylint: disable=invalid-name
    return ScaledInitializer(out_dim, in_dim, scale, "fan_in", "normal")


def LeCunUniformInitializer(out_dim=-1, in_dim=-2, scale=1.):  # pylint: disable=invalid-name
    return ScaledInitializer(out_dim, in_dim, scale, "fan_in", "uniform")


def _kaiming_scale(param):
    # A backend array, as in Trax: float32 arithmetic from here on under JAX.
    return 2.0 / jnp.sqrt(1 + param**2)


def KaimingNormalInitializer(out_dim=-1, in_dim=-2, param=0.):  # pylint: disable=invalid-name
    """He initialization (normal) for a leaky ReLU of slope ``param``."""
    return ScaledInitializer(out_dim, in_dim, _kaiming_scale(param), "fan_in",
                             "normal")


def KaimingUniformInitializer(out_dim=-1, in_dim=-2, param=0.):  # pylint: disable=invalid-name
    """He initialization (uniform) for a leaky ReLU of slope ``param``."""
    return ScaledInitializer(out_dim, in_dim, _kaiming_scale(param), "fan_in",
                             "uniform")


def OrthogonalInitializer(stddev=1.0):  # pylint: disable=invalid-name
    """A random orthogonal matrix times ``stddev``, over the last axis and
    all the others flattened (rows or columns orthonormal, whichever fit)."""

    def init(shape, rng):
        shape = _int_shape(shape)
        matrix_shape = (1,) * max(0, 2 - len(shape)) + shape
        n_rows = int(np.prod(matrix_shape[:-1]))
        n_cols = matrix_shape[-1]
        wide = n_rows < n_cols
        a = trax_random.normal(rng, (n_cols, n_rows) if wide
                               else (n_rows, n_cols), dtype=jnp.float32)
        q, r = jnp.linalg.qr(a)
        # Signs from R's diagonal make the draw uniform over orthogonal
        # matrices (QR alone is not).
        q *= jnp.sign(jnp.diag(r))
        if wide:
            q = jnp.transpose(q)
        return stddev * jnp.reshape(q, shape)

    return init


def AtariConvInit(kernel_shape, rng, dtype=jnp.float32):  # pylint: disable=invalid-name
    """The usual Atari conv init: uniform within ``1/sqrt(fan_in)`` for an
    HWIO kernel (fan-in counts the window)."""
    if len(kernel_shape) != 4:
        raise ValueError(
            f"AtariConvInit takes a 4-axis (height, width, in, out) kernel "
            f"shape, got {tuple(kernel_shape)}.")
    filter_height, filter_width, fan_in, _ = kernel_shape
    std = 1 / jnp.sqrt(fan_in * filter_height * filter_width)
    return trax_random.uniform(rng, kernel_shape, dtype, minval=-std,
                               maxval=std)
