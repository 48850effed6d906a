"""Supervised training: ``training.TrainTask``, ``EvalTask``, ``Loop``;
``callbacks``; ``lr_schedules`` (also ``trax_compat.lr``); ``decoding``
(sampling and beam search from a trained model)."""

from trax_compat.supervised import callbacks
from trax_compat.supervised import decoding
from trax_compat.supervised import lr_schedules
from trax_compat.supervised import training

from trax_compat import missing as _missing  # noqa: E402

# A Trax name not here yet (or a Trax submodule not imported yet).
__getattr__ = _missing.module_getattr(__name__)

# Trax's gin names for what this package has (a no-op without gin).
from trax_compat import gin_registry as _gin_registry  # noqa: E402
_gin_registry.register('trax.supervised')
