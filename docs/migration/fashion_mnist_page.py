"""Trax's Fashion-MNIST tutorial: its cells as the tests run them on real
Trax and on trax_compat (``tests/testdata/fashion_mnist_flax_cells.py``)
next to the native program (``train/fashion_mnist_flax/``)."""

from docs.migration.build import Code, Page, Section

CELLS = "tests/testdata/fashion_mnist_flax_cells.py"
NATIVE = "train/fashion_mnist_flax/"
PIPELINE = NATIVE + "input_pipeline.py"
MODELS = NATIVE + "models.py"
TRAIN = NATIVE + "train.py"
MAIN = NATIVE + "main.py"
CONFIG = NATIVE + "configs/default.py"
ADAM = "train/trax_adam.py"

INTRO = """
Trax's `Fashion_MNIST_with_Trax.ipynb` trains a small CNN on Fashion-MNIST:
`trax.data.TFDS('fashion_mnist')`, `Shuffle` and `Batch(8)`; `ToFloat`, two
blocks of `Conv -> LayerNorm -> Relu -> MaxPool`, `Flatten`, `Dense(10)`;
`CategoryCrossEntropy`, `Adam(0.01)`; `TrainTask` / `EvalTask` / `Loop` for
1000 steps.

* The Trax code below is the notebook's cells, as
  `tests/testdata/fashion_mnist_flax_cells.py` runs them on real Trax (to
  record the reference runs) and on trax_compat, made reproducible: seeded
  NumPy and `Loop`, `TFDS(..., shuffle_train=False)`, fewer steps, and the
  `'jax'` backend for the reference runs (under the notebook's
  `'tensorflow-numpy'`, Trax draws its initial weights with TensorFlow's
  random ops, which no JAX program reproduces).
* `train/fashion_mnist_flax/` is the native program, laid out as the Flax
  examples are: `tfds.load` and NumPy for the data, a Linen CNN, a
  `TrainState`, optax, CLU's `metrics`, `metric_writers` and
  `periodic_actions`, an Orbax `CheckpointManager`, an `ml_collections`
  config. It uses no trax_compat API.

```bash
python -m train.fashion_mnist_flax --workdir runs/fashion \\
    --config.num_train_steps=1000
```

`tests/test_fashion_mnist_flax.py` runs both over a small local
`fashion_mnist` stand-in with the real dataset's features, for two seeds
and schedules, and checks the native program against real Trax's runs: the
initial weights (bit for bit, but for one-ulp differences in JAX's normal
sampler between versions), every train and eval batch read, in the same
order, the logged loss and accuracy within 2e-5 of their values, the
trained weights and the outputs on the next eval batch within 1e-4 of
their largest value (the tutorial's rate drives the losses into the
hundreds, which amplifies float rounding); and against trax_compat's build
of the same cells up to the `Loop` (its initial weights, the batches it
read, its model's outputs).
"""

SECTIONS = [
    Section("Data", """
Trax's `TFDS` is `tfds.load` of the split, mapped to `(image, label)` pairs
and repeated forever. `Shuffle()` is a streaming shuffle over a queue of
1024 examples drawing slots from NumPy's global generator, and `Batch(8)`
stacks 8 examples; the native pipeline writes both out in a few lines of
NumPy, so that after the same seed, and the same reads in the same order
(the batch the notebook prints, the one each of `TrainTask` and `EvalTask`
reads when built, NumPy seeded again where the `Loop` seeds it), it yields
the Trax run's batches. A `tf.data` shuffle would give other batches.
""", trax=[Code(CELLS, "run", "# Cell 3.", "eval_stream = "),
           Code(CELLS, "run", "# Cell 4.", "eval_batches_stream = ")],
        flax=[Code(PIPELINE, "_examples"), Code(PIPELINE, "shuffle"),
              Code(PIPELINE, "batch"), Code(PIPELINE, "create_datasets")]),
    Section("Model", """
Each Trax layer has a Linen counterpart: `ToFloat` is a cast (no
rescaling), `Conv(f, (3, 3), (1, 1), 'SAME')` is `nn.Conv` (same NHWC /
HWIO layout), `LayerNorm` is `nn.LayerNorm` over the channels with
epsilon 1e-6 and the variance computed as Trax does, and `MaxPool()` is a
2x2 window with **stride 1** (Trax's default), so 28x28 becomes 27x27, then
26x26. `initial_params` draws the weights with the keys Trax's
`Loop(random_seed=seed)` gives each layer of the 11-layer `Serial`, and
Trax's initializers (Glorot normal for `Conv`, Glorot uniform for `Dense`).
""", trax=[Code(CELLS, "run.get_model")],
        flax=[Code(MODELS, "CNN"), Code(MODELS, "glorot_normal_init"),
              Code(MODELS, "initial_params")]),
    Section("Loss and metrics", """
`CategoryCrossEntropy` and `CategoryAccuracy` (no weights) are the batch
means of the labels' negative log-softmax and of the argmax hits; natively
two functions, collected in CLU `metrics.Collection`s.
""", trax=[Code(CELLS, "run", "loss_layer="),
           Code(CELLS, "run", "metrics=[")],
        flax=[Code(TRAIN, "cross_entropy"), Code(TRAIN, "accuracy"),
              Code(TRAIN, "TrainMetrics"), Code(TRAIN, "EvalMetrics")]),
    Section("Optimizer and schedule", """
`trax.optimizers.Adam(0.01)` is Trax's Adam rule as an optax
transformation (`train/trax_adam.py`); the rate is constant. (With pixels
in 0..255 and this rate the tutorial's losses jump into the hundreds after
the first steps, in Trax as natively.)
""", trax=[Code(CELLS, "run", "optimizer=trax.optimizers.Adam")],
        flax=[Code(ADAM, "trax_adam", "def update_fn", "return updates,"),
              Code(TRAIN, "create_train_state")]),
    Section("Loop", """
`TrainTask` + `Loop(...).run(n)` becomes a jitted `train_step` and a `for`
loop on Trax's schedule: evaluation at step 1 and every
`eval_every_steps` (the notebook's `n_steps_per_checkpoint=100`), the
train loss logged there being the mean since the previous report.
""", trax=[Code(CELLS, "run", "training_loop = training.Loop("),
           Code(CELLS, "run", "training_loop.run(")],
        flax=[Code(TRAIN, "train_step"),
              Code(TRAIN, "train_and_evaluate", "report_progress = ",
                   "checkpoints.save("),
              Code(CONFIG, "get_config", "# Loop:", "config.max_checkpoints")]),
    Section("Checkpoints", """
Trax's `Loop` writes `./cnn_model` every `n_steps_per_checkpoint` steps;
natively an Orbax `CheckpointManager` saves the `TrainState` under
`<workdir>/checkpoints/<step>`, and a rerun resumes from the newest one,
reading past the batches the finished steps read. A Trax checkpoint's
weights come across with `trax-compat convert` (see the
[sentiment page](sentiment.md#checkpoints)).
""", trax=[Code(CELLS, "run", "n_steps_per_checkpoint="),
           Code(CELLS, "run", "output_dir=str(output_dir),")],
        flax=[Code(TRAIN, "train_and_evaluate", "checkpoints = ",
                   "_skip_consumed_batches("),
              Code(TRAIN, "_skip_consumed_batches")]),
    Section("Evaluation", """
`EvalTask(metrics, n_eval_batches=20)` becomes a jitted `eval_step`
returning the batch's `EvalMetrics`, merged over the batches of the endless
eval stream.
""", trax=[Code(CELLS, "run", "eval_task = training.EvalTask(")],
        flax=[Code(TRAIN, "eval_step"), Code(TRAIN, "evaluate")]),
    Section("Prediction", """
The notebook ends at the `Loop`; a trained Trax model is called as
`model(images)`, natively `apply_fn` with the trained params. The tests
compare both on the next eval batch.
""", trax=[Code(CELLS, "run", "images, _ = next(eval_batches_stream)",
                "outputs = model(images)")],
        flax=[Code(TRAIN, "predict"), Code(MAIN, "main")]),
]

PAGE = Page("fashion_mnist.md", "Migrating the Fashion-MNIST tutorial to Flax",
            INTRO, SECTIONS, trax_title="Trax (the notebook's cells)")
