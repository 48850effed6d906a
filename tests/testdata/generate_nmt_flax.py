"""Runs the NMT tutorial of ``nmt_cells.py`` with real Google Trax, for
``tests/test_nmt_flax.py``.

Run with a Python that has **real Google Trax** installed, from the
repository root:

    python tests/testdata/generate_nmt_flax.py [OUT]   # default: tests/testdata

It writes the parallel files the test writes (``train/nmt_flax``'s
synthetic pairs, same seeds and sizes), reads the packaged
``en_8k.subword`` and writes ``OUT/trax_oracle/nmt_flax/runs.json``:

* ``runs``: per training case, every batch read in the order it was read
  (shapes, dtypes and SHA-256 of the bytes), the initial weights (Trax's
  flat order: shape, SHA-256 and sum of each array), ``loop.history``
  without timings, per-array sums of the final weights, the sentence's
  ids, its greedy translation and its sample at temperature 1;
* ``batches``: per data-only case, the digests of the first batches of
  the pipeline over the train file after ``np.random.seed(seed)``.
"""

import argparse
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
import nmt_cells as cells  # noqa: E402  this folder
import oracle_common as oc  # noqa: E402  this folder
from train.nmt_flax import input_pipeline  # noqa: E402  the corpus writer

# The parallel files: (name, corpus seed, lines), as the test writes them.
FILES = (("train", 11, 200), ("eval", 12, 60))
SENTENCE = "the movie was really great today"
# Training cases: hyperparameters of nmt_cells.run.
RUNS = {
    "a": dict(vocab_size=8192, d_model=16, d_ff=32, n_encoder_layers=1,
              n_decoder_layers=1, n_heads=2, max_len=32, dropout=0.0,
              shuffle_queue_size=16, max_length=24, boundaries=[12, 24],
              batch_sizes=[3, 2], learning_rate=0.05, warmup_steps=3,
              seed=1, n_steps=6, eval_every_steps=3, num_eval_batches=2,
              decode_length=10),
}
# Data-only cases: pipeline settings, NumPy seed, batches read.
BATCHES = {
    "four_buckets": dict(queue_size=7, max_length=40, boundaries=[8, 16, 32],
                         batch_sizes=[5, 3, 2, 1], seed=3, n=60),
    "unbounded": dict(queue_size=30, max_length=100, boundaries=[20],
                      batch_sizes=[4, 3], seed=5, n=30),
}


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
    ids = list(trax.data.tokenize(iter([SENTENCE]), vocab_file=cells.VOCAB_FILE,
                                  vocab_dir=str(oc.DEFAULT_VOCAB_DIR)))[0]
    sentence_ids = [int(i) for i in ids] + [1]
    with tempfile.TemporaryDirectory() as tmp:
        files = {name: input_pipeline.write_tsv(
            os.path.join(tmp, f"{name}.tsv"),
            input_pipeline.parallel_corpus(n, seed))
            for name, seed, n in FILES}
        for name, hp in sorted(RUNS.items()):
            run = cells.run(trax, os.path.join(tmp, "out_" + name),
                            train_file=files["train"],
                            eval_file=files["eval"], hp=hp,
                            sentence_ids=sentence_ids,
                            vocab_dir=oc.DEFAULT_VOCAB_DIR)
            runs[name] = {
                "reads": run["reads"], "history": run["history"],
                "step": run["step"], "sentence_ids": sentence_ids,
                "translation": run["translation"].tolist(),
                "sampled_translation": run["sampled_translation"].tolist(),
                "initial_weights": [cells.digest(w) for w in
                                    leaves(run["initial_weights"])],
                "initial_weight_sums": [
                    float(np.asarray(w, np.float64).sum())
                    for w in leaves(run["initial_weights"])],
                "final_weight_sums": [
                    float(np.asarray(w, np.float64).sum())
                    for w in leaves(run["final_weights"])]}
        for name, case in sorted(BATCHES.items()):
            pipeline = cells.pipeline(
                trax, queue_size=case["queue_size"],
                max_length=case["max_length"], boundaries=case["boundaries"],
                batch_sizes=case["batch_sizes"],
                vocab_dir=oc.DEFAULT_VOCAB_DIR)
            np.random.seed(case["seed"])
            stream = pipeline(cells.tsv_pairs(files["train"]))
            batches[name] = [[cells.digest(a) for a in next(stream)]
                             for _ in range(case["n"])]
    out = pathlib.Path(args.out) / "trax_oracle" / "nmt_flax"
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "runs.json", "w", encoding="utf-8") as f:
        json.dump({"env": oc.env("generate_nmt_flax.py"), "files": FILES,
                   "sentence": SENTENCE, "runs_hp": RUNS,
                   "batches_hp": BATCHES, "runs": runs, "batches": batches},
                  f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
