"""Supervised training: ``training.TrainTask``, ``EvalTask``, ``Loop``;
``callbacks``; ``lr_schedules`` (also ``trax_compat.lr``)."""

from trax_compat.supervised import callbacks
from trax_compat.supervised import lr_schedules
from trax_compat.supervised import training
