"""``python -m train.sentiment --compare-with TRAX_LOG``."""

import contextlib
import io
import re
import sys

import pytest

from tests.conftest import ORACLE
from train import corpus
from train import sentiment
from trax_compat import command_errors
from trax_compat.logs import capture
from trax_compat.logs import compare_command

STDOUT = ORACLE / "trax_run_dev" / "stdout.txt"


def test_tee_stdout_keeps_printing_and_copies():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        with capture.tee_stdout() as copy:
            print("Step      1: train Loss |  0.50000000")
        print("after")
        with capture.tee_stdout(enabled=False) as nothing:
            assert sys.stdout is out
    assert copy.getvalue() == "Step      1: train Loss |  0.50000000\n"
    assert out.getvalue().endswith("0.50000000\nafter\n")
    assert nothing is None


def test_compare_with_step_log_function():
    ours = ("noise\nStep      1: Ran 1 train steps in 0.29 secs\n"
            "Step      1: train WeightedCategoryCrossEntropy |  0.72056681\n"
            "Step      1: eval      WeightedCategoryAccuracy |  0.50000000\n")
    out = io.StringIO()
    c = compare_command.compare_with_step_log(STDOUT, ours, stream=out)
    text = out.getvalue()
    assert f"Comparison with {STDOUT}:" in text
    assert "B: this run [step log, 1 step, 2 values]" in text
    assert c.largest.step == 1 and c.largest.name == "WeightedCategoryAccuracy"
    assert c.largest.abs_diff == pytest.approx(0.02499999)
    assert "steps only in A: 100, 200, 300" in text
    assert "1 1 0.58 1.72 1 0.29 3.45 2.00x" in " ".join(text.split())
    # One timed block in B: the first blocks are kept on both sides.
    assert c.speed.a == pytest.approx(300 / 5.50) and not c.speed.skipped_first
    out = io.StringIO()
    assert compare_command.compare_with_step_log(STDOUT, "no log",
                                                 stream=out) is None
    assert "this run printed no Trax step log lines" in out.getvalue()


def test_main_job_prints_the_comparison(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAX_COMPAT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("TRAX_COMPAT_VOCAB_DIR", raising=False)
    data = tmp_path / "tweets.txt"
    corpus.write_corpus(str(data), corpus.synthetic_tweets(300, seed=3))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        sentiment.main(["--data", str(data), "--steps", "2",
                        "--steps-per-checkpoint", "1",
                        "--output-dir", str(tmp_path / "out"),
                        "--compare-with", str(STDOUT)])
    text = out.getvalue()
    ours, _, report = text.partition(f"Comparison with {STDOUT}:")
    assert re.search(r"^Step      2: eval      WeightedCategoryAccuracy \|",
                     ours, re.M)
    assert report, text[-2000:]
    # Our step 1 values appear in the table next to Trax's.
    ours_loss = re.search(r"^Step      1: train WeightedCategoryCrossEntropy"
                          r" \|  ([0-9.]+)$", ours, re.M).group(1)
    assert re.search(r"^   1  train  WeightedCategoryCrossEntropy  "
                     r"0\.72056681  " + re.escape(ours_loss), report, re.M)
    assert "Summary: largest difference" in report
    assert "steps only in A: 100, 200, 300; only in B: 2" in report


def test_main_job_rejects_an_unusable_log_before_training(tmp_path):
    garbage = tmp_path / "garbage.txt"
    garbage.write_text("nothing to see\n")
    with pytest.raises(command_errors.UsageError,
                       match="--compare-with: .*no Trax step log lines found"):
        sentiment.main(["--steps", "1", "--output-dir", str(tmp_path / "o"),
                        "--compare-with", str(garbage)])
    assert not (tmp_path / "o").exists()
