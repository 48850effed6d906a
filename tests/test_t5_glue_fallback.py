"""T5's ``preprocessors.glue`` without the ``t5`` package (``t5_glue``): GLUE
examples become T5's text-to-text pairs, as T5 documents them, and Trax's
``T5Glue*`` streams read them from a tiny local GLUE stand-in."""

import re

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
pytest.importorskip("tensorflow_datasets")

from trax_compat.data import t5_fallback  # noqa: E402
from trax_compat.data import t5_glue  # noqa: E402


def _examples(rows):
    keys = rows[0].keys()
    return tf.data.Dataset.from_tensor_slices(
        {k: [r[k] for r in rows] for k in keys})


def test_qqp_example_as_t5_documents_it():
    data = _examples([
        {"question1": "Why do I easily get bored of my friends?",
         "question2": "Why do I get bored of friends so quickly?",
         "label": np.int64(1), "idx": np.int32(10)},
        {"question1": "a?", "question2": "b?", "label": np.int64(-1),
         "idx": np.int32(11)}])
    out = list(t5_glue.glue(data, benchmark_name="qqp",
                            label_names=["not_duplicate", "duplicate"])
               .as_numpy_iterator())
    assert out[0] == {
        "inputs": b"qqp question1: Why do I easily get bored of my friends? "
                  b"question2: Why do I get bored of friends so quickly?",
        "targets": b"duplicate", "idx": 10}
    # A test split's example has no label: T5's target is "<unk>".
    assert out[1]["targets"] == b"<unk>"


def test_feature_order_and_id_key():
    data = _examples([{"premise": "p", "hypothesis": "h",
                       "label": np.int64(2), "idx": np.int32(3)}])
    names = ["entailment", "neutral", "contradiction"]
    (sorted_keys,) = t5_glue.glue(data, "mnli", names).as_numpy_iterator()
    assert sorted_keys["inputs"] == b"mnli hypothesis: h premise: p"
    assert sorted_keys["targets"] == b"contradiction"
    (ordered,) = t5_glue.glue(data, "mnli", names,
                              feature_names=["premise", "hypothesis"],
                              id_key=None).as_numpy_iterator()
    assert ordered == {"inputs": b"mnli premise: p hypothesis: h",
                       "targets": b"contradiction"}


def test_it_is_t5_s_name_without_t5():
    if t5_fallback.t5_installed():
        pytest.skip("the real t5 package is installed")
    assert t5_fallback.preprocessors.glue is t5_glue.glue
    with pytest.raises(ValueError, match="multirc.*pip install t5"):
        t5_glue.glue(None, "multirc", ["False", "True"])


def test_t5_glue_stream_reads_a_local_stand_in(tmp_path, monkeypatch):
    from tests.testdata import tiny_tfds
    from trax_compat.data import glue_streams
    monkeypatch.setattr(t5_fallback, "t5_installed", lambda: False)
    monkeypatch.setenv("TFDS_DATA_DIR", tiny_tfds.prepare(
        tmp_path, tiny_tfds.stand_ins(["glue/rte"])))
    stream = glue_streams._t5_glue_source("rte_e")()  # pylint: disable=protected-access
    items = [next(stream) for _ in range(2 * tiny_tfds.GLUE_SPLIT_SIZE)]
    for inputs, targets, weights in items:
        # TFDS's order of the records, so any index; the label is i % 2.
        i = re.match(rb"rte sentence1: validation sentence1 (\d): .+ "
                     rb"sentence2: validation sentence2 \1: ", inputs)
        assert i, inputs
        assert targets == [b"entailment",
                           b"not_entailment"][int(i.group(1)) % 2]
        assert weights.tolist() == [1] * len(targets)
    # The split repeats, in order.
    assert [i[0] for i in items[:tiny_tfds.GLUE_SPLIT_SIZE]] == [
        i[0] for i in items[tiny_tfds.GLUE_SPLIT_SIZE:]]
