"""Supervised training: ``training.TrainTask``, ``EvalTask``, ``Loop``."""

from trax_compat.supervised import training
