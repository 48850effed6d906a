"""The intro notebook's IMDB classifier: its cells as the tests run them on
real Trax and on trax_compat (``tests/testdata/intro_imdb_cells.py``) next
to the native program (``train/imdb_flax/``)."""

from docs.migration.build import Code, Page, Section

CELLS = "tests/testdata/intro_imdb_cells.py"
NATIVE = "train/imdb_flax/"
PIPELINE = NATIVE + "input_pipeline.py"
MODELS = NATIVE + "models.py"
TRAIN = NATIVE + "train.py"
MAIN = NATIVE + "main.py"
CONFIG = NATIVE + "configs/default.py"
ADAM = "train/trax_adam.py"

MODEL_EXPR = ("tl.Serial(tl.Embedding(8192, 256), tl.Mean(axis=1), "
              "tl.Dense(2))")

INTRO = """
The "Supervised training" part of Trax's `intro.ipynb` trains a classifier
of IMDB reviews: `trax.data.TFDS('imdb_reviews')`, then tokenize, shuffle,
filter and bucket; an `Embedding -> Mean -> Dense` model; `Adam(0.01)`;
`TrainTask` / `EvalTask` / `Loop` for 2000 steps; one example prediction.

* The Trax code below is the notebook's cells, as
  `tests/testdata/intro_imdb_cells.py` runs them on real Trax (to record
  the reference run) and on trax_compat, made reproducible: seeded NumPy
  and `Loop`, `TFDS(..., shuffle_train=False)` (the default shuffles the
  files with TensorFlow's unseeded randomness), fewer steps.
* `train/imdb_flax/` is the native program, laid out as the Flax examples
  are (`configs/default.py`, `input_pipeline.py`, `models.py`, `train.py`
  with `train_and_evaluate(config, workdir)`): `tfds.load`, a
  `TrainState`, optax, CLU's `metrics`, `metric_writers` and
  `periodic_actions`, an Orbax `CheckpointManager`, an `ml_collections`
  config. Only the tokenize-to-bucket steps of its input pipeline are
  Trax's (see [Data](#data)).

```bash
python -m train.imdb_flax --workdir runs/imdb \\
    --config.num_train_steps=2000 --config.eval_every_steps=500
```

`tests/test_imdb_flax.py` runs both over a small local `imdb_reviews`
stand-in with the real dataset's features, for two seeds and schedules, and
checks the native program against real Trax's run of the cells: the initial
weights bit for bit, every train and eval batch read, in the same order,
the logged loss and accuracy within 2e-6, the trained Dense weights within
2e-6 and the example prediction; and against the same cells on trax_compat.
"""

SECTIONS = [
    Section("Data", """
Trax's `TFDS` is `tfds.load` of the split (`test` for evaluation: the
dataset has no `validation`), mapped to `(text, label)` pairs and repeated
forever; natively that is plain `tfds.load` and `tf.data`. The steps after
it stay Trax's (`trax_compat.data`), on purpose: the batches of the Trax run
are defined by Trax's subword tokenizer and by `Shuffle` and
`BucketByLength` drawing from NumPy's global generator *while the streams
are read*. `create_datasets` therefore reads in the notebook's order: the
raw example the notebook prints, the batch whose shapes it prints, the one
batch each of `TrainTask` and `EvalTask` read when they are built, and
NumPy seeded again where the `Loop` seeds it. With new data, a `tf.data` or
grain pipeline yielding the same dicts is the idiomatic choice (and gives
other batches).
""", trax=[Code(CELLS, "run", "# Cell 17.", "first_text, first_label"),
           Code(CELLS, "run", "# Cell 19.", "data_pipeline = trax.data.Serial(")],
        flax=[Code(PIPELINE, "_examples"), Code(PIPELINE, "_batches"),
              Code(PIPELINE, "create_datasets")]),
    Section("Model", """
`tl.Serial(Embedding, Mean, Dense)` becomes a Linen module with `nn.Embed`,
`jnp.mean` over all positions (padding included, as `tl.Mean`) and
`nn.Dense`; ids are clipped before the lookup, as Trax's `Embedding` does.
The model ends in `Dense`, so it returns scores (logits), not
log-probabilities. `initial_params` draws the weights with the keys Trax's
`Loop(random_seed=seed)` gives a three-layer `Serial`, so both runs start
from the same numbers.
""", trax=[Code(CELLS, "run", "# Cell 15.", "model = tl.Serial(")],
        flax=[Code(MODELS, "ImdbClassifier"), Code(MODELS, "initial_params")]),
    Section("Loss and metrics", """
`WeightedCategoryCrossEntropy` takes a log-softmax of the model's scores,
then the weighted mean; `WeightedCategoryAccuracy` compares the argmax.
Natively both are functions of the scores, labels and weights, collected
in CLU `metrics.Collection`s (averaged over steps and eval batches).
""", trax=[Code(CELLS, "run", "loss_layer="),
           Code(CELLS, "run", "metrics=[tl.WeightedCategoryCrossEntropy(),",
                "tl.WeightedCategoryAccuracy()]")],
        flax=[Code(TRAIN, "weighted_cross_entropy"),
              Code(TRAIN, "weighted_accuracy"),
              Code(TRAIN, "TrainMetrics"), Code(TRAIN, "EvalMetrics")]),
    Section("Optimizer and schedule", """
`trax.optimizers.Adam(0.01)` is Trax's Adam rule (eps outside the square
root, unscaled weight decay 1e-5, its bias-correction power), written as an
optax transformation in `train/trax_adam.py`; the rate is constant.
""", trax=[Code(CELLS, "run", "optimizer=trax.optimizers.Adam")],
        flax=[Code(ADAM, "trax_adam", "def update_fn", "return updates,"),
              Code(TRAIN, "create_train_state")]),
    Section("Loop", """
`TrainTask` + `Loop(...).run(n)` becomes a jitted `train_step` and a `for`
loop in `train_and_evaluate`, on Trax's schedule: evaluation at step 1 and
every `eval_every_steps` (the notebook's `n_steps_per_checkpoint=500`), the
train loss logged there being the mean since the previous report. Each
bucket's batch shape compiles its own step, in both.
""", trax=[Code(CELLS, "run", "train_task = training.TrainTask("),
           Code(CELLS, "run", "training_loop = training.Loop("),
           Code(CELLS, "run", "training_loop.run(")],
        flax=[Code(TRAIN, "train_step"),
              Code(TRAIN, "train_and_evaluate", "report_progress = ",
                   "checkpoints.save("),
              Code(CONFIG, "get_config", "# Loop:", "config.max_checkpoints")]),
    Section("Checkpoints", f"""
Trax's `Loop` writes its `output_dir` every `n_steps_per_checkpoint` steps;
natively an Orbax `CheckpointManager` saves the `TrainState` (params, Adam's
moments, step) under `<workdir>/checkpoints/<step>`, and a rerun resumes
from the newest one, reading past the batches the finished steps read.

To carry a Trax run's weights across, export them as Flax params with
`trax-compat convert OUTPUT_DIR params.msgpack --model "{MODEL_EXPR}"` (as
on the [sentiment page](sentiment.md#checkpoints)): the `Serial`'s layers
0 and 2 come out as `layers_0` and `layers_2`, this module's `embed` and
`dense`.
""", trax=[Code(CELLS, "run", "n_steps_per_checkpoint="),
           Code(CELLS, "run", "output_dir=str(output_dir),")],
        flax=[Code(TRAIN, "train_and_evaluate", "checkpoints = ",
                   "_skip_consumed_batches("),
              Code(TRAIN, "_skip_consumed_batches")]),
    Section("Evaluation", """
`EvalTask(metrics, n_eval_batches=20)` becomes a jitted `eval_step`
returning the batch's `EvalMetrics`, merged over the batches of the endless
eval stream (each evaluation continues where the last one stopped).
""", trax=[Code(CELLS, "run", "eval_task = training.EvalTask(")],
        flax=[Code(TRAIN, "eval_step"), Code(TRAIN, "evaluate")]),
    Section("Prediction", """
The notebook calls the trained model on the first review of the next eval
batch and prints `np.exp` of its output as "probabilities". The model has
no `LogSoftmax`, so these are `exp(logits)`, unnormalized; the native
`predict` returns the same numbers (take a softmax for probabilities).
""", trax=[Code(CELLS, "run", "# Cell 23.", "sentiment_log_probs = ")],
        flax=[Code(TRAIN, "predict"),
              Code(MAIN, "main", "example_input = next(",
                   "print(f\"Model returned")]),
]

PAGE = Page("imdb.md", "Migrating the intro's IMDB classifier to Flax",
            INTRO, SECTIONS, trax_title="Trax (the notebook's cells)")
