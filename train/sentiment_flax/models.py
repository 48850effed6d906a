"""The tutorial's model, ``Serial(Embedding, Mean, Dense, LogSoftmax)``, as a
Flax Linen module (``models/sentiment.py``), and its initial parameters."""

import jax

from models import sentiment

SentimentClassifier = sentiment.SentimentClassifier


def create_model(config):
    return SentimentClassifier(vocab_size=config.vocab_size,
                               d_feature=config.d_feature,
                               n_classes=config.n_classes)


def initial_params(config):
    """The Trax run's initial parameters, as a Flax ``params`` dict.

    ``model.init(key, batch)`` would draw the same distributions with other
    numbers (Flax derives one key per parameter by name). To start where the
    Trax tutorial started, draw as Trax's ``Loop(random_seed=seed)`` does:
    its model key is the second half of ``split(PRNGKey(seed))``, split
    among the ``Serial``'s sublayers, with the key implementation Trax ran
    with (``jax_threefry_partitionable`` off).
    """
    with jax.threefry_partitionable(False):
        _, model_key = jax.random.split(jax.random.PRNGKey(config.seed))
        weights = sentiment.trax_initial_weights(
            model_key, vocab_size=config.vocab_size,
            d_feature=config.d_feature, n_classes=config.n_classes)
    return sentiment.params_from_trax_weights(weights)["params"]
