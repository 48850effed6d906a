"""Where each Trax API goes in native Flax / optax / CLU / Orbax code: the
table ``trax-compat migrate --plan`` reads.

Keys are Trax's full names (``trax.layers.Dense``; methods of the objects
a script builds as ``<class name>.<method>``). Values are
``(equivalent, page)``: what a native program writes instead, and the page
(with its section) that shows it in a tested program.
"""

SENTIMENT = "docs/migration/sentiment.md"
EARLYSTOPPING = "docs/migration/earlystopping.md"
IMDB = "docs/migration/imdb.md"
FASHION = "docs/migration/fashion_mnist.md"
DEEP_NGRAM = "docs/migration/deep_ngram.md"
TRANSFORMER_LM = "docs/migration/transformer_lm.md"
NMT = "docs/migration/nmt.md"
GUIDE = "docs/migration.md"

_DATA = SENTIMENT + "#data"
_MODEL = SENTIMENT + "#model"
_LOSS = SENTIMENT + "#loss-and-metrics"
_OPT = SENTIMENT + "#optimizer-and-schedule"
_LOOP = SENTIMENT + "#loop"
_CKPT = SENTIMENT + "#checkpoints"
_EVAL = SENTIMENT + "#evaluation"
_PREDICT = SENTIMENT + "#prediction"
_TRANSFORMER = GUIDE + "#native-flax-transformer-models"
_TO_FLAX = GUIDE + "#the-way-out-to-plain-flax"
_GIN = GUIDE + "#gin-configs"

TABLE = {
    # -- data -----------------------------------------------------------------
    "trax.data.Serial": (
        "a Python generator of batch dicts (or tf.data / grain); to keep "
        "Trax's exact batches, keep its pipeline as input_pipeline.py does",
        _DATA),
    "trax.data.Tokenize": (
        "the tokenizer's encode (sentencepiece, tensorflow_text); Trax's "
        ".subword ids need Trax's tokenizer", _DATA),
    "trax.data.tokenize": ("the tokenizer's encode", _DATA),
    "trax.data.detokenize": ("the tokenizer's decode", _PREDICT),
    "trax.data.vocab_size": ("the tokenizer's vocabulary size", _DATA),
    "trax.data.Shuffle": (
        "tf.data.Dataset.shuffle / grain's shuffle, or a NumPy "
        "Generator's permutation", _DATA),
    "trax.data.FilterByLength": (
        "a length test in the generator (tf.data.Dataset.filter)", _DATA),
    "trax.data.BucketByLength": (
        "padding to bucket lengths "
        "(tf.data.Dataset.bucket_by_sequence_length)", _DATA),
    "trax.data.AddLossWeights": (
        "a 'weights' entry in the batch dict (ones where the loss counts)",
        _DATA),
    "trax.data.PadToLength": (
        "np.pad of each example to a fixed length (one compiled step)",
        TRANSFORMER_LM + "#data"),
    "trax.data.AppendValue": ("ids + [EOS] before padding",
                              TRANSFORMER_LM + "#data"),
    "trax.data.Batch": ("tf.data.Dataset.batch / grain's Batch, or "
                        "stacking in the generator",
                        EARLYSTOPPING + "#data"),
    "trax.data.TFDS": ("tfds.load(name, split=...) or tfds.data_source",
                       IMDB + "#data"),
    "trax.data.inputs.Inputs": ("a function returning train and eval "
                                "iterators (create_datasets)", _DATA),
    # -- layers ---------------------------------------------------------------
    "trax.layers.Serial": (
        "a flax.linen.Module whose __call__ applies the sublayers in order "
        "(nn.Sequential for a plain chain)", _MODEL),
    "trax.layers.Embedding": (
        "flax.linen.Embed (clip the ids first: Trax clips out-of-range ids, "
        "Embed returns NaN)", _MODEL),
    "trax.layers.Mean": ("jnp.mean(x, axis=...)", _MODEL),
    "trax.layers.Sum": ("jnp.sum(x, axis=...)", _MODEL),
    "trax.layers.Dense": ("flax.linen.Dense (Trax's initializers: "
                          "models/sentiment.py)", _MODEL),
    "trax.layers.LogSoftmax": ("jax.nn.log_softmax(x, axis=-1)", _MODEL),
    "trax.layers.Softmax": ("jax.nn.softmax(x, axis=-1)", _MODEL),
    "trax.layers.Relu": ("flax.linen.relu", _MODEL),
    "trax.layers.Gelu": ("flax.linen.gelu", _MODEL),
    "trax.layers.Sigmoid": ("flax.linen.sigmoid", _MODEL),
    "trax.layers.Tanh": ("flax.linen.tanh", _MODEL),
    "trax.layers.Flatten": ("x.reshape((x.shape[0], -1))",
                            FASHION + "#model"),
    "trax.layers.ToFloat": ("x.astype(jnp.float32) (no rescaling)",
                            FASHION + "#model"),
    "trax.layers.MaxPool": (
        "flax.linen.max_pool(x, (2, 2), strides=(1, 1)): Trax's default "
        "stride is 1, not the window", FASHION + "#model"),
    "trax.layers.Dropout": (
        "flax.linen.Dropout(rate)(x, deterministic=...) with "
        "rngs={'dropout': key}", _TO_FLAX),
    "trax.layers.LayerNorm": ("flax.linen.LayerNorm(epsilon=1e-6)",
                              _TRANSFORMER),
    "trax.layers.BatchNorm": ("flax.linen.BatchNorm (its batch_stats "
                              "collection is Trax's layer state)", _TO_FLAX),
    "trax.layers.Conv": ("flax.linen.Conv (NHWC, HWIO kernels as Trax)",
                         FASHION + "#model"),
    "trax.layers.GRU": (
        "flax.linen.RNN over a cell with Trax's equations "
        "(train/deep_ngram_flax/models.py); flax.linen.GRUCell applies the "
        "reset gate after the matrix product: other numbers",
        DEEP_NGRAM + "#model"),
    "trax.layers.LSTM": (
        "flax.linen.RNN over a cell with Trax's one-kernel layout "
        "(train/deep_ngram_flax/models.py); flax.linen.LSTMCell computes "
        "the same equations with eight kernels", DEEP_NGRAM + "#model"),
    "trax.layers.SRU": (
        "flax.linen.RNN over a cell with Trax's SRU equations, written as "
        "train/deep_ngram_flax/models.py writes the GRU's (SRU is not "
        "ported there)", DEEP_NGRAM + "#model"),
    "trax.layers.ShiftRight": (
        "jnp.pad(x, ((0, 0), (1, 0)))[:, :-1] (in 'predict' mode: x)",
        DEEP_NGRAM + "#model"),
    "trax.layers.Residual": ("x + block(x) in the module's __call__",
                             _TO_FLAX),
    "trax.layers.Branch": ("calling several submodules on the same input",
                           _TO_FLAX),
    "trax.layers.Parallel": ("calling each submodule on its own input",
                             _TO_FLAX),
    "trax.layers.Select": ("plain tuple indexing in __call__", _TO_FLAX),
    "trax.layers.Fn": ("a plain function called in __call__", _TO_FLAX),
    # -- loss and metrics ------------------------------------------------------
    "trax.layers.WeightedCategoryCrossEntropy": (
        "a loss function: the weighted mean of "
        "optax.softmax_cross_entropy_with_integer_labels (Trax applies "
        "log_softmax to the model output again)", _LOSS),
    "trax.layers.CategoryCrossEntropy": (
        "optax.softmax_cross_entropy_with_integer_labels(...).mean()",
        FASHION + "#loss-and-metrics"),
    "trax.layers.CrossEntropyLoss": (
        "the weighted mean of -sum(log_probs * one_hot(targets)): no "
        "log_softmax (the model's output already is one)",
        DEEP_NGRAM + "#loss-and-metrics"),
    "trax.layers.WeightedCategoryAccuracy": (
        "the weighted mean of argmax(logits) == labels, a CLU "
        "metrics.Average", _LOSS),
    "trax.layers.CategoryAccuracy": ("(argmax(logits) == labels).mean()",
                                     FASHION + "#loss-and-metrics"),
    "trax.layers.Accuracy": ("(argmax(logits) == labels), weighted mean",
                             DEEP_NGRAM + "#loss-and-metrics"),
    "trax.layers.L2Loss": ("the weighted mean of squared errors (optax."
                           "l2_loss is half of it)",
                           EARLYSTOPPING + "#loss-and-metrics"),
    # -- optimizers and schedules ---------------------------------------------
    "trax.optimizers.Adam": (
        "train/trax_adam.py's trax_adam (Trax's update rule); "
        "optax.adamw(lr, eps=1e-5) is close, not equal", _OPT),
    "trax.optimizers.SGD": ("optax.sgd(lr)",
                            EARLYSTOPPING + "#optimizer-and-schedule"),
    "trax.optimizers.Momentum": ("optax.sgd(lr, momentum=..., "
                                 "nesterov=True)", _OPT),
    "trax.optimizers.Adafactor": ("optax.adafactor", _OPT),
    "trax.optimizers.RMSProp": ("optax.rmsprop", _OPT),
    "trax.optimizers.SM3": ("optax.sm3", _OPT),
    "trax.lr.multifactor": (
        "an optax schedule: a function of the update count (count + 1 is "
        "Trax's step)", TRANSFORMER_LM + "#optimizer-and-schedule"),
    "trax.lr.warmup_and_rsqrt_decay": (
        "an optax schedule of the update count: a linear rise to max_value "
        "at step t0 = n_warmup_steps + 1, then max_value * sqrt(t0 / step), "
        "step = count + 1", NMT + "#optimizer-and-schedule"),
    "trax.lr.constant": ("optax.constant_schedule", _OPT),
    "trax.lr.warmup": ("optax.linear_schedule", _OPT),
    # -- training loop --------------------------------------------------------
    "trax.supervised.training.TrainTask": (
        "a jitted train_step(state, batch) on a "
        "flax.training.train_state.TrainState(tx=optimizer)", _LOOP),
    "trax.supervised.training.EvalTask": (
        "a jitted eval_step and a CLU metrics.Collection averaged over "
        "num_eval_batches", _EVAL),
    "trax.supervised.training.Loop": (
        "train_and_evaluate(config, workdir): a for loop over steps, CLU "
        "metric_writers and periodic_actions, an Orbax CheckpointManager",
        _LOOP),
    "Loop.run": ("the for loop of train_and_evaluate (a callback that "
                 "stops training: a break, with "
                 "flax.training.early_stopping)", _LOOP),
    "Loop.save_checkpoint": ("CheckpointManager.save(step, "
                             "args=ocp.args.StandardSave(state))", _CKPT),
    "Loop.load_checkpoint": ("CheckpointManager.restore(step, "
                             "args=ocp.args.StandardRestore(state)); the "
                             "best one: best_fn and best_step()",
                             EARLYSTOPPING + "#checkpoints"),
    "Loop.run_evals": ("evaluate(state, eval_iter, num_batches)", _EVAL),
    "trax.supervised.trainer_lib.train": (
        "train_and_evaluate(config, workdir) with an ml_collections "
        "config", _GIN),
    "trax.supervised.decoding.autoregressive_sample": (
        "models/transformer.py's decode_lm / decode_transformer",
        TRANSFORMER_LM + "#prediction"),
    # -- models and weights ---------------------------------------------------
    "trax.models.TransformerLM": ("models/transformer.py's TransformerLM",
                                  TRANSFORMER_LM + "#model"),
    "trax.models.Transformer": ("models/transformer.py's Transformer "
                                "(trained in train/nmt_flax/)",
                                NMT + "#model"),
    "Layer.__call__": ("state.apply_fn({'params': state.params}, x) "
                       "(a jitted predict)", _PREDICT),
    "Layer.init": ("module.init(key, x), or the Trax draws of "
                   "models.initial_params", _MODEL),
    "Layer.init_from_file": (
        "trax-compat convert model.pkl.gz params.msgpack --model '...', "
        "then flax.serialization.msgpack_restore", _CKPT),
    "Layer.save_to_file": ("an Orbax checkpoint of the params", _CKPT),
    "trax.shapes.signature": ("jax.ShapeDtypeStruct / jax.eval_shape",
                              _TO_FLAX),
    "trax.fastmath.random.get_prng": ("jax.random.PRNGKey", _TO_FLAX),
}

# Modules whose functions keep their names in JAX.
MODULE_EQUIVALENTS = {
    "trax.fastmath.numpy": ("jax.numpy", _TO_FLAX),
    "trax.fastmath.random": ("jax.random", _TO_FLAX),
    "trax.fastmath": ("jax", _TO_FLAX),
}

# Which table prefix (``Loop``, ``Layer``) a variable built by a Trax call
# takes its methods from.
OBJECT_KINDS = {
    "trax.supervised.training.Loop": "Loop",
}
LAYER_MODULES = ("trax.layers.", "trax.models.")


def lookup(name):
    """``(equivalent, page)`` for a Trax name, or None."""
    if name in TABLE:
        return TABLE[name]
    for module, (target, page) in MODULE_EQUIVALENTS.items():
        if name.startswith(module + ".") and name.count(".") == (
                module.count(".") + 1):
            return f"{target}.{name.rsplit('.', 1)[1]}", page
    return None


def object_kind(constructor):
    """The table prefix for methods of what ``constructor`` returns."""
    if constructor in OBJECT_KINDS:
        return OBJECT_KINDS[constructor]
    if constructor.startswith(LAYER_MODULES):
        return "Layer"
    return None
