"""The floor under the seed tutorial's ``run(steps)``: its optimizer alone.

    python -m benchmarks.adam_floor [--steps 2000] [--repeats 3]

Trax's ``Adam`` updates every weight at every step: its moments decay even
for the embedding rows a batch did not touch, and the embedding's gradient
is a dense ``(8192, 256)`` array. So each step reads and writes the whole
table and both moments, whatever the batch. This times exactly that part of
the tutorial's train step and nothing else: ``trax_compat.optimizers.Adam
(0.01)`` applied, as the Loop applies it (``optimizers.apply_gradients``,
jitted, state donated), to the tutorial model's weights with a fixed dense
gradient, ``steps`` times in a row. No forward or backward pass, data,
evals, checkpoints or logging.

Any implementation of the tutorial that gives Trax's numbers does at least
this work per step, so ``real Trax's run(steps) / this`` bounds the speed-up
any such run can reach on the machine (``benchmarks.vs_trax`` prints that
row). The median of ``--repeats`` timings is reported, in a JSON line as
the last line of output.
"""

import argparse
import json
import statistics
import sys
import time


def tutorial_weights():
    """The seed tutorial model's weights (``benchmarks/seed_tutorial.py``)."""
    import numpy as np  # pylint: disable=g-import-not-at-top
    from trax_compat import layers as tl  # pylint: disable=g-import-not-at-top
    from trax_compat import shapes  # pylint: disable=g-import-not-at-top
    model = tl.Serial(tl.Embedding(vocab_size=8192, d_feature=256),
                      tl.Mean(axis=1), tl.Dense(2), tl.LogSoftmax())
    model.init(shapes.ShapeDtype((8, 16), np.int32))
    return model.params


def measure(steps=2000, repeats=3):
    """Seconds for ``steps`` Adam updates (median of ``repeats``)."""
    import jax  # pylint: disable=g-import-not-at-top
    from flax.training import train_state  # pylint: disable=g-import-not-at-top
    from trax_compat import optimizers  # pylint: disable=g-import-not-at-top
    params = tutorial_weights()
    # A dense gradient, as the embedding's is; its values do not change
    # the work.
    grads = jax.tree_util.tree_map(lambda w: w * 1e-3, params)
    state = train_state.TrainState.create(
        apply_fn=None, params=jax.tree_util.tree_map(lambda w: w + 0, params),
        tx=optimizers.Adam(0.01))
    update = jax.jit(optimizers.apply_gradients, donate_argnums=0)
    state = jax.block_until_ready(update(state, grads))  # Compiles.
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            state = update(state, grads)
        jax.block_until_ready(state.params)
        times.append(time.perf_counter() - start)
    n_weights = sum(w.size for w in jax.tree_util.tree_leaves(params))
    return {"steps": steps, "seconds": statistics.median(times),
            "all": times, "n_weights": int(n_weights)}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.adam_floor",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    if args.steps < 1 or args.repeats < 1:
        p.error("--steps and --repeats must be at least 1")
    result = measure(args.steps, args.repeats)
    print(f"{result['steps']} Adam updates of the tutorial's "
          f"{result['n_weights']} weights: {result['seconds']:.2f}s "
          f"({1000 * result['seconds'] / result['steps']:.2f} ms each; runs "
          f"{', '.join(f'{t:.2f}' for t in result['all'])})")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
