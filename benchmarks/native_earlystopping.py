"""Section 6's early-stopping row: the tutorial's linear regression as a
native Flax program (``train/earlystopping_flax``) against its trax_compat
twin, the ``Loop`` on ``Serial(Dense(1))``, ``L2Loss`` and ``SGD(0.01)``.

    python -m benchmarks.native_earlystopping [--quick] [--steps N] [--rounds R]

The batches are the program's own (``input_pipeline.linear_batches`` of 50
``(x, 2x - 1)`` pairs), made before any timing; both sides train on the
same list, from the same initial weights (the program draws Trax's). The
model is tiny, so this row measures each side's per-step overhead. Only
training steps are timed: the program's and the tutorial's evaluations and
early-stopping checks are left out on both sides.
"""

import itertools
import sys

import numpy as np

from benchmarks import common
from benchmarks import loop_vs_flax
from benchmarks import native_common

QUICK = (1000, 2, 10)   # steps, rounds, extra warm-up steps
# Steps of well under 1 ms: rounds long enough to time (about 0.1 s).
DEFAULT = (10000, 10, 50)


def make_batches(args, config):
    """(warm-up, timed) lists of ``(inputs, targets, weights)`` batches."""
    from train.earlystopping_flax import input_pipeline  # pylint: disable=g-import-not-at-top
    np.random.seed(args.seed)  # the program's generator draws from NumPy's
    stream = ((b["inputs"], b["targets"], b["weights"])
              for b in input_pipeline.linear_batches(config.batch_size))
    extra = list(itertools.islice(stream, args.warmup))
    timed = list(itertools.islice(stream, args.steps))
    return native_common.warmup_list(timed, extra), timed


def twin_contender(sample_batch, learning_rate):
    """A: the tutorial's model, loss and optimizer on trax_compat."""
    from trax_compat import layers as tl  # pylint: disable=g-import-not-at-top
    from trax_compat import optimizers  # pylint: disable=g-import-not-at-top
    return loop_vs_flax.LoopContender(
        sample_batch, learning_rate, model=tl.Serial(tl.Dense(1)),
        loss_layer=tl.L2Loss(), optimizer=optimizers.SGD(learning_rate),
        name="A  trax_compat training.Loop (early-stopping tutorial)")


def native_contender(config):
    from train.earlystopping_flax import train  # pylint: disable=g-import-not-at-top
    # Its loop: train_step, then the metrics merge (no progress reports).
    return native_common.NativeContender(
        "B7 native Flax program (train/earlystopping_flax train_step)",
        train.train_step, train.create_train_state(config),
        ("inputs", "targets", "weights"))


def measure(args, log=print):
    """``native_common.run_row``'s dict for this program."""
    from train.earlystopping_flax.configs import default  # pylint: disable=g-import-not-at-top
    config = default.get_config()
    warmup, timed = make_batches(args, config)
    return native_common.run_row(
        twin_contender(warmup[0], config.learning_rate),
        native_contender(config), warmup, timed, args.rounds, log=log)


def parse_args(argv=None):
    return native_common.parse_args(
        "python -m benchmarks.native_earlystopping", __doc__, argv, QUICK,
        DEFAULT)


def main(argv=None):
    args = parse_args(argv)
    for line in common.machine_info():
        print(line)
    measure(args)


if __name__ == "__main__":
    main(sys.argv[1:])
