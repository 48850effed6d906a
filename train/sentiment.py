"""The Trax sentiment tutorial, end to end, on trax_compat.

    python -m train.sentiment [--data FILE --eval-data FILE] [--steps 2000]
                              [--steps-per-checkpoint 500] [--output-dir DIR]
                              [--vocab-dir DIR | --build-vocab] [--seed 0]
                              [--n-classes 2] [--debug]

Without ``--data`` it trains on the embedded default corpus: synthetic tweets
generated deterministically by :mod:`train.corpus` (not real data). With
``--data`` it reads a ``text,label`` file the tutorial's way; malformed
lines and labels outside ``0..n_classes-1`` are reported with file name and
line number.

It tokenizes with Trax's ``en_8k.subword``, as the tutorial does: from
``--vocab-dir``, else ``$TRAX_COMPAT_VOCAB_DIR``, the vocabulary cache, or
the copy bundled with trax_compat. ``--build-vocab`` builds a subword
vocabulary from the training text instead (saved, and reused, as
``<output-dir>/vocab/built_8k.subword``).

``--steps`` is the job's total: a run stopped for any reason (Ctrl-C, a
crash, ``kill -9``) is completed by running the same command again. It
resumes from the newest intact checkpoint in ``--output-dir`` and replays
the batches consumed before it, so the resumed job logs exactly what an
uninterrupted one does. ``<output-dir>/job.json`` records the settings a
job was started with; resuming with different ones is refused.

Everything from ``data_pipeline = ...`` on is the tutorial's code; the only
change is that the example streams repeat (``itertools.cycle``), because
Trax's Loop needs a stream that does not run out.
"""

import argparse
import hashlib
import itertools
import json
import os
import sys

import numpy as np

from trax_compat import command_errors
from trax_compat.command_errors import UsageError

TUTORIAL_VOCAB = "en_8k.subword"
# The SHA-256 of Trax's own en_8k.subword (the bundled copy).
TUTORIAL_VOCAB_SHA256 = (
    "6fafd9de1732a000540337bd0b7ce3fbea811b81d1b042906a2101801c12e095")
BUILT_VOCAB = "built_8k.subword"
# Leave headroom under the model's Embedding(vocab_size=8192): the builder
# lands within 1% of its target.
BUILT_VOCAB_TARGET = 8000
MODEL_VOCAB_SIZE = 8192
JOB_FILE = "job.json"
MAX_SEED = 2**32 - 2  # The eval pipeline is seeded with seed + 1.
PROG = "python -m train.sentiment"  # in --help and every error line
# The library's messages name its Python arguments; this program's flags.
FLAGS_FOR_ARGUMENTS = {"output_dir": "--output-dir", "vocab_dir": "--vocab-dir"}


class _ArgumentParser(argparse.ArgumentParser):
    """Bad arguments get one line (and exit 2), not the whole usage."""

    def error(self, message):
        self.exit(command_errors.EXIT_BAD_INPUT,
                  f"{self.prog}: error: {message} (see --help)\n")


def parse_args(argv=None):
    parser = _ArgumentParser(
        prog=PROG,
        description="Train Trax's sentiment tutorial model on trax_compat.")
    parser.add_argument("--data", help="training file of 'text,label' lines "
                        "(default: the embedded synthetic corpus). A line "
                        "with one comma is split there, as the tutorial "
                        "does; with more, the label is after the last "
                        "comma, or the text is quoted as in CSV: "
                        "'\"great, really\",1'")
    parser.add_argument("--eval-data", help="held-out 'text,label' file "
                        "(default: the synthetic eval split, or the last 10%% "
                        "of --data)")
    parser.add_argument("--steps", type=int, default=2000,
                        help="total training steps of the job (default 2000); "
                        "rerunning a stopped job completes it")
    parser.add_argument("--steps-per-checkpoint", type=int, default=500,
                        help="eval/checkpoint period (default 500); the last "
                        "step is always checkpointed")
    parser.add_argument("--output-dir", default=os.path.join("output",
                                                             "sentiment"),
                        help="checkpoints, TensorBoard files and log.txt; a "
                        "directory holding a checkpoint is resumed (default "
                        "output/sentiment)")
    vocab = parser.add_mutually_exclusive_group()
    vocab.add_argument("--vocab-dir", help=f"directory holding "
                       f"{TUTORIAL_VOCAB} (default: the bundled copy)")
    vocab.add_argument("--build-vocab", action="store_true",
                       help="build a subword vocabulary from the training "
                       "text instead of using Trax's en_8k.subword")
    parser.add_argument("--seed", type=int, default=0,
                        help="random seed for shuffling and initialization")
    parser.add_argument("--n-classes", type=int, default=2,
                        help="number of label classes; labels must be in "
                        "0..n-1 (default 2)")
    parser.add_argument("--compare-with", metavar="TRAX_LOG",
                        help="after training, print this run's step log "
                        "next to TRAX_LOG (a Trax stdout capture or "
                        "output_dir; see trax-compat compare-logs)")
    parser.add_argument("--debug", action="store_true",
                        help="show tracebacks (also TRAX_COMPAT_DEBUG=1)")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    if args.steps_per_checkpoint < 1:
        parser.error("--steps-per-checkpoint must be at least 1 (it is the "
                     "number of steps between evals and checkpoints)")
    if not 0 <= args.seed <= MAX_SEED:
        parser.error(f"--seed must be between 0 and {MAX_SEED}")
    if args.n_classes < 2:
        parser.error("--n-classes must be at least 2")
    if args.eval_data and not args.data:
        parser.error("--eval-data needs --data")
    return args


def _read_data(flag, path, n_classes):
    from train import data_files  # pylint: disable=g-import-not-at-top
    if not os.path.isfile(path):
        what = "is a directory" if os.path.isdir(path) else "does not exist"
        raise UsageError(f"{flag} {path} {what}; pass a file of "
                         f"'text,label' lines.")
    return data_files.read_labeled_lines(path, n_classes)


def load_examples(args):
    """Returns (train, eval, description) lists of (text, np.int64 label)."""
    if args.data:
        train_examples = _read_data("--data", args.data, args.n_classes)
        if args.eval_data:
            eval_examples = _read_data("--eval-data", args.eval_data,
                                       args.n_classes)
            source = f"{args.data} (eval: {args.eval_data})"
        else:
            n_eval = max(1, len(train_examples) // 10)
            if len(train_examples) - n_eval < 1:
                raise UsageError(
                    f"{args.data} has {len(train_examples)} example(s): too "
                    f"few to hold out an eval split; pass --eval-data.")
            train_examples, eval_examples = (train_examples[:-n_eval],
                                             train_examples[-n_eval:])
            source = (f"{args.data} (last {n_eval} lines held out for eval)")
        return train_examples, eval_examples, source
    from train import corpus  # pylint: disable=g-import-not-at-top
    train_pairs, eval_pairs = corpus.default_corpus()
    as_tutorial = lambda pairs: [(str(t), np.int64(y)) for t, y in pairs]
    return (as_tutorial(train_pairs), as_tutorial(eval_pairs),
            f"the embedded synthetic corpus ({len(train_pairs)} train / "
            f"{len(eval_pairs)} eval tweets, generated by train/corpus.py)")


def _sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _check_vocab(path, fix):
    """Loads the vocabulary once, so a broken file fails here, clearly."""
    from trax_compat.data import text_tokenize  # pylint: disable=g-import-not-at-top
    from trax_compat.data import vocab_common  # pylint: disable=g-import-not-at-top
    try:
        size = text_tokenize.vocab_size(vocab_type="subword",
                                    vocab_file=os.path.basename(path),
                                    vocab_dir=os.path.dirname(path))
    except (vocab_common.VocabFormatError, OSError) as e:
        raise UsageError(f"{e}. {fix}") from e
    if size > MODEL_VOCAB_SIZE:
        raise UsageError(
            f"{path} has {size} ids, more than the model's "
            f"Embedding(vocab_size={MODEL_VOCAB_SIZE}). {fix}")


def find_or_build_vocab(args, train_examples, output_dir):
    """Returns (vocab_file, vocab_dir, sha256) for Tokenize."""
    from trax_compat.data import subword  # pylint: disable=g-import-not-at-top
    from trax_compat.data import vocab_files  # pylint: disable=g-import-not-at-top
    if args.build_vocab:
        built_dir = os.path.join(output_dir, "vocab")
        built_path = os.path.join(built_dir, BUILT_VOCAB)
        fix = (f"Delete {built_path} to build it again from the training "
               f"text.")
        if os.path.exists(built_path):
            _check_vocab(built_path, fix)
            print(f"Reusing the vocabulary built earlier from the training "
                  f"text: {built_path}")
        else:
            os.makedirs(built_dir, exist_ok=True)
            vocab = subword.build_subword_vocab_file(
                (text for text, _ in train_examples), BUILT_VOCAB_TARGET,
                built_path)
            _check_vocab(built_path, fix)
            print(f"Built a subword vocabulary of {vocab.vocab_size} ids from "
                  f"the training text: {built_path}")
        return BUILT_VOCAB, built_dir, _sha256(built_path)
    try:
        path = vocab_files.resolve_vocab_path(TUTORIAL_VOCAB, args.vocab_dir)
    except FileNotFoundError:
        raise UsageError(
            f"--vocab-dir {args.vocab_dir} has no {TUTORIAL_VOCAB}; put "
            f"Trax's {TUTORIAL_VOCAB} there, or leave out --vocab-dir to use "
            f"the copy bundled with trax_compat.") from None
    _check_vocab(path, f"Replace it with Trax's {TUTORIAL_VOCAB}, or leave "
                       f"out --vocab-dir to use the bundled copy."
                 if args.vocab_dir else "Reinstall trax_compat.")
    digest = _sha256(path)
    note = ("" if digest == TUTORIAL_VOCAB_SHA256 else
            " (it differs from Trax's own file, so token ids will not match "
            "the tutorial's)")
    print(f"Using vocabulary {path}{note}")
    return TUTORIAL_VOCAB, os.path.dirname(path), digest


def job_settings(args, vocab_file, vocab_sha256):
    """What must stay the same for a job to be resumed."""
    def data(path):
        return ({"file": os.path.abspath(path), "sha256": _sha256(path)}
                if path else None)
    return {"data": data(args.data), "eval_data": data(args.eval_data),
            "seed": args.seed, "steps_per_checkpoint": args.steps_per_checkpoint,
            "n_classes": args.n_classes,
            "vocab": {"file": vocab_file, "sha256": vocab_sha256}}


_FLAGS = {"data": "--data", "eval_data": "--eval-data", "seed": "--seed",
          "steps_per_checkpoint": "--steps-per-checkpoint",
          "n_classes": "--n-classes", "vocab": "the vocabulary"}


def check_or_record_job(output_dir, settings):
    """Writes ``job.json`` for a new job; refuses to resume a job that was
    started with other settings (its checkpoints would be misread)."""
    path = os.path.join(output_dir, JOB_FILE)
    if os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as f:
                recorded = json.load(f)["settings"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise UsageError(
                f"{path} is unreadable ({e}); it records how the job in "
                f"{output_dir} was started. Restore it, or use a new "
                f"--output-dir.") from None
        changed = [_FLAGS.get(k, k) for k in sorted(set(recorded) | set(settings))
                   if recorded.get(k) != settings.get(k)]
        if changed:
            raise UsageError(
                f"{output_dir} holds a job started with other settings "
                f"({', '.join(changed)} differ; see {path}). Run the same "
                f"command as before to resume it, or pass a new --output-dir.")
        return
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"job": "train.sentiment", "settings": settings}, f,
                  indent=2)
    os.replace(tmp, path)


def main(argv=None):
    args = parse_args(argv)
    if args.compare_with:  # fail before training, not after
        from trax_compat import logs  # pylint: disable=g-import-not-at-top
        try:
            logs.load_log(args.compare_with)
        except logs.LogError as e:
            raise UsageError(f"--compare-with: {e}") from None
    train_examples, eval_examples, source = load_examples(args)

    import trax_compat as trax  # pylint: disable=g-import-not-at-top
    from trax_compat import layers as tl  # pylint: disable=g-import-not-at-top
    from trax_compat.supervised import output_lock  # pylint: disable=g-import-not-at-top
    from trax_compat.supervised import progress  # pylint: disable=g-import-not-at-top
    from trax_compat.supervised import training  # pylint: disable=g-import-not-at-top

    try:
        output_dir = training.writable_output_dir(args.output_dir)
    except training.OutputDirError as e:
        # Its advice is the Loop's (output_dir=None); a job needs a folder.
        reason = ("exists and is not a directory" if os.path.exists(
            args.output_dir) else f"cannot be used ({e.__cause__ or e})")
        raise UsageError(f"--output-dir {args.output_dir} {reason}; pass an "
                         f"--output-dir you can write to.") from None
    # Held from here on (the Loop shares it): nothing in output_dir is
    # touched while another job owns it.
    lock = output_lock.OutputDirLock(output_dir)
    print(f"Training data: {source}")
    vocab_file, vocab_dir, vocab_sha256 = find_or_build_vocab(
        args, train_examples, output_dir)
    check_or_record_job(output_dir,
                        job_settings(args, vocab_file, vocab_sha256))

    def tutorial_pipeline():
        return trax.data.Serial(
            trax.data.Tokenize(vocab_file=vocab_file, keys=[0],
                               vocab_dir=vocab_dir),
            trax.data.Shuffle(),
            trax.data.FilterByLength(max_length=30, length_keys=[0]),
            trax.data.BucketByLength(boundaries=[5, 10, 30],
                                     batch_sizes=[1, 5, 10], length_keys=[0]),
            trax.data.AddLossWeights()
        )

    tweets = itertools.cycle(train_examples)
    eval_tweets = itertools.cycle(eval_examples)
    np.random.seed(args.seed)
    streamed_batches = tutorial_pipeline()(tweets)
    np.random.seed(args.seed + 1)
    streamed_eval_batches = tutorial_pipeline()(eval_tweets)

    model = tl.Serial(
        tl.Embedding(vocab_size=MODEL_VOCAB_SIZE, d_feature=256),
        tl.Mean(axis=1),
        tl.Dense(args.n_classes),
        tl.LogSoftmax()
    )

    train_task = training.TrainTask(
        labeled_data=streamed_batches,
        loss_layer=tl.WeightedCategoryCrossEntropy(),
        optimizer=trax.optimizers.Adam(0.01),
        n_steps_per_checkpoint=args.steps_per_checkpoint,
    )
    eval_task = training.EvalTask(
        labeled_data=streamed_eval_batches,
        metrics=[tl.WeightedCategoryCrossEntropy(),
                 tl.WeightedCategoryAccuracy()],
        n_eval_batches=20
    )
    training_loop = training.Loop(model, train_task, eval_tasks=[eval_task],
                                  output_dir=output_dir,
                                  random_seed=args.seed,
                                  resume_streams="replay",
                                  progress=progress.for_stream(sys.stdout))
    try:
        _train(args, training_loop)
    finally:
        training_loop.close()
        lock.release()

    eval_batches_stream = streamed_eval_batches
    example_input = next(eval_batches_stream)[0][0]
    example_input_str = trax.data.detokenize(
        example_input, vocab_file=vocab_file, vocab_dir=vocab_dir)
    print(f'example input_str: {example_input_str}')
    sentiment_log_probs = model(example_input[None, :])
    print(f'Model returned sentiment probabilities: '
          f'{np.exp(sentiment_log_probs)}')
    return training_loop


def _train(args, training_loop):
    """Runs the job to ``--steps`` and checkpoints its last step."""
    from trax_compat.logs import capture  # pylint: disable=g-import-not-at-top
    if training_loop.step:
        print(f"Resuming from the checkpoint of step {training_loop.step} in "
              f"{training_loop.output_dir} (replayed the batches consumed "
              f"before it in {training_loop.replay_seconds:.2f} s)")
    remaining = args.steps - training_loop.step
    if remaining <= 0:
        print(f"The job in {training_loop.output_dir} is complete: it "
              f"reached step {training_loop.step} of {args.steps}.")
        return
    with capture.tee_stdout(enabled=bool(args.compare_with)) as our_log:
        try:
            training_loop.run(remaining)
        except KeyboardInterrupt:
            last = training_loop.last_checkpoint_step
            where = (f"step {last} in {training_loop.output_dir}"
                     if last is not None else "none yet")
            raise command_errors.Interrupted(
                f"Interrupted at step {training_loop.step}; last checkpoint: "
                f"{where}; run the same command to resume.") from None
    if training_loop.last_checkpoint_step != training_loop.step:
        training_loop.save_checkpoint()
    if args.compare_with:
        from trax_compat.logs import compare_command  # pylint: disable=g-import-not-at-top
        compare_command.compare_with_step_log(args.compare_with,
                                              our_log.getvalue())


def enable_compilation_cache():
    """Keeps compiled XLA programs across runs of this program (the first
    run compiles one train step per bucket shape, later runs load them):
    the Loop's default, turned on before anything compiles."""
    from trax_compat.supervised import compile_cache  # pylint: disable=g-import-not-at-top
    return compile_cache.enable_default()


def _cli():
    debug = command_errors.debug_requested(sys.argv[1:])
    enable_compilation_cache()
    sys.exit(run_command(None, debug=debug))


def run_command(argv, debug=False):
    """Runs the job as its command line does; returns the exit code."""
    return command_errors.run(PROG, lambda: main(argv), debug=debug,
                              flags=FLAGS_FOR_ARGUMENTS)


if __name__ == "__main__":
    _cli()
