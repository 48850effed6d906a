"""python -m train.nmt_flax --workdir DIR [--config.num_train_steps=300 ...]

Trains the encoder-decoder Transformer natively in Flax, then prints the
greedy translation of ``config.translate``."""

from absl import app
from absl import flags
from ml_collections import config_flags

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "checkpoints and metrics go here")
config_flags.DEFINE_config_file(
    "config", __file__.replace("main.py", "configs/default.py"),
    "training configuration", lock_config=True)
flags.mark_flags_as_required(["workdir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from train.nmt_flax import train  # pylint: disable=g-import-not-at-top
    config = FLAGS.config
    result = train.train_and_evaluate(config, FLAGS.workdir)
    _, text = train.translate(result, config.translate, config.decode_length)
    print(f"greedy translation of {config.translate!r}: {text!r}")


if __name__ == "__main__":
    app.run(main)
