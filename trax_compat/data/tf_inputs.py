"""Trax's ``trax.data.tf_inputs``: TFDS sources and TF-side preprocessing.

``TFDS`` and ``data_streams`` read TensorFlow Datasets; TensorFlow and TFDS
(the ``[tfds]`` extra) are imported by the first call that needs them, never
by importing this module. Text tokenization, BERT inputs and the
``tf.data`` preprocessing functions live in their own modules and are
re-exported here under Trax's names.
"""

import os
import random

import numpy as np

from trax_compat import gin_registry
from trax_compat.data import tf_deps
from trax_compat.data import tfds_source
from trax_compat.data.text_tokenize import (  # noqa: F401
        Tokenize, detokenize, get_vocab, tokenize, vocab_size)
from trax_compat.data.bert_inputs import (  # noqa: F401
        BertDoubleSentenceInputs, BertNextSentencePredictionInputs,
        BertSingleSentenceInputs, CorpusToRandomChunks, CreateBertInputs,
        mask_random_tokens)
from trax_compat.data.tf_preprocess import (  # noqa: F401
        add_eos_to_output_features, bair_robot_pushing_hparams,
        bair_robot_pushing_preprocess, c4_bare_preprocess_fn, c4_preprocess,
        cifar10_augmentation_flatten_preprocess,
        cifar10_augmentation_preprocess, cifar10_no_augmentation_preprocess,
        concat_preprocess, downsampled_imagenet_flatten_bare_preprocess,
        filter_dataset_on_len, generic_text_dataset_preprocess_fn,
        get_t5_preprocessor_by_name, lm1b_preprocess, lm_token_preprocessing,
        no_preprocess, pad_dataset_to_length, squeeze_targets_preprocess,
        t5_data, truncate_dataset_on_len, wmt_concat_preprocess,
        wmt_preprocess)
from trax_compat.data.tfds_source import DatasetNotPreparedError  # noqa: F401
from trax_compat.data.glue_streams import (  # noqa: F401
        BertGlueEvalStream, BertGlueTrainStream, CreateDropInputs,
        T5GlueEvalStream, T5GlueEvalStreamsParallel, T5GlueEvalTasks,
        T5GlueTrainStream, T5GlueTrainStreamsParallel)
from trax_compat.data.reasoning_inputs import (  # noqa: F401
        CreateAnnotatedDropInputs, CreateAquaInputs, CreateMathQAInputs)
from trax_compat.data.mathqa import (  # noqa: F401
        compute_nums, compute_ops, compute_program, compute_result,
        compute_single_result, convert_float_to_mathqa, convert_to_subtract,
        execute_mathqa_dsl_program, execute_mathqa_program, is_number,
        process_single_mathqa_example, single_op_to_python_command)

# Trax starts each training stream of ``data_streams`` at a random offset
# below this, so that replicas do not read in lock-step.
_MAX_SKIP_EXAMPLES = 1e5
# Examples per read from TensorFlow when their shapes are fixed.
_READ_BLOCK = 64


_T2T_HINT = ("pip install tensor2tensor (unmaintained, and built for "
             "TensorFlow 1.x-era packages); or read the data as a TFDS "
             "dataset instead (trax_compat.data.TFDS, data_streams)")


def t2t_problems():
    """Tensor2Tensor's ``problems_colab`` module (T2T's problem registry),
    or a clear error naming the ``tensor2tensor`` package."""
    return tf_deps.requires("tensor2tensor.problems_colab", "t2t_problems",
                            _T2T_HINT)


def download_and_prepare(dataset_name, data_dir):
    """The data dir to read ``dataset_name`` from, preparing it if needed.

    With ``data_dir`` given, that dir (nothing is downloaded). Without it,
    ``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets/``, where the dataset is
    downloaded and prepared unless it already is; offline, a
    :class:`DatasetNotPreparedError` says how to prepare it elsewhere.
    """
    return tfds_source.prepare(dataset_name, data_dir)


def TFDS(dataset_name, data_dir=None, tfds_preprocess_fn=None, keys=None,  # pylint: disable=invalid-name
         train=True, use_alt_eval=False, shuffle_train=True, host_id=None,
         n_hosts=None, eval_holdout_size=0):
    """A data source over TFDS dataset ``dataset_name``, as Trax's ``TFDS``.

    Args:
        dataset_name: TFDS name, with config and version if wanted
            (``'glue/mnli'``, ``'c4/en:2.3.0'``).
        data_dir: where the prepared dataset lives (see
            :func:`download_and_prepare` for the default).
        tfds_preprocess_fn: applied to the chosen split's ``tf.data.Dataset``
            of feature dicts, before ``keys`` are selected.
        keys: the features to yield, in this order, as a tuple.
        train: the train split; else the eval split (``validation``, else
            ``test``, or the held-out end of train).
        use_alt_eval: ``glue/mnli``'s ``validation_mismatched``.
        shuffle_train: let TFDS shuffle the train files (eval never is).
        host_id, n_hosts: this process's slice of train; default JAX's
            process index and count.
        eval_holdout_size: a fraction (or an int count) of train held out as
            the eval split.

    Returns:
        ``gen(generator=None)``: each call starts an endless (repeating)
        iterator of NumPy tuples, one value per key; text comes as bytes.
    """
    tf = tf_deps.tf("trax_compat.data.TFDS")
    tfds = tf_deps.tfds("trax_compat.data.TFDS")
    if keys is None or isinstance(keys, (str, bytes)):
        raise ValueError("TFDS needs keys: a tuple of the feature names to "
                         "yield, e.g. keys=('image', 'label'); got %r"
                         % (keys,))
    keys = tuple(keys)
    data_dir = download_and_prepare(dataset_name, data_dir)
    subsplit = tfds_source.host_subsplit(host_id, n_hosts)
    train_data, eval_data, _ = tfds_source.train_and_eval_dataset(
            dataset_name, data_dir, eval_holdout_size,
            train_shuffle_files=shuffle_train, use_alt_eval=use_alt_eval,
            subsplit=subsplit)
    dataset = train_data if train else eval_data
    if tfds_preprocess_fn is not None:
        dataset = tfds_preprocess_fn(dataset)
    spec = getattr(dataset, "element_spec", None)
    if isinstance(spec, dict):
        unknown = [k for k in keys if k not in spec]
        if unknown:
            raise KeyError("TFDS %r has no feature(s) %s; keys must be among "
                           "%s" % (dataset_name, unknown, sorted(spec)))
    dataset = dataset.map(lambda example: tuple(example[k] for k in keys))
    dataset = dataset.repeat()
    fixed = all(s.shape.is_fully_defined()
                for s in tf.nest.flatten(dataset.element_spec))
    if fixed:
        # Examples of fixed shapes (scalars, text, images) are read from TF
        # in blocks and split here: the same values and types, without
        # TF's per-element cost. Variable-length ones are read one by one.
        dataset = dataset.batch(_READ_BLOCK)
    # Reading ahead changes nothing yielded, only when it is read.
    dataset = dataset.prefetch(tf.data.AUTOTUNE)

    def gen(generator=None):
        del generator
        if not fixed:
            yield from tfds.as_numpy(dataset)
            return
        for block in tfds.as_numpy(dataset):
            yield from zip(*block)

    return gen


def dataset_to_stream(dataset, input_name):
    """(features, targets) pairs -> (input, targets[, mask]) NumPy tuples.

    As in Trax, a scalar uint8 input or target becomes int32.
    """
    tfds = tf_deps.tfds("dataset_to_stream")
    for features, targets in tfds.as_numpy(dataset):
        inputs = features[input_name]
        if isinstance(inputs, np.uint8):
            inputs = inputs.astype(np.int32)
        if isinstance(targets, np.uint8):
            targets = targets.astype(np.int32)
        if "mask" in features:
            yield inputs, targets, features["mask"]
        else:
            yield inputs, targets


def _pairs(dataset, target_names, training, shuffle_buffer_size,
           preprocess_fn, bare_preprocess_fn):
    """Trax's train/eval pipeline: (features, targets), repeat, shuffle."""
    # Trax's preprocessing functions are gin configurables: their gin
    # bindings (e.g. generic_text_dataset_preprocess_fn.spm_path) apply here.
    preprocess_fn = gin_registry.configurable(preprocess_fn)
    if bare_preprocess_fn is not None:
        bare_preprocess_fn = gin_registry.configurable(bare_preprocess_fn)
        dataset = bare_preprocess_fn(dataset, training)
    if len(target_names) == 1:
        name = target_names[0]
        dataset = dataset.map(lambda x: (x, x[name]))
    else:
        dataset = dataset.map(lambda x: (x, {n: x[n] for n in target_names}))
    dataset = dataset.repeat()
    if training:
        dataset = dataset.skip(random.randint(0, int(_MAX_SKIP_EXAMPLES)))
    dataset = preprocess_fn(dataset, training)
    return dataset.shuffle(shuffle_buffer_size).prefetch(8)


def data_streams(dataset_name, data_dir=None, preprocess_fn=no_preprocess,
                 bare_preprocess_fn=None, shuffle_buffer_size=1024,
                 eval_holdout_size=0, input_name=None, target_name=None):
    """``(train_stream, eval_stream)``: functions giving NumPy streams.

    Each example is ``(inputs, targets)`` or ``(inputs, targets, mask)``
    (see :func:`dataset_to_stream`). Inputs and targets default to the
    dataset's supervised keys. The train stream starts at a random offset
    (Python's ``random``) and both are shuffled with ``shuffle_buffer_size``.
    """
    data_dir = download_and_prepare(dataset_name, data_dir)
    built = []

    def stream(which):
        if not built:
            train, valid, keys = tfds_source.train_and_eval_dataset(
                    dataset_name, data_dir, eval_holdout_size,
                    what="data_streams")
            inputs = ([input_name] if input_name is not None
                      else keys[0] if keys is not None else [None])
            targets = ([target_name] if target_name is not None
                       else keys[1] if keys is not None else [None])
            built.append((
                    _pairs(train, targets, True, shuffle_buffer_size,
                           preprocess_fn, bare_preprocess_fn),
                    _pairs(valid, targets, False, shuffle_buffer_size,
                           preprocess_fn, bare_preprocess_fn),
                    inputs[0]))
        train_ds, eval_ds, input_key = built[0]
        return dataset_to_stream(eval_ds if which == "eval" else train_ds,
                                 input_key)

    return (lambda: stream("train")), (lambda: stream("eval"))


def _to_unicode(value):
    # Invalid UTF-8 is dropped, so an example never loses a whole field.
    return str(value, encoding="utf-8", errors="ignore")


def ConvertToUnicode(keys=None):  # pylint: disable=invalid-name
    """Stream function decoding bytes (all, or those at ``keys``) as UTF-8."""
    def convert(stream):
        for example in stream:
            if isinstance(example, (list, tuple)):
                yield tuple(_to_unicode(x) if keys is None or i in keys else x
                            for i, x in enumerate(example))
            elif isinstance(example, dict):
                yield {k: (_to_unicode(v) if keys is None or k in keys else v)
                       for k, v in example.items()}
            else:
                yield _to_unicode(example)
    return convert


def sentencepiece_tokenize(stream, spm_path=None, extra_ids=0):
    """Texts (or 1-tuples of text) -> arrays of SentencePiece ids.

    ``spm_path`` defaults to T5's model (which needs the ``t5`` package).
    """
    if spm_path is None:
        spm_path = t5_data("sentencepiece_tokenize without spm_path"
                           ).DEFAULT_SPM_PATH
    vocab = get_vocab("sentencepiece", os.path.basename(spm_path),
                      os.path.dirname(spm_path), extra_ids=extra_ids)
    for example in stream:
        if isinstance(example, tuple):
            example = example[0]
        yield np.array(vocab.encode(example))


def SentencePieceTokenize(spm_path=None, extra_ids=0):  # pylint: disable=invalid-name
    """Stream function form of :func:`sentencepiece_tokenize`."""
    return lambda stream: sentencepiece_tokenize(stream, spm_path=spm_path,
                                                 extra_ids=extra_ids)
