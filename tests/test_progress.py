"""The live progress line: on terminals only, never in the step log."""

import contextlib
import io
import os
import pty
import re
import select
import subprocess
import sys


import trax_compat as trax
from trax_compat import layers as tl
from trax_compat.supervised import progress
from trax_compat.supervised import training
from tests.conftest import REPO, float_batches, write_small_corpus

ERASE = "\r\x1b[K"
PROGRESS = re.compile(r"\r\x1b\[K[^\r\n]*")


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_line_is_drawn_in_place_and_erased():
    term = _Terminal()
    line = progress.TerminalProgress(term, min_interval=0.0)
    line.start(0)
    line.update(5, next_eval=10, last=20)
    drawn = term.getvalue()
    assert drawn.startswith(ERASE) and "\n" not in drawn
    assert re.fullmatch(r"\r\x1b\[KStep 5/20 \| [0-9.]+ steps/s \| next eval "
                        r"in \d+:\d\d:\d\d \| done in \d+:\d\d:\d\d", drawn)
    line.clear()
    assert term.getvalue() == drawn + ERASE
    line.clear()  # Nothing shown: nothing written.
    assert term.getvalue() == drawn + ERASE
    # The next eval is left out once it is the end.
    line.update(15, next_eval=20, last=20)
    assert "next eval" not in term.getvalue()[len(drawn + ERASE):]


def test_redrawn_at_most_every_interval():
    term = _Terminal()
    line = progress.TerminalProgress(term, min_interval=3600)
    line.update(1, None, 10)
    line.update(2, None, 10)
    assert term.getvalue().count(ERASE) == 1


def test_only_for_terminals():
    assert progress.for_stream(io.StringIO()) is None
    assert isinstance(progress.for_stream(_Terminal()),
                      progress.TerminalProgress)


def test_loop_shows_progress_between_log_blocks_only(tmp_path):
    term = _Terminal()
    task = training.TrainTask(float_batches(), tl.WeightedCategoryCrossEntropy(),
                              trax.optimizers.Adam(0.01),
                              n_steps_per_checkpoint=10)
    eval_task = training.EvalTask(float_batches(seed=1),
                                  [tl.WeightedCategoryAccuracy()])
    with contextlib.redirect_stdout(term):
        loop = training.Loop(
            tl.Serial(tl.Dense(2), tl.LogSoftmax()), task,
            eval_tasks=[eval_task], output_dir=str(tmp_path), random_seed=0,
            progress=progress.TerminalProgress(term, min_interval=0.0))
        loop.run(25)
    loop.close()
    shown = term.getvalue()
    assert re.search(r"Step 9/25 \| [0-9.]+ steps/s \| next eval in", shown)
    # Logged steps show the log instead.
    assert "Step 10/25" not in shown and "Step 20/25" not in shown
    # Erased before every log line: without the progress text, the screen
    # holds exactly the step log.
    log = (tmp_path / training.LOG_FILE_NAME).read_text()
    assert "steps/s" not in log and "\x1b" not in log
    assert PROGRESS.sub("", shown) == log


def _job(tmp_path, out, tty):
    data, evals = write_small_corpus(tmp_path)
    command = [sys.executable, "-m", "train.sentiment", "--data", str(data),
               "--eval-data", str(evals), "--steps", "400",
               "--steps-per-checkpoint", "200", "--output-dir", str(out)]
    env = dict(os.environ, TRAX_COMPAT_CACHE_DIR=str(tmp_path / "cache"))
    if not tty:
        return subprocess.run(command, cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=300, check=True).stdout
    master, slave = pty.openpty()
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=slave,
                            stderr=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 300)
        assert ready, "the job printed nothing for 300 s"
        try:
            chunk = os.read(master, 65536)
        except OSError:  # The job closed the terminal.
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert proc.wait(timeout=60) == 0
    return b"".join(chunks).decode("utf-8", "replace")


def test_main_job_on_a_terminal_and_captured(tmp_path):
    screen = _job(tmp_path, tmp_path / "tty", tty=True)
    assert re.search(r"Step \d+/400 \| [0-9.]+ steps/s \| next eval in "
                     r"\d:\d\d:\d\d \| done in \d:\d\d:\d\d", screen)
    log = (tmp_path / "tty" / "log.txt").read_text()
    assert "steps/s" not in log and "\x1b" not in log
    captured = _job(tmp_path, tmp_path / "pipe", tty=False)
    assert "\x1b" not in captured and "steps/s |" not in captured
