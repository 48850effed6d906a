"""Synthetic ``Inputs`` of ``trax.data.inputs`` for debugging and toy tasks:
random batches, sequence copying, addition of numbers, sinusoids.

They draw from NumPy's global generator (and ``sequence_copy_inputs`` also
from Python's ``random``) in Trax's order, so a seeded run gives Trax's
batches.
"""

import math
import random

import numpy as np

from trax_compat.data.inputs import pad_to_max_dims
from trax_compat.data.inputs_bundle import Inputs

_FLOAT_DTYPES = (np.float16, np.float32, np.float64)


def _need(**kwargs):
    missing = [k for k, v in kwargs.items() if v is None]
    if missing:
        raise TypeError(f'missing required argument(s): {", ".join(missing)} '
                        f'(Trax takes them from gin; pass them directly).')


def _is_float(dtype):
    try:
        return np.dtype(dtype) in [np.dtype(d) for d in _FLOAT_DTYPES]
    except TypeError:
        return False


def _randint_inclusive(low, high, size):
    # NumPy's deprecated random_integers(low, high, size): the same draws.
    return np.random.randint(low, int(high) + 1, size=size, dtype='l')


def random_inputs(input_shape=None, input_dtype=np.int32, input_range=(0, 255),
                  output_shape=None, output_dtype=np.int32,
                  output_range=(0, 9)):
    """``Inputs`` of endless random ``(input, output)`` batches.

    Shapes include the batch dimension; float dtypes draw uniformly in the
    range, integer dtypes draw integers in it (both ends included).
    """
    _need(input_shape=input_shape, output_shape=output_shape)

    def random_minibatches(n_devices):
        if input_range[0] % n_devices != 0:
            raise ValueError(
                f'random_inputs: input_range[0] ({input_range[0]}) must be '
                f'divisible by n_devices ({n_devices}).')
        rand = np.random.uniform if _is_float(input_dtype) else \
            _randint_inclusive
        while True:
            inp = rand(input_range[0], input_range[1], input_shape)
            out = rand(output_range[0], output_range[1], output_shape)
            yield inp.astype(input_dtype), out.astype(output_dtype)

    return Inputs(random_minibatches)


def _pad_to_multiple_of(x, y, axis):
    """Zero-pads ``x`` along ``axis`` to a multiple of ``y``."""
    pad = int(np.ceil(x.shape[axis] / float(y)) * y) - x.shape[axis]
    widths = [(0, 0)] * x.ndim
    widths[axis] = (0, pad)
    return np.pad(x, widths, mode='constant', constant_values=x.dtype.type(0))


def sequence_copy_inputs(vocab_size=None, batch_size=None, train_length=None,
                         eval_min_length=None, eval_max_length=None,
                         reverse=False, pad_to_multiple=32):
    """``Inputs`` for copying: ``0 w 0 w`` (or ``0 w 0 reversed(w)``), w of
    symbols in ``[1, vocab_size - 1)``; weights mark the second copy."""
    _need(vocab_size=vocab_size, batch_size=batch_size,
          train_length=train_length, eval_min_length=eval_min_length,
          eval_max_length=eval_max_length)

    def random_minibatches(lengths):
        while True:
            length = random.choice(lengths)
            w_len = length // 2 - 1
            w = np.random.randint(low=1, high=vocab_size - 1,
                                  size=(batch_size, w_len))
            zero = np.zeros([batch_size, 1], np.int32)
            weights = np.concatenate([np.zeros((batch_size, w_len + 2)),
                                      np.ones((batch_size, w_len))], axis=1)
            second = np.flip(w, axis=1) if reverse else w
            x = np.concatenate([zero, w, zero, second], axis=1)
            x = _pad_to_multiple_of(x, pad_to_multiple, 1)
            weights = _pad_to_multiple_of(weights, pad_to_multiple, 1)
            yield (x, x, weights)

    train_lengths = [2 * (i + 2) for i in range(train_length - 1)]
    eval_lengths = [2 * (i + 1) for i in range(eval_min_length,
                                               eval_max_length)]
    return Inputs(train_stream=lambda _: random_minibatches(train_lengths),
                  eval_stream=lambda _: random_minibatches(eval_lengths))


def simple_sequence_copy_inputs(vocab_size=None, batch_size=None,
                                train_length=None, eval_min_length=None,
                                eval_max_length=None, pad_to_multiple=32):
    """``Inputs`` for copying ``w`` to itself, w of symbols in
    ``[1, vocab_size - 1)`` and of a random length."""
    _need(vocab_size=vocab_size, batch_size=batch_size,
          train_length=train_length, eval_min_length=eval_min_length,
          eval_max_length=eval_max_length)

    def random_minibatches(lengths):
        while True:
            length = random.choice(lengths)
            x = np.random.randint(low=1, high=vocab_size - 1,
                                  size=(batch_size, length))
            weights = np.ones((batch_size, length))
            x = _pad_to_multiple_of(x, pad_to_multiple, 1)
            weights = _pad_to_multiple_of(weights, pad_to_multiple, 1)
            yield (x, x, weights)

    train_lengths = list(range(1, train_length + 1))
    eval_lengths = list(range(eval_min_length, eval_max_length + 1))
    return Inputs(train_stream=lambda _: random_minibatches(train_lengths),
                  eval_stream=lambda _: random_minibatches(eval_lengths))


def lower_endian_to_number(l, base):
    """Digits (least significant first) in ``base`` -> the number."""
    return sum(d * base ** i for i, d in enumerate(l))


def number_to_lower_endian(n, base):
    """The number -> its digits in ``base``, least significant first."""
    digits = [n % base]
    while n >= base:
        n //= base
        digits.append(n % base)
    return digits


def random_number_lower_endian(length, base):
    """Random ``length``-digit number as digits, least significant first;
    the last (most significant) digit is non-zero unless ``length == 1``."""
    if length == 1:
        return [np.random.randint(base)]
    prefix = [np.random.randint(base) for _ in range(length - 1)]
    return prefix + [np.random.randint(base - 1) + 1]


def addition_input_stream(vocab_size=None, batch_size=None, min_length=None,
                          max_length=None, pad_to_multiple=32, encdec=False):
    """Endless batches for learning addition: ``<S> x + y <S> (x + y)``.

    Digits are in base ``vocab_size - 3`` shifted by one (0 pads);
    ``vocab_size - 2`` is ``+`` and ``vocab_size - 1`` is ``<S>``. With
    ``encdec`` the batches are ``(x + y, sum, weights)`` instead.
    """
    _need(vocab_size=vocab_size, batch_size=batch_size, min_length=min_length,
          max_length=max_length)
    base = vocab_size - 3

    def single_example(max_len, min_len):
        while True:
            add_len = (min_len - 1) // 2
            l1 = np.random.randint((max_len - add_len + 1) // 2) + add_len
            l2 = np.random.randint(max_len - l1 - 1) + 1
            n1 = random_number_lower_endian(l1, base)
            n2 = random_number_lower_endian(l2, base)
            total = (lower_endian_to_number(n1, base) +
                     lower_endian_to_number(n2, base))
            inp = n1 + [base] + n2
            tgt = number_to_lower_endian(total, base)
            if not encdec:
                x = [base + 2] + [i + 1 for i in inp] + [base + 2] + \
                    [i + 1 for i in tgt]
                weights = [0] * (len(inp) + 2) + [1] * len(tgt)
                return (np.array(x), np.array(x), np.array(weights))
            example = (np.array([i + 1 for i in inp]),
                       np.array([i + 1 for i in tgt]),
                       np.array([1] * len(tgt)))
            if all(len(a) <= max_len for a in example):
                return example
            # Too long: draw again, as Trax does.

    def batches(max_len, min_len):
        if max_len < 3 or min_len < 3:
            raise ValueError('Maximum/minimum length must be at least 3.')
        while True:
            examples = [single_example(max_len, min_len)
                        for _ in range(batch_size)]
            yield tuple(pad_to_max_dims(column, boundary=pad_to_multiple,
                                        strict_pad_on_len=True)
                        for column in zip(*examples))

    return batches(max_length, min_length)


def addition_inputs(vocab_size=None, batch_size=None, train_length=None,
                    eval_min_length=None, eval_max_length=None,
                    pad_to_multiple=32, encdec=False):
    """``Inputs`` of :func:`addition_input_stream`: training on lengths 3 to
    ``train_length``, eval on ``eval_min_length`` to ``eval_max_length``."""
    _need(vocab_size=vocab_size, batch_size=batch_size,
          train_length=train_length, eval_min_length=eval_min_length,
          eval_max_length=eval_max_length)
    train = addition_input_stream(vocab_size, batch_size, 3, train_length,
                                  pad_to_multiple, encdec)
    evals = addition_input_stream(vocab_size, batch_size, eval_min_length,
                                  eval_max_length, pad_to_multiple, encdec)
    return Inputs(train_stream=lambda _: train, eval_stream=lambda _: evals)


def sine_inputs(batch_size=None, length=None, max_phase=2 * math.pi,
                min_period=0.1, max_period=10.0):
    """``Inputs`` of ``(obs, zero actions, obs, ones mask)`` batches, obs
    sinusoids of random phase and log-uniform period."""
    _need(batch_size=batch_size, length=length)

    def random_series():
        while True:
            phase = np.random.uniform(0, max_phase)
            period = np.exp(np.random.uniform(np.log(min_period),
                                              np.log(max_period)))
            yield np.sin((np.arange(length) - phase) / period)

    def random_minibatches(_):
        rows = []
        for series in random_series():
            rows.append(series)
            if len(rows) == batch_size:
                obs = np.stack(rows)
                rows.clear()
                yield (obs, np.zeros_like(obs, dtype=np.int32), obs,
                       np.ones_like(obs))

    return Inputs(train_stream=random_minibatches,
                  eval_stream=random_minibatches)
