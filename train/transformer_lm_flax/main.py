"""python -m train.transformer_lm_flax --workdir DIR [--config.num_train_steps=300 ...]

Trains the Transformer LM natively in Flax, then prints a greedy sample."""

from absl import app
from absl import flags
from ml_collections import config_flags

from train.transformer_lm_flax.vocab import EOS_ID

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "checkpoints and metrics go here")
config_flags.DEFINE_config_file(
    "config", __file__.replace("main.py", "configs/default.py"),
    "training configuration", lock_config=True)
flags.mark_flags_as_required(["workdir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from train.transformer_lm_flax import train  # pylint: disable=g-import-not-at-top
    config = FLAGS.config
    result = train.train_and_evaluate(config, FLAGS.workdir)
    tokens = train.sample(result.model, result.state.params,
                          config.sample_length)
    ids = tokens[0].tolist()
    ids = ids[:ids.index(EOS_ID)] if EOS_ID in ids else ids  # end of text
    print(f"greedy sample: {result.vocab.decode(ids)!r}")


if __name__ == "__main__":
    app.run(main)
