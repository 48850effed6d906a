"""Records real Trax's ``trax.data.inputs`` stages on fixed inputs.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_data_inputs.py [OUT]   # default: tests/testdata

It writes ``OUT/trax_oracle/data_inputs/data_inputs.json.gz``: the ``env``
object and, for each case of ``data_inputs_cases.py`` (seeded inside the
case), its recorded result or the error Trax raised.
"""

import argparse
import pathlib
import sys
import warnings

import oracle_common as oc  # this folder
import data_inputs_cases as cases  # this folder


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(oc.HERE))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from trax import data  # pylint: disable=import-outside-toplevel
    results = {name: cases.run_case(name, data) for name in cases.CASES}
    out = pathlib.Path(args.out) / "trax_oracle" / "data_inputs"
    out.mkdir(parents=True, exist_ok=True)
    oc.write_json_gz(out / "data_inputs.json.gz", {
        "env": oc.env("generate_data_inputs.py"), "cases": results})
    bad = [n for n, r in results.items() if "error" in r]
    print(f"{len(results)} cases, errors in: {bad}", file=sys.stderr)


if __name__ == "__main__":
    main()
