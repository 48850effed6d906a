"""Default hyperparameters: a small Transformer LM on the project's
synthetic corpus (one text per line), with Trax's subword vocabulary."""

import ml_collections


def get_config():
    config = ml_collections.ConfigDict()
    # Data: local text files, one example per line. None: the synthetic
    # tweets of train/corpus.py are written into <workdir>/data.
    config.train_file = None
    config.eval_file = None
    config.vocab_file = "en_8k.subword"
    config.vocab_dir = None  # None: the copy bundled with the project
    # Each line becomes its ids plus EOS (1); longer ones are dropped, the
    # rest padded with 0 to max_length.
    config.max_length = 64
    config.batch_size = 16
    # Model: Trax's TransformerLM(vocab_size, d_model, d_ff, n_layers,
    # n_heads, max_len, dropout).
    config.vocab_size = 8192
    config.d_model = 128
    config.d_ff = 512
    config.n_layers = 2
    config.n_heads = 4
    config.max_len = 2048
    config.dropout = 0.1
    # Optimizer: Trax's Adam under Trax's multifactor schedule
    # constant * linear_warmup * rsqrt_decay.
    config.learning_rate = 0.1  # the schedule's `constant`
    config.warmup_steps = 400
    config.weight_decay_rate = 1e-5
    # Loop: Trax's Loop(random_seed=seed).
    config.seed = 0
    config.num_train_steps = 2000
    config.eval_every_steps = 100  # also evaluates at step 1, as Trax does
    config.num_eval_batches = 10
    config.checkpoint_every_steps = 500  # and the last step
    config.max_checkpoints_to_keep = 2
    # Greedy sample printed at the end.
    config.sample_length = 30
    # TensorBoard files need TensorFlow (CLU's SummaryWriter); without it
    # metrics go to the log only.
    config.tensorboard = True
    return config
