"""The tutorial's data: tokenized, shuffled, length-filtered and bucketed
batches of tweets, as dicts of NumPy arrays.

The batches come from the Trax-exact pipeline (``trax_compat.data``), the one
thing this program takes from trax_compat. That is deliberate: the point of
this program is to train on exactly the batches the Trax tutorial trained on,
and those are defined by Trax's subword tokenizer (``en_8k.subword``) and by
``Shuffle`` and ``BucketByLength`` drawing from NumPy's global generator
while the streams are read. A ``tf.data`` or grain pipeline would give other
batches (and so another log). For new data, any pipeline that yields the
same dicts will do.
"""

import itertools

import numpy as np

from train import corpus
from train import data_files


def load_examples(config):
    """(train, eval) lists of ``(text, label)`` pairs."""
    if config.train_file is None:
        train, evals = corpus.default_corpus()
        as_pairs = lambda pairs: [(str(t), np.int64(y)) for t, y in pairs]
        return as_pairs(train), as_pairs(evals)
    if config.eval_file is None:
        raise ValueError("config.eval_file is None but config.train_file is "
                         "set; pass both 'text,label' files.")
    return (data_files.read_labeled_lines(config.train_file, config.n_classes),
            data_files.read_labeled_lines(config.eval_file, config.n_classes))


def _tutorial_stream(examples, config):
    from trax_compat import data  # pylint: disable=g-import-not-at-top
    pipeline = data.Serial(
        data.Tokenize(vocab_file=config.vocab_file, keys=[0],
                      vocab_dir=config.vocab_dir),
        data.Shuffle(),
        data.FilterByLength(max_length=config.max_length, length_keys=[0]),
        data.BucketByLength(boundaries=list(config.bucket_boundaries),
                            batch_sizes=list(config.bucket_batch_sizes),
                            length_keys=[0]),
        data.AddLossWeights())
    for inputs, labels, weights in pipeline(itertools.cycle(examples)):
        yield {"inputs": inputs, "labels": labels, "weights": weights}


def create_datasets(config):
    """Returns ``(train_iter, eval_iter, init_batch)``: endless iterators of
    ``{'inputs', 'labels', 'weights'}`` batches and a batch to initialize
    shapes with.

    The reads happen in the Trax run's order, so that the global NumPy
    generator is in the same state at every shuffle: the streams are built
    after seeding with ``seed`` and ``seed + 1`` as in the tutorial; Trax's
    ``TrainTask`` and ``EvalTask`` each read one batch when they are built
    (``init_batch`` and one eval batch, dropped), and Trax's ``Loop`` then
    seeds NumPy with ``seed`` again.
    """
    train_examples, eval_examples = load_examples(config)
    np.random.seed(config.seed)
    train_iter = _tutorial_stream(train_examples, config)
    np.random.seed(config.seed + 1)
    eval_iter = _tutorial_stream(eval_examples, config)
    init_batch = next(train_iter)
    next(eval_iter)
    np.random.seed(config.seed)
    return train_iter, eval_iter, init_batch


def detokenize(ids, config):
    """Token ids back to text, with the tokenizer the batches were made by."""
    from trax_compat import data  # pylint: disable=g-import-not-at-top
    return data.detokenize(ids, vocab_file=config.vocab_file,
                           vocab_dir=config.vocab_dir)
