"""Section 6's IMDB row: the intro's IMDB classifier as a native Flax
program (``train/imdb_flax``) against its trax_compat twin, the ``Loop`` on
the notebook's model (``Embedding(8192, 256)``, ``Mean(axis=1)``,
``Dense(2)``), ``WeightedCategoryCrossEntropy`` and ``Adam(0.01)``.

    python -m benchmarks.native_imdb [--quick] [--steps N] [--rounds R]

The batches come from the program's own pipeline (``input_pipeline.
_batches``: ``en_8k.subword`` tokenizer, ``Shuffle``, ``FilterByLength
(2048)``, ``BucketByLength`` 32/128/512/2048 with batches of 512/128/32/8)
over local stand-in reviews (nothing downloads): synthetic tweets joined
into reviews of about 10, 60, 250 and 700 words, so every bucket occurs.
They are made before any timing; both sides train on the same list, from
the same initial weights (the program draws Trax's).
"""

import itertools
import sys

import numpy as np

from benchmarks import common
from benchmarks import loop_vs_flax
from benchmarks import native_common

QUICK = (60, 2, 5)      # steps, rounds, extra warm-up steps
DEFAULT = (600, 10, 20)
REVIEW_WORDS = (10, 60, 250, 700)  # one per bucket, cycled
N_REVIEWS = 400


def stand_in_reviews(n=N_REVIEWS):
    """``n`` distinct ``(text, label)`` pairs as TFDS gives them (UTF-8
    bytes, int64), of ``REVIEW_WORDS`` words in turn."""
    from train import corpus  # pylint: disable=g-import-not-at-top
    tweets = iter(itertools.cycle(corpus.synthetic_tweets(2000, seed=5)))
    reviews = []
    for i in range(n):
        words, label = [], None
        while len(words) < REVIEW_WORDS[i % len(REVIEW_WORDS)]:
            text, tweet_label = next(tweets)
            label = tweet_label if label is None else label
            words += text.split()
        reviews.append((" ".join(words).encode("utf-8"), np.int64(label)))
    return reviews


def make_batches(args, config):
    """(warm-up, timed) lists of ``(inputs, labels, weights)`` batches."""
    from train.imdb_flax import input_pipeline  # pylint: disable=g-import-not-at-top
    np.random.seed(args.seed)  # the program's shuffles draw from NumPy's
    stream = input_pipeline._batches(  # pylint: disable=protected-access
        itertools.cycle(stand_in_reviews()), config)
    stream = ((b["inputs"], b["labels"], b["weights"]) for b in stream)
    extra = list(itertools.islice(stream, args.warmup))
    timed = list(itertools.islice(stream, args.steps))
    return native_common.warmup_list(timed, extra), timed


def twin_contender(sample_batch, learning_rate):
    """A: the notebook's cells 15 and 21 on trax_compat."""
    from trax_compat import layers as tl  # pylint: disable=g-import-not-at-top
    model = tl.Serial(tl.Embedding(vocab_size=8192, d_feature=256),
                      tl.Mean(axis=1), tl.Dense(2))
    return loop_vs_flax.LoopContender(
        sample_batch, learning_rate, model=model,
        loss_layer=tl.WeightedCategoryCrossEntropy(),
        name="A  trax_compat training.Loop (intro IMDB cells)")


def native_contender(config):
    from train.imdb_flax import train  # pylint: disable=g-import-not-at-top
    return native_common.NativeContender(
        "B7 native Flax program (train/imdb_flax train_step)",
        train.train_step, train.create_train_state(config),
        ("inputs", "labels", "weights"), progress=True,
        eval_every_steps=config.eval_every_steps)


def measure(args, log=print):
    """``native_common.run_row``'s dict for this program."""
    from train.imdb_flax.configs import default  # pylint: disable=g-import-not-at-top
    config = default.get_config()
    warmup, timed = make_batches(args, config)
    lengths = sorted({b[0].shape for b in warmup})
    log(f"batch shapes (inputs): {lengths}")
    return native_common.run_row(
        twin_contender(warmup[0], config.learning_rate),
        native_contender(config), warmup, timed, args.rounds, log=log)


def parse_args(argv=None):
    return native_common.parse_args("python -m benchmarks.native_imdb",
                                    __doc__, argv, QUICK, DEFAULT)


def main(argv=None):
    args = parse_args(argv)
    for line in common.machine_info():
        print(line)
    measure(args)


if __name__ == "__main__":
    main(sys.argv[1:])
