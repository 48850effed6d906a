"""The training Loop: the seed tutorial against real Trax's run, and the
Loop's contracts (resume, checkpoints, errors, TensorBoard output)."""

import contextlib
import io
import itertools
import os
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import trax_compat as trax
from trax_compat import layers as tl
from trax_compat.supervised import checkpoints
from trax_compat.supervised import training

from tests.conftest import ORACLE, VOCAB_DIR, CORPUS_DIR, read_tweets, float_batches
from tests.conftest import load_oracle_json, oracle_array
from tests.testdata.oracle_common import Recorder, tutorial_tasks
from tests.testdata.oracle_common import tutorial_pipeline as _pipeline

STEP_LINE = re.compile(r"^Step +(\d+): (.*)$")
TIMING = re.compile(r"Ran (\d+) train steps in [0-9.]+ secs")


def tutorial_pipeline(vocab_dir):
    return _pipeline(trax.data, vocab_dir)


def tutorial_model():
    return tl.Serial(tl.Embedding(vocab_size=8192, d_feature=256),
                     tl.Mean(axis=1), tl.Dense(2), tl.LogSoftmax())


def trax_step_lines(text):
    """Trax's step lines with timings masked, and the blank separators."""
    lines = []
    for line in text.splitlines():
        if line == "" or STEP_LINE.match(line):
            lines.append(TIMING.sub(r"Ran \1 train steps in X secs", line))
    while lines and lines[-1] == "":
        lines.pop()
    return lines


def parse_values(lines):
    values = {}
    for line in lines:
        m = re.match(r"^Step +(\d+): (train|eval) +(\S+) \| +(\S+)$", line)
        if m:
            values[(int(m.group(1)), m.group(2), m.group(3))] = float(
                m.group(4))
    return values


@pytest.fixture(scope="module")
def oracle_run(tmp_path_factory):
    """The oracle's 300-step tutorial run, rebuilt on trax_compat."""
    train_list = read_tweets(CORPUS_DIR / "dev_tweets.txt")
    eval_list = read_tweets(CORPUS_DIR / "dev_tweets_eval.txt")
    np.random.seed(0)
    train_stream = Recorder(tutorial_pipeline(VOCAB_DIR)(
        itertools.cycle(train_list)))
    np.random.seed(1)
    eval_stream = Recorder(tutorial_pipeline(VOCAB_DIR)(
        itertools.cycle(eval_list)))
    model = tutorial_model()
    train_task, eval_task = tutorial_tasks(
        tl, training, trax.optimizers, train_stream, eval_stream)
    output_dir = tmp_path_factory.mktemp("oracle_run") / "out"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        loop = training.Loop(model, train_task, eval_tasks=[eval_task],
                             output_dir=str(output_dir), random_seed=0)
        loop.run(300)
    example = next(eval_stream)[0][0]
    return dict(loop=loop, model=model, stdout=out.getvalue(),
                train=train_stream.pulled, eval=eval_stream.pulled,
                example=example, output_dir=output_dir)


def test_tutorial_log_matches_trax_layout_and_values(oracle_run):
    ours = trax_step_lines(oracle_run["stdout"])
    theirs = trax_step_lines(
        (ORACLE / "trax_run_dev" / "stdout.txt").read_text())
    # Same lines in the same layout; numbers compared with a tolerance.
    masked = lambda ls: [re.sub(r"\| +\S+$", "| V", l) for l in ls]
    assert masked(ours) == masked(theirs)
    ours_v, theirs_v = parse_values(ours), parse_values(theirs)
    assert ours_v.keys() == theirs_v.keys() and len(ours_v) == 12
    for key, value in theirs_v.items():
        assert ours_v[key] == pytest.approx(value, abs=2e-6), key
    # Eval accuracy clearly above chance after 300 steps.
    assert ours_v[(300, "eval", "WeightedCategoryAccuracy")] > 0.8


def test_tutorial_consumes_the_same_batches_as_trax(oracle_run):
    expected = load_oracle_json("trax_run_dev/consumed_batches.json.gz")
    # train[0] is the TrainTask sample batch; eval[81] the example batch.
    assert len(oracle_run["train"]) == len(expected["train"]) == 301
    assert len(oracle_run["eval"]) == len(expected["eval"]) == 82
    for ours, theirs in zip(oracle_run["train"] + oracle_run["eval"],
                            expected["train"] + expected["eval"]):
        np.testing.assert_array_equal(ours[0], np.array(theirs["inputs"]))
        np.testing.assert_array_equal(ours[1], np.array(theirs["labels"]))
        assert [str(a.dtype) for a in ours] == theirs["dtypes"]
    np.testing.assert_array_equal(oracle_run["example"],
                                  expected["eval"][81]["inputs"][0])


def test_tutorial_history_and_prediction_match_trax(oracle_run):
    expected = load_oracle_json("trax_run_dev/predictions.json")
    history = oracle_run["loop"].history.to_dict()
    for key, pairs in expected["loop_history"].items():
        if key.endswith("weights_l2"):
            continue  # Trax's own weights_l2 figure is not reproduced.
        if key.endswith("gradients_l2"):
            # By default measured at the logged step, not averaged: equal to
            # Trax's at step 1 (a one-step window).
            assert history[key][0][1] == pytest.approx(pairs[0][1],
                                                       rel=2e-5)
            continue
        assert [p[0] for p in history[key]] == [p[0] for p in pairs], key
        np.testing.assert_allclose([p[1] for p in history[key]],
                                   [p[1] for p in pairs], rtol=2e-5,
                                   err_msg=key)
    prediction = expected["tutorial_example_prediction"]
    np.testing.assert_array_equal(oracle_run["example"],
                                  prediction["input_ids"])
    text = trax.data.detokenize(oracle_run["example"],
                                vocab_file="en_8k.subword",
                                vocab_dir=str(VOCAB_DIR))
    assert text == prediction["input_str"]
    log_probs = oracle_run["model"](oracle_run["example"][None, :])
    np.testing.assert_allclose(np.exp(log_probs), prediction["probs"],
                               atol=1e-5)
    # The whole-batch predictions of a freshly built eval pipeline.
    for batch in expected["fresh_eval_pipeline_first5"]["batches"]:
        inputs = oracle_array(batch["inputs"])
        np.testing.assert_allclose(oracle_run["model"](inputs),
                                   oracle_array(batch["log_probs"]), atol=1e-5)


def test_optimizer_metrics_every_step_gives_trax_averages():
    expected = load_oracle_json("trax_run_dev/predictions.json")[
        "loop_history"]
    # The oracle's eval stream drew from the same global RNG; an eval-free
    # run would shuffle differently, so replay the oracle's batches instead.
    consumed = load_oracle_json("trax_run_dev/consumed_batches.json.gz")[
        "train"]
    batches = [(np.array(b["inputs"]), np.array(b["labels"]),
                np.ones(len(b["labels"]), np.float32)) for b in consumed]
    task = training.TrainTask(iter(batches[1:]),
                              tl.WeightedCategoryCrossEntropy(),
                              trax.optimizers.Adam(0.01),
                              n_steps_per_checkpoint=100,
                              sample_batch=batches[0])
    # Trax logs training metrics only at eval steps: give it a cheap eval.
    eval_task = training.EvalTask(itertools.cycle(batches[:1]),
                                  [tl.WeightedCategoryAccuracy()])
    with contextlib.redirect_stdout(io.StringIO()):
        loop = training.Loop(tutorial_model(), task, eval_tasks=[eval_task],
                             random_seed=0, optimizer_metrics_every_step=True)
        loop.run(200)
    ours = loop.history.get("train", "training/gradients_l2")
    theirs = expected["train/training/gradients_l2"][:3]
    assert [s for s, _ in ours] == [1, 100, 200]
    np.testing.assert_allclose([v for _, v in ours], [v for _, v in theirs],
                               rtol=2e-5)


def test_model_after_training_uses_trained_weights(oracle_run):
    loop, model = oracle_run["loop"], oracle_run["model"]
    params = loop.train_state.params
    x = oracle_run["example"][None, :]
    np.testing.assert_array_equal(
        model(x), model.module.apply({"params": params}, jnp.asarray(x)))
    assert int(loop.train_state.step) == loop.step == 300
    w = model.weights
    assert w[1] == () and w[3] == () and w[0].shape == (8192, 256)


def test_output_dir_has_tensorboard_events_and_checkpoints(oracle_run):
    out = oracle_run["output_dir"]
    assert sorted(int(s) for s in os.listdir(out / "checkpoints")
                  if s.isdigit()) == [100, 200, 300]
    from tensorboard.backend.event_processing import event_accumulator
    for mode, tag, n in [("train", "metrics/WeightedCategoryCrossEntropy", 4),
                         ("eval", "metrics/WeightedCategoryAccuracy", 4),
                         ("train", "training/learning_rate", 4)]:
        acc = event_accumulator.EventAccumulator(
            str(out / mode), size_guidance={"tensors": 0, "scalars": 0})
        acc.Reload()
        tags = acc.Tags()
        events = (acc.Tensors(tag) if tag in tags.get("tensors", [])
                  else acc.Scalars(tag))
        assert [e.step for e in events] == [1, 100, 200, 300][:n], tag
    # The checkpoint holds the trained params.
    params, _ = checkpoints.load_model_params(str(out))
    np.testing.assert_array_equal(
        params["layers_2"]["kernel"],
        np.asarray(oracle_run["loop"].train_state.params["layers_2"]["kernel"]))


# -- small, oracle-free runs ---------------------------------------------------

_float_batches = float_batches


def _small_loop(output_dir=None, stream=None, steps_per_checkpoint=2,
                model=None, seed=0, **task_kwargs):
    model = model or tl.Serial(tl.Dense(2), tl.LogSoftmax())
    task = training.TrainTask(
        stream if stream is not None else _float_batches(),
        tl.WeightedCategoryCrossEntropy(), trax.optimizers.Adam(0.01),
        n_steps_per_checkpoint=steps_per_checkpoint, **task_kwargs)
    eval_task = training.EvalTask(_float_batches(seed=1),
                                  [tl.WeightedCategoryAccuracy()],
                                  n_eval_batches=2)
    with contextlib.redirect_stdout(io.StringIO()):
        return training.Loop(model, task, eval_tasks=[eval_task],
                             output_dir=output_dir, random_seed=seed)


def _quiet_run(loop, n):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        loop.run(n)
    return out.getvalue()


def test_run_continues_from_current_step_and_logs_at_checkpoints():
    loop = _small_loop(steps_per_checkpoint=3)
    first = _quiet_run(loop, 2)
    second = _quiet_run(loop, 5)
    assert loop.step == 7
    steps = lambda text: sorted({int(m.group(1)) for m in
                                 map(STEP_LINE.match, text.splitlines()) if m})
    assert steps(first) == [1]
    assert steps(second) == [3, 6]
    # As in Trax, each run() starts counting afresh: step 2 (not logged)
    # belongs to the first run's tally.
    assert re.search(r"Step      3: Ran 1 train steps in", second)
    assert re.search(r"Step      6: Ran 3 train steps in", second)


def test_random_seed_seeds_numpy_and_python_like_trax():
    import random
    _small_loop(seed=7)
    a = (np.random.randint(1 << 30), random.random())
    np.random.seed(7)
    random.seed(7)
    # Then, as in Trax, the layers its Loop builds draw their seeds:
    # Serial(model, loss) and Accelerate for the train task, Serial(model,
    # metric) for the eval task (checked against real Trax, also with two
    # tasks of each kind and several metrics).
    for _ in range(3):
        random.randint(0, 2**31 - 1)
    b = (np.random.randint(1 << 30), random.random())
    assert a == b


def test_output_dir_is_expanded_and_created(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    loop = _small_loop(output_dir="~/output_file.txt")
    assert loop.output_dir == str(tmp_path / "output_file.txt")
    _quiet_run(loop, 2)
    assert (tmp_path / "output_file.txt" / "checkpoints" / "2").is_dir()
    assert any((tmp_path / "output_file.txt" / "eval").iterdir())


def test_resumes_from_checkpoint_in_output_dir(tmp_path):
    loop = _small_loop(output_dir=str(tmp_path))
    _quiet_run(loop, 4)
    saved = jax.tree_util.tree_map(np.asarray, loop.train_state.params)
    resumed = _small_loop(output_dir=str(tmp_path), seed=123)
    assert resumed.step == 4 and int(resumed.train_state.step) == 4
    for a, b in zip(jax.tree_util.tree_leaves(saved),
                    jax.tree_util.tree_leaves(resumed.train_state.params)):
        np.testing.assert_array_equal(a, np.asarray(b))
    # The optimizer state came back too (Adam moments are non-zero).
    assert float(jnp.abs(resumed.train_state.opt_state.m["layers_0"]
                         ["kernel"]).sum()) > 0
    text = _quiet_run(resumed, 2)
    assert resumed.step == 6 and "Step      6:" in text
    assert "Total number of trainable weights" not in text


def test_interrupted_save_keeps_last_good_checkpoint(tmp_path):
    loop = _small_loop(output_dir=str(tmp_path))
    _quiet_run(loop, 2)
    # A save killed midway leaves Orbax's temporary directory behind.
    partial = tmp_path / "checkpoints" / "4.orbax-checkpoint-tmp-1234"
    partial.mkdir()
    (partial / "garbage").write_bytes(b"\x00" * 10)
    resumed = _small_loop(output_dir=str(tmp_path))
    assert resumed.step == 2


def test_damaged_checkpoint_falls_back_to_the_previous_one(tmp_path,
                                                           monkeypatch):
    loop = _small_loop(output_dir=str(tmp_path))
    _quiet_run(loop, 4)
    loop.close()
    step_dir = tmp_path / "checkpoints" / "4"
    for path in step_dir.rglob("*"):
        if path.is_file() and path.stat().st_size > 0:
            path.write_bytes(b"not a checkpoint")
    said = []
    monkeypatch.setattr(training, "_log", said.append)
    resumed = _small_loop(output_dir=str(tmp_path))
    assert resumed.step == 2
    message = "\n".join(said)
    assert "step 4: unreadable" in message and "step 2" in message
    # Moved aside, not deleted.
    assert (tmp_path / "checkpoints" / "4.damaged").is_dir()


def test_exhausted_stream_names_the_step_and_the_fix():
    batches = list(itertools.islice(_float_batches(), 3))
    loop = _small_loop(stream=iter(batches), steps_per_checkpoint=100)
    with pytest.raises(training.StreamExhaustedError) as err:
        _quiet_run(loop, 10)
    assert "step 3" in str(err.value)
    assert "itertools.cycle" in str(err.value)
    assert loop.step == 2
    # The model still holds usable (trained) weights.
    x = np.ones((2, 3), np.float32)
    assert np.all(np.isfinite(loop.model(x)))


def test_model_output_not_fitting_the_loss_names_both_layers():
    def seq_batches():
        while True:
            yield (np.ones((2, 5), np.int64), np.zeros((2,), np.int64),
                   np.ones((2,), np.float32))
    model = tl.Serial(tl.Embedding(10, 4), tl.Dense(2), tl.LogSoftmax())
    with pytest.raises(training.ModelLossMismatchError) as err:
        training.Loop(model, training.TrainTask(
            seq_batches(), tl.WeightedCategoryCrossEntropy(),
            trax.optimizers.Adam(0.01)))
    message = str(err.value)
    assert "Serial" in message and "WeightedCategoryCrossEntropy" in message
    assert "(2, 5, 2)" in message and "(2,)" in message


def test_nan_loss_stops_without_overwriting_the_last_checkpoint(tmp_path):
    def poisoned():
        clean = _float_batches()
        for i in itertools.count():
            x, y, w = next(clean)
            if i >= 3:
                x = np.full_like(x, np.nan)
            yield x, y, w
    loop = _small_loop(output_dir=str(tmp_path), stream=poisoned())
    with pytest.raises(training.NonFiniteLossError) as err:
        _quiet_run(loop, 10)
    message = str(err.value)
    assert "step" in message and "learning rate" in message
    assert str(tmp_path / "checkpoints") in message
    steps = sorted(int(s) for s in os.listdir(tmp_path / "checkpoints")
                   if s.isdigit())
    assert steps == [1, 2]


def test_output_dir_that_is_a_file_is_rejected(tmp_path):
    path = tmp_path / "taken"
    path.write_text("x")
    with pytest.raises(OSError) as err:
        _small_loop(output_dir=str(path))
    assert str(path) in str(err.value)


def test_train_step_donates_and_is_compiled_once_per_shape():
    loop = _small_loop(steps_per_checkpoint=100)
    _quiet_run(loop, 5)
    # One batch shape: one compilation, for logged steps (which add the
    # optimizer norms) and the others alike, whatever the number of steps.
    assert loop._train_step._cache_size() == 1  # pylint: disable=protected-access
    _quiet_run(loop, 5)
    assert loop._train_step._cache_size() == 1  # pylint: disable=protected-access
    old_params = loop.train_state.params
    _quiet_run(loop, 1)
    leaf = jax.tree_util.tree_leaves(old_params)[0]
    assert leaf.is_deleted()


def test_prefetch_never_reads_past_the_next_eval():
    """Eval batches must be drawn when exactly the batches up to the eval
    step have been drawn (Trax's Shuffle shares NumPy's global RNG)."""
    train = Recorder(_float_batches())
    seen_at_eval = []

    def eval_batches():
        clean = _float_batches(seed=1)
        while True:
            seen_at_eval.append(len(train.pulled))
            yield next(clean)

    task = training.TrainTask(train, tl.WeightedCategoryCrossEntropy(),
                              trax.optimizers.Adam(0.01),
                              n_steps_per_checkpoint=7)
    eval_task = training.EvalTask(eval_batches(),
                                  [tl.WeightedCategoryAccuracy()],
                                  n_eval_batches=2)
    with contextlib.redirect_stdout(io.StringIO()):
        loop = training.Loop(tl.Serial(tl.Dense(2), tl.LogSoftmax()), task,
                             eval_tasks=[eval_task], random_seed=0,
                             prefetch_batches=4)
        seen_at_eval.clear()  # The EvalTask's sample batch.
        loop.run(15)
    # Sample batch + one batch per step: 1 + step pulled at each eval.
    assert seen_at_eval == [2, 2, 8, 8, 15, 15]
    assert len(train.pulled) == 16
    assert loop.data_wait_seconds >= 0.0


@pytest.mark.parametrize("prefetch_batches", [0, 64])
def test_prefetch_does_not_change_training(prefetch_batches):
    loop = _small_loop(steps_per_checkpoint=5)
    loop._prefetch_batches = prefetch_batches  # pylint: disable=protected-access
    _quiet_run(loop, 12)
    reference = _small_loop(steps_per_checkpoint=5)
    reference._prefetch_batches = 0  # pylint: disable=protected-access
    _quiet_run(reference, 12)
    for a, b in zip(jax.tree_util.tree_leaves(loop.train_state.params),
                    jax.tree_util.tree_leaves(reference.train_state.params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_step_log_is_also_written_to_output_dir(oracle_run):
    log_txt = (oracle_run["output_dir"] / training.LOG_FILE_NAME).read_text()
    assert trax_step_lines(log_txt) == trax_step_lines(oracle_run["stdout"])
    assert len(trax_step_lines(log_txt)) == 21


def test_log_file_appends_across_runs(tmp_path):
    loop = _small_loop(output_dir=str(tmp_path))
    first = _quiet_run(loop, 2)
    second = _quiet_run(loop, 2)
    text = (tmp_path / training.LOG_FILE_NAME).read_text()
    assert text == first + second
    assert "Step      2:" in text and "Step      4:" in text


def test_init_from_file_loads_the_loops_checkpoint(tmp_path):
    loop = _small_loop(output_dir=str(tmp_path))
    _quiet_run(loop, 4)
    x = np.random.RandomState(3).randn(5, 3).astype(np.float32)
    fresh = tl.Serial(tl.Dense(2), tl.LogSoftmax())
    fresh.init_from_file(str(tmp_path), weights_only=True,
                         input_signature=trax.shapes.signature(x))
    np.testing.assert_array_equal(fresh(x), loop.model(x))
    # One step's directory works too; a path without checkpoints does not.
    other = tl.Serial(tl.Dense(2), tl.LogSoftmax())
    other.init_from_file(str(tmp_path / "checkpoints" / "4"),
                         input_signature=trax.shapes.signature(x))
    np.testing.assert_array_equal(other(x), loop.model(x))
    with pytest.raises(FileNotFoundError) as err:
        other.init_from_file(str(tmp_path / "nothing_here"))
    assert "No checkpoint found" in str(err.value)
