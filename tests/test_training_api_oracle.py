"""The Loop against real Trax runs (tests/testdata/trax_oracle/training_api):
schedules with permanent and best-metric checkpoints, multi-task training,
callbacks, resuming with a new Loop, custom eval_at/checkpoint_at, and a
save/load round trip. Stdout, history, checkpoint names and steps, the order
batches are consumed in, and the weights must match (1e-6 relative).

Where we differ on purpose (each asserted below): our checkpoints are
written after the step's evals, so a resumed Loop keeps the checkpoint
step's history entries that Trax's loses; ``load_checkpoint`` accepts
``filename='custom.pkl.gz'`` (Trax silently looks for
``custom.pkl.gz.pkl.gz``).
"""

import contextlib
import io
import os
import re

import jax
import numpy as np
import pytest

import trax_compat as trax
from trax_compat import layers as tl
from trax_compat.supervised import training
from tests.conftest import ORACLE, load_oracle_json
from tests.testdata.oracle_common import (
    recording_callback as recording_callback_class)

ORACLE_DIR = ORACLE / "training_api"
TIMING = re.compile(r"Ran (\d+) train steps in [0-9.]+ secs")
RTOL = 1e-6


@pytest.fixture(scope="module")
def oracle():
    data = load_oracle_json(ORACLE_DIR / "training_api.json")
    arrays = np.load(ORACLE_DIR / "training_api.npz")
    return data, {k: arrays[k] for k in arrays.files}


class _Streams:
    """The oracle's streams, logging each pull as ``<name>@<loop.step>``."""

    def __init__(self, params):
        self._params = params
        self.loop = None
        self.consumption = []

    def make(self, name):
        seed = self._params["seeds"][name]
        batch = (self._params["train_batch"] if name.startswith("train")
                 else self._params["eval_batch"])
        w_true = self._params["w_true2" if name.endswith("2") else "w_true"]
        rng = np.random.default_rng(seed)
        w = np.asarray(w_true, dtype=np.float64)
        while True:
            x = rng.standard_normal((batch, 8)).astype(np.float32)
            y = (x.astype(np.float64) @ w > 0).astype(np.int64)
            self.consumption.append(
                f"{name}@{'construct' if self.loop is None else self.loop.step}")
            yield (x, y, np.ones((batch,), dtype=np.float32))


def _model():
    return tl.Serial(tl.Dense(16), tl.Relu(), tl.Dense(2), tl.LogSoftmax())


def _eval_task(streams, name="eval", names=None, n_batches=1):
    return training.EvalTask(
        streams.make(name), [tl.WeightedCategoryCrossEntropy(),
                             tl.WeightedCategoryAccuracy()],
        metric_names=names, n_eval_batches=n_batches)


def _quiet(fn, *args, **kwargs):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = fn(*args, **kwargs)
    return result, out.getvalue()


def _mask(stdout):
    return TIMING.sub(r"Ran \1 train steps in T secs", stdout)


VALUE = re.compile(r"\| ( ?-?[0-9]+\.[0-9]{8})$", re.M)


def _assert_stdout(ours, trax_stdout):
    """Same lines, the metric values within 1e-6 (ulp-level differences
    of float32 arithmetic show in the 8th decimal)."""
    ours, theirs = _mask(ours), _mask(trax_stdout)
    assert VALUE.sub("| V", ours) == VALUE.sub("| V", theirs)
    np.testing.assert_allclose(
        [float(v) for v in VALUE.findall(ours)],
        [float(v) for v in VALUE.findall(theirs)], rtol=RTOL, atol=1e-8)


def _history(loop):
    return {mode: {metric: [[s, float(v)] for s, v in
                            loop.history.get(mode, metric)]
                   for metric in loop.history.metrics_for_mode(mode)
                   if metric != "training/steps per second"}
            for mode in loop.history.modes}


def _assert_history(ours, trax_history):
    assert sorted(ours) == sorted(trax_history)
    for mode, metrics in trax_history.items():
        assert sorted(ours[mode]) == sorted(metrics), mode
        for metric, pairs in metrics.items():
            got = ours[mode][metric]
            assert [s for s, _ in got] == [s for s, _ in pairs], metric
            np.testing.assert_allclose([v for _, v in got],
                                       [v for _, v in pairs], rtol=RTOL,
                                       err_msg=f"{mode}/{metric}")


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


def _assert_weights(loop, arrays, prefix, layout):
    """The model's weights, in Trax's flat order, against the npz: within
    1e-6 relative, or 1e-5 of the array's largest entry (the initial
    weights are bitwise equal; the float32 forward pass may differ from
    Trax's XLA by an ulp, which Adam's division by sqrt(v) can magnify in
    a few entries over a dozen steps)."""
    leaves = _leaves(loop.model.weights)
    assert [list(x.shape) for x in leaves] == [shape for _, shape, _ in
                                               layout]
    for leaf, (path, _, _) in zip(leaves, layout):
        desired = arrays[f"{prefix}/{path}"]
        np.testing.assert_allclose(leaf, desired, rtol=RTOL,
                                   atol=1e-5 * np.abs(desired).max(),
                                   err_msg=path)


def _trax_checkpoints(files):
    """Basenames of the Trax checkpoints in an output_dir listing."""
    return sorted(f[:-len(".pkl.gz")] for f in files
                  if f.endswith(".pkl.gz") and "/" not in f)


def _our_checkpoints(output_dir):
    """Our checkpoint names: ``model`` for the numbered series, plus the
    named ones; with the step each holds."""
    from trax_compat.supervised import checkpoints  # pylint: disable=g-import-not-at-top
    folder = os.path.join(output_dir, checkpoints.CHECKPOINT_SUBDIR)
    steps = {}
    numbered = checkpoints.committed_steps(folder)
    if numbered:
        steps["model"] = numbered[-1]
    for name in os.listdir(folder):
        if not name.isdigit():
            steps[name] = checkpoints.restore_named(
                os.path.join(folder, name), None).step
    return steps


def _tensorboard_dirs(output_dir):
    found = set()
    for root, _, files in os.walk(output_dir):
        if any(f.startswith("events.out.tfevents.") for f in files):
            found.add(os.path.relpath(root, output_dir))
    return sorted(found)


def _trax_tensorboard_dirs(files):
    return sorted({f.rsplit("/", 1)[0] for f in files
                   if "/events.out.tfevents." in f})


def test_lr_schedule_with_permanent_and_best_checkpoints(oracle, tmp_path):
    data, arrays = oracle
    run, params = data["runs"]["a_lr_schedule"], data["params"]
    streams = _Streams(params)
    task = training.TrainTask(
        streams.make("train"), tl.WeightedCategoryCrossEntropy(),
        trax.optimizers.Adam(0.01),
        lr_schedule=trax.lr.multifactor(
            constant=0.05, factors="constant * linear_warmup * rsqrt_decay",
            warmup_steps=4),
        n_steps_per_checkpoint=5, n_steps_per_permanent_checkpoint=10)
    out = str(tmp_path / "a")
    loop, said = _quiet(
        training.Loop, _model(), task,
        eval_tasks=[_eval_task(streams, n_batches=2)], output_dir=out,
        checkpoint_high_metric="WeightedCategoryAccuracy", random_seed=1,
        optimizer_metrics_every_step=True)
    streams.loop = loop
    _assert_weights(loop, arrays, "a/init_weights", run["init_weights"])
    _, said_run = _quiet(loop.run, 20)
    loop.close()
    _assert_stdout(said + said_run, run["stdout"])
    assert loop.step == run["final_step"]
    _assert_history(_history(loop), run["history"])
    _assert_weights(loop, arrays, "a/final_weights", run["final_weights"])
    assert streams.consumption == run["consumption"]
    for step, value in run["learning_rate_by_step"]:
        assert task.learning_rate(step) == pytest.approx(value, rel=1e-12)
    # Trax's checkpoint names, each holding Trax's step.
    trax_steps = {k[:-len(".pkl.gz")]: v
                  for k, v in run["checkpoint_steps"].items()}
    assert _our_checkpoints(out) == trax_steps
    assert sorted(trax_steps) == _trax_checkpoints(run["output_dir_files"])
    assert _tensorboard_dirs(out) == _trax_tensorboard_dirs(
        run["output_dir_files"])


def test_the_schedule_is_what_the_optimizer_applied(oracle):
    """lr_schedule=0 freezes the weights (a stored-but-unused schedule
    would not), and the logged rate is the schedule's."""
    data, _ = oracle
    streams = _Streams(data["params"])
    task = training.TrainTask(streams.make("train"),
                              tl.WeightedCategoryCrossEntropy(),
                              trax.optimizers.SGD(0.1),
                              lr_schedule=lambda step: 0.0 if step < 3 else
                              0.5, n_steps_per_checkpoint=1)
    loop, _ = _quiet(training.Loop, _model(), task,
                     eval_tasks=[_eval_task(streams)], random_seed=1)
    before = _leaves(loop.model.weights)
    _quiet(loop.run, 2)
    after = _leaves(loop.model.weights)
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)
    _quiet(loop.run, 1)
    assert any(not np.array_equal(a, b) for a, b in
               zip(after, _leaves(loop.model.weights)))
    assert [v for _, v in loop.history.get(
        "train", "training/learning_rate")] == [0.0, 0.0, 0.5]
    # One compilation for every rate.
    assert loop._train_step._cache_size() == 1  # pylint: disable=protected-access


def _multitask_loop(streams, which_task, eval1_names, out):
    t0 = training.TrainTask(streams.make("train"),
                            tl.WeightedCategoryCrossEntropy(),
                            trax.optimizers.Adam(0.01),
                            n_steps_per_checkpoint=4)
    t1 = training.TrainTask(streams.make("train2"), tl.CrossEntropyLoss(),
                            trax.optimizers.Adam(0.02),
                            n_steps_per_checkpoint=4)
    e0 = _eval_task(streams)
    e1 = _eval_task(streams, "eval2", names=eval1_names)
    loop, said = _quiet(training.Loop, _model(), [t0, t1],
                        eval_tasks=[e0, e1], output_dir=out,
                        which_task=which_task, random_seed=1,
                        optimizer_metrics_every_step=True)
    streams.loop = loop
    return loop, said


@pytest.mark.parametrize("key,which_task,names", [
    ("b1_default_which_task", None, None),
    ("b2_which_task_lambda", lambda step: 0 if step < 6 else 1,
     ["CrossEntropy_2", "Accuracy_2"]),
])
def test_multitask(oracle, tmp_path, key, which_task, names):
    data, arrays = oracle
    run = data["runs"][key]
    streams = _Streams(data["params"])
    out = str(tmp_path / key)
    loop, said = _multitask_loop(streams, which_task, names, out)
    _, said_run = _quiet(loop.run, 12)
    loop.close()
    _assert_stdout(said + said_run, run["stdout"])
    _assert_history(_history(loop), run["history"])
    _assert_weights(loop, arrays, f"{key.split('_')[0]}/final_weights",
                    run["final_weights"])
    assert streams.consumption == run["consumption"]
    assert _tensorboard_dirs(out) == _trax_tensorboard_dirs(
        run["output_dir_files"])
    # One optimizer state per task (Trax's model.opt_slots0/1).
    assert len(loop.train_state.opt_state) == 2


def test_callbacks_run_in_trax_order(oracle, tmp_path):
    data, arrays = oracle
    run = data["runs"]["c_callbacks"]
    events = []
    recording_callback = recording_callback_class(
        trax.supervised.callbacks.TrainingStepCallback,
        lambda step: step % 3 == 0, events)

    streams = _Streams(data["params"])
    task = training.TrainTask(streams.make("train"),
                              tl.WeightedCategoryCrossEntropy(),
                              trax.optimizers.Adam(0.01),
                              n_steps_per_checkpoint=2)
    loop, said = _quiet(training.Loop, _model(), task,
                        eval_tasks=[_eval_task(streams)],
                        output_dir=str(tmp_path / "c"),
                        callbacks=[recording_callback], random_seed=1)
    streams.loop = loop
    _, said_run = _quiet(loop.run, 10)
    loop.close()
    assert events == run["events"]
    _assert_stdout(said + said_run, run["stdout"])
    _assert_weights(loop, arrays, "c/final_weights", run["final_weights"])


def _single_task_loop(streams, out, **kwargs):
    task = training.TrainTask(streams.make("train"),
                              tl.WeightedCategoryCrossEntropy(),
                              trax.optimizers.Adam(0.01),
                              **kwargs.pop("task_kwargs",
                                           {"n_steps_per_checkpoint": 4}))
    loop, said = _quiet(training.Loop, _model(), task,
                        eval_tasks=[_eval_task(streams)], output_dir=out,
                        random_seed=1, optimizer_metrics_every_step=True,
                        **kwargs)
    streams.loop = loop
    return loop, said


def test_a_new_loop_resumes_from_the_last_checkpoint(oracle, tmp_path):
    data, arrays = oracle
    run = data["runs"]["d_resume"]
    out = str(tmp_path / "d")
    first_streams = _Streams(data["params"])
    first, said = _single_task_loop(first_streams, out)
    _, said_run = _quiet(first.run, 10)
    first.close()
    _assert_stdout(said + said_run, run["first"]["stdout"])
    _assert_weights(first, arrays, "d/first/final_weights",
                    run["first"]["final_weights"])

    second_streams = _Streams(data["params"])
    second, said = _single_task_loop(second_streams, out)
    second_run = run["second"]
    assert said == second_run["stdout_constructor"]
    assert second.step == second_run["step_after_constructor"]
    _assert_weights(second, arrays, "d/second/weights_after_constructor",
                    run["first"]["final_weights"])
    # Ours keeps the checkpoint step's entries (written after its evals);
    # Trax's checkpoint, written before them, loses them.
    step = second.step
    expected = {mode: {metric: [p for p in pairs if p[0] <= step]
                       for metric, pairs in metrics.items()}
                for mode, metrics in run["first"]["history"].items()}
    trax_after = second_run["history_after_constructor"]
    for mode, metrics in trax_after.items():
        for metric, pairs in metrics.items():
            assert expected[mode][metric][:len(pairs)] == pairs
            assert [p[0] for p in expected[mode][metric][len(pairs):]] == [
                step]
    _assert_history(_history(second), expected)
    _, said_run = _quiet(second.run, 5)
    second.close()
    _assert_stdout(said_run, second_run["stdout"])
    assert second.step == second_run["final_step"]
    _assert_weights(second, arrays, "d/second/final_weights",
                    second_run["final_weights"])
    assert second_streams.consumption == second_run["consumption"]


def test_custom_eval_at_checkpoint_at_and_low_metric(oracle, tmp_path):
    data, arrays = oracle
    run = data["runs"]["e_eval_at_checkpoint_at"]
    out = str(tmp_path / "e")
    streams = _Streams(data["params"])
    loop, said = _single_task_loop(
        streams, out, task_kwargs={}, eval_at=lambda s: s % 4 == 0,
        checkpoint_at=lambda s: s == 7,
        checkpoint_low_metric="WeightedCategoryCrossEntropy")
    _, said_run = _quiet(loop.run, 12)
    loop.close()
    _assert_stdout(said + said_run, run["stdout"])
    _assert_history(_history(loop), run["history"])
    _assert_weights(loop, arrays, "e/final_weights", run["final_weights"])
    trax_steps = {k[:-len(".pkl.gz")]: v
                  for k, v in run["checkpoint_steps"].items()}
    assert _our_checkpoints(out) == trax_steps


def test_save_and_load_checkpoint_by_name(oracle, tmp_path):
    data, arrays = oracle
    run = data["runs"]["g_save_load_checkpoint"]
    out = str(tmp_path / "g")
    first, said = _single_task_loop(_Streams(data["params"]), out)
    _, said_run = _quiet(first.run, 6)
    _, said_save = _quiet(first.save_checkpoint, "custom")
    first.close()
    _assert_stdout(said + said_run + said_save, run["first"]["stdout"])
    assert "custom" in _our_checkpoints(out)

    second, said = _single_task_loop(_Streams(data["params"]), None)
    assert said == run["stdout_loop2_constructor"]
    assert second.step == run["step_loop2_after_constructor"] == 0
    # Trax's working form: the basename.
    _, said = _quiet(second.load_checkpoint, directory=out,
                     filename="custom")
    assert said == run["load_attempts"][1]["stdout"]
    assert second.step == run["load_attempts"][1]["step_after"] == 6
    _assert_history(_history(second), _history(first))
    for a, b in zip(_leaves(second.train_state.opt_state),
                    _leaves(first.train_state.opt_state)):
        np.testing.assert_array_equal(a, b)
    # Trax silently loads nothing for 'custom.pkl.gz'; we load the same.
    third, _ = _single_task_loop(_Streams(data["params"]), None)
    _quiet(third.load_checkpoint, directory=out, filename="custom.pkl.gz")
    assert third.step == 6
    # And a path to the Trax-style file, as Trax code passes it.
    fourth, _ = _single_task_loop(_Streams(data["params"]), None)
    _quiet(fourth.load_checkpoint, os.path.join(out, "custom.pkl.gz"))
    assert fourth.step == 6
    assert not os.path.exists(os.path.join(out, "custom.pkl.gz"))

    after = run["second_run_after_load"]
    _, said_run = _quiet(second.run, 2)
    _assert_stdout(said_run, after["stdout"])
    _assert_weights(second, arrays, "g/second/final_weights",
                    after["final_weights"])


def test_missing_named_checkpoint_loads_nothing_and_warns(tmp_path, caplog,
                                                          oracle):
    data, _ = oracle
    loop, _ = _single_task_loop(_Streams(data["params"]), None)
    with caplog.at_level("WARNING"):
        loop.load_checkpoint(directory=str(tmp_path), filename="nothing")
    assert loop.step == 0
    assert "no checkpoint 'nothing'" in caplog.text
    assert os.listdir(tmp_path) == []
