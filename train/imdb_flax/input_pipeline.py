"""The notebook's data: IMDB reviews read from TFDS, then tokenized,
shuffled, length-filtered and bucketed, as dicts of NumPy arrays.

Reading is plain ``tfds.load`` + ``tf.data`` (what Trax's ``TFDS`` does
underneath). The steps after it are the Trax-exact ones from
``trax_compat.data``, deliberately: the batches Trax trained on are defined
by Trax's subword tokenizer (``en_8k.subword``) and by ``Shuffle`` and
``BucketByLength`` drawing from NumPy's global generator as the streams are
read; a ``tf.data`` shuffle or bucketing would give other batches, and so
another log. For new data, any pipeline that yields the same dicts will do.
"""

import os

import numpy as np


def _examples(split, config):
    """Endless ``(text, label)`` pairs of ``split``, in the stored order.

    Files are not shuffled: TFDS would shuffle them with TensorFlow's own
    unseeded randomness (Trax's ``TFDS(shuffle_train=True)``, its default),
    and the run would not be reproducible."""
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    # As Trax's TFDS: a given data_dir must hold the prepared dataset;
    # otherwise $TFDS_DATA_DIR (read now, not when tfds was imported) or
    # ~/tensorflow_datasets, downloading there if need be.
    data_dir = (config.data_dir or os.environ.get("TFDS_DATA_DIR")
                or os.path.expanduser("~/tensorflow_datasets"))
    dataset = tfds.load(config.dataset, split=split, data_dir=data_dir,
                        shuffle_files=False,
                        download=config.data_dir is None)
    dataset = dataset.map(lambda x: (x["text"], x["label"])).repeat()
    return iter(tfds.as_numpy(dataset))


def _batches(examples, config):
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
    for inputs, labels, weights in pipeline(examples):
        yield {"inputs": inputs, "labels": labels, "weights": weights}


def create_datasets(config):
    """Returns ``(train_iter, eval_iter, example_batch)``: endless iterators
    of ``{'inputs', 'labels', 'weights'}`` batches, and the batch the
    notebook shows the shapes of.

    Everything is read in the notebook's order, so that NumPy's generator is
    in the same state at every shuffle: after seeding with ``data_seed``,
    the notebook prints one raw training example (cell 17) before its
    pipeline starts, then reads one training batch to show its shapes (cell
    19); Trax's ``TrainTask`` and ``EvalTask`` each read one batch when they
    are built, and its ``Loop`` then seeds NumPy with ``seed``.
    """
    np.random.seed(config.data_seed)
    train_examples = _examples("train", config)
    eval_examples = _examples("test", config)
    next(train_examples)
    train_iter = _batches(train_examples, config)
    eval_iter = _batches(eval_examples, config)
    example_batch = next(train_iter)
    next(train_iter)
    next(eval_iter)
    np.random.seed(config.seed)
    return train_iter, eval_iter, example_batch


def detokenize(ids, config):
    """Token ids back to text, with the tokenizer the batches were made by."""
    from trax_compat import data  # pylint: disable=g-import-not-at-top
    return data.detokenize(ids, vocab_file=config.vocab_file,
                           vocab_dir=config.vocab_dir)
