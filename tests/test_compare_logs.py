"""``trax-compat compare-logs``: parsing, event files, comparison, output."""

import csv
import io
import json
import math
import subprocess
import sys

import pytest

from tests.conftest import REPO, ORACLE
from trax_compat import cli
from trax_compat import logs
from trax_compat.logs import compare
from trax_compat.logs import render

RUN_DIR = ORACLE / "trax_run_dev"
STDOUT = RUN_DIR / "stdout.txt"
TRAIN = ("train", "WeightedCategoryCrossEntropy")
EVAL_CE = ("eval", "WeightedCategoryCrossEntropy")
EVAL_ACC = ("eval", "WeightedCategoryAccuracy")

# What the oracle stdout says (copied from the fixture by hand).
EXPECTED = {
    TRAIN: {1: 0.72056681, 100: 0.53746706, 200: 0.46230346,
            300: 0.37513512},
    EVAL_CE: {1: 0.69621058, 100: 0.41460805, 200: 0.38131797,
              300: 0.29457187},
    EVAL_ACC: {1: 0.47500001, 100: 0.83500001, 200: 0.85500000,
               300: 0.90999999},
}


@pytest.fixture(scope="module")
def oracle_text():
    return STDOUT.read_text(encoding="utf-8")


def _write(path, text):
    path.write_bytes(text.encode("utf-8"))
    return str(path)


def _without_block(text, step):
    """The log without the lines of one step's block."""
    return "\n".join(line for line in text.splitlines()
                     if not line.startswith("Step % 6d:" % step)) + "\n"


def _cli(argv, capsys):
    status = cli.main(["compare-logs"] + [str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# -- parsing -------------------------------------------------------------------

def test_parses_the_oracle_stdout(oracle_text):
    log = logs.parse_step_log(oracle_text)
    assert log.values == EXPECTED
    assert list(log.values) == [TRAIN, EVAL_CE, EVAL_ACC]  # print order
    assert log.steps == [1, 100, 200, 300]
    assert log.timings == {1: logs.Timing(1, 0.58), 100: logs.Timing(99, 2.04),
                           200: logs.Timing(100, 1.44),
                           300: logs.Timing(100, 1.44)}
    assert log.n_weights == 2097666
    assert log.n_lines == 4 * 4 + 1  # 3 metrics + "Ran" per step, weights


def test_parses_trax_name_justification_and_special_values(oracle_dir):
    text = (oracle_dir / "log_format.txt").read_text(encoding="utf-8")
    run1 = text.split("#### BEGIN RUN 1 STDOUT")[1].split("#### END")[0]
    run2 = text.split("#### BEGIN RUN 2 STDOUT")[1].split("#### END")[0]
    log1 = logs.parse_step_log(run1)
    assert log1.values[("train", "my_custom_loss")] == {1: 0.97404301,
                                                        2: 0.50350702}
    assert log1.values[("eval", "cross_entropy_of_the_second_eval_task")] \
        == {1: 0.50369835, 2: 0.83338726}
    assert log1.values[("eval", "acc")] == {1: 1.0, 2: 0.5}
    assert log1.timings[2] == logs.Timing(1, 0.20)
    log2 = logs.parse_step_log(run2)
    assert log2.values[("eval", "NegativeOne")] == {1: -1.0, 2: -1.0}
    assert log2.values[("eval", "Big")] == {1: 12345679.0, 2: 12345679.0}
    assert all(math.isnan(v)
               for v in log2.values[("eval", "AlwaysNaN")].values())


def test_finds_step_lines_in_a_noisy_capture(oracle_text):
    noisy = []
    for i, line in enumerate(oracle_text.splitlines()):
        if line.startswith("Step") and i % 3 == 0:
            # absl prefix
            line = "I0312 10:11:12.345678 140234 training.py:123] " + line
        elif line.startswith("Step") and i % 3 == 1:
            # a progress bar redrawn with \r, then the step line
            line = "eval: 45%|#####     | 9/20 [00:01<00:01]\r" + line
        noisy.append(line)
        if i % 4 == 0:
            noisy += ["WARNING:absl:something is deprecated",
                      "/usr/lib/python3/warnings.py:12: UserWarning: Step",
                      "user print: Step 5 of the recipe: add salt",
                      "Step 7: a sentence that is not a log line",
                      "\x1b[2K\x1b[1G100%|##########| done"]
    text = "\r\n".join(noisy) + "\r\n"  # Windows line endings
    log = logs.parse_step_log(text)
    assert log.values == EXPECTED
    assert log.timings == logs.parse_step_log(oracle_text).timings
    assert log.n_weights == 2097666


def test_interleaved_text_after_a_value_is_ignored():
    log = logs.parse_step_log(
        "Step      5: train Loss |  0.25000000 [worker 2] hello\n"
        "Step      5: eval   Acc |  0.50000000\n")
    assert log.values == {("train", "Loss"): {5: 0.25},
                          ("eval", "Acc"): {5: 0.5}}


def test_repeated_metric_in_a_block_and_a_repeated_block():
    text = ("Step      1: eval  Acc |  0.10000000\n"
            "Step      1: eval  Acc |  0.20000000\n"  # second eval task
            "Step      2: eval  Acc |  0.30000000\n"
            "Step      2: eval  Acc |  0.40000000\n"
            "Did not save checkpoint\n"
            "Step      2: eval  Acc |  0.50000000\n")  # same block goes on
    log = logs.parse_step_log(text)
    assert log.values[("eval", "Acc")] == {1: 0.1, 2: 0.3}
    assert log.values[("eval", "Acc #2")] == {1: 0.2, 2: 0.4}
    assert log.values[("eval", "Acc #3")] == {2: 0.5}
    # A resumed run appending to the log: the later block wins.
    resumed = logs.parse_step_log(
        "Step      2: eval  Acc |  0.30000000\n"
        "Step      3: eval  Acc |  0.60000000\n"
        "Step      2: eval  Acc |  0.35000000\n")
    assert resumed.values[("eval", "Acc")] == {2: 0.35, 3: 0.6}
    assert resumed.n_replaced == 1


@pytest.mark.parametrize("content", [
    b"",
    b"hello world\nthis is not a training log\n",
    bytes(range(256)) * 8,  # binary garbage
])
def test_unusable_text_raises_a_clear_error(tmp_path, content):
    path = tmp_path / "garbage.txt"
    path.write_bytes(content)
    with pytest.raises(logs.LogError, match="no Trax step log lines found"):
        logs.load_log(path)


def test_missing_path_and_empty_directory(tmp_path):
    with pytest.raises(logs.LogError, match="no such file or directory"):
        logs.load_log(tmp_path / "nope.txt")
    with pytest.raises(logs.LogError, match="neither TensorBoard event files"):
        logs.load_log(tmp_path)


# -- event files ---------------------------------------------------------------

def test_reads_real_trax_event_files(oracle_text):
    log = logs.load_log(RUN_DIR / "output_dir")
    assert log.kind == "event files"
    for key, series in EXPECTED.items():
        assert log.values[key].keys() == series.keys()
        for step, value in series.items():
            # float32 in the event files vs 8 decimals in the text
            assert log.values[key][step] == pytest.approx(value, rel=1e-7)
    assert log.values[("train", "training/learning_rate")][300] == \
        pytest.approx(0.01)
    assert log.values[("train", "training/weights_l2")][1] == \
        pytest.approx(90.5187225)
    # steps per second -> "Ran N train steps in X secs"
    assert [(s, t.n_steps) for s, t in sorted(log.timings.items())] == [
        (1, 1), (100, 99), (200, 100), (300, 100)]
    text_timings = logs.parse_step_log(oracle_text).timings
    for step, timing in log.timings.items():
        assert timing.secs == pytest.approx(text_timings[step].secs, abs=0.01)
    assert not any("gin" in name for _, name in log.values)
    assert ("train", "training/steps per second") not in log.values


def _write_clu_run(out_dir):
    from trax_compat.supervised import summaries  # pylint: disable=g-import-not-at-top
    train = summaries.BackgroundSummaryWriter(str(out_dir / "train"))
    evals = summaries.BackgroundSummaryWriter(str(out_dir / "eval"))
    for step, loss, acc, rate in [(1, 0.7, 0.5, 2.0), (10, 0.4, 0.8, 30.0)]:
        train.write_scalars(step, {"metrics/Loss": loss,
                                   "training/learning_rate": 0.01,
                                   "training/steps per second": rate})
        evals.write_scalars(step, {"metrics/Acc": acc})
    train.close()
    evals.close()


def test_reads_our_loops_clu_event_files_and_log_txt(tmp_path):
    _write_clu_run(tmp_path)
    log = logs.load_log(tmp_path)
    assert log.values[("train", "Loss")] == pytest.approx({1: 0.7, 10: 0.4})
    assert log.values[("eval", "Acc")] == pytest.approx({1: 0.5, 10: 0.8})
    assert log.values[("train", "training/learning_rate")] == \
        pytest.approx({1: 0.01, 10: 0.01})
    assert log.timings[1].n_steps == 1 and log.timings[10].n_steps == 9
    assert log.timings[10].secs == pytest.approx(9 / 30.0)
    # A single event file can be given too.
    event_file = next((tmp_path / "eval").iterdir())
    assert logs.load_log(event_file).values == {
        ("eval", "Acc"): pytest.approx({1: 0.5, 10: 0.8})}
    # With a log.txt next to them, its values and timings are used and the
    # event files add what the step log does not print.
    _write(tmp_path / "log.txt",
           "\nStep      1: Ran 1 train steps in 0.40 secs\n"
           "Step      1: train Loss |  0.70000000\n"
           "Step      1: eval   Acc |  0.50000000\n")
    merged = logs.load_log(tmp_path)
    assert merged.kind == "step log + event files"
    assert merged.values[("train", "Loss")] == {1: 0.7}
    assert merged.timings == {1: logs.Timing(1, 0.40)}
    assert ("train", "training/learning_rate") in merged.values


def test_directory_with_only_a_log_txt(tmp_path, oracle_text):
    _write(tmp_path / "log.txt", oracle_text)
    log = logs.load_log(tmp_path)
    assert log.values == EXPECTED and log.source == str(tmp_path)


def test_corrupt_event_file_is_unusable(tmp_path):
    (tmp_path / "train").mkdir()
    bad = tmp_path / "train" / "events.out.tfevents.123.host"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00abcd" + b"\xff" * 20)
    with pytest.raises(logs.LogError, match="not a TensorBoard event file"):
        logs.load_log(tmp_path)


# -- comparing -----------------------------------------------------------------

def test_oracle_against_itself_has_no_differences(oracle_text):
    log = logs.parse_step_log(oracle_text)
    c = compare.compare(log, log, atol=0.0)
    assert len(c.rows) == 12 and all(r.shared for r in c.rows)
    assert all(r.abs_diff == 0 and r.rel_diff == 0 for r in c.rows)
    assert c.passed and not c.failures
    assert [t.speed_ratio for t in c.timings] == [1.0] * 4
    assert c.speed.ratio == 1.0 and c.speed.skipped_first
    # 299 steps in 4.92 secs once step 1 (JIT compilation) is left out
    assert c.speed.a == pytest.approx(299 / 4.92)
    assert "all 12 shared values are identical" in render.summary_line(c)


def test_perturbed_copy_is_detected(oracle_text):
    a = logs.parse_step_log(oracle_text)
    b = logs.parse_step_log(oracle_text.replace(
        "WeightedCategoryAccuracy |  0.85500000",
        "WeightedCategoryAccuracy |  0.85600000"))
    c = compare.compare(a, b, atol=1e-4)
    big = c.largest
    assert (big.step, big.mode, big.name) == (200, "eval",
                                              "WeightedCategoryAccuracy")
    assert big.abs_diff == pytest.approx(1e-3)
    assert big.rel_diff == pytest.approx(1e-3 / 0.855)
    assert not c.passed and [r.step for r in c.failures] == [200]
    assert "at step 200, eval WeightedCategoryAccuracy" in \
        render.summary_line(c)
    assert render.verdict_line(c).startswith("FAIL: 1 of 12 shared values")
    assert compare.compare(a, b, atol=2e-3).passed
    assert compare.compare(a, b, rtol=2e-3).passed
    assert not compare.compare(a, b, rtol=1e-3).passed  # 1e-3/0.855 > 1e-3


def test_missing_steps_are_marked(oracle_text):
    a = logs.parse_step_log(oracle_text)
    b = logs.parse_step_log(_without_block(oracle_text, 200))
    c = compare.compare(a, b, atol=0.0)
    missing = [r for r in c.rows if not r.shared]
    assert [(r.step, r.where) for r in missing] == [(200, "only in A")] * 3
    assert c.steps_only_a == [200] and c.steps_only_b == []
    assert c.passed  # shared values agree
    assert not compare.compare(a, b, atol=0.0,
                               require_same_steps=True).passed
    timing = [t for t in c.timings if t.step == 200][0]
    assert timing.b is None and timing.speed_ratio is None
    text = render.render_text(c)
    assert "only in A" in text
    assert "steps only in A: 200; only in B: none" in text


def test_nan_and_inf_rules():
    assert compare.differences(math.nan, math.nan) == (0.0, 0.0)
    assert compare.within_tolerance(math.inf, math.inf)
    assert not compare.within_tolerance(math.nan, 0.5, atol=1.0)
    assert not compare.within_tolerance(1.0, math.inf, atol=1e9)
    assert compare.differences(0.0, 0.5) == (0.5, math.inf)
    a = logs.parse_step_log("Step 1: eval X |  nan\nStep 1: eval Y |  1.0\n")
    b = logs.parse_step_log("Step 1: eval X |  0.5\nStep 1: eval Y |  1.5\n")
    c = compare.compare(a, b, atol=1.0)
    assert c.largest.name == "X"  # NaN against a number is the worst
    assert [r.name for r in c.failures] == ["X"]


def test_speed_ratio(oracle_text):
    a = logs.parse_step_log(oracle_text)
    b = logs.parse_step_log(oracle_text.replace("in 1.44 secs",
                                                "in 0.72 secs"))
    c = compare.compare(a, b)
    ratios = {t.step: t.speed_ratio for t in c.timings}
    assert ratios[1] == 1.0 and ratios[200] == pytest.approx(2.0)
    assert c.speed.ratio == pytest.approx((299 / 3.48) / (299 / 4.92))
    assert "Speed: B ran at 1.41x A's speed" in render.speed_line(c)


def test_text_vs_event_files_notes_the_precision(oracle_text):
    a = logs.parse_step_log(oracle_text)
    b = logs.load_log(RUN_DIR / "output_dir")
    c = compare.compare(a, b, rtol=1e-6)
    assert c.passed and c.mixed_precision
    assert not compare.compare(a, b, atol=0.0).passed
    assert c.metrics_only_b[0] == ("train", "training/learning_rate")
    text = render.render_text(c)
    assert "Metrics only in B (not compared): train training/learning_rate" \
        in text
    assert "8 decimals" in text


# -- the command ---------------------------------------------------------------

def test_command_oracle_against_itself(capsys):
    status, out, err = _cli([STDOUT, STDOUT, "--atol", "0", "--rtol", "0"],
                            capsys)
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == f"A: {STDOUT} [step log, 4 steps, 12 values, " \
                       f"2097666 trainable weights]"
    header = [l for l in lines if l.startswith("step  mode")][0]
    assert header.split() == ["step", "mode", "metric", "A", "B", "abs",
                              "diff", "rel", "diff", "note"]
    assert " 200  eval   WeightedCategoryAccuracy      0.85500000  " \
           "0.85500000         0         0" in out
    assert "Summary: largest difference 0: all 12 shared values are " \
           "identical" in out
    assert "PASS: all 12 shared values within atol=0, rtol=0" in out


def test_command_exit_statuses(tmp_path, oracle_text, capsys):
    perturbed = _write(tmp_path / "perturbed.txt", oracle_text.replace(
        "train WeightedCategoryCrossEntropy |  0.37513512",
        "train WeightedCategoryCrossEntropy |  0.37613512"))
    status, out, _ = _cli([STDOUT, perturbed, "--atol", "1e-4"], capsys)
    assert status == 1
    assert "OUTSIDE TOLERANCE" in out and "FAIL: 1 of 12" in out
    assert _cli([STDOUT, perturbed, "--atol", "1e-2"], capsys)[0] == 0
    # Without a tolerance it only reports.
    assert _cli([STDOUT, perturbed], capsys)[0] == 0
    garbage = _write(tmp_path / "garbage.txt", "no log here\n")
    status, out, err = _cli([STDOUT, garbage], capsys)
    assert status == 2 and out == ""
    assert "garbage.txt: no Trax step log lines found" in err
    # Logs that share no metric cannot be checked.
    other = _write(tmp_path / "other.txt", "Step 1: train Other |  1.0\n")
    status, _, err = _cli([STDOUT, other, "--atol", "1"], capsys)
    assert status == 2 and "share no metric values" in err


def test_command_formats(tmp_path, oracle_text, capsys):
    short = _write(tmp_path / "short.txt", _without_block(oracle_text, 300))
    status, out, _ = _cli([STDOUT, short, "--format", "json", "--atol", "0"],
                          capsys)
    assert status == 0
    data = json.loads(out)
    assert data["n_shared_values"] == 9
    assert data["steps_only_in_a"] == [300] and data["steps_only_in_b"] == []
    assert data["check"]["passed"] is True
    assert data["rows"][0] == {
        "step": 1, "mode": "train", "metric": "WeightedCategoryCrossEntropy",
        "a": 0.72056681, "b": 0.72056681, "abs_diff": 0.0, "rel_diff": 0.0,
        "where": "both", "within_tolerance": True}
    assert data["speed"]["ratio"] == pytest.approx((199 / 3.48) / (299 / 4.92))

    status, out, _ = _cli([STDOUT, short, "--format", "csv"], capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 12
    assert rows[-1]["step"] == "300" and rows[-1]["where"] == "only in A"
    assert rows[-1]["b"] == "" and float(rows[-1]["a"]) == 0.90999999

    status, out, _ = _cli([STDOUT, short, "--format", "markdown"], capsys)
    assert "| step | mode | metric | A | B | abs diff | rel diff | note |" \
        in out
    assert "| 300 | eval | WeightedCategoryAccuracy | 0.90999999 | - |" in out
    assert "* Summary: " in out


def _subprocess(*argv):
    return subprocess.run(
        [sys.executable, "-m", "trax_compat", "compare-logs"]
        + [str(a) for a in argv], cwd=REPO, capture_output=True, text=True,
        timeout=120)


def test_cli_subprocess_exit_codes(tmp_path, oracle_text):
    same = _subprocess(STDOUT, STDOUT, "--atol", "0")
    assert same.returncode == 0, same.stderr
    assert "PASS: all 12 shared values" in same.stdout
    perturbed = _write(tmp_path / "p.txt", oracle_text.replace(
        "0.69621058", "0.69721058"))
    diff = _subprocess(STDOUT, perturbed, "--rtol", "1e-3")
    assert diff.returncode == 1
    assert "at step 1, eval WeightedCategoryCrossEntropy" in diff.stdout
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)))
    bad = _subprocess(STDOUT, garbage)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.startswith("trax-compat compare-logs: error: ")
    assert "no Trax step log lines found" in bad.stderr
    usage = _subprocess(STDOUT, STDOUT, "--atol", "-1")
    assert usage.returncode == 2 and "must be >= 0" in usage.stderr
