"""The main job with the Loop's background compilation on and off.

    python -m benchmarks.background_compile_ab [--steps 2000] [--rounds 3]

Each round runs ``python -m benchmarks.main_job --runs 1 --no-continue``
(``train.sentiment.main``: pipeline from text, ``run(steps)`` with evals of
20 batches and checkpoints every ``steps / 4`` steps, cold compile cache)
twice in fresh processes, ``TRAX_COMPAT_BACKGROUND_COMPILE`` on and off,
in an order that alternates from round to round. Reported, medians over
rounds: XLA compilations during ``run`` in the training thread (the
critical path) and in all, their seconds, the time from the start of
``run`` to its first logged step and to the end of step 1's block (its
eval included), and the wall time of ``run``.
"""

import argparse
import json
import os
import subprocess
import sys

from benchmarks import common

SETTINGS = (("on", "1"), ("off", "0"))


def run_once(setting, steps):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
               TRAX_COMPAT_BACKGROUND_COMPILE=setting,
               PYTHONPATH=common.REPO_ROOT)
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.main_job", "--steps", str(steps),
         "--steps-per-checkpoint", str(max(1, steps // 4)), "--runs", "1",
         "--no-continue", "--json"],
        capture_output=True, text=True, env=env, cwd=common.REPO_ROOT,
        check=False)
    if proc.returncode:
        raise RuntimeError(f"main_job failed:\n{proc.stderr[-3000:]}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])["runs"][0]
    c = r["compiles"]
    return {"run_s": r["run_s"], "first_log_s": r["first_log_s"],
            "step1_block_s": r["step1_block_s"],
            "n_compiles": c["n_compiles"], "compile_s": c["compile_s"],
            "n_main": c.get("n_main", c["n_compiles"]),
            "main_compile_s": c.get("main_compile_s", c["compile_s"]),
            "load": os.getloadavg()[0]}


def describe(i, name, r):
    return (f"round {i} {name:3s}: run {r['run_s']:.2f}s, first log "
            f"{r['first_log_s']:.2f}s, step 1 block (eval) done "
            f"{r['step1_block_s']:.2f}s; compiles in the training thread "
            f"{r['n_main']} ({r['main_compile_s']:.2f}s) of "
            f"{r['n_compiles']} ({r['compile_s']:.2f}s); load average "
            f"{r['load']:.1f}")


def measure(steps, rounds, log=print):
    runs = {name: [] for name, _ in SETTINGS}
    for i in range(rounds):
        order = SETTINGS if i % 2 == 0 else SETTINGS[::-1]
        for name, setting in order:
            r = run_once(setting, steps)
            runs[name].append(r)
            log(describe(i + 1, name, r))
    keys = ("run_s", "first_log_s", "step1_block_s", "n_main",
            "main_compile_s", "n_compiles", "compile_s", "load")
    med = {name: {k: common.median(r[k] for r in rs) for k in keys}
           for name, rs in runs.items()}
    return {"steps": steps, "rounds": rounds, "runs": runs, "median": med}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.background_compile_ab",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json", metavar="FILE")
    args = p.parse_args(argv)
    for line in common.machine_info():
        print(line)
    result = measure(args.steps, args.rounds)
    med = result["median"]
    rows = [[k, f"{med['on'][k]:.2f}", f"{med['off'][k]:.2f}"]
            for k in med["on"]]
    print(common.format_table([f"medians of {args.rounds} rounds", "on",
                               "off"], rows))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
