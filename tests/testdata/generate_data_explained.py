"""Records what real Trax prints for the ``trax.data.Log`` cells of its
``trax_data_Explained`` tutorial (``explained_log_cells.py``).

Run with a Python that has **real Google Trax** (with TensorFlow and TFDS)
installed, from the repository root:

    python tests/testdata/generate_data_explained.py [OUT]   # default: tests/testdata

It prepares the ``imdb_reviews`` stand-in of ``tiny_tfds.py`` into a temp
dir (nothing is downloaded), reads the packaged ``en_8k.subword`` (the bytes
of Trax's ``gs://trax-ml/vocabs/en_8k.subword``), and writes
``OUT/trax_oracle/data_explained/log_cells.json``: each cell's printed text.
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
import explained_log_cells as cells  # noqa: E402  this folder
import tiny_tfds  # noqa: E402  this folder


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(HERE))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import trax  # pylint: disable=import-outside-toplevel
    with tempfile.TemporaryDirectory() as tmp:
        # Trax's TFDS without data_dir reads ~/tensorflow_datasets/: the
        # stand-in is prepared there, under a temporary home.
        os.environ["HOME"] = tmp
        os.environ["TFDS_DATA_DIR"] = tiny_tfds.prepare(
                os.path.join(tmp, "tensorflow_datasets"),
                (tiny_tfds.ImdbReviewsStandIn,))
        printed = {name: cells.run(trax, str(oc.DEFAULT_VOCAB_DIR), name)
                   for name in cells.CELLS}
    out = pathlib.Path(args.out) / "trax_oracle" / "data_explained"
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "log_cells.json", "w", encoding="utf-8") as f:
        json.dump({"env": oc.env("generate_data_explained.py",
                                 with_tensorflow=True),
                   "printed": printed}, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
