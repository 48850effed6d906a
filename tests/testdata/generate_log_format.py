"""Records the exact stdout of two tiny real-Trax ``training.Loop`` runs.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_log_format.py OUT

It writes ``OUT/trax_oracle/log_format.txt`` (copied unchanged into this
folder; README.md describes it): two Loops with ``output_dir=None``,
``random_seed=0``, ``run(3)`` and ``n_steps_per_checkpoint=2``, on
``Serial(Dense(2), LogSoftmax())`` and fixed random float32 (4, 3) batches
(``batches``: seed 0 = train, 1 = first eval task, 2 = second eval task).
Run 1 shows the justification of loss and metric names of different
lengths, run 2 the printing of -1, NaN and large values. Lines starting
with ``#### `` are this script's separators; everything between them is
what Trax printed (the "Ran N train steps in S secs" timings vary).
"""

import argparse
import contextlib
import io
import itertools
import sys

import numpy as np

import jax
import trax
from trax import layers as tl
from trax.fastmath import numpy as jnp
from trax.supervised import training

import oracle_common as oc  # this folder

HEADER = """\
#### Lines starting with "#### " are separators added by the generator; everything else
#### between them is the exact stdout that Trax printed (captured with
#### contextlib.redirect_stdout). Timing values ("Ran N train steps in X secs") vary per run.
#### trax {commit}, jax {jax}, numpy {numpy}, jax_threefry_partitionable={tp}
"""
RUN1 = ("TrainTask(loss_name='my_custom_loss', n_steps_per_checkpoint=2), "
        "two EvalTasks (default names WeightedCategoryCrossEntropy/"
        "WeightedCategoryAccuracy; custom names 'acc'/"
        "'cross_entropy_of_the_second_eval_task'), output_dir=None, "
        "random_seed=0, run(3)")
RUN2 = ("one EvalTask with tl.Fn metrics (n_in=3) returning -1.0, NaN and "
        "12345678.9, plus WeightedCategoryAccuracy; default loss name; "
        "output_dir=None; n_steps_per_checkpoint=2; random_seed=0; run(3)")


def batches(seed, n=4):
    """``n`` fixed (inputs, int labels, unit weights) batches, cycled."""
    rs = np.random.RandomState(seed)
    return itertools.cycle([(rs.randn(4, 3).astype(np.float32),
                             rs.randint(0, 2, size=(4,)).astype(np.int32),
                             np.ones((4,), np.float32)) for _ in range(n)])


def train_task(**kwargs):
    return training.TrainTask(batches(0), tl.WeightedCategoryCrossEntropy(),
                              trax.optimizers.Adam(0.01),
                              n_steps_per_checkpoint=2, **kwargs)


def run_and_capture(train, evals):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        loop = training.Loop(tl.Serial(tl.Dense(2), tl.LogSoftmax()), train,
                             eval_tasks=evals, output_dir=None,
                             random_seed=0)
        loop.run(3)
    return out.getvalue()


def run1():
    eval1 = training.EvalTask(
        batches(1),
        [tl.WeightedCategoryCrossEntropy(), tl.WeightedCategoryAccuracy()],
        n_eval_batches=2)
    eval2 = training.EvalTask(
        batches(2),
        [tl.WeightedCategoryAccuracy(), tl.WeightedCategoryCrossEntropy()],
        metric_names=["acc", "cross_entropy_of_the_second_eval_task"])
    return run_and_capture(train_task(loss_name="my_custom_loss"),
                           [eval1, eval2])


def run2():
    metrics = [tl.Fn("NegativeOne", lambda x, y, w: -1.0),
               tl.Fn("AlwaysNaN", lambda x, y, w: jnp.nan),
               tl.Fn("Big", lambda x, y, w: 12345678.9),
               tl.WeightedCategoryAccuracy()]
    return run_and_capture(train_task(),
                           [training.EvalTask(batches(1), metrics)])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=oc.pathlib.Path,
                        help="output folder: files go to OUT/trax_oracle/...")
    args = parser.parse_args(argv)
    text = HEADER.format(commit=(oc.trax_commit() or "unknown")[:8],
                         jax=jax.__version__, numpy=np.__version__,
                         tp=jax.config.jax_threefry_partitionable)
    for n, (what, run) in enumerate([(RUN1, run1), (RUN2, run2)], 1):
        text += (f"#### RUN {n}: {what}\n#### BEGIN RUN {n} STDOUT\n"
                 f"{run()}#### END RUN {n} STDOUT\n")
    path = args.out / "trax_oracle" / "log_format.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
