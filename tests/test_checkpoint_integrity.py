"""Checkpoints that are verified when read, replaced atomically, and read
without side effects."""

import contextlib
import io
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import trax_compat as trax
from trax_compat import layers as tl
from trax_compat.supervised import checkpoints
from trax_compat.supervised import training
from tests.conftest import float_batches


def _loop(output_dir, seed=0):
    task = training.TrainTask(float_batches(seed=seed), tl.WeightedCategoryCrossEntropy(),
                              trax.optimizers.Adam(0.01),
                              n_steps_per_checkpoint=2)
    with contextlib.redirect_stdout(io.StringIO()):
        return training.Loop(tl.Serial(tl.Dense(2), tl.LogSoftmax()), task,
                             output_dir=output_dir, random_seed=0)


def _run(loop, n):
    with contextlib.redirect_stdout(io.StringIO()):
        loop.run(n)


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


def _data_files(step_dir):
    return sorted(p for p in step_dir.rglob("*")
                  if p.is_file() and p.parent.name == "d")


def _flip_bytes(path):
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 8):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.fixture
def trained(tmp_path):
    loop = _loop(str(tmp_path))
    _run(loop, 4)
    params_at_4 = _leaves(loop.train_state.params)
    loop.close()
    return tmp_path, params_at_4


def _rewrite_in_earlier_layout(ckpts):
    """Each step as the first release wrote it: ``<step>/default/``, the
    state without totals, no metadata and no checksums."""
    ocp = checkpoints._ocp()  # pylint: disable=protected-access
    for step in checkpoints.committed_steps(str(ckpts)):
        state = checkpoints.restore_named(str(ckpts / str(step)), None).state
        shutil.rmtree(ckpts / str(step))
        with ocp.CheckpointManager(str(ckpts)) as manager:
            manager.save(step, args=ocp.args.StandardSave(
                {k: state[k] for k in ("params", "opt_state", "step")}),
                force=True)
            manager.wait_until_finished()
        names = os.listdir(ckpts / str(step))
        assert "default" in names and "state" not in names, names


def test_a_checkpoint_of_the_earlier_layout_resumes(trained):
    out, params_at_4 = trained
    _rewrite_in_earlier_layout(out / "checkpoints")
    resumed = _loop(str(out))
    assert resumed.step == 4
    for a, b in zip(_leaves(resumed.train_state.params), params_at_4):
        np.testing.assert_array_equal(a, b)
    resumed.close()


@pytest.mark.parametrize("layout", ["state", "default"])
@pytest.mark.parametrize("damage", ["flip", "truncate", "valid_but_wrong"])
def test_damaged_newest_checkpoint_falls_back_and_is_kept(trained,
                                                          monkeypatch,
                                                          damage, layout):
    out, _ = trained
    if layout == "default":
        _rewrite_in_earlier_layout(out / "checkpoints")
    step4 = out / "checkpoints" / "4"
    sizes = {p: p.stat().st_size for p in _data_files(step4)}
    if damage == "valid_but_wrong":
        # Arrays Orbax reads back without complaint, yet not the ones that
        # were saved (as a flipped bit in raw data would be): only the
        # checksums recorded at save time (or, in the earlier layout, the
        # step stored inside) can tell.
        shutil.rmtree(step4 / layout)
        shutil.copytree(out / "checkpoints" / "2" / layout, step4 / layout)
    for path in _data_files(step4) if damage != "valid_but_wrong" else []:
        if damage == "flip":
            _flip_bytes(path)
        else:
            path.write_bytes(path.read_bytes()[:-7])
    if damage == "flip":
        assert {p: p.stat().st_size for p in _data_files(step4)} == sizes
    said = []
    monkeypatch.setattr(training, "_log", said.append)
    resumed = _loop(str(out))
    assert resumed.step == 2
    assert len(said) == 1 and "Skipped damaged checkpoint(s) (step 4:" in said[0]
    assert "resumed from the newest intact one, step 2" in said[0]
    if damage == "valid_but_wrong":
        assert ("checksum mismatch in opt_state/count" if layout == "state"
                else "it holds the state of step 2, not 4") in said[0]
    assert (out / "checkpoints" / "4.damaged").is_dir()  # never deleted
    # Training writes step 4 again, and it verifies.
    _run(resumed, 2)
    resumed.close()
    assert checkpoints.committed_steps(str(out / "checkpoints")) == [1, 2, 4]
    restored = checkpoints.restore_latest_intact(
        str(out / "checkpoints"), None)
    assert restored.step == 4 and not restored.skipped


def test_every_checkpoint_damaged_is_an_error_naming_them(trained):
    out, _ = trained
    for step in ("1", "2", "4"):
        for path in _data_files(out / "checkpoints" / step):
            _flip_bytes(path)
    with pytest.raises(checkpoints.DamagedCheckpointError) as err:
        _loop(str(out))
    message = str(err.value)
    for step in (4, 2, 1):
        assert f"step {step}: unreadable (ValueError: DATA_LOSS" in message
    assert "Move them away" in message
    assert checkpoints.committed_steps(str(out / "checkpoints")) == [1, 2, 4]


def test_save_at_an_existing_step_replaces_it_and_is_committed(trained):
    out, params_at_4 = trained
    loop = _loop(str(out))
    assert loop.step == 4
    # Change the weights without stepping, then save step 4 again.
    loop._state = loop._state.replace(  # pylint: disable=protected-access
        params=jax.tree_util.tree_map(lambda x: x + 1.0,
                                      loop.train_state.params))
    loop.save_checkpoint()
    # Committed on return: no temporary or leftover directories.
    names = sorted(os.listdir(out / "checkpoints"))
    assert names == ["1", "2", "4"], names
    loop.close()
    restored = checkpoints.restore_latest_intact(
        str(out / "checkpoints"), None)
    assert restored.step == 4
    for new, old in zip(_leaves(restored.state["params"]), params_at_4):
        np.testing.assert_array_equal(new, old + np.float32(1.0))


def test_an_interrupted_replacement_is_put_back(trained):
    out, params_at_4 = trained
    ckpts = out / "checkpoints"
    os.rename(ckpts / "4", ckpts / "4.replaced")  # crash between the renames
    resumed = _loop(str(out))
    assert resumed.step == 4
    for a, b in zip(_leaves(resumed.train_state.params), params_at_4):
        np.testing.assert_array_equal(a, b)
    resumed.close()


def test_load_checkpoint_from_another_directory_only_reads(trained, tmp_path):
    out, params_at_4 = trained
    for path in _data_files(out / "checkpoints" / "4"):
        _flip_bytes(path)
    before = sorted(str(p) for p in out.rglob("*"))
    loop = _loop(None, seed=1)
    with contextlib.redirect_stdout(io.StringIO()) as said:
        loop.load_checkpoint(str(out))
    assert loop.step == 2
    assert "Skipped damaged checkpoint(s) (step 4" in said.getvalue()
    assert sorted(str(p) for p in out.rglob("*")) == before
    # A directory without checkpoints: nothing created, nothing loaded.
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    loop.load_checkpoint(str(empty))
    assert list(empty.iterdir()) == [] and loop.step == 2


def test_checksums_cover_every_array():
    tree = {"a": jnp.arange(3.0), "b": (np.ones(2, np.int32),)}
    sums = checkpoints.checksums(tree)
    assert sorted(sums) == ["a", "b/0"]
    changed = {"a": jnp.arange(3.0).at[1].set(7.0), "b": (np.ones(2, np.int32),)}
    assert checkpoints.checksums(changed)["a"] != sums["a"]
    assert checkpoints.checksums(changed)["b/0"] == sums["b/0"]
    # dtype is part of the sum: the same bytes as another type differ.
    as_float = {"a": jnp.arange(3.0), "b": (np.ones(2, np.int32).view(
        np.float32),)}
    assert checkpoints.checksums(as_float)["b/0"] != sums["b/0"]
