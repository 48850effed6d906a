"""Default hyperparameters: those of the IMDB classifier in Trax's
``intro.ipynb``."""

import ml_collections


def get_config():
    config = ml_collections.ConfigDict()
    # Data: a TFDS dataset of (text, label) reviews; its train split trains,
    # its test split evaluates (Trax's TFDS takes 'test' when there is no
    # 'validation').
    config.dataset = "imdb_reviews"
    config.data_dir = None  # None: $TFDS_DATA_DIR, else ~/tensorflow_datasets
    config.vocab_file = "en_8k.subword"
    config.vocab_dir = None  # None: the copy bundled with the project
    config.max_length = 2048
    config.bucket_boundaries = (32, 128, 512, 2048)
    config.bucket_batch_sizes = (512, 128, 32, 8, 1)
    # The notebook leaves NumPy unseeded; its shuffles start from this seed.
    config.data_seed = 0
    # Model.
    config.vocab_size = 8192
    config.d_feature = 256
    config.n_classes = 2
    # Optimizer: Trax's Adam(0.01) (train/trax_adam.py).
    config.learning_rate = 0.01
    config.weight_decay_rate = 1e-5
    # Loop: Trax's Loop(random_seed=seed).
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
