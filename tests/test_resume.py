"""Resumes that change nothing: a Loop (or the main job) stopped at any
moment and resumed logs exactly what an uninterrupted one logs."""

import contextlib
import io
import os
import re
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

import trax_compat as trax
from trax_compat import layers as tl
from trax_compat.supervised import checkpoints
from trax_compat.supervised import training
from tests.conftest import REPO, write_small_corpus

TIMING = re.compile(r"Ran \d+ train steps in [0-9.]+ secs")


def _examples(n, seed):
    rng = np.random.RandomState(seed)
    while True:
        for _ in range(n):
            x = rng.randn(3).astype(np.float32)
            yield x, np.int64(x[0] > 0)


def _pipeline():
    # Shuffle draws from NumPy's global generator, as in Trax, and the two
    # streams share it: only a replay in the original order restores it.
    return trax.data.Serial(trax.data.Shuffle(queue_size=8),
                            trax.data.Batch(4), trax.data.AddLossWeights())


def _loop(output_dir, resume_streams="replay", checkpoint_every=4):
    np.random.seed(5)
    train = _pipeline()(_examples(50, 0))
    evals = _pipeline()(_examples(30, 1))
    task = training.TrainTask(train, tl.WeightedCategoryCrossEntropy(),
                              trax.optimizers.Adam(0.01),
                              n_steps_per_checkpoint=checkpoint_every)
    eval_task = training.EvalTask(evals, [tl.WeightedCategoryAccuracy(),
                                          tl.WeightedCategoryCrossEntropy()],
                                  n_eval_batches=3)
    with contextlib.redirect_stdout(io.StringIO()):
        return training.Loop(tl.Serial(tl.Dense(2), tl.LogSoftmax()), task,
                             eval_tasks=[eval_task], output_dir=output_dir,
                             random_seed=0, resume_streams=resume_streams)


def _run(loop, n):
    with contextlib.redirect_stdout(io.StringIO()):
        loop.run(n)


def _values(log_text):
    return [TIMING.sub("Ran", line) for line in log_text.splitlines()]


def _leaves(loop):
    return [np.asarray(x) for x in
            jax.tree_util.tree_leaves(loop.train_state.params)]


def _whole_and_resumed(tmp_path, make, total, stop_after, resumed_at):
    """A Loop run for ``total`` steps, and one stopped after ``stop_after``
    steps, resumed by a new Loop (from step ``resumed_at``) to ``total``."""
    whole = make(str(tmp_path / "whole"))
    _run(whole, total)
    whole.close()
    first = make(str(tmp_path / "split"))
    _run(first, stop_after)
    first.close()
    resumed = make(str(tmp_path / "split"))
    assert resumed.step == resumed_at
    _run(resumed, total - resumed_at)
    resumed.close()
    return whole, resumed


def _history(loop):
    # Steps per second is a timing.
    return {k: v for k, v in loop.history.to_dict().items()
            if k != "train/training/steps per second"}


def _log(tmp_path, name):
    return (tmp_path / name / training.LOG_FILE_NAME).read_text()


def test_replayed_resume_equals_an_uninterrupted_run(tmp_path):
    # Checkpoint at step 4; steps 5-6 are lost.
    whole, resumed = _whole_and_resumed(tmp_path, _loop, 12, 6, 4)
    log = lambda d: _log(tmp_path, d)
    assert _values(log("split")) == _values(log("whole"))
    assert len(re.findall(r"^Step      8: eval", log("split"), re.M)) == 2
    for a, b in zip(_leaves(resumed), _leaves(whole)):
        np.testing.assert_array_equal(a, b)
    assert _history(resumed) == _history(whole)


def test_restart_is_trax_behaviour_and_differs(tmp_path):
    whole, resumed = _whole_and_resumed(
        tmp_path, lambda out: _loop(out, resume_streams="restart"), 8, 4, 4)
    assert resumed.step == 8
    assert any(not np.array_equal(a, b)
               for a, b in zip(_leaves(resumed), _leaves(whole)))
    assert resumed.replay_seconds == 0.0


def test_resume_between_reports_keeps_the_running_totals(tmp_path):
    """A checkpoint between two reports carries the loss sums: the next
    report is the same as without the stop."""
    def make(out):
        loop = _loop(out, checkpoint_every=5)
        loop._checkpoint_at = lambda step: step % 3 == 0  # pylint: disable=protected-access
        return loop
    _whole_and_resumed(tmp_path, make, 10, 7, 6)
    assert _values(_log(tmp_path, "split")) == _values(_log(tmp_path, "whole"))


def test_unknown_resume_mode_is_rejected():
    with pytest.raises(ValueError, match="resume_streams"):
        training.Loop(tl.Serial(tl.Dense(2), tl.LogSoftmax()),
                      training.TrainTask(
                          _pipeline()(_examples(10, 0)),
                          tl.WeightedCategoryCrossEntropy(),
                          trax.optimizers.Adam(0.01)),
                      resume_streams="rewind")


# -- the main job, stopped (kill -9, Ctrl-C) and rerun ---------------------------

@pytest.fixture(scope="module")
def job_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("job")
    train, evals = write_small_corpus(root)
    env = dict(os.environ, TRAX_COMPAT_CACHE_DIR=str(root / "cache"))
    env.pop("TRAX_COMPAT_VOCAB_DIR", None)
    return train, evals, env


def _job_command(job_files, out, steps):
    train, evals, _ = job_files
    return [sys.executable, "-m", "train.sentiment", "--data", str(train),
            "--eval-data", str(evals), "--steps", str(steps),
            "--steps-per-checkpoint", "10", "--output-dir", str(out)]


def _wait_for(path, pattern, proc, timeout=240):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists() and re.search(pattern, path.read_text(), re.M):
            return
        if proc.poll() is not None:
            raise AssertionError(f"the job ended early: {proc.returncode}")
        time.sleep(0.05)
    raise AssertionError(f"{pattern!r} never appeared in {path}")


JOB_STEPS = 60


@pytest.fixture(scope="module")
def whole_job(job_files, tmp_path_factory):
    """The output dir of the job run once without a stop."""
    whole = tmp_path_factory.mktemp("whole") / "out"
    _, _, env = job_files
    subprocess.run(_job_command(job_files, whole, JOB_STEPS), cwd=REPO,
                   env=env, check=True, capture_output=True, timeout=300)
    return whole


def _stopped_after(step, job_files, split, how):
    """Starts the job and stops it with signal ``how`` right after
    ``step``'s eval is logged: its checkpoint may or may not be committed
    yet; either way nothing may repeat or change. Returns the exit status
    and stderr."""
    _, _, env = job_files
    stderr = split.parent / f"{split.name}.stderr"
    with open(stderr, "w") as f:
        proc = subprocess.Popen(_job_command(job_files, split, JOB_STEPS),
                                cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                stderr=f)
        _wait_for(split / "log.txt",
                  rf"^Step {step:6d}: eval +WeightedCategoryAcc", proc)
        proc.send_signal(how)
        proc.wait(timeout=120)
    return proc.returncode, stderr.read_text()


def _rerun_completes_like_the_whole_job(job_files, split, whole):
    """Reruns the same command; returns its stdout once it is checked to
    have logged and trained exactly as the uninterrupted job."""
    _, _, env = job_files
    rerun = subprocess.run(_job_command(job_files, split, JOB_STEPS),
                           cwd=REPO, env=env, capture_output=True, text=True,
                           timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert "Resuming from the checkpoint of step" in rerun.stdout

    log = lambda d: (d / "log.txt").read_text()
    assert _values(log(split)) == _values(log(whole))
    steps_logged = re.findall(r"^Step +(\d+): Ran", log(split), re.M)
    assert steps_logged == ["1", "10", "20", "30", "40", "50", "60"]
    for out in (whole, split):
        assert checkpoints.committed_steps(str(out / "checkpoints"))[-1] == 60
    a, _ = checkpoints.load_model_params(str(whole))
    b, _ = checkpoints.load_model_params(str(split))
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_array_equal(x, y)
    # The same prediction at the end, too.
    last_line = lambda text: text.strip().splitlines()[-1]
    assert last_line(rerun.stdout).startswith(
        "Model returned sentiment probabilities")
    return rerun.stdout


def test_job_killed_and_rerun_logs_what_an_uninterrupted_job_logs(
        job_files, whole_job, tmp_path):
    split = tmp_path / "split"
    _stopped_after(30, job_files, split, signal.SIGKILL)
    assert (split / "trax_compat.lock").exists()  # kill -9 leaves it behind
    stdout = _rerun_completes_like_the_whole_job(job_files, split, whole_job)
    assert "Taking over the lock of process" in stdout
    # The previous handler is back.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_job_interrupted_and_rerun_logs_what_an_uninterrupted_job_logs(
        job_files, whole_job, tmp_path):
    split = tmp_path / "split"
    # Early enough that the 40 steps left outlast the signal's delivery.
    returncode, stderr = _stopped_after(20, job_files, split, signal.SIGINT)
    assert returncode == 130, stderr
    assert re.search(r"^Interrupted at step \d+; .* run the same command "
                     r"to resume\.$", stderr, re.M), stderr
    assert not (split / "trax_compat.lock").exists()
    # The log ends where the stop was; the rerun logs no step twice.
    assert int(re.findall(r"^Step +(\d+):", (split / "log.txt").read_text(),
                          re.M)[-1]) < JOB_STEPS
    stdout = _rerun_completes_like_the_whole_job(job_files, split, whole_job)
    assert "Taking over the lock" not in stdout
