"""The Deep N-Gram tutorial's data, model and ``train_model`` cells (read
verbatim from ``trax_oracle/deep_ngram/cells.json``) run on tiny cases,
with whichever package ``trax`` is: real Trax in
``generate_deep_ngram_flax.py``, trax_compat in
``tests/test_deep_ngram_flax.py`` (the native program's twin).

What differs from the notebook, each to make a run repeatable:

* the ``Loop`` gets ``random_seed`` (the notebook leaves it unset, and Trax
  then seeds from the clock) and writes no checkpoints (it evaluates at
  every step still);
* Python's generator is seeded (``data_seed``) before ``train_model``;
* folders are listed sorted (the notebook lists them in the file system's
  order, which differs between machines; the native program sorts too).

Batches are recorded as read (shape, dtype and SHA-256 of each array).
"""

import functools
import hashlib
import importlib
import itertools
import os
import random
import types

import numpy as np

N_LINES = 100
# Two tiny configurations, each reshuffling both streams within its steps
# (3-4 train batches per pass of the lines, 1-3 eval batches).
CASES = {
    "gru": dict(cell="gru", data_seed=5, seed=3, batch_size=13,
                max_length=24, d_model=16, n_layers=2, num_eval_lines=40,
                num_train_steps=5),
    "lstm": dict(cell="lstm", data_seed=11, seed=0, batch_size=17,
                 max_length=30, d_model=8, n_layers=3, num_eval_lines=30,
                 num_train_steps=5),
}
# Native metric name -> Trax's history (mode, metric).
TRAX_NAMES = {"train_loss": ("train", "metrics/CrossEntropyLoss"),
              "eval_loss": ("eval", "metrics/CrossEntropyLoss"),
              "eval_accuracy": ("eval", "metrics/Accuracy")}


def digest(x):
    x = np.ascontiguousarray(np.asarray(x))
    return {"shape": list(x.shape), "dtype": x.dtype.name,
            "sha256": hashlib.sha256(x.tobytes()).hexdigest()}


def batch_digest(batch):
    return [digest(a) for a in batch]


def _never(step):
    del step
    return False


_SORTED_OS = types.SimpleNamespace(
    listdir=lambda path: sorted(os.listdir(path)), path=os.path)


def run(trax, cells, corpus, output_dir, case):
    """Runs ``train_model`` for ``case``; returns the reads, the initial
    weights (a list of arrays, in Trax's order), the history and the
    model (holding the trained weights) and the lines read."""
    training = importlib.import_module(trax.__name__ + ".supervised.training")
    ns = {"os": _SORTED_OS, "trax": trax, "np": trax.fastmath.numpy,
          "rnd": random, "tl": trax.layers, "itertools": itertools,
          "training": types.SimpleNamespace(
              TrainTask=training.TrainTask, EvalTask=training.EvalTask,
              Loop=functools.partial(training.Loop,
                                     random_seed=case["seed"],
                                     checkpoint_at=_never))}
    for cell in cells[3:9]:  # read, lowercase, tensors, generator, models
        exec(cell.replace("/kaggle/input", str(corpus)), ns)  # pylint: disable=exec-used
    n_eval = case["num_eval_lines"]
    lines = list(ns["lines"])
    ns["eval_lines"], ns["lines"] = lines[-n_eval:], lines[:-n_eval]
    exec(cells[13].replace("from trax.supervised import training\n", ""),  # pylint: disable=exec-used
         ns)
    make = {"gru": ns["GRULM"], "lstm": ns["LSTMLM"]}[case["cell"]]
    model = make(d_model=case["d_model"], n_layers=case["n_layers"])
    reads, tags = [], iter(["train", "eval"])

    def tapped_generator(*args, **kwargs):
        tag = next(tags)
        for batch in ns["data_generator"](*args, **kwargs):
            reads.append([tag, batch_digest(batch)])
            yield batch

    random.seed(case["data_seed"])
    loop = ns["train_model"](model, tapped_generator,
                             batch_size=case["batch_size"],
                             max_length=case["max_length"], n_steps=0,
                             output_dir=str(output_dir))
    initial = [np.asarray(w) for w in _leaves(loop.model.weights)]
    loop.run(n_steps=case["num_train_steps"])
    history = {ours: [[int(s), float(v)] for s, v in loop.history.get(*k)]
               for ours, k in TRAX_NAMES.items()}
    return dict(reads=reads, initial_weights=initial, history=history,
                model=model, lines=lines)


def _leaves(tree):
    # Trax's weights: nested tuples/lists of arrays; empty tuples for
    # layers without weights.
    if isinstance(tree, (tuple, list)):
        return [leaf for sub in tree for leaf in _leaves(sub)]
    if isinstance(tree, dict):
        raise TypeError("unexpected dict in Trax weights")
    return [] if tree is None else [tree]
