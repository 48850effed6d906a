"""Default hyperparameters: those of Trax's early-stopping tutorial (run
with a fixed seed; the notebook leaves it unset)."""

import ml_collections


def get_config():
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.batch_size = 50
    config.learning_rate = 0.01  # SGD
    config.num_train_steps = 1500
    config.eval_every_steps = 10  # also at step 1, as Trax does
    config.num_eval_batches = 15
    # Early stopping on the eval loss, with Trax's callback's arguments:
    # stop once `patience` evals in a row did not lower the best loss by
    # more than min_delta (the callback treats patience 0 as 1).
    config.min_delta = 1e-4
    config.patience = 0
    config.tensorboard = True
    return config
