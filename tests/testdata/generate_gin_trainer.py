"""Runs Trax's own gin trainer (``python -m trax.trainer``) on Trax's
``gru_copy.gin`` with a few size overrides, and records what it printed, for
``tests/test_gin_trainer_oracle.py``::

    $PY tests/testdata/generate_gin_trainer.py TRAX_GIT_REPO [OUT]

``$PY`` is a Python with real Trax installed; TRAX_GIT_REPO a clone (bare is
fine) of github.com/google/trax, from which the config file is copied
unchanged (Apache-2.0, see NOTICE.md in the output folder). OUT defaults to
this folder; the files go to ``OUT/trax_oracle/gin_trainer/``:

* ``gru_copy.gin``: Trax's config, as in Trax's repository;
* ``gin_trainer.json``: per run, the ``--config`` bindings, Trax's stdout
  (its "Ran N train steps in X secs" timings vary between runs), and the
  files of the output directory.
"""

import json
import os
import pathlib
import subprocess
import sys
import tempfile

from oracle_common import env

CONFIG = "trax/supervised/configs/gru_copy.gin"

# Bindings on top of the file: a small batch and run, warm-up short enough
# for the loss to move, and a fixed seed (the config's dropout of 0.1 is
# kept). Run b's intervals don't divide its length.
RUNS = {
    "a": ["batch = 16", "train.steps = 20", "train.eval_frequency = 10",
          "train.eval_steps = 2", "train.random_seed = 0",
          "multifactor.warmup_steps = 5"],
    "b": ["batch = 5", "length = 7", "RNNLM.d_model = 24",
          "train.steps = 13", "train.eval_frequency = 5",
          "train.eval_steps = 1", "train.random_seed = 7",
          "multifactor.warmup_steps = 3",
          "train.optimizer = @trax.optimizers.Adafactor"],
}

NOTICE = """\
`gru_copy.gin` is Trax's own configuration file, copied unchanged from
google/trax (`{config}` at commit {commit}). Trax is licensed under the
Apache License, Version 2.0.
"""


def run_trax_trainer(config_path, bindings):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out")
        cmd = [sys.executable, "-m", "trax.trainer",
               f"--config_file={config_path}", f"--output_dir={out}"]
        cmd += [f"--config={b}" for b in bindings]
        result = subprocess.run(cmd, capture_output=True, text=True,
                                check=True, cwd=tmp,
                                env=dict(os.environ, JAX_PLATFORMS="cpu"))
        files = sorted(str(p.relative_to(out)) for p in
                       pathlib.Path(out).rglob("*") if p.is_file())
    return {"bindings": bindings, "stdout": result.stdout,
            "output_dir_files": [f for f in files if "events.out" not in f]}


def main():
    repo = sys.argv[1]
    root = pathlib.Path(sys.argv[2] if len(sys.argv) > 2 else
                        pathlib.Path(__file__).resolve().parent)
    dest = root / "trax_oracle" / "gin_trainer"
    dest.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"],
                            capture_output=True, text=True,
                            check=True).stdout.strip()
    text = subprocess.run(["git", "-C", repo, "show", f"{commit}:{CONFIG}"],
                          capture_output=True, text=True, check=True).stdout
    (dest / "gru_copy.gin").write_text(text)
    (dest / "NOTICE.md").write_text(NOTICE.format(config=CONFIG,
                                                  commit=commit))
    record = {"env": env("generate_gin_trainer.py"), "config": CONFIG,
              "runs": {name: run_trax_trainer(dest / "gru_copy.gin", b)
                       for name, b in RUNS.items()}}
    (dest / "gin_trainer.json").write_text(
        json.dumps(record, indent=1, sort_keys=True) + "\n")
    print(f"wrote {dest}")


if __name__ == "__main__":
    main()
