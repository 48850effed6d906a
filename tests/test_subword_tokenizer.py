"""Subword vocabulary, vocabulary lookup and Trax's tokenize API."""

import os
import random
import shutil
import socket

import numpy as np
import pytest

from conftest import load_oracle_json
from conftest import read_tweets
from trax_compat.data import download
from trax_compat.data import subword
from trax_compat.data import text_tokenize
from trax_compat.data import vocab_files
from trax_compat.data.subword import SubwordFormatError
from trax_compat.data.subword import SubwordVocabulary

VOCAB = "en_8k.subword"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    # No test may see the developer's real cache or env settings, nor reach
    # the internet: downloads go to a loopback port nobody listens on.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv(download.ENV_GCS_ENDPOINT, "http://127.0.0.1:%d" % port)
    monkeypatch.delenv(vocab_files.ENV_VOCAB_DIR, raising=False)
    monkeypatch.delenv(vocab_files.ENV_CACHE_DIR, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    vocab_files.clear_vocab_cache()
    yield
    vocab_files.clear_vocab_cache()


@pytest.fixture(scope="module")
def oracle():
    return load_oracle_json("tokens_en_8k.json")


def _kw(vocab_dir, **extra):
    return dict(vocab_type="subword", vocab_file=VOCAB, vocab_dir=str(vocab_dir),
                **extra)


def _assert_like_oracle(arr, entry):
    assert isinstance(arr, np.ndarray)
    assert arr.dtype == np.dtype(entry["ids_dtype"]), entry["python_repr"]
    assert list(arr.shape) == entry["ids_shape"], entry["python_repr"]
    assert arr.tolist() == entry["ids"], entry["python_repr"]


# ---------------------------------------------------------------- oracle --

def test_all_oracle_entries_match(vocab_dir, oracle):
    entries = oracle["entries"]
    assert len(entries) == oracle["n_entries"] == 533
    outs = list(text_tokenize.tokenize(iter([e["text"] for e in entries]),
                                   **_kw(vocab_dir)))
    assert len(outs) == len(entries)
    for arr, entry in zip(outs, entries):
        _assert_like_oracle(arr, entry)
        text = text_tokenize.detokenize(arr, **_kw(vocab_dir))
        assert text == entry["detokenized"], entry["python_repr"]
        assert text == entry["text"]


def test_special_oracle_facts(vocab_dir, oracle):
    by_text = {e["text"]: e for e in oracle["entries"]}
    (empty,) = text_tokenize.tokenize(iter([""]), **_kw(vocab_dir))
    assert empty.dtype == np.float64 and empty.shape == (0,)
    # "<pad>" is text like any other: escaped, never id 0.
    (pad,) = text_tokenize.tokenize(iter(["<pad>"]), **_kw(vocab_dir))
    assert 0 not in pad.tolist() and pad.tolist() == by_text["<pad>"]["ids"]
    (nul,) = text_tokenize.tokenize(iter(["\x00nul"]), **_kw(vocab_dir))
    assert len(nul) == 5


def test_n_reserved_ids(vocab_dir, oracle):
    entries = oracle["n_reserved_ids_3_entries"]
    assert len(entries) == 10
    outs = list(text_tokenize.tokenize(iter([e["text"] for e in entries]),
                                   **_kw(vocab_dir, n_reserved_ids=3)))
    for arr, entry in zip(outs, entries):
        _assert_like_oracle(arr, entry)
        assert text_tokenize.detokenize(
                arr, **_kw(vocab_dir, n_reserved_ids=3)) == entry["detokenized"]
        assert text_tokenize.detokenize(arr, **_kw(vocab_dir)) == (
                entry["detokenized_with_n_reserved_ids_0"])


def test_vocab_size(vocab_dir, oracle):
    assert text_tokenize.vocab_size(**_kw(vocab_dir)) == oracle["vocab_size"] == 8183
    assert text_tokenize.vocab_size(**_kw(vocab_dir, n_reserved_ids=3)) == (
            oracle["vocab_size_n_reserved_ids_3"]) == 8186
    assert isinstance(text_tokenize.vocab_size(**_kw(vocab_dir)), int)


def test_tuple_stream_keys0(vocab_dir, oracle):
    assert oracle["tuple_stream_keys0_identical"]
    entries = oracle["entries"]
    examples = [(e["text"], np.int64(i % 2)) for i, e in enumerate(entries)]
    tok = text_tokenize.Tokenize(keys=[0], vocab_file=VOCAB, vocab_dir=str(vocab_dir))
    outs = list(tok(iter(examples)))
    for (arr, label), entry, (_, want_label) in zip(outs, entries, examples):
        _assert_like_oracle(arr, entry)
        assert label is want_label


def test_stream_kinds(vocab_dir):
    kw = _kw(vocab_dir)
    (ref,) = text_tokenize.tokenize(iter(["Hello, World!"]), **kw)
    (from_bytes,) = text_tokenize.tokenize(iter(["Hello, World!".encode()]), **kw)
    assert from_bytes.tolist() == ref.tolist()
    # Lists come out as tuples; keys=None tokenizes every element.
    (both,) = text_tokenize.tokenize(iter([["Hello, World!", "Hello, World!"]]), **kw)
    assert isinstance(both, tuple) and len(both) == 2
    assert all(a.tolist() == ref.tolist() for a in both)
    (d,) = text_tokenize.tokenize(iter([{"a": "Hello, World!", "b": 7}]),
                              keys=["a"], **kw)
    assert d["a"].tolist() == ref.tolist() and d["b"] == 7
    assert list(d) == ["a", "b"]


def test_detokenize_reserved_ids(vocab_dir, oracle):
    cases = oracle["detokenize_reserved_ids"]
    assert len(cases) == 20
    for case in cases:
        assert text_tokenize.detokenize(case["ids"], **_kw(vocab_dir)) == (
                case["detokenized"]), case


def test_detokenize_edge_inputs(vocab_dir, oracle):
    kw = _kw(vocab_dir)
    inputs = {
            "[] (python list)": [],
            "np.array([], dtype=float64)": np.array([], dtype=np.float64),
            "np.array([0,1], dtype=int32)": np.array([0, 1], dtype=np.int32),
    }
    cases = oracle["detokenize_edge_inputs"]
    assert len(cases) == 10
    for case in cases:
        x = inputs.get(case["input"], case["ids"])
        assert text_tokenize.detokenize(x, **kw) == case["detokenized"], case
    for dtype in (np.int8, np.int16, np.uint16, np.int64, np.uint64):
        assert text_tokenize.detokenize(np.array([4, 1], dtype=dtype), **kw) == (
                "the<EOS>")


def test_tutorial_pipeline_matches_oracle_prefix(vocab_dir, corpus_dir, oracle):
    tweets = read_tweets(corpus_dir / "dev_tweets.txt")
    assert len(tweets) == 6000
    tok = text_tokenize.Tokenize(vocab_file=VOCAB, keys=[0], vocab_dir=str(vocab_dir))
    outs = list(tok(iter(tweets)))
    assert len(outs) == 6000
    dev = [e for e in oracle["entries"] if e["source"] == "dev_tweets"]
    for (arr, label), entry, (text, want) in zip(outs, dev, tweets):
        _assert_like_oracle(arr, entry)
        assert label == want
    for (arr, _), (text, _) in zip(outs, tweets):
        assert text_tokenize.detokenize(arr, **_kw(vocab_dir)) == text


# ----------------------------------------------------------- vocab lookup --

def _copy_vocab(vocab_dir, dest_dir):
    dest_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(vocab_dir / VOCAB, dest_dir / VOCAB)
    return dest_dir / VOCAB


def _tiny_vocab(path, extra=()):
    path.parent.mkdir(parents=True, exist_ok=True)
    subs = ["<pad>", "<EOS>", "a_", "b_", "_", "a", "b", *extra]
    path.write_text(subword.format_subword_lines(subs), encoding="utf-8")
    return path


def test_lookup_order_env_then_cache(monkeypatch, tmp_path):
    home_cache = tmp_path / "home" / ".cache" / "trax_compat" / "vocabs"
    cached = _tiny_vocab(home_cache / "t.subword")
    assert vocab_files.resolve_vocab_path("t.subword") == str(cached)
    assert text_tokenize.vocab_size(vocab_file="t.subword") == 7
    # The env folder wins over the cache when it has the file.
    env_dir = tmp_path / "env"
    env_file = _tiny_vocab(env_dir / "t.subword", extra=["c"])
    monkeypatch.setenv(vocab_files.ENV_VOCAB_DIR, str(env_dir))
    assert vocab_files.resolve_vocab_path("t.subword") == str(env_file)
    assert text_tokenize.vocab_size(vocab_file="t.subword") == 8
    # ... and falls back to the cache when it does not.
    env_file.unlink()
    assert vocab_files.resolve_vocab_path("t.subword") == str(cached)
    # An explicit vocab_dir is the only place looked at.
    other = _tiny_vocab(tmp_path / "other" / "t.subword", extra=["c", "d"])
    assert vocab_files.resolve_vocab_path("t.subword", str(other.parent)) == (
            str(other))
    # "~" in vocab_dir is expanded.
    _tiny_vocab(tmp_path / "home" / "mine" / "t.subword")
    assert vocab_files.resolve_vocab_path("t.subword", "~/mine") == str(
            tmp_path / "home" / "mine" / "t.subword")


def test_cache_dir_env_and_gs(monkeypatch, tmp_path):
    cache = tmp_path / "cache"
    monkeypatch.setenv(vocab_files.ENV_CACHE_DIR, str(cache))
    assert vocab_files.vocab_cache_dir() == str(cache / "vocabs")
    f = _tiny_vocab(cache / "vocabs" / "t.subword")
    assert vocab_files.resolve_vocab_path("t.subword") == str(f)
    # A gs:// folder maps onto the local cache (no download).
    assert vocab_files.resolve_vocab_path(
            "t.subword", "gs://trax-ml/vocabs/") == str(f)


def test_missing_file_error_lists_places(monkeypatch, tmp_path):
    env_dir = tmp_path / "env"
    monkeypatch.setenv(vocab_files.ENV_VOCAB_DIR, str(env_dir))
    cache = tmp_path / "home" / ".cache" / "trax_compat" / "vocabs"
    # The local lookup alone (no download) names every place and the fixes.
    with pytest.raises(FileNotFoundError) as info:
        vocab_files.resolve_vocab_path("nope.subword")
    msg = str(info.value)
    assert str(env_dir / "nope.subword") in msg
    assert str(cache / "nope.subword") in msg
    assert "vocab_dir=" in msg and vocab_files.ENV_VOCAB_DIR in msg
    assert "copy the file to" in msg and "gs://trax-ml/vocabs/nope.subword" in msg
    # tokenize then tries the bucket; offline, the error names the URL and
    # where to put the file.
    endpoint = os.environ[download.ENV_GCS_ENDPOINT]
    for vocab_dir in (None, "gs://trax-ml/vocabs/"):
        with pytest.raises(FileNotFoundError) as info:
            list(text_tokenize.tokenize(iter(["x"]), vocab_file="nope.subword",
                                    vocab_dir=vocab_dir))
        msg = str(info.value)
        assert isinstance(info.value, download.DownloadError)
        assert endpoint + "/trax-ml/vocabs/nope.subword" in msg
        assert "place it at %s" % (cache / "nope.subword") in msg
        assert "vocab_dir=" in msg and vocab_files.ENV_VOCAB_DIR in msg
    assert not cache.exists() or not list(cache.iterdir())
    # A local vocab_dir never downloads.
    with pytest.raises(FileNotFoundError) as info:
        text_tokenize.vocab_size(vocab_file="nope.subword", vocab_dir=str(env_dir))
    assert not isinstance(info.value, download.DownloadError)
    assert str(env_dir / "nope.subword") in str(info.value)


def test_bad_vocab_type_and_file_name(vocab_dir):
    with pytest.raises(ValueError) as info:
        list(text_tokenize.tokenize(iter(["x"]), vocab_type="words",
                                vocab_file=VOCAB, vocab_dir=str(vocab_dir)))
    msg = str(info.value)
    for name in ("subword", "sentencepiece", "char", "bert", "bert-lowercase"):
        assert repr(name) in msg
    assert "got 'words'" in msg
    with pytest.raises(ValueError, match="vocab_file"):
        text_tokenize.vocab_size(vocab_file=None)


@pytest.mark.parametrize("content, expected", [
        (b"", "empty"),
        (b"\n\n", "empty"),
        (b"'<pad>'\n'<EOS>'\n'the_'\n'of", "line 4.*no closing quote"),
        (b"'<pad>'\n'<EOS>'\nthe_\n", "line 3.*not quoted"),
        (b'{"vocab": ["a", "b"]}\n', "not a .subword vocabulary"),
        (b"\x80\x81\x00binary", "not a .subword vocabulary"),
])
def test_bad_files_raise_clear_errors(tmp_path, content, expected):
    path = tmp_path / "bad.subword"
    path.write_bytes(content)
    with pytest.raises(SubwordFormatError, match=expected) as info:
        SubwordVocabulary.load(path)
    assert str(path) in str(info.value)
    assert "single-quoted subtoken per line" in str(info.value)
    assert isinstance(info.value, ValueError)
    with pytest.raises(SubwordFormatError):
        text_tokenize.vocab_size(vocab_file="bad.subword", vocab_dir=str(tmp_path))


def test_t2t_file_quirks(tmp_path):
    # The newline subtoken is stored as a quoted line break: t2t reads it as
    # two empty subtokens; unquoted files starting with <pad> are valid too.
    path = tmp_path / "q.subword"
    path.write_bytes(b"'<pad>'\r\n'<EOS>'\n'''\n'a_'\n'\n'\n")
    vocab = SubwordVocabulary.load(path)
    assert vocab.subtokens == ("<pad>", "<EOS>", "'", "a_", "", "")
    assert vocab.decode([3, 4, 5, 99]) == "a"
    path.write_text("<pad>\n<EOS>\na_\n_\n", encoding="utf-8")
    assert SubwordVocabulary.load(path).subtokens == ("<pad>", "<EOS>", "a_", "_")


def test_vocabulary_loaded_once(monkeypatch, vocab_dir, tmp_path):
    loads = []
    real_load = SubwordVocabulary.load.__func__

    def counting_load(cls, path):
        loads.append(path)
        return real_load(cls, path)

    monkeypatch.setattr(SubwordVocabulary, "load", classmethod(counting_load))
    copy = _copy_vocab(vocab_dir, tmp_path / "v")
    kw = dict(vocab_file=VOCAB, vocab_dir=str(copy.parent))
    tok = text_tokenize.Tokenize(keys=[0], **kw)
    for _ in range(3):
        assert len(list(tok(iter([("a b", 1), ("c", 0)])))) == 2
    assert text_tokenize.vocab_size(**kw) == 8183
    assert text_tokenize.detokenize([4], **kw) == "the"
    assert len(loads) == 1
    # A changed file is reloaded.
    with open(copy, "a", encoding="utf-8") as f:
        f.write("'zzz_'\n")
    os.utime(copy, ns=(1, 1))
    assert text_tokenize.vocab_size(**kw) == 8184
    assert len(loads) == 2


# ---------------------------------------------------------------- builder --

def test_builder_on_dev_corpus(corpus_dir, tmp_path):
    texts = [t for t, _ in read_tweets(corpus_dir / "dev_tweets.txt")]
    # The dev corpus has only ~300 distinct words, so vocabularies top out
    # around 400 subtokens; 250 is well inside the reachable range.
    target = 250
    path = tmp_path / "dev.subword"
    vocab = subword.build_subword_vocab_file(texts, target, path)
    assert abs(vocab.vocab_size - target) * 100 < target
    assert vocab.subtokens[:2] == ("<pad>_", "<EOS>_")
    for text in texts:
        ids = vocab.encode(text)
        assert all(0 <= i < vocab.vocab_size for i in ids)
        assert vocab.decode(ids) == text
    # The saved file works through the Trax API too.
    (arr,) = text_tokenize.tokenize(iter([texts[0]]), vocab_file="dev.subword",
                                vocab_dir=str(tmp_path))
    assert arr.tolist() == vocab.encode(texts[0])
    assert text_tokenize.vocab_size(vocab_file="dev.subword",
                                vocab_dir=str(tmp_path)) == vocab.vocab_size


def test_builder_synthetic(tmp_path):
    rng = random.Random(0)
    syllables = ["ka", "lo", "mi", "ne", "ru", "ta", "zo", "é", "ß"]
    words = ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 4)))
             for _ in range(400)]
    texts = []
    for _ in range(2000):
        line = " ".join(rng.choice(words) for _ in range(rng.randint(1, 12)))
        texts.append(line + rng.choice(["", ".", "!", " _x_", " \\ok", "?!"]))
    texts += ["", "under_score", "tab\there", "42 is 6*7"]
    vocab = subword.build_subword_vocabulary(texts, 300)
    assert abs(vocab.vocab_size - 300) * 100 < 300
    for text in texts:
        assert vocab.decode(vocab.encode(text)) == text
    # Characters the corpus never had are escaped and still round-trip.
    for text in ["unseen ☃ chars 日本", "\x00", "new\nline"]:
        assert vocab.decode(vocab.encode(text)) == text
    # Saving and loading keeps every id.
    path = tmp_path / "syn.subword"
    vocab.save(path)
    loaded = SubwordVocabulary.load(path)
    # (A "\n" subtoken would load back as two entries; this corpus has none.)
    assert loaded.subtokens == vocab.subtokens
    assert [loaded.encode(t) for t in texts] == [vocab.encode(t) for t in texts]
    # Deterministic.
    assert subword.build_subword_vocabulary(texts, 300).subtokens == vocab.subtokens


def test_builder_rejects_bad_arguments():
    with pytest.raises(ValueError, match="target_size"):
        subword.build_subword_vocabulary(["a"], 0)
    with pytest.raises(ValueError, match="reserved_tokens"):
        subword.build_subword_vocabulary(["a"], 10, reserved_tokens=["<EOS>"])


def test_word_splitting_rules():
    assert subword.split_words("Dude - that's so cool.") == [
            "Dude", " - ", "that", "'", "s", "so", "cool", "."]
    assert subword.split_words(" a b ") == [" ", "a", "b", " "]
    assert subword.split_words("") == []
    assert subword.split_words("x²½٣") == ["x²½٣"]  # N* categories count
    assert subword.join_words(["Dude", " - ", "that", "'", "s", "so"]) == (
            "Dude - that's so")
    alpha = frozenset("ab") | frozenset("\\_u;0123456789")
    assert subword.escape_token("a_b\\c\n", alpha) == "a\\ub\\\\\\99;\\10;_"
    assert subword.unescape_token("a\\ub\\\\\\99;\\10;_") == "a_b\\c\n"
    assert subword.unescape_token("\\99999999;_") == "\u3013"
