"""The sentiment tutorial's migration page: Trax's tutorial code
(``train/sentiment.py``) next to its native Flax program
(``train/sentiment_flax/``), section by section."""

from docs.migration.build import Code, Page, Section

TRAX = "train/sentiment.py"
NATIVE = "train/sentiment_flax/"
PIPELINE = NATIVE + "input_pipeline.py"
MODELS = NATIVE + "models.py"
TRAIN = NATIVE + "train.py"
MAIN = NATIVE + "main.py"
CONFIG = NATIVE + "configs/default.py"
ADAM = "train/trax_adam.py"
MODEL_MODULE = "models/sentiment.py"

MODEL_EXPR = ("tl.Serial(tl.Embedding(8192, 256), tl.Mean(axis=1), "
              "tl.Dense(2), tl.LogSoftmax())")

INTRO = f"""
Trax's sentiment tutorial (tokenize, shuffle, filter and bucket tweets; an
`Embedding -> Mean -> Dense -> LogSoftmax` classifier; `Adam(0.01)`;
`TrainTask` / `EvalTask` / `Loop`) exists twice in this repository:

* `{TRAX}`: the tutorial's code on trax_compat (`python -m train.sentiment`);
* `{NATIVE}`: the same job as a native Flax program, laid out as the Flax
  examples are (`configs/default.py`, `input_pipeline.py`, `models.py`,
  `train.py` with `train_and_evaluate(config, workdir)`): a
  `flax.training.train_state.TrainState`, optax, CLU's `metrics`,
  `metric_writers` and `periodic_actions`, an Orbax `CheckpointManager`, an
  `ml_collections` config. It uses no trax_compat API while it trains; only
  its input pipeline is Trax's (see [Data](#data)).

```bash
python -m train.sentiment --data train.csv --eval-data eval.csv \\
    --steps 300 --steps-per-checkpoint 100 --output-dir runs/trax
python -m train.sentiment_flax --workdir runs/flax \\
    --config.train_file=train.csv --config.eval_file=eval.csv \\
    --config.num_train_steps=300 --config.eval_every_steps=100 \\
    --config.checkpoint_every_steps=100
```

Both start from the same initial weights, read the same batches in the same
order and log the same values: `tests/test_sentiment_flax.py` checks the
native program against real Trax's own run of the tutorial (its initial
weights bit for bit, every batch it read, its logged loss and accuracy at
steps 1 and 100 within 2e-6) and against its trax_compat twin (logs within
1e-6, trained weights within 2e-5). Every code block below is cut out of
those two programs by `python -m docs.migration.build`, and a test fails
when this page no longer matches them.

For your own Trax script, `trax-compat migrate --plan my_script.py` lists
each Trax call it makes with its native equivalent and the section of this
page that shows it.
"""

SECTIONS = [
    Section("Data", """
Trax's pipeline is a `trax.data.Serial` of stream functions. The native
program keeps that pipeline and changes what it yields: a dict of
`inputs`, `labels` and `weights` per batch, as Flax programs pass batches.
It keeps it on purpose: the batches of a Trax run are defined by Trax's
subword tokenizer and by `Shuffle` and `BucketByLength` drawing from NumPy's
global generator *while the streams are read*. Reproducing them needs the
same reads in the same order, so `create_datasets` makes explicit what the
Trax code does implicitly: `TrainTask` and `EvalTask` each read one batch
when they are built (to learn the input shapes), and the `Loop` seeds NumPy
again. A `tf.data` or grain pipeline would be the idiomatic choice for new
data, and would give other batches (and another log).
""", trax=[Code(TRAX, "main.tutorial_pipeline"),
           Code(TRAX, "main", "tweets = ", "streamed_eval_batches = ")],
        flax=[Code(PIPELINE, "_tutorial_stream"),
              Code(PIPELINE, "create_datasets")]),
    Section("Model", """
`tl.Serial(Embedding, Mean, Dense, LogSoftmax)` becomes a Linen module with
`nn.Embed`, `jnp.mean`, `nn.Dense` and `jax.nn.log_softmax`. Two details
keep it Trax's function: ids are clipped before the lookup (Trax's
`Embedding` clips out-of-range ids; `nn.Embed` would return NaN), and the
mean runs over all positions, padding included (the tutorial model has no
mask). Flax's `model.init(key, batch)` would draw the same distributions
with other numbers; `initial_params` draws as Trax's `Loop(random_seed=0)`
does, so both runs start from the same weights.
""", trax=[Code(TRAX, "main", "model = tl.Serial(")],
        flax=[Code(MODEL_MODULE, "SentimentClassifier", "@nn.compact",
                   "return jax.nn.log_softmax"),
              Code(MODELS, "initial_params")]),
    Section("Loss and metrics", """
Trax's loss and metrics are layers applied to the model's output, the
labels and the weights. Natively they are functions of the same three
arrays, and the per-batch values are collected in CLU `metrics.Collection`s
(`Average`s, merged over steps and batches). `WeightedCategoryCrossEntropy`
applies a log-softmax to the model's output even though the model already
ends in one; the native loss does the same, so the values agree to the last
bits.
""", trax=[Code(TRAX, "main", "loss_layer="),
           Code(TRAX, "main", "metrics=[", "tl.WeightedCategoryAccuracy()]")],
        flax=[Code(TRAIN, "weighted_cross_entropy"),
              Code(TRAIN, "weighted_accuracy"),
              Code(TRAIN, "TrainMetrics"), Code(TRAIN, "EvalMetrics")]),
    Section("Optimizer and schedule", """
`trax.optimizers.Adam` is not `optax.adam`: Trax adds `eps` (default 1e-5)
outside the square root, decays weights by `(1 - weight_decay_rate)`
(default 1e-5) unscaled by the learning rate, and its bias correction of
the n-th update uses the power `n + 1`. `train/trax_adam.py` writes that
rule as a plain optax transformation, so the `TrainState` trains as the
Trax `Loop` did (`optax.adamw` would train, but log other numbers). A Trax
learning-rate schedule (`trax.lr.multifactor`, ...) becomes an optax
schedule, a function of the step, passed as `learning_rate`; the tutorial
uses a constant 0.01.
""", trax=[Code(TRAX, "main", "optimizer=trax.optimizers.Adam")],
        flax=[Code(ADAM, "trax_adam", "def update_fn", "return updates,"),
              Code(TRAIN, "create_train_state")]),
    Section("Loop", """
`TrainTask` + `Loop(...).run(n)` becomes a jitted `train_step` (the
`TrainState`'s `apply_gradients`, buffers donated) and a plain `for` loop
in `train_and_evaluate`. The loop keeps Trax's schedule: steps count from
1, evaluation at step 1 and every `eval_every_steps`, and the train loss
logged there is the mean since the previous report. Trax's
`Ran N train steps in X secs` becomes CLU's `ReportProgress` (steps per
second); Trax's step log and TensorBoard files become CLU's
`metric_writers` (the absl log, and TensorBoard files when TensorFlow is
installed). Trax's `Loop` arguments become `ml_collections` config fields.
""", trax=[Code(TRAX, "main", "train_task = training.TrainTask("),
           Code(TRAX, "main", "training_loop = training.Loop("),
           Code(TRAX, "_train", "training_loop.run(")],
        flax=[Code(TRAIN, "train_step"),
              Code(TRAIN, "train_and_evaluate", "report_progress = ",
                   "checkpoints.save("),
              Code(CONFIG, "get_config", "# Loop.", "config.max_checkpoints")]),
    Section("Checkpoints", f"""
Trax's `Loop` checkpoints its `output_dir` every `n_steps_per_checkpoint`
steps; the native program saves the whole `TrainState` (params, Adam's
moments, step) with an Orbax `CheckpointManager` under
`<workdir>/checkpoints/<step>`, and a rerun resumes from the newest one,
reading past the batches the finished steps read.

**Moving your Trax weights across.** Export them as Flax params, then
start the native program from them. The source is the twin's output folder
(`runs/trax` here), or a real Trax run's `output_dir/model.pkl.gz` (any
checkpoint format Trax wrote):

```bash
trax-compat convert runs/trax params.msgpack \\
    --model "{MODEL_EXPR}"
python -m train.sentiment_flax --workdir runs/flax \\
    --config.init_params_from=params.msgpack
```

`convert` writes the params of the model's Linen module (`layers_0`,
`layers_2`) and a readable `params.py` for them; `load_exported_params`
renames them for `SentimentClassifier`. The test runs this command on the
twin's checkpoint and checks that the native program starts from its
trained weights exactly. Back to Trax's layout:
`models.sentiment.trax_weights_from_params(params)`.
""", trax=[Code(TRAX, "main", "n_steps_per_checkpoint="),
           Code(TRAX, "main", "output_dir=output_dir,")],
        flax=[Code(TRAIN, "train_and_evaluate", "checkpoints = ",
                   "_skip_consumed_batches("),
              Code(TRAIN, "_skip_consumed_batches"),
              Code(MODELS, "load_exported_params")]),
    Section("Evaluation", """
`EvalTask(metrics, n_eval_batches=20)` becomes a jitted `eval_step` that
returns the batch's `EvalMetrics`, merged over 20 batches of the endless
eval stream (each eval continues where the last one stopped, as in Trax).
""", trax=[Code(TRAX, "main", "eval_task = training.EvalTask(")],
        flax=[Code(TRAIN, "eval_step"), Code(TRAIN, "evaluate"),
              Code(TRAIN, "train_and_evaluate", "if _eval_at(step",
                   "writer.write_scalars(step, {f\"eval_")]),
    Section("Prediction", """
Calling the trained Trax model, `model(x)`, becomes `apply_fn` with the
trained params (jitted here); the tutorial's example is the first tweet of
the next eval batch, detokenized with the same vocabulary.
""", trax=[Code(TRAX, "main", "eval_batches_stream = ",
                "print(f'Model returned")],
        flax=[Code(TRAIN, "predict"),
              Code(MAIN, "main", "example = next(",
                   "print(f\"Model returned")]),
]

PAGE = Page("sentiment.md", "Migrating the sentiment tutorial to Flax",
            INTRO, SECTIONS)
