"""The notebook's model, ``tl.Serial(tl.Embedding(8192, 256),
tl.Mean(axis=1), tl.Dense(2))``, as a Flax Linen module, and its initial
parameters drawn as Trax draws them."""

import functools

import jax
import jax.numpy as jnp
from flax import linen as nn

from models import sentiment


class ImdbClassifier(nn.Module):
    """Token ids ``(batch, length)`` -> class scores ``(batch, n_classes)``
    (logits: the notebook's model has no ``LogSoftmax``)."""

    vocab_size: int = 8192
    d_feature: int = 256
    n_classes: int = 2

    @nn.compact
    def __call__(self, ids):
        # Trax's Embedding clips out-of-range ids; nn.Embed would give NaN.
        ids = jnp.clip(ids, 0, self.vocab_size - 1)
        x = nn.Embed(self.vocab_size, self.d_feature,
                     embedding_init=sentiment.embedding_init,
                     name="embed")(ids)
        x = jnp.mean(x, axis=1)  # padding included, as tl.Mean(axis=1)
        return nn.Dense(self.n_classes,
                        kernel_init=sentiment.glorot_uniform_init,
                        bias_init=sentiment.bias_init, name="dense")(x)


def create_model(config):
    return _model(config.vocab_size, config.d_feature, config.n_classes)


@functools.lru_cache(maxsize=None)
def _model(vocab_size, d_feature, n_classes):
    # One module per shape: the TrainState carries `model.apply`, which is
    # part of the jitted steps' cache key, so runs in one process reuse the
    # compiled steps.
    return ImdbClassifier(vocab_size=vocab_size, d_feature=d_feature,
                          n_classes=n_classes)


def initial_params(config):
    """The Trax run's initial parameters.

    ``model.init(key, batch)`` draws from the same distributions with other
    numbers (Flax derives a key per parameter by name). To start where the
    Trax run started: Trax's ``Loop(random_seed=seed)`` gives the model the
    second half of ``split(PRNGKey(seed))``; the three-layer ``Serial``
    splits it in three, the Embedding draws from the first key and Dense
    splits the third into kernel and bias keys; all under the key
    implementation Trax ran with (``jax_threefry_partitionable`` off).
    """
    d, n = config.d_feature, config.n_classes
    with jax.threefry_partitionable(False):
        _, model_key = jax.random.split(jax.random.PRNGKey(config.seed))
        embed_key, _, dense_key = jax.random.split(model_key, 3)
        kernel_key, bias_key = jax.random.split(dense_key, 2)
        return {"embed": {"embedding": sentiment.embedding_init(
                    embed_key, (config.vocab_size, d))},
                "dense": {"kernel": sentiment.glorot_uniform_init(
                              kernel_key, (d, n)),
                          "bias": sentiment.bias_init(bias_key, (n,))}}
