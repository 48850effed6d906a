"""The part of T5 that Trax's configs use, without the ``t5`` package
(``trax_compat.data.t5_fallback``): Trax's ``generic_text_dataset_preprocess_fn``
with T5's ``rekey`` gives the ids real Trax gave with the real ``t5``
(``tests/testdata/generate_t5_preprocess.py``), and every other T5 name says
to install ``t5``."""

import json
import sys

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from conftest import ORACLE  # noqa: E402

from trax_compat.data import t5_fallback  # noqa: E402
from trax_compat.data import tf_inputs  # noqa: E402

with open(ORACLE / "t5_preprocess" / "t5_preprocess.json",
          encoding="utf-8") as _f:
    T5 = json.load(_f)
CASES = {c["name"]: c for c in T5["texts"]}


@pytest.fixture(autouse=True)
def _without_t5(monkeypatch):
    # As on a machine without the t5 package, even where it is installed.
    monkeypatch.setitem(sys.modules, "t5", None)


def _ours(case, spm):
    examples = case["examples"]
    dataset = tf.data.Dataset.from_tensor_slices(
        {k: [e[k] for e in examples] for k in examples[0]})
    rekey = tf_inputs.get_t5_preprocessor_by_name(
        "rekey", {"key_map": case["key_map"]})
    out = tf_inputs.generic_text_dataset_preprocess_fn(
        dataset, training=True, text_preprocess_fns=[rekey], spm_path=spm,
        copy_pretokenized=case["copy_pretokenized"])
    rows = []
    for example in out.as_numpy_iterator():
        row = {}
        for key, value in sorted(example.items()):
            value = np.asarray(value)
            row[key] = ({"text": value.item().decode("utf-8")}
                        if value.dtype.kind in "SO" else
                        {"dtype": str(value.dtype), "values": value.tolist()})
        rows.append(row)
    return rows


@pytest.mark.parametrize("name", ["strings", "copy_pretokenized"])
def test_rekey_and_tokenize_give_real_t5s_ids(vocab_dir, name):
    case = CASES[name]
    assert "error" not in case
    assert _ours(case, str(vocab_dir / "sentencepiece.model")) == (
        case["result"])


def test_a_key_map_naming_an_absent_feature_is_a_key_error(vocab_dir):
    case = CASES["missing_key"]
    assert case["error"]["type"] == "KeyError"  # real T5's
    with pytest.raises(KeyError, match=r"no feature 'absent'.*fix key_map"):
        _ours(case, str(vocab_dir / "sentencepiece.model"))


def test_trax_own_test_ids_are_in_the_oracle():
    # Trax's tests expect these ids for "I have a cat." from this model.
    first = CASES["strings"]["result"][0]["inputs"]
    assert first == {"dtype": "int32", "values": [27, 43, 3, 9, 1712, 5]}


def test_integer_features_pass_through(vocab_dir):
    # transformer_imdb_tfds.gin rekeys imdb_reviews' integer label to
    # `targets`; real T5 hands it to the SentencePiece op, which refuses it
    # (recorded), T5's docstring says non-strings pass through: here they do.
    case = CASES["integer_label"]
    assert case["error"]["type"] in ("TypeError", "InvalidArgumentError",
                                     "ValueError"), case["error"]
    strings = dict(case, key_map={"inputs": "text", "targets": "text"})
    ours = _ours(case, str(vocab_dir / "sentencepiece.model"))
    same_text = _ours(strings, str(vocab_dir / "sentencepiece.model"))
    assert ours == [{"inputs": same_text[0]["inputs"],
                     "targets": {"dtype": "int32", "values": 1}}]


def test_other_t5_names_say_to_install_t5():
    t5 = tf_inputs.t5_data("a test")
    assert t5 is t5_fallback.data
    with pytest.raises(ImportError, match=r"T5's 'preprocessors.squad' "
                       r"needs the 't5' package.*pip install t5"):
        t5.preprocessors.squad  # pylint: disable=pointless-statement
    with pytest.raises(ImportError, match="needs the 't5' package"):
        tf_inputs.get_t5_preprocessor_by_name("fill_in_the_blank")


def test_a_missing_model_names_the_path(tmp_path):
    absent = str(tmp_path / "absent.model")
    with pytest.raises(FileNotFoundError, match="absent.model.*check the"):
        t5_fallback.SentencePieceVocabulary(absent)


def test_t5s_default_model_comes_from_the_cache_folder(
        vocab_dir, tmp_path, monkeypatch):
    # T5's default model is on GCS: it is read from trax_compat's cache,
    # downloaded there when missing; offline, the error says where to put it.
    monkeypatch.setenv("TRAX_COMPAT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TRAX_COMPAT_GCS_ENDPOINT", "http://127.0.0.1:9")
    cached = (tmp_path / "cache" / "vocabs" / "gs" / "t5-data" / "vocabs" /
              "cc_all.32000" / "sentencepiece.model")
    with pytest.raises(FileNotFoundError, match=str(cached)):
        t5_fallback.SentencePieceVocabulary(t5_fallback.DEFAULT_SPM_PATH)
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes((vocab_dir / "sentencepiece.model").read_bytes())
    case = CASES["strings"]
    assert _ours(case, None) == case["result"]


def test_import_lines_of_configs_resolve_to_the_stand_in(monkeypatch):
    monkeypatch.delitem(sys.modules, "t5")
    saved = list(sys.meta_path)
    try:
        t5_fallback.install_import_alias()
        t5_fallback.install_import_alias()  # once only
        assert sum(isinstance(f, t5_fallback._Finder)  # pylint: disable=protected-access
                   for f in sys.meta_path) == 1
        import t5.data.preprocessors  # pylint: disable=import-outside-toplevel
        assert t5.data.preprocessors.rekey is t5_fallback.rekey
        assert not t5_fallback.t5_installed()
    finally:
        sys.meta_path[:] = saved
        for name in t5_fallback.MODULES:
            sys.modules.pop(name, None)
