"""Records what real Trax prints running its Deep N-Gram tutorial.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_deep_ngram.py NOTEBOOK OUT

NOTEBOOK is ``trax/examples/Deep_N_Gram_Models.ipynb`` of a Trax checkout
(at the commit the other oracle files used). It writes, under
``OUT/trax_oracle/deep_ngram/``:

* ``cells.json``: the notebook's code cells, verbatim;
* ``stdout.txt``: the stdout of those cells, joined into one script with
  ``deep_ngram_script.tutorial_script``'s stand-ins, run by this Python
  in a temporary folder.

With OUT = ``tests/testdata`` it replaces the committed files. Timings and
trained values in ``stdout.txt`` change from run to run; the test compares
only the model reprs and the layout of the training log.
"""

import argparse
import importlib.util
import json
import pathlib
import subprocess
import sys
import tempfile

import deep_ngram_script as dn  # this folder


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebook", type=pathlib.Path)
    parser.add_argument("out", type=pathlib.Path)
    args = parser.parse_args()
    if importlib.util.find_spec("trax") is None:
        sys.exit("real Trax is not importable from this Python")
    cells = dn.code_cells(json.loads(args.notebook.read_text("utf-8")))
    folder = args.out / "trax_oracle" / "deep_ngram"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "cells.json", "w", encoding="utf-8") as f:
        json.dump({"notebook": dn.NOTEBOOK, "cells": cells}, f, indent=1)
        f.write("\n")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        dn.write_corpus(tmp / "kaggle")
        script = tmp / "deep_ngram.py"
        script.write_text(dn.tutorial_script(cells, tmp / "kaggle"))
        if importlib.util.find_spec("pandas") is None:
            (tmp / "pandas.py").write_text(dn.PANDAS_STUB)
        result = subprocess.run([sys.executable, str(script)], cwd=tmp,
                                capture_output=True, text=True, check=False)
    if result.returncode:
        sys.exit(result.stderr)
    (folder / "stdout.txt").write_text(result.stdout, encoding="utf-8")
    print(f"wrote {folder}")


if __name__ == "__main__":
    main()
