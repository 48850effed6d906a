"""Trax's own gru_copy.gin, run by `trax-compat trainer` with the same
--config overrides as real Trax's `python -m trax.trainer` was: the same log,
line for line (see generate_gin_trainer.py)."""

import json
import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("gin")

from conftest import REPO  # noqa: E402

ORACLE = REPO / "tests" / "testdata" / "trax_oracle" / "gin_trainer"
SCALAR = re.compile(r"^Step +(\d+): (train|eval) +(.+?) \| +(\S+)$")
RAN = re.compile(r"^Step +(\d+): Ran (\d+) train steps in [\d.]+ secs$")


def _normalized(stdout):
    """Lines without the output dir and the timings; scalars parsed."""
    out = []
    for line in stdout.splitlines():
        if line.startswith("Using --output_dir") or not line.strip():
            continue
        ran = RAN.match(line)
        scalar = SCALAR.match(line)
        if ran:
            out.append(("ran", ran.group(1), ran.group(2)))
        elif scalar:
            step, mode, name, value = scalar.groups()
            out.append(("scalar", step, mode, name, float(value)))
        else:
            out.append(("text", line))
    return out


def _runs():
    with open(ORACLE / "gin_trainer.json", encoding="utf-8") as f:
        runs = json.load(f)["runs"]
    # reformer_copy.gin's runs are checked in-process by test_gin_configs.py.
    return {k: r for k, r in runs.items()
            if r.get("config", "gru_copy.gin") == "gru_copy.gin"}


@pytest.mark.parametrize("name", sorted(_runs()))
def test_gru_copy_logs_as_trax(tmp_path, name):
    run = _runs()[name]
    cmd = [sys.executable, "-m", "trax_compat.trainer",
           f"--config_file={ORACLE / run.get('config', 'gru_copy.gin')}",
           f"--output_dir={tmp_path / 'out'}"]
    cmd += [f"--config={b}" for b in run["bindings"]]
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=str(REPO))
    result = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    ours, trax = _normalized(result.stdout), _normalized(run["stdout"])
    assert [r[:4] for r in ours] == [r[:4] for r in trax]
    for a, b in zip(ours, trax):
        if a[0] == "scalar":
            assert a[4] == pytest.approx(b[4], rel=1e-6, abs=1e-7), a
    assert (tmp_path / "out" / "config.gin").is_file()
