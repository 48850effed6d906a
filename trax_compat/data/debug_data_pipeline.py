"""Trax's ``debug_pipeline``: a decorator that logs the examples a stream
function yields. Trax switches it on through gin; here pass ``debug=True``."""

import functools
import logging

_log = logging.getLogger(__name__)


def debug_pipeline(f, debug=False, method='pow', log_prefix=None):
    """Wraps the generator function ``f`` to log its examples.

    Args:
      f: a function returning an iterator of examples.
      debug: without it, ``f`` is returned unchanged (Trax's default).
      method: ``'pow'`` logs examples 1, 2, 4, 8, ...; ``'every'`` logs all.
      log_prefix: text in front of each line (default: ``f``'s name).
    """
    if not debug:
        return f
    if method not in ('pow', 'every'):
        raise ValueError(f"debug_pipeline method must be 'pow' or 'every', "
                         f"got {method!r}.")

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        prefix = log_prefix or f.__name__
        for count, example in enumerate(f(*args, **kwargs), 1):
            if method == 'every' or count & (count - 1) == 0:
                _log.info('%s example[%d] = %r', prefix, count, example)
            yield example

    return wrapper
