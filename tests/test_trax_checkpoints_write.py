"""``Loop(checkpoint_format='trax')`` writes Trax's own checkpoint files:
real Trax reads them (``written_by_us.json``, recorded with real Trax from
files this test's ``write_ours`` makes), and Trax -> ours -> Trax is
bitwise."""

import contextlib
import gzip
import io
import json
import pathlib
import shutil

import jax
import numpy as np
import pytest

from trax_compat import layers as tl
from trax_compat.supervised import training
from trax_compat.supervised import trax_checkpoint as tc

import test_trax_checkpoints_resume as resume_test

DATA = pathlib.Path(__file__).parent / "testdata" / "trax_oracle" / "checkpoints"
READ_BY_TRAX = json.loads((DATA / "written_by_us.json").read_text())
TRAX_RESUME = np.load(DATA / "resume" / "resume.npz")


def arr(record):
    return np.asarray(record["data"], dtype=record["dtype"])


def write_ours(output_dir):
    """The files given to real Trax: the resume run's first Loop, ours,
    writing Trax's format."""
    loop, _ = resume_test._loop(output_dir, checkpoint_format="trax")  # pylint: disable=protected-access
    with contextlib.redirect_stdout(io.StringIO()):
        loop.run(10)
    loop.close()
    return loop


def test_real_trax_reads_what_the_loop_writes(tmp_path):
    out = tmp_path / "ours"
    write_ours(out)
    for name in ("model.pkl.gz", "model.weights.npy.gz",
                 "model.opt_slots0.npy.gz"):
        assert (out / name).is_file(), name
    assert not list((out / "checkpoints").glob("*"))  # no Orbax steps
    ckpt = tc.read(out / "model.pkl.gz")
    assert ckpt.step == READ_BY_TRAX["loop_step"] == 8
    x = np.random.default_rng(7).standard_normal((3, 8)).astype(np.float32)
    model = tl.Serial(tl.Dense(16), tl.Relu(), tl.Dense(2), tl.LogSoftmax())
    model.init_from_file(str(out / "model.pkl.gz"), weights_only=True)
    np.testing.assert_allclose(np.asarray(model(x)),
                               arr(READ_BY_TRAX["init_from_file_outputs"]),
                               atol=1e-6)
    np.testing.assert_allclose(np.asarray(model(x)),
                               arr(READ_BY_TRAX["loop_outputs"]), atol=1e-6)
    for got, want in zip(ckpt.slots_per_task[0], READ_BY_TRAX["loop_slots"]):
        # Eight Adam steps: the last bits follow the CPU's vector
        # instructions (Trax's numbers were made on another CPU).
        np.testing.assert_allclose(got, arr(want), rtol=2e-5, atol=1e-9)
    for key, pairs in READ_BY_TRAX["loop_history"].items():
        mode, metric = key.split("/", 1)
        got = ckpt.history.get(mode, metric)
        assert [s for s, _ in got] == [s for s, _ in pairs], key
        np.testing.assert_allclose([float(v) for _, v in got],
                                   [v for _, v in pairs], rtol=1e-6)
    # Real Trax, trained on from our files, continued as from its own.
    assert READ_BY_TRAX["loop_step_after_run"] == 13
    for i, w in enumerate(READ_BY_TRAX["loop_final_weights"]):
        resume_test._close(arr(w), TRAX_RESUME[f"final_weights/{i}"])  # pylint: disable=protected-access

    # Our Loop resumes from its own Trax-format files without converting.
    loop, said = resume_test._loop(out, checkpoint_format="trax")  # pylint: disable=protected-access
    assert loop.step == 8 and "Converted" not in said
    with contextlib.redirect_stdout(io.StringIO()):
        loop.run(5)
    for i, got in enumerate(jax.tree_util.tree_leaves(loop.model.weights)):
        resume_test._close(np.asarray(got), TRAX_RESUME[f"final_weights/{i}"])  # pylint: disable=protected-access
    assert tc.read(out / "model.pkl.gz").step == 12
    loop.close()


def _npy(path):
    return tc.read_npy_stream(str(path), bits_to_bfloat16=False)


def test_trax_to_ours_to_trax_is_bitwise(tmp_path):
    out = tmp_path / "run"
    shutil.copytree(DATA / "resume" / "output_dir", out)
    loop, _ = resume_test._loop(out, checkpoint_format="trax")  # pylint: disable=protected-access
    loop.save_checkpoint("copy")
    loop.close()
    for suffix in ("weights.npy.gz", "opt_slots0.npy.gz"):
        original, copy = _npy(out / f"model.{suffix}"), _npy(out / f"copy.{suffix}")
        assert len(original) == len(copy)
        for a, b in zip(original, copy):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
    original = tc.read(out / "model.pkl.gz")
    copy = tc.read(out / "copy.pkl.gz")
    assert copy.step == original.step and copy.format == "loop"
    assert copy.input_signature == original.input_signature
    for mode in original.history.modes:
        for metric in original.history.metrics_for_mode(mode):
            assert [(s, float(v)) for s, v in copy.history.get(mode, metric)] \
                == [(s, float(v)) for s, v in original.history.get(mode, metric)]
    # The pickle names only what Trax's own pickles name.
    raw = gzip.decompress((out / "copy.pkl.gz").read_bytes())
    assert b"trax_compat" not in raw and b"numpy._core" not in raw


def _bf16_stream():
    rng = np.random.default_rng(3)
    while True:
        x = rng.standard_normal((4, 8)).astype(np.float32)
        y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
        yield x, y, np.ones((4,), np.float32)


def write_ours_bfloat16(output_dir):
    """The bfloat16 files given to real Trax (``--ours-bfloat16``)."""
    import trax_compat as trax  # pylint: disable=g-import-not-at-top
    task = training.TrainTask(_bf16_stream(),
                              tl.WeightedCategoryCrossEntropy(),
                              trax.optimizers.Adam(0.01),
                              n_steps_per_checkpoint=2)
    model = tl.Serial(tl.Dense(4, use_bfloat16=True), tl.Relu(),
                      tl.Dense(2, use_bfloat16=True), tl.LogSoftmax())
    with contextlib.redirect_stdout(io.StringIO()):
        loop = training.Loop(model, task, output_dir=str(output_dir),
                             random_seed=0, checkpoint_format="trax")
        loop.run(2)
    loop.close()
    return loop


def test_bfloat16_weights_are_written_as_bits(tmp_path):
    loop = write_ours_bfloat16(tmp_path)
    raw = _npy(tmp_path / "model.weights.npy.gz")
    assert [a.dtype for a in raw] == [np.uint16] * 4
    restored = tc.read(tmp_path / "model.pkl.gz").flat_weights
    for got, want in zip(restored, jax.tree_util.tree_leaves(
            loop.model.weights)):
        np.testing.assert_array_equal(got, np.asarray(want))
    # Real Trax's Loop restored these files as bfloat16, same outputs.
    trax_read = READ_BY_TRAX["bfloat16"]
    assert trax_read["step"] == loop.step == 2
    assert trax_read["weight_dtypes"] == ["bfloat16"] * 4
    x = np.random.default_rng(7).standard_normal((3, 8)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(loop.model(x)).astype(np.float32),
                               arr(trax_read["outputs"]), atol=1e-6)


def test_unknown_checkpoint_format_is_refused():
    with pytest.raises(ValueError, match="checkpoint_format"):
        resume_test._loop(None, checkpoint_format="pickle")  # pylint: disable=protected-access


def test_load_checkpoint_reads_trax_files(tmp_path):
    # Trax's Loop.load_checkpoint(directory, filename) on Trax's files.
    loop, _ = resume_test._loop(None)  # pylint: disable=protected-access
    loop.load_checkpoint(directory=str(DATA / "resume" / "output_dir"),
                         filename="model")
    assert loop.step == 8
    ckpt = tc.read(DATA / "resume" / "output_dir" / "model.pkl.gz")
    for got, want in zip(jax.tree_util.tree_leaves(loop.model.weights),
                         ckpt.flat_weights):
        np.testing.assert_array_equal(np.asarray(got), want)
    del tmp_path
