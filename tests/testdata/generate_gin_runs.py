"""Runs Trax's own gin trainer (``python -m trax.trainer``) on the configs
that ``tests/test_gin_configs_run.py`` trains for a step or two, with the
same ``--config`` bindings, and records what it printed::

    $PY tests/testdata/generate_gin_runs.py [OUT]

``$PY`` is a Python with real Trax installed. The configs are read from
``trax_oracle/gin_trainer/`` (Trax's files, copied unchanged by
``generate_gin_trainer.py``); the bindings from ``gin_configs_cases.py``
(``COMPARED``). OUT defaults to this folder; the record goes to
``OUT/trax_oracle/gin_runs/gin_runs.json``: per config, the bindings and
Trax's stdout (its "Ran N train steps in X secs" timings vary).
"""

import json
import pathlib
import sys

from generate_gin_trainer import run_trax_trainer
from gin_configs_cases import GENERATED_BINDINGS
from oracle_common import env

HERE = pathlib.Path(__file__).resolve().parent
# Configs whose numbers are compared with Trax's (dropout and random
# position offsets included: the Loop draws them as Trax's does).
COMPARED = ("reformer_addition.gin",)


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else HERE)
    configs = HERE / "trax_oracle" / "gin_trainer"
    dest = root / "trax_oracle" / "gin_runs"
    dest.mkdir(parents=True, exist_ok=True)
    runs = {}
    for config in COMPARED:
        runs[config] = run_trax_trainer(configs / config,
                                        GENERATED_BINDINGS[config])
    record = {"env": env("generate_gin_runs.py"), "runs": runs}
    (dest / "gin_runs.json").write_text(
        json.dumps(record, indent=1, sort_keys=True) + "\n")
    print(f"wrote {dest}")


if __name__ == "__main__":
    main()
