"""All benchmarks, one table: ``python -m benchmarks [--quick] [sections]``.

Sections (all by default; name some to run only those):

  --loop      training.Loop vs a hand-written jitted Flax/optax loop on the
              same pre-generated tutorial batches (benchmarks.loop_vs_flax)
  --job       the main job, train.sentiment.main, run(2000) with 5 evals and
              5 checkpoints, in a fresh process: twice, then run() once more
              on the same Loop (benchmarks.main_job), against real Trax
  --pipeline  input pipeline throughput, text to batches
              (benchmarks.pipeline_speed); the main job's rows also give the
              time the Loop's training stream spends producing batches and
              the time training waited for them
  --imports   import time in fresh processes (benchmarks.import_time)
  --models    2-layer LSTM and CausalAttention language models in the Loop
              vs hand-written Flax twins (benchmarks.models_vs_flax)
  --native    each native Flax program's training step (train/sentiment_flax,
              imdb_flax, fashion_mnist_flax, earlystopping_flax,
              deep_ngram_flax, transformer_lm_flax) vs its
              trax_compat twin, the Loop (benchmarks.native_vs_twin)
  --vs-trax   the seed tutorial through real Trax (--trax-python PY) and
              through trax_compat, fresh processes, alternating, compile
              cache cold and warm (benchmarks.vs_trax); skipped, with the
              reason, without a Python that has real Trax
  --data      trax.data pipelines (the tutorial's, from text and from a local
              TFDS dataset) against real Trax run in a child process with
              --trax-python PY (benchmarks.data_speed)

Every figure in the table is measured in this run, except the real-Trax
column of sections 2 and 4, which quotes the project brief's figures (the
"Trax reference" line says so; --vs-trax measures real Trax instead).
Ratios compare contenders measured alternately on the same machine
(medians). See
benchmarks/README.md for what each row means and the targets.
"""

import argparse
import json
import os
import subprocess
import sys
import time

from benchmarks import common

# Real Trax on the tutorial (20k-tweet corpus, CPU), figures given by the
# project's brief (the owner's measurements of trax 1.x on a 2-core VM):
# run(2000) with evals/checkpoints every 500 steps takes 40-46 s (Loop log
# about 52 steps/s), and `import trax` about 20 s.
TRAX_RUN2000_S = (40.0, 46.0)
TRAX_RUN2000_MID_S = 43.0
TRAX_STEPS_PER_S = 52.0
TRAX_IMPORT_S = 20.0
TRAX_SOURCE = ("project brief: real Trax, tutorial on a 20k-tweet corpus, "
               "run(2000) 40-46 s, ~52 steps/s, import trax ~20 s")

TARGET_LOOP_RATIO = 0.9
TARGET_JOB_SPEEDUP = 8.0
TARGET_IMPORT_RATIO = 1.5
# Issue targets for the side-by-side run against real Trax (section 7).
TARGET_TRAX_WARM = 8.0
TARGET_TRAX_COLD = 5.0

TARGET_DATA_SPEEDUP = 3.0

SECTIONS = ("loop", "job", "pipeline", "imports", "models", "native",
            "vs_trax", "data")


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="smoke run: everything smaller (under a minute)")
    for name in SECTIONS:
        p.add_argument(f"--{name.replace('_', '-')}", action="store_true",
                       dest=name,
                       help=f"run the {name} section (default: all)")
    p.add_argument("--job-steps", type=int, default=None,
                   help="steps of the main job's run() (default 2000; "
                        "quick 200); evals/checkpoints every steps/4")
    p.add_argument("--import-repeats", type=int, default=None,
                   help="fresh processes per import contender (default 5; "
                        "quick 2)")
    p.add_argument("--trax-python", metavar="PY",
                   default=os.environ.get("TRAX_PYTHON"),
                   help="a Python with real Trax for the vs-trax and data "
                        "sections (default $TRAX_PYTHON; without it, their "
                        "Trax columns are skipped)")
    p.add_argument("--vocab", metavar="FILE",
                   help="subword vocabulary for the vs-trax section (e.g. "
                        "Trax's en_8k.subword; default: built from the "
                        "corpus)")
    p.add_argument("--json", metavar="FILE",
                   help="also write all results to FILE as JSON")
    args = p.parse_args(argv)
    chosen = [n for n in SECTIONS if getattr(args, n)]
    args.sections = chosen or list(SECTIONS)
    if args.job_steps is None:
        args.job_steps = 200 if args.quick else 2000
    if args.job_steps < 4:
        p.error("--job-steps must be at least 4")
    if args.import_repeats is None:
        args.import_repeats = 2 if args.quick else 5
    return args


def _heading(title):
    print()
    print(f"== {title} " + "=" * max(0, 74 - len(title)))


def _indent(line):
    print("   " + line if line else "")


def section_loop(args):
    from benchmarks import loop_vs_flax  # pylint: disable=g-import-not-at-top
    _heading("1. training.Loop vs hand-written Flax/optax (same batches)")
    lf_args = loop_vs_flax.parse_args(["--quick"] if args.quick else [])
    return loop_vs_flax.measure(lf_args, log=_indent)


def section_job(args):
    _heading(f"2. main job: train.sentiment.main, run({args.job_steps}), "
             f"fresh process")
    steps = args.job_steps
    cmd = [sys.executable, "-m", "benchmarks.main_job", "--json",
           "--steps", str(steps), "--steps-per-checkpoint", str(steps // 4)]
    if args.quick:
        cmd += ["--runs", "1"]
    env = dict(os.environ)
    env["PYTHONPATH"] = common.REPO_ROOT + (
        os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                          cwd=common.REPO_ROOT, check=False)
    for line in proc.stderr.splitlines():
        _indent(line)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {proc.returncode})")
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    _indent(f"(child process {time.perf_counter() - start:.1f}s in all)")
    return results


def section_pipeline(args):
    from benchmarks import pipeline_speed  # pylint: disable=g-import-not-at-top
    _heading("3. input pipeline throughput (synthetic corpus, built vocab)")
    return pipeline_speed.measure(500 if args.quick else 3000,
                                  1 if args.quick else 3, log=_indent)


def section_imports(args):
    from benchmarks import import_time  # pylint: disable=g-import-not-at-top
    _heading("4. import time, fresh processes")
    contenders = (import_time.CONTENDERS[:3] if args.quick
                  else import_time.CONTENDERS)
    return import_time.measure(args.import_repeats, contenders, log=_indent)


def section_models(args):
    from benchmarks import models_vs_flax  # pylint: disable=g-import-not-at-top
    _heading("5. language models: training.Loop vs hand-written Flax twins")
    mv_args = models_vs_flax.parse_args(["--quick"] if args.quick else [])
    return models_vs_flax.measure(mv_args, log=_indent)


def section_native(args):
    from benchmarks import native_vs_twin  # pylint: disable=g-import-not-at-top
    _heading("6. native Flax programs vs their trax_compat twins")
    return native_vs_twin.measure_all(args.quick, log=_indent)


def section_vs_trax(args):
    from benchmarks import vs_trax  # pylint: disable=g-import-not-at-top
    _heading("7. the seed tutorial: real Trax vs trax_compat, fresh processes")
    vt_argv = ["--quick"] if args.quick else []
    if args.trax_python:
        vt_argv += ["--trax-python", args.trax_python]
    if args.vocab:
        vt_argv += ["--vocab", args.vocab]
    vt_argv += ["--steps", str(args.job_steps)]
    return vs_trax.measure(vs_trax.parse_args(vt_argv), log=_indent)


def section_data(args):
    from benchmarks import data_speed  # pylint: disable=g-import-not-at-top
    _heading("8. trax.data pipelines vs real Trax (examples/s read)")
    cfg = dict(data_speed.QUICK if args.quick else data_speed.DEFAULTS)
    return data_speed.run(cfg, args.trax_python, log=_indent)


def _loop_rows(prefix, loop):
    """Rows of one ``loop_vs_flax.run_rounds`` result: ``A / Bx`` for each
    plain baseline, then the other pairs (``A2/B5``: with a schedule; ``A3/A``:
    user-written layers)."""
    rows = []
    names = loop["names"]
    med = loop["medians"]
    by_short = {full.split()[0]: full for full in names}
    for key in loop["ratio"]:
        a, _, b = key.rpartition("/")
        a = a or "A"
        label = (f"{prefix} / {by_short[b][3:].strip()}" if a == "A" else
                 f"{prefix}: {a} / {b}")
        rows.append([
            f"{label} (steps/s)",
            f"{med[by_short[a]]:.0f}", f"{med[by_short[b]]:.0f}",
            f"{loop['ratio'][key]:.2f} (paired "
            f"{loop['paired'][key]:.2f})",
            f">= {TARGET_LOOP_RATIO}",
            _ok(loop["paired"][key], TARGET_LOOP_RATIO)])
    return rows


def _steps_per_s(rate):
    # Whole steps/s, but two decimals under 10 (the recurrent LM's steps
    # take about a second on a CPU).
    return f"{rate:.0f}" if rate >= 10 else f"{rate:.2f}"


def _native_rows(native):
    """One row per native program of section 6 (``{row: result}``): its
    median steps/s, its twin's, and native / twin."""
    from benchmarks import native_vs_twin  # pylint: disable=g-import-not-at-top
    rows = []
    for name, result in (native or {}).items():
        names, med = result["names"], result["medians"]
        folder = native_vs_twin.ROWS[name][1]
        rows.append([
            f"6. native {folder} / trax_compat twin (steps/s)",
            _steps_per_s(med[names[1]]), _steps_per_s(med[names[0]]),
            f"{result['native_over_twin']:.2f} (paired "
            f"{result['native_over_twin_paired']:.2f})",
            f">= {native_vs_twin.TARGET}",
            _ok(result["native_over_twin_paired"], native_vs_twin.TARGET)])
    return rows


def _ok(value, target, higher_is_better=True):
    if value is None or value != value:  # None or NaN
        return "?"
    good = value >= target if higher_is_better else value <= target
    return "yes" if good else "NO"


def summary_rows(args, res):
    rows = []
    loop = res.get("loop")
    if loop:
        rows += _loop_rows("1. Loop", loop)
    job = res.get("job")
    if job:
        scale = args.job_steps / 2000
        trax_s = TRAX_RUN2000_MID_S * scale
        for r in job["runs"]:
            tag = f"2. {r['label']}:"
            rows.append([
                f"{tag} run({r['n_steps']}) wall (s)",
                f"{r['run_s']:.1f}", f"{trax_s:.1f}",
                f"{trax_s / r['run_s']:.1f}x faster",
                f">= {TARGET_JOB_SPEEDUP:.0f}x",
                _ok(trax_s / r["run_s"], TARGET_JOB_SPEEDUP)])
            rows.append([
                f"{tag} steps/s end to end | Loop log",
                f"{r['steps_per_s']:.0f} | {r['log_steps_per_s']:.0f}",
                f"{TRAX_STEPS_PER_S:.0f}",
                f"{r['log_steps_per_s'] / TRAX_STEPS_PER_S:.1f}x (log)",
                "", ""])
            first = r["first_log_s"]
            rows.append([
                f"{tag} to first log line | block end (s)",
                "n/a" if first is None else
                f"{first:.2f} | {r['step1_block_s']:.2f}",
                "", "", "", ""])
            c = r["compiles"]
            rows.append([
                f"{tag} XLA compiles | evals | ckpt saves (s)",
                f"{c['n_compiles']} in {c['compile_s']:.1f} | "
                f"{sum(r['evals_s']):.2f} | {sum(r['saves_s']):.2f}",
                "", "", "", ""])
    pipe = res.get("pipeline")
    if pipe:
        whole = pipe["whole pipeline (to AddLossWeights)"]
        loop_rate = None
        if job:
            loop_rate = job["runs"][-1]["steps_per_s"]
        rows.append([
            "3. pipeline text->AddLossWeights (examples/s)",
            f"{whole['examples_per_s']:.0f}", "", "", "", ""])
        rows.append([
            "3. pipeline batches/s | vs Loop steps/s",
            f"{whole['items_per_s']:.0f}",
            "" if loop_rate is None else f"{loop_rate:.0f}",
            "" if loop_rate is None else
            f"{whole['items_per_s'] / loop_rate:.0f}x headroom", "", ""])
    if job:
        for r in job["runs"]:
            tp = r.get("train_producer")
            if tp:
                w = r["consumer_wait_s"]
                rows.append([
                    f"3. {r['label']}: stream __next__ total | max",
                    f"{tp['seconds']:.2f}s "
                    f"({100 * tp['seconds'] / r['run_s']:.1f}%) | "
                    f"{1000 * tp['max_seconds']:.0f}ms",
                    "", "", "", ""])
                rows.append([
                    f"3. {r['label']}: training waited for data",
                    "not exposed" if w is None else
                    f"{w:.2f}s ({100 * w / r['run_s']:.1f}%)",
                    "", "", "", ""])
    imp = res.get("imports")
    if imp:
        base = imp["baseline"]
        for name, v in imp.items():
            if name == "baseline":
                continue
            rows.append([
                f"4. {name} / import jax, flax.linen, optax",
                f"{v['seconds']:.2f}s", f"{base['seconds']:.2f}s",
                f"{v['ratio']:.2f}", f"<= {TARGET_IMPORT_RATIO}",
                _ok(v["ratio"], TARGET_IMPORT_RATIO, higher_is_better=False)])
        tut = imp.get("tutorial imports")
        if tut:
            rows.append([
                "4. tutorial imports vs import trax",
                f"{tut['seconds']:.2f}s", f"{TRAX_IMPORT_S:.0f}s",
                f"{TRAX_IMPORT_S / tut['seconds']:.0f}x faster", "", ""])
    data = res.get("data")
    for r in (data or {}).get("rows", ()):
        trax_rate = r["trax"]
        # text-cycled is informational (Tokenize's memo serves repeats).
        target = r.get("target", TARGET_DATA_SPEEDUP)
        rows.append([
            f"8. data: {r['pipeline']} pipeline (examples/s)",
            f"{r['ours']:.0f}",
            "skipped" if trax_rate is None else f"{trax_rate:.0f}",
            "" if trax_rate is None else f"{r['speedup']:.1f}x",
            "" if target is None else f">= {target:.0f}x",
            "" if target is None else _ok(r["speedup"], target)])
        if r.get("cpu_us") is not None:
            trax_cpu = r.get("trax_cpu_us")
            rows.append([
                f"8. data: {r['pipeline']} CPU per example (us)",
                f"{r['cpu_us']:.1f}",
                "skipped" if trax_cpu is None else f"{trax_cpu:.1f}",
                "" if trax_cpu is None else
                f"{trax_cpu / r['cpu_us']:.1f}x less", "", ""])
    for kind, result in (res.get("models") or {}).items():
        rows += _loop_rows(f"5. {kind} Loop", result)
        rows.append([f"5. {kind}: XLA compiles during timing",
                     str(result["compiles_during_timing"]), "", "", "0",
                     _ok(-result["compiles_during_timing"], 0)])
    rows += _native_rows(res.get("native"))
    vt = res.get("vs_trax")
    if vt:
        from benchmarks import vs_trax  # pylint: disable=g-import-not-at-top
        for row in vs_trax.rows(vt, prefix="7."):
            target, met = "", ""
            if row[0].endswith("wall (s)") and "run(" in row[0]:
                target = (TARGET_TRAX_WARM if "warm" in row[0]
                          else TARGET_TRAX_COLD)
                met = _ok(float(row[2]) / float(row[1]), target)
                target = f">= {target:.0f}x"
            rows.append(row + [target, met])
    return rows


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    print("python -m benchmarks" + (" " + " ".join(argv if argv is not None
                                                     else sys.argv[1:])
                                    if (argv or sys.argv[1:]) else ""))
    for line in common.machine_info():
        print(line)
    runners = {"loop": section_loop, "job": section_job,
               "pipeline": section_pipeline, "imports": section_imports,
               "models": section_models, "native": section_native,
               "vs_trax": section_vs_trax, "data": section_data}
    results = {}
    for name in args.sections:
        results[name] = runners[name](args)

    _heading("summary (all measured in this run)")
    import jax  # pylint: disable=g-import-not-at-top
    print(f"machine: {common.cpu_model()}, {common.usable_cpus()} usable "
          f"CPUs (os.cpu_count() {os.cpu_count()}); jax {jax.__version__}, "
          f"backend {jax.default_backend()}, device {jax.devices()[0]}")
    if "job" in results:
        print(f"Trax reference: {TRAX_SOURCE}"
              + (f"; scaled to run({args.job_steps})"
                 if args.job_steps != 2000 else ""))
    print(common.format_table(
        ["measure", "ours", "reference", "ratio", "target", "met"],
        summary_rows(args, results)))
    print(f"total {time.perf_counter() - start:.0f}s")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
