"""The Loop compiles its eval functions (and train steps for shapes first
seen in evals) in a background thread: the first eval finds its program
compiled, results are those of a Loop that compiles as usual, the switch
turns it off, and errors come where they always did. Models whose layer
state changes shape in the first step (``ConcatWithPadding``) compile their
train step once."""

import itertools
import logging
import threading

import jax
import numpy as np
import pytest

from trax_compat import layers as tl
from trax_compat import optimizers
from trax_compat.models.research import transformer2
from trax_compat.supervised import background_compile
from trax_compat.supervised import training

VOCAB = 16
# The first batch of each stream is its task's sample batch. (3, 6) and
# (2, 7) come to training after the first eval has seen them.
TRAIN_SHAPES = [(4, 5), (4, 5), (2, 7), (3, 6)]
EVAL_SHAPES = [(3, 6), (4, 5), (3, 6), (2, 7)]

_EVENTS = []  # (function name, in the main thread, label of the moment)
_MOMENT = threading.local()


def _listener(event, duration, **kwargs):
    del duration
    if event == "/jax/core/compile/backend_compile_duration":
        _EVENTS.append((str(kwargs.get("fun_name")),
                        threading.current_thread() is threading.main_thread(),
                        getattr(_MOMENT, "label", None)))


jax.monitoring.register_event_duration_secs_listener(_listener)


def _stream(shapes):
    """Batches drawn from NumPy's global generator: a Loop that pulled the
    train and eval streams in another order would see other batches."""
    for batch_size, length in itertools.cycle(shapes):
        x = np.random.randint(1, VOCAB, size=(batch_size, length))
        y = np.random.randint(0, 2, size=(batch_size,))
        yield x.astype(np.int32), y.astype(np.int32), np.ones(
            (batch_size,), np.float32)


def _loop(train_shapes=None, eval_shapes=None, **kwargs):
    np.random.seed(3)
    model = tl.Serial(tl.Embedding(VOCAB, 8), tl.Mean(axis=1), tl.Dense(2),
                      tl.LogSoftmax())
    train = training.TrainTask(_stream(train_shapes or TRAIN_SHAPES),
                               tl.WeightedCategoryCrossEntropy(),
                               optimizers.Adam(0.01), n_steps_per_checkpoint=3)
    evals = training.EvalTask(_stream(eval_shapes or EVAL_SHAPES),
                              [tl.WeightedCategoryCrossEntropy(),
                               tl.WeightedCategoryAccuracy()],
                              n_eval_batches=4)
    return training.Loop(model, train, eval_tasks=[evals], random_seed=0,
                         **kwargs)


def _run(loop, n_steps):
    """Runs the Loop; returns the compile events of the run, each labelled
    "eval" when it happened during an eval."""
    run_evals = loop.run_evals

    def labelled_evals(*args, **kwargs):
        _MOMENT.label = "eval"
        try:
            return run_evals(*args, **kwargs)
        finally:
            _MOMENT.label = None
    loop.run_evals = labelled_evals
    mark = len(_EVENTS)
    loop.run(n_steps)
    loop.close()  # The background thread is done: every event is in.
    return _EVENTS[mark:]


def _outcome(loop):
    # Everything the Loop logged but its speed.
    history = {k: v for k, v in loop.history.to_dict().items()
               if "steps per second" not in k}
    return {"history": history,
            "params": [np.asarray(x) for x in
                       jax.tree_util.tree_leaves(loop.train_state.params)],
            "next_draw": np.random.randint(0, 2**31)}


@pytest.fixture(scope="module")
def on_and_off():
    on = _loop(background_compile=True)
    on_events = _run(on, 7)
    on_outcome = _outcome(on)
    off = _loop(background_compile=False)
    off_events = _run(off, 7)
    return on_events, on_outcome, off_events, _outcome(off)


def _count(events, name, main=None, label="any"):
    return sum(1 for fun, in_main, moment in events
               if fun == f"jit({name})" and (main is None or in_main == main)
               and (label == "any" or moment == label))


def test_first_eval_finds_its_program_compiled():
    loop = _loop([(4, 5)], [(4, 5)], background_compile=True)
    events = _run(loop, 2)
    # Closing the Loop ended its thread.
    assert loop._compiler._thread is None  # pylint: disable=protected-access
    assert _count(events, "eval_step", label="eval") == 0
    assert _count(events, "eval_step") == 1
    assert _count(events, "train_step") == 1
    assert _count(events, "train_step", main=True) == 0


def test_several_shapes_compile_once_each(on_and_off):
    on_events, _, off_events, _ = on_and_off
    n_shapes = len(set(EVAL_SHAPES))
    # Off: each eval shape is compiled in the training thread, in an eval.
    assert _count(off_events, "eval_step", main=True, label="eval") == n_shapes
    # On: at most one of them (the one needed while the background thread
    # is busy with another), and none twice.
    assert _count(on_events, "eval_step", main=True, label="eval") <= 1
    assert _count(on_events, "eval_step") == n_shapes
    # Train steps: once per shape, most of them in the background.
    n_train = len(set(TRAIN_SHAPES))
    assert _count(off_events, "train_step", main=True) == n_train
    assert _count(on_events, "train_step") == n_train
    assert _count(on_events, "train_step", main=True) <= 1


def test_results_equal_on_and_off(on_and_off):
    _, on, _, off = on_and_off
    assert on["history"] == off["history"]
    assert len(on["params"]) == len(off["params"])
    for a, b in zip(on["params"], off["params"]):
        np.testing.assert_array_equal(a, b)
    # NumPy's global generator was drawn the same, in the same order.
    assert on["next_draw"] == off["next_draw"]


def test_environment_switch_turns_it_off(monkeypatch):
    monkeypatch.setenv(background_compile.ENV_SWITCH, "0")
    assert _loop()._compiler is None  # pylint: disable=protected-access
    assert _loop(background_compile=True)._compiler is not None  # pylint: disable=protected-access
    monkeypatch.setenv(background_compile.ENV_SWITCH, "1")
    assert _loop()._compiler is not None  # pylint: disable=protected-access
    assert background_compile.enabled({}, None)
    assert not background_compile.enabled({"TRAX_COMPAT_BACKGROUND_COMPILE":
                                           "off"}, None)


def test_failed_background_compile_falls_back(monkeypatch, caplog,
                                             on_and_off):
    def broken(lowered):
        raise RuntimeError("no compiler today")
    monkeypatch.setattr(background_compile, "_compile", broken)
    loop = _loop(background_compile=True)
    with caplog.at_level(logging.WARNING):
        events = _run(loop, 4)
    assert "no compiler today" in caplog.text
    # Everything was compiled in the training thread instead, and the
    # results are the ordinary ones.
    assert _count(events, "eval_step", main=False) == 0
    assert _count(events, "eval_step", main=True) == len(set(EVAL_SHAPES))
    _, _, _, off = on_and_off
    history = _outcome(loop)["history"]
    for key, values in history.items():
        assert values == [v for v in off["history"][key] if v[0] <= 4]


def _failing_loop(background):
    def bad_metric(log_probs, targets, weights):
        del targets, weights
        raise ValueError(f"metric cannot handle {log_probs.shape}")
    np.random.seed(3)
    model = tl.Serial(tl.Embedding(VOCAB, 8), tl.Mean(axis=1), tl.Dense(2),
                      tl.LogSoftmax())
    train = training.TrainTask(_stream(TRAIN_SHAPES),
                               tl.WeightedCategoryCrossEntropy(),
                               optimizers.Adam(0.01))
    # Shape checks pass (the signature is not traced through ``bad_metric``
    # at construction), the eval's tracing fails.
    evals = training.EvalTask(_stream(EVAL_SHAPES),
                              [tl.Fn("BadMetric", bad_metric, n_out=1)],
                              n_eval_batches=1)
    return training.Loop(model, train, eval_tasks=[evals], random_seed=0,
                         background_compile=background)


def test_error_in_a_program_is_the_ordinary_one(monkeypatch):
    # Construction traces the metric (the loss/metric fit check): let that
    # pass, and fail when the eval function itself is traced.
    from trax_compat.supervised import training as training_module
    monkeypatch.setattr(training_module.Loop, "_check_end_layers",
                        lambda *args: None)
    errors = []
    for background in (False, True):
        loop = _failing_loop(background)
        with pytest.raises(Exception) as info:
            loop.run(2)
        errors.append((type(info.value), str(info.value), loop.step))
        loop.close()
    assert errors[0] == errors[1]
    assert "metric cannot handle" in errors[0][1]
    assert errors[0][2] == 1  # Raised in the eval of step 1, as always.


def _concat_model():
    """Encoder and decoder tokens -> decoder log-probabilities through
    ``StripFromConcatenateWithPadding``, whose state goes from int32[] to
    int32[1] in the first step (as ``ConcatWithPadding``'s does)."""
    return tl.Serial(
        tl.Select([0, 1, 0, 1]),
        tl.Concatenate(axis=1),
        tl.Embedding(VOCAB, 4),
        transformer2.StripFromConcatenateWithPadding(mode="train"),
        tl.Dense(VOCAB), tl.LogSoftmax())


def _pairs():
    rng = np.random.RandomState(0)
    while True:
        enc = rng.randint(0, VOCAB, size=(2, 5)).astype(np.int32)
        dec = rng.randint(1, VOCAB, size=(2, 3)).astype(np.int32)
        yield enc, dec, dec, np.ones((2, 3), np.float32)


def test_state_that_changes_shape_compiles_the_train_step_once():
    loop = training.Loop(
        _concat_model(),
        training.TrainTask(_pairs(), tl.WeightedCategoryCrossEntropy(),
                           optimizers.Adam(0.01)),
        random_seed=0, background_compile=False)
    assert {np.shape(x) for x in jax.tree_util.tree_leaves(
        loop.train_state.model_state)} == {(1,)}
    events = _run(loop, 3)
    assert _count(events, "train_step") == 1
    assert loop.step == 3
    assert all(np.isfinite(np.asarray(x)).all() for x in
               jax.tree_util.tree_leaves(loop.train_state.params))
