"""The model: ``models.transformer.TransformerLM``, the Flax module that
computes Trax's ``TransformerLM``, built from the config."""

import functools

import jax
import jax.numpy as jnp

from models import transformer


@functools.lru_cache(maxsize=None)
def _model(**settings):
    # One module per setting: the TrainState carries `model.apply`, part of
    # the jitted steps' cache key, so runs in one process reuse the compiles.
    return transformer.TransformerLM(transformer.TransformerConfig(**settings))


def create_model(config):
    return _model(vocab_size=config.vocab_size, d_model=config.d_model,
                  d_ff=config.d_ff, n_layers=config.n_layers,
                  n_heads=config.n_heads, max_len=config.max_len,
                  dropout=config.dropout)


def initial_params(model, config):
    """Fresh parameters from Flax's initializers (Trax's distributions,
    other draws); to start from a Trax model's weights, convert them with
    ``models.convert_transformer.params_from_trax_weights`` instead."""
    ids = jnp.zeros((1, config.max_length), jnp.int32)
    # Jitted: one compile instead of one per initializer op.
    return jax.jit(model.init)(jax.random.PRNGKey(config.seed), ids)["params"]
