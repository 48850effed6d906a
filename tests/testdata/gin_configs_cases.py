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
    **{name: "generated data, tiny sizes, 1 step, in a `trax-compat "
             "trainer` process compiling with less XLA optimization "
             "(slow-marked: `tests/test_gin_configs_slow_runs.py`)"
       for name in ("terraformer_copy.gin", "terraformer_purelsh_copy.gin")},
    "t5_mathqa.gin": "with `dataset_path` bound to tiny local MathQA files "
                     "and the bundled `en_8k.subword` vocabulary, tiny "
                     "sizes, 1 step (slow-marked: "
                     "`tests/test_gin_configs_slow_runs.py`)",
    **{name: "on a tiny local `cifar10` stand-in, tiny sizes, 1 step, in a "
             "`trax-compat trainer` process compiling with less XLA "
             "optimization (slow-marked: "
             "`tests/test_gin_configs_slow_runs.py`)"
       for name in ("reformer_cifar10.gin", "hourglass_cifar10.gin")},
    "t5_glue_classification_parallel.gin": (
        "on tiny local GLUE stand-ins with `Tokenize` bound as for its "
        "build, tiny sizes, 1 step (slow-marked: "
        "`tests/test_gin_configs_slow_runs.py`)"),
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
# against real Trax in test_models_terraformer.py); even at d_model 16, 1+1
# layers, one hash and length 16, compiling their train step takes ~45 s of
# CPU (the program's size, not its shapes, sets the cost), so they run in
# slow-marked tests (SLOW_GENERATED_BINDINGS), compiled with less
# optimization (LOW_OPT_XLA_FLAGS).
_TINY_TERRAFORMER_LAYERS = [
    "simple_sequence_copy_inputs.batch_size = 4",
    "ConfigurableTerraformer.d_model = 16",
    "ConfigurableTerraformer.d_ff = 32",
    "ConfigurableTerraformer.n_heads = 2",
    "ConfigurableTerraformer.n_encoder_layers = 1",
    "ConfigurableTerraformer.n_decoder_layers = 1",
    "ConfigurableTerraformer.d_attention_key = 8",
    "ConfigurableTerraformer.d_attention_value = 8"]
_ONE_STEP = ["train.steps = 1", "train.eval_frequency = 1",
             "train.eval_steps = 1", "train.random_seed = 0"]

GENERATED_BINDINGS = {
    "terraformer_copy_self_attn.gin": _TINY_TERRAFORMER_LAYERS + _ONE_STEP,
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
# take ~40 and ~80 s of CPU to compile: they run in the slow tests
# (SLOW_CIFAR10_BINDINGS), compiled with less optimization.
CIFAR10_BINDINGS = {
    "wide_resnet_cifar10_8gb.gin": [
        "WideResnet.widen_factor = 1", "WideResnet.n_blocks = 1",
        "batcher.batch_size_per_device = 2", "batcher.eval_batch_size = 2",
        "train.steps = 1", "train.eval_frequency = 1",
        "train.eval_steps = 1", "train.random_seed = 0"],
}


# XLA flags for the trainer processes of the slow runs. With backend
# optimization off and without the CPU fusion emitters, a trainer run of
# terraformer_copy.gin at the sizes below took 17 s of user CPU instead of
# 43-49 s (compiling its train step: ~14 s instead of ~40 s); its losses
# agree to float rounding. Optimization level 0 alone saved about half.
LOW_OPT_XLA_FLAGS = ("--xla_backend_optimization_level=0 "
                     "--xla_cpu_use_fusion_emitters=false")

_TINY_TERRAFORMER = ["max_len = 16"] + _TINY_TERRAFORMER_LAYERS

# Generated-data configs run by the slow tests, in a trainer process.
SLOW_GENERATED_BINDINGS = {
    "terraformer_copy.gin": _TINY_TERRAFORMER + [
        "LSHSelfAttention.n_hashes = 1", "LSHSelfAttention.chunk_len = 8",
        "LSHSelfAttention.n_buckets = 4"] + _ONE_STEP,
    "terraformer_purelsh_copy.gin": _TINY_TERRAFORMER + [
        "PureLSHSelfAttention.n_hashes = 1",
        "PureLSHSelfAttention.chunk_len = 8",
        "PureLSHSelfAttention.n_buckets = 4"] + _ONE_STEP,
}

# Configs reading local files that Trax's config leaves as a placeholder
# (`dataset_path = 'path_to_the_dataset'`): checked, and t5_mathqa.gin run,
# with it bound to the tiny MathQA / AQuA-RAT / annotated-DROP files of
# tests/testdata (those the data oracle uses). The configs name Trax's
# `en_32k.subword`, which is on GCS; the bundled `en_8k.subword` stands in.
# t5_mathqa_parallel_with_drop_annot.gin also reads TFDS `drop`
# (tiny_tfds.DropStandIn, found through $TFDS_DATA_DIR).
LOCAL_FILES = "tests/testdata/trax_oracle/data_mathqa_inputs"
_MATHQA = {"dataset_path": "mathqa"}
LOCAL_FILE_CONFIGS = {
    **{name: _MATHQA for name in (
        "t5_mathqa.gin", "t5_mathqa_multi.gin", "t5_mathqa_parallel.gin",
        "t5_mathqa_parallel_full.gin",
        "t5_mathqa_parallel_full_correct_order.gin",
        "t5_mathqa_parallel_full_order.gin")},
    "t5_mathqa_parallel_with_drop_annot.gin": {
        "dataset_path": "mathqa", "dataset_path_drop": "drop"},
    "t5_aqua_parallel.gin": {"dataset_path": "aqua"},
}
# Configs the page keeps as failing because of a bug in Trax's file, with
# the macros that make them build (test_gin_configs_local_data.py).
TRAX_BUGS = {
    "t5_mathqa_drop_loop.gin": (
        "Trax's config uses the macro `dataset_path_drop_eval` without "
        "defining it (a bug in the file)",
        {"dataset_path": "mathqa", "dataset_path_drop": "drop",
         "dataset_path_drop_eval": "drop"}),
}
# T5 GLUE configs: their TFDS `glue/...` data from tiny local stand-ins
# (tiny_tfds.GlueStandIn). They bind neither `Tokenize.vocab_file` nor
# `Tokenize.keys` (Trax would fail at the first batch, tokenizing no file,
# then the weights; trax_compat says so when building the stream): the
# bundled `en_8k.subword` and the MathQA configs' keys are bound.
GLUE_BENCHMARKS = ("cola", "sst2", "mrpc", "qqp", "mnli", "qnli", "rte",
                   "wnli")
GLUE_CONFIGS = {
    "t5_glue_classification_mnli.gin": ("glue/mnli",),
    "t5_glue_classification_parallel.gin": tuple(
        "glue/" + b for b in GLUE_BENCHMARKS),
}
LOCAL_FILE_CONFIGS.update({name: {} for name in GLUE_CONFIGS})
# More to say of a config on the page (checked by the tests named).
NOTES = {
    "t5_glue_classification_mnli.gin": (
        "it cannot train, in Trax either: it binds `make_inputs."
        "train_stream = @data.T5GlueTrainStream()`, a stream function "
        "where a list of stages or an iterator belongs (Trax fails at the "
        "first batch; trax_compat names the binding) "
        "(`tests/test_gin_configs_local_data.py`)"),
}
# TFDS stand-ins (tiny_tfds) the local-data configs read.
LOCAL_FILE_TFDS = {"t5_mathqa_parallel_with_drop_annot.gin": ("drop",),
                   "t5_mathqa_drop_loop.gin": ("drop",), **GLUE_CONFIGS}
VOCAB_BINDING = "trax.data.Tokenize.vocab_file = 'en_8k.subword'"
KEYS_BINDING = "trax.data.Tokenize.keys = [0, 1]"


def local_file_bindings(macros, repo_root):
    """Gin bindings of ``macros`` ({macro: folder under LOCAL_FILES}) as
    absolute paths under ``repo_root``, plus the vocabulary's (and, for
    the GLUE configs, the tokenized keys)."""
    import os  # pylint: disable=g-import-not-at-top
    root = os.path.join(str(repo_root), *LOCAL_FILES.split("/"))
    return [f"{macro} = {os.path.join(root, folder)!r}"
            for macro, folder in sorted(macros.items())] + [VOCAB_BINDING] + (
                [] if macros else [KEYS_BINDING])


# Sizes for running t5_mathqa.gin on the tiny files (a tiny model, short
# sequences; every eval task of the config). Compiling its train step takes
# ~18 s even so: it runs in the slow tests.
MATHQA_RUN_BINDINGS = [
    "d_model = 16", "d_ff = 32", "n_heads = 2", "n_layers = 1",
    "max_length = 64",
    "data.PadToLength.len_map = {0: 64, 1: 64, 2: 64}",
    "data.TruncateToLength.len_map = {0: (64,), 1: (64,), 2: (64,)}",
    "data.Batch.batch_size = 2"] + _ONE_STEP

# cifar10 configs run by the slow tests on the stand-in, in a trainer process
# (their `train.checkpoints_at` lists start at step 1000: step 1 is added).
SLOW_CIFAR10_BINDINGS = {
    "reformer_cifar10.gin": [
        "attn_kv = 8", "n_layers = 1", "ReformerLM.d_model = 16",
        "ReformerLM.d_ff = 32", "ReformerLM.n_heads = 2",
        "batcher.batch_size_per_device = 1", "batcher.eval_batch_size = 1",
        "train.checkpoints_at = [1]"] + _ONE_STEP,
    "hourglass_cifar10.gin": [
        "HourglassLM.d_model = 16", "HourglassLM.d_ff = 32",
        "HourglassLM.n_heads = 2", "HourglassLM.hierarchy = '1@3'",
        "batcher.batch_size_per_device = 1", "batcher.eval_batch_size = 1",
        "train.checkpoints_at = [1]"] + _ONE_STEP,
}
