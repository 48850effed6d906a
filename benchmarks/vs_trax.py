"""The seed tutorial through real Trax and through trax_compat, side by side.

    python -m benchmarks.vs_trax --trax-python PY [--vocab FILE] [--quick]
        [--steps 2000] [--rounds 3] [--json FILE]

``benchmarks/seed_tutorial.py`` (a Trax script: ``import trax``) runs in
fresh processes, alternating: under ``PY`` (a Python with real Trax, e.g.
the venv ``../shared/tools/build-real-trax.sh`` builds; never a dependency
of this project) and on trax_compat (``python -m trax_compat.run``). Both
read the same corpus (the synthetic tweets of ``train/corpus.py``: 20,000
training and 1,000 eval lines, written to a temporary folder) and the same
subword vocabulary file: ``--vocab FILE`` (e.g. Trax's ``en_8k.subword``),
by default the one ``train.sentiment --build-vocab`` builds from that
corpus.

Each round runs, in an order that alternates from round to round: real
Trax; ours with an empty compile cache (``cold``); ours again with the
cache the cold run filled (``warm``). Reported, medians over rounds: the
wall time of ``run(steps)`` (evals of 20 batches and checkpoints every
``steps / 4`` steps, as the tutorial), the time from the start of ``run``
to the first logged step (``Step      1: Ran 1 train steps``), the steps/s
of the Loop's own ``Ran N train steps in X secs`` lines after step 1, the
imports, and the whole process.

Each round also runs ``benchmarks.adam_floor`` in a fresh process: the
tutorial's optimizer alone (Trax's dense ``Adam`` over all its weights)
for ``steps`` updates. No run that gives Trax's numbers can take less, so
real Trax's ``run(steps)`` divided by it is the largest speed-up this
machine allows; the summary prints it as ``at most Nx``.

``--background-compile-off`` adds a fourth contender to each round, right
after ``ours cold``: ours with an empty cache and
``TRAX_COMPAT_BACKGROUND_COMPILE=0`` (``ours cold off``), so that the
Loop's background compilation is measured on against off in the same
rounds; the time to the end of the first eval (the last ``Step      1:
eval`` line) is reported too.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from benchmarks import common

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "seed_tutorial.py")
CONTENDERS = ("trax", "ours cold", "ours warm")
OFF = "ours cold off"
FIRST_STEP = "Step      1: Ran "
FIRST_EVAL = "Step      1: eval "


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.vs_trax",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trax-python", metavar="PY",
                   default=os.environ.get("TRAX_PYTHON"),
                   help="a Python with real Trax installed (default "
                        "$TRAX_PYTHON); without it the comparison is skipped")
    p.add_argument("--vocab", metavar="FILE",
                   help="subword vocabulary file both libraries tokenize "
                        "with (default: one built from the corpus)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: run(200), one round")
    p.add_argument("--steps", type=int, default=None,
                   help="steps of run() (default 2000; quick 200); evals and "
                        "checkpoints every steps/4")
    p.add_argument("--rounds", type=int, default=None,
                   help="alternating rounds (default 3; quick 1)")
    p.add_argument("--json", metavar="FILE", help="write all figures here")
    p.add_argument("--background-compile-off", action="store_true",
                   help="also run ours cold with the Loop's background "
                        "compilation off, in every round")
    args = p.parse_args(argv)
    if args.steps is None:
        args.steps = 200 if args.quick else 2000
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    if args.steps < 4:
        p.error("--steps must be at least 4")
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    if args.vocab and not os.path.isfile(args.vocab):
        p.error(f"--vocab {args.vocab}: no such file; pass a subword "
                f"vocabulary file such as Trax's en_8k.subword")
    return args


def trax_unavailable(python):
    """Why real Trax cannot be run with ``python`` (None if it can)."""
    if not python:
        return ("no real Trax: pass --trax-python PY (a Python with real "
                "Trax, e.g. built by ../shared/tools/build-real-trax.sh)")
    if not (os.path.isfile(python) and os.access(python, os.X_OK)):
        return f"--trax-python {python}: not an executable file"
    probe = subprocess.run(
        [python, "-c", "import importlib.util, sys; "
         "sys.exit(importlib.util.find_spec('trax') is None)"],
        capture_output=True, text=True, check=False)
    if probe.returncode:
        return f"--trax-python {python}: it has no 'trax' package"
    return None


def write_inputs(folder, vocab=None, log=print):
    """Corpus files and the vocabulary both libraries read; returns
    ``(train_path, eval_path, vocab_path)``."""
    from train import corpus  # pylint: disable=g-import-not-at-top
    train_examples, eval_examples = corpus.default_corpus()
    train_path = corpus.write_corpus(os.path.join(folder, "train.csv"),
                                     train_examples)
    eval_path = corpus.write_corpus(os.path.join(folder, "eval.csv"),
                                    eval_examples)
    if vocab:
        vocab_path = os.path.join(folder, os.path.basename(vocab))
        shutil.copyfile(vocab, vocab_path)
        log(f"vocabulary: {vocab}")
    else:
        from train import sentiment  # pylint: disable=g-import-not-at-top
        from trax_compat.data import subword  # pylint: disable=g-import-not-at-top
        vocab_path = os.path.join(folder, sentiment.BUILT_VOCAB)
        start = time.perf_counter()
        built = subword.build_subword_vocab_file(
            (t for t, _ in train_examples), sentiment.BUILT_VOCAB_TARGET,
            vocab_path)
        log(f"vocabulary: built from the corpus as train.sentiment "
            f"--build-vocab does ({built.vocab_size} ids, "
            f"{time.perf_counter() - start:.1f}s, not timed)")
    log(f"corpus: {len(train_examples)} train / {len(eval_examples)} eval "
        f"lines from train/corpus.py")
    return train_path, eval_path, vocab_path


def _child_env(cache_dir):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    # The Loop's default compile cache, in this round's folder.
    for key in ("PYTHONPATH", "TRAX_COMPAT_DEBUG", "JAX_COMPILATION_CACHE_DIR",
                "TRAX_COMPAT_COMPILATION_CACHE"):
        env.pop(key, None)
    if cache_dir is not None:
        env["TRAX_COMPAT_CACHE_DIR"] = cache_dir
    return env


def _run_child(what, cmd, env, cwd):
    """Runs ``cmd``; its completed process, or RuntimeError with its
    stderr's end when it fails."""
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                          cwd=cwd, check=False)
    if proc.returncode:
        raise RuntimeError(f"{what}: {' '.join(cmd)} failed (exit "
                           f"{proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def run_once(contender, python, inputs, out_dir, cache_dir, steps):
    """One fresh process of the tutorial; returns its figures."""
    train_path, eval_path, vocab_path = inputs
    json_path = out_dir + ".json"
    script_args = ["--train", train_path, "--eval", eval_path,
                   "--vocab", vocab_path, "--output-dir", out_dir,
                   "--steps", str(steps),
                   "--steps-per-checkpoint", str(max(1, steps // 4)),
                   "--json", json_path]
    if contender == "trax":
        cmd, env = [python, SCRIPT] + script_args, _child_env(None)
        env.pop("TRAX_COMPAT_CACHE_DIR", None)
    else:
        cmd = [sys.executable, "-m", "trax_compat.run", SCRIPT] + script_args
        env = _child_env(cache_dir)
        env["PYTHONPATH"] = common.REPO_ROOT
        env.pop("TRAX_COMPAT_BACKGROUND_COMPILE", None)
        if contender == OFF:
            env["TRAX_COMPAT_BACKGROUND_COMPILE"] = "0"
    start = time.perf_counter()
    _run_child(contender, cmd, env, os.path.dirname(out_dir))
    process_s = time.perf_counter() - start
    with open(json_path, encoding="utf-8") as f:
        r = json.load(f)
    r["process_s"] = process_s
    return summarise(r)


def floor_once(steps):
    """Seconds of ``steps`` Adam updates alone (``benchmarks.adam_floor``),
    in a fresh process."""
    env = _child_env(None)
    env["PYTHONPATH"] = common.REPO_ROOT
    env.pop("TRAX_COMPAT_CACHE_DIR", None)
    cmd = [sys.executable, "-m", "benchmarks.adam_floor", "--steps",
           str(steps), "--repeats", "1"]
    proc = _run_child("floor", cmd, env, common.REPO_ROOT)
    return json.loads(proc.stdout.strip().splitlines()[-1])["seconds"]


def summarise(r):
    """Adds ``first_log_s`` and ``log_steps_per_s`` from the stamped lines."""
    windows, first, first_eval = [], None, None
    for t, line in r.pop("lines"):
        if first is None and line.startswith(FIRST_STEP):
            first = t
        if line.startswith(FIRST_EVAL):
            first_eval = t
        if ": Ran " in line and " train steps in " in line:
            rest = line.split(": Ran ", 1)[1]
            windows.append((int(rest.split()[0]),
                            float(rest.split(" in ", 1)[1].split()[0])))
    after = windows[1:]
    r["first_log_s"] = first
    r["first_eval_s"] = first_eval
    r["log_windows"] = windows
    r["log_steps_per_s"] = (sum(n for n, _ in after)
                            / max(1e-9, sum(s for _, s in after))
                            if after else float("nan"))
    return r


def measure(args, log=print):
    """Runs the rounds; returns ``{"runs": {contender: [...]}, "median":
    {...}}``, or ``{"skipped": reason}``."""
    reason = trax_unavailable(args.trax_python)
    if reason:
        log(f"skipped: {reason}")
        return {"skipped": reason}
    contenders = CONTENDERS + ((OFF,) if getattr(
        args, "background_compile_off", False) else ())
    runs = {c: [] for c in contenders}
    floors = []
    with tempfile.TemporaryDirectory(prefix="trax_compat_vs_trax_") as tmp:
        inputs = write_inputs(tmp, args.vocab, log=log)
        for i in range(args.rounds):
            cache = os.path.join(tmp, f"cache{i}")
            # Ours cold then warm, before or after Trax, alternately.
            order = (["trax", "ours cold", "ours warm"] if i % 2 == 0
                     else ["ours cold", "ours warm", "trax"])
            if OFF in runs:  # Alternately after and before ours cold.
                at = order.index("ours cold")
                order.insert(at + 1 if i % 2 == 0 else at, OFF)
            for c in order:
                out_dir = os.path.join(tmp, f"{c.replace(' ', '_')}{i}")
                r = run_once(c, args.trax_python, inputs, out_dir,
                             cache + "_off" if c == OFF else cache,
                             args.steps)
                runs[c].append(r)
                log(describe(i + 1, c, r))
            floors.append(floor_once(args.steps))
            log(f"round {i + 1} floor    : {args.steps} Adam updates alone "
                f"{floors[-1]:.2f}s")
    med = {c: {k: common.median([r[k] for r in rs if r[k] is not None])
               for k in ("run_s", "first_log_s", "first_eval_s",
                         "log_steps_per_s", "import_s", "setup_s",
                         "process_s")}
           for c, rs in runs.items()}
    return {"steps": args.steps, "rounds": args.rounds, "runs": runs,
            "median": med, "floor_s": floors,
            "floor_median_s": common.median(floors),
            "vocab": args.vocab or "built from the corpus"}


def describe(i, contender, r):
    first = ("n/a" if r["first_log_s"] is None
             else f"{r['first_log_s']:.2f}s")
    if r.get("first_eval_s") is not None:
        first += f" (first eval done {r['first_eval_s']:.2f}s)"
    return (f"round {i} {contender:9s}: run({r['step']}) {r['run_s']:.2f}s, "
            f"first log {first}, Loop log {r['log_steps_per_s']:.0f} "
            f"steps/s; import {r['import_s']:.2f}s, setup "
            f"{r['setup_s']:.2f}s, process {r['process_s']:.1f}s "
            f"({r['library']}, jax {r['jax']} {r['backend']})")


def rows(result, prefix="6."):
    """Summary-table rows: ``[measure, ours, Trax, ratio]``."""
    if "skipped" in result:
        return [[f"{prefix} vs real Trax", "skipped", "", result["skipped"]]]
    med = result["median"]
    trax = med["trax"]
    out = []
    for c in ("ours cold", "ours warm") + ((OFF,) if OFF in med else ()):
        ours = med[c]
        tag = f"{prefix} {c} cache vs Trax:"
        out.append([f"{tag} run({result['steps']}) wall (s)",
                    f"{ours['run_s']:.1f}", f"{trax['run_s']:.1f}",
                    f"{trax['run_s'] / ours['run_s']:.1f}x faster"])
        out.append([f"{tag} to first logged step (s)",
                    f"{ours['first_log_s']:.2f}", f"{trax['first_log_s']:.2f}",
                    f"{trax['first_log_s'] / ours['first_log_s']:.1f}x"])
        if ours.get("first_eval_s") and trax.get("first_eval_s"):
            out.append([f"{tag} to first eval done (s)",
                        f"{ours['first_eval_s']:.2f}",
                        f"{trax['first_eval_s']:.2f}",
                        f"{trax['first_eval_s'] / ours['first_eval_s']:.1f}x"])
        out.append([f"{tag} Loop log steps/s after step 1",
                    f"{ours['log_steps_per_s']:.0f}",
                    f"{trax['log_steps_per_s']:.0f}",
                    f"{ours['log_steps_per_s'] / trax['log_steps_per_s']:.1f}x"])
        out.append([f"{tag} process wall (s)",
                    f"{ours['process_s']:.1f}", f"{trax['process_s']:.1f}",
                    f"{trax['process_s'] / ours['process_s']:.1f}x faster"])
    if result.get("floor_median_s"):
        floor = result["floor_median_s"]
        out.append([f"{prefix} floor: Trax's Adam alone, {result['steps']} "
                    f"updates (s)", f"{floor:.1f}", f"{trax['run_s']:.1f}",
                    f"at most {trax['run_s'] / floor:.1f}x"])
    out.append([f"{prefix} import trax (in the script, s)",
                f"{med['ours cold']['import_s']:.2f}",
                f"{trax['import_s']:.2f}",
                f"{trax['import_s'] / med['ours cold']['import_s']:.0f}x "
                f"faster"])
    return out


def main(argv=None):
    args = parse_args(argv)
    for line in common.machine_info():
        print(line)
    result = measure(args)
    print(common.format_table(["measure (medians)", "ours", "real Trax",
                               "ratio"], rows(result)))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
