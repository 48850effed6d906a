"""One job per output directory."""

import contextlib
import io
import json
import os
import socket
import subprocess
import sys

import pytest

import trax_compat as trax
from trax_compat import layers as tl
from trax_compat.supervised import output_lock
from trax_compat.supervised import training
from tests.conftest import REPO, float_batches

_HOLDER = """
import sys
from trax_compat.supervised import output_lock
lock = output_lock.OutputDirLock(sys.argv[1])
print("locked", flush=True)
sys.stdin.readline()
"""


@pytest.fixture
def holder(tmp_path):
    """Another process holding ``tmp_path/out``'s lock until the test ends."""
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(out)],
                            cwd=REPO, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    yield out, proc
    proc.stdin.close()
    proc.wait(timeout=60)


def _loop(output_dir):
    task = training.TrainTask(float_batches(), tl.WeightedCategoryCrossEntropy(),
                              trax.optimizers.Adam(0.01))
    with contextlib.redirect_stdout(io.StringIO()):
        return training.Loop(tl.Serial(tl.Dense(2), tl.LogSoftmax()), task,
                             output_dir=output_dir)


def test_a_second_loop_fails_at_once_naming_the_holder(holder):
    out, proc = holder
    before = sorted(os.listdir(out))
    with pytest.raises(output_lock.OutputDirLockedError) as err:
        _loop(str(out))
    message = str(err.value)
    assert f"process {proc.pid} on host {socket.gethostname()}" in message
    assert str(out) in message and "another output directory" in message
    assert sorted(os.listdir(out)) == before  # nothing created or touched


def test_a_second_main_job_exits_with_one_line(holder, tmp_path):
    out, proc = holder
    result = subprocess.run(
        [sys.executable, "-m", "train.sentiment", "--output-dir", str(out),
         "--steps", "1"], cwd=REPO, capture_output=True, text=True,
        timeout=300)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert f"is in use by process {proc.pid}" in lines[0]
    assert sorted(os.listdir(out)) == [output_lock.LOCK_FILE_NAME]


def test_a_dead_holders_lock_is_taken_over_and_said(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    pid = int(dead.stdout)
    (tmp_path / output_lock.LOCK_FILE_NAME).write_text(json.dumps(
        {"pid": pid, "host": socket.gethostname(), "started": 0,
         "command": "python -m train.sentiment"}))
    said = []
    lock = output_lock.OutputDirLock(str(tmp_path), say=said.append)
    assert len(said) == 1
    assert f"Taking over the lock of process {pid}" in said[0]
    assert "no longer running" in said[0]
    info = json.loads((tmp_path / output_lock.LOCK_FILE_NAME).read_text())
    assert info["pid"] == os.getpid()
    lock.release()
    assert not (tmp_path / output_lock.LOCK_FILE_NAME).exists()


def test_loops_of_one_process_share_the_lock_until_closed(tmp_path):
    first = _loop(str(tmp_path))
    second = _loop(str(tmp_path))  # e.g. a new Loop resuming the first
    lock_file = tmp_path / output_lock.LOCK_FILE_NAME
    first.close()
    assert lock_file.exists()
    second.close()
    assert not lock_file.exists()
    # Released: another process may take it now.
    taken = subprocess.run(
        [sys.executable, "-c", "import sys; from trax_compat.supervised "
         "import output_lock; output_lock.OutputDirLock(sys.argv[1]); "
         "print('ok')", str(tmp_path)], cwd=REPO, capture_output=True,
        text=True, timeout=60)
    assert taken.stdout.strip() == "ok", taken.stderr
