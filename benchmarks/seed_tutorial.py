"""The seed tutorial (Trax's sentiment classifier), timed, as a Trax script.

    python seed_tutorial.py --train F --eval F --vocab FILE --output-dir D \
        --steps 2000 --steps-per-checkpoint 500 --json OUT

Written for Trax (``import trax``): run it with a Python that has real Trax,
or on trax_compat with ``python -m trax_compat.run seed_tutorial.py ...``.
``benchmarks.vs_trax`` runs it both ways in fresh processes. Only the
standard library, NumPy and ``trax`` are imported, so it runs in either
environment unchanged.

The tutorial's code, as ``train.sentiment`` runs it: ``text,label`` lines,
cycled; ``np.random.seed(0)`` then the pipeline over the training cycle,
``np.random.seed(1)`` then the same over the eval cycle; the tutorial model,
``Adam(0.01)``, evals of 20 batches and checkpoints every
``--steps-per-checkpoint`` steps; ``Loop(..., random_seed=0).run(steps)``.

It writes to ``--json``: seconds for the imports, for building the
pipelines, model, tasks and ``Loop``, for ``run``, and every stdout line
the run printed with its time from the start of ``run`` (the parent derives
the time to the first logged step and the steps/s between logs).
"""

import time

_START = time.perf_counter()

# pylint: disable=g-import-not-at-top,wrong-import-position
import argparse
import itertools
import json
import os
import sys
import threading

import numpy as np

import trax
from trax import layers as tl
from trax.supervised import training

IMPORT_S = time.perf_counter() - _START


class _Stamped:
    """Passes stdout through, keeping each complete line with its time."""

    def __init__(self, out):
        self._out = out
        self._partial = ""
        self._lock = threading.Lock()
        self.lines = []

    def write(self, s):
        now = time.perf_counter()
        with self._lock:
            text = self._partial + s
            *complete, self._partial = text.split("\n")
            self.lines.extend((now, line) for line in complete)
        return self._out.write(s)

    def flush(self):
        self._out.flush()

    def __getattr__(self, name):
        return getattr(self._out, name)


def _read(path):
    # The tutorial's reader.
    with open(path, encoding="utf-8") as f:
        return [tuple([str(i.split(",")[0]), np.int64(i.split(",")[1])])
                for i in f.read().splitlines() if i]


def main(argv=None):
    p = argparse.ArgumentParser()
    for flag in ("--train", "--eval", "--vocab", "--output-dir", "--json"):
        p.add_argument(flag, required=True)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--steps-per-checkpoint", type=int, default=500)
    args = p.parse_args(argv)

    setup_start = time.perf_counter()
    train_examples = _read(args.train)
    eval_examples = _read(args.eval)
    vocab_file = os.path.basename(args.vocab)
    vocab_dir = os.path.dirname(os.path.abspath(args.vocab))

    def tutorial_pipeline():
        return trax.data.Serial(
            trax.data.Tokenize(vocab_file=vocab_file, keys=[0],
                               vocab_dir=vocab_dir),
            trax.data.Shuffle(),
            trax.data.FilterByLength(max_length=30, length_keys=[0]),
            trax.data.BucketByLength(boundaries=[5, 10, 30],
                                     batch_sizes=[1, 5, 10],
                                     length_keys=[0]),
            trax.data.AddLossWeights()
        )

    np.random.seed(0)
    streamed_batches = tutorial_pipeline()(itertools.cycle(train_examples))
    np.random.seed(1)
    streamed_eval_batches = tutorial_pipeline()(itertools.cycle(eval_examples))
    model = tl.Serial(
        tl.Embedding(vocab_size=8192, d_feature=256),
        tl.Mean(axis=1),
        tl.Dense(2),
        tl.LogSoftmax()
    )
    train_task = training.TrainTask(
        labeled_data=streamed_batches,
        loss_layer=tl.WeightedCategoryCrossEntropy(),
        optimizer=trax.optimizers.Adam(0.01),
        n_steps_per_checkpoint=args.steps_per_checkpoint,
    )
    eval_task = training.EvalTask(
        labeled_data=streamed_eval_batches,
        metrics=[tl.WeightedCategoryCrossEntropy(),
                 tl.WeightedCategoryAccuracy()],
        n_eval_batches=20
    )
    training_loop = training.Loop(model, train_task, eval_tasks=[eval_task],
                                  output_dir=args.output_dir, random_seed=0)
    setup_s = time.perf_counter() - setup_start

    stamped = _Stamped(sys.stdout)
    sys.stdout = stamped
    run_start = time.perf_counter()
    try:
        training_loop.run(args.steps)
    finally:
        run_end = time.perf_counter()
        sys.stdout = stamped._out  # pylint: disable=protected-access
    import jax
    result = {
        "library": trax.__name__ if not hasattr(trax, "__file__") else
                   os.path.basename(os.path.dirname(trax.__file__)),
        "import_s": IMPORT_S, "setup_s": setup_s,
        "run_s": run_end - run_start,
        "total_s": time.perf_counter() - _START,
        "step": int(training_loop.step),
        "backend": jax.default_backend(), "jax": jax.__version__,
        "lines": [[t - run_start, line] for t, line in stamped.lines],
    }
    with open(args.json, "w", encoding="utf-8") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
