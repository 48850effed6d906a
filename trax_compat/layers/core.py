"""Core layers (Dense, Embedding, Dropout, Mean, ...)."""

import jax
import jax.numpy as jnp
import numpy as np

from trax_compat.layers import base
from trax_compat.layers import flax_names
from trax_compat.layers import initializers as init
from trax_compat.layers.functional import Fn


def log_softmax(x, axis=-1):
    """``x - logsumexp(x)``, as Trax computes log-softmax."""
    return x - jax.scipy.special.logsumexp(x, axis=axis, keepdims=True)


def one_hot(x, n_categories, dtype=jnp.float32):
    """One-hot vectors along a new last axis."""
    return jnp.asarray(x[..., jnp.newaxis] == jnp.arange(n_categories), dtype)


# -- Dense ---------------------------------------------------------------------

class Dense(base.Layer):
    """A fully connected layer: ``y = x @ w + b``; weights ``(w, b)`` (or
    ``w`` alone with ``use_bias=False``)."""

    def __init__(self, n_units, kernel_initializer=None, bias_initializer=None,
                 use_bias=True, use_bfloat16=False):
        super().__init__(name=f"Dense_{n_units}")
        self._n_units = n_units
        self._kernel_initializer = (kernel_initializer
                                    or init.GlorotUniformInitializer())
        self._bias_initializer = (bias_initializer
                                  or init.RandomNormalInitializer(1e-6))
        self._use_bias = use_bias
        self._use_bfloat16 = use_bfloat16

    @property
    def weight_names(self):
        return flax_names.kernel_and_bias(self._use_bias)

    def forward(self, x):
        if self._use_bias:
            w, b = self.weights
            return jnp.dot(x, w) + b
        return jnp.dot(x, self.weights)

    def init_weights_and_state(self, input_signature):
        shape_w = (input_signature.shape[-1], self._n_units)
        rng_w, rng_b = jax.random.split(self.rng, 2)
        w = self._kernel_initializer(shape_w, rng_w)
        if self._use_bfloat16:
            w = w.astype(jnp.bfloat16)
        if self._use_bias:
            b = self._bias_initializer((self._n_units,), rng_b)
            if self._use_bfloat16:
                b = b.astype(jnp.bfloat16)
            self._weights = (w, b)
        else:
            self._weights = w



# -- Embedding -----------------------------------------------------------------

class Embedding(base.Layer):
    """Trainable embeddings: int ids -> vectors of size ``d_feature``; ids
    outside ``[0, vocab_size)`` are clipped."""
    weight_names = "embedding"

    def __init__(self, vocab_size, d_feature, use_bfloat16=False,
                 kernel_initializer=None):
        super().__init__(name=f"Embedding_{vocab_size}_{d_feature}")
        self._vocab_size = vocab_size
        self._d_feature = d_feature
        self._use_bfloat16 = use_bfloat16
        self._kernel_initializer = kernel_initializer or init.ScaledInitializer(
            out_dim=-1, in_dim=-2, scale=1.0, mode="fan_out",
            distribution="uniform")

    def forward(self, x):
        embedded = jnp.take(self.weights, x, axis=0, mode="clip")
        if self.weights.dtype == jnp.bfloat16:  # float32 activations, as Trax
            embedded = embedded.astype(jnp.float32)
        return embedded

    def init_weights_and_state(self, input_signature):
        del input_signature
        w = self._kernel_initializer((self._vocab_size, self._d_feature),
                                     self.rng)
        if self._use_bfloat16:
            w = w.astype(jnp.bfloat16)
        self._weights = w



# -- Dropout -------------------------------------------------------------------

class Dropout(base.Layer):
    """Randomly zeroes a fraction ``rate`` of the inputs in train mode; its
    state is the rate, as in Trax."""

    def __init__(self, rate=0.0, shared_axes=None, mode="train"):
        super().__init__()
        self._initial_rate = rate
        self._shared_axes = tuple(shared_axes or ())
        self._mode = mode

    def forward(self, x):
        """Trax's dropout: keep with probability ``1 - rate`` and scale the
        survivors by ``1 / (1 - rate)``; a no-op unless in train mode."""
        rate = float(self._initial_rate)
        if self._mode != "train" or rate == 0.0:
            return x  # x * 1 in Trax; the same values.
        mask_shape = list(x.shape)
        for axis in self._shared_axes:
            mask_shape[axis] = 1
        keep_prob = 1.0 - rate
        keep = jax.random.bernoulli(self.rng, keep_prob, tuple(mask_shape))
        return x * (keep.astype(x.dtype) / keep_prob)

    def init_weights_and_state(self, input_signature):
        del input_signature
        self._state = jnp.array(self._initial_rate)


# -- weightless functions --------------------------------------------------------

def Mean(axis=-1, keepdims=False):  # pylint: disable=invalid-name
    """Mean along ``axis`` (padding positions included, as in Trax)."""
    return Fn("Mean", lambda x: jnp.mean(x, axis=axis, keepdims=keepdims))


def Sum(axis=None, keepdims=False):  # pylint: disable=invalid-name
    return Fn("Sum", lambda x: jnp.sum(x, axis=axis, keepdims=keepdims))


def Min(axis=-1, keepdims=False):  # pylint: disable=invalid-name
    return Fn("Min", lambda x: jnp.min(x, axis, keepdims=keepdims))


def Max(axis=-1, keepdims=False):  # pylint: disable=invalid-name
    return Fn("Max", lambda x: jnp.max(x, axis, keepdims=keepdims))


def LogSoftmax(axis=-1):  # pylint: disable=invalid-name
    """Log of the softmax along ``axis`` (``x - logsumexp(x)``)."""
    return Fn("LogSoftmax", lambda x: log_softmax(x, axis=axis))


def Softmax(axis=-1):  # pylint: disable=invalid-name
    return Fn("Softmax", lambda x: jnp.exp(log_softmax(x, axis=axis)))


def LogSumExp(axis=-1):  # pylint: disable=invalid-name
    return Fn("LogSumExp", lambda x: jax.scipy.special.logsumexp(
        x, axis=axis, keepdims=True))


def ToFloat():  # pylint: disable=invalid-name
    """Casts to float32."""
    return Fn("ToFloat", lambda x: x.astype(np.float32))


def Flatten(n_axes_to_keep=1):  # pylint: disable=invalid-name
    """Collapses all axes after the first ``n_axes_to_keep`` into one."""
    def f(x):
        rank = len(x.shape)
        if rank <= n_axes_to_keep:
            raise ValueError(
                f"Input rank ({rank}) must exceed the number of axes to keep "
                f"({n_axes_to_keep}) after flattening.")
        return jnp.reshape(x, tuple(x.shape[:n_axes_to_keep]) + (-1,))
    return Fn(f"Flatten_keep{n_axes_to_keep}", f)


def ArgMax(axis=-1):  # pylint: disable=invalid-name
    """Index of the largest value along ``axis`` (ties: first index)."""
    return Fn("ArgMax", lambda x: jnp.argmax(x, axis=axis))
