"""The tutorial's model, ``Serial(Embedding, Mean, Dense, LogSoftmax)``, as a
Flax Linen module (``models/sentiment.py``), and its initial parameters."""

import flax
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


# The names `trax-compat convert ... params.msgpack` gives the tutorial
# model's layers (its Serial's sublayers 0 and 2) -> this module's names.
_EXPORTED_NAMES = {"layers_0": "embed", "layers_2": "dense"}


def load_exported_params(path):
    """Params written by ``trax-compat convert CHECKPOINT params.msgpack
    --model "tl.Serial(tl.Embedding(...), tl.Mean(axis=1), tl.Dense(...),
    tl.LogSoftmax())"`` (from a Trax ``model.pkl.gz`` or a trax_compat
    output folder), renamed for :class:`SentimentClassifier`."""
    with open(path, "rb") as f:
        exported = flax.serialization.msgpack_restore(f.read())
    params = exported.get("params", exported)
    if sorted(params) != sorted(_EXPORTED_NAMES):
        raise ValueError(
            f"{path} holds params for layers {sorted(params)}, not the "
            f"tutorial model's {sorted(_EXPORTED_NAMES)}; export it with "
            f"--model \"tl.Serial(tl.Embedding(V, D), tl.Mean(axis=1), "
            f"tl.Dense(C), tl.LogSoftmax())\".")
    return {new: params[old] for old, new in _EXPORTED_NAMES.items()}
