"""Records real Trax's ``trax.data.text_encoder`` and ``trax.data.tokenizer``
on fixed inputs.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_data_text_encoder.py [OUT]   # default: tests/testdata

It writes ``OUT/trax_oracle/data_text_encoder/data_text_encoder.json.gz``:
the ``env`` object and, for each case of ``data_text_encoder_cases.py``, its
recorded result or the error Trax raised. The cases read the development
corpus (``corpus/dev_tweets.txt``) and the packaged ``en_8k.subword``.
"""

import argparse
import pathlib
import sys
import tempfile
import types
import warnings

import oracle_common as oc  # this folder
import data_inputs_cases as rec  # this folder
import data_text_encoder_cases as cases  # this folder


def run_case(name, text_encoder, tokenizer):
    """``record`` of the case's result (or its error), in a fresh temp dir."""
    with tempfile.TemporaryDirectory() as tmp:
        m = types.SimpleNamespace(
            text_encoder=text_encoder, tokenizer=tokenizer, tmp=tmp,
            corpus=str(oc.DEFAULT_CORPUS_DIR / "dev_tweets.txt"),
            vocab=str(oc.DEFAULT_VOCAB_DIR / oc.VOCAB_FILE))
        try:
            return {"result": rec.record(cases.CASES[name](m))}
        except Exception as e:  # pylint: disable=broad-except
            return {"error": type(e).__name__, "message": str(e)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(oc.HERE))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    # pylint: disable=import-outside-toplevel
    from trax.data import text_encoder
    from trax.data import tokenizer
    results = {n: run_case(n, text_encoder, tokenizer) for n in cases.CASES}
    out = pathlib.Path(args.out) / "trax_oracle" / "data_text_encoder"
    out.mkdir(parents=True, exist_ok=True)
    oc.write_json_gz(out / "data_text_encoder.json.gz", {
        "env": oc.env("generate_data_text_encoder.py", with_tensorflow=True),
        "cases": results})
    bad = [n for n, r in results.items() if "error" in r]
    print(f"{len(results)} cases, errors in: {bad}", file=sys.stderr)


if __name__ == "__main__":
    main()
