"""The main job (``python -m train.sentiment``) on small local data: its
vocabulary, its resumes, and one-line errors for each kind of bad input."""

import contextlib
import io
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from train import sentiment
from trax_compat.data import vocab_files
from trax_compat.supervised import checkpoints
from tests.conftest import REPO, write_small_corpus

BUNDLED = vocab_files.BUNDLED_DIR


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    train, evals = write_small_corpus(tmp_path_factory.mktemp("data"))
    return str(train), str(evals)


@pytest.fixture(autouse=True)
def _private_vocab_places(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAX_COMPAT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("TRAX_COMPAT_VOCAB_DIR", raising=False)


def _run_main(argv):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        loop = sentiment.main(argv)
    return loop, out.getvalue()


def _job(argv, capsys):
    """Runs the job as its command line does: (exit code, stdout, stderr)."""
    code = sentiment.run_command(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _args(small_data, out, *extra):
    train, evals = small_data
    return ["--data", train, "--eval-data", evals, "--output-dir", str(out),
            *extra]


def test_uses_the_bundled_tutorial_vocabulary_by_default(small_data,
                                                         tmp_path):
    loop, text = _run_main(_args(small_data, tmp_path / "out", "--steps", "2"))
    assert f"Using vocabulary {os.path.join(BUNDLED, 'en_8k.subword')}\n" in text
    assert "differs from Trax's" not in text
    assert not (tmp_path / "out" / "vocab").exists()
    assert re.search(r"^Step      1: Total number of trainable weights: "
                     r"2097666$", text, re.M)
    record = json.loads((tmp_path / "out" / "job.json").read_text())
    assert record["settings"]["vocab"] == {
        "file": "en_8k.subword", "sha256": sentiment.TUTORIAL_VOCAB_SHA256}
    # The Loop tokenizes with Trax's ids: "of" is id 5 in en_8k.subword.
    from trax_compat import data  # pylint: disable=g-import-not-at-top
    (ids,) = data.tokenize(iter(["of"]), vocab_file="en_8k.subword")
    assert ids.tolist() == [5]
    assert loop.step == 2


def test_build_vocab_builds_once_and_reuses(small_data, tmp_path):
    out = tmp_path / "out"
    loop, text = _run_main(_args(small_data, out, "--build-vocab",
                                 "--steps", "40",
                                 "--steps-per-checkpoint", "20"))
    built = out / "vocab" / "built_8k.subword"
    assert f"Built a subword vocabulary of" in text and str(built) in text
    assert built.read_text().startswith("'<pad>")
    assert re.search(r"^Step     40: eval      WeightedCategoryAccuracy \|",
                     text, re.M)
    assert re.search(r"^example input_str: \S", text, re.M)
    probs = re.search(r"^Model returned sentiment probabilities: "
                      r"\[\[ *([0-9.e-]+) +([0-9.e-]+) *\]\]$", text, re.M)
    assert probs and abs(float(probs.group(1)) + float(probs.group(2))
                         - 1) < 1e-5
    assert loop.step == 40
    # --steps is the job's total: a larger one extends it, reusing the
    # vocabulary; the same one again finds the job complete.
    loop2, text2 = _run_main(_args(small_data, out, "--build-vocab",
                                   "--steps", "60",
                                   "--steps-per-checkpoint", "20"))
    assert "Resuming from the checkpoint of step 40" in text2
    assert "Reusing the vocabulary built earlier" in text2
    assert loop2.step == 60 and "Step     60:" in text2
    _, text3 = _run_main(_args(small_data, out, "--build-vocab",
                               "--steps", "60",
                               "--steps-per-checkpoint", "20"))
    assert "is complete: it reached step 60 of 60" in text3
    assert "Step " not in text3


def test_last_step_is_always_checkpointed(small_data, tmp_path):
    out = tmp_path / "out"
    _run_main(_args(small_data, out, "--steps", "25",
                    "--steps-per-checkpoint", "10"))
    assert checkpoints.committed_steps(str(out / "checkpoints")) == [10, 20, 25]


def test_resume_with_other_settings_is_refused(small_data, tmp_path, capsys):
    out = tmp_path / "out"
    _run_main(_args(small_data, out, "--steps", "2"))
    code, _, err = _job(_args(small_data, out, "--steps", "4", "--seed", "3"),
                        capsys)
    assert code == 2
    assert "--seed differ" in err and "pass a new --output-dir" in err
    assert checkpoints.committed_steps(str(out / "checkpoints")) == [1, 2]


# -- one line, the right exit code, for each kind of bad input ---------------

def _one_error_line(err):
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


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


def test_labels_outside_the_models_classes_are_an_error(tmp_path, capsys):
    data = tmp_path / "labels.txt"
    data.write_text("great,1\nawful,0\nmeh,2\nfine,1\n")
    code, _, err = _job(["--data", str(data), "--output-dir",
                         str(tmp_path / "o")], capsys)
    assert code == 2
    assert f"{data}:3" in err and "label 2 is outside 0..1" in err
    assert "--n-classes" in err


@pytest.mark.parametrize("content, what", [
    (b"", "is empty"),
    (b"'<pad>'\n'<EOS>'\n'ab", "truncated"),
    (b"\xff\xfe\x00 binary", "not UTF-8"),
])
def test_broken_vocabulary_in_vocab_dir(small_data, tmp_path, capsys,
                                        content, what):
    vocab_dir = tmp_path / "v"
    vocab_dir.mkdir()
    (vocab_dir / "en_8k.subword").write_bytes(content)
    code, _, err = _job(_args(small_data, tmp_path / "o", "--vocab-dir",
                              str(vocab_dir)), capsys)
    line = _one_error_line(err)
    assert code == 2
    assert str(vocab_dir / "en_8k.subword") in line and what in line
    assert "leave out --vocab-dir" in line


def test_missing_vocabulary_in_vocab_dir(small_data, tmp_path, capsys):
    code, _, err = _job(_args(small_data, tmp_path / "o", "--vocab-dir",
                              str(tmp_path / "empty")), capsys)
    line = _one_error_line(err)
    assert code == 2 and str(tmp_path / "empty") in line
    assert "en_8k.subword" in line


def test_truncated_built_vocabulary(small_data, tmp_path, capsys):
    out = tmp_path / "o"
    built = out / "vocab" / "built_8k.subword"
    built.parent.mkdir(parents=True)
    built.write_text("'<pad>'\n'<EOS>'\n'the_'\n'unfinish")
    code, _, err = _job(_args(small_data, out, "--build-vocab"), capsys)
    line = _one_error_line(err)
    assert code == 2 and str(built) in line
    assert f"Delete {built} to build it again" in line


def test_output_dir_that_is_a_file_or_cannot_be_created(small_data, tmp_path,
                                                         capsys):
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    for out, what in ((a_file, "exists and is not a directory"),
                      (a_file / "sub", "cannot be used")):
        code, _, err = _job(_args(small_data, out), capsys)
        line = _one_error_line(err)
        assert line.startswith(f"{sentiment.PROG}: error: --output-dir {out} ")
        assert code == 2 and what in line
        assert line.endswith("pass an --output-dir you can write to.")
        assert "output_dir" not in line.replace(str(tmp_path), "")


def test_help_and_errors_share_one_program_name(tmp_path):
    run = lambda *argv: subprocess.run(
        [sys.executable, "-m", "train.sentiment", *argv], cwd=REPO,
        capture_output=True, text=True, timeout=120)
    helped = run("--help")
    assert helped.stdout.startswith(f"usage: {sentiment.PROG} ")
    assert "quoted as in CSV" in " ".join(helped.stdout.split())
    for argv in (["--steps", "0"], ["--data", str(tmp_path / "none.txt")]):
        proc = run(*argv, "--output-dir", str(tmp_path / "o"))
        assert proc.returncode == 2
        assert proc.stderr.startswith(f"{sentiment.PROG}: error: --")


def test_a_badly_quoted_line_is_reported_with_file_and_line(tmp_path,
                                                            capsys):
    data = tmp_path / "quotes.txt"
    data.write_text('"great, really",1\nawful, really,0\n"fine, x,1\n')
    code, _, err = _job(["--data", str(data), "--output-dir",
                         str(tmp_path / "o")], capsys)
    line = _one_error_line(err.split("\n  expected")[0])
    assert code == 2 and f"{data}:3: bad CSV quoting" in line


@pytest.mark.parametrize("argv, message", [
    (["--seed", "-1"], "--seed must be between 0 and"),
    (["--steps-per-checkpoint", "0"], "--steps-per-checkpoint must be at"),
    (["--steps-per-checkpoint", "-3"], "--steps-per-checkpoint must be at"),
    (["--steps", "0"], "--steps must be at least 1"),
    (["--n-classes", "1"], "--n-classes must be at least 2"),
])
def test_bad_arguments_exit_2_naming_the_flag(tmp_path, capsys, argv,
                                              message):
    with pytest.raises(SystemExit) as exit_info:
        sentiment.main(argv + ["--output-dir", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    line = _one_error_line(capsys.readouterr().err)
    assert message in line and line.endswith("(see --help)")
    assert not (tmp_path / "o").exists()


def test_missing_eval_data_file_names_the_flag(small_data, tmp_path, capsys):
    train, _ = small_data
    missing = tmp_path / "nope.txt"
    code, _, err = _job(["--data", train, "--eval-data", str(missing),
                         "--output-dir", str(tmp_path / "o")], capsys)
    line = _one_error_line(err)
    assert code == 2 and f"--eval-data {missing} does not exist" in line


def test_all_checkpoints_damaged_is_a_runtime_error(small_data, tmp_path,
                                                    capsys):
    out = tmp_path / "o"
    _run_main(_args(small_data, out, "--steps", "2"))
    for path in (out / "checkpoints").rglob("*"):
        if path.is_file() and "ocdbt" in str(path.parent):
            path.write_bytes(b"")
    code, _, err = _job(_args(small_data, out, "--steps", "4"), capsys)
    line = _one_error_line(err)
    assert code == 1
    assert "No intact checkpoint in" in line and "step 2:" in line
    assert "Move them away" in line
    # The Loop's advice ("a fresh output_dir") names the flag.
    assert line.startswith(f"{sentiment.PROG}: error: ")
    assert "use a fresh --output-dir" in line
    assert "output_dir" not in line.replace(str(tmp_path), "")


def test_debug_shows_the_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "train.sentiment", "--data",
         str(tmp_path / "missing.txt"), "--output-dir", str(tmp_path / "o"),
         "--debug"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "UsageError" in proc.stderr
