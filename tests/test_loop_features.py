"""Loop features beyond the oracle runs: learning rates from every source,
callbacks that stop training, argument checks, and cleanup that keeps the
first error."""

import contextlib
import io

import jax
import numpy as np
import optax
import pytest

import trax_compat as trax
from trax_compat import layers as tl
from trax_compat.supervised import callbacks
from trax_compat.supervised import summaries
from trax_compat.supervised import training
from tests.conftest import float_batches


def _model():
    return tl.Serial(tl.Dense(2), tl.LogSoftmax())


def _loop(optimizer, lr_schedule=None, every=1, output_dir=None, **kwargs):
    task = training.TrainTask(float_batches(), tl.WeightedCategoryCrossEntropy(),
                              optimizer, lr_schedule=lr_schedule,
                              n_steps_per_checkpoint=every)
    evals = training.EvalTask(float_batches(seed=1),
                              [tl.WeightedCategoryCrossEntropy(),
                               tl.WeightedCategoryAccuracy()])
    with contextlib.redirect_stdout(io.StringIO()):
        return training.Loop(_model(), task, eval_tasks=[evals],
                             output_dir=output_dir, random_seed=0, **kwargs)


def _run(loop, n):
    with contextlib.redirect_stdout(io.StringIO()) as out:
        loop.run(n)
    return out.getvalue()


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


def _logged_rates(loop):
    return [v for _, v in loop.history.get("train", "training/learning_rate")]


def _schedule(step):
    return 0.1 / step  # A plain Python function with Python arithmetic.


def test_task_schedule_reaches_an_optax_optimizer_through_inject_hyperparams():
    sgd = _loop(trax.optimizers.SGD(1.0), lr_schedule=_schedule)
    inject = _loop(optax.inject_hyperparams(optax.sgd)(learning_rate=1.0),
                   lr_schedule=_schedule)
    for loop in (sgd, inject):
        _run(loop, 4)
    for a, b in zip(_leaves(sgd.train_state.params),
                    _leaves(inject.train_state.params)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    for loop in (sgd, inject):
        np.testing.assert_allclose(_logged_rates(loop),
                                   [_schedule(s) for s in (1, 2, 3, 4)])
        assert loop._train_step._cache_size() == 1  # pylint: disable=protected-access
    assert float(optax.tree_utils.tree_get(
        inject.train_state.opt_state, "learning_rate")) == pytest.approx(
            _schedule(4))


def test_a_schedule_cannot_reach_a_plain_optax_optimizer():
    with pytest.raises(ValueError, match="inject_hyperparams"):
        _loop(optax.sgd(0.1), lr_schedule=_schedule)
    with pytest.raises(ValueError, match="a schedule of its own"):
        _loop(optax.inject_hyperparams(optax.sgd)(
            learning_rate=optax.linear_schedule(0.1, 0.0, 10)),
              lr_schedule=_schedule)


def test_optax_rates_are_logged_when_visible_and_never_as_nan():
    plain = _loop(optax.sgd(0.1))
    _run(plain, 2)
    assert plain.history.get("train", "training/learning_rate") == []
    assert plain.history.get("train", "training/loss")  # still reported
    inner = _loop(optax.inject_hyperparams(optax.sgd)(
        learning_rate=optax.linear_schedule(0.1, 0.0, 10)))
    _run(inner, 3)
    # inject_hyperparams evaluates its schedule at its count (0-based).
    np.testing.assert_allclose(_logged_rates(inner), [0.1, 0.09, 0.08],
                               rtol=1e-6)


def test_an_optimizers_own_schedule_is_applied_and_logged_per_step():
    own = _loop(trax.optimizers.SGD(_schedule))
    task = _loop(trax.optimizers.SGD(0.5), lr_schedule=_schedule)
    for loop in (own, task):
        _run(loop, 3)
    np.testing.assert_allclose(_logged_rates(own), [0.1, 0.05, 0.1 / 3])
    for a, b in zip(_leaves(own.train_state.params),
                    _leaves(task.train_state.params)):
        np.testing.assert_array_equal(a, b)


def test_without_a_schedule_the_optimizer_rate_is_logged_as_trax_does():
    loop = _loop(trax.optimizers.Adam(0.0123), every=2)
    _run(loop, 2)
    # Trax logs the optimizer's float32 rate.
    assert _logged_rates(loop) == [float(np.float32(0.0123))] * 2


class _StopAt(callbacks.TrainingStepCallback):
    stop_at = 3

    def call_at(self, step):
        return step == self.stop_at

    def on_step_begin(self, step):
        pass

    def on_step_end(self, step):
        self._loop.request_stop(f"asked to at {step}")


def test_a_callback_stops_run_after_the_step_and_its_checkpoint(tmp_path):
    loop = _loop(trax.optimizers.Adam(0.01), every=100,
                 output_dir=str(tmp_path), callbacks=[_StopAt])
    said = _run(loop, 10)
    assert loop.step == 3
    assert "Step      3: Stopping: asked to at 3" in said
    assert loop.last_checkpoint_step == 3
    _run(loop, 2)  # run() trains on after a stop
    assert loop.step == 5
    loop.close()


def test_early_stopping_stops_when_the_metric_stops_improving(tmp_path):
    stopper = callbacks.EarlyStopping("WeightedCategoryAccuracy", patience=1)
    assert stopper.mode == "max"
    loop = _loop(trax.optimizers.SGD(0.0), every=1, output_dir=str(tmp_path),
                 callbacks=[stopper])
    _run(loop, 20)
    # A zero learning rate: the eval accuracy varies only with the batch, so
    # compute the stop from the history with the documented rule.
    values = [v for _, v in loop.history.get(
        "eval", "metrics/WeightedCategoryAccuracy")]
    best, worse, expected = None, 0, None
    for step, value in enumerate(values, 1):
        if best is None or value > best:
            best, worse = value, 0
        else:
            worse += 1
            if worse > 1:
                expected = step
                break
    assert expected is not None and loop.step == expected
    assert stopper.stopped_step == expected and stopper.best == best
    assert loop.last_eval == (expected, {
        "WeightedCategoryCrossEntropy": pytest.approx(loop.history.get(
            "eval", "metrics/WeightedCategoryCrossEntropy")[-1][1]),
        "WeightedCategoryAccuracy": values[expected - 1]})
    loop.close()


def test_callback_and_metric_arguments_are_checked():
    with pytest.raises(ValueError, match="not a metric of the Loop's eval"):
        _loop(trax.optimizers.SGD(0.1), callbacks=[
            callbacks.EarlyStopping("Nope")])
    with pytest.raises(TypeError, match="takes classes"):
        _loop(trax.optimizers.SGD(0.1), callbacks=[object()])
    with pytest.raises(ValueError, match="checkpoint_high_metric='Acc' is not"):
        _loop(trax.optimizers.SGD(0.1), checkpoint_high_metric="Acc")
    if jax.local_device_count() > 1:  # The first two devices.
        assert _loop(trax.optimizers.SGD(0.1), n_devices=2).n_devices == 2
    with pytest.raises(ValueError, match="this host has"):
        _loop(trax.optimizers.SGD(0.1),
              n_devices=jax.local_device_count() + 1)
    assert _loop(trax.optimizers.SGD(0.1), n_devices=1).n_devices == 1


def test_an_optimizer_class_instead_of_an_instance_is_named():
    with pytest.raises(TypeError, match=r"class SGD; pass an instance"):
        _loop(trax.optimizers.SGD)


def test_numeric_checkpoint_names_are_refused(tmp_path):
    loop = _loop(trax.optimizers.SGD(0.1), output_dir=str(tmp_path))
    with pytest.raises(ValueError, match="not a number"):
        loop.save_checkpoint("5")
    loop.close()


def test_a_subclass_with_its_own_run_gets_trax_averaged_norms():
    class OwnRun(training.Loop):
        def run(self, n_steps=1):
            with self._open_summary_writers() as (train_writers, _):
                total, metrics = 0.0, {}
                for _ in range(n_steps):
                    self._step += 1
                    loss, step_metrics = self._run_one_step(0, False)
                    total += loss
                    for k, v in step_metrics.items():
                        metrics[k] = metrics.get(k, 0.0) + v
                self._log_training_progress(self._tasks[0], total, n_steps,
                                            1.0, metrics, train_writers[0])

    task = training.TrainTask(float_batches(), tl.WeightedCategoryCrossEntropy(),
                              trax.optimizers.SGD(0.1))
    with contextlib.redirect_stdout(io.StringIO()):
        loop = OwnRun(_model(), task, random_seed=0)
        loop.run(3)
    norms = [v for _, v in loop.history.get("train", "training/weights_l2")]
    assert len(norms) == 1 and norms[0] > 0
    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        loop._log_step("hello")  # pylint: disable=protected-access
    assert said.getvalue().strip() == "Step      3: hello"


def test_a_failing_cleanup_never_hides_the_error_that_stopped_run(
        tmp_path, monkeypatch):
    def fail_close(self):
        raise OSError(f"cannot close {self.logdir}")
    monkeypatch.setattr(summaries.BackgroundSummaryWriter, "close", fail_close)
    task = training.TrainTask(iter([next(float_batches())] * 3),
                              tl.WeightedCategoryCrossEntropy(),
                              trax.optimizers.SGD(0.1))
    with contextlib.redirect_stdout(io.StringIO()):
        loop = training.Loop(_model(), task, output_dir=str(tmp_path),
                             random_seed=0)
        with pytest.raises(training.StreamExhaustedError) as err:
            loop.run(5)
    # The writer's close failure is noted; the stream's error is raised.
    assert any("cannot close" in note for note in err.value.__notes__)
    assert loop.step == 2
    # Without an earlier error, the failing close is itself the error.
    with contextlib.redirect_stdout(io.StringIO()):
        with pytest.raises(OSError, match="cannot close"):
            loop.run(0)
    loop.close()


class _RecordWeights(callbacks.TrainingStepCallback):
    seen = []

    def call_at(self, step):
        return True

    def on_step_begin(self, step):
        pass

    def on_step_end(self, step):
        self.seen.append(np.asarray(self._loop.model.weights[0][0]).copy())


def test_callbacks_see_the_weights_of_the_step_just_trained(tmp_path):
    _RecordWeights.seen = []
    loop = _loop(trax.optimizers.SGD(0.1), every=100,
                 output_dir=str(tmp_path), callbacks=[_RecordWeights])
    initial = np.asarray(loop.model.weights[0][0]).copy()
    _run(loop, 3)
    seen = _RecordWeights.seen
    assert len(seen) == 3 and not np.array_equal(seen[0], initial)
    assert not np.array_equal(seen[1], seen[0])
    np.testing.assert_array_equal(seen[2], loop.model.weights[0][0])
    loop.close()
    assert loop.last_checkpoint_step == 1  # also after close


def test_a_checkpoint_of_another_model_is_refused_by_name(tmp_path):
    from trax_compat.supervised import checkpoints  # pylint: disable=g-import-not-at-top
    first = _loop(trax.optimizers.SGD(0.1), output_dir=str(tmp_path))
    _run(first, 1)
    first.close()
    task = training.TrainTask(float_batches(), tl.WeightedCategoryCrossEntropy(),
                              trax.optimizers.SGD(0.1))
    with contextlib.redirect_stdout(io.StringIO()):
        with pytest.raises(IndexError) as err:  # Trax's error type
            training.Loop(tl.Serial(tl.Dense(5), tl.Dense(2), tl.LogSoftmax()),
                          task, output_dir=str(tmp_path), random_seed=0)
    assert isinstance(err.value, checkpoints.NoMatchingCheckpointError)
    assert "do not fit the model" in str(err.value)


def test_a_model_with_weights_keeps_them():
    model = _model()
    sample = next(float_batches())
    model.init(trax.shapes.signature(sample[0]))
    model.weights = jax.tree_util.tree_map(lambda w: w + 1.0, model.weights)
    kept = _leaves(model.weights)
    task = training.TrainTask(float_batches(), tl.WeightedCategoryCrossEntropy(),
                              trax.optimizers.SGD(0.1))
    with contextlib.redirect_stdout(io.StringIO()):
        loop = training.Loop(model, task, random_seed=0)
    for a, b in zip(_leaves(loop.model.weights), kept):
        np.testing.assert_array_equal(a, b)
