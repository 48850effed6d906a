"""Flax-native models that mirror the Trax tutorial models."""

from models.sentiment import (
    SentimentClassifier,
    params_from_trax_weights,
    trax_initial_weights,
    trax_weights_from_params,
)

__all__ = [
    "SentimentClassifier",
    "params_from_trax_weights",
    "trax_initial_weights",
    "trax_weights_from_params",
]
