"""Runs the Transformer language model of ``transformer_lm_cells.py`` with
real Google Trax, for ``tests/test_transformer_lm_flax.py``.

Run with a Python that has **real Google Trax** installed, from the
repository root:

    python tests/testdata/generate_transformer_lm_flax.py [OUT]   # default: tests/testdata

It writes the synthetic text files the test writes (``train/corpus.py``,
same seeds and sizes), reads the packaged ``en_8k.subword`` (the bytes of
Trax's ``gs://trax-ml/vocabs/en_8k.subword``) and writes
``OUT/trax_oracle/transformer_lm_flax/runs.json``:

* ``runs``: per training case, every batch read in the order it was read
  (shapes, dtypes and SHA-256 of the bytes), the initial weights (Trax's
  flat order: shape, SHA-256 and sum of each array), ``loop.history`` without
  timings, per-array sums of the final weights and the greedy sample;
* ``batches``: per data-only case, the digests of the first batches of
  the pipeline over each file.
"""

import argparse
import hashlib
import json
import os
import pathlib
import sys
import tempfile
import warnings

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent))
import oracle_common as oc  # noqa: E402  this folder
import transformer_lm_cells as cells  # noqa: E402  this folder
from train import corpus  # noqa: E402  the repository's corpus generator

# The text files: (name, corpus seed, lines), as the test writes them.
FILES = (("train", 11, 200), ("eval", 12, 60))
# Training cases: hyperparameters of transformer_lm_cells.run.
RUNS = {
    "a": dict(vocab_size=8192, d_model=16, d_ff=32, n_layers=1, n_heads=2,
              max_len=32, dropout=0.0, max_length=24, batch_size=3,
              learning_rate=0.1, warmup_steps=4, seed=1, n_steps=6,
              eval_every_steps=3, num_eval_batches=2, sample_length=8),
}
# Data-only cases: (max_length, batch_size, number of batches read).
BATCHES = {"short": (12, 5, 6), "long": (40, 2, 40)}


def write_files(root):
    paths = {}
    for name, seed, n in FILES:
        paths[name] = os.path.join(root, f"{name}.txt")
        with open(paths[name], "w", encoding="utf-8") as f:
            f.writelines(t + "\n" for t, _ in corpus.synthetic_tweets(n, seed))
    return paths


def leaves(weights):
    """Trax's flat weight order (empty tuples and shared-layer markers
    hold no arrays)."""
    if isinstance(weights, dict):
        return []
    if isinstance(weights, (tuple, list)):
        return [leaf for w in weights for leaf in leaves(w)]
    return [np.asarray(weights)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(HERE))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import trax  # pylint: disable=import-outside-toplevel
    runs, batches = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        files = write_files(tmp)
        for name, hp in sorted(RUNS.items()):
            run = cells.run(trax, os.path.join(tmp, "out_" + name),
                            train_file=files["train"],
                            eval_file=files["eval"], hp=hp,
                            vocab_dir=oc.DEFAULT_VOCAB_DIR)
            runs[name] = {
                "reads": run["reads"], "history": run["history"],
                "step": run["step"], "sample": run["sample"].tolist(),
                "initial_weights": [cells.digest(w) for w in
                                    leaves(run["initial_weights"])],
                "initial_weight_sums": [
                    float(np.asarray(w, np.float64).sum())
                    for w in leaves(run["initial_weights"])],
                "final_weight_sums": [
                    float(np.asarray(w, np.float64).sum())
                    for w in leaves(run["final_weights"])]}
        for name, (max_length, batch_size, n) in sorted(BATCHES.items()):
            pipeline = cells.pipeline(trax, max_length=max_length,
                                      batch_size=batch_size,
                                      vocab_dir=oc.DEFAULT_VOCAB_DIR)
            batches[name] = {}
            for split in ("train", "eval"):
                stream = pipeline(cells.text_lines(files[split]))
                batches[name][split] = [
                    [cells.digest(a) for a in next(stream)]
                    for _ in range(n)]
    out = pathlib.Path(args.out) / "trax_oracle" / "transformer_lm_flax"
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "runs.json", "w", encoding="utf-8") as f:
        json.dump({"env": oc.env("generate_transformer_lm_flax.py"),
                   "files": FILES, "runs_hp": RUNS, "batches_hp": BATCHES,
                   "runs": runs, "batches": batches}, f, indent=1,
                  sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
