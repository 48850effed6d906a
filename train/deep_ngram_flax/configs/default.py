"""Default hyperparameters: those of Trax's Deep N-Gram tutorial (its GRU
model; ``config.cell = 'lstm'`` for the LSTM one)."""

import ml_collections


def get_config():
    config = ml_collections.ConfigDict()
    # Data: a folder of data sets, each a folder of .txt files (Kaggle's
    # layout); every non-blank line, lowercased, is one example.
    # Required (a str; a placeholder so that --config.data_dir can set it).
    config.data_dir = ml_collections.config_dict.placeholder(str)
    config.num_eval_lines = 1000  # the last lines are held out for eval
    config.batch_size = 32
    config.max_length = 64  # lines of max_length characters or more: skipped
    # The tutorial shuffles with Python's unseeded global generator; the
    # order of its lines starts from this seed.
    config.data_seed = 0
    # Model: 'gru' or 'lstm'.
    config.cell = "gru"
    config.vocab_size = 256
    config.d_model = 512
    config.n_layers = 5
    # Optimizer: Trax's Adam(0.0005) (train/trax_adam.py).
    config.learning_rate = 0.0005
    config.weight_decay_rate = 1e-5
    # Loop: Trax's Loop(random_seed=seed), evaluating one batch and
    # checkpointing at every step (n_steps_per_checkpoint=1).
    config.seed = 0
    config.num_train_steps = 10
    config.eval_every_steps = 1  # also evaluates at step 1, as Trax does
    config.num_eval_batches = 1
    config.checkpoint_every_steps = 1  # and the last step
    config.max_checkpoints_to_keep = 2
    # TensorBoard files need TensorFlow (CLU's SummaryWriter); without it
    # metrics go to the log only.
    config.tensorboard = True
    return config
