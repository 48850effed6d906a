"""Training speed of the native Flax programs (``train/*_flax``) against
their trax_compat twins (``training.Loop`` on the same model, loss and
optimizer), each on the same pre-generated batches from the same initial
weights: one row per program (section 6 of ``python -m benchmarks``).

    python -m benchmarks.native_vs_twin [--quick] [loop_vs_flax's options]
        (the sentiment row; the others: python -m benchmarks.native_imdb,
        .native_fashion_mnist, .native_earlystopping, .native_deep_ngram,
        .native_transformer_lm, .native_nmt)

Rows (module: native program against its twin):

* ``sentiment`` (here): ``train/sentiment_flax`` against section 1's A,
  on the tutorial pipeline's batches (``loop_vs_flax.make_batches``).
* ``imdb`` (``native_imdb``): ``train/imdb_flax``, the intro's classifier.
* ``fashion_mnist`` (``native_fashion_mnist``): ``train/fashion_mnist_flax``.
* ``earlystopping`` (``native_earlystopping``): ``train/earlystopping_flax``.
* ``deep_ngram`` (``native_deep_ngram``): ``train/deep_ngram_flax``, the
  Deep N-Gram tutorial's GRU LM (starting from the twin's weights).
* ``transformer_lm`` (``native_transformer_lm``): ``train/transformer_lm_flax``
  (starting from the twin's weights).
* ``nmt`` (``native_nmt``): ``train/nmt_flax``, the NMT tutorial's
  encoder-decoder Transformer on bucketed batches (starting from the
  twin's weights).

In every row the native side (B7) is the program's own jitted
``train_step`` plus what its loop does each step (the CLU metrics merge,
and the profiler step annotation and ``ReportProgress`` where the program
has them); the twin (A) is the real ``training.Loop``. Both are warmed up
on every batch shape, then alternate in rounds; the figure is native / twin
of the median steps/s (target: within 10%, i.e. at least 0.9). Data time is
excluded: the batches are made before any timing.
"""

import sys

from benchmarks import common
from benchmarks import loop_vs_flax
from benchmarks import native_common

TARGET = native_common.TARGET

# Row name -> (module, program folder), in the order the rows are shown.
ROWS = {
    "sentiment": ("benchmarks.native_vs_twin", "train/sentiment_flax"),
    "imdb": ("benchmarks.native_imdb", "train/imdb_flax"),
    "fashion_mnist": ("benchmarks.native_fashion_mnist",
                      "train/fashion_mnist_flax"),
    "earlystopping": ("benchmarks.native_earlystopping",
                      "train/earlystopping_flax"),
    "deep_ngram": ("benchmarks.native_deep_ngram", "train/deep_ngram_flax"),
    "transformer_lm": ("benchmarks.native_transformer_lm",
                       "train/transformer_lm_flax"),
    "nmt": ("benchmarks.native_nmt", "train/nmt_flax"),
}


def native_contender(learning_rate):
    """B7: ``train/sentiment_flax``'s ``train_step`` and per-step loop work."""
    from train.sentiment_flax import train  # pylint: disable=g-import-not-at-top
    from train.sentiment_flax.configs import default  # pylint: disable=g-import-not-at-top
    config = default.get_config()
    config.learning_rate = learning_rate
    return native_common.NativeContender(
        "B7 native Flax program (train/sentiment_flax train_step)",
        train.train_step, train.create_train_state(config),
        ("inputs", "labels", "weights"), progress=True,
        eval_every_steps=config.eval_every_steps)


def measure(args, log=print):
    """The sentiment row: ``native_common.run_row``'s dict."""
    warmup, timed, vocab_desc = loop_vs_flax.make_batches(args)
    log(f"vocabulary: {vocab_desc}")
    twin = loop_vs_flax.LoopContender(warmup[0], args.learning_rate)
    return native_common.run_row(twin, native_contender(args.learning_rate),
                                 warmup, timed, args.rounds, log=log)


def measure_all(quick=False, rows=None, log=print):
    """Every row (or those named in ``rows``) at its default or ``--quick``
    sizes; returns ``{row: result}``."""
    import importlib  # pylint: disable=g-import-not-at-top
    results = {}
    for name in rows or ROWS:
        module_name, folder = ROWS[name]
        log(f"-- {name}: {folder} vs its trax_compat twin")
        module = importlib.import_module(module_name)
        argv = ["--quick"] if quick else []
        results[name] = module.measure(module.parse_args(argv), log=log)
        log("")
    return results


def parse_args(argv=None):
    return loop_vs_flax.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    for line in common.machine_info():
        print(line)
    measure(args)


if __name__ == "__main__":
    main(sys.argv[1:])
