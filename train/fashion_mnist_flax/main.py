"""python -m train.fashion_mnist_flax --workdir DIR [--config.num_train_steps=100 ...]

Trains the Fashion-MNIST tutorial's CNN natively in Flax and prints the
last evaluation's loss and accuracy."""

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
    from train.fashion_mnist_flax import train  # pylint: disable=g-import-not-at-top
    result = train.train_and_evaluate(FLAGS.config, FLAGS.workdir)
    evals = [(step, scalars) for step, scalars in sorted(result.history.items())
             if "eval_loss" in scalars]
    if evals:
        step, scalars = evals[-1]
        print(f"step {step}: eval loss {scalars['eval_loss']:.6f}, "
              f"accuracy {scalars['eval_accuracy']:.6f}")


if __name__ == "__main__":
    app.run(main)
