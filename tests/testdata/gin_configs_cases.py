"""Which of Trax's configs the tests run for a few steps, and how; shared by
``tests/test_gin_configs.py`` and ``generate_gin_configs.py`` (the status
page ``docs/gin_configs.md``)."""

# config -> what the tests run (shown on the status page).
RUN_IN_TESTS = {
    "gru_copy.gin": "copy task, logs equal to Trax's "
                    "(`tests/test_gin_trainer_oracle.py`)",
    "reformer_copy.gin": "with `train.model = @trax.models.TransformerLM` "
                         "on the addition task, logs equal to Trax's "
                         "(`tests/test_gin_configs.py`)",
    "mlp_mnist.gin": "on a tiny local `mnist` stand-in "
                     "(`tests/test_gin_configs.py`)",
    **{name: "generated data, tiny sizes, 1-2 steps "
             "(`tests/test_gin_configs_run.py`)"
       for name in ("terraformer_copy_self_attn.gin", "rse_addition.gin")},
    "reformer_addition.gin": "generated data, tiny sizes, 2 steps, logs "
                             "equal to Trax's "
                             "(`tests/test_gin_configs_run.py`)",
    "wide_resnet_cifar10_8gb.gin": "on a tiny local `cifar10` stand-in, "
                                   "tiny sizes, 1 step "
                                   "(`tests/test_gin_configs_run.py`)",
    "transformer_imdb_tfds.gin": "on a tiny local `imdb_reviews` stand-in "
                                 "with Trax's test SentencePiece model, "
                                 "without the `t5` package "
                                 "(`tests/test_gin_configs.py`)",
}

# Sizes for mlp_mnist.gin on the tiny stand-in: a handful of steps.
MLP_MNIST_BINDINGS = [
    "batcher.batch_size_per_device = 8", "batcher.eval_batch_size = 8",
    "MLP.layer_widths = (16,)", "train.steps = 6",
    "train.eval_frequency = 3", "train.eval_steps = 2",
    "train.random_seed = 0", "lr_schedules.constant.value = 0.01",
    "data_streams.shuffle_buffer_size = 8"]

# Sizes for transformer_imdb_tfds.gin on the tiny stand-in (its data keeps
# the config's 512-token padding); `spm_path` replaces T5's default model,
# which is on GCS.
IMDB_TFDS_BINDINGS = [
    "TransformerEncoder.d_model = 16", "TransformerEncoder.d_ff = 32",
    "TransformerEncoder.n_heads = 2", "TransformerEncoder.n_layers = 1",
    "batcher.batch_size_per_device = 4", "batcher.eval_batch_size = 4",
    "train.steps = 4", "train.eval_frequency = 2", "train.eval_steps = 1",
    "train.random_seed = 0"]

# Configs on generated data (copy, addition): tiny sizes, a step or two.
# The Terraformer trains one step: its ConcatWithPadding state changes shape
# after the first step (as in Trax), so a second step compiles the training
# step again (~40 s). terraformer_copy.gin and terraformer_purelsh_copy.gin
# differ from the self-attention one only in the attention layers (checked
# against real Trax in test_models_terraformer.py); they are built, not run:
# even at d_model 16, 1+1 layers, one hash and length 8, compiling their
# train and eval steps takes ~45 s of CPU each (the program's size, not its
# shapes, sets the cost).
GENERATED_BINDINGS = {
    "terraformer_copy_self_attn.gin": [
        "simple_sequence_copy_inputs.batch_size = 4",
        "ConfigurableTerraformer.d_model = 16",
        "ConfigurableTerraformer.d_ff = 32",
        "ConfigurableTerraformer.n_heads = 2",
        "ConfigurableTerraformer.n_encoder_layers = 1",
        "ConfigurableTerraformer.n_decoder_layers = 1",
        "ConfigurableTerraformer.d_attention_key = 8",
        "ConfigurableTerraformer.d_attention_value = 8",
        "train.steps = 1", "train.eval_frequency = 1",
        "train.eval_steps = 1", "train.random_seed = 0"],
    "rse_addition.gin": [
        "batch_size = 4", "ResidualShuffleExchange.d_model = 16",
        "ResidualShuffleExchange.n_blocks = 1",
        "addition_inputs.train_length = 16",
        "addition_inputs.eval_min_length = 16",
        "addition_inputs.eval_max_length = 16",
        "addition_inputs.pad_to_multiple = 16",
        "eval_len256/addition_input_stream.min_length = 32",
        "eval_len256/addition_input_stream.max_length = 32",
        "eval_len256/addition_input_stream.pad_to_multiple = 32",
        "train.steps = 2", "train.eval_frequency = 2",
        "train.eval_steps = 1", "train.random_seed = 0"],
    # The config's own dropout (0.2) and random position offsets are kept;
    # its log is compared with Trax's (generate_gin_runs.py).
    "reformer_addition.gin": [
        "ConfigurableTransformerLM.d_model = 16",
        "ConfigurableTransformerLM.d_ff = 32",
        "ConfigurableTransformerLM.n_heads = 2",
        "ConfigurableTransformerLM.n_layers = 1",
        "addition_inputs.batch_size = 3",
        "addition_inputs.train_length = 16",
        "addition_inputs.eval_min_length = 16",
        "addition_inputs.eval_max_length = 16",
        "addition_inputs.pad_to_multiple = 16",
        "multifactor.warmup_steps = 2",
        "train.steps = 2", "train.eval_frequency = 2",
        "train.eval_steps = 1", "train.random_seed = 5"],
}

# Configs on TFDS cifar10, run on a tiny local stand-in (tiny_tfds.py's
# Cifar10StandIn: 32x32x3 random images); the data dir is bound by the test.
# reformer_cifar10.gin and hourglass_cifar10.gin also train on it (1 layer,
# d_model 16), but their train steps (3073-pixel sequences, padded to 4096)
# take ~40 and ~80 s of CPU to compile: over the tests' time budget.
CIFAR10_BINDINGS = {
    "wide_resnet_cifar10_8gb.gin": [
        "WideResnet.widen_factor = 1", "WideResnet.n_blocks = 1",
        "batcher.batch_size_per_device = 2", "batcher.eval_batch_size = 2",
        "train.steps = 1", "train.eval_frequency = 1",
        "train.eval_steps = 1", "train.random_seed = 0"],
}
