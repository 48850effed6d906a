"""Letting Ctrl-C land between training steps, not inside one.

The jitted train step donates the old train state's buffers: a
``KeyboardInterrupt`` raised after the step has taken them but before the
Loop holds the new state would leave it pointing at deleted arrays. And an
interrupt raised inside a Python data pipeline kills its generators for
good. :class:`DeferredInterrupts` makes sections atomic: a SIGINT arriving
inside one is remembered and raised as ``KeyboardInterrupt`` when the
outermost section ends, with the Loop whole again.

A second Ctrl-C inside a plain section acts at once (a pipeline that hangs
can still be stopped); inside a ``strict`` section (the train-state swap,
which only dispatches work) nothing is raised before it ends.
"""

import contextlib
import signal
import sys
import threading


class DeferredInterrupts:
    """While installed (``with``), :meth:`atomic` sections defer SIGINT.

    Only the main thread can install signal handlers; elsewhere this does
    nothing (Python delivers SIGINT to the main thread anyway).
    """

    def __init__(self, notice=True):
        self._depth = 0
        self._strict = 0
        self._pending = False
        self._previous = None
        self._notice = notice

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    @property
    def pending(self):
        return self._pending

    def _handle(self, signum, frame):
        previous = self._previous
        if previous == signal.SIG_IGN:
            return
        if self._depth and (self._strict or not self._pending):
            if not self._pending and self._notice:
                stream = sys.stderr if self._notice is True else self._notice
                stream.write("\nInterrupt received: stopping after the "
                             "current step (Ctrl-C again to stop at once).\n")
                stream.flush()
            self._pending = True
            return
        if callable(previous) and previous is not signal.default_int_handler:
            previous(signum, frame)  # The program's own handler decides.
            return
        self._pending = False
        raise KeyboardInterrupt

    @contextlib.contextmanager
    def atomic(self, strict=False):
        self._depth += 1
        self._strict += int(strict)
        try:
            yield
        finally:
            self._depth -= 1
            self._strict -= int(strict)
        if not self._depth and self._pending:
            self._pending = False
            raise KeyboardInterrupt
