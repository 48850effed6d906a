"""Trains the sentiment tutorial's model with real Trax on the development
corpus and records the run.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root (about a minute):

    python tests/testdata/generate_trax_run_dev.py OUT [--corpus-dir D] [--vocab-dir D]

It writes into ``OUT/trax_oracle/trax_run_dev/`` (README.md describes the
files): ``stdout.txt`` (this process's stdout: Trax's lines, this script's
``[generate_trax_run_dev]`` lines and the tutorial's prediction lines),
``output_dir/`` (Trax's output folder, with its TensorBoard event files),
``predictions.json`` and ``consumed_batches.json.gz``.

The run, in this order (the order matters: Trax's ``Shuffle`` draws from
NumPy's global generator while the streams are read, and the Loop's
``random_seed`` reseeds it): the train and eval lists cycled;
``np.random.seed(0)`` and the tutorial pipeline over the train cycle;
``np.random.seed(1)`` and the same over the eval cycle; the tutorial's
model, ``TrainTask`` (``Adam(0.01)``, ``n_steps_per_checkpoint=100``),
``EvalTask`` (``n_eval_batches=20``) and ``Loop(..., random_seed=0)``;
``run(300)``. Both streams pass through a recorder that keeps every batch
the Loop pulls (it changes nothing).
"""

import argparse
import gzip
import itertools
import json
import pathlib
import shutil
import sys
import tempfile
import time

START = time.time()

import numpy as np  # pylint: disable=wrong-import-position

import trax  # pylint: disable=wrong-import-position
from trax import layers as tl  # pylint: disable=wrong-import-position
from trax.supervised import training  # pylint: disable=wrong-import-position

import oracle_common as oc  # pylint: disable=wrong-import-position

IMPORT_SECONDS = time.time() - START
TAG = "[generate_trax_run_dev]"
N_STEPS = 300
DESCRIPTION = ("Log-probabilities model(x) of the real Trax model after "
               "Loop.run(300) on dev_tweets.txt. See README.md.")
FRESH_HOW = ("np.random.seed(1); Serial(...tutorial pipeline...)"
             "(itertools.cycle(dev_tweets_eval list)); first 5 batches; "
             "log_probs = model(batch[0]) with the weights after step 300")
EXAMPLE_HOW = ("next(streamed_eval_batches)[0][0] from the eval stream the "
               "Loop kept consuming (after sample batch + 4 evals x 20 "
               "batches), run as model(x[None, :])")
HISTORY_NOTE = ("loop.history after run(300) ([step, value] pairs); the "
                "wall-clock dependent \"training/steps per second\" entries "
                "are left out.")
CONSUMED_DESCRIPTION = (
    "Every batch the Loop pulled from the train and eval streams during "
    "construction and run(300), in order (train[0] and eval[0] are the "
    "TrainTask/EvalTask sample batches; train[k] is consumed at step k). The "
    "last eval entry is the tutorial example batch drawn after training. "
    "Weights arrays are all ones (AddLossWeights) and are not repeated here.")


def build_loop(corpus_dir, vocab_dir, output_dir):
    """Steps 1-7 of the tutorial run (shared with generate_init_and_step)."""
    train_list = oc.read_tweets(corpus_dir / "dev_tweets.txt")
    eval_list = oc.read_tweets(corpus_dir / "dev_tweets_eval.txt")
    tweets = itertools.cycle(train_list)
    eval_tweets = itertools.cycle(eval_list)
    np.random.seed(0)
    streamed_batches = oc.Recorder(
        oc.tutorial_pipeline(trax.data, vocab_dir)(tweets))
    np.random.seed(1)
    streamed_eval_batches = oc.Recorder(
        oc.tutorial_pipeline(trax.data, vocab_dir)(eval_tweets))
    model = tl.Serial(tl.Embedding(vocab_size=8192, d_feature=256),
                      tl.Mean(axis=1), tl.Dense(2), tl.LogSoftmax())
    train_task, eval_task = oc.tutorial_tasks(
        tl, training, trax.optimizers, streamed_batches,
        streamed_eval_batches)
    loop = training.Loop(model, train_task, eval_tasks=[eval_task],
                         output_dir=str(output_dir), random_seed=0)
    return (model, loop, streamed_batches, streamed_eval_batches, train_task,
            eval_task, eval_list)


def consumed(batch):
    inputs, labels, weights = batch
    return {"shapes": [list(a.shape) for a in batch],
            "dtypes": [a.dtype.name for a in batch],
            "inputs": inputs.tolist(), "labels": labels.tolist(),
            "weights_all_one": bool(np.all(weights == 1))}


def main(argv=None):
    args = oc.out_arg(argparse.ArgumentParser(
        description=__doc__.splitlines()[0])).parse_args(argv)
    folder = args.out / "trax_oracle" / "trax_run_dev"
    with tempfile.TemporaryDirectory() as tmp, oc.tee_stdout() as tee:
        output_dir = pathlib.Path(tmp) / "trax_run_dev_outdir"
        print(f"{TAG} outdir={output_dir.name} trax import "
              f"{IMPORT_SECONDS:.2f}s")
        model, loop, train_rec, eval_rec, _, _, eval_list = build_loop(
            args.corpus_dir, args.vocab_dir, output_dir)
        start = time.time()
        loop.run(N_STEPS)
        print(f"{TAG} training_loop.run({N_STEPS}) wall clock: "
              f"{time.time() - start:.2f}s, final step {loop.step}")

        # The tutorial's example prediction, on the eval stream's next batch.
        example = next(eval_rec)[0][0]
        input_str = trax.data.detokenize(
            example, vocab_type="subword", vocab_file=oc.VOCAB_FILE,
            vocab_dir=str(args.vocab_dir) + "/")
        log_probs = np.asarray(model(example[None, :]))
        probs = np.exp(log_probs)
        print(f"example input_str: {input_str}")
        print(f"Model returned sentiment probabilities: {probs}")

        np.random.seed(1)
        fresh = oc.tutorial_pipeline(trax.data, args.vocab_dir)(
            itertools.cycle(eval_list))
        fresh_batches = []
        for index in range(5):
            inputs, labels, weights = next(fresh)
            out = np.asarray(model(inputs))
            fresh_batches.append({
                "batch_index": index, "inputs": oc.array(inputs),
                "labels": oc.array(labels), "weights": oc.array(weights),
                "log_probs": oc.array(out),
                "argmax": np.argmax(out, axis=-1).tolist()})
        predictions = {
            "description": DESCRIPTION,
            "env": oc.env("generate_trax_run_dev.py"),
            "final_step": int(loop.step),
            "model_repr": str(model),
            "fresh_eval_pipeline_first5": {"how": FRESH_HOW,
                                           "batches": fresh_batches},
            "tutorial_example_prediction": {
                "how": EXAMPLE_HOW, "input_ids": example.tolist(),
                "input_str": input_str, "log_probs": log_probs.tolist(),
                "probs": probs.tolist()},
            "loop_history": oc.history(loop.history),
            "loop_history_note": HISTORY_NOTE,
        }
        print(f"{TAG} consumed train batches {len(train_rec.pulled)}, eval "
              f"batches {len(eval_rec.pulled)}; total wall clock "
              f"{time.time() - START:.2f}s")
        shutil.rmtree(folder / "output_dir", ignore_errors=True)
        shutil.copytree(output_dir, folder / "output_dir")
    oc.write_json(folder / "predictions.json", predictions, indent=None)
    consumed_batches = {
        "description": CONSUMED_DESCRIPTION,
        "train": [consumed(b) for b in train_rec.pulled],
        "eval": [consumed(b) for b in eval_rec.pulled]}
    # No final newline in this one, as first written.
    text = json.dumps(consumed_batches, ensure_ascii=False)
    with gzip.GzipFile(folder / "consumed_batches.json.gz", "wb",
                       mtime=0) as f:
        f.write(text.encode("utf-8"))
    (folder / "stdout.txt").write_text(tee.getvalue(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
