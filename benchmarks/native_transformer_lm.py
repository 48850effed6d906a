"""Section 6's Transformer LM row: ``train/transformer_lm_flax`` (the Flax
``TransformerLM`` of ``models/transformer.py``) against its trax_compat
twin, the ``Loop`` on ``trax_compat.models.TransformerLM(mode='train')``,
``WeightedCategoryCrossEntropy`` and ``Adam()`` under
``lr.multifactor(constant, warmup_steps)``, as
``tests/testdata/transformer_lm_cells.py`` builds it.

    python -m benchmarks.native_transformer_lm [--quick] [--steps N] [--rounds R]

The batches come from the program's own pipeline (``input_pipeline.
batches``: ``en_8k.subword`` ids plus the end id, lines longer than
``max_length`` dropped, the rest zero-padded) over the project's synthetic
corpus (nothing downloads), made before any timing. Both sides train on
the same list from the same initial weights: the program starts from the
twin's, converted by ``models.convert_transformer``. The model is the
program's default, dropout included; the two draw their dropout masks from
different generators, so only with ``dropout=0`` do they end on the same
weights (as the tests run them).
"""

import itertools
import sys

import numpy as np

from benchmarks import common
from benchmarks import loop_vs_flax
from benchmarks import native_common

QUICK = (40, 2, 5)      # steps, rounds, extra warm-up steps
DEFAULT = (400, 10, 20)


def make_batches(args, config):
    """(warm-up, timed) lists of ``(inputs, targets, weights)`` batches."""
    from train import corpus  # pylint: disable=g-import-not-at-top
    from train.transformer_lm_flax import input_pipeline  # pylint: disable=g-import-not-at-top
    texts, _ = corpus.default_corpus()
    # The order of the lines: the program reads its file in order.
    order = np.random.RandomState(args.seed).permutation(
        len(texts))
    lines = itertools.cycle([texts[i][0] for i in order])
    stream = ((b["inputs"], b["targets"], b["weights"]) for b in
              input_pipeline.batches(lines, input_pipeline.load_vocab(config),
                                     config))
    extra = list(itertools.islice(stream, args.warmup))
    timed = list(itertools.islice(stream, args.steps))
    return native_common.warmup_list(timed, extra), timed


def twin_contender(sample_batch, learning_rate, config=None):
    """A: the twin's model, loss, optimizer and schedule on trax_compat
    (``config``: the program's, for the sizes and the schedule)."""
    from train.transformer_lm_flax.configs import default  # pylint: disable=g-import-not-at-top
    import trax_compat  # pylint: disable=g-import-not-at-top
    from trax_compat import layers as tl  # pylint: disable=g-import-not-at-top
    from trax_compat import optimizers  # pylint: disable=g-import-not-at-top
    config = config or default.get_config()
    model = trax_compat.models.TransformerLM(
        vocab_size=config.vocab_size, d_model=config.d_model,
        d_ff=config.d_ff, n_layers=config.n_layers, n_heads=config.n_heads,
        max_len=config.max_len, dropout=config.dropout, mode="train")
    return loop_vs_flax.LoopContender(
        sample_batch, learning_rate, model=model,
        loss_layer=tl.WeightedCategoryCrossEntropy(),
        optimizer=optimizers.Adam(),
        lr_schedule=trax_compat.lr.multifactor(
            constant=learning_rate, warmup_steps=config.warmup_steps),
        name="A  trax_compat training.Loop (TransformerLM twin)")


def native_contender(config, twin):
    """B7: the program's ``train_step`` (with its dropout key) from the
    ``twin``'s initial weights."""
    import jax  # pylint: disable=g-import-not-at-top
    from models import convert_transformer  # pylint: disable=g-import-not-at-top
    from train.transformer_lm_flax import models  # pylint: disable=g-import-not-at-top
    from train.transformer_lm_flax import train  # pylint: disable=g-import-not-at-top
    params = convert_transformer.params_from_trax_weights(
        twin.loop.model.weights, models.create_model(config))["params"]
    dropout_key = jax.random.PRNGKey(config.seed)

    def train_step(state, batch):  # as the program's loop calls it
        return train.train_step(state, batch, dropout_key)

    return native_common.NativeContender(
        "B7 native Flax program (train/transformer_lm_flax train_step)",
        train_step, train.create_train_state(config, params),
        ("inputs", "targets", "weights"), progress=True,
        eval_every_steps=config.eval_every_steps)


def native_weights(native, config):
    """The native side's weights in the twin's (Trax's) layout."""
    from models import convert_transformer  # pylint: disable=g-import-not-at-top
    from train.transformer_lm_flax import models  # pylint: disable=g-import-not-at-top
    return convert_transformer.trax_flat_weights_from_params(
        {"params": native.state.params}, models.create_model(config))


def measure(args, log=print, config=None):
    """``native_common.run_row``'s dict for this program (``config``: the
    program's default unless given)."""
    from train.transformer_lm_flax.configs import default  # pylint: disable=g-import-not-at-top
    config = config or default.get_config()
    warmup, timed = make_batches(args, config)
    twin = twin_contender(warmup[0], config.learning_rate, config)
    log(f"model     : TransformerLM d_model={config.d_model} "
        f"n_layers={config.n_layers}, batches {warmup[0][0].shape}")
    return native_common.run_row(twin, native_contender(config, twin),
                                 warmup, timed, args.rounds, log=log)


def parse_args(argv=None):
    return native_common.parse_args(
        "python -m benchmarks.native_transformer_lm", __doc__, argv, QUICK,
        DEFAULT)


def main(argv=None):
    args = parse_args(argv)
    for line in common.machine_info():
        print(line)
    measure(args)


if __name__ == "__main__":
    main(sys.argv[1:])
