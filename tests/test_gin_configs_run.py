"""Trax's configs whose data is generated (copy and addition tasks) or read
from a tiny local TFDS stand-in (cifar10) train for a step or two on
trax_compat with tiny sizes: parse, build, train, evaluate (every eval task
of the config), write config.gin and a checkpoint. Where real Trax ran the
same config and bindings (generate_gin_runs.py), the logs agree."""

import json
import math

import pytest

gin = pytest.importorskip("gin")

from conftest import TESTDATA  # noqa: E402
from test_gin_trainer_oracle import _normalized  # noqa: E402

from tests.testdata import gin_configs_cases  # noqa: E402

CONFIGS = TESTDATA / "trax_oracle" / "gin_trainer"
TRAX_RUNS = TESTDATA / "trax_oracle" / "gin_runs" / "gin_runs.json"


def _train(trax_alias, capsys, out, config, bindings):
    """Trains ``config`` with ``bindings`` in this process (what `trax-compat
    trainer` does after parsing); checks the log, config.gin and the last
    checkpoint, and returns the log."""
    from trax_compat import gin_registry
    gin.clear_config()
    gin.add_config_file_search_path(str(CONFIGS))  # for `include` lines
    gin.parse_config_files_and_bindings([str(CONFIGS / config)], bindings)
    steps = int(next(b for b in bindings
                     if b.startswith("train.steps")).split("=")[1])
    capsys.readouterr()
    loop = gin_registry.configurable(trax_alias.train)(output_dir=str(out))
    assert loop.step == steps
    stdout = capsys.readouterr().out
    log = stdout.splitlines()
    train = [float(line.split("|")[1]) for line in log
             if " train " in line and "|" in line]
    evals = [line for line in log if " eval " in line and "|" in line]
    assert len(train) == len({1, steps}) and all(
        math.isfinite(v) for v in train), log
    assert evals and all(math.isfinite(float(line.split("|")[1]))
                         for line in evals), log
    assert f"train.steps = {steps}" in (out / "config.gin").read_text()
    assert (out / "checkpoints" / str(steps)).is_dir()  # the last step's
    return stdout


@pytest.mark.parametrize("config", sorted(
    gin_configs_cases.GENERATED_BINDINGS))
def test_generated_data_config_trains(trax_alias, tmp_path, capsys, config):
    stdout = _train(trax_alias, capsys, tmp_path / "out", config,
                    gin_configs_cases.GENERATED_BINDINGS[config])
    with open(TRAX_RUNS, encoding="utf-8") as f:
        trax_run = json.load(f)["runs"].get(config)
    if trax_run is None:
        return
    assert trax_run["bindings"] == gin_configs_cases.GENERATED_BINDINGS[config]
    ours = _normalized(stdout)
    trax = [r for r in _normalized(trax_run["stdout"])
            if r != ("text", "Finished training.")]
    assert [r[:4] for r in ours] == [r[:4] for r in trax]
    for a, b in zip(ours, trax):
        if a[0] == "scalar":
            assert a[4] == pytest.approx(b[4], rel=1e-5, abs=1e-6), a


@pytest.mark.parametrize("config", sorted(gin_configs_cases.CIFAR10_BINDINGS))
def test_cifar10_config_trains_on_a_local_stand_in(trax_alias, tmp_path,
                                                   capsys, cifar10_dir,
                                                   config):
    _train(trax_alias, capsys, tmp_path / "out", config,
           gin_configs_cases.CIFAR10_BINDINGS[config] + [
               f"data_streams.data_dir = {cifar10_dir!r}"])
