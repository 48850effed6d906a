"""Helpers shared by the ``generate_*.py`` scripts of this folder (run with
real Trax). Only NumPy at import time: the tests take ``Recorder`` and
``tutorial_pipeline`` from here too, with trax_compat's data module.

The fixtures layout they write into: ``OUT/trax_oracle/...``, the same
relative paths as the developers' fixtures folder, so that
``make_testdata.py``'s compaction and ``check_regenerated.py`` apply to it
unchanged.
"""

import contextlib
import gzip
import io
import json
import pathlib
import platform
import sys

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEFAULT_CORPUS_DIR = HERE / "corpus"
# The package ships the same bytes as Trax's own en_8k.subword.
DEFAULT_VOCAB_DIR = REPO / "trax_compat" / "data" / "vocabs"
VOCAB_FILE = "en_8k.subword"


def env(generator_script, with_tensorflow=False, **extra):
    """The ``env`` object every oracle JSON file starts with."""
    import jax  # pylint: disable=import-outside-toplevel
    import jaxlib  # pylint: disable=import-outside-toplevel
    out = {
        "trax_commit": trax_commit(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "numpy": np.__version__,
    }
    if with_tensorflow:
        import tensorflow as tf  # pylint: disable=import-outside-toplevel
        out["tensorflow"] = tf.__version__
    return {
        **out,
        "jax_threefry_partitionable": bool(
            jax.config.jax_threefry_partitionable),
        "jax_enable_x64": bool(jax.config.jax_enable_x64),
        "jax_default_prng_impl": str(jax.config.jax_default_prng_impl),
        "jax_backend": jax.default_backend(),
        "generator_script": generator_script,
        **extra,
    }


def trax_commit():
    import subprocess  # pylint: disable=import-outside-toplevel
    import trax  # pylint: disable=import-outside-toplevel
    src = pathlib.Path(trax.__file__).resolve().parents[1]
    try:
        return subprocess.run(["git", "-C", str(src), "rev-parse", "HEAD"],
                              capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def array(x):
    """An array as a JSON record (``tolist()``: float32 values exact)."""
    x = np.asarray(x)
    return {"shape": list(x.shape), "dtype": x.dtype.name, "data": x.tolist()}


def nested(tree, leaf):
    """A Trax weight, state or slot tree as JSON: a list for each tuple or
    list, null for () (and None), ``leaf(array)`` for each array."""
    if tree is None or (isinstance(tree, tuple) and not tree):
        return None
    if isinstance(tree, (tuple, list)):
        return [nested(t, leaf) for t in tree]
    return leaf(tree)


def shape_dtype(a):
    return {"shape": list(np.shape(a)), "dtype": np.asarray(a).dtype.name}


def tree_typed(tree):
    """A Trax weight or state tree, unambiguous: {"tuple": [...]},
    {"list": [...]}, {"shape", "dtype"} for an array, null for ()."""
    if isinstance(tree, tuple):
        return {"tuple": [tree_typed(t) for t in tree]} if tree else None
    if isinstance(tree, list):
        return {"list": [tree_typed(t) for t in tree]}
    return shape_dtype(tree)


def write_json(path, obj, indent=1):
    """UTF-8, non-ASCII kept, NaN as the token ``NaN``, final newline."""
    _write(path, _json_bytes(obj, indent))


def write_json_gz(path, obj, indent=1):
    """``write_json``'s text, gzipped reproducibly (no name, mtime 0)."""
    _write(path, gzip.compress(_json_bytes(obj, indent), compresslevel=9,
                               mtime=0))


def _json_bytes(obj, indent):
    text = json.dumps(obj, indent=indent, ensure_ascii=False)
    return (text + "\n").encode("utf-8")


def _write(path, data):
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    print(f"[{pathlib.Path(sys.argv[0]).stem}] wrote {path}", file=sys.stderr)


def read_tweets(path):
    """The corpus lines, read as Trax's sentiment tutorial reads them."""
    with open(path, encoding="utf-8") as f:
        return [tuple([str(i.split(",")[0]), np.int64(i.split(",")[1])])
                for i in f.read().splitlines()]


class Tee(io.TextIOBase):
    """Copies what is written to ``stream`` into a buffer as well."""

    def __init__(self, stream):
        self._stream = stream
        self.buffer_ = io.StringIO()

    def write(self, s):
        self._stream.write(s)
        self.buffer_.write(s)
        return len(s)

    def flush(self):
        self._stream.flush()

    def getvalue(self):
        return self.buffer_.getvalue()


@contextlib.contextmanager
def tee_stdout():
    tee = Tee(sys.stdout)
    old, sys.stdout = sys.stdout, tee
    try:
        yield tee
    finally:
        sys.stdout = old


def out_arg(parser):
    parser.add_argument("out", type=pathlib.Path,
                        help="output folder: files go to OUT/trax_oracle/...")
    parser.add_argument("--corpus-dir", type=pathlib.Path,
                        default=DEFAULT_CORPUS_DIR,
                        help="folder of dev_tweets.txt and dev_tweets_eval.txt"
                             " (default: this folder's corpus/)")
    parser.add_argument("--vocab-dir", type=pathlib.Path,
                        default=DEFAULT_VOCAB_DIR,
                        help="folder of en_8k.subword (default: the copy the "
                             "package ships)")
    return parser


def tutorial_pipeline(data, vocab_dir):
    """The sentiment tutorial's data pipeline, from ``data`` (real Trax's
    ``trax.data`` in the generators, trax_compat's in the tests). Trax's
    ``Shuffle`` draws from NumPy's global generator when the stream is
    read, so the seed that matters is the one in force then."""
    return data.Serial(
        data.Tokenize(vocab_file=VOCAB_FILE, keys=[0],
                      vocab_dir=str(vocab_dir)),
        data.Shuffle(),
        data.FilterByLength(max_length=30, length_keys=[0]),
        data.BucketByLength(boundaries=[5, 10, 30],
                            batch_sizes=[1, 5, 10], length_keys=[0]),
        data.AddLossWeights())


class Recorder:
    """A pass-through iterator that keeps what was pulled from it."""

    def __init__(self, stream):
        self._stream = stream
        self.pulled = []

    def __iter__(self):
        return self

    def __next__(self):
        item = next(self._stream)
        self.pulled.append(item)
        return item


def history(loop_history):
    """``loop.history`` as {"mode/metric": [[step, value], ...]}, without the
    wall-clock dependent steps per second."""
    out = {}
    for mode in sorted(loop_history.modes):
        for metric in sorted(loop_history.metrics_for_mode(mode)):
            if metric == "training/steps per second":
                continue
            out[f"{mode}/{metric}"] = [[int(s), float(v)] for s, v in
                                       loop_history.get(mode, metric)]
    return out


def recording_callback(base, call_at, events):
    """The callback class of the training-API run c, on ``base`` (Trax's
    ``TrainingStepCallback`` in the generator, trax_compat's in the tests):
    it appends ``[hook, step argument, loop.step(, call_at result)]`` to
    ``events`` and prints a line at each step hook."""

    class RecordingCallback(base):
        """Logs each hook with its step argument and the Loop's step."""

        def __init__(self, loop):
            super().__init__(loop)
            events.append(["__init__", None, loop.step])

        def call_at(self, step):
            result = bool(call_at(step))
            events.append(["call_at", step, self._loop.step, result])
            return result

        def on_step_begin(self, step):
            events.append(["on_step_begin", step, self._loop.step])
            print("[callback] on_step_begin(%d)" % step)

        def on_step_end(self, step):
            events.append(["on_step_end", step, self._loop.step])
            print("[callback] on_step_end(%d)" % step)

    return RecordingCallback


def tutorial_tasks(tl, training, optimizers, train_stream, eval_stream):
    """The sentiment tutorial's TrainTask and EvalTask, from real Trax's
    modules in the generators and trax_compat's in the tests."""
    train_task = training.TrainTask(
        labeled_data=train_stream,
        loss_layer=tl.WeightedCategoryCrossEntropy(),
        optimizer=optimizers.Adam(0.01), n_steps_per_checkpoint=100)
    eval_task = training.EvalTask(
        labeled_data=eval_stream,
        metrics=[tl.WeightedCategoryCrossEntropy(),
                 tl.WeightedCategoryAccuracy()],
        n_eval_batches=20)
    return train_task, eval_task
