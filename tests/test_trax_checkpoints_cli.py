"""``trax-compat inspect`` and ``trax-compat convert`` on real Trax files
and our own checkpoints."""

import contextlib
import gzip
import io
import json
import pathlib

import jax
import numpy as np
import pytest

import trax_compat as trax
from trax_compat import cli
from trax_compat import layers as tl
from trax_compat.supervised import training
from trax_compat.supervised import trax_checkpoint as tc

DATA = pathlib.Path(__file__).parent / "testdata" / "trax_oracle" / "checkpoints"
ORACLE = json.loads(gzip.open(DATA / "checkpoints.json.gz").read())
MODEL = "tl.Serial(tl.Dense(16), tl.Relu(), tl.Dense(2), tl.LogSoftmax())"


def arr(record):
    return np.asarray(record["data"], dtype=record["dtype"])


def _cli(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_inspect_a_trax_checkpoint(capsys):
    code, out, _ = _cli(capsys, "inspect", DATA / "trainer_lib" / "model.pkl.gz")
    assert code == 0
    assert "format trainer_lib (Jun-18-2020)" in out
    assert "step: 5" in out and "0: (8, 4) float32" in out
    assert "optimizer slots (task 0): 8 arrays (2 per weight)" in out
    assert "learning_rate=0.01" in out
    assert "history train/metrics/loss: 1 values" in out
    # A Trax output_dir means its model.pkl.gz.
    code, out, _ = _cli(capsys, "inspect", DATA / "resume" / "output_dir")
    assert code == 0 and "format loop" in out and "step: 8" in out


def test_convert_old_formats_to_the_current_one_bitwise(capsys, tmp_path):
    for src in ("oldest/dict_model.pkl", "oldest/tuple_model.pkl",
                "oldest/sharded/model.pkl.gz", "trainer_lib/model.pkl.gz",
                "bfloat16_loop/model.pkl.gz"):
        dst = tmp_path / "model.pkl.gz"
        code, out, _ = _cli(capsys, "convert", DATA / src, dst)
        assert code == 0 and "Wrote" in out
        before, after = tc.read(DATA / src), tc.read(dst)
        assert after.format == "loop" and after.step == before.step
        for a, b in zip(before.flat_weights + before.slots_per_task[0],
                        after.flat_weights + after.slots_per_task[0]):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))


def test_convert_to_flax_params(capsys, tmp_path):
    from flax import serialization  # pylint: disable=g-import-not-at-top
    dst = tmp_path / "params.msgpack"
    code, _, _ = _cli(capsys, "convert", DATA / "loop_a" / "model.pkl.gz",
                      dst, "--model", MODEL)
    assert code == 0
    variables = serialization.msgpack_restore(dst.read_bytes())
    x = arr(ORACLE["x"])
    model = tl.Serial(tl.Dense(16), tl.Relu(), tl.Dense(2), tl.LogSoftmax())
    model.init(trax.shapes.signature(x))
    module, _ = model.to_flax()
    np.testing.assert_allclose(
        np.asarray(module.apply(variables, x)),
        arr(ORACLE["cases"]["loop_a"]["outputs_weights_only_True"]),
        atol=1e-6)


def test_inspect_and_convert_our_checkpoint(capsys, tmp_path):
    def stream():
        rng = np.random.default_rng(0)
        while True:
            x = rng.standard_normal((4, 8)).astype(np.float32)
            yield x, (x[:, 0] > 0).astype(np.int64), np.ones(4, np.float32)
    task = training.TrainTask(stream(), tl.WeightedCategoryCrossEntropy(),
                              trax.optimizers.Adam(0.01))
    with contextlib.redirect_stdout(io.StringIO()):
        loop = training.Loop(eval(MODEL), task, output_dir=str(tmp_path / "run"),  # pylint: disable=eval-used
                             random_seed=0)
        loop.run(1)
    loop.close()
    code, out, _ = _cli(capsys, "inspect", tmp_path / "run")
    assert code == 0 and "Orbax" in out and "(8, 16) float32" in out
    dst = tmp_path / "ours.pkl.gz"
    code, _, _ = _cli(capsys, "convert", tmp_path / "run", dst, "--model",
                      MODEL, "--input-shape", "4,8")
    assert code == 0
    ckpt = tc.read(dst)
    assert ckpt.format == "layer"
    for got, want in zip(ckpt.flat_weights,
                         jax.tree_util.tree_leaves(loop.model.weights)):
        np.testing.assert_array_equal(got, np.asarray(want))


@pytest.mark.parametrize("argv,message", [
    (["convert", DATA / "loop_a" / "model.pkl.gz", "x.msgpack"], "--model"),
    (["convert", DATA / "loop_a" / "model.pkl.gz", "x.txt"], ".pkl.gz"),
    (["convert", DATA / "loop_a" / "model.pkl.gz", "x.msgpack", "--model",
      "tl.Serial(tl.Dense(5), tl.Dense(2))"], "do not fit the model"),
    (["convert", DATA / "loop_a" / "model.pkl.gz", "x.msgpack", "--model",
      "tl.Nonsense("], "does not build a model"),
    (["inspect", "no/such/file.pkl.gz"], "does not exist"),
])
def test_mistakes_get_one_clear_error(capsys, tmp_path, argv, message):
    argv = [str(tmp_path / a) if str(a).startswith("x.") else a for a in argv]
    code, _, err = _cli(capsys, *argv)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_corrupt_file_is_named(capsys, tmp_path):
    bad = tmp_path / "model.pkl.gz"
    good = (DATA / "loop_a" / "model.pkl.gz").read_bytes()
    bad.write_bytes(good[:len(good) // 2])
    code, _, err = _cli(capsys, "inspect", bad)
    assert code == 2 and str(bad) in err and "truncated" in err


def test_exported_flax_model_runs_without_trax_compat(capsys, tmp_path):
    import subprocess  # pylint: disable=g-import-not-at-top
    import sys  # pylint: disable=g-import-not-at-top
    dst = tmp_path / "exported.msgpack"
    model = ("tl.Serial(tl.Dense(16), tl.Relu(), tl.Dropout(0.3), "
             "tl.Serial(tl.Dense(2)), tl.LogSoftmax())")
    code, out, _ = _cli(capsys, "convert", DATA / "loop_a" / "model.pkl.gz",
                        dst, "--model", model)
    assert code == 0 and "exported.py" in out
    source = (tmp_path / "exported.py").read_text()
    assert "trax_compat" not in source.split('"""', 2)[2]
    np.save(tmp_path / "x.npy", arr(ORACLE["x"]))
    script = (
        "import sys, numpy as np, flax.serialization as s\n"
        "import exported\n"
        "v = s.msgpack_restore(open('exported.msgpack', 'rb').read())\n"
        "np.save('y.npy', np.asarray(exported.Model().apply(v, np.load('x.npy'))))\n"
        "print(any(m.split('.')[0] == 'trax_compat' for m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path,
                            capture_output=True, text=True, check=True,
                            env={"PATH": "/usr/bin:/bin"})
    assert result.stdout.strip() == "False"
    np.testing.assert_allclose(
        np.load(tmp_path / "y.npy"),
        arr(ORACLE["cases"]["loop_a"]["outputs_weights_only_True"]),
        atol=1e-6)


def test_a_layer_the_exporter_cannot_write_is_named(capsys, tmp_path):
    model = ("tl.Serial(tl.Dense(16), tl.Relu(), tl.Dense(2), "
             "tl.Fn('Twice', lambda x: 2 * x))")
    code, out, _ = _cli(capsys, "convert", DATA / "loop_a" / "model.pkl.gz",
                        tmp_path / "p.msgpack", "--model", model)
    assert code == 0 and (tmp_path / "p.msgpack").is_file()
    assert "layer Twice" in out and not (tmp_path / "p.py").exists()


def test_trax_to_ours_to_trax_round_trips_bitwise(capsys, tmp_path):
    import test_trax_checkpoints_resume as resume_test  # pylint: disable=g-import-not-at-top
    src = DATA / "resume" / "output_dir" / "model.pkl.gz"
    ours = tmp_path / "ours"
    code, out, _ = _cli(capsys, "convert", src, ours, "--model", MODEL,
                        "--optimizer", "trax.optimizers.Adam(0.01)")
    assert code == 0 and (ours / "checkpoints" / "8").is_dir()
    code, out, _ = _cli(capsys, "inspect", ours)
    assert "step: 8" in out and "optimizer state: 9 arrays" in out
    back = tmp_path / "back.pkl.gz"
    code, _, _ = _cli(capsys, "convert", ours, back, "--model", MODEL,
                      "--optimizer", "trax.optimizers.Adam(0.01)",
                      "--input-shape", "8,8")
    assert code == 0
    before, after = tc.read(src), tc.read(back)
    assert after.step == before.step == 8
    assert after.input_signature == before.input_signature
    for a, b in zip(before.flat_weights + before.slots_per_task[0],
                    after.flat_weights + after.slots_per_task[0]):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert after.history.to_dict() == before.history.to_dict()
    # A Loop resumes from the converted folder and continues as Trax did.
    loop, said = resume_test._loop(ours)  # pylint: disable=protected-access
    assert loop.step == 8 and "Converted" not in said
    with contextlib.redirect_stdout(io.StringIO()):
        loop.run(5)
    trax_final = np.load(DATA / "resume" / "resume.npz")
    for i, got in enumerate(jax.tree_util.tree_leaves(loop.model.weights)):
        resume_test._close(np.asarray(got), trax_final[f"final_weights/{i}"])  # pylint: disable=protected-access
    loop.close()


def test_a_folder_destination_needs_the_optimizer(capsys, tmp_path):
    code, _, err = _cli(capsys, "convert", DATA / "loop_a" / "model.pkl.gz",
                        tmp_path / "ours", "--model", MODEL)
    assert code == 2 and "--optimizer" in err
    assert len(err.strip().splitlines()) == 1
