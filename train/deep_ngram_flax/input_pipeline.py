"""The tutorial's data: lines of text as padded character ids, in plain
Python and NumPy.

The batches are the tutorial's own: each line becomes its characters'
code points plus an end-of-sequence id 1, zero-padded to ``max_length``,
with a 0/1 mask of the non-padding positions; lines are drawn in an order
reshuffled at every pass, skipping those of ``max_length`` characters or
more. The tutorial shuffles both streams with Python's global ``random``;
here one ``random.Random`` plays that part, read in the order the Trax run
reads it (see ``create_datasets``), so the same seed gives the same batches.
"""

import os
import random

import numpy as np

EOS_ID = 1


def read_lines(data_dir):
    """Every non-blank line of ``data_dir/<data set>/*.txt``, stripped and
    lowercased, as the tutorial reads Kaggle's input folder; folders and
    files in sorted order (the tutorial takes the file system's order,
    which differs between machines, and with it the batches)."""
    if not data_dir or not os.path.isdir(data_dir):
        raise ValueError(
            f"config.data_dir={data_dir!r} is not a folder: set it to a "
            f"folder of data sets, each a folder of .txt files "
            f"(--config.data_dir=PATH).")
    lines = []
    for data_set in sorted(os.listdir(data_dir)):
        folder = os.path.join(data_dir, data_set)
        for filename in sorted(os.listdir(folder)):
            if not filename.endswith(".txt"):
                continue
            with open(os.path.join(folder, filename)) as f:
                lines += [line.strip().lower() for line in f if line.strip()]
    return lines


def line_to_ids(line):
    return [ord(c) for c in line] + [EOS_ID]


def _batches(lines, batch_size, max_length, rng):
    """Endless ``{'inputs', 'targets', 'weights'}`` batches of ``lines``;
    the order is shuffled (by ``rng``) on the first read and at every pass."""
    if not any(len(line) < max_length for line in lines):
        raise ValueError(
            f"No line is shorter than max_length={max_length} characters, "
            f"so no batch can be made: raise config.max_length.")
    order = list(range(len(lines)))
    rng.shuffle(order)
    position = 0
    chosen = []
    while True:
        if position == len(order):
            position = 0
            rng.shuffle(order)
        line = lines[order[position]]
        position += 1
        if len(line) < max_length:
            chosen.append(line)
        if len(chosen) == batch_size:
            ids = np.zeros((batch_size, max_length), np.int32)
            for row, text in enumerate(chosen):
                line_ids = line_to_ids(text)
                ids[row, :len(line_ids)] = line_ids
            # Targets are the inputs: the model shifts them right itself.
            yield {"inputs": ids, "targets": ids,
                   "weights": (ids != 0).astype(np.int32)}
            chosen = []


def create_datasets(config, lines=None):
    """Returns ``(train_iter, eval_iter)``, endless batch iterators over the
    lines of ``config.data_dir`` (or ``lines``), the last
    ``num_eval_lines`` of them held out for evaluation.

    Read in the Trax run's order, so that the shared generator is in the
    same state at every shuffle. Seeded with ``data_seed``, it is drawn
    from as the tutorial's ``train_model`` draws from Python's: every Trax
    layer constructor draws one number; the three of
    ``tl.CrossEntropyLoss()`` come before the train lines' first shuffle
    (``TrainTask`` reads one batch when built, never trained on), the six
    of the eval metrics before the eval lines' (``EvalTask`` does the
    same); then ``Loop(random_seed=seed)`` seeds the generator again and
    builds six layers (model+loss, its accelerated copy, the eval model
    with a Branch of two metrics) before the first step.
    """
    if lines is None:
        lines = read_lines(config.data_dir)
    if not 0 < config.num_eval_lines < len(lines):
        raise ValueError(
            f"config.num_eval_lines={config.num_eval_lines} must be between "
            f"1 and the number of lines read less one ({len(lines) - 1}).")
    train_lines = lines[:-config.num_eval_lines]
    eval_lines = lines[-config.num_eval_lines:]
    rng = random.Random(config.data_seed)
    train_iter = _batches(train_lines, config.batch_size, config.max_length,
                          rng)
    eval_iter = _batches(eval_lines, config.batch_size, config.max_length,
                         rng)
    _draw_as_trax_layers(rng, 3)
    next(train_iter)
    _draw_as_trax_layers(rng, 6)
    next(eval_iter)
    rng.seed(config.seed)
    _draw_as_trax_layers(rng, 6)
    return train_iter, eval_iter


def _draw_as_trax_layers(rng, n_layers):
    for _ in range(n_layers):
        rng.randint(0, 2**31 - 1)
