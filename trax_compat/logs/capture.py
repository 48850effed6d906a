"""Keeps a copy of what is printed to stdout (the Loop's step log) while
still printing it."""

import contextlib
import io
import sys


class _Tee(io.TextIOBase):
    def __init__(self, stream, copy):
        self._stream = stream
        self._copy = copy

    def write(self, text):
        self._copy.write(text)
        return self._stream.write(text)

    def flush(self):
        self._stream.flush()

    def isatty(self):
        return self._stream.isatty()

    @property
    def encoding(self):
        return getattr(self._stream, "encoding", "utf-8")


@contextlib.contextmanager
def tee_stdout(enabled=True):
    """``with tee_stdout() as copy: ...``; ``copy.getvalue()`` is the text.

    The Loop's step-log writer looks ``sys.stdout`` up at each write, so its
    lines reach both the terminal and the copy. With ``enabled=False`` stdout
    is left alone and ``copy`` is None.
    """
    if not enabled:
        yield None
        return
    copy = io.StringIO()
    original = sys.stdout
    sys.stdout = _Tee(original, copy)
    try:
        yield copy
    finally:
        sys.stdout = original
