"""Per-example stream stages of ``trax.data.inputs``: reshaping, padding,
casting and regrouping the tuples of a stream (NumPy only).

Each capitalised name returns a stream function (iterator -> iterator), as in
Trax; the behaviour, including Trax's quirks noted below, follows
``trax.data.inputs`` so that pipelines give the same arrays.
"""

import logging

import numpy as np

_log = logging.getLogger(__name__)


def Dup():  # pylint: disable=invalid-name
    """Copies the first element: ``(x, *rest)`` -> ``(x, x, *rest)``."""
    def _dup(generator):
        for x, *rest in generator:
            yield (x, x, *rest)
    return _dup


def FilterEmptyExamples(axes=None, debug=False):  # pylint: disable=invalid-name
    """Drops examples where an element (of ``axes``, default all) has shape (0,)."""
    def _filter(generator):
        for example in generator:
            empty = any(example[i].shape == (0,)
                        for i in range(len(example))
                        if axes is None or i in axes)
            if not empty:
                yield example
            elif debug:
                _log.info('Filtered example: %r', example)
    return _filter


def TruncateToLength(len_map=None):  # pylint: disable=invalid-name
    """Resizes elements whose shape exceeds ``len_map[key]`` (a shape tuple).

    As in Trax, "exceeds" compares shapes as tuples (lexicographically) and
    the element becomes ``np.resize(x, len_map[key])``, which refills from the
    start when the new shape holds more values. A bare array is wrapped in a
    1-tuple.
    """
    def _truncate(generator):
        for example in generator:
            if isinstance(example, np.ndarray):
                example = (example,)
            if not isinstance(example, (list, tuple)):
                raise ValueError(
                    f'TruncateToLength expects tuples (or arrays) of arrays, '
                    f'got {type(example).__name__}: {example!r}')
            example = list(example)
            for key, max_shape in (len_map or {}).items():
                if example[key].shape > tuple(max_shape):
                    example[key] = np.resize(example[key], max_shape)
            yield tuple(example)
    return _truncate


def _pad_len(length, target, multiple):
    if multiple:
        # Trax pads by the remainder (length % target), which reaches a
        # multiple only when the remainder is at most half of ``target``.
        return length - (length // target) * target
    return max(0, target - length)


def PadToLength(len_map=None, pad_value=0, multiple=False):  # pylint: disable=invalid-name
    """Pads 1-D elements at the end to ``len_map[key]`` with ``pad_value[key]``.

    ``pad_value`` is a dict keyed like ``len_map`` (an int applies to every
    key). With ``multiple=True`` the padding is Trax's: ``length % value``
    more entries.
    """
    if len_map is None:
        raise ValueError('PadToLength needs len_map, e.g. {0: 128, 1: 128}.')

    def value_for(key):
        return pad_value if np.isscalar(pad_value) else pad_value[key]

    def _pad(generator):
        for example in generator:
            if isinstance(example, (list, tuple)):
                example = list(example)
                for key, target in len_map.items():
                    n = _pad_len(example[key].shape[0], target, multiple)
                    example[key] = np.pad(example[key], (0, n),
                                          mode='constant',
                                          constant_values=value_for(key))
                yield tuple(example)
            elif isinstance(example, np.ndarray):
                n = _pad_len(example.shape[0], len_map[0], multiple)
                yield np.pad(example, (0, n), mode='constant',
                             constant_values=value_for(0))
            else:
                raise ValueError(
                    f"example isn't nparray, but should be: {example!r}")
    return _pad


def ConcatenateToLMInput(pad_to_length=None):  # pylint: disable=invalid-name
    """``(inputs, targets)`` -> ``(x, x, weights)`` with x their concatenation.

    The weights are 0 on the inputs, 1 on the targets and 0 on the padding
    up to ``pad_to_length``. A 1-tuple or a bare array ``x`` becomes
    ``(x, x)``.
    """
    def _concat(generator):
        for example in generator:
            if isinstance(example, (list, tuple)) and len(example) == 2:
                inp, tgt = example
                joined = np.concatenate((inp, tgt), axis=-1)
                weights = np.concatenate((np.zeros_like(inp),
                                          np.ones_like(tgt)))
                if pad_to_length is not None:
                    n = pad_to_length - (inp.shape[0] + tgt.shape[0])
                    if n < 0:
                        raise ValueError(
                            f'Example lengths ({inp.shape[0]}, '
                            f'{tgt.shape[0]}) longer than pad_to_length '
                            f'({pad_to_length}).')
                    weights = np.pad(weights, (0, n), 'constant')
                    joined = np.pad(joined, (0, n), 'constant')
                yield (joined, joined, weights)
            elif isinstance(example, (list, tuple)) and len(example) == 1:
                yield (example[0], example[0])
            elif isinstance(example, np.ndarray):
                yield (example, example)
            else:
                raise ValueError(
                    f'Unknown input to ConcatenateToLMInput: {example!r}')
    return _concat


def CastTo(dtype=np.int32, indices=(0, 1,), debug=False):  # pylint: disable=invalid-name
    """Casts the tuple elements at ``indices`` to ``dtype``."""
    def _cast(generator):
        for count, example in enumerate(generator, 1):
            if not isinstance(example, tuple):
                raise ValueError(
                    f'CastTo expects tuples of arrays, got '
                    f'{type(example).__name__}.')
            example = list(example)
            changed = []
            for i in range(len(example)):
                if i in indices and example[i].dtype != dtype:
                    if not (example[i].dtype == np.int64 and
                            dtype == np.int32):
                        changed.append((i, example[i].dtype))
                    example[i] = example[i].astype(dtype)
            if debug and changed:
                _log.info('dtype mismatch in example[%d] = %r was earlier: %r',
                          count, example, changed)
            yield tuple(example)
    return _cast


def AppendValue(val=None):  # pylint: disable=invalid-name
    """Appends ``val[key]`` to element ``key`` along the last axis.

    A bare array gets ``val[0]`` appended (flattened, as ``np.append`` does).
    """
    def _append(generator):
        for example in generator:
            if isinstance(example, tuple):
                example = list(example)
                for key, value in (val or {}).items():
                    example[key] = np.append(example[key], value, -1)
                yield tuple(example)
            elif isinstance(example, np.ndarray):
                yield np.append(example, val[0])
            else:
                raise ValueError(
                    f"example isn't nparray, but should be: {example!r}")
    return _append


def UnBatch():  # pylint: disable=invalid-name
    """Splits batches (tuples of arrays with one leading size) into examples."""
    def _unbatch(generator):
        for batched in generator:
            if not isinstance(batched, tuple):
                raise ValueError(
                    f'UnBatch expects tuples of batched arrays, got '
                    f'{type(batched).__name__}.')
            sizes = {x.shape[0] for x in batched}
            if len(sizes) != 1:
                raise ValueError(
                    f'UnBatch needs one batch size across the tuple, got '
                    f'leading sizes {[x.shape[0] for x in batched]}.')
            for i in range(sizes.pop()):
                yield tuple(x[i] for x in batched)
    return _unbatch


def PrefixLM(input_length=128, output_length=512):  # pylint: disable=invalid-name
    """Cuts each sequence into ``(inputs, targets)`` pieces.

    Pieces are ``input_length`` long inputs followed by up to
    ``output_length`` targets; a tail too short for a full input plus at
    least one target is dropped.
    """
    def _prefix_lm(generator):
        for example in generator:
            n = len(example)
            begin = 0
            while begin + input_length < n:
                mid = begin + input_length
                end = min(mid + output_length, n)
                yield (example[begin:mid], example[mid:end])
                begin = end
    return _prefix_lm
