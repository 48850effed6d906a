"""The tutorial's CNN (``ToFloat``, two blocks of ``Conv`` ``LayerNorm``
``Relu`` ``MaxPool``, ``Flatten``, ``Dense``) as a Flax Linen module, and its
initial parameters drawn as Trax draws them."""

import functools

import jax
import jax.numpy as jnp
from flax import linen as nn

from models import sentiment


def glorot_normal_init(key, shape, dtype=jnp.float32):
    """Trax's Conv kernel default: normal, variance ``2 / (fan_in +
    fan_out)``, the fans being the kernel's last two axes (Trax leaves the
    receptive field out)."""
    fan_in, fan_out = shape[-2], shape[-1]
    stddev = jnp.sqrt(1.0 / ((fan_in + fan_out) / 2))
    return (jax.random.normal(key, shape) * stddev).astype(dtype)


class CNN(nn.Module):
    features: tuple = (32, 64)
    n_classes: int = 10

    @nn.compact
    def __call__(self, images):
        x = images.astype(jnp.float32)  # tl.ToFloat: no rescaling
        for i, features in enumerate(self.features):
            x = nn.Conv(features, (3, 3), strides=(1, 1), padding="SAME",
                        kernel_init=glorot_normal_init,
                        bias_init=sentiment.bias_init, name=f"conv_{i}")(x)
            # Trax's LayerNorm: over channels, eps 1e-6, variance as the
            # mean of squared deviations.
            x = nn.LayerNorm(epsilon=1e-6, use_fast_variance=False,
                             name=f"norm_{i}")(x)
            x = nn.relu(x)
            # tl.MaxPool(): a 2x2 window with stride 1 (Trax's default).
            x = nn.max_pool(x, (2, 2), strides=(1, 1), padding="VALID")
        x = x.reshape((x.shape[0], -1))
        return nn.Dense(self.n_classes,
                        kernel_init=sentiment.glorot_uniform_init,
                        bias_init=sentiment.bias_init, name="dense")(x)


def create_model(config):
    return _model(tuple(config.features), config.n_classes)


@functools.lru_cache(maxsize=None)
def _model(features, n_classes):
    # One module per shape: `model.apply` is part of the jitted steps' cache
    # key, so runs in one process reuse the compiled steps.
    return CNN(features=features, n_classes=n_classes)


def initial_params(config, image_shape=(28, 28, 1)):
    """The Trax run's initial parameters: Trax's ``Loop(random_seed=seed)``
    gives the model the second half of ``split(PRNGKey(seed))``; the
    11-layer ``Serial`` splits it in 11, each Conv and the Dense split their
    key into kernel and bias keys; LayerNorm starts at ones and zeros. All
    under the key implementation Trax ran with (``jax_threefry_partitionable``
    off)."""
    height, width, channels = image_shape
    params = {}
    with jax.threefry_partitionable(False):
        _, model_key = jax.random.split(jax.random.PRNGKey(config.seed))
        keys = jax.random.split(model_key, 11)
        for i, features in enumerate(config.features):
            kernel_key, bias_key = jax.random.split(keys[1 + 4 * i], 2)
            params[f"conv_{i}"] = {
                "kernel": glorot_normal_init(kernel_key,
                                             (3, 3, channels, features)),
                "bias": sentiment.bias_init(bias_key, (features,))}
            params[f"norm_{i}"] = {"scale": jnp.ones((features,)),
                                   "bias": jnp.zeros((features,))}
            channels = features
            height, width = height - 1, width - 1  # each 2x2 pool, stride 1
        kernel_key, bias_key = jax.random.split(keys[10], 2)
        params["dense"] = {
            "kernel": sentiment.glorot_uniform_init(
                kernel_key, (height * width * channels, config.n_classes)),
            "bias": sentiment.bias_init(bias_key, (config.n_classes,))}
    return params
