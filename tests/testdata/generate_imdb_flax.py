"""Runs the IMDB classifier of Trax's ``intro.ipynb`` (its "Supervised
training" cells, ``intro_imdb_cells.py``) with real Google Trax over the
``imdb_reviews`` stand-in of ``tiny_tfds.py``, for ``tests/test_imdb_flax.py``.

Run with a Python that has **real Google Trax** (with TensorFlow and TFDS)
installed, from the repository root:

    python tests/testdata/generate_imdb_flax.py [OUT]   # default: tests/testdata

It prepares the stand-in into a temp dir (nothing is downloaded), reads the
packaged ``en_8k.subword`` (the bytes of Trax's
``gs://trax-ml/vocabs/en_8k.subword``), runs each case of
``intro_imdb_cells.CASES`` and writes ``OUT/trax_oracle/imdb_flax/runs.json``:
per case the model's repr, the first raw example, every batch read from the
train and eval pipelines in the order they were read (shapes, dtypes and
SHA-256 of the bytes), the initial weights (the embedding as a SHA-256 and
a corner, the Dense layer in full), ``loop.history`` without timings, the
final weights and the cell-23 prediction.
"""

import argparse
import json
import os
import pathlib
import sys
import tempfile
import warnings

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import oracle_common as oc  # noqa: E402  this folder
import intro_imdb_cells as cells  # noqa: E402  this folder
import tiny_tfds  # noqa: E402  this folder


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(HERE))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import trax  # pylint: disable=import-outside-toplevel
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        # Trax's TFDS without data_dir reads ~/tensorflow_datasets/: the
        # stand-in is prepared there, under a temporary home.
        os.environ["HOME"] = tmp
        os.environ["TFDS_DATA_DIR"] = tiny_tfds.prepare(
                os.path.join(tmp, "tensorflow_datasets"),
                (tiny_tfds.ImdbReviewsStandIn,))
        for name, case in sorted(cells.CASES.items()):
            runs[name] = cells.run(trax, os.path.join(tmp, "out_" + name),
                                   vocab_dir=oc.DEFAULT_VOCAB_DIR, **case)
    out = pathlib.Path(args.out) / "trax_oracle" / "imdb_flax"
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "runs.json", "w", encoding="utf-8") as f:
        json.dump({"env": oc.env("generate_imdb_flax.py",
                                 with_tensorflow=True),
                   "cases": cells.CASES, "runs": runs}, f, indent=1,
                  sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
