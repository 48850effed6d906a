"""Runs Trax's Fashion-MNIST tutorial (``Fashion_MNIST_with_Trax.ipynb``,
its code cells in ``fashion_mnist_flax_cells.py``) with real Google Trax
over the ``fashion_mnist`` stand-in of ``tiny_tfds.py``, for
``tests/test_fashion_mnist_flax.py``.

Run with a Python that has **real Google Trax** (with TensorFlow and TFDS)
installed, from the repository root:

    python tests/testdata/generate_fashion_mnist_flax.py [OUT]   # default: tests/testdata

It prepares the stand-in into a temp dir (nothing is downloaded), runs each
case of ``fashion_mnist_flax_cells.CASES`` under the ``'jax'`` backend (see
that module's docstring) and writes
``OUT/trax_oracle/fashion_mnist_flax/runs.json``: per case the model's
repr, every batch read in reading order (shapes, dtypes, SHA-256), the
initial and final weights (the Dense kernel as a SHA-256, a corner and its
sum; the others in full), ``loop.history`` without timings, and the
model's outputs on the next eval batch.
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
import fashion_mnist_flax_cells as cells  # noqa: E402  this folder
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
                (tiny_tfds.FashionMnistStandIn,))
        for name, case in sorted(cells.CASES.items()):
            runs[name] = cells.run(trax, os.path.join(tmp, "out_" + name),
                                   backend="jax", **case)
    out = pathlib.Path(args.out) / "trax_oracle" / "fashion_mnist_flax"
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "runs.json", "w", encoding="utf-8") as f:
        json.dump({"env": oc.env("generate_fashion_mnist_flax.py",
                                 with_tensorflow=True),
                   "cases": cells.CASES, "runs": runs}, f, indent=1,
                  sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
