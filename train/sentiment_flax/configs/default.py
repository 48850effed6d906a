"""Default hyperparameters: those of Trax's sentiment tutorial."""

import ml_collections


def get_config():
    config = ml_collections.ConfigDict()
    # Data: 'text,label' files; None means the embedded synthetic corpus.
    config.train_file = None
    config.eval_file = None
    config.vocab_file = "en_8k.subword"
    config.vocab_dir = None  # None: the copy bundled with the project
    config.max_length = 30
    config.bucket_boundaries = (5, 10, 30)
    config.bucket_batch_sizes = (1, 5, 10)
    # Model.
    config.vocab_size = 8192
    config.d_feature = 256
    config.n_classes = 2
    # Start from converted Trax weights instead of Trax's initial draw: the
    # params.msgpack of `trax-compat convert CHECKPOINT params.msgpack
    # --model "..."`.
    config.init_params_from = None
    # Optimizer: Trax's Adam(0.01) (train/trax_adam.py).
    config.learning_rate = 0.01
    config.weight_decay_rate = 1e-5
    # Loop.
    config.seed = 0
    config.num_train_steps = 2000
    config.eval_every_steps = 500  # also evaluates at step 1, as Trax does
    config.num_eval_batches = 20
    config.checkpoint_every_steps = 500  # and the last step
    config.max_checkpoints_to_keep = 2
    # TensorBoard files need TensorFlow (CLU's SummaryWriter); without it
    # metrics go to the log only.
    config.tensorboard = True
    return config
