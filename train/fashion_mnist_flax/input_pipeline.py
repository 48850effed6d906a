"""The tutorial's data: Fashion-MNIST images and labels from TFDS, the
training stream shuffled, both in batches of 8, as dicts of NumPy arrays.

Plain ``tfds.load`` and NumPy. The shuffle is Trax's streaming shuffle,
written out here: it draws from NumPy's global generator, so after the same
seed it gives the batches of the Trax run (a ``tf.data`` shuffle would give
others).
"""

import os

import numpy as np


def _examples(split, config):
    """Endless ``(image, label)`` pairs of ``split``, in the stored order.

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
    dataset = dataset.map(lambda x: (x["image"], x["label"])).repeat()
    return iter(tfds.as_numpy(dataset))


def shuffle(examples, queue_size):
    """Trax's streaming shuffle: fill a queue, then for each new example
    yield a uniformly drawn slot's and put the new one there."""
    queue = [next(examples) for _ in range(queue_size)]
    for example in examples:
        slot = np.random.randint(queue_size)
        yield queue[slot]
        queue[slot] = example


def batch(examples, batch_size):
    while True:
        images, labels = zip(*(next(examples) for _ in range(batch_size)))
        yield {"image": np.stack(images), "label": np.stack(labels)}


def create_datasets(config):
    """Returns ``(train_iter, eval_iter, example_batch)``: endless iterators
    of ``{'image', 'label'}`` batches, and the batch the tutorial shows.

    Read in the tutorial's order, so that NumPy's generator is in the same
    state at every shuffle: after seeding with ``data_seed``, the tutorial
    reads one training batch to print its shapes; Trax's ``TrainTask`` and
    ``EvalTask`` each read one batch when they are built, and its ``Loop``
    then seeds NumPy with ``seed``.
    """
    np.random.seed(config.data_seed)
    train_iter = batch(shuffle(_examples("train", config),
                               config.shuffle_queue_size), config.batch_size)
    eval_iter = batch(_examples("test", config), config.batch_size)
    example_batch = next(train_iter)
    next(train_iter)
    next(eval_iter)
    np.random.seed(config.seed)
    return train_iter, eval_iter, example_batch
