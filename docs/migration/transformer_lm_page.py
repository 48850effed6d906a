"""A Transformer language model: the Trax way
(``tests/testdata/transformer_lm_cells.py``, run on trax_compat by the
tests) next to the native program (``train/transformer_lm_flax/``)."""

from docs.migration.build import Code, Page, Section

CELLS = "tests/testdata/transformer_lm_cells.py"
TEST = "tests/test_transformer_lm_flax.py"
NATIVE = "train/transformer_lm_flax/"
PIPELINE = NATIVE + "input_pipeline.py"
VOCAB = NATIVE + "vocab.py"
MODELS = NATIVE + "models.py"
TRAIN = NATIVE + "train.py"
MAIN = NATIVE + "main.py"
CONFIG = NATIVE + "configs/default.py"
ADAM = "train/trax_adam.py"

INTRO = """
A decoder-only Transformer (`trax.models.TransformerLM`) trained as a
language model on a local text file, one example per line, tokenized with
Trax's `en_8k.subword` vocabulary: the model of Trax's Transformer and NMT
tutorials, trained with `TrainTask` / `EvalTask` / `Loop`, `Adam` under
the `multifactor` schedule, then sampled greedily.

* The Trax code below is `tests/testdata/transformer_lm_cells.py`, a
  function of a `trax` module: the tests run it on trax_compat as the twin
  of the native program.
* `train/transformer_lm_flax/` is the native program, laid out as the Flax
  examples are (`configs/default.py`, `input_pipeline.py`, `models.py`,
  `train.py` with `train_and_evaluate(config, workdir)`): the Flax
  `TransformerLM` of `models/transformer.py` (which computes Trax's), a
  `TrainState`, optax, CLU's `metrics`, `metric_writers` and
  `periodic_actions`, an Orbax `CheckpointManager`, an `ml_collections`
  config. It imports nothing of trax_compat.

```bash
python -m train.transformer_lm_flax --workdir runs/lm \\
    --config.num_train_steps=2000 --config.eval_every_steps=100
```

Without `--config.train_file`/`--config.eval_file` it trains on the
project's synthetic tweets (`train/corpus.py`), written to
`<workdir>/data/`.

`tests/test_transformer_lm_flax.py` runs both on the same text files with a
tiny model (d_model 16, one layer, batches of 3 lines of 24 tokens, dropout
0) for 6 steps and checks: the same batches, read in the same order; the
same initial weights (the twin's, converted); the logged train and eval
losses and eval accuracy within 1e-6 at step 1 and 2e-5 after it (float32
sums in another order, magnified by Adam's small eps where gradients are
tiny), the trained weights within 3e-5; a resumed run equal to a straight
one bit for bit; and the same greedy sample after training. It also checks
both against real Trax's run of the same function
(`tests/testdata/trax_oracle/transformer_lm_flax/`): the same batches (for
two more pipeline settings too), the twin's initial weights bit for bit
(but for one ulp in one of the 8192 output-bias draws: JAX versions), the
logged metrics within the same tolerances (seen: 7e-6) and the same greedy
sample.
"""

SECTIONS = [
    Section("Data", """
Trax's pipeline is `Tokenize -> AppendValue (EOS) -> FilterByLength ->
PadToLength -> Batch -> AddLossWeights(id_to_mask=0)` over `(text, text)`
pairs. Natively it is a generator over the file's lines with a small
reader of the `.subword` vocabulary (`vocab.py`: t2t's word split, escaping
and greedy longest-subtoken match, ~100 lines, checked against
trax_compat's tokenizer), producing the same arrays, dtypes included. The
first batch of each stream is dropped, because Trax's `TrainTask` and
`EvalTask` each read one when they are built. There is no `Shuffle`: the
corpus is in random order already, and a shuffle would have to copy Trax's
draws from NumPy's global generator to give the same batches. A `tf.data`
or grain pipeline yielding the same dicts would do as well; for files this
size it only adds TensorFlow.
""", trax=[Code(CELLS, "text_lines"), Code(CELLS, "pipeline"),
           Code(CELLS, "run", "# Data.", "eval_stream = _tapped(")],
        flax=[Code(VOCAB, "SubwordVocab.encode"),
              Code(PIPELINE, "text_lines"), Code(PIPELINE, "batches"),
              Code(PIPELINE, "create_datasets")]),
    Section("Model", """
`trax.models.TransformerLM(vocab_size, d_model, d_ff, n_layers, n_heads,
max_len, dropout)` becomes `models.transformer.TransformerLM` with a
`TransformerConfig` of the same names: pre-LayerNorm blocks, Trax's
trainable sinusoidal positions, the input shifted right, logits out. Fresh
weights come from a jitted `model.init` (Trax's distributions, other
draws); to start where a Trax model starts, its weights are converted
(see [Checkpoints](#checkpoints)). Dropout masks come from another
generator than Trax's, so runs compared number for number use dropout 0.
""", trax=[Code(CELLS, "model_kwargs"),
           Code(CELLS, "run", "# Model.", "model = trax.models")],
        flax=[Code(MODELS, "create_model"), Code(MODELS, "initial_params")]),
    Section("Loss and metrics", """
`WeightedCategoryCrossEntropy` is a log-softmax of the logits and the
weighted mean of the targets' negative log-probs, padding weighted 0;
`WeightedCategoryAccuracy` compares the argmax. Natively both are
functions of logits, targets and weights, collected in CLU
`metrics.Collection`s (averaged over steps and eval batches).
""", trax=[Code(CELLS, "run", "loss_layer="),
           Code(CELLS, "run", "metrics=[tl.WeightedCategoryCrossEntropy(),",
                "tl.WeightedCategoryAccuracy()]")],
        flax=[Code(TRAIN, "weighted_cross_entropy"),
              Code(TRAIN, "weighted_accuracy"),
              Code(TRAIN, "TrainMetrics"), Code(TRAIN, "EvalMetrics")]),
    Section("Optimizer and schedule", """
`trax.optimizers.Adam()` is Trax's Adam rule (eps outside the square root,
unscaled weight decay 1e-5, its bias-correction power) as an optax
transformation (`train/trax_adam.py`), and `trax.lr.multifactor(constant,
warmup_steps)` (`constant * linear_warmup * rsqrt_decay`) an optax schedule.
optax calls a schedule with the number of updates done (0 first); Trax's
Loop asks for the rate of step 1 first, hence the `count + 1`.
""", trax=[Code(CELLS, "run", "optimizer=trax.optimizers.Adam()",
                "warmup_steps=hp[")],
        flax=[Code(TRAIN, "multifactor_schedule"),
              Code(TRAIN, "_optimizer"), Code(TRAIN, "create_train_state")]),
    Section("Loop", """
`TrainTask` + `Loop(...).run(n)` becomes a jitted `train_step` and a `for`
loop in `train_and_evaluate`, on Trax's schedule: evaluation at step 1 and
every `eval_every_steps` (Trax's `n_steps_per_checkpoint`), the train loss
logged there the mean since the previous report.
""", trax=[Code(CELLS, "run", "train_task = training.TrainTask("),
           Code(CELLS, "run", "training_loop = training.Loop("),
           Code(CELLS, "run", "training_loop.run(")],
        flax=[Code(TRAIN, "train_step"),
              Code(TRAIN, "train_and_evaluate", "report_progress = ",
                   "checkpoints.save("),
              Code(CONFIG, "get_config", "# Loop:", "config.max_checkpoints")]),
    Section("Checkpoints", """
Trax's `Loop` writes its `output_dir` every `n_steps_per_checkpoint`
steps; natively an Orbax `CheckpointManager` saves the `TrainState`
(params, Adam's moments, step) under `<workdir>/checkpoints/<step>`, and a
rerun restores the newest one into the state's abstract shapes (no
initialization) and reads past the batches the finished steps read.

A Trax model's weights move across with `models/convert_transformer.py`:
`params_from_trax_weights(model.weights, flax_model)` for a model in memory
(as the test does below), or
`params_from_trax_weights(read_trax_weights('OUTPUT_DIR/model.weights.npy.gz'),
flax_model)` for a real Trax checkpoint; pass the result as
`train_and_evaluate(config, workdir, initial_params=params['params'])`.
""", trax=[Code(CELLS, "run", "output_dir=str(output_dir),")],
        flax=[Code(TRAIN, "train_and_evaluate", "checkpoints = ",
                   "state = create_train_state("),
              Code(TRAIN, "_on_device"),
              Code(TEST, "_initial_params")]),
    Section("Evaluation", """
`EvalTask(metrics, n_eval_batches)` becomes a jitted `eval_step` returning
the batch's `EvalMetrics`, merged over the batches of the endless eval
stream (each evaluation continues where the last one stopped).
""", trax=[Code(CELLS, "run", "eval_task = training.EvalTask(")],
        flax=[Code(TRAIN, "eval_step"), Code(TRAIN, "evaluate")]),
    Section("Prediction", """
Trax builds the model again in `'predict'` mode, loads the checkpoint and
calls `decoding.autoregressive_sample` at temperature 0. Natively
`decode_lm` of `models/transformer.py` does the same with the model's
`decode=True` variant: one jitted step per token with keys and values in
Flax's `cache` collection, from the start id 0, stopping at `max_length`
tokens or once every row has produced EOS (1).
""", trax=[Code(CELLS, "run", "# Prediction:", "max_length=hp[")],
        flax=[Code(TRAIN, "sample"),
              Code(MAIN, "main", "tokens = train.sample(",
                   "print(f\"greedy sample")]),
]

PAGE = Page("transformer_lm.md",
            "Migrating a Transformer language model to Flax", INTRO,
            SECTIONS, trax_title="Trax (run on trax_compat by the tests)")
