"""python -m train.imdb_flax --workdir DIR [--config.num_train_steps=300 ...]

Trains the intro's IMDB classifier natively in Flax, then prints the
notebook's example prediction on the next eval batch."""

from absl import app
from absl import flags
from ml_collections import config_flags

import numpy as np

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "checkpoints and metrics go here")
config_flags.DEFINE_config_file(
    "config", __file__.replace("main.py", "configs/default.py"),
    "training configuration", lock_config=True)
flags.mark_flags_as_required(["workdir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from train.imdb_flax import input_pipeline  # pylint: disable=g-import-not-at-top
    from train.imdb_flax import train  # pylint: disable=g-import-not-at-top
    config = FLAGS.config
    result = train.train_and_evaluate(config, FLAGS.workdir)
    example_input = next(result.eval_iter)["inputs"][0]
    print(f"example input_str: "
          f"{input_pipeline.detokenize(example_input, config)}")
    probs = train.predict(result.state, example_input[None, :])
    print(f"Model returned sentiment probabilities: {np.asarray(probs)}")


if __name__ == "__main__":
    app.run(main)
