"""Default hyperparameters: a small encoder-decoder Transformer on the
project's synthetic English -> "German-like" parallel text, with Trax's
subword vocabulary shared by both sides."""

import ml_collections


def get_config():
    config = ml_collections.ConfigDict()
    # Data: local tab-separated files, one `source<TAB>target` pair per
    # line. None: the synthetic pairs of input_pipeline.parallel_corpus are
    # written into <workdir>/data.
    config.train_file = None
    config.eval_file = None
    config.vocab_file = "en_8k.subword"
    config.vocab_dir = None  # None: the copy bundled with the project
    # The tutorial's pipeline: Shuffle(queue_size), then pairs longer than
    # max_length (either side, end id included) dropped, then
    # BucketByLength(boundaries, batch_sizes) on the longer side.
    config.shuffle_queue_size = 128
    config.max_length = 64
    config.boundaries = (16, 32, 64)
    config.batch_sizes = (32, 16, 8, 4)
    # Model: Trax's Transformer(input_vocab_size, d_model, d_ff,
    # n_encoder_layers, n_decoder_layers, n_heads, max_len, dropout), one
    # embedding shared by source and target.
    config.vocab_size = 8192
    config.d_model = 128
    config.d_ff = 512
    config.n_encoder_layers = 2
    config.n_decoder_layers = 2
    config.n_heads = 4
    config.max_len = 2048
    config.dropout = 0.1
    # Optimizer: Trax's Adam under warmup_and_rsqrt_decay(n_warmup_steps,
    # max_value).
    config.learning_rate = 0.01  # the schedule's max_value
    config.warmup_steps = 200
    config.weight_decay_rate = 1e-5
    # Loop: Trax's Loop(random_seed=seed); the seed also drives Shuffle.
    config.seed = 0
    config.num_train_steps = 1000
    config.eval_every_steps = 100  # also evaluates at step 1, as Trax does
    config.num_eval_batches = 10
    config.checkpoint_every_steps = 500  # and the last step
    config.max_checkpoints_to_keep = 2
    # Greedy translation printed at the end.
    config.translate = "the movie was really great today"
    config.decode_length = 40
    # TensorBoard files need TensorFlow (CLU's SummaryWriter); without it
    # metrics go to the log only.
    config.tensorboard = True
    return config
