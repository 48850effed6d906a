"""Trax's Deep N-Gram tutorial (``trax/examples/Deep_N_Gram_Models.ipynb``)
runs unchanged under ``python -m trax_compat.run``, and prints what real
Trax printed.

The notebook's code cells, verbatim, are stored in
``tests/testdata/trax_oracle/deep_ngram/cells.json``; the test joins them
into one script (``tests/testdata/deep_ngram_script.py``) and runs it in a
fresh Python in a temporary folder. The stand-ins, each needed only because
a test machine is not the tutorial's Kaggle notebook:

* the ``%%capture`` / ``!pip install trax`` cell is dropped: not Python;
* Kaggle's data folder: in the one cell that reads it, the literal
  ``/kaggle/input`` is replaced by a temporary folder holding a synthetic
  corpus of 1200 lines (the tutorial holds out the last 1000 for eval);
* pandas, imported by the tutorial and never used, is not a dependency:
  where it is not installed, a one-line ``pandas.py`` stub is written next
  to the script (only in the temporary folder);
* the three training cells train for ``n_steps=2`` instead of
  ``n_steps = 10``: ten steps of the three 5-layer, d_model=512 models
  took 84 s (84 CPU-seconds) on a 2-core CPU, too long for one unit
  test: a GRU step is ~3 s of real compute, and every step evaluates and
  writes a ~100 MB checkpoint. Two steps are the fewest that show a step
  after the first (its log block, its checkpoint, a lower loss). Only the
  count changes: the models, ``train_model`` with its tasks, optimizer,
  checkpoint at every step and eval are the tutorial's.

The oracle, ``trax_oracle/deep_ngram/stdout.txt``, is the stdout of the same
script run by real Trax (``tests/testdata/generate_deep_ngram.py``). The
printed models must equal it exactly; the training log must have its
layout, line by line, with only the floats (losses, accuracies, timings)
free.
"""

import importlib.util
import math
import os
import re
import shutil
import subprocess
import sys

from conftest import ORACLE
from conftest import REPO
from tests.testdata import deep_ngram_script as dn

ORACLE_DIR = ORACLE / "deep_ngram"
MODELS = ("GRU", "LSTM", "SRU")
_FLOAT = re.compile(r"\d+\.\d+")
_STEP = re.compile(r"^Step +(\d+): (train|eval) +(\w+) \| +(\S+)$")


def _run_tutorial(tmp_path):
    cells = dn.load_cells(ORACLE_DIR / "cells.json")
    dn.write_corpus(tmp_path / "kaggle")
    script = tmp_path / "deep_ngram.py"
    script.write_text(dn.tutorial_script(cells, tmp_path / "kaggle"))
    if importlib.util.find_spec("pandas") is None:
        (tmp_path / "pandas.py").write_text(dn.PANDAS_STUB)
    env = dict(os.environ, JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=str(REPO))
    env.pop("TRAX_COMPAT_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "trax_compat.run", str(script)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)


def _split(stdout):
    """(the printed models, the training log lines)."""
    models, _, log = stdout.partition("\nStep ")
    return models, ("Step " + log).splitlines()


def test_the_tutorial_runs_and_prints_what_trax_printed(tmp_path):
    try:
        result = _run_tutorial(tmp_path)
        assert result.returncode == 0, result.stderr
        # output_dir='model/<name>', relative: n_steps_per_checkpoint=1
        # checkpoints there.
        for name in MODELS:
            assert any((tmp_path / "model" / name).iterdir()), name
    finally:
        # Every step's checkpoint of three 4-10M-weight models: ~1 GB.
        shutil.rmtree(tmp_path / "model", ignore_errors=True)

    want_models, want_log = _split(
        (ORACLE_DIR / "stdout.txt").read_text(encoding="utf-8"))
    got_models, got_log = _split(result.stdout)
    assert got_models == want_models
    assert "GRU_512" in got_models and got_models.count("SRU_512") == 5

    # Trax's layout: names, justification, step numbers and weight counts.
    assert ([_FLOAT.sub("<float>", line) for line in got_log]
            == [_FLOAT.sub("<float>", line) for line in want_log])

    # Three runs of steps 1..n, each logging the tutorial's loss and
    # metrics with finite values, and learning something.
    runs = "\n".join(got_log).split("Total number of trainable weights")
    assert len(runs) == 4
    for run in runs[1:]:
        values = {}
        for line in run.splitlines():
            match = _STEP.match(line)
            if match:
                step, task, metric, value = match.groups()
                values[int(step), task, metric] = float(value)
        assert sorted(values) == sorted(
            (step, task, metric) for step in range(1, dn.N_STEPS + 1)
            for task, metric in (("train", "CrossEntropyLoss"),
                                 ("eval", "CrossEntropyLoss"),
                                 ("eval", "Accuracy")))
        assert all(math.isfinite(v) for v in values.values())
        assert all(0 <= values[s, "eval", "Accuracy"] <= 1
                   for s in range(1, dn.N_STEPS + 1))
        first = values[1, "train", "CrossEntropyLoss"]
        assert values[dn.N_STEPS, "train", "CrossEntropyLoss"] < first
