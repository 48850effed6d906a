"""TensorBoard event files written without TensorFlow
(``summaries.BackgroundSummaryWriter``): what TensorBoard's reader and
``trax_compat.logs.events`` read back, the tags real Trax writes, and a
Loop run that never imports TensorFlow and prints no TensorFlow/absl noise."""

import contextlib
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from tests.conftest import ORACLE
from tests.conftest import REPO
from trax_compat import layers as tl
from trax_compat import optimizers
from trax_compat.logs import events
from trax_compat.supervised import step_log
from trax_compat.supervised import summaries
from trax_compat.supervised import training

ORACLE_OUTPUT_DIR = ORACLE / "trax_run_dev" / "output_dir"
TF_INSTALLED = importlib.util.find_spec("tensorflow") is not None
# Lines TensorFlow and absl's C++ logging print at start-up.
NOISE = ("absl::InitializeLog", "oneDNN custom operations",
         "cpu_feature_guard", "This TensorFlow binary is optimized",
         "TF_ENABLE_ONEDNN_OPTS", "Unable to register cu")


def _accumulator(logdir):
    from tensorboard.backend.event_processing import event_accumulator  # pylint: disable=g-import-not-at-top
    acc = event_accumulator.EventAccumulator(
        str(logdir), size_guidance={"tensors": 0, "scalars": 0,
                                    "images": 0, "histograms": 0})
    acc.Reload()
    return acc


def _tensor_values(logdir):
    """``{tag: [(step, ndarray)]}`` as TensorBoard's reader loads them."""
    from tensorboard.util import tensor_util  # pylint: disable=g-import-not-at-top
    acc = _accumulator(logdir)
    return {tag: [(e.step, tensor_util.make_ndarray(e.tensor_proto))
                  for e in acc.Tensors(tag)]
            for tag in acc.Tags()["tensors"]}


def _raw_summary_values(logdir):
    """``[(step, tag, Summary.Value)]`` of every event file in ``logdir``."""
    from tensorboard.compat.proto import event_pb2  # pylint: disable=g-import-not-at-top
    found = []
    for name in sorted(os.listdir(logdir)):
        if not events.is_event_file(name):
            continue
        for record in events.iter_records(os.path.join(logdir, name)):
            event = event_pb2.Event.FromString(record)
            found.extend((event.step, v.tag, v) for v in event.summary.value)
    return found


# -- the writer ----------------------------------------------------------------

SCALARS = {"metrics/loss": 0.1, "training/learning_rate": np.float32(0.01),
           "training/steps per second": np.float64(123.456789),
           "count": 7, "flag": True}


def test_scalars_read_back_exactly_as_float32(tmp_path):
    writer = summaries.BackgroundSummaryWriter(str(tmp_path))
    assert isinstance(writer, step_log.interface.MetricWriter)
    writer.write_scalars(1, SCALARS)
    writer.write_scalars(20, {"metrics/loss": np.asarray(-2.5e-8)})
    writer.flush()
    writer.close()
    [name] = os.listdir(tmp_path)
    assert name.startswith("events.out.tfevents.") and name.endswith(".v2")
    values = _tensor_values(tmp_path)
    assert sorted(values) == sorted(SCALARS)
    for tag, value in SCALARS.items():
        steps = [1, 20] if tag == "metrics/loss" else [1]
        assert [s for s, _ in values[tag]] == steps, tag
        step_1 = values[tag][0][1]
        assert step_1.dtype == np.float32 and step_1.shape == ()
        assert step_1 == np.float32(value), tag
    assert values["metrics/loss"][1][1] == np.float32(-2.5e-8)
    # As tf.summary.scalar: the scalars plugin, one event per value.
    raw = _raw_summary_values(tmp_path)
    assert len(raw) == len(SCALARS) + 1
    assert {v.metadata.plugin_data.plugin_name for _, _, v in raw} == {
        "scalars"}


def test_scalars_read_back_by_compare_logs_reader(tmp_path):
    writer = summaries.BackgroundSummaryWriter(str(tmp_path / "train"))
    writer.write_scalars(1, {"metrics/Loss": 0.7, "training/loss": 0.7,
                             "training/steps per second": 4.0})
    writer.write_scalars(5, {"metrics/Loss": 0.3, "training/loss": 0.3,
                             "training/steps per second": 2.0})
    writer.close()
    log = events.read_event_dir(str(tmp_path))
    assert log.values[("train", "Loss")] == {
        1: float(np.float32(0.7)), 5: float(np.float32(0.3))}
    assert log.values[("train", "training/loss")][5] == float(np.float32(0.3))
    # "steps per second" becomes Trax's "Ran N train steps in X secs".
    assert log.timings[5].n_steps == 4 and log.timings[5].secs == 2.0


def test_non_scalar_value_is_an_error_naming_the_key(tmp_path):
    writer = summaries.BackgroundSummaryWriter(str(tmp_path))
    with pytest.raises(ValueError, match="'bad'"):
        writer.write_scalars(1, {"good": 1.0, "bad": np.zeros(2)})
    writer.close()
    assert _tensor_values(tmp_path) == {}  # nothing of that call written


def test_texts_histograms_hparams_and_images(tmp_path):
    Image = pytest.importorskip("PIL.Image")  # pylint: disable=invalid-name
    from tensorboard.plugins.hparams import metadata as hp_metadata  # pylint: disable=g-import-not-at-top
    writer = summaries.BackgroundSummaryWriter(str(tmp_path))
    writer.write_texts(3, {"note": "Ran 1 train steps"})
    data = np.arange(10.0)
    writer.write_histograms(3, {"w": data}, num_buckets={"w": 5})
    writer.write_hparams({"lr": 0.01, "opt": {"name": "adam", "b": [1, 2]},
                          "seed": None})
    rgb = np.zeros((2, 3, 4, 3), np.uint8)
    rgb[1, 0, 0] = (255, 128, 1)
    writer.write_images(4, {"rgb": rgb, "grey": np.ones((3, 4, 1))})
    writer.close()

    values = _tensor_values(tmp_path)
    assert values["note"][0][0] == 3
    assert values["note"][0][1].item() == b"Ran 1 train steps"
    [(step, hist)] = values["w"]
    assert step == 3 and hist.shape == (5, 3)
    np.testing.assert_array_equal(hist[:, 2], [2, 2, 2, 2, 2])
    assert hist[0, 0] == 0.0 and hist[-1, 1] == 9.0

    raw = {tag: (step, v) for step, tag, v in _raw_summary_values(tmp_path)}
    plugins = {tag: v.metadata.plugin_data.plugin_name
               for tag, (_, v) in raw.items()}
    assert plugins["note"] == "text" and plugins["w"] == "histograms"
    assert plugins["rgb"] == plugins["grey"] == "images"
    step, start = raw["_hparams_/session_start_info"]
    info = hp_metadata.parse_session_start_info_plugin_data(
        start.metadata.plugin_data.content)
    assert step == 0
    hparams = {k: v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind"))
               for k, v in info.hparams.items()}
    assert hparams == {"lr": 0.01, "opt.name": "adam", "opt.b.0": 1,
                       "opt.b.1": 2, "seed": ""}

    # Images: [width, height, png...] strings, as tf.summary.image.
    [(step, image_strings)] = values["rgb"]
    assert step == 4 and image_strings[:2].tolist() == [b"4", b"3"]
    decoded = [np.asarray(Image.open(io.BytesIO(png)))
               for png in image_strings[2:]]
    np.testing.assert_array_equal(np.stack(decoded), rgb)
    [(_, grey_strings)] = values["grey"]
    grey = np.asarray(Image.open(io.BytesIO(grey_strings[2])))
    np.testing.assert_array_equal(grey, np.full((3, 4), 255, np.uint8))


def test_unsupported_kinds_raise_naming_the_method(tmp_path):
    writer = summaries.BackgroundSummaryWriter(str(tmp_path))
    with pytest.raises(NotImplementedError, match="write_videos"):
        writer.write_videos(1, {"v": np.zeros((1, 2, 2, 2, 3))})
    with pytest.raises(NotImplementedError, match="write_audios"):
        writer.write_audios(1, {"a": np.zeros((1, 10, 1))}, sample_rate=8)
    writer.close()


def test_closed_writer_refuses_writes(tmp_path):
    writer = summaries.BackgroundSummaryWriter(str(tmp_path))
    writer.close()
    writer.close()  # a second close is harmless
    with pytest.raises(RuntimeError, match="closed"):
        writer.write_scalars(2, {"x": 1.0})


def test_unusable_logdir_is_an_error_naming_it(tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(OSError, match=re.escape(str(not_a_dir / "train"))):
        summaries.BackgroundSummaryWriter(str(not_a_dir / "train"))


def test_failed_disk_write_is_raised_by_close_naming_the_logdir(
        tmp_path, monkeypatch):
    from tensorboard.summary.writer import record_writer  # pylint: disable=g-import-not-at-top
    writer = summaries.BackgroundSummaryWriter(str(tmp_path))
    # The writer thread dies with the error (and would print it).
    monkeypatch.setattr(threading, "excepthook", lambda args: None)

    def full_disk(self, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(record_writer.RecordWriter, "write", full_disk)
    try:
        writer.write_scalars(1, {"x": 1.0})
    except summaries.SummaryWriteError:
        pass  # the writer thread may already have failed
    with pytest.raises(summaries.SummaryWriteError,
                       match=re.escape(str(tmp_path)) +
                       ".*No space left on device"):
        writer.close()


# -- through the Loop ----------------------------------------------------------

def _batches(seed, n=4):
    rng = np.random.RandomState(seed)
    while True:
        x = rng.randn(n, 3).astype(np.float32)
        yield x, (x[:, 0] > 0).astype(np.int64), np.ones((n,), np.float32)


@pytest.fixture(scope="module")
def loop_run(tmp_path_factory):
    """A Loop with the oracle run's loss and metrics, logged at 1, 2, 4."""
    out = tmp_path_factory.mktemp("event_writer") / "out"
    task = training.TrainTask(_batches(0), tl.WeightedCategoryCrossEntropy(),
                              optimizers.Adam(0.01),
                              n_steps_per_checkpoint=2)
    eval_task = training.EvalTask(
        _batches(1), [tl.WeightedCategoryCrossEntropy(),
                      tl.WeightedCategoryAccuracy()], n_eval_batches=2)
    with contextlib.redirect_stdout(io.StringIO()):
        loop = training.Loop(tl.Serial(tl.Dense(2), tl.LogSoftmax()), task,
                             eval_tasks=[eval_task], output_dir=str(out),
                             random_seed=0)
        loop.run(4)
    return loop, out


def _oracle_scalar_tags(mode):
    """Real Trax's scalar tags; its ``gin_config`` text summary is left out
    (we have no gin configuration to write)."""
    tags = {tag for _, tag, v in _raw_summary_values(ORACLE_OUTPUT_DIR / mode)
            if v.WhichOneof("value") == "simple_value"}
    assert tags, f"no scalars in the oracle's {mode} event files"
    return tags


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_loop_writes_real_traxs_tags(loop_run, mode):
    _, out = loop_run
    assert set(_tensor_values(out / mode)) == _oracle_scalar_tags(mode)


def test_loop_values_read_back_exactly(loop_run):
    loop, out = loop_run
    train, evals = _tensor_values(out / "train"), _tensor_values(out / "eval")
    for mode, values in (("train", train), ("eval", evals)):
        for tag, points in values.items():
            assert [s for s, _ in points] == [1, 2, 4], (mode, tag)
            assert all(v.dtype == np.float32 for _, v in points)
            if tag == "training/steps per second":
                continue  # a timing, not in the history
            expected = [(s, np.float32(v))
                        for s, v in loop.history.get(mode, tag)]
            assert [(s, v.item()) for s, v in points] == [
                (s, v.item()) for s, v in expected], (mode, tag)
    # compare-logs' reader sees the same numbers.
    log = events.read_event_dir(str(out))
    for (mode, name), by_step in log.values.items():
        tag = name if "/" in name else f"metrics/{name}"
        source = train if mode == "train" else evals
        assert by_step == {s: float(v) for s, v in source[tag]}, (mode, name)
    assert sorted(log.timings) == [1, 2, 4]


# -- a fresh process: no TensorFlow, no noise ----------------------------------

_LOOP_SCRIPT = textwrap.dedent("""
    import json, sys
    if {block}:
        sys.modules["tensorflow"] = None  # TensorFlow "not installed"
    import numpy as np
    import trax_compat as trax
    from trax_compat import layers as tl
    from trax_compat.supervised import training

    def batches(seed):
        rng = np.random.RandomState(seed)
        while True:
            x = rng.randn(4, 3).astype(np.float32)
            yield x, (x[:, 0] > 0).astype(np.int64), np.ones(4, np.float32)

    task = training.TrainTask(batches(0), tl.WeightedCategoryCrossEntropy(),
                              trax.optimizers.Adam(0.01),
                              n_steps_per_checkpoint=2)
    eval_task = training.EvalTask(batches(1),
                                  [tl.WeightedCategoryAccuracy()],
                                  n_eval_batches=1)
    loop = training.Loop(tl.Serial(tl.Dense(2), tl.LogSoftmax()), task,
                         eval_tasks=[eval_task], output_dir=sys.argv[1])
    loop.run(2)
    loaded = sorted(m for m, module in sys.modules.items()
                    if module is not None
                    and m.split(".")[0] == "tensorflow")
    print("RESULT " + json.dumps({{
        "tensorflow": loaded,
        "clu.metric_writers": sorted(
            m for m in sys.modules if m.startswith("clu.metric_writers"))}}))
""")


@pytest.fixture(scope="module")
def fresh_process_run(tmp_path_factory):
    # Where TensorFlow is installed (the [tfds] extra), it is hidden from
    # the process: this checks the lean install's code path.
    out = tmp_path_factory.mktemp("fresh_process") / "out"
    proc = subprocess.run(
        [sys.executable, "-c", _LOOP_SCRIPT.format(block=TF_INSTALLED),
         str(out)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = [line for line in proc.stdout.splitlines()
              if line.startswith("RESULT ")]
    assert result, proc.stdout
    return json.loads(result[-1][len("RESULT "):]), proc, out


def test_loop_run_never_imports_tensorflow(fresh_process_run):
    modules, _, out = fresh_process_run
    assert modules["tensorflow"] == []
    assert modules["clu.metric_writers"] == []
    assert set(_tensor_values(out / "train")) == _oracle_scalar_tags("train")
    assert set(_tensor_values(out / "eval")) == {
        "metrics/WeightedCategoryAccuracy"}


def test_loop_run_prints_no_tensorflow_or_absl_noise(fresh_process_run):
    _, proc, _ = fresh_process_run
    for text in (proc.stdout, proc.stderr):
        assert not [n for n in NOISE if n in text], text
    assert "Step      2: eval      WeightedCategoryAccuracy" in proc.stdout
