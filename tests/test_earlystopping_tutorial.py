"""Trax's early-stopping tutorial (``trax/examples/earlystopping.ipynb``) on
trax_compat, checked against what real Trax did with it.

The tutorial subclasses ``training.Loop``: its ``run`` re-implements Trax's
loop body through the Loop's internals (``_run_one_step``, ``_which_task``,
``_log_step``, ``_log_training_progress``, ``_checkpoint_at``,
``_permanent_checkpoint_at``, ``_eval_at``, ``_at_lowest``/``_at_highest``,
``_open_summary_writers``, ``_n_devices``, ``_tasks``, ``_callbacks``, ...)
and, after each eval, asks an early-stopping callback whether to break out.
The subclass and the callback below are written for this test (not the
notebook's text) and behave like the notebook's; the oracle is
``tests/testdata/trax_oracle/earlystopping/earlystopping.json.gz``, written
by ``tests/testdata/generate_earlystopping.py`` with real Trax (see its
docstring and tests/testdata/README.md).

One difference is intended. When the callback stops training it calls
``loop.load_checkpoint(<output_dir>/best_checkpoint.pkl.gz)``. Real Trax
takes that file path for a directory, finds no
``best_checkpoint.pkl.gz/model.pkl.gz`` and restores nothing: its model
keeps the last step's weights. trax_compat reads the path as the named
checkpoint ``best_checkpoint`` and restores it, as Trax's
``load_checkpoint(output_dir, 'best_checkpoint')`` does: the best step's
weights, and with them (as in Trax) the step counter and the history of
that checkpoint. So after the stop our Loop equals Trax's Loop *after* the
generator loaded that checkpoint the right way (``best_checkpoint`` in the
oracle), and until the stop it equals Trax's run line by line. The two
lines the tutorial prints after the restore are labeled with the step the
Loop is at: the best step for us, the stop step for Trax.

The tutorial's two configurations: run ``a`` (``min_delta=1e-4``, patience
1) stops at step 190 and restores step 180; run ``b`` (``patience=10``)
runs 400 steps here instead of the notebook's 1500 (it would stop at step
1110; too slow for a unit test, see the generator), never stops and so
checks the tutorial's other branch, a run to the end.
"""

import collections
import contextlib
import functools
import gzip
import io
import json
import os
import re
import time

import numpy as np
import pytest

import trax_compat as trax
from trax_compat import fastmath
from trax_compat import layers as tl
from trax_compat.fastmath import numpy as jnp
from trax_compat.supervised import callbacks as callbacks_lib
from trax_compat.supervised import checkpoints
from trax_compat.supervised import history as history_lib
from trax_compat.supervised import training

from conftest import ORACLE, oracle_array, require_shared

# Precision. Ours and Trax's float32 runs differ by rounding only, and not
# by one ulp: Trax's step-1 loss and weights are several ulps off the
# correctly rounded values (float64 gives 365.6597840 and w = 0.50862684;
# ours prints 365.65979004 and has 0.5086268, Trax 365.65975952 and
# 0.50862616: its float32 reductions round more), and SGD's first update
# cancels (w goes from -1.61 to 0.51), so the weights of the two runs stay
# some 1e-7 apart (measured: at most 4.4e-7 of their scale). Near
# convergence the L2 loss is a mean of squares of residuals of order 0.1
# to 0.01, whose relative error is that 1e-7 over the residual. Measured
# here: losses up to 3.1e-6 relative apart (run b, step 310), mean gradient
# norms 5.5e-6; over the notebook's full run b (1110 steps, see the
# generator) 5.2e-6 and 1.3e-5. The tolerances are about twice the latter.
RTOL = 1e-5  # losses and metrics: stdout, history
GRADIENT_RTOL = 2.5e-5  # training/gradients_l2 in the history
WEIGHTS_RTOL = 1e-5  # weights and predictions, relative to their scale


@functools.lru_cache(maxsize=None)
def _oracle():
    require_shared()
    path = ORACLE / "earlystopping" / "earlystopping.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return json.load(f)


# -- the tutorial, rewritten ---------------------------------------------------

def linear_examples():
    """Endless ``(x, 2x - 1)`` pairs, ``x`` a random integer in 1..9."""
    while True:
        x = float(np.random.randint(low=1, high=10))
        yield np.array([x]), np.array([2.0 * x - 1.0])


class _Accumulator:
    """The train loss and optimizer metrics summed since the last report."""

    def __init__(self):
        self.restart()

    def restart(self):
        self.loss, self.n_steps = 0.0, 0
        self.metrics = collections.defaultdict(float)
        self.start = time.time()

    def add(self, loss, metrics):
        self.loss += loss
        self.n_steps += 1
        for name, value in metrics.items():
            self.metrics[name] += value


class BreakingLoop(training.Loop):
    """A Loop whose ``run`` is Trax's loop body with an early-stopping exit
    (the tutorial's ``MyLoop``, in other words)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._stop_training = False

    def _train_one(self, acc):
        previous = self._which_task(self._step)
        self._step += 1
        task_index = self._which_task(self._step)
        changed = task_index != previous
        if changed:
            acc.loss, acc.n_steps = 0.0, 0
        loss, metrics = self._run_one_step(task_index, changed)
        metrics, loss = fastmath.nested_map(
            functools.partial(tl.mean_or_pmean, self._n_devices),
            (metrics, loss))
        if self._step % 50 == 0 or self._use_memory_efficient_trainer:
            self._log_step("Loss: %.4f" % loss, stdout=False)
        acc.add(loss, metrics)
        return task_index

    def _special_checkpoints(self):
        for metric, at_best, prefix in (
                (self._checkpoint_low_metric, self._at_lowest, "lowest"),
                (self._checkpoint_high_metric, self._at_highest, "highest")):
            if metric is not None and at_best():
                self.save_checkpoint(f"{prefix}_{metric}")

    def run(self, n_steps=1):
        with self._open_summary_writers() as (train_writers, eval_writers):
            acc = _Accumulator()
            best_step = None
            for _ in range(n_steps):
                task_index = self._train_one(acc)
                step = self.step
                if self._checkpoint_at(step):
                    self.save_checkpoint("model")
                if self._permanent_checkpoint_at(step):
                    self.save_checkpoint(f"model_{step}")
                if self._eval_at(step):
                    self._log_training_progress(
                        task=self._tasks[task_index], total_loss=acc.loss,
                        n_steps=acc.n_steps,
                        elapsed_time=time.time() - acc.start,
                        optimizer_metrics=acc.metrics,
                        summary_writer=train_writers[task_index])
                    self.run_evals(eval_writers)
                    acc.restart()
                if self._checkpoint_at(step):
                    self._special_checkpoints()
                for callback in self._callbacks:
                    if callback.call_at(step) and hasattr(
                            callback, "after_evals_recorded"):
                        best_step = callback.after_evals_recorded(step)
                        if not self._stop_training and step == n_steps:
                            self._log_step(
                                "Did not meet early stopping condition.")
                if self._stop_training:
                    self._log_step(f"Early stopping...  the best step at "
                                   f"{best_step}")
                    break
        self._eval_model.weights = self._model.weights


def early_stopper(monitor, min_delta=0.0, patience=0, mode="auto",
                  restore_best_checkpoint=True):
    """A callback class for ``BreakingLoop``, configured like the
    tutorial's ``callback_earlystopper`` (same float32 comparisons)."""
    if mode == "auto":
        mode = "max" if monitor.endswith("Accuracy") else "min"
    better = jnp.greater if mode == "max" else jnp.less
    # An improvement is beyond ``best`` by more than min_delta.
    shift = jnp.abs(min_delta) * (1 if mode == "max" else -1)

    class StopWhenStale:

        def __init__(self, loop):
            self._loop = loop
            self.patience = jnp.maximum(patience, 1)
            self.best = -jnp.inf if mode == "max" else jnp.inf
            self.best_step, self.stopped_step = 1, 1
            self.n_stale = 0
            self.best_checkpoint_path = None

        def call_at(self, step):
            return self._loop._eval_at(step)

        def on_step_begin(self, step):
            names = [name for task in self._loop._eval_tasks
                     for name in task.metric_names]
            if monitor not in names:
                raise SystemExit("Monitoring metric not found.")

        def on_step_end(self, step):
            pass

        def after_evals_recorded(self, step):
            loop = self._loop
            if restore_best_checkpoint and self.best_checkpoint_path is None:
                loop.save_checkpoint("best_checkpoint")
                self.best_checkpoint_path = os.path.join(
                    loop._output_dir, "best_checkpoint.pkl.gz")
            self.n_stale += 1
            eval_step, value = loop.history.get(
                "eval", f"metrics/{monitor}")[-1]
            if better(value - shift, self.best):
                self.best, self.best_step, self.n_stale = (
                    value, eval_step, 0)
                loop.save_checkpoint("best_checkpoint")
            if self.n_stale >= self.patience and step > 1:
                self.stopped_step = eval_step
                loop._stop_training = True
                # For the test: what the Loop held when it stopped. (Its
                # train state: our ``loop.model.weights`` is brought up to
                # date only when ``run`` returns, where Trax's follows
                # every step.)
                self.weights_at_stop = loop.model.weights_from_params(
                    loop.train_state.params)
                self.history_at_stop = history_lib.History.from_dict(
                    loop.history.to_dict())
                if restore_best_checkpoint:
                    # As the tutorial: the path of Trax's checkpoint file.
                    loop.load_checkpoint(self.best_checkpoint_path)
                    loop._log_step(f"Best checkpoint was restored from Step "
                                   f"{self.best_step}.")
                return self.best_step
            return None

    return StopWhenStale


def build_tasks(oracle):
    """The stream and tasks as the tutorial builds them (one stream for
    training and evaluation), after seeding NumPy as the generator did."""
    np.random.seed(oracle["data_seed"])
    examples = linear_examples()
    first = next(examples)  # The tutorial prints one example.
    pipeline = trax.data.Serial(trax.data.Batch(50),
                                trax.data.AddLossWeights())
    stream = pipeline(examples)
    train_task = training.TrainTask(
        labeled_data=stream, loss_layer=tl.L2Loss(),
        optimizer=trax.optimizers.SGD(0.01), n_steps_per_checkpoint=10)
    eval_task = training.EvalTask(labeled_data=stream, metrics=[tl.L2Loss()],
                                  n_eval_batches=15)
    return first, stream, train_task, eval_task


def run_tutorial(oracle, root, names=("a", "b")):
    """Both runs of the tutorial on trax_compat, as the generator ran them."""
    first, stream, train_task, eval_task = build_tasks(oracle)
    results = {"first": first, "stream": stream,
               "sample_batches": (train_task.sample_batch,
                                  eval_task.sample_batch)}
    for name in names:
        kwargs = oracle["runs"][name]["callback_kwargs"]
        model = tl.Serial(tl.Dense(1))
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            loop = BreakingLoop(
                model=model, tasks=train_task, eval_tasks=[eval_task],
                output_dir=str(root / f"linear_model_{name}"),
                callbacks=[early_stopper(**kwargs)],
                random_seed=oracle["loop_seed"])
            initial = [np.asarray(w) for w in
                       fastmath.tree_leaves(model.weights)]
            start = time.time()
            loop.run(oracle["runs"][name]["n_steps"])
            seconds = time.time() - start
        predictions = np.asarray(model(np.array(oracle["test_data"])))
        checkpoint_dir = os.path.join(loop.output_dir, "checkpoints")
        results[name] = dict(
            loop=loop, model=model, stdout=out.getvalue(), initial=initial,
            seconds=seconds, predictions=predictions,
            last_checkpoint_step=loop.last_checkpoint_step,
            checkpoints=sorted(os.listdir(checkpoint_dir)))
        loop.close()
    return results


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory):
    return run_tutorial(_oracle(), tmp_path_factory.mktemp("earlystopping"))


# -- comparison helpers --------------------------------------------------------

_TIMING = re.compile(r"Ran (\d+) train steps in [0-9.]+ secs")
_VALUE = re.compile(r"^(Step +\d+: (?:train|eval ) +\S+ \|) +(\S+)$")


def _lines(text):
    """Stdout lines with timings masked, and ``| value`` lines split into
    (text, value)."""
    out = []
    for line in text.splitlines():
        line = _TIMING.sub(r"Ran \1 train steps in <secs> secs", line)
        match = _VALUE.match(line)
        out.append((match.group(1), float(match.group(2))) if match
                   else (line, None))
    return out


def assert_same_lines(ours, theirs):
    ours, theirs = _lines(ours), _lines(theirs)
    assert [t for t, _ in ours] == [t for t, _ in theirs]
    for (text, a), (_, b) in zip(ours, theirs):
        if b is not None:
            # The log prints 8 decimals: equal up to RTOL or that rounding.
            assert a == pytest.approx(b, rel=RTOL, abs=1.5e-8), text


def assert_same_history(history, recorded):
    ours = {}
    for mode in history.modes:
        for metric in history.metrics_for_mode(mode):
            if metric != "training/steps per second":
                ours[f"{mode}/{metric}"] = history.get(mode, metric)
    assert sorted(ours) == sorted(recorded)
    for key, values in recorded.items():
        steps = [s for s, _ in ours[key]]
        assert steps == [s for s, _ in values], key
        rtol = GRADIENT_RTOL if key.endswith("gradients_l2") else RTOL
        np.testing.assert_allclose([float(v) for _, v in ours[key]],
                                   [v for _, v in values], rtol=rtol,
                                   err_msg=key)


def assert_weights(weights, recorded):
    flat = [np.asarray(w) for w in fastmath.tree_leaves(weights)]
    assert len(flat) == len(recorded)
    for ours, theirs in zip(flat, recorded):
        theirs = oracle_array(theirs)
        assert ours.shape == theirs.shape
        scale = float(np.max(np.abs(theirs)))
        np.testing.assert_allclose(ours, theirs, rtol=0,
                                   atol=WEIGHTS_RTOL * scale)


def assert_predictions(ours, recorded):
    theirs = oracle_array(recorded)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=WEIGHTS_RTOL
                               * float(np.max(np.abs(theirs))))


def _expected_lines(run):
    """Trax's stdout of ``run`` as our Loop prints it. Without an early
    stop, the same. With one, the same up to the stop; then the two closing
    lines carry the restored step (the best one) as their label, after the
    blank line our step log writes where the step label changes."""
    if not run["stop_training"]:
        return run["stdout"]
    lines = run["stdout"].splitlines()
    index = next(i for i, line in enumerate(lines)
                 if "Best checkpoint was restored" in line)
    old = "Step %6d:" % run["stopped_step"]
    new = "Step %6d:" % run["best_step"]
    tail = lines[index:]
    assert len(tail) == 2 and all(line.startswith(old) for line in tail)
    return "\n".join(lines[:index] + [""]
                     + [line.replace(old, new, 1) for line in tail]) + "\n"


# -- what real Trax did, and ours with it ---------------------------------------

def _eval_losses(history):
    return history.get("eval", "metrics/L2Loss")


def test_second_run_repeats_the_first_until_its_stop(tutorial):
    """The second Loop reseeds NumPy, so run ``b`` draws run ``a``'s stream
    and weights again; without a stop it restores nothing."""
    runs = _oracle()["runs"]
    a, b = runs["a"], runs["b"]
    assert (a["n_steps"], a["stop_training"], a["stopped_step"],
            a["best_step"]) == (1500, True, 190, 180)
    assert (b["n_steps"], b["stop_training"], b["step"]) == (400, False, 400)
    # In Trax...
    assert b["initial_weights"] == a["initial_weights"]
    evals = a["history"]["eval/metrics/L2Loss"]
    assert b["history"]["eval/metrics/L2Loss"][:len(evals)] == evals
    # ...and in ours, to the bit: both are our Loop's computations.
    for ours_a, ours_b in zip(tutorial["a"]["initial"],
                              tutorial["b"]["initial"]):
        np.testing.assert_array_equal(ours_a, ours_b, strict=True)
    evals = _eval_losses(tutorial["a"]["loop"]._callbacks[0].history_at_stop)
    assert len(evals) == 20  # steps 1, 10, ..., 190
    assert _eval_losses(tutorial["b"]["loop"].history)[:len(evals)] == evals
    # Run b's model holds the last step's weights, those of its rolling
    # checkpoint; its best checkpoint is the best step's.
    out = tutorial["b"]["loop"].output_dir
    params, _ = checkpoints.load_model_params(out)
    assert_same_leaves(tutorial["b"]["model"], params)
    best = checkpoints.restore_named(
        os.path.join(checkpoints.checkpoint_dir(out), "best_checkpoint"),
        None)
    assert best.step == tutorial["b"]["loop"]._callbacks[0].best_step


def test_the_restore_reads_the_named_checkpoint(tutorial):
    """In real Trax the tutorial's restore is a no-op: the path it passes
    is a file, Trax looks for ``<that file>/model.pkl.gz``. Ours reads
    ``best_checkpoint.pkl.gz`` as the checkpoint ``best_checkpoint``."""
    run = _oracle()["runs"]["a"]
    assert run["step"] == run["stopped_step"]
    assert run["restore_messages"][-1] == (
        "Not loading as checkpoint file does not exist: "
        "<output_dir>/best_checkpoint.pkl.gz/model.pkl.gz")
    assert run["weights_after_run"] == run["model_checkpoint"]["weights"]
    assert run["best_checkpoint"]["step"] == run["best_step"] < run["step"]
    # Ours: the Loop left the stop step for the best one, with that
    # checkpoint's weights (not those it stopped with) and history.
    loop = tutorial["a"]["loop"]
    callback = loop._callbacks[0]
    best = checkpoints.restore_named(
        os.path.join(checkpoints.checkpoint_dir(loop.output_dir),
                     "best_checkpoint"), None)
    assert loop.step == best.step == run["best_step"]
    assert_same_leaves(tutorial["a"]["model"], best.state["params"])
    with pytest.raises(AssertionError):
        assert_same_leaves(tutorial["a"]["model"], best.state["params"],
                           weights=callback.weights_at_stop)
    assert max(s for s, _ in _eval_losses(loop.history)) == run["best_step"]
    assert max(s for s, _ in _eval_losses(callback.history_at_stop)) == (
        run["stopped_step"])


def assert_same_leaves(model, params, weights=None):
    """``model``'s weights (or ``weights``) are the stored ``params``."""
    weights = model.weights if weights is None else weights
    ours = [np.asarray(w) for w in fastmath.tree_leaves(weights)]
    stored = [np.asarray(w) for w in fastmath.tree_leaves(
        model.weights_from_params(params))]
    assert len(ours) == len(stored) > 0
    for x, y in zip(ours, stored):
        np.testing.assert_array_equal(x, y)


# -- the tutorial on trax_compat --------------------------------------------------

def test_stream_and_initial_weights(tutorial):
    oracle = _oracle()
    for ours, theirs in zip(tutorial["first"], oracle["first_example"]):
        np.testing.assert_array_equal(ours, oracle_array(theirs), strict=True)
    for ours, theirs in zip(tutorial["sample_batches"],
                            (oracle["sample_batches"]["train"],
                             oracle["sample_batches"]["eval"])):
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(np.asarray(a), oracle_array(b))
    for name in ("a", "b"):
        for ours, theirs in zip(tutorial[name]["initial"],
                                oracle["runs"][name]["initial_weights"]):
            np.testing.assert_array_equal(ours, oracle_array(theirs))
    # Both runs pulled as many batches from the shared stream as Trax's.
    for ours, theirs in zip(next(tutorial["stream"]),
                            oracle["next_batch_after_runs"]):
        np.testing.assert_array_equal(np.asarray(ours), oracle_array(theirs))


@pytest.mark.parametrize("name", ["a", "b"])
def test_stdout(tutorial, name):
    assert_same_lines(tutorial[name]["stdout"],
                      _expected_lines(_oracle()["runs"][name]))


@pytest.mark.parametrize("name", ["a", "b"])
def test_stop_and_best_step(tutorial, name):
    run = _oracle()["runs"][name]
    result = tutorial[name]
    loop = result["loop"]
    callback = loop._callbacks[0]
    assert loop._stop_training == run["stop_training"]
    assert callback.stopped_step == run["stopped_step"]
    assert callback.best_step == run["best_step"]
    assert float(callback.best) == pytest.approx(run["best"], rel=RTOL)
    assert "best_checkpoint" in result["checkpoints"]
    # The rolling checkpoint of the last step trained, in both runs.
    assert result["last_checkpoint_step"] == run["step"]
    if run["stop_training"]:
        assert callback.stopped_step == run["step"]
        # The restore brought back the best step's counter, as Trax's
        # load_checkpoint(output_dir, 'best_checkpoint') does.
        assert loop.step == run["best_checkpoint"]["step"] == run["best_step"]
    else:
        assert loop.step == run["step"] == run["n_steps"]


@pytest.mark.parametrize("name", ["a", "b"])
def test_history(tutorial, name):
    run = _oracle()["runs"][name]
    loop = tutorial[name]["loop"]
    if run["stop_training"]:
        assert_same_history(loop._callbacks[0].history_at_stop,
                            run["history"])
        assert_same_history(loop.history, run["best_checkpoint"]["history"])
    else:
        assert_same_history(loop.history, run["history"])


@pytest.mark.parametrize("name", ["a", "b"])
def test_weights_and_predictions(tutorial, name):
    run = _oracle()["runs"][name]
    result = tutorial[name]
    if not run["stop_training"]:
        assert_weights(result["model"].weights, run["weights_after_run"])
        assert_weights(result["loop"].eval_model.weights,
                       run["weights_after_run"])
        assert_predictions(result["predictions"],
                           run["predictions_after_run"])
        return
    # Until the stop, the same training as Trax's...
    assert_weights(result["loop"]._callbacks[0].weights_at_stop,
                   run["weights_after_run"])
    # ...then ours restored the best step, where Trax kept the last one.
    best = run["best_checkpoint"]
    assert_weights(result["model"].weights, best["weights"])
    assert_weights(result["loop"].eval_model.weights, best["weights"])
    assert_predictions(result["predictions"], best["predictions"])
    # Trax's last-step predictions are not within that tolerance.
    theirs = oracle_array(best["predictions"])
    last = oracle_array(run["predictions_after_run"])
    assert np.max(np.abs(last - theirs)) > (
        10 * WEIGHTS_RTOL * np.max(np.abs(theirs)))


# -- our EarlyStopping callback on the same data ----------------------------------

def stale_steps(evals, patience, min_delta):
    """The eval steps at which ``EarlyStopping(mode='min')`` asks to stop,
    given ``(step, value)`` evals: a value improves when it is below the
    best so far by more than min_delta; a stop is due at every eval that
    makes more than ``patience`` evals in a row without improvement."""
    best, stale, steps = None, 0, []
    for step, value in evals:
        if best is None or value < best - min_delta:
            best, stale = value, 0
        else:
            stale += 1
            if stale > patience:
                steps.append(step)
    return steps


def test_our_early_stopping(tmp_path):
    oracle = _oracle()
    _, _, train_task, eval_task = build_tasks(oracle)
    stopper = callbacks_lib.EarlyStopping("L2Loss", mode="min", patience=0,
                                          min_delta=1e-4)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), training.Loop(
            tl.Serial(tl.Dense(1)), train_task, eval_tasks=[eval_task],
            output_dir=str(tmp_path / "model"), callbacks=[stopper],
            random_seed=oracle["loop_seed"]) as loop:
        loop.run(oracle["runs"]["a"]["n_steps"])
        # Trax's evals on the same data (the plain Loop trains as Trax's
        # does): the rule stops where the tutorial's first run stopped.
        trax_evals = oracle["runs"]["a"]["history"]["eval/metrics/L2Loss"]
        stop = stale_steps(trax_evals, patience=0, min_delta=1e-4)[0]
        assert stop == oracle["runs"]["a"]["stopped_step"]
        ours = loop.history.get("eval", "metrics/L2Loss")
        assert stale_steps(ours, patience=0, min_delta=1e-4) == [stop]
        assert loop.step == stopper.stopped_step == stop
        assert stopper.best_step == oracle["runs"]["a"]["best_step"]
        assert loop.last_checkpoint_step == stop
        assert "Stopping: early stopping: L2Loss" in out.getvalue()
        np.testing.assert_allclose([v for _, v in ours],
                                   [v for _, v in trax_evals], rtol=RTOL)
        # A second run trains on, the rule carrying on from the stop: it
        # ends at the next eval without improvement, or after 30 steps.
        loop.run(30)
        evals = loop.history.get("eval", "metrics/L2Loss")
        later = [s for s in stale_steps(evals, patience=0, min_delta=1e-4)
                 if s > stop]
        assert loop.step == min(later + [stop + 30]) > stop
        assert loop.last_checkpoint_step == loop.step
