"""Section 6's NMT row: ``train/nmt_flax`` (the Flax encoder-decoder
``Transformer`` of ``models/transformer.py``) against its trax_compat twin,
the ``Loop`` on ``trax_compat.models.Transformer(mode='train')``,
``WeightedCategoryCrossEntropy`` and ``Adam(0.01)`` under
``lr.warmup_and_rsqrt_decay(warmup_steps, learning_rate)``, as
``tests/testdata/nmt_cells.py`` builds it.

    python -m benchmarks.native_nmt [--quick] [--steps N] [--rounds R]

The batches come from the program's own pipeline (``input_pipeline.
batches``: the tutorial's shuffle, length filter and buckets, so batches
of several shapes, every one compiled in the warm-up) over the project's
synthetic parallel text (nothing downloads), made before any timing.
Both sides train on the same list from the same initial weights: the
program starts from the twin's, converted by ``models.convert_transformer``.
The model is the program's default, dropout included; the two draw their
dropout masks from different generators, so only with ``dropout=0`` do
they end on the same weights (as the tests run them).
"""

import itertools
import sys

import numpy as np

from benchmarks import common
from benchmarks import loop_vs_flax
from benchmarks import native_common

QUICK = (40, 2, 5)      # steps, rounds, extra warm-up steps
DEFAULT = (400, 10, 20)
N_PAIRS = 4000  # of the synthetic parallel text, cycled


def make_batches(args, config):
    """(warm-up, timed) lists of ``(inputs, targets, weights)`` batches."""
    from train import corpus  # pylint: disable=g-import-not-at-top
    from train.nmt_flax import input_pipeline  # pylint: disable=g-import-not-at-top
    pairs = itertools.cycle(input_pipeline.parallel_corpus(
        N_PAIRS, corpus.DEFAULT_TRAIN_SEED))
    stream = ((b["inputs"], b["targets"], b["weights"]) for b in
              input_pipeline.batches(pairs, input_pipeline.load_vocab(config),
                                     config,
                                     np.random.RandomState(args.seed)))
    extra = list(itertools.islice(stream, args.warmup))
    timed = list(itertools.islice(stream, args.steps))
    return native_common.warmup_list(timed, extra), timed


def twin_contender(sample_batch, learning_rate, config=None):
    """A: the twin's model, loss, optimizer and schedule on trax_compat
    (``config``: the program's, for the sizes and the schedule)."""
    from train.nmt_flax.configs import default  # pylint: disable=g-import-not-at-top
    import trax_compat  # pylint: disable=g-import-not-at-top
    from trax_compat import layers as tl  # pylint: disable=g-import-not-at-top
    from trax_compat import optimizers  # pylint: disable=g-import-not-at-top
    config = config or default.get_config()
    model = trax_compat.models.Transformer(
        input_vocab_size=config.vocab_size, d_model=config.d_model,
        d_ff=config.d_ff, n_encoder_layers=config.n_encoder_layers,
        n_decoder_layers=config.n_decoder_layers, n_heads=config.n_heads,
        max_len=config.max_len, dropout=config.dropout, mode="train")
    return loop_vs_flax.LoopContender(
        sample_batch, learning_rate, model=model,
        loss_layer=tl.WeightedCategoryCrossEntropy(),
        optimizer=optimizers.Adam(0.01),
        lr_schedule=trax_compat.lr.warmup_and_rsqrt_decay(
            config.warmup_steps, learning_rate),
        name="A  trax_compat training.Loop (Transformer NMT twin)")


def native_contender(config, twin):
    """B7: the program's ``train_step`` (with its dropout key) from the
    ``twin``'s initial weights."""
    import jax  # pylint: disable=g-import-not-at-top
    from models import convert_transformer  # pylint: disable=g-import-not-at-top
    from train.nmt_flax import models  # pylint: disable=g-import-not-at-top
    from train.nmt_flax import train  # pylint: disable=g-import-not-at-top
    params = convert_transformer.params_from_trax_weights(
        twin.loop.model.weights, models.create_model(config))["params"]
    dropout_key = jax.random.PRNGKey(config.seed)

    def train_step(state, batch):  # as the program's loop calls it
        return train.train_step(state, batch, dropout_key)

    return native_common.NativeContender(
        "B7 native Flax program (train/nmt_flax train_step)",
        train_step, train.create_train_state(config, params),
        ("inputs", "targets", "weights"), progress=True,
        eval_every_steps=config.eval_every_steps)


def native_weights(native, config):
    """The native side's weights in the twin's (Trax's) layout."""
    from models import convert_transformer  # pylint: disable=g-import-not-at-top
    from train.nmt_flax import models  # pylint: disable=g-import-not-at-top
    return convert_transformer.trax_flat_weights_from_params(
        {"params": native.state.params}, models.create_model(config))


def measure(args, log=print, config=None):
    """``native_common.run_row``'s dict for this program (``config``: the
    program's default unless given)."""
    from train.nmt_flax.configs import default  # pylint: disable=g-import-not-at-top
    config = config or default.get_config()
    warmup, timed = make_batches(args, config)
    twin = twin_contender(warmup[0], config.learning_rate, config)
    shapes = sorted({(b[0].shape, b[1].shape) for b in timed})
    log(f"model     : Transformer d_model={config.d_model} "
        f"layers={config.n_encoder_layers}+{config.n_decoder_layers}, "
        f"{len(shapes)} batch shapes (inputs, targets): {shapes}")
    return native_common.run_row(twin, native_contender(config, twin),
                                 warmup, timed, args.rounds, log=log)


def parse_args(argv=None):
    return native_common.parse_args(
        "python -m benchmarks.native_nmt", __doc__, argv, QUICK, DEFAULT)


def main(argv=None):
    args = parse_args(argv)
    for line in common.machine_info():
        print(line)
    measure(args)


if __name__ == "__main__":
    main(sys.argv[1:])
