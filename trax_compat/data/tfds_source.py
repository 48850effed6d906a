"""TensorFlow Datasets as Trax reads them: data dirs, splits, hosts, loading.

Trax picks its splits like this (and ``TFDS``/``data_streams`` rely on it):

* train is the ``train`` split; eval is ``validation``, else ``test``
  (``glue/mnli``: ``validation_matched``, or ``validation_mismatched`` with
  ``use_alt_eval``; ``c4/multilingual``: ``en`` and ``en-validation``);
* ``eval_holdout_size`` > 0 takes eval from the end of train instead
  (``train[-k:]``) and trains on the rest;
* with several hosts each host trains on its contiguous slice of what is
  left for training (eval is not sharded).

The split arithmetic is plain Python (:func:`split_names`), so it is the
same with or without TensorFlow; loading goes through ``tfds.load``.
"""

import numbers
import os

from trax_compat.data import network_probe
from trax_compat.data import tf_deps

# Trax hard-codes these two datasets' eval splits.
_MNLI = "glue/mnli"
_C4_MULTILINGUAL = "c4/multilingual"

TFDS_DATA_DIR_ENV = "TFDS_DATA_DIR"


class DatasetNotPreparedError(FileNotFoundError):
    """A TFDS dataset has no prepared data in the data dir searched."""


def default_data_dir():
    """``$TFDS_DATA_DIR`` if set, else Trax's ``~/tensorflow_datasets/``."""
    return os.path.expanduser(os.environ.get(TFDS_DATA_DIR_ENV)
                              or "~/tensorflow_datasets/")


def not_prepared_message(dataset_name, data_dir):
    """How to get ``dataset_name`` into ``data_dir`` without network here."""
    return (
        "TFDS dataset %r is not prepared in data_dir %r, and it could not be "
        "downloaded here. Prepare it on a machine with network access:\n"
        "    python -c \"import tensorflow_datasets as tfds; "
        "tfds.builder(%r, data_dir='DIR').download_and_prepare()\"\n"
        "(or `tfds build %s --data_dir=DIR`), then copy DIR's %r folder "
        "into %r here (or point data_dir / $%s at the copy)."
        % (dataset_name, data_dir, dataset_name, dataset_name,
           dataset_name.split(":")[0].split("/")[0], data_dir,
           TFDS_DATA_DIR_ENV))


def holdout_examples(eval_holdout_size, n_train):
    """How many train examples ``eval_holdout_size`` sets aside for eval.

    A fraction in [0, 1) is Trax's meaning (``int(n_train * size)``); an int
    >= 1 counts examples (Trax only took fractions, and failed on those).
    """
    size = eval_holdout_size
    if isinstance(size, bool) or not isinstance(size, numbers.Real):
        raise TypeError("eval_holdout_size must be a fraction in [0, 1) or a "
                        "number of examples, got %r" % (size,))
    if isinstance(size, numbers.Integral) and size >= 1:
        count = int(size)
    elif 0 <= size < 1:
        count = int(n_train * size)
    else:
        raise ValueError("eval_holdout_size must be a fraction in [0, 1) or an "
                         "int number of examples, got %r" % (size,))
    if count >= n_train:
        raise ValueError("eval_holdout_size=%r holds out %d of the %d train "
                         "examples, leaving none to train on"
                         % (size, count, n_train))
    return count


def split_names(dataset_name, split_sizes, eval_holdout_size=0,
                use_alt_eval=False, subsplit=None):
    """(train split, eval split) strings for ``tfds.load``, as Trax picks them.

    Args:
        dataset_name: TFDS name (config and version allowed, ``c4/en:2.3.0``).
        split_sizes: {split name: number of examples} of the dataset.
        eval_holdout_size: see :func:`holdout_examples`.
        use_alt_eval: ``glue/mnli``'s mismatched validation split.
        subsplit: (start, end) fractions of the training part to use.
    """
    base = dataset_name.split(":")[0]
    multilingual = base == _C4_MULTILINGUAL
    train_split = "en" if multilingual else "train"
    if train_split not in split_sizes:
        raise ValueError("TFDS dataset %r has no %r split (it has %s); "
                         "training needs one."
                         % (dataset_name, train_split, sorted(split_sizes)))
    eval_split = None
    n_all = split_sizes[train_split]
    n_holdout = holdout_examples(eval_holdout_size, n_all)
    if n_holdout > 0 or subsplit is not None:
        start_frac, end_frac = subsplit if subsplit is not None else (0, 1)
        n_train = n_all - n_holdout
        start, end = int(n_train * start_frac), int(n_train * end_frac)
        if end - start < 1:
            raise ValueError("This host's share of the %d train examples of %r "
                             "is empty (slice %r); use fewer hosts."
                             % (n_train, dataset_name, subsplit))
        if n_holdout > 0:
            eval_split = "%s[-%d:]" % (train_split, n_holdout)
        train_split = "%s[%d:%d]" % (train_split, start, end)
    if base == _MNLI:
        eval_split = ("validation_mismatched" if use_alt_eval
                      else "validation_matched")
    elif multilingual:
        eval_split = "en-validation"
    elif eval_split is None:
        if "validation" in split_sizes:
            eval_split = "validation"
        elif "test" in split_sizes:
            eval_split = "test"
        else:
            raise ValueError(
                    "TFDS dataset %r has neither a 'validation' nor a 'test' "
                    "split (it has %s); pass eval_holdout_size to evaluate on "
                    "part of train." % (dataset_name, sorted(split_sizes)))
    return train_split, eval_split


def host_subsplit(host_id, n_hosts):
    """This host's (start, end) fraction of train; None on a single host."""
    import jax  # pylint: disable=g-import-not-at-top
    host_id = jax.process_index() if host_id is None else host_id
    n_hosts = n_hosts or jax.process_count()
    if not 0 <= host_id < max(n_hosts, 1):
        raise ValueError("host_id must be in [0, n_hosts=%d), got %r"
                         % (n_hosts, host_id))
    if n_hosts > 1:
        return (host_id / n_hosts, (host_id + 1) / n_hosts)
    return None


def builder(dataset_name, data_dir, what="TFDS"):
    """The TFDS builder, with a clear error if its data is not there."""
    tfds = tf_deps.tfds(what)
    b = tfds.builder(dataset_name, data_dir=data_dir)
    if not dict(b.info.splits):
        raise DatasetNotPreparedError(not_prepared_message(dataset_name,
                                                           data_dir))
    return b


def train_and_eval_dataset(dataset_name, data_dir, eval_holdout_size=0,
                           train_shuffle_files=True, eval_shuffle_files=False,
                           use_alt_eval=False, subsplit=None, what="TFDS"):
    """(train tf.data.Dataset, eval tf.data.Dataset, supervised keys or None).

    Supervised keys are Trax's ``([input], [target])`` lists.
    """
    tfds = tf_deps.tfds(what)
    b = builder(dataset_name, data_dir, what)
    info = b.info
    sizes = {name: split.num_examples for name, split in info.splits.items()}
    train_split, eval_split = split_names(dataset_name, sizes,
                                          eval_holdout_size, use_alt_eval,
                                          subsplit)
    # Downloading is prepare()'s job; loading never downloads.
    train = tfds.load(name=dataset_name, split=train_split, data_dir=data_dir,
                      shuffle_files=train_shuffle_files, download=False)
    valid = tfds.load(name=dataset_name, split=eval_split, data_dir=data_dir,
                      shuffle_files=eval_shuffle_files, download=False)
    keys = None
    if info.supervised_keys:
        keys = ([info.supervised_keys[0]], [info.supervised_keys[1]])
    return train, valid, keys


def prepare(dataset_name, data_dir=None, what="download_and_prepare"):
    """Trax's ``download_and_prepare``: the data dir to read ``dataset_name`` from.

    An explicit ``data_dir`` is used as it is (nothing is downloaded). Without
    one, the default dir (:func:`default_data_dir`) is used and the dataset is
    downloaded and prepared there unless it already is; if that fails, or
    the machine is plainly offline (:mod:`network_probe`; then nothing is
    tried), the error says how to prepare it elsewhere and copy it over.
    """
    if data_dir:
        return os.path.expanduser(data_dir)
    data_dir = default_data_dir()
    if dataset_name.startswith("t2t_"):
        tf_deps.requires("tensor2tensor", "T2T problem %r" % dataset_name,
                         "Tensor2Tensor problems are not supported; use a TFDS "
                         "dataset")
    tfds = tf_deps.tfds(what)
    b = tfds.builder(dataset_name, data_dir=data_dir)
    if _is_prepared(b):
        return data_dir
    offline = network_probe.offline_reason()
    if offline:  # Not minutes of TFDS's retries for the same answer.
        raise DatasetNotPreparedError(
                not_prepared_message(dataset_name, data_dir)
                + "\nNo download was tried: %s." % offline)
    try:
        b.download_and_prepare(download_dir=os.path.join(data_dir, "download"))
    except Exception as e:  # offline, blocked, or a manual-download dataset
        raise DatasetNotPreparedError(
                not_prepared_message(dataset_name, data_dir)
                + "\nThe download failed with: %s: %s"
                % (type(e).__name__, e)) from e
    return data_dir


def _is_prepared(b):
    is_prepared = getattr(b, "is_prepared", None)
    if is_prepared is not None:
        return is_prepared()
    return os.path.exists(os.path.join(b.data_dir, "dataset_info.json"))
