"""Runs Trax's own gin trainer (``python -m trax.trainer``) on Trax's
``gru_copy.gin`` and ``reformer_copy.gin`` with a few size overrides, and
records what it printed, for ``tests/test_gin_trainer_oracle.py`` and
``tests/test_gin_configs.py``::

    $PY tests/testdata/generate_gin_trainer.py TRAX_GIT_REPO [OUT [RUN...]]

``$PY`` is a Python with real Trax installed; TRAX_GIT_REPO a clone (bare is
fine) of github.com/google/trax, from which the config files are copied
unchanged (Apache-2.0, see NOTICE.md in the output folder). OUT defaults to
this folder; the files go to ``OUT/trax_oracle/gin_trainer/``. Given RUN
names, only those runs are made again (the others are kept from the JSON):

* ``*.gin``: Trax's configs, as in Trax's repository (``CONFIGS``: those
  run here, and a few more whose status ``tests/test_gin_configs.py``
  checks);
* ``gin_trainer.json``: per run, the config, the ``--config`` bindings,
  Trax's stdout
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

CONFIG_DIR = "trax/supervised/configs"
CONFIGS = ("gru_copy.gin", "reformer_copy.gin", "mlp_mnist.gin",
           "terraformer_copy.gin", "transformer_imdb_tfds.gin",
           "lstm_lm1b.gin", "rse_addition.gin",
           "terraformer_copy_self_attn.gin", "terraformer_purelsh_copy.gin",
           "reformer_addition.gin", "wide_resnet_cifar10_8gb.gin")

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
# reformer_copy.gin with TransformerLM and with the addition task (both the
# config's own commented-out alternatives), at a tiny size; dropout kept.
_TINY_LM = ["train.model = @trax.models.TransformerLM",
            "TransformerLM.d_model = 16", "TransformerLM.d_ff = 32",
            "TransformerLM.n_heads = 2", "TransformerLM.n_layers = 1",
            "TransformerLM.max_len = 64", "max_len = 16"]
REFORMER_COPY_RUNS = {
    "copy_lm": _TINY_LM + [
        "sequence_copy_inputs.train_length = 16",
        "sequence_copy_inputs.eval_max_length = 16",
        "sequence_copy_inputs.batch_size = 6", "train.steps = 8",
        "train.eval_frequency = 4", "train.eval_steps = 2",
        "train.random_seed = 3", "multifactor.warmup_steps = 4"],
    "addition_lm": _TINY_LM + [
        "train.inputs = @trax.data.addition_inputs",
        "addition_inputs.train_length = 16",
        "addition_inputs.eval_min_length = 8",
        "addition_inputs.eval_max_length = 16",
        "addition_inputs.pad_to_multiple = 16",
        "addition_inputs.batch_size = 5", "train.steps = 6",
        "train.eval_frequency = 3", "train.eval_steps = 1",
        "train.random_seed = 11", "multifactor.warmup_steps = 3",
        "train.optimizer = @trax.optimizers.Adafactor"],
}

NOTICE = """\
The `.gin` files here are Trax's own configuration files, copied unchanged
from google/trax (`{config_dir}/` at commit {commit}). Trax is licensed under
the Apache License, Version 2.0.
"""


def run_trax_trainer(config_path, bindings):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out")
        cmd = [sys.executable, "-m", "trax.trainer",
               f"--config_file={config_path}", f"--output_dir={out}"]
        cmd += [f"--config={b}" for b in bindings]
        result = subprocess.run(cmd, capture_output=True, text=True,
                                cwd=tmp,
                                env=dict(os.environ, JAX_PLATFORMS="cpu"))
        if result.returncode:
            sys.exit(f"{' '.join(cmd)} failed:\n{result.stderr[-3000:]}")
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
    for config in CONFIGS:
        data = subprocess.run(
            ["git", "-C", repo, "show", f"{commit}:{CONFIG_DIR}/{config}"],
            capture_output=True, check=True).stdout
        (dest / config).write_bytes(data)
    (dest / "NOTICE.md").write_text(NOTICE.format(config_dir=CONFIG_DIR,
                                                  commit=commit))
    only = set(sys.argv[3:])
    runs = {}
    if only:
        with open(dest / "gin_trainer.json", encoding="utf-8") as f:
            runs = json.load(f)["runs"]
    for config, table in (("gru_copy.gin", RUNS),
                          ("reformer_copy.gin", REFORMER_COPY_RUNS)):
        for name, bindings in table.items():
            if not only or name in only:
                runs[name] = dict(run_trax_trainer(dest / config, bindings),
                                  config=config)
    record = {"env": env("generate_gin_trainer.py"), "config_dir": CONFIG_DIR,
              "runs": runs}
    (dest / "gin_trainer.json").write_text(
        json.dumps(record, indent=1, sort_keys=True) + "\n")
    print(f"wrote {dest}")


if __name__ == "__main__":
    main()
