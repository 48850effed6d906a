"""The tutorial model written as a user writes Trax layers: ``tl.Layer``
subclasses with ``forward`` and ``init_weights_and_state``, no built-in
layer inside. It initializes as the built-ins do (same keys, same
initializers), so it trains on the same numbers; the benchmark times it
against the same model built from ``tl.Embedding``, ``tl.Mean``, ...
"""

import jax
import jax.numpy as jnp

from trax_compat import layers as tl


class UserEmbedding(tl.Layer):

    def __init__(self, vocab_size, d_feature):
        super().__init__()
        self._shape = (vocab_size, d_feature)

    def init_weights_and_state(self, input_signature):
        del input_signature
        self.weights = tl.ScaledInitializer(-1, -2, 1.0, "fan_out",
                                            "uniform")(self._shape, self.rng)

    def forward(self, ids):
        return jnp.take(self.weights, ids, axis=0, mode="clip")


class UserMean(tl.Layer):

    def forward(self, x):
        return jnp.mean(x, axis=1)


class UserDense(tl.Layer):

    def __init__(self, n_units):
        super().__init__()
        self._n_units = n_units

    def init_weights_and_state(self, input_signature):
        rng_w, rng_b = jax.random.split(self.rng, 2)
        shape = (input_signature.shape[-1], self._n_units)
        self.weights = (tl.GlorotUniformInitializer()(shape, rng_w),
                        tl.RandomNormalInitializer(1e-6)((self._n_units,),
                                                         rng_b))

    def forward(self, x):
        w, b = self.weights
        return jnp.dot(x, w) + b


class UserLogSoftmax(tl.Layer):

    def forward(self, x):
        return x - jax.scipy.special.logsumexp(x, axis=-1, keepdims=True)


def tutorial_model():
    return tl.Serial(UserEmbedding(8192, 256), UserMean(), UserDense(2),
                     UserLogSoftmax())
