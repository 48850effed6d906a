"""Trax's configs whose train step takes long to compile, trained for a step
by `python -m trax_compat.trainer` (as a user runs them) with tiny sizes and
XLA's cheaper compiling (gin_configs_cases.LOW_OPT_XLA_FLAGS): the
Terraformer copy configs, reformer_cifar10.gin and hourglass_cifar10.gin on a
tiny local cifar10 stand-in, t5_mathqa.gin on tiny local MathQA files and
t5_glue_classification_parallel.gin on tiny local GLUE stand-ins.
Each takes 20-60 s on two CPU cores: marked slow."""

import math
import os
import subprocess
import sys

import pytest

pytest.importorskip("gin")

from conftest import REPO, TESTDATA  # noqa: E402

from tests.testdata import gin_configs_cases as cases  # noqa: E402

CONFIGS = TESTDATA / "trax_oracle" / "gin_trainer"
pytestmark = pytest.mark.slow


def _train(config, bindings, out, env=None):
    """Runs the trainer on ``config`` (from its folder, for its `include`
    lines); checks the log, config.gin and the checkpoint; returns the
    log's lines."""
    steps = int(next(b for b in bindings
                     if b.startswith("train.steps")).split("=")[1])
    env = dict(os.environ, **(env or {}))
    env["XLA_FLAGS"] = " ".join(
        f for f in (env.get("XLA_FLAGS"), cases.LOW_OPT_XLA_FLAGS) if f)
    env.setdefault("JAX_PLATFORMS", "cpu")
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, "-m", "trax_compat.trainer",
         f"--config_file={config}", f"--output_dir={out}"]
        + [f"--config={b}" for b in bindings],
        cwd=CONFIGS, env=env, capture_output=True, text=True, timeout=600,
        check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout.splitlines()
    train = [float(ln.split("|")[1]) for ln in log
             if " train " in ln and "|" in ln]
    evals = [float(ln.split("|")[1]) for ln in log
             if " eval " in ln and "|" in ln]
    assert len(train) == len({1, steps}) and all(map(math.isfinite, train)), (
        log)
    assert evals and all(map(math.isfinite, evals)), log
    assert f"train.steps = {steps}" in (out / "config.gin").read_text()
    assert (out / "checkpoints" / str(steps)).is_dir()
    return log


@pytest.mark.parametrize("config", sorted(cases.SLOW_GENERATED_BINDINGS))
def test_generated_data_config_trains(tmp_path, config):
    log = _train(config, cases.SLOW_GENERATED_BINDINGS[config],
                 tmp_path / "out")
    # The copy task's eval reports the sequence accuracy, as in Trax.
    assert any("eval" in ln and "sequence_accuracy" in ln for ln in log)


@pytest.mark.parametrize("config", sorted(cases.SLOW_CIFAR10_BINDINGS))
def test_cifar10_config_trains_on_a_local_stand_in(tmp_path, cifar10_dir,
                                                   config):
    _train(config, cases.SLOW_CIFAR10_BINDINGS[config]
           + [f"data_streams.data_dir = {cifar10_dir!r}"], tmp_path / "out")


def test_t5_mathqa_config_trains_a_step_on_tiny_files(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    out = tmp_path / "out"
    log = _train("t5_mathqa.gin", cases.local_file_bindings(
        cases.LOCAL_FILE_CONFIGS["t5_mathqa.gin"], REPO)
        + cases.MATHQA_RUN_BINDINGS, out)
    # The config's additional eval task, under its own metric names.
    full = [ln for ln in log if "Full program accuracy" in ln]
    assert full and 0.0 <= float(full[0].split("|")[1]) <= 1.0, log
    config_gin = (out / "config.gin").read_text()
    assert "en_8k.subword" in config_gin and "data_mathqa_inputs" in config_gin


def test_t5_glue_parallel_config_trains_a_step_on_stand_ins(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    from tests.testdata import tiny_tfds
    config = "t5_glue_classification_parallel.gin"
    data_dir = tiny_tfds.prepare(tmp_path / "tfds", tiny_tfds.stand_ins(
        cases.GLUE_CONFIGS[config]))
    log = _train(config, cases.local_file_bindings({}, REPO)
                 + cases.MATHQA_RUN_BINDINGS, tmp_path / "out",
                 env={"TFDS_DATA_DIR": data_dir})
    # An eval task per benchmark (T5GlueEvalTasks), under Trax's names.
    for name in ("Cola", "SST2", "MRPC", "QQP", "MNLI_matched", "QNLI",
                 "RTE", "WNLI"):
        assert any(" eval " in ln and f" {name} accuracy |" in ln
                   for ln in log), (name, log)
