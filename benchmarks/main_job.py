"""The main job as it runs: ``train.sentiment.main`` end to end, timed.

Run from the repository root::

    python -m benchmarks.main_job                 # run(2000), twice
    python -m benchmarks.main_job --steps 200 --steps-per-checkpoint 50

``train.sentiment.main`` is called as the command line calls it (pipeline
from text over the synthetic corpus, evals of 20 batches and Orbax
checkpoints every ``--steps-per-checkpoint`` steps into a fresh temporary
``--output-dir``), ``--runs`` times in this one process. The first run pays
for tracing and XLA compilation, later ones show what is left once JAX's
caches are warm. Nothing in the project is changed: ``training.Loop``,
``TrainTask`` and ``EvalTask`` are replaced, for the duration of the call,
by subclasses that time ``run``, ``run_evals``, ``save_checkpoint`` and the
checkpointer's final wait, and wrap each task's stream in a pass-through
iterator that times every ``__next__`` (the cost of producing a batch, in
whatever thread pulls it). stdout goes to a writer that timestamps lines,
which gives the time from the start of ``run`` to the step-1 log block.

The vocabulary is not part of the timing: it is built once from the
synthetic corpus (as ``train.sentiment`` does when ``en_8k.subword`` is
not available) and copied into each run's output dir, where the job finds
and reuses it. The vocabulary cache is pointed at an empty temporary folder
so that every machine tokenizes with the same built vocabulary.

``--json`` prints one JSON object (used by ``python -m benchmarks``, which
runs this module in a fresh process so the first run starts as cold as the
real job, apart from ``import``).
"""

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time

from benchmarks import common

STEP1_PREFIX = "Step      1:"


class TimedIterator:
    """Pass-through iterator that times each ``__next__`` of ``it``."""

    def __init__(self, it):
        self._it = iter(it)
        self.calls = 0
        self.seconds = 0.0
        self.max_seconds = 0.0
        self.examples = 0  # Rows of the batches' first array.

    def __iter__(self):
        return self

    def __next__(self):
        start = time.perf_counter()
        try:
            item = next(self._it)
        finally:
            elapsed = time.perf_counter() - start
            self.calls += 1
            self.seconds += elapsed
            self.max_seconds = max(self.max_seconds, elapsed)
        try:
            self.examples += len(item[0])
        except (TypeError, IndexError):
            pass
        return item

    def snapshot(self):
        return {"calls": self.calls, "seconds": self.seconds,
                "examples": self.examples}

    def reset_max(self):
        self.max_seconds = 0.0


def _instrumented_classes(training, record, compile_log):
    """Subclasses of training's Loop/TrainTask/EvalTask recording into
    ``record`` (a dict)."""

    class TimedTrainTask(training.TrainTask):
        def __init__(self, labeled_data, *args, **kwargs):
            record["train_stream"] = TimedIterator(labeled_data)
            super().__init__(record["train_stream"], *args, **kwargs)

    class TimedEvalTask(training.EvalTask):
        def __init__(self, labeled_data, *args, **kwargs):
            record["eval_stream"] = TimedIterator(labeled_data)
            super().__init__(record["eval_stream"], *args, **kwargs)

    class TimedLoop(training.Loop):
        def __init__(self, *args, **kwargs):
            start = time.perf_counter()
            mark = compile_log.mark()
            super().__init__(*args, **kwargs)
            record["construct_s"] = time.perf_counter() - start
            record["construct_compiles"] = compile_log.since(mark)
            checkpointer = getattr(self, "_checkpointer", None)
            if checkpointer is not None and hasattr(checkpointer, "wait"):
                wait = checkpointer.wait

                def timed_wait(*a, **k):
                    t = time.perf_counter()
                    try:
                        return wait(*a, **k)
                    finally:
                        record["ckpt_wait_s"] += time.perf_counter() - t
                checkpointer.wait = timed_wait

        def run(self, n_steps=1):
            streams = [record.get("train_stream"), record.get("eval_stream")]
            before = [s.snapshot() if s else None for s in streams]
            for s in streams:
                if s:
                    s.reset_max()
            wait0 = getattr(self, "data_wait_seconds", None)
            mark = compile_log.mark()
            record["run_start"] = time.perf_counter()
            try:
                return super().run(n_steps)
            finally:
                record["run_end"] = time.perf_counter()
                record["run_compiles"] = compile_log.since(mark)
                wait1 = getattr(self, "data_wait_seconds", None)
                record["consumer_wait_s"] = (
                    None if wait0 is None or wait1 is None
                    else float(wait1) - float(wait0))
                for key, s, b in zip(("train", "eval"), streams, before):
                    if s:
                        a = s.snapshot()
                        record[f"{key}_producer"] = {
                            k: a[k] - b[k] for k in a}
                        record[f"{key}_producer"]["max_seconds"] = (
                            s.max_seconds)

        def _open_summary_writers(self, *args, **kwargs):
            start = time.perf_counter()
            try:
                return super()._open_summary_writers(*args, **kwargs)
            finally:
                record["writers_s"] = time.perf_counter() - start

        def run_evals(self, *args, **kwargs):
            start = time.perf_counter()
            try:
                return super().run_evals(*args, **kwargs)
            finally:
                record["evals"].append(time.perf_counter() - start)

        def close(self):
            # train.sentiment.main closes its Loop; the last one stays open
            # for continue_run, which closes it.
            if not record.get("keep_open"):
                super().close()

        def close_now(self):
            super().close()

        def save_checkpoint(self, *args, **kwargs):
            start = time.perf_counter()
            try:
                return super().save_checkpoint(*args, **kwargs)
            finally:
                record["saves"].append(time.perf_counter() - start)

    return TimedLoop, TimedTrainTask, TimedEvalTask


def _parse_log(writer, run_start, first_prefix):
    """Figures from the Loop's own 'Ran N train steps in X secs' lines."""
    windows = []
    for _, line in writer.lines:
        if ": Ran " in line and " train steps in " in line:
            rest = line.split(": Ran ", 1)[1]
            n = int(rest.split()[0])
            secs = float(rest.split(" in ", 1)[1].split()[0])
            windows.append((n, secs))
    first = writer.first(lambda l: l.startswith(first_prefix), run_start)
    if first is None:
        return windows, None, None
    # The end of that first block: its last line before a blank line.
    last = first
    for t, line in writer.lines:
        if t < first:
            continue
        if not line.strip():
            break
        last = t
    return windows, first, last
    return windows, first, last


def one_run(argv, vocab_path, output_dir, compile_log, keep_open=False):
    """Runs ``train.sentiment.main(argv + output dir)``; returns
    ``(figures, loop, record)``."""
    from train import sentiment  # pylint: disable=g-import-not-at-top
    from trax_compat.supervised import training  # pylint: disable=g-import-not-at-top
    built = os.path.join(output_dir, "vocab", sentiment.BUILT_VOCAB)
    os.makedirs(os.path.dirname(built), exist_ok=True)
    shutil.copyfile(vocab_path, built)

    record = _new_record()
    record["keep_open"] = keep_open
    originals = (training.Loop, training.TrainTask, training.EvalTask)
    (training.Loop, training.TrainTask,
     training.EvalTask) = _instrumented_classes(training, record, compile_log)
    writer = common.StampedWriter()
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(writer):
            loop = sentiment.main(list(argv) + ["--output-dir", output_dir])
    finally:
        (training.Loop, training.TrainTask, training.EvalTask) = originals
    total = time.perf_counter() - start
    if "run_start" not in record:
        raise RuntimeError("train.sentiment.main did not call Loop.run:\n"
                           + writer.text()[-2000:])
    out = _summarise(record, writer, STEP1_PREFIX)
    out["main_s"] = total
    out["construct_s"] = record["construct_s"]
    out["construct_compiles"] = record["construct_compiles"]
    return out, loop, record


def continue_run(loop, record, n_steps):
    """``loop.run(n_steps)`` again on a Loop from ``one_run``: the same
    jitted functions, so nothing left to compile."""
    streams = {k: record[k] for k in ("train_stream", "eval_stream")
               if k in record}
    record.clear()
    record.update(_new_record(), **streams)
    writer = common.StampedWriter()
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(writer):
            loop.run(n_steps)
    finally:
        loop.close_now()
    out = _summarise(record, writer, "Step ")
    out["main_s"] = time.perf_counter() - start
    out["construct_s"] = 0.0
    return out


def _new_record():
    return {"evals": [], "saves": [], "ckpt_wait_s": 0.0, "writers_s": None}


def _summarise(record, writer, first_prefix):
    run_start, run_end = record["run_start"], record["run_end"]
    windows, first, last = _parse_log(writer, run_start, first_prefix)
    run_s = run_end - run_start
    n_steps = sum(n for n, _ in windows)
    after_first = windows[1:]
    return {
        "run_s": run_s,
        "n_steps": n_steps,
        "steps_per_s": n_steps / run_s if run_s > 0 else float("nan"),
        "log_steps_per_s": (sum(n for n, _ in after_first)
                            / max(1e-9, sum(s for _, s in after_first))
                            if after_first else float("nan")),
        "log_windows": windows,
        "first_log_s": None if first is None else first - run_start,
        "step1_block_s": None if last is None else last - run_start,
        "writers_s": record["writers_s"],
        "evals_s": record["evals"],
        "saves_s": record["saves"],
        "ckpt_wait_s": record["ckpt_wait_s"],
        "compiles": record["run_compiles"],
        "consumer_wait_s": record["consumer_wait_s"],
        "train_producer": record.get("train_producer"),
        "eval_producer": record.get("eval_producer"),
    }


def measure(steps, steps_per_checkpoint, runs=2, continued=True, log=print):
    """Builds the vocabulary, then runs the main job ``runs`` times; with
    ``continued``, then calls ``run(steps)`` once more on the last Loop."""
    compile_log = common.CompileLog()
    results = {"runs": []}
    saved_env = {k: os.environ.get(k) for k in ("TRAX_COMPAT_CACHE_DIR",
                                                 "TRAX_COMPAT_VOCAB_DIR")}
    try:
        with tempfile.TemporaryDirectory(prefix="trax_compat_bench_") as tmp:
            # An empty vocabulary cache: the job falls back to the built
            # vocabulary on every machine.
            os.environ["TRAX_COMPAT_CACHE_DIR"] = os.path.join(tmp, "cache")
            os.environ.pop("TRAX_COMPAT_VOCAB_DIR", None)
            _measure_in(tmp, steps, steps_per_checkpoint, runs, continued,
                        compile_log, results, log)
    finally:
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return results


def _measure_in(tmp, steps, steps_per_checkpoint, runs, continued,
                compile_log, results, log):
    from train import corpus  # pylint: disable=g-import-not-at-top
    from train import sentiment  # pylint: disable=g-import-not-at-top
    from trax_compat.data import subword  # pylint: disable=g-import-not-at-top
    start = time.perf_counter()
    train_examples, _ = corpus.default_corpus()
    vocab_path = os.path.join(tmp, sentiment.BUILT_VOCAB)
    vocab = subword.build_subword_vocab_file(
        (t for t, _ in train_examples), sentiment.BUILT_VOCAB_TARGET,
        vocab_path)
    results["vocab_build_s"] = time.perf_counter() - start
    results["vocab_size"] = vocab.vocab_size
    log(f"vocabulary: built from the synthetic corpus "
        f"({vocab.vocab_size} ids) in {results['vocab_build_s']:.1f}s "
        f"(not timed)")
    # As `python -m train.sentiment` does: compiled programs go to a
    # persistent cache (here an empty one in tmp), so the first run compiles
    # and the second loads what the first stored.
    sentiment.enable_compilation_cache()
    argv = ["--steps", str(steps),
            "--steps-per-checkpoint", str(steps_per_checkpoint)]
    loop = record = None
    for i in range(runs):
        out_dir = os.path.join(tmp, f"run{i + 1}")
        r, loop, record = one_run(argv, vocab_path, out_dir, compile_log,
                                  keep_open=continued and i == runs - 1)
        r["label"] = ("fresh process, cold compile cache" if i == 0 else
                      "new Loop, warm compile cache")
        results["runs"].append(r)
        log(describe_run(i + 1, r))
    if continued and loop is not None:
        r = continue_run(loop, record, steps)
        r["label"] = "same Loop, run() again"
        results["runs"].append(r)
        log(describe_run(len(results["runs"]), r))


def _fmt_s(x):
    return "n/a" if x is None else f"{x:.2f}s"


def describe_run(index, r):
    c = r["compiles"]
    tp, ep = r["train_producer"] or {}, r["eval_producer"] or {}
    lines = [
        f"run {index} ({r.get('label', '')}): run({r['n_steps']}) {r['run_s']:.2f}s = "
        f"{r['steps_per_s']:.0f} steps/s end to end; Loop log "
        f"{r['log_steps_per_s']:.0f} steps/s after step 1; "
        f"main() {r['main_s']:.2f}s (Loop() {r['construct_s']:.2f}s)",
        f"  first log line {_fmt_s(r['first_log_s'])}, its block "
        f"done {_fmt_s(r['step1_block_s'])} after run() began",
        f"  evals: {len(r['evals_s'])} x {sum(r['evals_s']) / max(1, len(r['evals_s'])):.3f}s"
        f" = {sum(r['evals_s']):.2f}s; checkpoint saves: "
        f"{len(r['saves_s'])} x {sum(r['saves_s']) / max(1, len(r['saves_s'])):.3f}s"
        f" = {sum(r['saves_s']):.2f}s (blocking part), final wait "
        f"{r['ckpt_wait_s']:.2f}s; summary writers opened in "
        f"{_fmt_s(r['writers_s'])}",
        f"  XLA during run: {c['n_compiles']} compilations, "
        f"{c['compile_s']:.2f}s compile + {c['trace_s']:.2f}s trace + "
        f"{c['lower_s']:.2f}s lower; in the training thread "
        f"{c.get('n_main', c['n_compiles'])} "
        f"({c.get('main_compile_s', c['compile_s']):.2f}s), the rest in "
        f"the background",
    ]
    for name, (n, s) in sorted(c["by_fun"].items(), key=lambda kv: -kv[1][1]):
        lines.append(f"    {name}: {n} x {s / n:.3f}s")
    if tp:
        lines.append(
            f"  train stream __next__: {tp['calls']} calls, "
            f"{tp['seconds']:.2f}s ({100 * tp['seconds'] / r['run_s']:.1f}% "
            f"of run), max {1000 * tp['max_seconds']:.1f}ms, "
            f"{tp['examples']} examples batched")
    if ep:
        lines.append(
            f"  eval stream __next__ : {ep['calls']} calls, "
            f"{ep['seconds']:.2f}s, max {1000 * ep['max_seconds']:.1f}ms")
    w = r["consumer_wait_s"]
    lines.append("  training waited for data (Loop.data_wait_seconds): "
                 + ("not exposed by this Loop" if w is None else
                    f"{w:.3f}s ({100 * w / r['run_s']:.1f}% of run)"))
    return "\n".join(lines)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.main_job",
        description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--steps-per-checkpoint", type=int, default=500)
    p.add_argument("--runs", type=int, default=2,
                   help="main() calls in this process (default 2)")
    p.add_argument("--no-continue", action="store_true",
                   help="skip the final run() again on the last Loop")
    p.add_argument("--json", action="store_true",
                   help="print the results as one JSON object (last line)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    log = (lambda s: print(s, file=sys.stderr)) if args.json else print
    results = measure(args.steps, args.steps_per_checkpoint, args.runs,
                      not args.no_continue, log)
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
