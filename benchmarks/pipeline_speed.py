"""Input pipeline throughput: the tutorial pipeline from text to batches.

    python -m benchmarks.pipeline_speed [--batches 3000] [--repeats 3]

Over ``itertools.cycle`` of the synthetic corpus, with a vocabulary built
from it (in a temporary folder, not timed), three prefixes of the tutorial
pipeline are timed, each ``--repeats`` times (medians):

* ``Tokenize``;
* ``Tokenize -> Shuffle -> FilterByLength(30)``;
* the whole pipeline, ``... -> BucketByLength([5, 10, 30], [1, 5, 10]) ->
  AddLossWeights``.

Throughput is given in text examples read from the source per second, and
for the whole pipeline also in batches per second (the rate a training
loop could consume them at, one per step).
"""

import argparse
import itertools
import os
import tempfile
import time

import numpy as np

from benchmarks import common


class _Counter:
    """Counts the examples pulled from ``it``."""

    def __init__(self, it):
        self._it = iter(it)
        self.n = 0

    def __iter__(self):
        return self

    def __next__(self):
        item = next(self._it)
        self.n += 1
        return item


def build_vocab(tmp_dir, texts):
    from train import sentiment  # pylint: disable=g-import-not-at-top
    from trax_compat.data import subword  # pylint: disable=g-import-not-at-top
    path = os.path.join(tmp_dir, sentiment.BUILT_VOCAB)
    subword.build_subword_vocab_file(texts, sentiment.BUILT_VOCAB_TARGET, path)
    return os.path.basename(path), tmp_dir


def stages(vocab_file, vocab_dir):
    from trax_compat import data  # pylint: disable=g-import-not-at-top
    tokenize = data.Tokenize(vocab_file=vocab_file, keys=[0],
                             vocab_dir=vocab_dir)
    return {
        "Tokenize": [tokenize],
        "Tokenize>Shuffle>FilterByLength": [
            tokenize, data.Shuffle(),
            data.FilterByLength(max_length=30, length_keys=[0])],
        "whole pipeline (to AddLossWeights)": [
            tokenize, data.Shuffle(),
            data.FilterByLength(max_length=30, length_keys=[0]),
            data.BucketByLength(boundaries=[5, 10, 30], batch_sizes=[1, 5, 10],
                                length_keys=[0]),
            data.AddLossWeights()],
    }


def time_stage(fns, examples, n_out):
    """(seconds, examples read, items out) for ``n_out`` items."""
    from trax_compat import data  # pylint: disable=g-import-not-at-top
    source = _Counter(itertools.cycle(examples))
    np.random.seed(0)
    stream = data.Serial(*fns)(source)
    start = time.perf_counter()
    n = sum(1 for _ in itertools.islice(stream, n_out))
    return time.perf_counter() - start, source.n, n


def measure(n_batches=3000, repeats=3, log=print):
    from train import corpus  # pylint: disable=g-import-not-at-top
    train_examples, _ = corpus.default_corpus()
    as_tutorial = [(str(t), np.int64(y)) for t, y in train_examples]
    results = {}
    with tempfile.TemporaryDirectory(prefix="trax_compat_bench_") as tmp:
        vocab_file, vocab_dir = build_vocab(tmp, (t for t, _ in as_tutorial))
        pipelines = stages(vocab_file, vocab_dir)
        # Warm-up: loads the vocabulary into the tokenizer's cache.
        time_stage(pipelines["Tokenize"], as_tutorial, 100)
        whole = "whole pipeline (to AddLossWeights)"
        # The whole pipeline reads about 5 examples per batch; the
        # prefixes are timed on about as many examples.
        rows = {name: [] for name in pipelines}
        for _ in range(repeats):
            for name, fns in pipelines.items():
                n_out = n_batches if name == whole else 5 * n_batches
                seconds, n_in, n = time_stage(fns, as_tutorial, n_out)
                rows[name].append((seconds, n_in, n))
        for name, runs in rows.items():
            secs = common.median(r[0] for r in runs)
            n_in, n = runs[0][1], runs[0][2]
            results[name] = {"seconds": secs, "examples_in": n_in,
                             "items_out": n,
                             "examples_per_s": n_in / secs,
                             "items_per_s": n / secs}
            unit = "batches" if name == whole else "examples"
            log(f"{name:<36}: {n_in / secs:9.0f} examples/s read "
                f"({n} {unit} out in {secs:.2f}s, median of {repeats}; "
                f"{n / secs:.0f} {unit}/s)")
    return results


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.pipeline_speed",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--batches", type=int, default=3000)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    measure(args.batches, args.repeats)


if __name__ == "__main__":
    main()
