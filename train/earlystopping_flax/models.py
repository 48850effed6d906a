"""The tutorial's model, ``tl.Serial(tl.Dense(1))``, as a Linen module, and
its initial parameters drawn as Trax draws them."""

import jax
from flax import linen as nn

from models import sentiment


class LinearModel(nn.Module):

    @nn.compact
    def __call__(self, x):
        return nn.Dense(1, kernel_init=sentiment.glorot_uniform_init,
                        bias_init=sentiment.bias_init, name="dense")(x)


def initial_params(config):
    """Trax's ``Loop(random_seed=seed)`` model key (the second half of
    ``split(PRNGKey(seed))``), split by the one-layer ``Serial`` and then by
    ``Dense`` into kernel and bias keys, under the key implementation Trax
    ran with."""
    with jax.threefry_partitionable(False):
        _, model_key = jax.random.split(jax.random.PRNGKey(config.seed))
        (dense_key,) = jax.random.split(model_key, 1)
        kernel_key, bias_key = jax.random.split(dense_key, 2)
        return {"dense": {
            "kernel": sentiment.glorot_uniform_init(kernel_key, (1, 1)),
            "bias": sentiment.bias_init(bias_key, (1,))}}
