"""Trax's NMT tutorial: the Trax way (``tests/testdata/nmt_cells.py``, run
on trax_compat by the tests) next to the native program
(``train/nmt_flax/``)."""

from docs.migration.build import Code, Page, Section

CELLS = "tests/testdata/nmt_cells.py"
TEST = "tests/test_nmt_flax.py"
NATIVE = "train/nmt_flax/"
PIPELINE = NATIVE + "input_pipeline.py"
MODELS = NATIVE + "models.py"
TRAIN = NATIVE + "train.py"
MAIN = NATIVE + "main.py"
CONFIG = NATIVE + "configs/default.py"
LM_TRAIN = "train/transformer_lm_flax/train.py"

INTRO = """
Trax's NMT tutorial trains the encoder-decoder `trax.models.Transformer`
on `TFDS('wmt14_translate/de-en', keys=('en', 'de'))`, tokenized with a
subword vocabulary, shuffled, filtered and bucketed by length, with
`TrainTask` (`WeightedCategoryCrossEntropy`, `Adam(0.01)`,
`warmup_and_rsqrt_decay`), an `EvalTask` (weighted loss and accuracy) and
`Loop`, then translates a sentence with `autoregressive_sample`.

* The Trax code below is `tests/testdata/nmt_cells.py`, the tutorial as a
  function of a `trax` module on a local parallel text (nothing
  downloads): the tests run it on trax_compat as the twin of the native
  program. It adds two lines to the tutorial: `np.random.seed(seed)`
  before the streams are read (Trax's `Shuffle` draws from NumPy's global
  generator) and the end id appended to both sides (so that a translation
  ends).
* `train/nmt_flax/` is the native program, laid out as the Flax examples
  are (`configs/default.py`, `input_pipeline.py`, `models.py`, `train.py`
  with `train_and_evaluate(config, workdir)`): the Flax `Transformer` of
  `models/transformer.py` (which computes Trax's), a `TrainState`, optax,
  CLU's `metrics`, `metric_writers` and `periodic_actions`, an Orbax
  `CheckpointManager`, an `ml_collections` config. It shares the subword
  reader, loss, metrics and loop helpers of the Transformer LM program
  ([transformer_lm.md](transformer_lm.md)) and imports nothing of
  trax_compat.

```bash
python -m train.nmt_flax --workdir runs/nmt \\
    --config.num_train_steps=1000 --config.eval_every_steps=100
```

Without `--config.train_file`/`--config.eval_file` it trains on a
synthetic parallel text written to `<workdir>/data/`: the project's
synthetic tweets (`train/corpus.py`) as the source and, as the target, a
toy "German" made word by word with a small dictionary
(`input_pipeline.german_like`). Any `source<TAB>target` files will do.

`tests/test_nmt_flax.py` runs both on the same files with a tiny model
(d_model 16, one encoder and one decoder layer, pairs of at most 24
tokens, buckets of 3 and 2, dropout 0) for 6 steps and checks: the same
batches, read in the same order (and, for another setting with four
buckets, 60 batches of the tutorial's pipeline); the same initial weights
(the twin's, converted); the logged train and eval losses and eval
accuracy within 1e-6 at step 1 and 2e-5 after it (float32 sums in
another order, magnified by Adam's small eps where gradients are tiny),
the trained weights within 3e-5 (seen: step 1 equal, then up to 6.2e-6
and 2.1e-5); a resumed run equal to a straight one bit for bit; and the
same greedy translation after training (and the same tokens sampled at
temperature 1 from the same Gumbel draws). It also checks both against
real Trax's run of the same function
(`tests/testdata/trax_oracle/nmt_flax/`): the same batches (for two more
pipeline settings too), the twin's initial weights, the logged metrics
within the same tolerances, the trained weights' sums and both
translations.
"""

SECTIONS = [
    Section("Data", """
The tutorial's pipeline is `Tokenize -> Shuffle -> FilterByLength ->
BucketByLength -> AddLossWeights(id_to_mask=0)` over `(en, de)` pairs
(here with `AppendValue` for the end id). Natively it is a chain of
generators over the file's pairs, with the LM program's reader of the
`.subword` vocabulary, producing the same arrays, dtypes included:

* the shuffle is Trax's queue (emit a random slot, refill it) drawing from
  a `np.random.RandomState` of the program's, seeded as the twin seeds
  NumPy's global one; the two streams share it, as Trax's share the
  global generator, and read in the same order;
* a bucket pads each side to its boundary, or to the next power of two of
  its longest row when that is under half the boundary (Trax's
  `pad_to_max_dims`), so a batch's shape is one of a few per bucket: the
  jitted steps compile once per shape;
* the first batch of each stream is dropped, because Trax's `TrainTask`
  and `EvalTask` each read one when they are built, and the generator is
  seeded again then, as `Loop(random_seed=...)` seeds NumPy.

A `tf.data` pipeline (`bucket_by_sequence_length`) batches alike but
cannot repeat Trax's shuffle draw for draw; for files this size it only
adds TensorFlow.
""", trax=[Code(CELLS, "tsv_pairs"), Code(CELLS, "pipeline"),
           Code(CELLS, "run", "# Data.", "eval_stream = _tapped(")],
        flax=[Code(PIPELINE, "parallel_lines"), Code(PIPELINE, "tokenized"),
              Code(PIPELINE, "shuffled"), Code(PIPELINE, "padded_length"),
              Code(PIPELINE, "bucketed"), Code(PIPELINE, "batches"),
              Code(PIPELINE, "create_datasets", "rng = ")]),
    Section("Model", """
`trax.models.Transformer(input_vocab_size, d_model, d_ff,
n_encoder_layers, n_decoder_layers, n_heads, max_len, dropout)` becomes
`models.transformer.Transformer` with a `TransformerConfig` of the same
names: one embedding shared by source and target (no
`output_vocab_size`), pre-LayerNorm blocks, Trax's trainable sinusoidal
positions, the targets shifted right for the decoder, logits out. Trax's
model also returns the targets, which its loss layer reads next to the
logits; the Flax model returns the logits and the loss reads the batch.
""", trax=[Code(CELLS, "model_kwargs"),
           Code(CELLS, "run", "# Model.", "model = trax.models")],
        flax=[Code(MODELS, "create_model"), Code(MODELS, "initial_params")]),
    Section("Loss and metrics", """
The same functions and CLU collections as the Transformer LM program's:
a log-softmax and the weighted mean of the targets' negative log-probs,
the weighted argmax accuracy, padding weighted 0.
""", trax=[Code(CELLS, "run", "loss_layer="),
           Code(CELLS, "run", "metrics=[tl.WeightedCategoryCrossEntropy(),",
                "tl.WeightedCategoryAccuracy()]")],
        flax=[Code(LM_TRAIN, "weighted_cross_entropy"),
              Code(LM_TRAIN, "weighted_accuracy"),
              Code(TRAIN, "eval_step")]),
    Section("Optimizer and schedule", """
`trax.optimizers.Adam(0.01)` is Trax's Adam rule as an optax transformation
(`train/trax_adam.py`; its 0.01 is overridden by the schedule, as in
Trax). `trax.lr.warmup_and_rsqrt_decay(n_warmup_steps, max_value)` is a
linear rise to `max_value` at step `n_warmup_steps + 1`, then `max_value *
sqrt(t0 / step)`: an optax schedule of the update count (from 0), hence
the `count + 1`. Trax computes it in Python floats, the schedule here in
float32 under jit (within an ulp or two).
""", trax=[Code(CELLS, "run", "optimizer=trax.optimizers.Adam(0.01)",
                "hp[\"warmup_steps\"]")],
        flax=[Code(TRAIN, "warmup_and_rsqrt_decay"),
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
rerun restores the newest one into the state's abstract shapes and reads
past the batches the finished steps read (drawing the shuffle's numbers
again).

A Trax `Transformer`'s weights move across with
`models/convert_transformer.py`: `params_from_trax_weights(model.weights,
flax_model)` for a model in memory (as the test does below), or
`params_from_trax_weights(read_trax_weights('OUTPUT_DIR/model.pkl.gz'),
flax_model)` for a Trax checkpoint file; pass the result as
`train_and_evaluate(config, workdir, initial_params=params['params'])`.
""", trax=[Code(CELLS, "run", "output_dir=str(output_dir),")],
        flax=[Code(TRAIN, "train_and_evaluate", "checkpoints = ",
                   "state = create_train_state("),
              Code(TEST, "_initial_params")]),
    Section("Evaluation", """
`EvalTask(metrics, n_eval_batches)` becomes the jitted `eval_step` above,
merged over the batches of the endless eval stream (each evaluation
continues where the last one stopped).
""", trax=[Code(CELLS, "run", "eval_task = training.EvalTask(")],
        flax=[Code(TRAIN, "evaluate")]),
    Section("Prediction", """
Trax builds the model again in `'predict'` mode, loads the trained
weights and calls `decoding.autoregressive_sample` with the tokenized
sentence at temperature 0. Natively `decode_transformer` of
`models/transformer.py` runs the encoder once and then one jitted decoder
step per token of the model's `decode=True` variant (keys and values in
Flax's `cache` collection), from the start id 0, until the end id (1) or
`max_length` tokens; `rng=np.random.RandomState(seed)` with a temperature
samples Trax's tokens from the same Gumbel draws.
""", trax=[Code(CELLS, "run", "# Translation:", "max_length=hp[")],
        flax=[Code(TRAIN, "translate"),
              Code(MAIN, "main", "_, text = train.translate(",
                   "print(f\"greedy translation")]),
]

PAGE = Page("nmt.md", "Migrating Trax's NMT tutorial (a Transformer "
            "translator) to Flax", INTRO, SECTIONS,
            trax_title="Trax (run on trax_compat by the tests)")
