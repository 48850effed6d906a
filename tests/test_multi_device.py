"""Data-parallel Loops on several devices (``supervised/sharding.py``).

The device count is fixed when JAX starts, so the Loops on 1, 2, 4 and 8
simulated CPU devices run in one subprocess (``tests/multi_device_script.py``)
that prints what they logged; this file compares them. The pure helpers are
tested here directly.
"""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

import trax_compat as trax
from trax_compat import layers as tl
from trax_compat.supervised import output_lock
from trax_compat.supervised import sharding
from trax_compat.supervised import training

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    env = dict(os.environ, JAX_PLATFORMS="cpu",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("XLA_FLAGS", None)
    proc = subprocess.run(
        [sys.executable, "-m", "tests.multi_device_script",
         str(tmp_path_factory.mktemp("multi_device"))],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
        check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def assert_same_log(actual, expected, abs_tolerance=1e-6):
    assert sorted(actual) == sorted(expected)
    for key, value in expected.items():
        assert actual[key] == pytest.approx(value, rel=2e-6,
                                            abs=abs_tolerance), key


def test_simulated_devices_and_n_devices(runs):
    assert runs["device_count"] == 8
    # None: every device; k: the first k.
    assert runs["n_devices"] == {"None": 8, "1": 1, "3": 3}


def test_seed_model_logs_match_one_device(runs):
    one = runs["seed"]["1"]
    assert len(one) == 6  # train loss, two eval metrics at steps 1 and 2
    for n in ("2", "4", "8"):
        assert_same_log(runs["seed"][n], one)


def test_transformer_lm_trains_as_on_one_device(runs):
    # Its trained weights (sum and sum of magnitudes of each array), with
    # dropout on: the keys give the same masks however the batch is split.
    one = runs["lm"]["1"]
    assert len(one) > 10
    assert_same_log(runs["lm"]["8"], one, abs_tolerance=1e-5)


def test_padded_tutorial_bucket_sizes_match_one_device(runs):
    # Batches of 1, 5 and 10 padded to 4, 8 and 12 rows of weight 0.
    one = runs["padded"]["1"]
    assert len(one) == 9
    assert_same_log(runs["padded"]["4"], one)


def test_checkpoint_of_two_devices_resumes_on_four(runs):
    assert runs["resumed_at"] == 1
    assert_same_log(runs["resume_2_then_4"], runs["seed"]["1"])


def test_errors(runs):
    errors = runs["errors"]
    # Trax's words (its reshape_by_device), then the batch and the fixes.
    assert errors["indivisible"].startswith(
        "BatchSizeError: Number of devices (4) does not evenly divide batch "
        "size (6): the training batch of step 1 has items of shapes")
    assert "[(6, 10), (6,), (6,)]" in errors["indivisible"]
    assert "pad_batches=True" in errors["indivisible"]
    assert errors["too_many"].startswith(
        "ValueError: JAX cannot work yet with n_devices != all devices: "
        "9 != 8.")
    assert "no weights item" in errors["pad_without_weights"]


def test_resolve_n_devices():
    assert sharding.resolve_n_devices(None, available=4) == 4
    assert sharding.resolve_n_devices(2, available=4) == 2
    with pytest.raises(ValueError, match="this host has 4 device"):
        sharding.resolve_n_devices(5, available=4)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="positive int or None"):
            sharding.resolve_n_devices(bad, available=4)


def test_pad_rows_adds_zero_weight_rows():
    batch = (np.ones((5, 3), np.int32), np.ones((5,), np.int32),
             np.ones((5,), np.float32))
    padded = sharding.pad_rows(batch, 4, n_model_inputs=1)
    assert [x.shape[0] for x in padded] == [8, 8, 8]
    assert [x.dtype for x in padded] == [x.dtype for x in batch]
    np.testing.assert_array_equal(padded[2], [1] * 5 + [0] * 3)
    np.testing.assert_array_equal(padded[0][5:], 0)
    assert sharding.pad_rows(batch, 5, n_model_inputs=1) == batch
    with pytest.raises(sharding.BatchSizeError, match="no weights item"):
        sharding.pad_rows(batch[:2], 4, n_model_inputs=1)


def test_check_divisible_names_shape_count_and_fix():
    batch = (np.zeros((6, 2)), np.zeros((6,)))
    sharding.check_divisible(batch, 3)
    with pytest.raises(sharding.BatchSizeError) as e:
        sharding.check_divisible(batch, 4)
    message = str(e.value)
    assert "Number of devices (4)" in message and "(6, 2)" in message
    assert "pad_batches=True" in message


class _FakeDevice:
    def __init__(self, process_index, device_id):
        self.process_index = process_index
        self.id = device_id


def test_mesh_takes_the_first_devices_of_every_process(monkeypatch):
    devices = [_FakeDevice(p, 10 * p + i) for p in (1, 0) for i in (2, 0, 1)]
    monkeypatch.setattr(jax, "process_count", lambda: 2)
    monkeypatch.setattr(jax, "devices", lambda: devices)
    assert [(d.process_index, d.id) for d in sharding.mesh_devices(2)] == [
        (0, 0), (0, 1), (1, 10), (1, 11)]


def _tiny_loop(output_dir):
    def batches():
        rng = np.random.RandomState(0)
        while True:
            yield (rng.randint(1, 9, size=(4, 3)).astype(np.int32),
                   rng.randint(0, 2, size=(4,)).astype(np.int32),
                   np.ones((4,), np.float32))
    model = tl.Serial(tl.Embedding(9, 4), tl.Mean(axis=1), tl.Dense(2),
                      tl.LogSoftmax())
    task = training.TrainTask(batches(), tl.WeightedCategoryCrossEntropy(),
                              trax.optimizers.SGD(0.1),
                              n_steps_per_checkpoint=2)
    eval_task = training.EvalTask(batches(), [tl.WeightedCategoryAccuracy()])
    return training.Loop(model, task, eval_tasks=[eval_task],
                         output_dir=str(output_dir), random_seed=0)


def test_only_process_0_logs_and_locks(tmp_path, monkeypatch, capsys):
    # Process 1 of a job: it trains and checkpoints, and writes nothing else.
    monkeypatch.setattr(sharding, "is_chief", lambda: False)
    loop = _tiny_loop(tmp_path / "process1")
    assert not loop.is_chief
    lock = tmp_path / "process1" / output_lock.LOCK_FILE_NAME
    assert not lock.exists()  # On a shared disk, process 0's lock.
    loop.run(2)
    loop.close()
    assert "Step" not in capsys.readouterr().out
    assert sorted(os.listdir(tmp_path / "process1")) == ["checkpoints"]
    assert loop.history.get("eval", "metrics/WeightedCategoryAccuracy")

    monkeypatch.setattr(sharding, "is_chief", lambda: True)
    loop = _tiny_loop(tmp_path / "process0")
    assert (tmp_path / "process0" / output_lock.LOCK_FILE_NAME).exists()
    loop.run(2)
    loop.close()
    assert "Step      2: eval" in capsys.readouterr().out
    assert {"log.txt", "train", "eval", "checkpoints"} <= set(
        os.listdir(tmp_path / "process0"))
