"""Runs Trax's early-stopping tutorial (``trax/examples/earlystopping.ipynb``)
with the real Google Trax library and records what it did, for
``tests/test_earlystopping_tutorial.py``.

Run it with a Python environment where real Trax is installed (never this
project's; trax_compat is not imported here):

    python tests/testdata/generate_earlystopping.py [OUT_DIR]

It writes ``OUT_DIR/earlystopping.json.gz`` (default OUT_DIR:
``tests/testdata/trax_oracle/earlystopping``).

What it repeats, step by step as in the notebook:

* ``get_data_linear()``: an endless stream of ``(x, 2x - 1)`` with ``x`` a
  ``np.random.randint(1, 10)`` integer as float; the notebook prints one
  example (consumed here too); ``trax.data.Serial(trax.data.Batch(50),
  trax.data.AddLossWeights())`` over it, **one stream shared** by training
  and evaluation;
* one ``TrainTask(stream, tl.L2Loss(), trax.optimizers.SGD(0.01),
  n_steps_per_checkpoint=10)`` and one ``EvalTask(stream, [tl.L2Loss()],
  n_eval_batches=15)``, reused by both runs (as the notebook does);
* the notebook's ``MyLoop`` (a ``training.Loop`` subclass whose ``run``
  re-implements Trax's loop body, consults the early-stopping callback
  after each eval and breaks out) and its ``callback_earlystopper`` factory
  (a callback class that saves ``best_checkpoint`` whenever the monitored
  metric improves by more than ``min_delta`` and stops once ``patience``
  evals in a row have not improved), restated here with the same logic;
* run ``a``: ``callback_earlystopper(monitor='L2Loss', min_delta=1e-4)``
  (default patience 0, which the callback raises to 1), ``run(1500)``; run
  ``b``: ``patience=10, min_delta=1e-4``, ``run(400)``; each with a fresh
  ``tl.Serial(tl.Dense(1))`` and output folder;
* ``model_linear(test_data)`` with the notebook's
  ``test_data = [[2.], [3.], [10.], [44.]]`` (after each run here; the
  notebook does it after run ``b``).

Made deterministic (the notebook is not): ``np.random.seed(DATA_SEED)``
before the stream is built, and ``random_seed=LOOP_SEED`` for both Loops
(the notebook leaves ``random_seed=None``, so Trax seeds NumPy with a random
value and every run of the notebook differs). The Loop seeds NumPy's global
generator in its constructor, so from then on the stream is reproducible.

Fewer steps for run ``b``: the notebook runs 1500 steps there too. With
1500, real Trax stopped run ``b`` at step 1110 (best step 1010: once the
best loss is below ``min_delta`` nothing can improve on it by more than
``min_delta``), in 15-19 s here and more on trax_compat, whose Orbax
checkpoints (one at every eval step, one at every improvement) are slower
to write than Trax's pickles; too slow for a unit test. At 400 steps the
early stop does not trigger, so run ``b`` covers the tutorial's other
branch ("Did not meet early stopping condition.", printed when the last
step is an eval step) and run ``a`` the stop and restore (step 190, best
180).

Run ``b`` first repeats run ``a``: the second Loop reseeds NumPy with the
same seed, the stream (Trax's ``Batch`` keeps nothing between batches)
then yields the same examples, and the two models start from the same
weights; so run ``b``'s history up to step 190 is run ``a``'s.

Recorded for each run: the stdout (Trax's lines and the callback's; the
"Ran N train steps in S secs" timings vary), the final ``loop.step``, the
callback's ``best_step`` / ``stopped_step`` / ``best``, ``loop.history``
(without ``training/steps per second``), the weights and the predictions on
``test_data`` right after ``run``, the files in the output folder (event
file names masked), the Trax log messages about checkpoint loading, and the
weights/step/history of the ``best_checkpoint`` the callback saved, read
back with Trax's own ``Loop.load_checkpoint(output_dir, 'best_checkpoint')``
(on the same Loop, after everything else was recorded), with the
predictions of those weights.

What real Trax does with the tutorial's restore: the callback calls
``loop.load_checkpoint(best_checkpoint_path)`` with ``best_checkpoint_path =
<output_dir>/best_checkpoint.pkl.gz``, a *file*, as ``directory``. Trax's
``load_checkpoint`` appends ``filename or 'model'`` and ``.pkl.gz``, looks
for ``<output_dir>/best_checkpoint.pkl.gz/model.pkl.gz``, logs "Not loading
as checkpoint file does not exist" (to the Python log only) and returns: the
weights stay those of the last step, although the callback then prints "Best
checkpoint was restored from Step N". ``restore_messages`` records that log
line; ``weights_after_run`` are those of the last step (they equal the
rolling ``model`` checkpoint written at that step, ``model_checkpoint``).
"""

import collections
import functools
import gzip
import json
import logging as py_logging
import os
import platform
import random
import re
import shutil
import sys
import tempfile
import time

import numpy as np
import psutil

import trax
from trax import fastmath
from trax import layers as tl
from trax.fastmath import numpy as jnp
from trax.supervised import training

import absl.logging
import jax

import oracle_common  # this folder

DATA_SEED = 0
LOOP_SEED = 0
TEST_DATA = [[2.0], [3.0], [10.0], [44.0]]
# (callback arguments, steps): the notebook runs 1500 steps both times; run
# ``b`` runs 400 here (see the docstring).
CONFIGS = {
    "a": (dict(monitor="L2Loss", min_delta=1e-4), 1500),
    "b": (dict(monitor="L2Loss", patience=10, min_delta=1e-4), 400),
}


# -- the notebook's code, same logic ------------------------------------------

class MyLoop(training.Loop):
    """The tutorial's Loop: Trax's ``run`` body plus an early-stopping break."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._stop_training = False

    def run(self, n_steps=1):
        with self._open_summary_writers() as (train_writers, eval_writers):
            process = psutil.Process(os.getpid())
            loss_acc, step_acc = 0.0, 0
            start_time = time.time()
            optimizer_metrics_acc = collections.defaultdict(float)
            for _ in range(n_steps):
                prev_task_index = self._which_task(self._step)
                self._step += 1
                task_index = self._which_task(self._step)
                task_changed = task_index != prev_task_index
                if task_changed:
                    loss_acc, step_acc = 0.0, 0

                loss, optimizer_metrics = self._run_one_step(task_index,
                                                             task_changed)
                optimizer_metrics, loss = fastmath.nested_map(
                    functools.partial(tl.mean_or_pmean, self._n_devices),
                    (optimizer_metrics, loss))
                loss_acc += loss
                if self._step % 50 == 0 or self._use_memory_efficient_trainer:
                    self._log_step("Loss: %.4f" % loss, stdout=False)
                step_acc += 1
                for name, value in optimizer_metrics.items():
                    optimizer_metrics_acc[name] += value

                if self._checkpoint_at(self.step):
                    self.save_checkpoint("model")
                if self._permanent_checkpoint_at(self.step):
                    self.save_checkpoint(f"model_{self.step}")
                if self._eval_at(self.step):
                    absl.logging.info(
                        "cpu memory use (MB): %.2f",
                        process.memory_info().rss / float(1024 * 1024))
                    self._log_training_progress(
                        task=self._tasks[task_index],
                        total_loss=loss_acc,
                        n_steps=step_acc,
                        elapsed_time=time.time() - start_time,
                        optimizer_metrics=optimizer_metrics_acc,
                        summary_writer=train_writers[task_index])
                    self.run_evals(eval_writers)
                    loss_acc, step_acc = 0.0, 0
                    start_time = time.time()
                    optimizer_metrics_acc = collections.defaultdict(float)

                if self._checkpoint_at(self.step):
                    if (self._checkpoint_low_metric is not None
                            and self._at_lowest()):
                        self.save_checkpoint(
                            f"lowest_{self._checkpoint_low_metric}")
                    if (self._checkpoint_high_metric is not None
                            and self._at_highest()):
                        self.save_checkpoint(
                            f"highest_{self._checkpoint_high_metric}")

                for callback in self._callbacks:
                    if callback.call_at(self.step):
                        if type(callback).__name__ == "EarlyStopping":
                            # After the history has this step's evals.
                            best_step = callback.on_step_begin_with_history(
                                self.step)
                            if not self._stop_training and (
                                    self.step == n_steps):
                                self._log_step(
                                    "Did not meet early stopping condition.")

                if self._stop_training:
                    self._log_step(f"Early stopping...  the best step at "
                                   f"{best_step}")
                    break

        self._eval_model.weights = self._model.weights


def callback_earlystopper(monitor=None, min_delta=0, patience=0, mode="auto",
                          restore_best_checkpoint=True):
    """The tutorial's factory: returns an ``EarlyStopping`` callback class."""
    assert mode in ("auto", "max", "min")

    class EarlyStopping:

        def __init__(self, loop):
            self._loop = loop
            self.monitor = monitor
            self.min_delta = jnp.abs(min_delta)
            self.patience = jnp.maximum(patience, 1)
            self.restore_best_checkpoint = restore_best_checkpoint
            if mode == "min":
                self.monitor_op = jnp.less
            elif mode == "max":
                self.monitor_op = jnp.greater
            else:
                self.monitor_op = (jnp.greater
                                   if self.monitor.endswith("Accuracy")
                                   else jnp.less)
            if self.monitor_op == np.greater:
                self.min_delta *= 1
            else:
                self.min_delta *= -1
            self.wait = 0
            self.stopped_step = 1
            self.best = jnp.inf if self.monitor_op == jnp.less else -jnp.inf
            self.best_step = 1
            self.best_checkpoint_path = None

        def _is_metric_exist(self):
            names = [name for eval_task in self._loop._eval_tasks
                     for name in eval_task.metric_names]
            return self.monitor in names

        def call_at(self, step):
            return self._loop._eval_at(step)

        def on_step_begin(self, step):
            if not self._is_metric_exist():
                raise SystemExit("Monitoring metric not found.")

        def on_step_end(self, step):
            pass

        def on_step_begin_with_history(self, step):
            if self.restore_best_checkpoint and (
                    self.best_checkpoint_path is None):
                self._loop.save_checkpoint("best_checkpoint")
                self.best_checkpoint_path = os.path.join(
                    self._loop._output_dir, "best_checkpoint.pkl.gz")
            self.wait += 1
            current_step, current = self._get_monitor_value()
            if current is None:
                return None
            if self._is_improvement(current, self.best):
                self.best = current
                self.best_step = current_step
                self._loop.save_checkpoint("best_checkpoint")
                self.wait = 0
            if self.wait >= self.patience and step > 1:
                self.stopped_step = current_step
                self._loop._stop_training = True
                if self.restore_best_checkpoint and (
                        self.best_checkpoint_path is not None):
                    self._loop.load_checkpoint(self.best_checkpoint_path)
                    self._loop._log_step(
                        f"Best checkpoint was restored from Step "
                        f"{self.best_step}.")
                return self.best_step
            return None

        def _is_improvement(self, monitor_value, reference_value):
            return self.monitor_op(monitor_value - self.min_delta,
                                   reference_value)

        def _get_monitor_value(self):
            return self._loop.history.get("eval",
                                          "metrics/" + self.monitor)[-1]

    return EarlyStopping


def get_data_linear():
    while True:
        x = np.random.randint(low=1, high=10) * 1.0
        y = x * 2.0 - 1
        yield (np.array([x]), np.array([y]))


# -- recording -----------------------------------------------------------------

class _Messages(py_logging.Handler):
    def __init__(self):
        super().__init__(py_logging.INFO)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def _array(x):
    x = np.asarray(x)
    return {"shape": list(x.shape), "dtype": x.dtype.name,
            "data": x.tolist()}


def _weights(model):
    return [_array(w) for w in fastmath.tree_flatten(model.weights)]


def _history(history):
    out = {}
    for mode in history.modes:
        for metric in history.metrics_for_mode(mode):
            if metric == "training/steps per second":
                continue
            out[f"{mode}/{metric}"] = [[int(s), float(v)] for s, v in
                                       history.get(mode, metric)]
    return out


def _files(output_dir):
    names = []
    for root, _, files in os.walk(output_dir):
        for name in files:
            rel = os.path.relpath(os.path.join(root, name), output_dir)
            names.append(re.sub(r"events\.out\.tfevents\..*$",
                                "events.out.tfevents.*", rel))
    return sorted(names)


def _mask(text, output_dir):
    return text.replace(output_dir, "<output_dir>")


def run_config(name, callback_kwargs, n_steps, train_task, eval_task, root):
    output_dir = os.path.join(root, f"linear_model_{name}")
    shutil.rmtree(output_dir, ignore_errors=True)
    messages = _Messages()
    absl_logger = py_logging.getLogger("absl")
    absl_logger.addHandler(messages)
    old_level = absl_logger.level
    absl_logger.setLevel(py_logging.INFO)
    tee = oracle_common.Tee(sys.stdout)
    old_stdout, sys.stdout = sys.stdout, tee
    try:
        earlystopping = callback_earlystopper(**callback_kwargs)
        model_linear = tl.Serial(tl.Dense(1))
        loop = MyLoop(model=model_linear, tasks=train_task,
                      eval_tasks=[eval_task], output_dir=output_dir,
                      callbacks=[earlystopping], random_seed=LOOP_SEED)
        initial_weights = _weights(model_linear)
        start = time.time()
        loop.run(n_steps)
        seconds = time.time() - start
    finally:
        sys.stdout = old_stdout
        absl_logger.removeHandler(messages)
        absl_logger.setLevel(old_level)
    callback = loop._callbacks[0]
    record = {
        "callback_kwargs": callback_kwargs,
        "n_steps": n_steps,
        "stdout": _mask(tee.buffer_.getvalue(), output_dir),
        "run_seconds": seconds,
        "step": int(loop.step),
        "stop_training": bool(loop._stop_training),
        "best_step": int(callback.best_step),
        "stopped_step": int(callback.stopped_step),
        "best": float(callback.best),
        "history": _history(loop.history),
        "initial_weights": initial_weights,
        "weights_after_run": _weights(model_linear),
        "predictions_after_run": _array(
            model_linear(np.array(TEST_DATA))),
        "files": _files(output_dir),
        # Trax's log lines about loading (none is printed to stdout).
        "restore_messages": [_mask(m, output_dir) for m in messages.messages
                             if "loading" in m.lower()
                             or "loaded" in m.lower()],
        "n_best_checkpoint_saves": sum(
            m.startswith("Checkpoint saved in") and "best_checkpoint" in m
            for m in messages.messages),
    }
    # The rolling checkpoint of the last checkpoint step, read by a second
    # Loop (its seeding must not change the generators' state).
    py_state, np_state = random.getstate(), np.random.get_state()
    probe = MyLoop(model=tl.Serial(tl.Dense(1)), tasks=train_task,
                   eval_tasks=[eval_task], output_dir=None,
                   random_seed=LOOP_SEED)
    probe.load_checkpoint(output_dir, "model")
    random.setstate(py_state)
    np.random.set_state(np_state)
    record["model_checkpoint"] = {"step": int(probe.step),
                                  "weights": _weights(probe.model)}
    # The best checkpoint, read as Trax reads it when given the right names.
    loop.load_checkpoint(output_dir, "best_checkpoint")
    record["best_checkpoint"] = {
        "step": int(loop.step),
        "weights": _weights(loop.model),
        "history": _history(loop.history),
        "predictions": _array(loop.model(np.array(TEST_DATA))),
    }
    return record


def main(argv):
    out_dir = (argv[1] if len(argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "trax_oracle",
        "earlystopping"))
    os.makedirs(out_dir, exist_ok=True)
    np.random.seed(DATA_SEED)
    data_linear = get_data_linear()
    first_example = next(data_linear)
    print(first_example)
    data_pipeline = trax.data.Serial(trax.data.Batch(50),
                                     trax.data.AddLossWeights())
    data_stream = data_pipeline(data_linear)
    train_task = training.TrainTask(
        labeled_data=data_stream, loss_layer=tl.L2Loss(),
        optimizer=trax.optimizers.SGD(0.01), n_steps_per_checkpoint=10)
    eval_task = training.EvalTask(labeled_data=data_stream,
                                  metrics=[tl.L2Loss()], n_eval_batches=15)
    sample_batches = {"train": [_array(a) for a in train_task.sample_batch],
                      "eval": [_array(a) for a in eval_task.sample_batch]}
    runs = {}
    with tempfile.TemporaryDirectory() as root:
        for name, (kwargs, n_steps) in CONFIGS.items():
            runs[name] = run_config(name, kwargs, n_steps, train_task,
                                    eval_task, root)
    # The next batch the shared stream gives after both runs.
    next_batch = [_array(a) for a in next(data_stream)]
    record = {
        "env": {"trax_commit": oracle_common.trax_commit(), "python": platform.python_version(),
                "jax": jax.__version__, "numpy": np.__version__,
                "jax_enable_x64": bool(jax.config.jax_enable_x64),
                "backend": jax.default_backend()},
        "data_seed": DATA_SEED, "loop_seed": LOOP_SEED,
        "test_data": TEST_DATA,
        "first_example": [_array(a) for a in first_example],
        "sample_batches": sample_batches,
        "runs": runs,
        "next_batch_after_runs": next_batch,
    }
    path = os.path.join(out_dir, "earlystopping.json.gz")
    with gzip.GzipFile(path, "wb", mtime=0) as f:
        f.write(json.dumps(record, indent=None, sort_keys=True).encode())
    print(f"[generate_earlystopping] wrote {path}", file=sys.stderr)
    for name, run in runs.items():
        print(f"[generate_earlystopping] run {name}: step {run['step']}, "
              f"best step {run['best_step']}, {run['run_seconds']:.1f} s",
              file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv)
