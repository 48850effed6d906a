"""Training steps/s of ``training.Loop`` against the number of devices.

Run from the repository root::

    python -m benchmarks.devices                   # 1, 2, 4, 8 simulated CPU devices
    python -m benchmarks.devices --devices 1,2 --steps 50 --model lm
    python -m benchmarks.devices --platform gpu    # the machine's real devices

On CPU the devices are simulated (``--xla_force_host_platform_device_count``):
they share the same cores, so more devices never make training faster.
What the table shows there is the *overhead* of splitting each batch and
all-reducing the gradients, not a speed-up. Only real accelerators
(``--platform gpu`` / ``tpu``) can show one.

The global batch is the same for every device count (``--batch``, a
multiple of each count), so every row does the same arithmetic; the model
is the tutorial's sentiment classifier (``--model seed``) or a small
``TransformerLM`` (``--model lm``). Each row first runs ``--warmup`` steps
(compilation), then times ``--steps`` steps until the weights are ready,
``--repeats`` times; the median is reported.
"""

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import time


def _parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", default="1,2,4,8",
                        help="comma-separated device counts")
    parser.add_argument("--platform", default="cpu",
                        help="cpu (simulated devices), gpu or tpu")
    parser.add_argument("--model", choices=("seed", "lm"), default="seed")
    parser.add_argument("--batch", type=int, default=64,
                        help="global batch size (same for every row)")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the rows to this file")
    return parser.parse_args(argv)


def _batches(model, batch, rng):
    import numpy as np  # pylint: disable=g-import-not-at-top
    length = 32 if model == "seed" else 64
    # A few fixed batches, cycled: the data pipeline is not timed.
    fixed = []
    for _ in range(4):
        tokens = rng.randint(1, 1000, size=(batch, length)).astype(np.int32)
        if model == "seed":
            fixed.append((tokens, rng.randint(0, 2, size=(batch,)).astype(
                np.int32), np.ones((batch,), np.float32)))
        else:
            fixed.append((tokens, tokens, np.ones(tokens.shape, np.float32)))
    i = 0
    while True:
        yield fixed[i % len(fixed)]
        i += 1


def _loop(args, n_devices):
    import numpy as np  # pylint: disable=g-import-not-at-top
    import trax_compat as trax  # pylint: disable=g-import-not-at-top
    from trax_compat import layers as tl  # pylint: disable=g-import-not-at-top
    from trax_compat import models  # pylint: disable=g-import-not-at-top
    from trax_compat.supervised import training  # pylint: disable=g-import-not-at-top
    if args.model == "seed":
        model = tl.Serial(tl.Embedding(vocab_size=1000, d_feature=256),
                          tl.Mean(axis=1), tl.Dense(2), tl.LogSoftmax())
    else:
        model = models.TransformerLM(1000, d_model=128, d_ff=256, n_layers=2,
                                     n_heads=4, max_len=64, dropout=0.1)
    task = training.TrainTask(
        _batches(args.model, args.batch, np.random.RandomState(0)),
        tl.WeightedCategoryCrossEntropy(), trax.optimizers.Adam(0.001),
        n_steps_per_checkpoint=10**9)
    with contextlib.redirect_stdout(io.StringIO()):
        return training.Loop(model, task, n_devices=n_devices,
                             random_seed=0)


def _steps_per_second(loop, args):
    import jax  # pylint: disable=g-import-not-at-top
    with contextlib.redirect_stdout(io.StringIO()):
        loop.run(args.warmup)
        jax.block_until_ready(loop.train_state.params)
        rates = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            loop.run(args.steps)
            jax.block_until_ready(loop.train_state.params)
            rates.append(args.steps / (time.perf_counter() - start))
    return statistics.median(rates)


def main(argv=None):
    args = _parse_args(argv)
    counts = [int(n) for n in args.devices.split(",")]
    if args.platform == "cpu":
        # Before JAX starts: the simulated device count is fixed then.
        os.environ["XLA_FLAGS"] = (
            os.environ.get("XLA_FLAGS", "")
            + f" --xla_force_host_platform_device_count={max(counts)}")
    os.environ["JAX_PLATFORMS"] = args.platform
    import jax  # pylint: disable=g-import-not-at-top
    for n in counts:
        if args.batch % n:
            sys.exit(f"--batch {args.batch} is not a multiple of {n} "
                     f"devices; pick a batch every count divides.")
    available = jax.local_device_count()
    if max(counts) > available:
        sys.exit(f"--devices asks for {max(counts)}, but {args.platform} has "
                 f"{available} device(s).")
    print(f"{args.platform}: {available} device(s) "
          f"({jax.devices()[0].device_kind}), {os.cpu_count()} CPU(s); "
          f"model {args.model}, global batch {args.batch}, "
          f"{args.steps} steps x {args.repeats}")
    rows = []
    for n in counts:
        rate = _steps_per_second(_loop(args, n), args)
        rows.append({"devices": n, "steps_per_s": rate,
                     "ms_per_step": 1000.0 / rate})
    base = rows[0]["steps_per_s"]
    print(f"{'devices':>7} | {'steps/s':>8} | {'ms/step':>8} | "
          f"{'vs ' + str(rows[0]['devices']):>6}")
    for row in rows:
        row["relative"] = row["steps_per_s"] / base
        print(f"{row['devices']:>7} | {row['steps_per_s']:>8.1f} | "
              f"{row['ms_per_step']:>8.2f} | {row['relative']:>6.2f}")
    if args.platform == "cpu":
        print("Simulated devices share the CPU cores: the differences are "
              "the cost of splitting batches and reducing gradients, not a "
              "speed-up.")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"platform": args.platform, "model": args.model,
                       "batch": args.batch, "rows": rows}, f, indent=1)
    return rows


if __name__ == "__main__":
    main()
