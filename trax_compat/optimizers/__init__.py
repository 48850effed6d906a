"""Trax's optimizers (``trax.optimizers``) as optax GradientTransformations."""

from trax_compat.optimizers.adam import Adam, AdamState
from trax_compat.optimizers.base import (
        Optimizer, TraxOptimizerState, apply_gradients, clip_grads, l2_norm)
from trax_compat.optimizers.momentum import Momentum, MomentumState
from trax_compat.optimizers.sgd import SGD, SGDState

__all__ = [
        'Optimizer', 'Adam', 'SGD', 'Momentum',
        'AdamState', 'MomentumState', 'SGDState', 'TraxOptimizerState',
        'apply_gradients', 'clip_grads', 'l2_norm',
]
