"""Import time of trax_compat against its dependencies, in fresh processes.

    python -m benchmarks.import_time [--repeats 5]

Each contender is a Python statement run in a new interpreter
(``python -c``), which reports the seconds the statement took
(``time.perf_counter`` around it, so interpreter start-up is excluded; the
process's whole wall time is also recorded). Contenders alternate, the
order rotating each repeat, after one unrecorded warm-up round (fills the
OS file cache and writes the bytecode of trax_compat's modules, as a user's
first import does, even where ``PYTHONDONTWRITEBYTECODE`` is set: the
installed dependencies already have theirs). Medians are reported, with
ratios to the baseline ``import jax, flax.linen, optax``.
"""

import argparse
import os
import subprocess
import sys
import time

from benchmarks import common

BASELINE = "baseline"
CONTENDERS = [
    (BASELINE, "import jax, flax.linen, optax"),
    ("import trax_compat", "import trax_compat"),
    ("tutorial imports",
     "import trax_compat; from trax_compat.supervised import training; "
     "from trax_compat import layers"),
    ("tutorial + data, optimizers",
     "import trax_compat; from trax_compat.supervised import training; "
     "from trax_compat import layers, data, optimizers"),
]

_CHILD = ("import time; _t = time.perf_counter(); exec({stmt!r}); "
          "print(time.perf_counter() - _t)")


def time_import(stmt, write_bytecode=False):
    """(seconds inside the child, wall seconds of the child process)."""
    env = dict(os.environ)
    if write_bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = common.REPO_ROOT + (
        os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _CHILD.format(stmt=stmt)],
                          capture_output=True, text=True, env=env,
                          cwd=common.REPO_ROOT, check=False)
    wall = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(f"{stmt!r} failed:\n{proc.stderr[-2000:]}")
    return float(proc.stdout.strip().splitlines()[-1]), wall


def measure(repeats=5, contenders=None, log=print):
    contenders = contenders or CONTENDERS
    for _, stmt in contenders:  # warm-up, not recorded
        time_import(stmt, write_bytecode=True)
    inside = {name: [] for name, _ in contenders}
    walls = {name: [] for name, _ in contenders}
    for r in range(repeats):
        k = r % len(contenders)
        for name, stmt in contenders[k:] + contenders[:k]:
            seconds, wall = time_import(stmt)
            inside[name].append(seconds)
            walls[name].append(wall)
    base = common.median(inside[BASELINE])
    results = {}
    for name, stmt in contenders:
        med = common.median(inside[name])
        results[name] = {"stmt": stmt, "seconds": med,
                         "process_wall": common.median(walls[name]),
                         "all": inside[name], "ratio": med / base}
        log(f"{name:<28}: {med:6.3f}s (process {results[name]['process_wall']:.2f}s; "
            f"runs {', '.join(f'{x:.2f}' for x in inside[name])}) "
            f"= {med / base:.2f} x baseline   [{stmt}]")
    return results


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.import_time",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    measure(args.repeats)


if __name__ == "__main__":
    main()
