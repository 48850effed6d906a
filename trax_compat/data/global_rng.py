"""``np.random.randint(n)`` on NumPy's global RNG, without its call overhead.

Trax's ``Shuffle`` draws one ``np.random.randint(queue_size)`` per example,
and that call costs microseconds (argument and dtype handling around a few
nanoseconds of work). :func:`randint_fn` returns a function giving the same
values and leaving the global RNG in the same state, by running NumPy's
legacy bounded-integer algorithm itself on the global bit generator's raw
32-bit output: for a range ``0..n-1``, draw 32-bit words, mask each with
the smallest all-ones mask covering ``n - 1``, and reject values ``>= n``.

This only holds for the MT19937 bit generator (the default, and what
``np.random.seed`` uses), whose raw output is exactly the 32-bit word the
legacy algorithm consumes. Whenever the global bit generator is anything
else (``np.random.set_bit_generator``), the function calls
``np.random.randint`` itself. (NumPy holds the generator's lock for a
whole rejection loop, this holds it per 32-bit word; that only matters when
several threads draw from the global RNG at once, which is not
reproducible either way.)
"""

import numpy as np

_MT19937 = np.random.MT19937
_get_bit_generator = np.random.get_bit_generator


def randint_fn(n):
    """A function of no arguments returning ``np.random.randint(n)``'s draw.

    Values, consumed RNG state and return type (a Python ``int``) are those
    of ``np.random.randint(n)``; ``n`` must be a positive ``int``.
    """
    if n < 1 or n > 0xFFFFFFFF:
        # Outside the 32-bit path: let NumPy handle (or reject) it.
        return lambda: np.random.randint(n)
    high = n - 1
    if high == 0:
        # NumPy returns 0 without drawing for a one-value range.
        return lambda: 0
    mask = (1 << high.bit_length()) - 1

    def draw():
        bit_gen = _get_bit_generator()
        if bit_gen.__class__ is not _MT19937:
            return int(np.random.randint(n))
        raw = bit_gen.random_raw
        value = raw() & mask
        while value > high:
            value = raw() & mask
        return value
    return draw
