"""Tests for the embedded synthetic corpus and the text,label file reader."""

import collections
import math
import random

import numpy as np
import pytest

from tests.conftest import read_tweets
from train import corpus
from train.corpus import default_corpus, synthetic_tweets, write_corpus
from train.data_files import DataFileError, read_labeled_lines


@pytest.fixture(scope="module")
def default_splits():
    return default_corpus()


# --- Generator ------------------------------------------------------------

def test_same_seed_gives_identical_examples():
    assert synthetic_tweets(300, seed=7) == synthetic_tweets(300, seed=7)


def test_different_seeds_differ():
    a, b = synthetic_tweets(300, seed=7), synthetic_tweets(300, seed=8)
    assert a != b
    assert len({t for t, _ in a} & {t for t, _ in b}) < 30


def test_generator_leaves_global_rngs_alone():
    random.seed(123)
    np.random.seed(123)
    expected = (random.random(), np.random.rand())
    random.seed(123)
    np.random.seed(123)
    synthetic_tweets(50, seed=1)
    assert (random.random(), np.random.rand()) == expected


def test_prefix_property_and_empty():
    assert synthetic_tweets(0, seed=3) == []
    assert synthetic_tweets(40, seed=3) == synthetic_tweets(100, seed=3)[:40]
    with pytest.raises(ValueError):
        synthetic_tweets(-1, seed=3)


def test_default_corpus_sizes_types_and_determinism(default_splits):
    train, eval_ = default_splits
    assert len(train) == corpus.DEFAULT_TRAIN_SIZE == 20000
    assert len(eval_) == corpus.DEFAULT_EVAL_SIZE == 1000
    for text, label in train[:200] + eval_[:200]:
        assert isinstance(text, str) and text.strip() == text and text
        assert type(label) is int and label in (0, 1)
    assert default_corpus() == default_splits


def test_texts_have_no_commas_or_line_breaks(default_splits):
    for split in default_splits:
        for text, _ in split:
            assert "," not in text
            assert "\n" not in text and "\r" not in text


def test_labels_are_balanced(default_splits):
    for split in default_splits:
        share = np.mean([label for _, label in split])
        assert 0.4 <= share <= 0.6


def test_eval_texts_do_not_occur_in_train(default_splits):
    train, eval_ = default_splits
    assert not {t for t, _ in train} & {t for t, _ in eval_}
    assert len({t for t, _ in eval_}) == len(eval_)


def test_style_has_mentions_emoji_caps_and_ratings(default_splits):
    texts = [t for t, _ in default_splits[0]]
    n = len(texts)
    assert sum("@" in t for t in texts) > 0.1 * n
    assert sum(any(ord(c) > 127 for c in t) for t in texts) > 0.1 * n
    assert sum(any(w.isupper() and len(w) > 1 for w in t.split())
               for t in texts) > 0.1 * n
    assert sum("/10" in t for t in texts) > 0.005 * n


def test_lengths_vary(default_splits):
    # Word counts as a proxy for subword length (about 2-3 tokens a word):
    # many tweets fit FilterByLength(30), a good share does not.
    n_words = np.array([len(t.split()) for t, _ in default_splits[0]])
    assert 0.3 < np.mean(n_words <= 10) < 0.8
    assert np.mean(n_words > 20) > 0.1
    assert n_words.min() >= 3


def _tokens(text):
    return text.lower().split()


def _naive_bayes_accuracy(train, eval_):
    counts = [collections.Counter(), collections.Counter()]
    n_docs = [0, 0]
    for text, label in train:
        counts[label].update(_tokens(text))
        n_docs[label] += 1
    vocab = len(set(counts[0]) | set(counts[1]))
    totals = [sum(c.values()) for c in counts]

    def score(text, c):
        return math.log(n_docs[c]) + sum(
            math.log((counts[c][w] + 1) / (totals[c] + vocab))
            for w in _tokens(text))

    hits = [int(score(t, 1) > score(t, 0)) == y for t, y in eval_]
    return float(np.mean(hits))


def test_labels_are_learnable_but_not_trivial(default_splits):
    train, eval_ = default_splits
    accuracy = _naive_bayes_accuracy(train, eval_)
    assert 0.75 < accuracy < 0.97
    # Shuffled labels leave nothing to learn: the signal is in the words.
    shuffled = [l for _, l in train]
    random.Random(0).shuffle(shuffled)
    chance = _naive_bayes_accuracy(
        [(t, l) for (t, _), l in zip(train, shuffled)], eval_)
    assert chance < 0.6


# --- write_corpus / read_labeled_lines round trip ------------------------

def test_write_then_read_round_trip(tmp_path):
    examples = synthetic_tweets(500, seed=11)
    path = write_corpus(tmp_path / "sub" / "tweets.txt", examples)
    got = read_labeled_lines(path)
    assert [(t, int(l)) for t, l in got] == examples
    assert all(type(l) is np.int64 for _, l in got)
    # Identical to the tutorial's own reader on a valid file.
    assert got == read_tweets(path)


def test_write_corpus_rejects_commas_and_newlines(tmp_path):
    with pytest.raises(ValueError, match="example 1"):
        write_corpus(tmp_path / "x.txt", [("fine", 1), ("a, b", 0)])
    with pytest.raises(ValueError):
        write_corpus(tmp_path / "y.txt", [("two\nlines", 0)])


def _write(tmp_path, content, name="data.txt"):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes)
                     else content.encode("utf-8"))
    return path


def test_reader_matches_tutorial_semantics(tmp_path):
    path = _write(tmp_path, "good movie,1\nbad one , 0 \n\"quoted\",1\n"
                            "no trailing newline,0")
    got = read_labeled_lines(path)
    # One comma: the tutorial's split, quotes and spaces kept.
    assert got == [("good movie", 1), ("bad one ", 0), ('"quoted"', 1),
                   ("no trailing newline", 0)]
    assert got == read_tweets(path)


def test_reader_takes_texts_with_commas(tmp_path):
    path = _write(tmp_path, 'great, really,1\n"great, really",1\n'
                            '"she said ""no, thanks""",0\n1,2,3\n')
    assert read_labeled_lines(path) == [
        ("great, really", 1), ("great, really", 1),
        ('she said "no, thanks"', 0), ("1,2", 3)]
    for bad, reason in (('"a, b",1,0\n', "followed by one `,label`"),
                        ('"a, b,1\n', "bad CSV quoting"),
                        ('"a, b" c,1\n', "bad CSV quoting"),
                        ("extra field,1,zzz\n", "label 'zzz' is not")):
        with pytest.raises(DataFileError) as info:
            read_labeled_lines(_write(tmp_path, "fine,1\n" + bad))
        message = str(info.value)
        assert "data.txt:2: " in message and reason in message, message
        assert 'quoted: `"great, really",1`' in message


def test_reader_skips_trailing_blank_lines_and_handles_crlf(tmp_path):
    path = _write(tmp_path, "\ufeffa,1\r\nb,0\r\n\r\n   \n")
    assert read_labeled_lines(path) == [("a", 1), ("b", 0)]


def test_missing_comma_names_file_and_line(tmp_path):
    path = _write(tmp_path, "ok,1\nalso ok,0\nthis line has no label\n",
                  name="tweets_bad.txt")
    with pytest.raises(DataFileError) as info:
        read_labeled_lines(path)
    message = str(info.value)
    assert "tweets_bad.txt:3" in message
    assert "this line has no label" in message
    assert "text,label" in message and "integer" in message
    assert info.value.lineno == 3
    assert isinstance(info.value, ValueError)


def test_non_integer_label_names_line(tmp_path):
    path = _write(tmp_path, "fine,1\nHello, world,one\n")
    with pytest.raises(DataFileError, match=r"data\.txt:2") as info:
        read_labeled_lines(path)
    assert "label 'one' is not an integer" in str(info.value)
    for bad in ("x,1.0\n", "x,positive\n", "x,\n", "x,99999999999999999999\n"):
        with pytest.raises(DataFileError, match=r"data\.txt:1"):
            read_labeled_lines(_write(tmp_path, bad))


def test_empty_and_blank_only_files(tmp_path):
    for content in ("", "\n\n  \n"):
        with pytest.raises(DataFileError, match="no examples"):
            read_labeled_lines(_write(tmp_path, content, name="empty.txt"))


def test_blank_line_in_the_middle_is_an_error(tmp_path):
    with pytest.raises(DataFileError, match=r"data\.txt:2") as info:
        read_labeled_lines(_write(tmp_path, "a,1\n\nb,0\n"))
    assert "blank line" in str(info.value)


def test_long_offending_line_is_truncated(tmp_path):
    path = _write(tmp_path, "word " * 200 + "\n")
    with pytest.raises(DataFileError) as info:
        read_labeled_lines(path)
    message = str(info.value)
    assert "(1000 chars)" in message and len(message) < 600


def test_invalid_utf8_reports_line(tmp_path):
    path = _write(tmp_path, b"ok,1\nalso ok,0\nbad \xff\xfe bytes,1\n")
    with pytest.raises(DataFileError, match=r"data\.txt:3.*UTF-8"):
        read_labeled_lines(path)
