"""``trax.jaxboard`` against real Trax (trax_oracle/jaxboard, see
tests/testdata/README.md): the same calls give the same events (steps,
tags, scalars, image sizes and pixels, audio bytes, text tensors, plots),
and the operative-config markdown is Trax's."""

import io
import os

import numpy as np
import pytest

from trax_compat import jaxboard
from trax_compat.logs import events

from conftest import ORACLE
from conftest import load_oracle_json
from tests.testdata import generate_jaxboard as recipe

pytest.importorskip("matplotlib")
import matplotlib  # noqa: E402
matplotlib.use("Agg")
import matplotlib.image  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from tensorboard.compat.proto import event_pb2  # noqa: E402


def _events(path):
    return [event_pb2.Event.FromString(r) for r in events.iter_records(path)]


def _pixels(png):
    return matplotlib.image.imread(io.BytesIO(png), format="png")


@pytest.fixture(scope="module")
def ours(tmp_path_factory):
    folder = tmp_path_factory.mktemp("board")
    recipe.write_all(jaxboard.SummaryWriter(str(folder)), plt)
    (name,) = os.listdir(folder)
    assert name.startswith("events.out.tfevents.")
    return _events(str(folder / name))


def test_the_events_are_trax_s(ours):
    theirs = _events(str(ORACLE / "jaxboard" / "events.trax"))
    assert ours[0].file_version == theirs[0].file_version == "brain.Event:2"
    ours, theirs = ours[1:], theirs[1:]
    assert [(e.step, e.summary.value[0].tag) for e in ours] == [
        (e.step, e.summary.value[0].tag) for e in theirs]
    for mine, trax in zip(ours, theirs):
        (a,), (b,) = mine.summary.value, trax.summary.value
        kind = b.WhichOneof("value")
        assert a.WhichOneof("value") == kind, b.tag
        if kind == "image":
            assert (a.image.height, a.image.width, a.image.colorspace) == (
                b.image.height, b.image.width, b.image.colorspace), b.tag
            want = _pixels(b.image.encoded_image_string)
            got = _pixels(a.image.encoded_image_string)
            assert got.shape == want.shape, b.tag
            if b.tag == "curve":  # matplotlib may draw a line a bit apart
                assert np.mean(np.abs(got - want)) < 0.02
            else:
                np.testing.assert_array_equal(got, want, err_msg=b.tag)
        else:  # simple_value, audio, and text's tensor and metadata
            assert a == b, b.tag


def test_histograms_keep_the_non_empty_range():
    # (Real Trax's histogram fails on NumPy 1.26, so no oracle: the
    # expectation follows its code.)
    import tempfile  # pylint: disable=import-outside-toplevel
    with tempfile.TemporaryDirectory() as folder:
        writer = jaxboard.SummaryWriter(folder)
        writer.histogram("h", [0.5, 0.5, 3.2], bins=[0, 1, 2, 3, 4, 5],
                         step=2)
        writer.histogram("all_inside", [1.5, 2.5], bins=[1, 2, 3])
        writer.close()
        (name,) = os.listdir(folder)
        found = _events(os.path.join(folder, name))[1:]
    (h,), (inside,) = (e.summary.value for e in found)
    assert [e.step for e in found] == [2, 2]
    assert (h.histo.min, h.histo.max, h.histo.num) == (0.5, 3.2, 3)
    assert h.histo.sum == pytest.approx(4.2)
    assert h.histo.sum_squares == pytest.approx(0.5 + 3.2 ** 2)
    # Buckets 0..3 (1, 2, 3, 4): an empty one first, then up to the last
    # non-empty bucket [3, 4).
    assert list(h.histo.bucket) == [0, 2, 0, 0, 1]
    assert list(h.histo.bucket_limit) == [0, 1, 2, 3, 4]
    assert list(inside.histo.bucket) == [0, 1, 1]
    assert list(inside.histo.bucket_limit) == [1, 2, 3]


def test_markdown_of_an_operative_config_is_trax_s():
    want = load_oracle_json("jaxboard/jaxboard.json")["markdown"]
    assert jaxboard.markdownify_operative_config_str(recipe.CONFIG) == want


def test_disabled_writers_write_nothing_and_bad_input_is_named(tmp_path):
    writer = jaxboard.SummaryWriter(str(tmp_path), enable=False)
    writer.scalar("x", 1.0, step=1)
    writer.flush()
    writer.close()
    (name,) = os.listdir(tmp_path)
    assert len(_events(str(tmp_path / name))) == 1  # the version event only
    writer = jaxboard.SummaryWriter(str(tmp_path / "b"))
    with pytest.raises(ValueError, match="Audio data must be 1D"):
        writer.audio("a", np.zeros((2, 3)))
    with pytest.raises(ValueError, match="1-D or 2-D"):
        writer.text("t", np.array([[["x"]]]))
    writer.close()
