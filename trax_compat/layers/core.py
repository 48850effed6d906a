"""Core layers: Dense, Embedding, Mean, LogSoftmax — each a Flax module."""

from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from trax_compat.layers import base
from trax_compat.layers import initializers as init


def log_softmax(x, axis=-1):
    """``x - logsumexp(x)``: Trax's log-softmax (no max subtraction beyond
    what logsumexp does internally)."""
    return x - jax.scipy.special.logsumexp(x, axis=axis, keepdims=True)


# -- Dense ---------------------------------------------------------------------

class DenseModule(nn.Module):
    """``x @ kernel + bias`` with Trax's default initializers."""
    n_units: int
    use_bias: bool = True
    kernel_init: Callable = init.as_flax_init(init.GlorotUniformInitializer())
    bias_init: Callable = init.as_flax_init(init.RandomNormalInitializer(1e-6))

    @nn.compact
    def __call__(self, x):
        kernel = self.param("kernel", self.kernel_init,
                            (x.shape[-1], self.n_units))
        y = jnp.dot(x, kernel)
        if self.use_bias:
            y = y + self.param("bias", self.bias_init, (self.n_units,))
        return y


class Dense(base.Layer):
    """A fully connected layer: ``y = x @ w + b``."""

    def __init__(self, n_units, kernel_initializer=None, bias_initializer=None,
                 use_bias=True):
        super().__init__(name=f"Dense_{n_units}")
        self._n_units = n_units
        self._kernel_initializer = (kernel_initializer
                                    or init.GlorotUniformInitializer())
        self._bias_initializer = (bias_initializer
                                  or init.RandomNormalInitializer(1e-6))
        self._use_bias = use_bias

    def make_module(self):
        return DenseModule(
            n_units=self._n_units, use_bias=self._use_bias,
            kernel_init=init.as_flax_init(self._kernel_initializer),
            bias_init=init.as_flax_init(self._bias_initializer))

    def init_weights_and_state(self, input_signature):
        shape_w = (input_signature.shape[-1], self._n_units)
        if self._use_bias:
            rng_w, rng_b = jax.random.split(self.rng, 2)
            w = self._kernel_initializer(shape_w, rng_w)
            b = self._bias_initializer((self._n_units,), rng_b)
            self._weights = (w, b)
        else:
            self._weights = self._kernel_initializer(shape_w, self.rng)

    def params_from_weights(self, weights):
        if self._use_bias:
            if not weights:
                return {}
            w, b = weights
            return {"kernel": w, "bias": b}
        if weights is None or (isinstance(weights, tuple) and not weights):
            return {}
        return {"kernel": weights}

    def weights_from_params(self, params):
        if not params:
            return base.EMPTY_WEIGHTS
        if self._use_bias:
            return (params["kernel"], params["bias"])
        return params["kernel"]


# -- Embedding -----------------------------------------------------------------

class EmbedModule(nn.Module):
    """Looks up rows of an embedding table; ids are clipped into range as
    Trax does (``jnp.take(..., mode='clip')``)."""
    vocab_size: int
    d_feature: int
    embedding_init: Callable = init.as_flax_init(
        init.ScaledInitializer(-1, -2, 1.0, "fan_out", "uniform"))

    @nn.compact
    def __call__(self, x):
        table = self.param("embedding", self.embedding_init,
                           (self.vocab_size, self.d_feature))
        return jnp.take(table, x, axis=0, mode="clip")


class Embedding(base.Layer):
    """Trainable embeddings: int ids -> vectors of size ``d_feature``."""

    def __init__(self, vocab_size, d_feature, kernel_initializer=None):
        super().__init__(name=f"Embedding_{vocab_size}_{d_feature}")
        self._vocab_size = vocab_size
        self._d_feature = d_feature
        self._kernel_initializer = kernel_initializer or init.ScaledInitializer(
            out_dim=-1, in_dim=-2, scale=1.0, mode="fan_out",
            distribution="uniform")

    def make_module(self):
        return EmbedModule(
            vocab_size=self._vocab_size, d_feature=self._d_feature,
            embedding_init=init.as_flax_init(self._kernel_initializer))

    def init_weights_and_state(self, input_signature):
        del input_signature
        self._weights = self._kernel_initializer(
            (self._vocab_size, self._d_feature), self.rng)

    def params_from_weights(self, weights):
        if isinstance(weights, tuple) and not weights:
            return {}
        return {"embedding": weights}

    def weights_from_params(self, params):
        return params["embedding"] if params else base.EMPTY_WEIGHTS


# -- stateless functions -------------------------------------------------------

class MeanModule(nn.Module):
    axis: int = -1
    keepdims: bool = False

    def __call__(self, x):
        return jnp.mean(x, axis=self.axis, keepdims=self.keepdims)


class Mean(base.Layer):
    """Mean along ``axis`` (padding positions included, as in Trax)."""

    def __init__(self, axis=-1, keepdims=False):
        super().__init__(name="Mean")
        self._axis = axis
        self._keepdims = keepdims

    def make_module(self):
        return MeanModule(axis=self._axis, keepdims=self._keepdims)


class LogSoftmaxModule(nn.Module):
    axis: int = -1

    def __call__(self, x):
        return log_softmax(x, axis=self.axis)


class LogSoftmax(base.Layer):
    """Log of the softmax along ``axis``."""

    def __init__(self, axis=-1):
        super().__init__(name="LogSoftmax")
        self._axis = axis

    def make_module(self):
        return LogSoftmaxModule(axis=self._axis)


def one_hot(x, n_categories, dtype=jnp.float32):
    """One-hot vectors along a new last axis."""
    return jnp.asarray(x[..., jnp.newaxis] == jnp.arange(n_categories), dtype)
