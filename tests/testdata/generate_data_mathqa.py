"""Records real Trax's MathQA functions of ``trax.data.tf_inputs``.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_data_mathqa.py [OUT]   # default: tests/testdata

It writes ``OUT/trax_oracle/data_mathqa/data_mathqa.json.gz``: the ``env``
object and each case of ``data_mathqa_cases.py`` run on Trax's module.
"""

import argparse
import pathlib
import warnings

import oracle_common as oc  # this folder
import data_mathqa_cases as cases  # this folder


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(oc.HERE))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from trax.data import tf_inputs  # pylint: disable=import-outside-toplevel
    results = {n: fn(tf_inputs) for n, fn in cases.CASES.items()}
    out = pathlib.Path(args.out) / "trax_oracle" / "data_mathqa"
    out.mkdir(parents=True, exist_ok=True)
    oc.write_json_gz(out / "data_mathqa.json.gz", {
        "env": oc.env("generate_data_mathqa.py", with_tensorflow=True),
        "cases": results})


if __name__ == "__main__":
    main()
