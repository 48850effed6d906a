"""Ctrl-C: the Loop stays whole and usable; the main job says where it
stopped and exits 130."""

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
from trax_compat.supervised import interrupts
from trax_compat.supervised import training
from tests.conftest import REPO, write_small_corpus


def _batches(interrupt_at=None):
    """Float batches; sends this process SIGINT while producing batch
    ``interrupt_at`` (i.e. inside the data pipeline, mid-step)."""
    rng = np.random.RandomState(0)
    i = 0
    while True:
        if i == interrupt_at:
            os.kill(os.getpid(), signal.SIGINT)
        x = rng.randn(4, 3).astype(np.float32)
        yield x, (x[:, 0] > 0).astype(np.int64), np.ones((4,), np.float32)
        i += 1


def _loop(stream):
    task = training.TrainTask(stream, tl.WeightedCategoryCrossEntropy(),
                              trax.optimizers.Adam(0.01),
                              n_steps_per_checkpoint=5)
    with contextlib.redirect_stdout(io.StringIO()):
        return training.Loop(tl.Serial(tl.Dense(2), tl.LogSoftmax()), task,
                             random_seed=0)


def _run(loop, n):
    with contextlib.redirect_stdout(io.StringIO()):
        loop.run(n)


def test_ctrl_c_lands_between_steps_and_the_loop_goes_on(capsys):
    # Batch 7 is the batch of step 7 (batch 0 is the sample batch).
    loop = _loop(_batches(interrupt_at=7))
    with pytest.raises(KeyboardInterrupt):
        _run(loop, 12)
    assert "stopping after the current step" in capsys.readouterr().err
    # The step whose batch was being produced finished; nothing is deleted.
    assert loop.step == 7 == int(loop.train_state.step)
    leaves = jax.tree_util.tree_leaves(loop.train_state)
    assert not any(getattr(x, "is_deleted", lambda: False)() for x in leaves)
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(
        loop.model(x), loop.model.module.apply(
            {"params": loop.train_state.params}, x))
    # It carries on exactly where an uninterrupted Loop would be.
    _run(loop, 5)
    reference = _loop(_batches())
    _run(reference, 12)
    assert loop.step == 12
    for a, b in zip(jax.tree_util.tree_leaves(loop.train_state.params),
                    jax.tree_util.tree_leaves(reference.train_state.params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_strict_sections_hold_every_interrupt_back():
    guard = interrupts.DeferredInterrupts(notice=None)
    reached = []
    with guard:
        with pytest.raises(KeyboardInterrupt):
            with guard.atomic():
                with guard.atomic(strict=True):
                    os.kill(os.getpid(), signal.SIGINT)
                    os.kill(os.getpid(), signal.SIGINT)
                    reached.append("strict end")
                reached.append("section end")
    assert reached == ["strict end", "section end"]


def test_a_second_ctrl_c_in_a_plain_section_acts_at_once():
    guard = interrupts.DeferredInterrupts(notice=None)
    reached = []
    with guard:
        with pytest.raises(KeyboardInterrupt):
            with guard.atomic():
                os.kill(os.getpid(), signal.SIGINT)
                reached.append("after first")
                os.kill(os.getpid(), signal.SIGINT)
                reached.append("after second")
    assert reached == ["after first"]
    # The previous handler is back.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_main_job_interrupted_says_where_and_exits_130(tmp_path):
    data, evals = write_small_corpus(tmp_path)
    out = tmp_path / "out"
    env = dict(os.environ, TRAX_COMPAT_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "train.sentiment", "--data", str(data),
         "--eval-data", str(evals), "--steps", "1000000",
         "--steps-per-checkpoint", "10", "--output-dir", str(out)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    deadline = time.time() + 240
    log = out / "log.txt"
    while not (log.exists() and "Step     20: eval" in log.read_text()):
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    match = re.search(r"^Interrupted at step (\d+); last checkpoint: step "
                      r"(\d+) in (.+); run the same command to resume\.$",
                      stderr, re.M)
    assert match, stderr
    step, last = int(match.group(1)), int(match.group(2))
    assert match.group(3) == str(out)
    assert step >= 20 and last >= 20 and last % 10 == 0 and last <= step
    assert not (out / "trax_compat.lock").exists()
    assert "Deleted" not in stderr and "donated" not in stderr
    assert stdout.count("Step     20: eval") == 2
