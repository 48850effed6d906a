"""Trax's Deep N-Gram tutorial: its notebook cells, as the tests execute
them on trax_compat (``tests/testdata/trax_oracle/deep_ngram/cells.json``)
next to the native program (``train/deep_ngram_flax/``)."""

from docs.migration.build import Cell, Code, Page, Section

CELLS = "tests/testdata/trax_oracle/deep_ngram/cells.json"
NATIVE = "train/deep_ngram_flax/"
PIPELINE = NATIVE + "input_pipeline.py"
MODELS = NATIVE + "models.py"
TRAIN = NATIVE + "train.py"
MAIN = NATIVE + "main.py"
CONFIG = NATIVE + "configs/default.py"
ADAM = "train/trax_adam.py"

INTRO = """
Trax's `trax/examples/Deep_N_Gram_Models.ipynb` trains character-level
language models on lines of text: each line becomes its characters' code
points plus an end id, padded to 64; the models are
`tl.Serial(ShiftRight, Embedding, 5 x GRU or LSTM, Dense, LogSoftmax)`;
`Adam(0.0005)`, `CrossEntropyLoss`, and a `TrainTask` / `EvalTask` / `Loop`
that evaluates one batch and checkpoints at every step. (The tutorial's
third model, SRU, is left out here.)

* The Trax code below is the notebook's cells, verbatim, as stored in
  `tests/testdata/trax_oracle/deep_ngram/cells.json`;
  `tests/test_deep_ngram_tutorial.py` runs the whole notebook on
  trax_compat against real Trax's printout, and
  `tests/test_deep_ngram_flax.py` executes its data, model and
  `train_model` cells on trax_compat as this program's twin.
* `train/deep_ngram_flax/` is the native program, laid out as the Flax
  examples are (`configs/default.py`, `input_pipeline.py`, `models.py`,
  `train.py` with `train_and_evaluate(config, workdir)`): plain Python and
  NumPy batches, Linen cells with Trax's equations, a `TrainState`, optax,
  CLU's `metrics`, `metric_writers` and `periodic_actions`, an Orbax
  `CheckpointManager`, an `ml_collections` config. It imports nothing from
  trax_compat.

```bash
python -m train.deep_ngram_flax --workdir runs/gru --config.data_dir TEXTS
python -m train.deep_ngram_flax --workdir runs/lstm --config.data_dir TEXTS \\
    --config.cell=lstm
```

`tests/test_deep_ngram_flax.py` runs the native program, the tutorial's
data, model and `train_model` cells on trax_compat (its twin), and checks
both against real Trax's run of the same cells
(`tests/testdata/generate_deep_ngram_flax.py`), on a synthetic corpus with
tiny GRU and LSTM models (two seeds, odd batch sizes, 2 and 3 layers, 5
steps each, both data streams reshuffled within the run). Made repeatable:
the `Loop` gets a `random_seed` and Python's generator is seeded first
(the tutorial leaves both to the clock), folders are listed sorted.
Checked: every batch read, in order, equal to real Trax's; real Trax's
initial weights, converted, compute the twin's outputs (within 2e-6);
every logged train loss, eval loss and eval accuracy within 3e-6 of real
Trax's log (3 ulps seen) and 2e-6 of the twin's; and a run stopped at
step 3 and resumed ends where a straight run ends, bit for bit.
"""

SECTIONS = [
    Section("Data", """
The tutorial reads every non-blank line of Kaggle's input folders
(in the file system's order; the native program sorts the names, so a
run reads the lines in one order on every machine), lowercases it,
holds out the last 1000 lines, and batches with a generator that shuffles line indices with Python's *global* `random`
(unseeded) at the first read and at every pass, skipping lines of
`max_length` characters or more. The native pipeline is the same
algorithm over one `random.Random(data_seed)` shared by both streams,
read in the order the Trax run reads Python's generator: the tutorial's
layer constructors draw from it too (every Trax layer takes a seed when
built), so `create_datasets` makes those draws where `train_model` makes
them: three for `CrossEntropyLoss()` before the train shuffle (the
`TrainTask` reads one batch when built), six for the eval metrics before
the eval shuffle, then the `Loop`'s reseeding and its six layers. With
that, the batches are real Trax's, array for array. Batches are dicts
(`inputs`, `targets`, `weights`) as in the Flax examples; `targets` are
the inputs (the model shifts them itself) and `weights` is the mask.
""", trax=[Cell(CELLS, 3), Cell(CELLS, 4), Cell(CELLS, 5), Cell(CELLS, 6),
           Cell(CELLS, 12),
           Cell(CELLS, 13, "bare_train_generator =",
                "infinite_eval_generator =")],
        flax=[Code(PIPELINE, "read_lines"), Code(PIPELINE, "line_to_ids"),
              Code(PIPELINE, "_batches"), Code(PIPELINE, "create_datasets"),
              Code(PIPELINE, "_draw_as_trax_layers")]),
    Section("Model", """
`ShiftRight` becomes a pad-and-slice, `Embedding` an `nn.Embed` (ids
clipped first, as Trax does), each `GRU` / `LSTM` an `nn.RNN` over a cell
written here, `Dense` and `LogSoftmax` their Linen/JAX equivalents.
Flax's own cells are not used: `nn.GRUCell` applies the reset gate after
the hidden state's matrix product (Trax applies it before), so it computes
other numbers; `nn.LSTMCell` computes Trax's LSTM but with eight matrices
where Trax has one. The cells here keep Trax's equations and weight layout
(one kernel over `[x, h]`; the LSTM's bias starts at 1, Trax's forget bias
added to the whole vector), so `params_from_trax_weights` loads a Trax
model's weights as they are: the test builds the twin's model, converts
its initial weights and trains from them.
""", trax=[Cell(CELLS, 7), Cell(CELLS, 8), Cell(CELLS, 10, "GRUmodel =",
                                                "LSTMmodel =")],
        flax=[Code(MODELS, "GRUCell"), Code(MODELS, "LSTMCell"),
              Code(MODELS, "RNNLM"),
              Code(MODELS, "params_from_trax_weights")]),
    Section("Loss and metrics", """
Trax's `CrossEntropyLoss` does not normalize: it expects
log-probabilities (the model ends in `LogSoftmax`) and takes the weighted
mean of the targets' negatives; `Accuracy` is the weighted mean of
`argmax == target`. The batch's mask is the weight in both (the
generator's third output), so padding does not count. Natively both are
functions of the log-probabilities, targets and weights, collected in CLU
`metrics.Collection`s.
""", trax=[Cell(CELLS, 13, "loss_layer="),
           Cell(CELLS, 13, "metrics=[")],
        flax=[Code(TRAIN, "cross_entropy"), Code(TRAIN, "accuracy"),
              Code(TRAIN, "TrainMetrics"), Code(TRAIN, "EvalMetrics")]),
    Section("Optimizer and schedule", """
`trax.optimizers.Adam(0.0005)` is Trax's Adam rule (eps outside the square
root, unscaled weight decay 1e-5, its bias-correction power), written as an
optax transformation in `train/trax_adam.py`; `optax.adamw` is close but
logs other numbers. The rate is constant.
""", trax=[Cell(CELLS, 13, "optimizer=trax.optimizers.Adam")],
        flax=[Code(ADAM, "trax_adam", "def update_fn", "return updates,"),
              Code(TRAIN, "create_train_state"),
              Code(CONFIG, "get_config", "# Optimizer:",
                   "config.weight_decay_rate")]),
    Section("Loop", """
`TrainTask` + `Loop(...).run(n_steps)` becomes a jitted `train_step` and a
`for` loop in `train_and_evaluate`, on Trax's schedule:
`n_steps_per_checkpoint=1` means evaluating (and checkpointing) at every
step; the train loss logged at a step is the mean since the previous
report. The tutorial's `train_model(GRUmodel, ...)` and
`train_model(LSTMmodel, ...)` are two runs with `--config.cell=gru` and
`--config.cell=lstm`.
""", trax=[Cell(CELLS, 13, "train_task = training.TrainTask(", ")"),
           Cell(CELLS, 13, "training_loop = training.Loop(",
                "training_loop.run("),
           Cell(CELLS, 14), Cell(CELLS, 15)],
        flax=[Code(TRAIN, "train_step"),
              Code(TRAIN, "train_and_evaluate", "report_progress = ",
                   "checkpoints.save("),
              Code(CONFIG, "get_config", "# Loop:", "config.max_checkpoints")]),
    Section("Checkpoints", """
Trax's `Loop` writes `output_dir` (`model/GRU`, `model/LSTM`) at every
checkpoint step; natively an Orbax `CheckpointManager` saves the
`TrainState` (params, Adam's moments, step) under
`<workdir>/checkpoints/<step>`, and a rerun resumes from the newest one,
reading past the batches the finished steps read (the shuffles depend on
every read), so a resumed run continues exactly as an uninterrupted one.

To carry a trained Trax model across, load it once with trax_compat
(`model = GRULM(n_layers=5)`, then
`model.init_from_file('model/GRU/model.pkl.gz', weights_only=True)`) and
pass `model.weights` to `models.params_from_trax_weights(weights,
config)`, which takes Trax's weights in layer order; save the result with
Orbax, or pass it as `train_and_evaluate(..., initial_params=...)`.
""", trax=[Cell(CELLS, 13, "n_steps_per_checkpoint="),
           Cell(CELLS, 13, "output_dir = output_dir")],
        flax=[Code(TRAIN, "train_and_evaluate", "checkpoints = ",
                   "_skip_consumed_batches("),
              Code(TRAIN, "_skip_consumed_batches")]),
    Section("Evaluation", """
`EvalTask(metrics, n_eval_batches=1)` becomes a jitted `eval_step`
returning the batch's `EvalMetrics`, merged over `num_eval_batches`
batches of the endless eval stream (each evaluation continues where the
last one stopped).
""", trax=[Cell(CELLS, 13, "eval_task = training.EvalTask(", ")")],
        flax=[Code(TRAIN, "eval_step"), Code(TRAIN, "evaluate")]),
    Section("Prediction", """
The tutorial stops after training. In Trax, writing text with the model
would mean rebuilding it with `mode='predict'` (its `ShiftRight` then
passes inputs through and the recurrent layers keep their state between
calls). The native `sample` needs no second model: the model is causal, so
it reruns it on a fixed-size buffer (one compile), reading the
distribution at the next position, until the end id.
""", trax=[Cell(CELLS, 7, "tl.ShiftRight(mode=mode)")],
        flax=[Code(TRAIN, "sample"), Code(TRAIN, "_next_id"),
              Code(MAIN, "main", "text = train.sample(", "print(")]),
]

PAGE = Page("deep_ngram.md", "Migrating the Deep N-Gram tutorial to Flax",
            INTRO, SECTIONS, trax_title="Trax (the notebook's cells)")
