"""Default hyperparameters: those of Trax's Fashion-MNIST tutorial."""

import ml_collections


def get_config():
    config = ml_collections.ConfigDict()
    # Data: a TFDS dataset of (image, label) pairs; train split to train,
    # test split to evaluate.
    config.dataset = "fashion_mnist"
    config.data_dir = None  # None: $TFDS_DATA_DIR, else ~/tensorflow_datasets
    config.shuffle_queue_size = 1024  # Trax's Shuffle() default
    config.batch_size = 8
    # The tutorial leaves NumPy unseeded; its shuffles start from this seed.
    config.data_seed = 0
    # Model.
    config.features = (32, 64)
    config.n_classes = 10
    # Optimizer: Trax's Adam(0.01) (train/trax_adam.py).
    config.learning_rate = 0.01
    config.weight_decay_rate = 1e-5
    # Loop: Trax's Loop(random_seed=seed).
    config.seed = 0
    config.num_train_steps = 1000
    config.eval_every_steps = 100  # also evaluates at step 1, as Trax does
    config.num_eval_batches = 20
    config.checkpoint_every_steps = 100  # and the last step
    config.max_checkpoints_to_keep = 2
    config.tensorboard = True
    return config
