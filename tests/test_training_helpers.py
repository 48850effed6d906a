"""Trax's small helpers in ``trax.supervised.training`` against real Trax
(trax_oracle/training_helpers, see tests/testdata/README.md): pickles real
Trax wrote with ``pickle_to_file`` (plain and gzipped) read back by
``unpickle_from_file``, ours read back the same way, and
``init_host_and_devices``' results and seeding."""

import random

import numpy as np
import pytest

from trax_compat import shapes
from trax_compat.supervised import training

from conftest import ORACLE
from conftest import load_oracle_json

FOLDER = ORACLE / "training_helpers"


def _check_object(obj):
    assert sorted(obj) == ["name", "signature", "step", "weights"]
    array, (scalar, none) = obj["weights"]
    np.testing.assert_array_equal(
        array, np.arange(6, dtype=np.float32).reshape(2, 3), strict=True)
    assert scalar == 7 and scalar.dtype == np.int32 and none is None
    assert isinstance(obj["signature"], shapes.ShapeDtype)
    assert obj["signature"].shape == (2, 3)
    assert np.dtype(obj["signature"].dtype) == np.float32
    assert (obj["step"], obj["name"]) == (12, "model")


@pytest.mark.parametrize("name,zipped", [("plain.pkl", False),
                                         ("zipped.pkl.gz", True)])
def test_pickles_real_trax_wrote_load(name, zipped):
    _check_object(training.unpickle_from_file(str(FOLDER / name),
                                              gzip=zipped))


@pytest.mark.parametrize("zipped", [False, True])
def test_our_pickles_load_back_and_replace_atomically(tmp_path, zipped):
    trax_obj = training.unpickle_from_file(str(FOLDER / "plain.pkl"))
    path = str(tmp_path / "obj.pkl")
    training.pickle_to_file({"old": 1}, path, gzip=zipped)
    training.pickle_to_file(trax_obj, path, gzip=zipped)
    _check_object(training.unpickle_from_file(path, gzip=zipped))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["obj.pkl"]
    with open(path, "rb") as f:
        assert (f.read(2) == b"\x1f\x8b") == zipped


@pytest.mark.parametrize("n_devices,seed", [(None, 3), (1, 11)])
def test_init_host_and_devices_is_trax_s(n_devices, seed):
    want = load_oracle_json("training_helpers/helpers.json")[
        "init_host_and_devices"][f"{n_devices}/{seed}"]
    is_chief, hosts, devices, rng = training.init_host_and_devices(
        n_devices, seed)
    assert (is_chief, hosts, devices) == (
        want["is_chief"], want["host_count"], want["n_devices"])
    assert np.asarray(rng).tolist() == want["rng"]
    assert random.random() == want["next_python_random"]
    assert float(np.random.rand()) == want["next_numpy_rand"]


def test_init_host_and_devices_wants_every_device():
    with pytest.raises(ValueError, match="n_devices != all devices: 2 != 1"):
        training.init_host_and_devices(2)


def test_a_missing_pickle_is_named(tmp_path):
    path = str(tmp_path / "nope.pkl")
    with pytest.raises(FileNotFoundError, match="nope.pkl does not exist"):
        training.unpickle_from_file(path)
