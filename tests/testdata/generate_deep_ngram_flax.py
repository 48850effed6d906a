"""Runs the Deep N-Gram tutorial's data, model and ``train_model`` cells
(``deep_ngram_flax_cells.py``) with real Google Trax on the tiny cases of
``deep_ngram_flax_cells.CASES``, for ``tests/test_deep_ngram_flax.py``.

Run with a Python that has **real Google Trax** installed, from the
repository root:

    python tests/testdata/generate_deep_ngram_flax.py [OUT]   # default: tests/testdata

It writes ``OUT/trax_oracle/deep_ngram_flax/``: ``runs.json`` (per case
every batch read, train and eval interleaved as read, each array's shape,
dtype and SHA-256; ``loop.history`` of the loss and accuracy; a SHA-256 of
the lines read) and ``initial_weights.npz`` (the Loop's initial weights, in
Trax's order, as ``<case>_<index>``).
"""

import argparse
import hashlib
import json
import pathlib
import sys
import tempfile
import warnings

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import oracle_common as oc  # noqa: E402  this folder
import deep_ngram_flax_cells as dnf  # noqa: E402  this folder
import deep_ngram_script as dn  # noqa: E402  this folder


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(HERE))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import trax  # pylint: disable=import-outside-toplevel
    cells = dn.load_cells(HERE / "trax_oracle" / "deep_ngram" / "cells.json")
    runs, weights = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        corpus = pathlib.Path(tmp) / "texts"
        dn.write_corpus(corpus, n_lines=dnf.N_LINES)
        for name, case in sorted(dnf.CASES.items()):
            run = dnf.run(trax, cells, corpus, pathlib.Path(tmp) / name,
                          case)
            runs[name] = {"reads": run["reads"], "history": run["history"],
                          "lines_sha256": hashlib.sha256(
                              "\n".join(run["lines"]).encode()).hexdigest()}
            for i, w in enumerate(run["initial_weights"]):
                weights[f"{name}_{i:02d}"] = w
    out = pathlib.Path(args.out) / "trax_oracle" / "deep_ngram_flax"
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "runs.json", "w", encoding="utf-8") as f:
        json.dump({"env": oc.env("generate_deep_ngram_flax.py"),
                   "cases": dnf.CASES, "n_lines": dnf.N_LINES,
                   "runs": runs}, f, indent=1, sort_keys=True)
        f.write("\n")
    np.savez_compressed(out / "initial_weights.npz", **weights)


if __name__ == "__main__":
    main()
