"""Trax's step log: our Loop's stdout against real Trax's (log_format.txt,
trax_run_dev/stdout.txt), and the CLU ``MetricWriter`` that prints it."""

import contextlib
import io
import itertools
import math
import re

import jax.numpy as jnp
import numpy as np
import pytest
from trax_compat.supervised.step_log import interface

from trax_compat import layers as tl
from trax_compat import optimizers
from trax_compat.supervised import step_log
from trax_compat.supervised import training

from conftest import ORACLE

TIMING = re.compile(r"Ran (\d+) train steps in \d+\.\d\d secs")
SCALAR = re.compile(
    r"^Step (?P<step>[ \d]{6}\d*): (?P<mode>.{5}) (?P<name>.*) \| "
    r"(?P<value>.*)$")


def _mask_timing(text):
    return TIMING.sub(r"Ran \1 train steps in <T> secs", text)


def _oracle_runs():
    """{1: stdout of RUN 1, 2: stdout of RUN 2} from log_format.txt."""
    text = (ORACLE / "log_format.txt").read_text(encoding="utf-8")
    runs = {}
    for n in (1, 2):
        m = re.search(rf"#### BEGIN RUN {n} STDOUT\n(.*?)#### END RUN {n} "
                      rf"STDOUT\n", text, re.S)
        assert m, f"RUN {n} not found in log_format.txt"
        runs[n] = m.group(1)
    return runs


def _batches(seed, n=4):
    # Fixed random float32 (4, 3) batches with int labels. With these, the
    # Trax run's numbers are reproduced (seed 0 = train, 1 = first eval task,
    # 2 = second eval task), up to float rounding in the last digit.
    rs = np.random.RandomState(seed)
    return [(rs.randn(4, 3).astype(np.float32),
             rs.randint(0, 2, size=(4,)).astype(np.int32),
             np.ones((4,), np.float32)) for _ in range(n)]


def _run_and_capture(model, train_task, eval_tasks):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        loop = training.Loop(model, train_task, eval_tasks=eval_tasks,
                             output_dir=None, random_seed=0)
        loop.run(3)
    return out.getvalue()


def _run1():
    model = tl.Serial(tl.Dense(2), tl.LogSoftmax())
    train_task = training.TrainTask(
        itertools.cycle(_batches(0)), tl.WeightedCategoryCrossEntropy(),
        optimizers.Adam(0.01), n_steps_per_checkpoint=2,
        loss_name="my_custom_loss")
    eval1 = training.EvalTask(
        itertools.cycle(_batches(1)),
        [tl.WeightedCategoryCrossEntropy(), tl.WeightedCategoryAccuracy()],
        n_eval_batches=2)
    eval2 = training.EvalTask(
        itertools.cycle(_batches(2)),
        [tl.WeightedCategoryAccuracy(), tl.WeightedCategoryCrossEntropy()],
        metric_names=["acc", "cross_entropy_of_the_second_eval_task"])
    return _run_and_capture(model, train_task, [eval1, eval2])


def _run2():
    model = tl.Serial(tl.Dense(2), tl.LogSoftmax())
    train_task = training.TrainTask(
        itertools.cycle(_batches(0)), tl.WeightedCategoryCrossEntropy(),
        optimizers.Adam(0.01), n_steps_per_checkpoint=2)
    metrics = [
        tl.Fn("NegativeOne", lambda x, y, w: -1.0),
        tl.Fn("AlwaysNaN", lambda x, y, w: jnp.nan),
        tl.Fn("Big", lambda x, y, w: 12345678.9),
        tl.WeightedCategoryAccuracy(),
    ]
    eval_task = training.EvalTask(itertools.cycle(_batches(1)), metrics)
    return _run_and_capture(model, train_task, [eval_task])


@pytest.fixture(scope="module")
def oracle_runs():
    return _oracle_runs()


@pytest.fixture(scope="module")
def our_runs():
    return {1: _run1(), 2: _run2()}


def _layout(line):
    """The part of a line that does not depend on the data."""
    m = SCALAR.match(line)
    if m:
        return line[:line.index("|") + 1]
    return line


@pytest.mark.parametrize("run", [1, 2])
def test_loop_stdout_layout_matches_trax(run, oracle_runs, our_runs):
    ours = _mask_timing(our_runs[run]).split("\n")
    trax = _mask_timing(oracle_runs[run]).split("\n")
    assert [_layout(l) for l in ours] == [_layout(l) for l in trax]
    # Everything except values is exactly Trax's, blank lines included.
    assert ours[0] == ("Will not write evaluation metrics, because "
                       "output_dir is None.")
    assert ours[1] == "Did not save checkpoint as output_dir is None"
    assert ours[2] == ""
    assert ours.count("Did not save checkpoint as output_dir is None") == 2
    assert ours[-1] == ""  # ends with a newline, no step-3 block
    assert not any(l.startswith("Step      3") for l in ours)


@pytest.mark.parametrize("run", [1, 2])
def test_loop_stdout_values_match_trax(run, oracle_runs, our_runs):
    ours = _mask_timing(our_runs[run]).split("\n")
    trax = _mask_timing(oracle_runs[run]).split("\n")
    assert len(ours) == len(trax)
    n_values = 0
    for a, b in zip(ours, trax):
        if not SCALAR.match(b):
            assert a == b
            continue
        va, vb = a.split("| ")[1], b.split("| ")[1]
        n_values += 1
        if vb.strip() in ("nan", "-1.00000000", "12345679.00000000") or \
                vb.endswith("000000"):
            assert a == b  # data-independent (or exact) values
        else:
            # Trax's step arithmetic can differ in the last float32 bit.
            assert abs(float(va) - float(vb)) <= 2e-7, (a, b)
    assert n_values == {1: 10, 2: 10}[run]


def test_run2_special_values_exact(our_runs):
    lines = our_runs[2].split("\n")
    for step in (1, 2):
        assert f"Step {step:6d}: eval                   NegativeOne | " \
               f"-1.00000000" in lines
        assert f"Step {step:6d}: eval                     AlwaysNaN |  nan" \
            in lines
        assert f"Step {step:6d}: eval                           Big |  " \
               f"12345679.00000000" in lines
    assert "Step      1: Total number of trainable weights: 8" in lines
    assert TIMING.search(our_runs[2])


def test_run1_justifies_to_longest_name(our_runs):
    width = len("cross_entropy_of_the_second_eval_task")
    lines = [l for l in our_runs[1].split("\n") if " | " in l]
    assert lines
    for line in lines:
        m = SCALAR.match(line)
        assert m, line
        assert len(m.group("name")) == width
        assert m.group("mode") in ("train", "eval ")
    assert "Step      1: train" + " " * 24 + "my_custom_loss |  0.97404301" \
        in lines


# -- the writer ----------------------------------------------------------------

def test_writer_is_a_clu_metric_writer():
    writer = step_log.TraxStepLogWriter(5)
    assert isinstance(writer, interface.MetricWriter)
    with contextlib.redirect_stdout(io.StringIO()) as out:
        writer.write_scalars(3, {"eval/acc": 0.5})
    # Looked up at write time: redirect_stdout sees it.
    assert out.getvalue() == "\nStep      3: eval    acc |  0.50000000\n"


@pytest.mark.parametrize("value, text", [
    (-1.0, "-1.00000000"),
    (0.0, " 0.00000000"),
    (0.97404301, " 0.97404301"),
    (float("nan"), " nan"),
    (float("inf"), " inf"),
    (float("-inf"), "-inf"),
    (np.float32(12345678.9), " 12345679.00000000"),
    (1234567890123.0, " 1234567890123.00000000"),
])
def test_writer_value_format(value, text):
    stream = io.StringIO()
    writer = step_log.TraxStepLogWriter(4, streams=[stream])
    writer.write_scalars(1234567, {"train/loss": value})
    # '% 6d': a sign space even past six digits, as in Trax.
    assert stream.getvalue() == f"\nStep  1234567: train loss | {text}\n"


def test_writer_blank_line_once_per_step():
    stream = io.StringIO()
    writer = step_log.TraxStepLogWriter(8, streams=[stream])
    writer.write_text_line(1, "Total number of trainable weights: 8")
    writer.write_scalars(1, {"train/my_loss": 0.5, "eval/acc": 0.25})
    writer.write_texts(2, {"t": "Ran 1 train steps in 0.20 secs"})
    writer.write_scalars(2, {"metric_without_mode": 1.0})
    assert stream.getvalue() == (
        "\n"
        "Step      1: Total number of trainable weights: 8\n"
        "Step      1: train  my_loss |  0.50000000\n"
        "Step      1: eval       acc |  0.25000000\n"
        "\n"
        "Step      2: Ran 1 train steps in 0.20 secs\n"
        "Step      2:       metric_without_mode |  1.00000000\n")


def test_loop_exposes_the_writer(our_runs):
    del our_runs
    task = training.TrainTask(
        itertools.cycle(_batches(0)), tl.WeightedCategoryCrossEntropy(),
        optimizers.SGD(0.1), loss_name="short")
    eval_task = training.EvalTask(
        itertools.cycle(_batches(1)), [tl.WeightedCategoryAccuracy()],
        metric_names=["a_much_longer_metric_name"])
    with contextlib.redirect_stdout(io.StringIO()):
        loop = training.Loop(tl.Serial(tl.Dense(2), tl.LogSoftmax()), task,
                             eval_tasks=[eval_task], random_seed=0)
    writer = loop.step_log_writer
    assert isinstance(writer, interface.MetricWriter)
    assert writer.name_width == len("a_much_longer_metric_name")


# -- the Trax seed run's stdout ------------------------------------------------

def test_oracle_seed_run_step_lines_parse_and_reformat():
    """Every ``Step`` line Trax printed in the seed run is reproduced by our
    writer's format from its parsed parts (the values themselves are
    compared by the end-to-end test)."""
    text = (ORACLE / "trax_run_dev" / "stdout.txt").read_text(
        encoding="utf-8")
    step_lines = [l for l in text.split("\n") if l.startswith("Step ")]
    assert len(step_lines) == 17
    width = len("WeightedCategoryCrossEntropy")
    writer = step_log.TraxStepLogWriter(width)
    steps = []
    for line in step_lines:
        m = SCALAR.match(line)
        if m is None:
            assert re.match(r"^Step +\d+: (Total number of trainable "
                            r"weights: \d+|Ran \d+ train steps in "
                            r"\d+\.\d\d secs)$", line), line
            continue
        step, value = int(m.group("step")), float(m.group("value"))
        assert math.isfinite(value)
        steps.append(step)
        assert writer.format_scalar(step, m.group("mode").strip(),
                                    m.group("name").strip(), value) == line
    assert sorted(set(steps)) == [1, 100, 200, 300]
    assert len(steps) == 12
