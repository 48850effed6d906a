"""Reading a Trax checkpoint against ``np.load`` of the same arrays.

Usage:
    python -m benchmarks.checkpoint_read [--mb 100] [--repeats 5]

Writes a Trax Loop checkpoint of about ``--mb`` MB of float32 weights
(``model.pkl.gz`` + ``model.weights.npy.gz``, gzip level 2 as Trax writes
it; no optimizer slots) into a temporary folder, then times, alternately
and ``--repeats`` times (medians):

* ``ours``: ``trax_checkpoint.read`` (restricted unpickler, strict side-file
  reader, every array checked);
* ``np.load``: Trax's own way to read the same side file, ``np.load``
  called on the open gzip stream until it ends;
* ``np.load (uncompressed)``: ``np.load`` of the same arrays saved as one
  uncompressed ``.npy`` each (the floor: no decompression at all).

Target: ours within 2x of ``np.load`` on the same ``.npy.gz`` file.
"""

import argparse
import gzip
import os
import statistics
import tempfile
import time

import numpy as np


def make_checkpoint(directory, megabytes):
    from trax_compat import shapes  # pylint: disable=g-import-not-at-top
    from trax_compat.supervised import trax_checkpoint  # pylint: disable=g-import-not-at-top
    rng = np.random.default_rng(0)
    n = int(megabytes * 1e6 / 4)
    sizes = [n // 2, n // 4, n // 8, n - n // 2 - n // 4 - n // 8]
    arrays = [rng.standard_normal(s).astype(np.float32).reshape(-1, 64)
              if s % 64 == 0 else rng.standard_normal(s).astype(np.float32)
              for s in sizes]
    ckpt = trax_checkpoint.TraxCheckpoint(
        path=None, format="loop", flat_weights=arrays, flat_state=[],
        step=1, input_signature=(shapes.ShapeDtype((1, 64)),))
    path = os.path.join(directory, "model.pkl.gz")
    trax_checkpoint.write(ckpt, path)
    for i, a in enumerate(arrays):
        np.save(os.path.join(directory, f"w{i}.npy"), a)
    return path, len(arrays)


def read_ours(path):
    from trax_compat.supervised import trax_checkpoint  # pylint: disable=g-import-not-at-top
    return trax_checkpoint.read(path).flat_weights


def read_np_load(side_file):
    arrays = []
    with gzip.open(side_file, "rb") as f:
        while True:
            try:
                arrays.append(np.load(f, allow_pickle=False))
            except (EOFError, ValueError, OSError):
                return arrays


def read_uncompressed(directory, n):
    return [np.load(os.path.join(directory, f"w{i}.npy")) for i in range(n)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as directory:
        path, n = make_checkpoint(directory, args.mb)
        side = os.path.join(directory, "model.weights.npy.gz")
        contenders = {
            "ours": lambda: read_ours(path),
            "np.load": lambda: read_np_load(side),
            "np.load (uncompressed)": lambda: read_uncompressed(directory, n),
        }
        expected = read_np_load(side)
        for got in (read_ours(path), read_uncompressed(directory, n)):
            assert all(np.array_equal(a, b) for a, b in zip(got, expected))
        times = {name: [] for name in contenders}
        for _ in range(args.repeats):
            for name, fn in contenders.items():
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
        size = os.path.getsize(side) / 1e6
        print(f"Trax checkpoint: {args.mb:g} MB of float32 weights, "
              f"side file {size:.1f} MB (gzip level 2); medians of "
              f"{args.repeats}")
        base = statistics.median(times["np.load"])
        for name, values in times.items():
            median = statistics.median(values)
            print(f"  {name:24s} {median:7.3f} s  ({median / base:.2f}x "
                  f"np.load)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
