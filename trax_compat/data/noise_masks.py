"""Span-corruption (T5-style masked language model) stages of
``trax.data.inputs``: chunking, random noise masks and sentinel targets.

The random draws are Trax's: ``np.random.shuffle`` on NumPy's global
generator, which ``seed1``/``seed2`` reseed (globally) when given.
"""

import math

import numpy as np


def _segment_lengths(num_items, num_segments, seed):
    """Random split of ``num_items`` into ``num_segments`` positive parts."""
    first_of_segment = np.arange(num_items - 1) < num_segments - 1
    if seed is not None:
        np.random.seed(seed)
    np.random.shuffle(first_of_segment)
    segment_id = np.cumsum(np.pad(first_of_segment, (1, 0), mode='constant'))
    # Start index of each segment, then the length of each.
    starts = np.concatenate(
        [[0], np.flatnonzero(np.diff(segment_id, prepend=segment_id[0]))])
    return np.add.reduceat(np.ones_like(segment_id), starts, axis=0)


def random_spans_noise_mask(length, noise_density=0.15,
                            mean_noise_span_length=3.0, seed1=None,
                            seed2=None, example=None):
    """Boolean mask of ``length`` with about ``noise_density`` of it noise,
    in spans of mean length ``mean_noise_span_length`` (T5's recipe).

    ``example`` is accepted for debugging hooks and ignored.
    """
    del example
    orig_length = length
    length = max(length, 2)  # At least one noise and one non-noise token.
    num_noise = min(max(int(round(length * noise_density)), 1), length - 1)
    num_spans = max(int(round(num_noise / mean_noise_span_length)), 1)
    num_nonnoise = length - num_noise
    noise_lengths = _segment_lengths(num_noise, num_spans, seed1)
    nonnoise_lengths = _segment_lengths(num_nonnoise, num_spans, seed2)
    interleaved = np.reshape(
        np.stack([nonnoise_lengths, noise_lengths], axis=1), [num_spans * 2])
    span_starts = np.cumsum(interleaved)[:-1]
    start_indicator = np.zeros(length)
    start_indicator[span_starts] = 1
    is_noise = np.equal(np.cumsum(start_indicator) % 2, 1)
    return is_noise[:orig_length]


def generate_random_noise_mask(noise_density=0.15, mean_noise_span_length=3.0,
                               seed1=None, seed2=None):
    """Stream function: ``tokens`` -> ``(tokens, noise_mask)``."""
    def _mask(generator):
        for example in generator:
            yield (example, random_spans_noise_mask(
                len(example), noise_density=noise_density,
                mean_noise_span_length=mean_noise_span_length,
                seed1=seed1, seed2=seed2, example=example))
    return _mask


def consume_noise_mask(vocab_size=32100):
    """Stream function: ``(tokens, noise_mask)`` -> ``(inputs, targets)``.

    Each noise span of the inputs (and each non-noise span of the targets)
    becomes one sentinel id, counting down from ``vocab_size - 1``.
    """
    def spans_to_sentinels(tokens, mask):
        prev = np.pad(mask[:-1], [1, 0], mode='constant',
                      constant_values=False)
        first = np.logical_and(mask, np.logical_not(prev))
        rest = np.logical_and(mask, prev)
        sentinel = vocab_size - np.cumsum(first)
        return np.where(first, sentinel, tokens)[np.logical_not(rest)]

    def _consume(generator):
        for tokens, mask in generator:
            yield (spans_to_sentinels(tokens, mask),
                   spans_to_sentinels(tokens, np.logical_not(mask)))
    return _consume


def generate_sequential_chunks(max_length=None):
    """Stream function cutting each sequence into pieces of ``max_length``."""
    if max_length is None or max_length < 1:
        raise ValueError(
            f'generate_sequential_chunks needs max_length >= 1, got '
            f'{max_length!r}.')

    def _chunks(generator):
        for example in generator:
            n = len(example)
            if n <= max_length:
                yield example
                continue
            for i in range(int(math.ceil(n / max_length))):
                yield example[max_length * i:min(max_length * (i + 1), n)]
    return _chunks


def MLM(vocab_size=None, max_length=None, noise_density=0.15,  # pylint: disable=invalid-name
        mean_noise_span_length=3.0):
    """Chunks, masks and turns sequences into span-corruption pairs."""
    # pylint: disable=import-outside-toplevel
    from trax_compat.data.inputs import Serial
    return Serial(
        generate_sequential_chunks(max_length=max_length),
        generate_random_noise_mask(
            noise_density=noise_density,
            mean_noise_span_length=mean_noise_span_length),
        consume_noise_mask(vocab_size=vocab_size),
    )
