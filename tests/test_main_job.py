"""The main job (``python -m train.sentiment``) on small local data."""

import contextlib
import io
import re
import subprocess
import sys

import pytest

from train import corpus
from train import sentiment
from tests.conftest import REPO, require_shared, VOCAB_DIR


def _write(path, examples):
    corpus.write_corpus(str(path), examples)
    return str(path)


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    train = _write(root / "train.txt", corpus.synthetic_tweets(1500, seed=1))
    evals = _write(root / "eval.txt", corpus.synthetic_tweets(300, seed=2))
    return train, evals


def _run_main(argv):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        loop = sentiment.main(argv)
    return loop, out.getvalue()


def test_main_job_builds_a_vocabulary_trains_and_predicts(small_data,
                                                          tmp_path,
                                                          monkeypatch):
    monkeypatch.setenv("TRAX_COMPAT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("TRAX_COMPAT_VOCAB_DIR", raising=False)
    train, evals = small_data
    out_dir = tmp_path / "out"
    loop, text = _run_main(["--data", train, "--eval-data", evals,
                            "--steps", "40", "--steps-per-checkpoint", "20",
                            "--output-dir", str(out_dir)])
    assert "en_8k.subword not found" in text and "built_8k.subword" in text
    assert (out_dir / "vocab" / "built_8k.subword").read_text().startswith(
        "'<pad>")
    assert re.search(r"^Step      1: Total number of trainable weights: "
                     r"2097666$", text, re.M)
    assert re.search(r"^Step     40: eval      WeightedCategoryAccuracy \|",
                     text, re.M)
    assert re.search(r"^example input_str: \S", text, re.M)
    probs = re.search(r"^Model returned sentiment probabilities: "
                      r"\[\[ *([0-9.e-]+) +([0-9.e-]+) *\]\]$", text, re.M)
    assert probs and abs(float(probs.group(1)) + float(probs.group(2))
                         - 1) < 1e-5
    assert loop.step == 40

    # A second run resumes from the checkpoint and reuses the vocabulary.
    loop2, text2 = _run_main(["--data", train, "--eval-data", evals,
                              "--steps", "20", "--steps-per-checkpoint", "20",
                              "--output-dir", str(out_dir)])
    assert "Resuming from the checkpoint of step 40" in text2
    assert "reusing the vocabulary built earlier" in text2
    assert loop2.step == 60 and "Step     60:" in text2


def test_main_job_uses_the_tutorial_vocabulary_when_given(small_data,
                                                          tmp_path):
    require_shared()
    train, evals = small_data
    _, text = _run_main(["--data", train, "--eval-data", evals, "--steps",
                         "2", "--vocab-dir", str(VOCAB_DIR), "--output-dir",
                         str(tmp_path / "o")])
    assert f"Using vocabulary {VOCAB_DIR / 'en_8k.subword'}" in text
    assert "built" not in text


def test_malformed_data_line_is_reported_with_file_and_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("good tweet,1\nanother good one,0\nno label here\n")
    proc = subprocess.run(
        [sys.executable, "-m", "train.sentiment", "--data", str(bad),
         "--steps", "1", "--output-dir", str(tmp_path / "o")],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert f"{bad}:3" in proc.stderr and "text,label" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_vocab_dir_file_is_an_error_naming_where_it_looked(
        small_data, tmp_path):
    train, evals = small_data
    with pytest.raises(SystemExit) as err:
        _run_main(["--data", train, "--eval-data", evals, "--steps", "1",
                   "--vocab-dir", str(tmp_path / "empty"),
                   "--output-dir", str(tmp_path / "o")])
    assert str(tmp_path / "empty" / "en_8k.subword") in str(err.value)
