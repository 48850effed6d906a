"""Records real Trax's small ``trax.supervised.training`` helpers.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_training_helpers.py tests/testdata

It writes into ``OUT/trax_oracle/training_helpers/``:

* ``plain.pkl`` and ``zipped.pkl.gz``: ``pickle_to_file(OBJ, path)`` and
  ``pickle_to_file(OBJ, path, gzip=True)`` of the object ``OBJ`` below
  (NumPy arrays, a ``trax.shapes.ShapeDtype``, nested containers);
* ``helpers.json``: ``OBJ``'s description and what
  ``init_host_and_devices(None, 3)`` and ``init_host_and_devices(1, 11)``
  returned (chief, host count, devices, the key), with the next draws of
  Python's and NumPy's global generators after each.
"""

import argparse
import pathlib
import random
import sys

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=pathlib.Path)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    import oracle_common  # pylint: disable=import-outside-toplevel
    from trax import shapes  # pylint: disable=import-outside-toplevel
    from trax.supervised import training  # pylint: disable=import-outside-toplevel
    folder = args.out / "trax_oracle" / "training_helpers"
    folder.mkdir(parents=True, exist_ok=True)
    obj = {"weights": (np.arange(6, dtype=np.float32).reshape(2, 3),
                       [np.int32(7), None]),
           "signature": shapes.ShapeDtype((2, 3), np.float32),
           "step": 12, "name": "model"}
    training.pickle_to_file(obj, str(folder / "plain.pkl"))
    training.pickle_to_file(obj, str(folder / "zipped.pkl.gz"), gzip=True)
    inits = {}
    for n_devices, seed in ((None, 3), (1, 11)):
        is_chief, hosts, devices, rng = training.init_host_and_devices(
            n_devices, seed)
        inits[f"{n_devices}/{seed}"] = {
            "is_chief": bool(is_chief), "host_count": int(hosts),
            "n_devices": int(devices), "rng": np.asarray(rng).tolist(),
            "next_python_random": random.random(),
            "next_numpy_rand": float(np.random.rand())}
    oracle_common.write_json(folder / "helpers.json", {
        "env": oracle_common.env("generate_training_helpers.py"),
        "object": repr(obj), "init_host_and_devices": inits})


if __name__ == "__main__":
    main()
