"""trax.data throughput against real Trax: text examples read per second.

    python -m benchmarks.data_speed [--quick] [--trax-python PY] [--json F]

Two pipelines, each timed ``--repeats`` times after a warm-up (medians), in
this process with trax_compat and, with ``--trax-python``, in a child
process under real Trax (same code, same data, same seed):

* ``text``: ``trax_data_Explained``'s pipeline from in-memory text:
  ``Tokenize`` (the packaged ``en_8k.subword``) -> ``Shuffle`` ->
  ``FilterByLength(2048)`` -> ``BucketByLength([32, 128, 512, 2048],
  [512, 128, 32, 8, 1])`` -> ``AddLossWeights``, over **fresh** text: the
  synthetic corpus of ``train.corpus`` followed by more tweets of the same
  generator (other seeds), all distinct and enough for a whole run, so
  ``Tokenize``'s memo of seen texts never serves a repeat (Trax has none);
* ``text-cycled`` (informational, no target): the same stages over the
  corpus's 20,000 training tweets cycled, as a training run reads them:
  from the second pass on, trax_compat's ``Tokenize`` serves repeated texts
  from its memo, while Trax encodes them again;
* ``tfds``: the same stages after ``TFDS(keys=('text', 'label'))`` over a
  local TFDS dataset of the same fresh texts, prepared into a temporary
  folder (not timed; the ``[tfds]`` extra).

Throughput is the number of examples read from the source per second until
``--batches`` batches came out; the CPU time of the process per example
(``time.process_time``, all threads) is given too, being less sensitive to
other load on a shared machine.
"""

import argparse
import functools
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

BOUNDARIES = [32, 128, 512, 2048]
BATCH_SIZES = [512, 128, 32, 8, 1]
DATASET = "trax_compat_bench_text"
FRESH_SEED = 9000  # seeds of the tweets added after the corpus's
# tfds_examples 0: as many fresh texts as a run can read (see _fresh_count).
DEFAULTS = {"batches": 200, "repeats": 3, "tfds_examples": 0}
QUICK = {"batches": 30, "repeats": 2, "tfds_examples": 0}


@functools.lru_cache(maxsize=1)
def _corpus_texts():
    from train import corpus  # pylint: disable=g-import-not-at-top
    train_examples, _ = corpus.default_corpus()
    return train_examples


def _fresh_texts(n):
    """``n`` distinct texts: the corpus's, then more from other seeds."""
    from train import corpus  # pylint: disable=g-import-not-at-top
    examples = []
    seen = set()
    chunks = itertools.chain(
        [_corpus_texts()],
        (corpus.synthetic_tweets(20000, FRESH_SEED + k)
         for k in itertools.count()))
    for chunk in chunks:
        for text, label in chunk:  # pylint: disable=not-an-iterable
            if text not in seen:
                seen.add(text)
                examples.append((text, label))
        if len(examples) >= n:
            return examples[:n]


def _with_numpy_labels(examples):
    # Labels as NumPy scalars, as TFDS gives them (Trax batches need them).
    return [(str(t), np.int64(y)) for t, y in examples]


def _tfds_count(cfg):
    return cfg.get("tfds_examples") or _fresh_count(cfg)


def _texts():
    return _with_numpy_labels(_corpus_texts())


def _fresh_count(cfg):
    """Texts enough that a run never reads one twice: every batch holds at
    most max(BATCH_SIZES) examples, plus what Shuffle's queue and the
    partly filled buckets hold when the last batch comes out."""
    return cfg["batches"] * max(BATCH_SIZES) + 1024 + sum(BATCH_SIZES)


def _vocab_dir():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(root, "trax_compat", "data", "vocabs")


def _prepare_tfds(data_dir, texts):
    """Writes ``texts`` as TFDS dataset ``DATASET`` into ``data_dir``."""
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

    class BenchText(tfds.core.GeneratorBasedBuilder, skip_registration=True):
        name = DATASET
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return tfds.core.DatasetInfo(
                builder=self,
                features=tfds.features.FeaturesDict({
                    "text": tfds.features.Text(),
                    "label": tfds.features.ClassLabel(num_classes=2)}),
                supervised_keys=("text", "label"))

        def _split_generators(self, dl_manager):
            del dl_manager
            return {"train": self._generate_examples(texts),
                    "test": self._generate_examples(texts[:50])}

        def _generate_examples(self, rows):
            for i, (text, label) in enumerate(rows):
                yield i, {"text": text, "label": int(label)}

    tfds.disable_progress_bar()
    BenchText(data_dir=data_dir).download_and_prepare()


class _Counter:
    """A pipeline stage counting the examples that pass through it."""

    def __init__(self):
        self.n = 0

    def __call__(self, stream):
        for example in stream:
            self.n += 1
            yield example


def _stages(data):
    return [data.Tokenize(vocab_dir=_vocab_dir(), vocab_file="en_8k.subword",
                          keys=[0]),
            data.Shuffle(),
            data.FilterByLength(max_length=2048, length_keys=[0]),
            data.BucketByLength(boundaries=BOUNDARIES,
                                batch_sizes=BATCH_SIZES, length_keys=[0]),
            data.AddLossWeights()]


def _time(make_stream, counter, n_batches):
    np.random.seed(0)
    counter.n = 0
    stream = make_stream()
    cpu = time.process_time()
    start = time.perf_counter()
    for _ in itertools.islice(stream, n_batches):
        pass
    return (time.perf_counter() - start, counter.n,
            time.process_time() - cpu)


def measure(library, cfg, tfds_dir=None):
    """{pipeline: {"seconds", "examples", "examples_per_s", "cpu_us"}}
    (medians; ``cpu_us``: process CPU microseconds per example)."""
    if library == "trax":
        import trax  # pylint: disable=g-import-not-at-top
        data = trax.data
    else:
        from trax_compat import data  # pylint: disable=g-import-not-at-top
    fresh = _with_numpy_labels(_fresh_texts(_fresh_count(cfg)))
    texts = _texts()
    counter = _Counter()
    pipelines = {
        "text": lambda: data.Serial(counter, *_stages(data))(
            itertools.cycle(fresh)),
        "text-cycled": lambda: data.Serial(counter, *_stages(data))(
            itertools.cycle(texts))}
    if tfds_dir is not None:
        source = data.TFDS(DATASET, data_dir=tfds_dir,
                           keys=("text", "label"), train=True)
        pipelines["tfds"] = lambda: data.Serial(source, counter,
                                                *_stages(data))()
    out = {}
    for name, make in pipelines.items():
        _time(make, counter, max(1, cfg["batches"] // 10))  # warm-up
        runs = [_time(make, counter, cfg["batches"])
                for _ in range(cfg["repeats"])]
        seconds = sorted(r[0] for r in runs)[len(runs) // 2]
        cpu = sorted(r[2] for r in runs)[len(runs) // 2]
        examples = runs[0][1]
        out[name] = {"seconds": seconds, "examples": examples,
                     "examples_per_s": examples / seconds,
                     "cpu_us": cpu / examples * 1e6}
        distinct = {"text": len(fresh), "tfds": _tfds_count(cfg)}.get(name)
        if distinct and examples > distinct:
            out[name]["repeated_texts"] = examples - distinct
    return out


def _trax_figures(python, argv):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run(
        [python, "-m", "benchmarks.data_speed", "--library", "trax"] + argv,
        capture_output=True, text=True, check=False, cwd=root)
    if result.returncode:
        raise RuntimeError("real Trax's run (%s) failed:\n%s"
                           % (python, result.stderr[-3000:]))
    return json.loads(result.stdout.strip().splitlines()[-1])


def _tfds_available():
    try:
        import tensorflow_datasets  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
    except ImportError:
        return False
    return True


def run(cfg, trax_python=None, log=print):
    """Measures trax_compat (and real Trax); returns figures and rows."""
    with tempfile.TemporaryDirectory(prefix="trax_compat_bench_") as tmp:
        tfds_dir = None
        if _tfds_available():
            tfds_dir = os.path.join(tmp, "tfds")
            _prepare_tfds(tfds_dir, _fresh_texts(_tfds_count(cfg)))
        ours = measure("trax_compat", cfg, tfds_dir)
        theirs, why_not = None, None
        if trax_python:
            argv = [f"--{k.replace('_', '-')}={v}" for k, v in cfg.items()]
            if tfds_dir:
                argv.append(f"--tfds-dir={tfds_dir}")
            theirs = _trax_figures(trax_python, argv)
        else:
            why_not = "real Trax not measured: no --trax-python PY given"
    rows = []
    for name, fig in ours.items():
        t = (theirs or {}).get(name)
        rows.append({"pipeline": name, "ours": fig["examples_per_s"],
                     "trax": t["examples_per_s"] if t else None,
                     "speedup": (fig["examples_per_s"] / t["examples_per_s"]
                                 if t else None),
                     "cpu_us": fig["cpu_us"],
                     "trax_cpu_us": t["cpu_us"] if t else None,
                     "target": None if name == "text-cycled" else 3.0})
        log(f"{name:<11}: trax_compat {fig['examples_per_s']:9.0f} "
            f"examples/s ({fig['cpu_us']:5.1f} us CPU/example)"
            + (f" | real Trax {t['examples_per_s']:9.0f} examples/s "
               f"({t['cpu_us']:5.1f} us CPU/example) | "
               f"{fig['examples_per_s'] / t['examples_per_s']:.1f}x "
               f"(CPU {t['cpu_us'] / fig['cpu_us']:.1f}x)"
               if t else f" | {why_not}"))
        if fig.get("repeated_texts"):
            log(f"  warning: {fig['repeated_texts']} texts were read twice "
                f"(raise the fresh text count)")
    if tfds_dir is None:
        log("tfds : skipped (needs the [tfds] extra)")
    return {"config": cfg, "trax_compat": ours, "trax": theirs,
            "trax_skipped": why_not, "rows": rows}


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.data_speed",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run")
    for key, value in DEFAULTS.items():
        p.add_argument("--" + key.replace("_", "-"), type=int, default=None,
                       help=f"default {value}")
    p.add_argument("--trax-python", default=None,
                   help="a Python with real Trax: measure it too, in a child "
                        "process")
    p.add_argument("--json", default=None, help="write the figures here")
    p.add_argument("--library", default="trax_compat",
                   choices=("trax_compat", "trax"), help=argparse.SUPPRESS)
    p.add_argument("--tfds-dir", default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def config(args):
    cfg = dict(QUICK if args.quick else DEFAULTS)
    for key in DEFAULTS:
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    return cfg


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else list(argv))
    cfg = config(args)
    if args.library == "trax":  # child: real Trax on the parent's data
        print(json.dumps(measure("trax", cfg, args.tfds_dir)))
        return 0
    from benchmarks import common  # pylint: disable=g-import-not-at-top
    for line in common.machine_info():
        print(line)
    figures = run(cfg, args.trax_python)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(figures, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
