"""python -m train.deep_ngram_flax --workdir DIR --config.data_dir TEXTS
[--config.cell=lstm --config.num_train_steps=10 ...]

Trains the tutorial's character-level language model natively in Flax,
then prints a line the trained model writes."""

from absl import app
from absl import flags
from ml_collections import config_flags

import jax

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "checkpoints and metrics go here")
flags.DEFINE_string("prefix", "the ", "the text the printed sample starts with")
config_flags.DEFINE_config_file(
    "config", __file__.replace("main.py", "configs/default.py"),
    "training configuration", lock_config=True)
flags.mark_flags_as_required(["workdir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from train.deep_ngram_flax import train  # pylint: disable=g-import-not-at-top
    config = FLAGS.config
    result = train.train_and_evaluate(config, FLAGS.workdir)
    text = train.sample(result.state, FLAGS.prefix,
                        config.max_length - len(FLAGS.prefix) - 1,
                        jax.random.PRNGKey(config.seed))
    print(f"sample: {text}")


if __name__ == "__main__":
    app.run(main)
