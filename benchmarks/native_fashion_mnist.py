"""Section 6's Fashion-MNIST row: the tutorial's CNN as a native Flax
program (``train/fashion_mnist_flax``) against its trax_compat twin, the
``Loop`` on the tutorial's ``get_model()`` (``ToFloat``, two blocks of
``Conv`` ``LayerNorm`` ``Relu`` ``MaxPool``, ``Flatten``, ``Dense(10)``),
``CategoryCrossEntropy`` and ``Adam(0.01)``.

    python -m benchmarks.native_fashion_mnist [--quick] [--steps N] [--rounds R]

The batches come from the program's own pipeline (``input_pipeline.shuffle``
with Trax's queue of 1024, ``input_pipeline.batch`` of 8) over local
stand-in images (28x28x1 uint8, 10 labels; nothing downloads). They are made
before any timing; both sides train on the same list, from the same initial
weights (the program draws Trax's).
"""

import itertools
import sys

import numpy as np

from benchmarks import common
from benchmarks import loop_vs_flax
from benchmarks import native_common

QUICK = (40, 2, 5)      # steps, rounds, extra warm-up steps
DEFAULT = (400, 10, 20)
N_IMAGES = 2048


def stand_in_examples(n=N_IMAGES):
    """``n`` ``(image, label)`` pairs as TFDS gives them: noise with a
    bright bar whose row depends on the label."""
    rng = np.random.RandomState(0)
    examples = []
    for i in range(n):
        label = i % 10
        image = rng.randint(0, 40, size=(28, 28, 1)).astype(np.uint8)
        image[2 + 2 * label:4 + 2 * label, 4:24, 0] = 200
        examples.append((image, np.int64(label)))
    return examples


def make_batches(args, config):
    """(warm-up, timed) lists of ``(image, label)`` batches."""
    from train.fashion_mnist_flax import input_pipeline  # pylint: disable=g-import-not-at-top
    np.random.seed(args.seed)  # the program's shuffle draws from NumPy's
    stream = input_pipeline.batch(
        input_pipeline.shuffle(itertools.cycle(stand_in_examples()),
                               config.shuffle_queue_size),
        config.batch_size)
    stream = ((b["image"], b["label"]) for b in stream)
    extra = list(itertools.islice(stream, args.warmup))
    timed = list(itertools.islice(stream, args.steps))
    return native_common.warmup_list(timed, extra), timed


def twin_contender(sample_batch, learning_rate):
    """A: the tutorial's cells 6-8 on trax_compat (no eval task)."""
    from trax_compat import layers as tl  # pylint: disable=g-import-not-at-top
    model = tl.Serial(
        tl.ToFloat(),
        tl.Conv(32, (3, 3), (1, 1), "SAME"), tl.LayerNorm(), tl.Relu(),
        tl.MaxPool(),
        tl.Conv(64, (3, 3), (1, 1), "SAME"), tl.LayerNorm(), tl.Relu(),
        tl.MaxPool(),
        tl.Flatten(), tl.Dense(10))
    return loop_vs_flax.LoopContender(
        sample_batch, learning_rate, model=model,
        loss_layer=tl.CategoryCrossEntropy(),
        name="A  trax_compat training.Loop (Fashion-MNIST cells)")


def native_contender(config):
    from train.fashion_mnist_flax import train  # pylint: disable=g-import-not-at-top
    return native_common.NativeContender(
        "B7 native Flax program (train/fashion_mnist_flax train_step)",
        train.train_step, train.create_train_state(config),
        ("image", "label"), progress=True,
        eval_every_steps=config.eval_every_steps)


def measure(args, log=print):
    """``native_common.run_row``'s dict for this program."""
    from train.fashion_mnist_flax.configs import default  # pylint: disable=g-import-not-at-top
    config = default.get_config()
    warmup, timed = make_batches(args, config)
    return native_common.run_row(
        twin_contender(warmup[0], config.learning_rate),
        native_contender(config), warmup, timed, args.rounds, log=log)


def parse_args(argv=None):
    return native_common.parse_args(
        "python -m benchmarks.native_fashion_mnist", __doc__, argv, QUICK,
        DEFAULT)


def main(argv=None):
    args = parse_args(argv)
    for line in common.machine_info():
        print(line)
    measure(args)


if __name__ == "__main__":
    main(sys.argv[1:])
