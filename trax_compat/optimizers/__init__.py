"""Trax's optimizers (``trax.optimizers``) as optax GradientTransformations."""

from trax_compat.optimizers.adafactor import Adafactor, AdafactorState
from trax_compat.optimizers.adam import Adam, AdamState
from trax_compat.optimizers.base import (
        Optimizer, TraxOptimizerState, apply_gradients, clip_grads, l2_norm)
from trax_compat.optimizers.momentum import Momentum, MomentumState
from trax_compat.optimizers.rms_prop import RMSProp, RMSPropState
from trax_compat.optimizers.sgd import SGD, SGDState
from trax_compat.optimizers.sm3 import SM3, MomentumType, SM3State
from trax_compat.optimizers.trainer import ReversibleSerialTrainer, Trainer

__all__ = [
        'Optimizer', 'Adam', 'SGD', 'Momentum', 'RMSProp', 'Adafactor', 'SM3',
        'MomentumType', 'ReversibleSerialTrainer', 'Trainer',
        'AdamState', 'MomentumState', 'SGDState', 'RMSPropState',
        'AdafactorState', 'SM3State', 'TraxOptimizerState',
        'apply_gradients', 'clip_grads', 'l2_norm',
]

from trax_compat import missing as _missing  # noqa: E402

# A Trax name not here yet (or a Trax submodule not imported yet).
__getattr__ = _missing.module_getattr(__name__)

# Trax's gin names for what this package has (a no-op without gin).
from trax_compat import gin_registry as _gin_registry  # noqa: E402
_gin_registry.register('trax.optimizers')
# Registers a user's optimizer under trax.optimizers, as Trax's helper does.
opt_configure = _gin_registry.external_configurable_in('trax.optimizers')
