"""Training speed of the native Flax sentiment program
(``train/sentiment_flax``) against its trax_compat twin (``training.Loop``
on the tutorial model), on the same pre-generated tutorial batches.

    python -m benchmarks.native_vs_twin [--quick] [loop_vs_flax's options]

* A: trax_compat's ``training.Loop`` (``benchmarks.loop_vs_flax``'s A).
* B7: the native program's own ``train_step`` (Trax's Adam as an optax
  transformation in a ``TrainState``, buffers donated) plus the CLU
  ``TrainMetrics`` merge its loop does every step, over the same batches
  as dicts, from the same initial weights.

Both are warmed up on every batch shape, then alternate in rounds; the
ratio native / twin of the medians is the figure (target: within 10%, i.e.
at least 0.9). Data time is excluded, as in ``loop_vs_flax``.
"""

import sys

from benchmarks import common
from benchmarks import loop_vs_flax

TARGET = 0.9


class NativeContender:
    """B7: the native program's jitted step and per-step metric merge."""

    name = "B7 native Flax program (train/sentiment_flax train_step)"

    def __init__(self, learning_rate):
        import jax  # pylint: disable=g-import-not-at-top
        from train.sentiment_flax import train  # pylint: disable=g-import-not-at-top
        from train.sentiment_flax.configs import default  # pylint: disable=g-import-not-at-top
        config = default.get_config()
        config.learning_rate = learning_rate
        self._jax = jax
        self._step = train.train_step
        self.state = train.create_train_state(config)
        self._metrics = None

    def run(self, batches):
        state, metrics, step = self.state, self._metrics, self._step
        for inputs, labels, weights in batches:
            state, step_metrics = step(state, {
                "inputs": inputs, "labels": labels, "weights": weights})
            metrics = (step_metrics if metrics is None
                       else metrics.merge(step_metrics))
        self._jax.block_until_ready(state.params)
        self.state, self._metrics = state, metrics


def measure(args, log=print):
    """Runs the rounds; returns ``loop_vs_flax.run_rounds``' dict plus
    ``native_over_twin`` and ``native_over_twin_paired``."""
    warmup, timed, vocab_desc = loop_vs_flax.make_batches(args)
    log(f"vocabulary: {vocab_desc}")
    log(f"batches   : {len(timed)} timed + {len(warmup)} warm-up")
    contenders = [loop_vs_flax.LoopContender(warmup[0], args.learning_rate),
                  NativeContender(args.learning_rate)]
    result = loop_vs_flax.run_rounds(contenders, warmup, timed, args.rounds,
                                     log=log)
    result["native_over_twin"] = 1 / result["ratio"]["B7"]
    result["native_over_twin_paired"] = 1 / result["paired"]["B7"]
    log(f"native / twin steps/s: {result['native_over_twin']:.2f} (paired "
        f"{result['native_over_twin_paired']:.2f}); target >= {TARGET}")
    return result


def main(argv=None):
    args = loop_vs_flax.parse_args(argv)
    for line in common.machine_info():
        print(line)
    measure(args)


if __name__ == "__main__":
    main(sys.argv[1:])
