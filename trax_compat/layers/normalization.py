"""Normalization layers with Trax's weights, state and arithmetic:
``BatchNorm``, ``LayerNorm``, ``FilterResponseNorm``."""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from trax_compat.layers import base


def _axes(axis):
    return (axis,) if np.isscalar(axis) else tuple(axis)


class BatchNorm(base.Layer):
    """Batch normalization over ``axis`` (default the first three).

    Weights ``(beta, gamma)`` (each ``()`` when ``center`` / ``scale`` is
    off) over the axes not normalized; state ``(running_mean, running_var,
    n_batches)``, the statistics kept with ``axis`` as size-1 axes. In
    ``mode='train'`` each call normalizes with the batch's statistics and
    folds them into the running ones
    (``momentum * old + (1 - momentum) * new``); in any other mode it
    normalizes with the running statistics and leaves the state alone.
    """
    weight_names = ("bias", "scale")
    state_names = ("mean", "var", "n_batches")

    def __init__(self, axis=(0, 1, 2), epsilon=1e-5, center=True, scale=True,
                 momentum=0.999, mode="train"):
        super().__init__()
        # Trax fails in forward on an int axis; it means that one axis.
        self._axis = _axes(axis)
        self._epsilon = epsilon
        self._center = center
        self._scale = scale
        self._momentum = momentum
        self._mode = mode

    def forward(self, x):
        running_mean, running_var, n_batches = self.state
        if self._mode == "train":
            mean = jnp.mean(x, self._axis, keepdims=True)
            # Trax's one-pass variance, E[x^2] - E[x]^2 (not jnp.var).
            var = jnp.mean(x**2, self._axis, keepdims=True) - mean**2
            self.state = (_smoothed(self._momentum, running_mean, mean),
                          _smoothed(self._momentum, running_var, var),
                          n_batches + 1)
        else:
            mean, var = running_mean, running_var
        z = (x - mean.astype(x.dtype)) / jnp.sqrt(
            var + self._epsilon).astype(x.dtype)
        # Flax drops weights that are all (), so accept () for (beta, gamma).
        beta, gamma = self.weights or ((), ())
        # Put the weights' axes back where the normalized axes were.
        expand = tuple(None if i in self._axis else slice(None)
                       for i in range(x.ndim))
        if self._scale:
            z = gamma[expand] * z
        if self._center:
            z = z + beta[expand]
        if z.dtype != x.dtype:
            raise TypeError(
                f"The dtype of the output ({z.dtype}) of batch norm is not "
                f"the same as the input ({x.dtype}). Batch norm should not "
                f"change the dtype.")
        return z

    def init_weights_and_state(self, input_signature):
        shape = tuple(input_signature.shape)
        # Negative axes would not match Trax's positional weight shapes.
        bad = [a for a in self._axis if not 0 <= a < len(shape)]
        if bad:
            raise ValueError(
                f"BatchNorm: axis {self._axis} does not fit inputs of shape "
                f"{shape}; pass axis= a tuple of axes in range(0, "
                f"{len(shape)}).")
        kept = tuple(d for i, d in enumerate(shape) if i not in self._axis)
        stats = tuple(1 if i in self._axis else d for i, d in enumerate(shape))
        # The weights are float32 whatever the input dtype, as in Trax.
        beta = jnp.zeros(kept, jnp.float32) if self._center else ()
        gamma = jnp.ones(kept, jnp.float32) if self._scale else ()
        self.weights = (beta, gamma)
        # Trax asks for int64, which JAX gives as int32 unless x64 is on.
        count_dtype = jax.dtypes.canonicalize_dtype(np.int64)
        self.state = (jnp.zeros(stats, jnp.float32),
                      jnp.ones(stats, jnp.float32),
                      jnp.zeros((), count_dtype))


def _smoothed(momentum, old, new):
    return (momentum * old + (1 - momentum) * new).astype(old.dtype)


def _layer_norm_parts(x, scale, bias, epsilon, center):
    """Trax's LayerNorm arithmetic; returns ``(output, normalized, std)``."""
    mean = jnp.mean(x, axis=-1, keepdims=True)
    centered = x - mean if center else x
    variance = jnp.mean(centered * centered, axis=-1, keepdims=True)
    std = jnp.sqrt(variance + epsilon)
    normalized = centered / std
    scaled = normalized * scale
    return (scaled + bias if center else scaled), normalized, std


# The gradient written out: autodiff of the division and the two means
# leaves chains of elementwise cotangent terms that XLA fuses into every
# consumer of a residual stream, recomputing them several times per step
# (about 7% of a 2-layer attention LM's train step on CPU). The forward is
# the same expression, so outputs are unchanged; gradients agree up to
# float rounding. Reverse mode only, as for the attention softmax.
@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4))
def _layer_norm(x, scale, bias, epsilon, center):
    return _layer_norm_parts(x, scale, bias, epsilon, center)[0]


def _layer_norm_fwd(x, scale, bias, epsilon, center):
    y, normalized, std = _layer_norm_parts(x, scale, bias, epsilon, center)
    return y, (normalized, std, scale, bias)


def _layer_norm_bwd(epsilon, center, residuals, g):
    del epsilon
    normalized, std, scale, bias = residuals
    d_normalized = g * scale
    d_centered = (d_normalized - normalized * jnp.mean(
        d_normalized * normalized, axis=-1, keepdims=True)) / std
    d_x = (d_centered - jnp.mean(d_centered, axis=-1, keepdims=True)
           if center else d_centered)
    d_scale = _sum_to(g * normalized, scale)
    d_bias = _sum_to(g, bias) if center else jnp.zeros_like(bias)
    return d_x.astype(normalized.dtype), d_scale, d_bias


def _sum_to(t, like):
    """``t`` summed over the axes that ``like`` broadcasts along."""
    lead = t.ndim - like.ndim
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(like.shape)
        if n == 1 and t.shape[lead + i] != 1)
    return jnp.sum(t, axis=axes).reshape(like.shape).astype(like.dtype)


_layer_norm.defvjp(_layer_norm_fwd, _layer_norm_bwd)


class LayerNorm(base.Layer):
    """Layer normalization over the last axis: ``(x - mean) / sqrt(var +
    eps) * scale + bias``; weights ``(ones, zeros)`` of the input dtype."""
    weight_names = ("scale", "bias")

    def __init__(self, center=True, epsilon=1e-6):
        super().__init__()
        self._center = center
        self._epsilon = epsilon

    def forward(self, x):
        scale, bias = self.weights
        if not jnp.issubdtype(jnp.result_type(x), jnp.inexact):
            return _layer_norm_parts(x, scale, bias, self._epsilon,
                                     self._center)[0]
        return _layer_norm(x, scale, bias, self._epsilon, self._center)

    def init_weights_and_state(self, input_signature):
        features = input_signature.shape[-1]
        dtype = input_signature.dtype
        self.weights = (jnp.ones(features, dtype=dtype),
                        jnp.zeros(features, dtype=dtype))


class FilterResponseNorm(base.Layer):
    """Filter response normalization (no thresholded linear unit):
    ``gamma * x / sqrt(mean(x**2 over the axes between batch and channels)
    + eps) + beta``.

    Weights ``(gamma, beta, learnt)`` per channel (the last axis);
    ``learnt`` is ``()``, or with ``learn_epsilon`` a 1-tuple holding a
    scalar, and then ``eps = init_epsilon + |learnt|``. ``mode`` is
    accepted and ignored, as in Trax.
    """
    weight_names = ("scale", "bias", ("learnt_epsilon",))

    def __init__(self, mode=None, learn_epsilon=False, init_epsilon=1e-6,
                 init_learnt_epsilon=1e-4):
        super().__init__()
        del mode
        # AssertionError as Trax raises, but saying what is wrong.
        for name, value in (("init_epsilon", init_epsilon),
                            ("init_learnt_epsilon", init_learnt_epsilon)):
            if not value > 0:
                raise AssertionError(
                    f"FilterResponseNorm: {name} must be > 0, got {value!r}.")
        self._learn_epsilon = learn_epsilon
        self._init_epsilon = jnp.array(init_epsilon, jnp.float32)
        self._init_learnt_epsilon = jnp.array(init_learnt_epsilon,
                                              jnp.float32)

    def forward(self, x):
        gamma, beta, learnt = self.weights
        epsilon = self._init_epsilon
        if learnt:
            epsilon = epsilon + jnp.abs(learnt[0])
        axes = tuple(range(1, x.ndim - 1))
        nu2 = jnp.mean(x**2, axis=axes, keepdims=True)
        return gamma * (x / jnp.sqrt(nu2 + epsilon)) + beta

    def init_weights_and_state(self, input_signature):
        channels = input_signature.shape[-1]
        learnt = ((self._init_learnt_epsilon,) if self._learn_epsilon
                  else base.EMPTY_WEIGHTS)
        self.weights = (jnp.ones((channels,), jnp.float32),
                        jnp.zeros((channels,), jnp.float32), learnt)
