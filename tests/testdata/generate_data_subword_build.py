"""Records the vocabulary files real Trax's ``text_encoder_build_subword``
program writes for the flag sets of ``subword_build_cases.py``.

Run with a Python that has **real Google Trax** installed, from the
repository root:

    python tests/testdata/generate_data_subword_build.py [OUT]   # default: tests/testdata

It writes ``OUT/trax_oracle/data_subword_build/``: ``words.csv`` (word
counts made from the development corpus, the input of the ``word_counts``
case) and ``<case>.subword``, the file Trax's program wrote, for each case.
"""

import argparse
import collections
import pathlib
import shutil
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import oracle_common as oc  # noqa: E402  this folder
import subword_build_cases as cases  # noqa: E402  this folder


def write_words(path):
    """``word,count`` lines: the 60 commonest words of the first 400 tweets."""
    lines = (oc.DEFAULT_CORPUS_DIR / "dev_tweets.txt").read_text(
            encoding="utf-8").splitlines()[:400]
    counts = collections.Counter(w for line in lines for w in line.split())
    with open(path, "w", encoding="utf-8") as f:
        for word, n in counts.most_common(60):
            f.write("%s,%d\n" % (word, n))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(HERE))
    args = parser.parse_args()
    out = pathlib.Path(args.out) / "trax_oracle" / "data_subword_build"
    out.mkdir(parents=True, exist_ok=True)
    words = out / cases.WORDS_FILE
    write_words(words)
    with tempfile.TemporaryDirectory() as tmp:
        for name in cases.CASES:
            target = pathlib.Path(tmp) / (name + ".subword")
            subprocess.run(
                    [sys.executable, "-m", "trax.data.text_encoder_build_subword"]
                    + cases.argv(name, oc.DEFAULT_CORPUS_DIR, words, target),
                    check=True, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL)
            shutil.copy(target, out / (name + ".subword"))
            print(name, sum(1 for _ in open(target, encoding="utf-8")),
                  "subtokens")


if __name__ == "__main__":
    main()
