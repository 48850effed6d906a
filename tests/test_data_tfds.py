"""trax_compat.data.TFDS and tf_inputs against real Trax, on tiny local TFDS
datasets (prepared from fake examples into a temp dir; nothing downloads).

The reference values come from tests/testdata/generate_data_tfds.py (real
Trax); each recorded case carries its arguments and is replayed here.
TensorFlow is imported once for the whole file.
"""

import gzip
import json
import os
import random
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.conftest import ORACLE, REPO
from tests.testdata import tiny_tfds

import tensorflow_datasets as tfds  # noqa: E402  (the [tfds] extra)

from trax_compat import data
from trax_compat.data import network_probe
from trax_compat.data import tf_inputs
from trax_compat.data import tfds_source

ORACLE_FILE = ORACLE / "data_tfds" / "tfds.json.gz"


@pytest.fixture(scope="module")
def oracle():
    return json.loads(gzip.decompress(ORACLE_FILE.read_bytes()))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tiny_tfds.prepare(tmp_path_factory.mktemp("tfds"),
                             (tiny_tfds.TinyText, tiny_tfds.TinyTriple))


def _kwargs(kwargs):
    kw = dict(kwargs)
    if "tfds_preprocess_fn" in kw:
        kw["tfds_preprocess_fn"] = getattr(tiny_tfds, kw["tfds_preprocess_fn"])
    return kw


def _encoded(values):
    return [tiny_tfds.encode(v) for v in values]


def test_tfds_matches_trax_splits_holdout_hosts_and_preprocess(oracle,
                                                                data_dir):
    assert len(oracle["tfds"]) >= 15
    for case in oracle["tfds"]:
        kwargs = _kwargs(case["kwargs"])
        if "error" in case:
            with pytest.raises(ValueError, match="share of the"):
                data.TFDS(case["name"], data_dir=data_dir, **kwargs)
            continue
        stream = data.TFDS(case["name"], data_dir=data_dir, **kwargs)()
        got = [next(stream) for _ in range(case["n"])]
        assert _encoded(got) == case["items"], case["kwargs"]
        # Text comes as bytes, labels as NumPy scalars, in key order.
        assert isinstance(got[0], tuple) and len(got[0]) == len(
                case["kwargs"]["keys"])


def test_each_call_restarts_and_the_stream_is_endless(data_dir):
    source = data.TFDS("tiny_text", data_dir=data_dir, keys=("text", "label"),
                       shuffle_train=False, eval_holdout_size=0.2)
    first = source()
    seen = [next(first) for _ in range(19 * 3)]  # 23 - 4 held out, 3 epochs
    texts = [t for t, _ in seen]
    assert texts[:19] == texts[19:38] == texts[38:]
    assert len(set(texts[:19])) == 19
    assert all(t.startswith(b"train ") for t in texts)
    again = source(None)
    assert next(again)[0] == texts[0]
    held_out = data.TFDS("tiny_text", data_dir=data_dir, keys=("text",),
                         train=False, eval_holdout_size=4)()
    held = {next(held_out)[0] for _ in range(8)}
    assert len(held) == 4 and not held & set(texts)


def test_host_slices_partition_train(data_dir):
    def texts(host_id):
        stream = data.TFDS("tiny_text", data_dir=data_dir, keys=("text",),
                           host_id=host_id, n_hosts=3)()
        return {next(stream)[0] for _ in range(30)}
    slices = [texts(h) for h in range(3)]
    assert [len(s) for s in slices] == [7, 8, 8]  # int(23*k/3) boundaries
    assert not (slices[0] & slices[1] or slices[1] & slices[2])
    assert len(set().union(*slices)) == 23


def test_split_names_follow_trax():
    sizes = {"train": 10, "validation": 3, "test": 2}
    assert tfds_source.split_names("x", sizes) == ("train", "validation")
    assert tfds_source.split_names("x", {"train": 4, "test": 1}) == (
            "train", "test")
    assert tfds_source.split_names("x", sizes, 0.25) == (
            "train[0:8]", "train[-2:]")
    assert tfds_source.split_names("x", sizes, 3) == (
            "train[0:7]", "train[-3:]")
    assert tfds_source.split_names("x", sizes, subsplit=(0.5, 1.0)) == (
            "train[5:10]", "validation")
    mnli = {"train": 5, "validation_matched": 1, "validation_mismatched": 1}
    assert tfds_source.split_names("glue/mnli", mnli)[1] == (
            "validation_matched")
    assert tfds_source.split_names("glue/mnli:2.0.0", mnli,
                                   use_alt_eval=True)[1] == (
            "validation_mismatched")
    # Only mnli has an alternate eval split.
    assert tfds_source.split_names("x", sizes, use_alt_eval=True)[1] == (
            "validation")
    assert tfds_source.split_names("c4/multilingual",
                                   {"en": 4, "en-validation": 1}) == (
            "en", "en-validation")
    with pytest.raises(ValueError, match="neither a 'validation' nor a"):
        tfds_source.split_names("x", {"train": 3})
    with pytest.raises(ValueError, match="no 'train' split"):
        tfds_source.split_names("x", {"test": 3})
    with pytest.raises(ValueError, match="eval_holdout_size"):
        tfds_source.split_names("x", sizes, 1.5)
    with pytest.raises(ValueError, match="leaving none to train on"):
        tfds_source.split_names("x", sizes, 10)


def test_mnli_eval_splits_reach_tfds_load(monkeypatch, tmp_path):
    calls = []

    class Info:
        splits = {"train": type("S", (), {"num_examples": 8})(),
                  "validation_matched": type("S", (), {"num_examples": 2})()}
        supervised_keys = None

    monkeypatch.setattr(tfds, "builder", lambda *a, **k: type(
            "B", (), {"info": Info})())
    monkeypatch.setattr(tfds, "load", lambda **kw: calls.append(kw) or (
            __import__("tensorflow").data.Dataset.from_tensors(
                    {"premise": b"p", "hypothesis": b"h"})))
    for alt, split in ((False, "validation_matched"),
                       (True, "validation_mismatched")):
        data.TFDS("glue/mnli", data_dir=str(tmp_path), train=False,
                  use_alt_eval=alt, keys=("premise", "hypothesis"))
        assert calls[-1]["split"] == split
        assert calls[-1]["shuffle_files"] is False
    assert calls[0]["split"] == "train" and calls[0]["shuffle_files"] is True


def test_unprepared_dataset_error_says_how_to_prepare(tmp_path):
    empty = str(tmp_path / "empty")
    with pytest.raises(tf_inputs.DatasetNotPreparedError) as caught:
        data.TFDS("fashion_mnist", data_dir=empty, keys=("image", "label"))
    text = str(caught.value)
    assert "'fashion_mnist' is not prepared in data_dir %r" % empty in text
    assert "download_and_prepare()" in text and "copy" in text
    assert "TFDS_DATA_DIR" in text


def test_default_data_dir_and_env(monkeypatch, tmp_path, data_dir):
    monkeypatch.delenv("TFDS_DATA_DIR", raising=False)
    assert tf_inputs.download_and_prepare("x", "~/d") == os.path.expanduser(
            "~/d")
    assert tfds_source.default_data_dir() == os.path.expanduser(
            "~/tensorflow_datasets/")
    stand_ins = tiny_tfds.prepare(tmp_path, (tiny_tfds.FashionMnistStandIn,))
    monkeypatch.setenv("TFDS_DATA_DIR", stand_ins)
    # Already prepared there: nothing is downloaded.
    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare",
                        lambda *a, **k: pytest.fail("tried to download"))
    assert tf_inputs.download_and_prepare("fashion_mnist", None) == stand_ins
    image, label = next(data.TFDS("fashion_mnist", keys=("image", "label"),
                                  train=False)())
    assert image.shape == (28, 28, 1) and image.dtype == np.uint8
    assert label.dtype == np.int64


def test_offline_download_failure_is_explained(monkeypatch, tmp_path):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    # As where the network probe says nothing (a proxy, or online).
    monkeypatch.setattr(network_probe, "offline_reason", lambda: None)

    def offline(*args, **kwargs):
        raise ConnectionError("Could not resolve host")
    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare",
                        offline)
    with pytest.raises(tf_inputs.DatasetNotPreparedError) as caught:
        data.TFDS("fashion_mnist", keys=("image", "label"))
    text = str(caught.value)
    assert "not prepared in data_dir %r" % str(tmp_path) in text
    assert "ConnectionError: Could not resolve host" in text


def _no_dns(monkeypatch):
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy",
                "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)

    def no_dns(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)


def test_offline_machine_fails_at_once_without_trying(monkeypatch, tmp_path):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    _no_dns(monkeypatch)
    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare",
                        lambda *a, **k: pytest.fail("tried to download"))
    with pytest.raises(tf_inputs.DatasetNotPreparedError) as caught:
        data.TFDS("fashion_mnist", keys=("image", "label"))
    text = str(caught.value)
    assert "not prepared in data_dir %r" % str(tmp_path) in text
    assert ("No download was tried: storage.googleapis.com does not "
            "resolve") in text and "offline" in text


def test_a_proxy_or_a_resolving_host_still_downloads(monkeypatch, tmp_path):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    tried = []

    def download(*args, **kwargs):
        tried.append(1)
        raise ConnectionError("refused")
    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare",
                        download)
    _no_dns(monkeypatch)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    with pytest.raises(tf_inputs.DatasetNotPreparedError,
                       match="ConnectionError: refused"):
        data.TFDS("fashion_mnist", keys=("image", "label"))
    monkeypatch.delenv("HTTPS_PROXY")
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [])
    with pytest.raises(tf_inputs.DatasetNotPreparedError,
                       match="ConnectionError: refused"):
        data.TFDS("fashion_mnist", keys=("image", "label"))
    assert len(tried) == 2


def test_bad_keys_are_named(data_dir):
    with pytest.raises(ValueError, match="TFDS needs keys"):
        data.TFDS("tiny_text", data_dir=data_dir)
    with pytest.raises(KeyError, match=r"no feature\(s\) \['txt'\]"):
        data.TFDS("tiny_text", data_dir=data_dir, keys=("txt", "label"))
    with pytest.raises(ValueError, match="host_id"):
        data.TFDS("tiny_text", data_dir=data_dir, keys=("text",), host_id=2,
                  n_hosts=2)


def test_preprocess_functions_match_trax(oracle):
    assert len(oracle["preprocess"]) >= 20
    for case in oracle["preprocess"]:
        spec = case["dataset"]
        dataset = getattr(tiny_tfds, spec[0])(*spec[1], **(
                spec[2] if len(spec) > 2 else {}))
        out = getattr(tf_inputs, case["fn"])(dataset, *case["args"],
                                             **case["kwargs"])
        got = _encoded(out.as_numpy_iterator())
        assert got == case["items"], (case["fn"], case["args"],
                                      case["kwargs"])


def test_cifar_augmentation_keeps_shapes_and_pixels():
    images = tiny_tfds.images_dataset(4, shape=(32, 32, 3))
    out = list(tf_inputs.cifar10_augmentation_preprocess(
            images, True).as_numpy_iterator())
    originals = [f["image"] for f, _ in images.as_numpy_iterator()]
    for (features, _), original in zip(out, originals):
        assert features["image"].shape == (32, 32, 3)
        assert features["image"].dtype == np.float32
        # A crop of the zero-padded image: pixels are original ones or 0.
        values = set(np.round(features["image"].ravel() * 255).astype(int))
        assert values <= set(original.ravel().tolist()) | {0}
    flat = list(tf_inputs.cifar10_augmentation_flatten_preprocess(
            images, True, predict_image_train_weight=0.5).as_numpy_iterator())
    features, targets = flat[1]
    assert targets.shape == (32 * 32 * 3 + 1,) and targets[-1] == 1
    assert features["mask"][0] == 0.5 and features["mask"][-1] == 1.0


def test_streams_match_trax(oracle):
    want = oracle["streams"]
    seqs = tiny_tfds.int_sequences([3, 2, 4, 1], start=200)
    labels = [np.int64(1), np.int64(0)]
    assert _encoded(tf_inputs.CreateBertInputs(double_sentence=False)(
            zip(seqs[:2], labels))) == want["bert_single"]
    assert _encoded(tf_inputs.CreateBertInputs(
            False, labeled=False, cls_id=5, sep_id=6)(
            [(s,) for s in seqs[:3]])) == want["bert_single_unlabeled"]
    assert _encoded(data.CreateBertInputs()(
            zip(seqs[:2], seqs[2:], labels))) == want["bert_double"]
    assert _encoded(tf_inputs.CreateBertInputs(True, labeled=False)(
            zip(seqs[:2], seqs[2:]))) == want["bert_double_unlabeled"]
    rows = []
    rng = np.random.RandomState(11)
    for n in (12, 30, 3, 41):
        row = rng.randint(1000, 2000, size=n)
        row[0], row[-1] = 101, 102
        row[n // 2] = 0
        rows.append((row, np.int64(n)))
    np.random.seed(7)
    assert _encoded(data.mask_random_tokens(
            [(r.copy(), k) for r, k in rows])) == want["mask_random_tokens"]
    np.random.seed(8)
    assert _encoded(tf_inputs.mask_random_tokens(
            [(r.copy(),) for r, _ in rows], explicit_vocab_size=1010,
            masking_prob=0.4, vocab_start_id=1000)) == (
            want["mask_random_tokens_small_vocab"])
    unicode_rows = [(b"Audentes fortuna", b"\x81ab\xc3\xa9", 3),
                    (b"x", b"y", 4)]
    assert _encoded(data.ConvertToUnicode(keys=[0])(iter(unicode_rows))) == (
            want["convert_to_unicode_0"])
    assert _encoded(tf_inputs.ConvertToUnicode(keys=["a"])(
            iter([{"a": b"\xff\xfeok", "b": b"b"}]))) == (
            want["convert_to_unicode_dict"])
    assert _encoded(tf_inputs.ConvertToUnicode()(
            iter([b"caf\xc3\xa9\x80"]))) == want["convert_to_unicode_all"]


def test_data_streams_match_trax(oracle, data_dir):
    for case in oracle["data_streams"]:
        random.seed(case["seed"])
        train, evals = data.data_streams(
                "tiny_triple", data_dir=data_dir, shuffle_buffer_size=1,
                **case["kwargs"])
        tr, ev = train(), evals()
        assert _encoded(next(tr) for _ in range(6)) == case["train"]
        assert _encoded(next(ev) for _ in range(6)) == case["eval"]


def test_sentencepiece_tokenize(vocab_dir):
    spm = os.path.join(vocab_dir, "sentencepiece.model")
    out = list(data.sentencepiece_tokenize(iter(["I have a cat.",
                                                 ("I have a cat.",)]), spm))
    # Trax's own test expects these ids from its test model.
    assert [o.tolist() for o in out] == [[27, 43, 3, 9, 1712, 5]] * 2
    out = next(tf_inputs.SentencePieceTokenize(spm, extra_ids=2)(
            iter(["I have a cat."])))
    assert out.tolist() == [27, 43, 3, 9, 1712, 5]


def test_t5_only_functions_name_the_package(monkeypatch):
    # As without the t5 package, even where it is installed.
    for name in ("t5", "t5.data"):
        monkeypatch.setitem(sys.modules, name, None)
    # (rekey, tokenize and T5's vocabulary have a stand-in without t5:
    # tests/test_data_t5_fallback.py.)
    # (c4_bare_preprocess_fn's span corruption too: t5_span_corruption.)
    for call in (lambda: data.CorpusToRandomChunks("c4/en"),
                 lambda: data.BertNextSentencePredictionInputs("c4/en")):
        with pytest.raises(ImportError, match="needs the 't5' package"):
            call()


def test_core_import_has_no_tensorflow_and_missing_extra_is_named():
    code = textwrap.dedent("""
        import sys
        import trax_compat
        import trax_compat.data
        from trax_compat.data import tf_inputs
        assert trax_compat.data.TFDS is tf_inputs.TFDS
        assert 'tensorflow' not in sys.modules, 'tensorflow imported'
        assert 'tensorflow_datasets' not in sys.modules
        sys.modules['tensorflow'] = None  # as if the extra were absent
        try:
            trax_compat.data.TFDS('mnist', keys=('image', 'label'))
        except ImportError as e:
            print(e)
    """)
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "trax_compat.data.TFDS needs the 'tensorflow' package" in (
            result.stdout)
    assert 'pip install "trax-compat[tfds]"' in result.stdout


def test_data_streams_applies_gin_bindings_of_preprocess_functions(data_dir):
    # Trax's preprocess functions are gin configurables: a binding reaches
    # them when data_streams calls them, as in Trax.
    import gin  # pylint: disable=import-outside-toplevel  (the [test] extra)
    gin.clear_config()
    try:
        gin.parse_config("truncate_dataset_on_len.len_map = {'inputs': 2}\n"
                         "truncate_dataset_on_len.truncate_on_eval = True")
        _, evals = data.data_streams(
                "tiny_triple", data_dir=data_dir, shuffle_buffer_size=1,
                input_name="inputs", target_name="targets",
                bare_preprocess_fn=tf_inputs.truncate_dataset_on_len)
        stream = evals()
        lengths = {len(next(stream)[0]) for _ in range(8)}
    finally:
        gin.clear_config()
    assert max(lengths) == 2
