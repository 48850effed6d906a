"""Section 6's Deep N-Gram row: the tutorial's GRU character LM as a native
Flax program (``train/deep_ngram_flax``) against its trax_compat twin, the
``Loop`` on the tutorial's model (``ShiftRight``, ``Embedding(256,
d_model)``, ``n_layers`` x ``GRU(d_model)``, ``Dense(256)``,
``LogSoftmax``), ``CrossEntropyLoss`` and ``Adam(0.0005)``.

    python -m benchmarks.native_deep_ngram [--quick] [--steps N] [--rounds R]

The batches come from the program's own pipeline (``input_pipeline.
create_datasets``: each line's characters plus the end id, zero-padded to
``max_length``, lines reshuffled at every pass) over local stand-in lines
(synthetic tweets, lowercased; nothing downloads), made before any timing.
Both sides train on the same list from the same initial weights: the
program cannot draw Trax's numbers itself, so it starts from the twin's,
converted by ``models.params_from_trax_weights``. The model is the
program's default (5 GRU layers of 512): a step is mostly the recurrent
scans, so this row measures compute more than per-step overhead.
"""

import itertools
import sys

from benchmarks import common
from benchmarks import loop_vs_flax
from benchmarks import native_common

QUICK = (10, 2, 2)      # steps, rounds, extra warm-up steps
DEFAULT = (30, 5, 2)    # steps of 1-2 s on two CPU cores
N_LINES = 2000


def stand_in_lines(n=N_LINES):
    """``n`` lowercased synthetic tweets, as the program reads text files."""
    from train import corpus  # pylint: disable=g-import-not-at-top
    return [text.strip().lower() for text, _ in corpus.synthetic_tweets(
        n, seed=7)]


def make_batches(args, config):
    """(warm-up, timed) lists of ``(inputs, targets, weights)`` batches."""
    from train.deep_ngram_flax import input_pipeline  # pylint: disable=g-import-not-at-top
    config = config.copy_and_resolve_references()
    config.data_seed = args.seed  # the seed of the program's shuffles
    config.num_eval_lines = min(config.num_eval_lines, N_LINES // 10)
    train_iter, _ = input_pipeline.create_datasets(config, stand_in_lines())
    stream = ((b["inputs"], b["targets"], b["weights"]) for b in train_iter)
    extra = list(itertools.islice(stream, args.warmup))
    timed = list(itertools.islice(stream, args.steps))
    return native_common.warmup_list(timed, extra), timed


def twin_model(config):
    """The tutorial's ``GRULM`` (its LSTM one with ``config.cell='lstm'``)."""
    from trax_compat import layers as tl  # pylint: disable=g-import-not-at-top
    cell = {"gru": tl.GRU, "lstm": tl.LSTM}[config.cell]
    return tl.Serial(
        tl.ShiftRight(mode="train"),
        tl.Embedding(vocab_size=config.vocab_size, d_feature=config.d_model),
        [cell(n_units=config.d_model) for _ in range(config.n_layers)],
        tl.Dense(config.vocab_size), tl.LogSoftmax())


def twin_contender(sample_batch, learning_rate, config=None):
    """A: the tutorial's model cell and ``train_model``'s task on
    trax_compat (``config``: the program's, for the model's sizes)."""
    from train.deep_ngram_flax.configs import default  # pylint: disable=g-import-not-at-top
    from trax_compat import layers as tl  # pylint: disable=g-import-not-at-top
    config = config or default.get_config()
    return loop_vs_flax.LoopContender(
        sample_batch, learning_rate, model=twin_model(config),
        loss_layer=tl.CrossEntropyLoss(),
        name="A  trax_compat training.Loop (Deep N-Gram tutorial cells)")


def native_contender(config, twin):
    """B7: the program's ``train_step`` from the ``twin``'s initial weights."""
    from train.deep_ngram_flax import models  # pylint: disable=g-import-not-at-top
    from train.deep_ngram_flax import train  # pylint: disable=g-import-not-at-top
    params = models.params_from_trax_weights(twin.loop.model.weights, config)
    return native_common.NativeContender(
        "B7 native Flax program (train/deep_ngram_flax train_step)",
        train.train_step, train.create_train_state(config, params),
        ("inputs", "targets", "weights"), progress=True,
        eval_every_steps=config.eval_every_steps)


def native_weights(native, config):
    """The native side's weights, laid out as the twin's (already so)."""
    del config
    return native.state.params


def measure(args, log=print, config=None):
    """``native_common.run_row``'s dict for this program (``config``: the
    program's default unless given)."""
    from train.deep_ngram_flax.configs import default  # pylint: disable=g-import-not-at-top
    config = config or default.get_config()
    warmup, timed = make_batches(args, config)
    twin = twin_contender(warmup[0], config.learning_rate, config)
    log(f"model     : {config.n_layers} x {config.cell.upper()}"
        f"({config.d_model}), batches {warmup[0][0].shape}")
    return native_common.run_row(twin, native_contender(config, twin),
                                 warmup, timed, args.rounds, log=log)


def parse_args(argv=None):
    return native_common.parse_args("python -m benchmarks.native_deep_ngram",
                                    __doc__, argv, QUICK, DEFAULT)


def main(argv=None):
    args = parse_args(argv)
    for line in common.machine_info():
        print(line)
    measure(args)


if __name__ == "__main__":
    main(sys.argv[1:])
