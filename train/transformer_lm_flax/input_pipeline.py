"""The data: text files, one example per line, as language-model batches
``{'inputs', 'targets', 'weights'}`` of shape ``(batch_size, max_length)``.

Each line is tokenized with the subword vocabulary, gets the end id (1)
appended, is dropped if longer than ``max_length`` and otherwise padded
with 0; ``batch_size`` lines in file order make a batch (a last partial
one is dropped) and the files are read again and again. Inputs and targets
are the same ids (the model shifts its input right); the weights are 0 on
padding. These are the batches Trax's ``Tokenize -> AppendValue ->
FilterByLength -> PadToLength -> Batch -> AddLossWeights(id_to_mask=0)``
makes of the same lines. Plain Python and NumPy: the files are small, and
a ``tf.data`` pipeline would need TensorFlow for no gain.
"""

import os

import numpy as np

from train import corpus
from train.transformer_lm_flax import vocab as vocab_lib


def load_vocab(config):
    vocab_dir = config.vocab_dir or vocab_lib.default_vocab_dir()
    return vocab_lib.SubwordVocab(os.path.join(vocab_dir, config.vocab_file))


def text_lines(path):
    """The file's lines (without line ends), over and over."""
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"no text file at {path}: set config.train_file/eval_file to "
            "files with one example per line")
    while True:
        with open(path, encoding="utf-8") as f:
            for line in f:
                yield line.rstrip("\n")


def batches(lines, vocab, config):
    """Endless batches of the ``lines``' ids (see the module docstring)."""
    length, rows = config.max_length, []
    for text in lines:
        ids = vocab.encode(text) + [vocab_lib.EOS_ID]
        if len(ids) > length:
            continue
        rows.append(ids + [vocab_lib.PAD_ID] * (length - len(ids)))
        if len(rows) == config.batch_size:
            ids = np.array(rows, np.int64)
            rows = []
            yield {"inputs": ids, "targets": ids,
                   "weights": (ids != vocab_lib.PAD_ID).astype(np.float32)}


def write_default_corpus(data_dir):
    """The synthetic tweets of ``train/corpus.py`` as two text files;
    returns their paths."""
    train, evals = corpus.default_corpus()
    paths = []
    for name, examples in (("train.txt", train), ("eval.txt", evals)):
        path = os.path.join(data_dir, name)
        if not os.path.exists(path):
            os.makedirs(data_dir, exist_ok=True)
            with open(path, "w", encoding="utf-8", newline="\n") as f:
                f.writelines(text + "\n" for text, _ in examples)
        paths.append(path)
    return paths


def create_datasets(config, workdir):
    """Returns ``(train_iter, eval_iter, vocab)``.

    The first batch of each stream is read and dropped: Trax's ``TrainTask``
    and ``EvalTask`` each read one batch when they are built (to learn the
    input shapes), so a Trax run trains and evaluates from the second one.
    Dropping them keeps this program on the batches of its Trax twin."""
    train_file, eval_file = config.train_file, config.eval_file
    if train_file is None or eval_file is None:
        default_train, default_eval = write_default_corpus(
            os.path.join(workdir, "data"))
        train_file = train_file or default_train
        eval_file = eval_file or default_eval
    vocab = load_vocab(config)
    if config.vocab_size < vocab.vocab_size:
        # The model would clip the larger ids silently.
        raise ValueError(
            f"config.vocab_size is {config.vocab_size} but "
            f"{config.vocab_file} has {vocab.vocab_size} ids: set "
            f"config.vocab_size to at least {vocab.vocab_size}")
    train_iter = batches(text_lines(train_file), vocab, config)
    eval_iter = batches(text_lines(eval_file), vocab, config)
    next(train_iter)
    next(eval_iter)
    return train_iter, eval_iter, vocab
