"""Trax's pre-``Loop`` input bundle: ``Inputs`` and the helpers that build
one (``make_inputs``, ``batcher``, ``batch_fn``), from ``trax.data.inputs``.

Trax registers these with gin; here they are plain functions with the same
arguments, so gin-era code calls them directly.
"""

import logging

from trax_compat import command_errors

from trax_compat.data.inputs import Parallel
from trax_compat.data.inputs import Serial
from trax_compat.data.inputs import add_loss_weights
from trax_compat.data.inputs import batch
from trax_compat.data.inputs import bucket_by_length
from trax_compat.data.inputs import shuffle

_log = logging.getLogger(__name__)


class Inputs:
    """Train/eval stream functions of a run, plus the shapes of a batch.

    Each stream argument is a function of ``n_devices`` returning an
    iterator of batches (tuples of arrays); ``eval_stream`` and
    ``train_eval_stream`` default to ``train_stream``. One training batch is
    read at construction to learn the shapes and dtypes.
    """

    def __init__(self, train_stream, eval_stream=None, train_eval_stream=None):
        if not callable(train_stream):
            raise ValueError(
                'Trax Inputs should be initialized with a function. Did you '
                'forget the n_devices argument? If your inputs do not use it, '
                'try lambda _: [your-inputs].')
        self._train_stream = train_stream
        self._eval_stream = eval_stream or train_stream
        self._train_eval_stream = train_eval_stream or train_stream
        example = next(train_stream(1))
        self._input_shape = tuple(example[0].shape)[1:]
        self._input_dtype = example[0].dtype
        self._target_shape = tuple(example[-1].shape)[1:]
        self._target_dtype = example[-1].dtype
        self._example_shape = [x.shape for x in example]
        self._example_dtype = [x.dtype for x in example]

    def train_stream(self, n_devices):
        return self._train_stream(n_devices)

    def eval_stream(self, n_devices):
        return self._eval_stream(n_devices)

    def train_eval_stream(self, n_devices):
        # As in Trax: the training stream, not ``train_eval_stream``.
        return self._train_stream(n_devices)

    @property
    def input_shape(self):
        """Shape of an input, without the batch dimension."""
        return self._input_shape

    @property
    def target_shape(self):
        """Shape of a target (the last element), without the batch dimension."""
        return self._target_shape

    @property
    def input_dtype(self):
        return self._input_dtype

    @property
    def target_dtype(self):
        return self._target_dtype

    @property
    def example_shape_dtype(self):
        """``([shape of each element], [dtype of each element])`` of a batch."""
        return self._example_shape, self._example_dtype


def _required(name, value, example):
    if value is None:
        raise TypeError(f'{name} is required (Trax takes it from gin), e.g. '
                        f'{example}.')


class StreamTypeError(TypeError):
    """A stream function bound where Trax takes an iterator (bad input)."""
    exit_code = command_errors.EXIT_BAD_INPUT


def _iterator(name, stream):
    """A stream function where an iterator belongs (``make_inputs.
    train_stream = @data.T5GlueTrainStream()``, as t5_glue_classification_
    mnli.gin binds it) fails in Trax at the first batch; here, naming it."""
    if stream is None or hasattr(stream, '__next__'):
        return
    raise StreamTypeError(
        f'{name} must be a list of stream stages or an iterator of '
        f'examples, got {getattr(stream, "__name__", type(stream).__name__)}'
        f' (a stream function, not called); put it in a list (gin: '
        f'[@data.T5GlueTrainStream()]) or pass its stream.')


def make_inputs(train_stream=None, eval_stream=None):
    """``Inputs`` from two streams (or lists of stream functions, chained)."""
    _required('make_inputs: train_stream', train_stream,
              'make_inputs(train_stream=[source, data.Batch(8)])')
    if isinstance(train_stream, (list, tuple)):
        train_stream = Serial(train_stream)()
    if isinstance(eval_stream, (list, tuple)):
        eval_stream = Serial(eval_stream)()
    _iterator('make_inputs: train_stream', train_stream)
    _iterator('make_inputs: eval_stream', eval_stream)
    eval_fn = None if eval_stream is None else (lambda _: eval_stream)
    return Inputs(train_stream=lambda _: train_stream, eval_stream=eval_fn)


def make_additional_stream(stream=None):
    """The stream of ``Serial(stream)`` (for additional tasks)."""
    _required('make_additional_stream: stream', stream,
              'make_additional_stream([source, data.Batch(8)])')
    return Serial(stream)()


def make_parallel_stream(streams=None, counters=None):
    """The stream of ``Parallel(streams, counters=counters)``."""
    _required('make_parallel_stream: streams', streams,
              'make_parallel_stream([source1, source2], counters=(1, 2))')
    return Parallel(streams, counters=counters)()


def batcher(data_streams=None, variable_shapes=True,  # pylint: disable=redefined-outer-name
            batch_size_per_device=32, batch_size=None, eval_batch_size=32,
            bucket_length=32, buckets=None,
            buckets_include_inputs_in_length=False, batch_shuffle_size=None,
            max_eval_length=None, id_to_mask=None, strict_pad_on_len=False):
    """``Inputs`` batching single-example streams with :func:`batch_fn`.

    ``data_streams`` is a pair ``(train_fn, eval_fn)`` of functions returning
    example iterators, or a function returning that pair.
    """
    _required('batcher: data_streams', data_streams,
              'batcher(data_streams=(lambda: train_examples(), '
              'lambda: eval_examples()))')
    if callable(data_streams):
        train_stream, eval_stream = data_streams()
    else:
        train_stream, eval_stream = data_streams

    def stream(make, training):
        return lambda n_devices: batch_fn(
            make(), training, n_devices, variable_shapes,
            batch_size_per_device, batch_size, eval_batch_size, bucket_length,
            buckets, buckets_include_inputs_in_length, batch_shuffle_size,
            max_eval_length, id_to_mask, strict_pad_on_len)

    return Inputs(train_stream=stream(train_stream, True),
                  eval_stream=stream(eval_stream, False),
                  train_eval_stream=stream(train_stream, False))


def batch_fn(dataset, training, n_devices, variable_shapes,
             batch_size_per_device=32, batch_size=None, eval_batch_size=32,
             bucket_length=32, buckets=None,
             buckets_include_inputs_in_length=False, batch_shuffle_size=None,
             max_eval_length=None, id_to_mask=None, strict_pad_on_len=False):
    """Batches (or buckets) an example stream and adds loss weights.

    Without ``buckets`` and with ``variable_shapes``, Trax's heuristic
    buckets around ``bucket_length`` are used; the length of an example is
    that of its target (and of its input, if
    ``buckets_include_inputs_in_length``). Batch sizes are rounded to
    multiples of ``n_devices``; training batches are shuffled with
    ``batch_shuffle_size`` when given.
    """
    batch_size = batch_size or batch_size_per_device * n_devices
    cur = batch_size if training else eval_batch_size
    cur = max(cur // n_devices, 1) * n_devices
    if buckets is None:
        _log.info('Heuristically setting bucketing to %s based on shapes '
                  'of target tensors.', variable_shapes)
        if variable_shapes:
            buckets = _buckets_for_length(bucket_length, cur, max_eval_length,
                                          n_devices, training)
    if buckets:
        _log.info('Bucketing with buckets %s.', str(buckets))

        def example_length(x):
            other = x[0].shape[0] if buckets_include_inputs_in_length else 0
            return max(x[1].shape[0], other)

        boundaries, batch_sizes = buckets
        dataset = bucket_by_length(dataset, example_length, boundaries,
                                   batch_sizes, strict_pad_on_len)
    else:
        _log.info('Not Bucketing cur_batch_size %d.', cur)
        dataset = batch(dataset, cur)
    if training and batch_shuffle_size is not None:
        dataset = shuffle(dataset, batch_shuffle_size)
    return add_loss_weights(dataset, id_to_mask)


def _buckets_for_length(bucket_length, batch_size, max_eval_length, n_devices,
                        training):
    """Trax's heuristic ``(boundaries, batch_sizes)``: lengths from
    ``bucket_length / 4`` to ``16 * bucket_length`` with batch sizes scaled
    inversely, then 1; for eval the last boundary is ``max_eval_length``."""
    boundaries = [bucket_length // 4, bucket_length // 2, bucket_length,
                  bucket_length * 2, bucket_length * 4, bucket_length * 8,
                  bucket_length * 16]
    if not training:
        max_eval_length = max_eval_length or bucket_length * 32
        boundaries = [b for b in boundaries if b < max_eval_length]
        boundaries += [max_eval_length, max_eval_length]
    sizes = [batch_size * 4, batch_size * 2, batch_size, batch_size // 2,
             batch_size // 4, batch_size // 8, batch_size // 16, 1]
    if not training:
        sizes = sizes[:len(boundaries)] + [1]
        sizes[-2] = batch_size // max_eval_length
    sizes = [max(b // n_devices, 1) * n_devices for b in sizes]
    return boundaries, sizes
