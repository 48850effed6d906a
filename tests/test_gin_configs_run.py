"""Trax's configs whose data is generated (copy and addition tasks) train
for a step or two on trax_compat with tiny sizes: parse, build, train, evaluate
(every eval task of the config), write config.gin and a checkpoint."""

import math

import pytest

gin = pytest.importorskip("gin")

from conftest import TESTDATA  # noqa: E402

from tests.testdata import gin_configs_cases  # noqa: E402

CONFIGS = TESTDATA / "trax_oracle" / "gin_trainer"


@pytest.mark.parametrize("config", sorted(
    gin_configs_cases.GENERATED_BINDINGS))
def test_generated_data_config_trains(trax_alias, tmp_path, capsys, config):
    from trax_compat import gin_registry
    gin.clear_config()
    gin.add_config_file_search_path(str(CONFIGS))  # for `include` lines
    gin.parse_config_files_and_bindings(
        [str(CONFIGS / config)], gin_configs_cases.GENERATED_BINDINGS[config])
    steps = int(next(b for b in gin_configs_cases.GENERATED_BINDINGS[config]
                     if b.startswith("train.steps")).split("=")[1])
    out = tmp_path / "out"
    loop = gin_registry.configurable(trax_alias.train)(output_dir=str(out))
    assert loop.step == steps
    log = capsys.readouterr().out.splitlines()
    train = [float(line.split("|")[1]) for line in log
             if " train " in line and "|" in line]
    evals = [line for line in log if " eval " in line and "|" in line]
    assert len(train) == len({1, steps}) and all(
        math.isfinite(v) for v in train), log
    assert evals and all(math.isfinite(float(line.split("|")[1]))
                         for line in evals), log
    assert f"train.steps = {steps}" in (out / "config.gin").read_text()
    assert (out / "checkpoints" / str(steps)).is_dir()  # the last step's
