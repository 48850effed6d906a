"""The model: ``models.transformer.Transformer``, the Flax module that
computes Trax's encoder-decoder ``Transformer``, built from the config."""

import functools

import jax
import jax.numpy as jnp

from models import transformer


@functools.lru_cache(maxsize=None)
def _model(**settings):
    # One module per setting: the TrainState carries `model.apply`, part of
    # the jitted steps' cache key, so runs in one process reuse the compiles.
    return transformer.Transformer(transformer.TransformerConfig(**settings))


def create_model(config):
    return _model(vocab_size=config.vocab_size, d_model=config.d_model,
                  d_ff=config.d_ff, n_encoder_layers=config.n_encoder_layers,
                  n_decoder_layers=config.n_decoder_layers,
                  n_heads=config.n_heads, max_len=config.max_len,
                  dropout=config.dropout)


def initial_params(model, config):
    """Fresh parameters from Flax's initializers (Trax's distributions,
    other draws); to start from a Trax model's weights, convert them with
    ``models.convert_transformer.params_from_trax_weights`` instead."""
    ids = jnp.ones((1, config.boundaries[0]), jnp.int32)
    return jax.jit(model.init)(jax.random.PRNGKey(config.seed), ids,
                               ids)["params"]
