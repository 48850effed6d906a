"""Examples per second of the tutorial's ``Tokenize`` over the developer corpus.

Usage:
    python benchmarks/tokenize_speed.py [--corpus FILE] [--vocab-dir DIR]
                                        [--vocab-file en_8k.subword]

Three figures, each over every line of the corpus (read as the tutorial does):

* ``cold``: a fresh Python process (imports done, nothing else) running
  ``Tokenize(vocab_file=..., keys=[0], vocab_dir=...)`` over the corpus, so
  the time includes loading the vocabulary;
* ``warm``: the same pipeline run again in that process;
* ``trax-like``: a plain-Python model of what real Trax does: re-read the
  vocabulary file at each ``Tokenize`` call, no cache kept across calls,
  per-character word splitting and per-word greedy matching. It is checked to
  give the same ids as ours, and the ratio ours / trax-like is printed.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time
import unicodedata

import numpy as np

_REPO = pathlib.Path(__file__).resolve().parents[1]
_TESTDATA = _REPO / "tests" / "testdata"
_BUNDLED_VOCABS = _REPO / "trax_compat" / "data" / "vocabs"


def read_tweets(path):
    """The tutorial's reader: ``(text, np.int64(label))`` per line."""
    with open(path, encoding="utf-8") as f:
        return [tuple([str(i.split(",")[0]), np.int64(i.split(",")[1])])
                for i in f]


def _run_ours(tweets, vocab_file, vocab_dir):
    from trax_compat import data  # pylint: disable=g-import-not-at-top
    start = time.perf_counter()
    out = list(data.Tokenize(vocab_file=vocab_file, keys=[0],
                             vocab_dir=vocab_dir)(iter(tweets)))
    return time.perf_counter() - start, out


# ---------------------------------------------------------------- baseline --

# Built once per process, as Trax does at import time (not timed).
_WORD_CHARS = None


def _word_chars():
    global _WORD_CHARS
    if _WORD_CHARS is None:
        _WORD_CHARS = {chr(cp) for cp in range(sys.maxunicode)
                       if unicodedata.category(chr(cp))[0] in "LN"}
    return _WORD_CHARS


class _TraxLikeSubword:
    """Loads like Trax: read the file, build the tables, fresh word cache."""

    def __init__(self, path):
        subtokens = []
        with open(path, encoding="utf-8", newline="\n") as f:
            for line in f:
                s = line.rstrip()
                if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
                    s = s[1:-1]
                subtokens.append(s)
        self.ids = {s: i for i, s in enumerate(subtokens) if s}
        self.max_len = max(len(s) for s in subtokens)
        self.alphabet = {c for s in subtokens for c in s} | set("\\_u;0123456789")
        self.cache_size = 2 ** 20
        self.cache = [(None, None)] * self.cache_size

    def _words(self, text):
        chars = _word_chars()
        if not text:
            return []
        flags = [c in chars for c in text]
        words = []
        begin = 0
        for pos in range(1, len(text)):
            if flags[pos] != flags[pos - 1]:
                word = text[begin:pos]
                if word != " " or begin == 0:
                    words.append(word)
                begin = pos
        words.append(text[begin:])
        return words

    def _word_ids(self, word):
        slot = hash(word) % self.cache_size
        key, value = self.cache[slot]
        if key == word:
            return value
        escaped = word.replace("\\", "\\\\").replace("_", "\\u")
        escaped = "".join(c if c in self.alphabet and c != "\n"
                          else "\\%d;" % ord(c) for c in escaped) + "_"
        ids = []
        start = 0
        while start < len(escaped):
            for end in range(min(len(escaped), start + self.max_len), start, -1):
                i = self.ids.get(escaped[start:end])
                if i is not None:
                    ids.append(i)
                    start = end
                    break
        self.cache[slot] = (word, ids)
        return ids

    def encode(self, text):
        ids = []
        for word in self._words(text):
            ids.extend(self._word_ids(word))
        return ids


def _run_trax_like(tweets, path):
    _word_chars()
    start = time.perf_counter()
    vocab = _TraxLikeSubword(path)  # reloaded at every Tokenize call
    out = []
    for example in tweets:
        out.append(tuple(np.array(vocab.encode(x)) + 0 if i == 0 else x
                         for i, x in enumerate(example)))
    return time.perf_counter() - start, out


# ------------------------------------------------------------------- main --

def _child(args):
    tweets = read_tweets(args.corpus)
    from trax_compat import data  # pylint: disable=g-import-not-at-top,unused-import
    cold, out = _run_ours(tweets, args.vocab_file, args.vocab_dir)
    warm = min(_run_ours(tweets, args.vocab_file, args.vocab_dir)[0]
               for _ in range(3))
    print(json.dumps({"cold": cold, "warm": warm,
                      "ids": [a.tolist() for a, _ in out[:200]]}))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default=str(_TESTDATA / "corpus" /
                                                "dev_tweets.txt"))
    parser.add_argument("--vocab-dir", default=str(_BUNDLED_VOCABS))
    parser.add_argument("--vocab-file", default="en_8k.subword")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args)

    tweets = read_tweets(args.corpus)
    n = len(tweets)
    env = dict(os.environ, PYTHONPATH=str(_REPO) + os.pathsep +
               os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
            [sys.executable, __file__, "--child", "--corpus", args.corpus,
             "--vocab-dir", args.vocab_dir, "--vocab-file", args.vocab_file],
            capture_output=True, text=True, env=env, check=True)
    child = json.loads(proc.stdout.strip().splitlines()[-1])

    path = os.path.join(args.vocab_dir, args.vocab_file)
    base_times = []
    for _ in range(3):
        seconds, base_out = _run_trax_like(tweets, path)
        base_times.append(seconds)
    base = min(base_times)
    same = all(a.tolist() == b for (a, _), b in zip(base_out, child["ids"]))
    _, ours_out = _run_ours(tweets, args.vocab_file, args.vocab_dir)
    same = same and all(a.tolist() == b.tolist() and a.dtype == b.dtype
                        for (a, _), (b, _) in zip(ours_out, base_out))

    print("corpus: %s (%d examples); vocabulary: %s" % (args.corpus, n, path))
    print("trax-like baseline (reload per Tokenize): %9.0f examples/s"
          % (n / base))
    print("trax_compat cold (fresh process, incl. load): %9.0f examples/s"
          % (n / child["cold"]))
    print("trax_compat warm (vocabulary cached):         %9.0f examples/s"
          % (n / child["warm"]))
    print("speed-up cold / trax-like: %.1fx; warm / trax-like: %.1fx"
          % (base / child["cold"], base / child["warm"]))
    print("ids identical to the trax-like encoder: %s" % ("yes" if same else "NO"))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
