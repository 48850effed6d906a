"""The early-stopping tutorial's migration page: the tutorial's code as its
trax_compat twin runs it (``tests/test_earlystopping_tutorial.py``, checked
against real Trax) next to the native program
(``train/earlystopping_flax/``)."""

from docs.migration.build import Code, Page, Section

TWIN = "tests/test_earlystopping_tutorial.py"
NATIVE = "train/earlystopping_flax/"
PIPELINE = NATIVE + "input_pipeline.py"
MODELS = NATIVE + "models.py"
TRAIN = NATIVE + "train.py"
CONFIG = NATIVE + "configs/default.py"

INTRO = """
Trax's early-stopping tutorial (`trax/examples/earlystopping.ipynb`) fits
`y = 2x - 1` with `tl.Serial(tl.Dense(1))`, `L2Loss` and `SGD(0.01)`,
evaluating every 10 steps on 15 batches of the training stream itself. It
subclasses `training.Loop` so that, after each eval, a callback can stop
training once the eval loss stops improving by more than `min_delta`, and
restore the best checkpoint.

* The Trax code below is the tutorial's, as `tests/test_earlystopping_tutorial.py`
  runs it on trax_compat against real Trax's runs of it.
* `train/earlystopping_flax/` is the native program: optax's SGD,
  `flax.training.early_stopping.EarlyStopping`, an Orbax
  `CheckpointManager` that keeps the best checkpoint by its eval loss
  (`best_fn`), CLU metrics and writers, an `ml_collections` config.

```bash
python -c "from train.earlystopping_flax import train; \\
from train.earlystopping_flax.configs import default; \\
print(train.train_and_evaluate(default.get_config(), 'runs/es').best_step)"
```

`tests/test_earlystopping_flax.py` checks the native program against real
Trax's two runs (the tutorial's `min_delta=1e-4` with patience 1, and
patience 10 for 400 steps): the same initial weights bit for bit, the same
batches, every logged train and eval loss within 1e-5, the stop at step 190
and step 180's weights restored, and the run that never stops.
"""

SECTIONS = [
    Section("Data", """
The tutorial's generator draws each `x` from NumPy's global generator;
`trax.data.Batch(50)` and `AddLossWeights` stack 50 of them and add
weights. The native pipeline is the same generator, yielding the stacked
batch dict directly. One stream serves training and evaluation in both. The
Trax `Loop` seeds NumPy when it is built; the native program seeds it at the
same point, after the model's initialization.
""", trax=[Code(TWIN, "linear_examples"), Code(TWIN, "build_tasks")],
        flax=[Code(PIPELINE, "linear_batches"),
              Code(TRAIN, "train_and_evaluate", "# Trax's Loop seeds NumPy",
                   "batches = ")]),
    Section("Model", """
`tl.Serial(tl.Dense(1))` is one `nn.Dense(1)` with Trax's initializers
(`models/sentiment.py`); its initial parameters are drawn with the keys
Trax's `Loop(random_seed=0)` derives, so both runs start alike.
""", trax=[Code(TWIN, "run_tutorial", "model = tl.Serial(")],
        flax=[Code(MODELS, "LinearModel"), Code(MODELS, "initial_params")]),
    Section("Loss and metrics", """
`tl.L2Loss()` is the weighted mean of squared errors; natively a function,
averaged over steps and batches by a CLU `metrics.Average`.
""", trax=[Code(TWIN, "build_tasks", "train_task = ",
                "optimizer=trax.optimizers.SGD")],
        flax=[Code(TRAIN, "l2_loss"), Code(TRAIN, "Metrics")]),
    Section("Optimizer and schedule", """
`trax.optimizers.SGD(0.01)` is `optax.sgd(0.01)` (Trax's SGD has no weight
decay or momentum); the rate is constant.
""", trax=[Code(TWIN, "build_tasks", "optimizer=trax.optimizers.SGD")],
        flax=[Code(TRAIN, "create_train_state")]),
    Section("Loop", """
The tutorial copies Trax's `Loop.run` body into a subclass to be able to
break out of it. Natively the loop is the program's own `for` loop, so
stopping is a `break`: `EarlyStopping.update(eval_loss)` after each eval,
then `should_stop`. Trax's callback stops once `patience` evals in a row
did not improve (it treats 0 as 1); Flax's once *more than* `patience` did,
hence `patience - 1`. `has_improved` uses the same test as the callback
(the best loss lowered by more than `min_delta`).
""", trax=[Code(TWIN, "BreakingLoop.run"),
           Code(TWIN, "early_stopper", "def after_evals_recorded",
                "return None")],
        flax=[Code(TRAIN, "train_and_evaluate", "# Trax's callback stops",
                   "break")]),
    Section("Checkpoints", """
The callback saves a `best_checkpoint` at every improvement and loads it
when it stops. An Orbax `CheckpointManager` does that bookkeeping itself:
each save carries the eval loss, `best_fn` ranks the checkpoints by it and
`max_to_keep=1` keeps only the best; `best_step()` names it for `restore`.
(Real Trax's tutorial restores nothing here: it passes the checkpoint's file
path where Trax expects a folder. trax_compat and the native program restore
the best step, which is what the tutorial means.) To bring trained Trax
weights across, `trax-compat convert output_dir/model.pkl.gz params.msgpack
--model "tl.Serial(tl.Dense(1))"` writes them as Flax params
(`layers_0/kernel`, `layers_0/bias`); put them under this model's `dense`.
""", trax=[Code(TWIN, "early_stopper", "if better(value - shift",
                "loop.save_checkpoint(\"best_checkpoint\")"),
           Code(TWIN, "early_stopper", "if restore_best_checkpoint:",
                "loop.load_checkpoint(self.best_checkpoint_path)")],
        flax=[Code(TRAIN, "train_and_evaluate", "checkpoints = ",
                   "create=True))"),
              Code(TRAIN, "train_and_evaluate", "if stopper.has_improved",
                   "metrics={\"eval_loss\": eval_loss})"),
              Code(TRAIN, "train_and_evaluate", "best_step = ",
                   "args=ocp.args.StandardRestore(state))")]),
    Section("Evaluation", """
`EvalTask(stream, [tl.L2Loss()], n_eval_batches=15)` reads 15 batches of the
training stream; `evaluate` does the same with a jitted `eval_step`.
""", trax=[Code(TWIN, "build_tasks", "eval_task = ")],
        flax=[Code(TRAIN, "eval_step"), Code(TRAIN, "evaluate")]),
    Section("Prediction", """
`model(test_data)` after the run becomes a jitted `apply_fn` with the
restored params.
""", trax=[Code(TWIN, "run_tutorial", "predictions = ")],
        flax=[Code(TRAIN, "predict")]),
]

PAGE = Page("earlystopping.md",
            "Migrating the early-stopping tutorial to Flax", INTRO, SECTIONS)
