"""Trax's early-stopping tutorial (a linear model, SGD, an L2 loss, and a
callback that stops training and restores the best checkpoint) as a native
Flax program: flax.training.early_stopping and Orbax's best-checkpoint
bookkeeping."""
