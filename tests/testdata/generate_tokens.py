"""Records real Trax's subword tokenizer on the corpus and on tricky strings.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_tokens.py OUT [--corpus-dir D] [--vocab-dir D]

It writes ``OUT/trax_oracle/tokens_en_8k.json`` (``make_testdata.py``
gzips it into this folder; README.md describes the fields):
``trax.data.tokenize`` / ``detokenize`` / ``vocab_size`` with
``vocab_type='subword'``, ``vocab_file='en_8k.subword'`` on the first 500
lines of ``dev_tweets.txt`` and the ``TRICKY`` strings below, the
``n_reserved_ids=3`` cases, and ``detokenize`` of hand-made id lists.
"""

import argparse
import sys

import numpy as np

import trax

import oracle_common as oc  # this folder

N_DEV = 500
TRICKY = [
    "", " ", "  leading and trailing  ", "Hello, World!",
    "naïve café — déjà vu", "😀 emoji 🚀", "tab\there", "new\nline",
    "UPPER lower MiXeD 123 4.56", "don't won't can't", "a" * 50, "x" * 300,
    "under_score and back\\slash", "\\u00e9 literal", "<pad>", "<EOS>",
    "1,234,567.89", "C++ & C# | Rust",
    "@user #hashtag http://example.com/path?q=1", "日本語のテキスト",
    "Ελληνικά κείμενο", "مرحبا", "zero\u200bwidth", "\u0000nul",
    "emoji🙂joined", "   ", "end with space ", "!!!???...", "e.g. i.e. etc.",
    "3.14159", "O'Brien's", "A" * 8, "mixed123abc456",
]
# (index into the dev texts or TRICKY) for the n_reserved_ids=3 cases.
RESERVED_DEV = [0, 1, 2]
RESERVED_TRICKY = [0, 3, 4, 14, 15, 23, 11]
HELLO = [5954, 75, 3, 460, 895, 2]
SCREEN = [182, 5746, 2, 292, 4567, 778, 235, 38, 235]
DETOKENIZE_RESERVED = [
    [5, 0, 0], [1], [0, 1, 2], [0], [0, 0, 0], [1, 1], [0, 1], [1, 0],
    [2, 0, 1], HELLO + [1], HELLO + [0, 0, 0], HELLO + [1, 0, 0],
    [1] + HELLO, [0] + HELLO, SCREEN + [0] * 5, SCREEN[:3] + [1] + SCREEN[3:],
    [4, 1, 4], [0, 2, 0, 2], [1, 2, 1, 2], [3, 0, 4, 1, 5],
]
EDGE_INPUTS = [
    ("[] (python list)", []),
    ("np.array([], dtype=float64)", np.array([], dtype=np.float64)),
    ("np.array([0,1], dtype=int32)", np.array([0, 1], dtype=np.int32)),
    ("[8182] (last valid id, vocab_size-1)", [8182]),
    ("[8183] (== vocab_size)", [8183]),
    ("[8191]", [8191]), ("[8192]", [8192]), ("[100000]", [100000]),
    ("[-1]", [-1]), ("[5, -1, 5]", [5, -1, 5]),
]


def main(argv=None):
    args = oc.out_arg(argparse.ArgumentParser(
        description=__doc__.splitlines()[0])).parse_args(argv)
    kw = dict(vocab_type="subword", vocab_file=oc.VOCAB_FILE,
              vocab_dir=str(args.vocab_dir) + "/")

    def tokenize(texts, **extra):
        return list(trax.data.tokenize(iter(texts), **kw, **extra))

    def detokenize(ids, **extra):
        return trax.data.detokenize(ids, **kw, **extra)

    def entry(source, index, text, ids, **extra):
        detok = detokenize(ids, **extra)
        return {"source": source, "index": index, "text": text,
                "python_repr": repr(text), "ids": [int(i) for i in ids],
                "ids_dtype": ids.dtype.name, "ids_shape": list(ids.shape),
                "ids_type": type(ids).__name__, "n_ids": int(len(ids)),
                "detokenized": detok, "roundtrip_equal": detok == text}

    rows = oc.read_tweets(args.corpus_dir / "dev_tweets.txt")[:N_DEV]
    dev = [text for text, _ in rows]
    sources = ([("dev_tweets", i, t) for i, t in enumerate(dev)]
               + [("tricky", i, t) for i, t in enumerate(TRICKY)])
    all_ids = tokenize([t for _, _, t in sources])
    entries = [entry(s, i, t, ids)
               for (s, i, t), ids in zip(sources, all_ids)]

    # (text, label) tuples with keys=[0]: the same arrays and dtypes?
    tuple_ids = [x for x, _ in trax.data.tokenize(
        iter([(t, np.int64(0)) for _, _, t in sources]), keys=[0], **kw)]
    identical = all(a.dtype == b.dtype and np.array_equal(a, b)
                    for a, b in zip(all_ids, tuple_ids))

    reserved_texts = ([dev[i] for i in RESERVED_DEV]
                      + [TRICKY[i] for i in RESERVED_TRICKY])
    reserved = []
    for index, (text, ids) in enumerate(zip(
            reserved_texts, tokenize(reserved_texts, n_reserved_ids=3))):
        e = entry("n_reserved_ids=3", index, text, ids, n_reserved_ids=3)
        e["n_reserved_ids"] = 3
        e["detokenized_with_n_reserved_ids_0"] = detokenize(ids)
        reserved.append(e)

    vocab_size = trax.data.vocab_size(**kw)
    data = {
        "description": "Real trax.data.tokenize / detokenize / vocab_size "
                       "with vocab_type=\"subword\", vocab_file=\""
                       "en_8k.subword\". See README.md.",
        "env": oc.env("generate_tokens.py"),
        "vocab_file": oc.VOCAB_FILE,
        "vocab_type": "subword",
        "vocab_size": vocab_size,
        "vocab_size_type": type(vocab_size).__name__,
        "vocab_size_n_reserved_ids_3": trax.data.vocab_size(
            **kw, n_reserved_ids=3),
        "tuple_stream_keys0_identical": identical,
        "n_entries": len(entries),
        "n_roundtrip_equal": sum(e["roundtrip_equal"] for e in entries),
        "entries": entries,
        "n_reserved_ids_3_entries": reserved,
        "detokenize_reserved_ids": [
            {"ids": ids, "detokenized": detokenize(ids)}
            for ids in DETOKENIZE_RESERVED],
        "detokenize_edge_inputs": [
            {"input": name, "ids": [int(i) for i in ids],
             "detokenized": detokenize(ids)} for name, ids in EDGE_INPUTS],
    }
    oc.write_json(args.out / "trax_oracle" / "tokens_en_8k.json", data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
