"""Reading real Trax checkpoint files (every format), safely, and
``Layer.init_from_file`` on them, against what real Trax reads."""

import gzip
import json
import os
import pathlib
import pickle
import shutil

import numpy as np
import pytest

import trax_compat as trax
from trax_compat import layers as tl
from trax_compat.supervised import trax_checkpoint as tc

DATA = pathlib.Path(__file__).parent / "testdata" / "trax_oracle" / "checkpoints"
ORACLE = json.loads(gzip.open(DATA / "checkpoints.json.gz").read())
ARRAYS = np.load(DATA / "checkpoints.npz")
GENERATED = json.loads((DATA / "generated.json").read_text())
OLDEST = np.load(DATA / "oldest.npz")
CASES = ORACLE["cases"]


def arr(record):
    return np.asarray(record["data"], dtype=record["dtype"])


X = arr(ORACLE["x"])


def small(n_hidden=16):
    return tl.Serial(tl.Dense(n_hidden), tl.Relu(), tl.Dense(2),
                     tl.LogSoftmax())


# -- reading every format ------------------------------------------------------

def test_loop_checkpoint_reads_side_files():
    ckpt = tc.read(DATA / "loop_a" / "model.pkl.gz")
    assert ckpt.format == "loop" and ckpt.step == CASES["loop_a"]["step"]
    assert ckpt.version_timestamp == "Mar-10-2021"
    for i, w in enumerate(ckpt.flat_weights):
        np.testing.assert_array_equal(w, ARRAYS[f"loop_a/weights_file/{i}"])
    assert len(ckpt.slots_per_task) == 1
    for i, s in enumerate(ckpt.slots_per_task[0]):
        np.testing.assert_array_equal(s, ARRAYS[f"loop_a/opt_slots0_file/{i}"])
    assert ckpt.input_signature == (trax.shapes.ShapeDtype((8, 8)),)
    assert ckpt.flat_state == [] and ckpt.flat_eval_state == []
    # History: the pickled dict of the History, JAX scalars as NumPy ones.
    losses = ckpt.history.get("train", "training/loss")
    assert [s for s, _ in losses] == [1, 5, 10, 15]
    assert all(v.dtype == np.float32 for _, v in losses)
    accs = ckpt.history.get("eval", "metrics/WeightedCategoryAccuracy")
    assert accs[-1][1].dtype == np.float64


def test_layer_save_to_file_format():
    ckpt = tc.read(DATA / "layer_save_to_file" / "save_full.pkl.gz")
    assert ckpt.format == "layer" and ckpt.step is None
    keys = sorted(k for k in ARRAYS.files if k.startswith("save_to_file/saved_w"))
    for w, k in zip(ckpt.flat_weights, keys):
        np.testing.assert_array_equal(w, ARRAYS[k])
    keys = sorted(k for k in ARRAYS.files if k.startswith("save_to_file/saved_s"))
    for s, k in zip(ckpt.flat_state, keys):
        np.testing.assert_array_equal(s, ARRAYS[k])
    assert ckpt.flat_state[2].dtype == np.int32
    assert ckpt.input_signature == trax.shapes.ShapeDtype((4, 5))
    assert tc.read(DATA / "layer_save_to_file" /
                   "save_weights_only.pkl.gz").flat_state is None
    assert tc.read(DATA / "layer_save_to_file" /
                   "save_no_signature.pkl.gz").input_signature is None


def test_trainer_lib_format():
    ckpt = tc.read(DATA / "trainer_lib" / "model.pkl.gz")
    assert ckpt.format == "trainer_lib" and ckpt.step == 5
    for i, w in enumerate(ckpt.flat_weights):
        np.testing.assert_array_equal(w, ARRAYS[f"trainer/flat_weights/{i}"])
    slots = [ARRAYS[f"trainer/slots/{i}/{j}"] for i in range(4)
             for j in range(2)]
    for got, want in zip(ckpt.slots_per_task[0], slots):
        np.testing.assert_array_equal(got, want)
    assert float(ckpt.opt_params["learning_rate"]) == pytest.approx(0.01)
    want = CASES["trainer_lib"]["history_in_pkl"]
    for mode, metrics in want.items():
        for metric, pairs in metrics.items():
            got = ckpt.history.get(mode, metric)
            assert [[s, float(v)] for s, v in got] == pairs


def test_bfloat16_bits_come_back_as_bfloat16():
    ckpt = tc.read(DATA / "bfloat16_loop" / "model.pkl.gz")
    assert [str(w.dtype) for w in ckpt.flat_weights] == ["bfloat16"] * 4
    for i, w in enumerate(ckpt.flat_weights):
        np.testing.assert_array_equal(
            w.view(np.uint16), ARRAYS[f"bfloat16/weights_file_uint16/{i}"])
    assert all(str(s.dtype) == "bfloat16" for s in ckpt.slots_per_task[0])


@pytest.mark.parametrize("name,fmt", [("tuple_model.pkl", "trainer_tuple"),
                                      ("dict_model.pkl", "trainer_dict"),
                                      ("sharded/model.pkl.gz",
                                       "loop_sharded")])
def test_oldest_formats(name, fmt):
    ckpt = tc.read(DATA / "oldest" / name)
    assert ckpt.format == fmt
    assert ckpt.step == GENERATED["oldest"]["steps"][name]
    weights = [OLDEST[f"weights/{i}"] for i in range(4)]
    assert len(ckpt.flat_weights) == 4  # the empty tuples are left out
    for got, want in zip(ckpt.flat_weights, weights):
        np.testing.assert_array_equal(got, want)
    for i, got in enumerate(ckpt.slots_per_task[0]):
        np.testing.assert_array_equal(got, OLDEST[f"slots/{i}"])
    assert [s for s, _ in ckpt.history.get("train", "metrics/loss")] == [1, 5]
    # Loaded into a model (the signature is not in these files).
    model = tl.Serial(tl.Dense(4), tl.Relu(), tl.Dense(2), tl.LogSoftmax())
    model.init_from_file(str(DATA / "oldest" / name), weights_only=True,
                         input_signature=trax.shapes.ShapeDtype((3, 8)))
    np.testing.assert_allclose(np.asarray(model(X)),
                               arr(GENERATED["oldest"]["outputs"]), atol=1e-6)


# -- safety --------------------------------------------------------------------

class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Evals:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


@pytest.mark.parametrize("payload,name", [
    (lambda m: _RunsCode(m), "system"),
    (lambda m: _Evals(), "builtins.eval"),
    (lambda m: {"flat_weights": [np.zeros(2)], "x": _RunsCode(m)}, "system"),
])
def test_a_pickle_that_would_run_code_is_refused(tmp_path, payload, name):
    marker = tmp_path / "ran"
    path = tmp_path / "model.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump(payload(marker), f)
    with pytest.raises(tc.UnsafeCheckpointError, match=name) as info:
        tc.read(path)
    assert str(path) in str(info.value)
    assert not marker.exists()
    # init_from_file goes through the same reader.
    with pytest.raises(tc.UnsafeCheckpointError):
        small().init_from_file(str(path))
    assert not marker.exists()


def test_truncated_and_corrupt_files_name_the_file(tmp_path):
    src = DATA / "loop_a"
    for f in src.iterdir():
        shutil.copy(f, tmp_path / f.name)
    pkl = tmp_path / "model.pkl.gz"
    data = pkl.read_bytes()
    pkl.write_bytes(data[:len(data) // 2])
    with pytest.raises(tc.TraxCheckpointError, match="truncated") as info:
        tc.read(pkl)
    assert str(pkl) in str(info.value)
    pkl.write_bytes(b"\x1f\x8b" + b"garbage" * 10)
    with pytest.raises(tc.TraxCheckpointError, match=str(pkl)):
        tc.read(pkl)
    # A side file cut short inside its last array: not silently fewer arrays.
    shutil.copy(src / "model.pkl.gz", pkl)
    side = tmp_path / "model.weights.npy.gz"
    raw = gzip.decompress((src / "model.weights.npy.gz").read_bytes())
    side.write_bytes(gzip.compress(raw[:-5]))
    with pytest.raises(tc.TraxCheckpointError, match="truncated") as info:
        tc.read(pkl)
    assert str(side) in str(info.value)
    side.unlink()
    with pytest.raises(FileNotFoundError, match="weights.npy.gz"):
        tc.read(pkl)


# -- init_from_file against real Trax ----------------------------------------------

@pytest.mark.parametrize("weights_only", [True, False])
def test_init_from_file_loop_and_trainer_lib(weights_only):
    model = small()
    model.init_from_file(str(DATA / "loop_a" / "model.pkl.gz"),
                         weights_only=weights_only)
    np.testing.assert_allclose(
        np.asarray(model(X)),
        arr(CASES["loop_a"][f"outputs_weights_only_{weights_only}"]),
        atol=1e-6)
    model = tl.Serial(tl.Dense(4), tl.Relu(), tl.Dense(2), tl.LogSoftmax())
    model.init_from_file(str(DATA / "trainer_lib" / "model.pkl.gz"),
                         weights_only=weights_only)
    np.testing.assert_allclose(
        np.asarray(model(X)),
        arr(CASES["trainer_lib"][f"read_weights_only_{weights_only}"][
            "outputs"]), atol=1e-6)


def test_init_from_file_bfloat16_gives_the_trained_model():
    # Trax's own init_from_file leaves the uint16 bits (garbage outputs);
    # we give what Trax's Loop restores: the bits viewed as bfloat16.
    model = tl.Serial(tl.Dense(4, use_bfloat16=True), tl.Relu(),
                      tl.Dense(2, use_bfloat16=True), tl.LogSoftmax())
    model.init_from_file(str(DATA / "bfloat16_loop" / "model.pkl.gz"),
                         weights_only=True)
    case = CASES["bfloat16_loop"]
    np.testing.assert_allclose(
        np.asarray(model(X)).astype(np.float32),
        arr(case["bits_viewed_as_bfloat16"]["outputs"]).astype(np.float32),
        atol=1e-6)


def _layer_reads():
    for name, record in CASES["layer_save_to_file"]["files"].items():
        for read in record["reads"]:
            yield name, read


@pytest.mark.parametrize("name,read", list(_layer_reads()))
def test_init_from_file_layer_files(name, read):
    case = CASES["layer_save_to_file"]
    x_eval = arr(case["x_eval"])
    weights_only = "weights_only=True" in read["reader"]
    signature = (trax.shapes.signature(x_eval)
                 if "input_signature=" in read["reader"] else None)
    model = tl.Serial(tl.Dense(6), tl.BatchNorm(axis=(0,), mode="eval"),
                      tl.Relu(), tl.Dense(3), tl.LogSoftmax())
    path = str(DATA / "layer_save_to_file" / name)
    if "error" not in read:
        model.init_from_file(path, weights_only=weights_only,
                             input_signature=signature)
        np.testing.assert_allclose(np.asarray(model(x_eval)),
                                   arr(read["output_eval_mode"]), atol=1e-6)
        return
    # Where Trax fails with a bare KeyError we say what to do instead
    # (and a weights-only file loads with weights_only=True).
    if name == "save_weights_only.pkl.gz" and weights_only:
        model.init_from_file(path, weights_only=True,
                             input_signature=signature)
        return
    with pytest.raises(KeyError) as info:
        model.init_from_file(path, weights_only=weights_only,
                             input_signature=signature)
    fix = "weights_only=True" if "flat_state" in read["error"][
        "message"] else "input_signature="
    assert fix in str(info.value) and path in str(info.value)


def test_partial_load_fills_the_first_weights_by_shape(capsys):
    # The checkpoint's model plus one more Dense: Trax's rule loads the
    # first four weights and keeps the new layer's initialization.
    model = tl.Serial(tl.Dense(16), tl.Relu(), tl.Dense(2), tl.Dense(3))
    model.init_from_file(str(DATA / "loop_a" / "model.pkl.gz"),
                         weights_only=True)
    assert "less weights than the model" in capsys.readouterr().out
    for i, w in enumerate([model.weights[0][0], model.weights[0][1],
                           model.weights[2][0], model.weights[2][1]]):
        np.testing.assert_array_equal(np.asarray(w),
                                      ARRAYS[f"loop_a/weights_file/{i}"])
    # The new layer keeps a fresh initialization.
    assert [np.shape(w) for w in model.weights[3]] == [(2, 3), (3,)]
    assert np.asarray(model(X)).shape == (3, 3)


def test_weights_that_fit_nowhere_raise_index_error():
    # Fewer weights than the model, none of them fitting by shape.
    model = tl.Serial(tl.Dense(5), tl.Relu(), tl.Dense(3), tl.Dense(3))
    with pytest.raises(IndexError, match="could not place"):
        model.init_from_file(str(DATA / "loop_a" / "model.pkl.gz"),
                             weights_only=True)


def test_as_many_weights_load_in_order_whatever_their_shapes(capsys):
    # Trax's init_from_file fills the tree in order without comparing
    # shapes (a Transformer's positional table of another max_len loads as
    # it is); ours says which ones differ.
    model = small(n_hidden=5)
    model.init_from_file(str(DATA / "loop_a" / "model.pkl.gz"),
                         weights_only=True)
    assert "3 weight(s) differ in shape" in capsys.readouterr().out
    np.testing.assert_array_equal(np.asarray(model.weights[0][0]),
                                  ARRAYS["loop_a/weights_file/0"])
