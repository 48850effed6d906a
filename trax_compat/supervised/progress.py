"""A live progress line for terminals, between the step log's blocks.

``Step 1234/2000 | 412.3 steps/s | next eval in 0:00:01 | done in 0:00:02``
is redrawn in place (carriage return, erase line) at most every
``min_interval`` seconds and erased before the step log writes, so the log
itself stays exactly Trax's. :func:`for_stream` gives one only for a
terminal: in captured output and in ``log.txt`` it never appears.
"""

import time


def _clock(seconds):
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "?"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class TerminalProgress:
    """Draws the line on ``stream`` (a terminal)."""

    def __init__(self, stream, min_interval=0.1):
        self._stream = stream
        self._min_interval = min_interval
        self._shown = False
        self._last_draw = None
        self._window = None  # (time, step) when the current rate began

    def start(self, step):
        """Restarts the steps/s measurement (e.g. after an eval)."""
        self._window = (time.perf_counter(), step)

    def update(self, step, next_eval, last):
        now = time.perf_counter()
        if self._window is None:
            self.start(step - 1)
        if (self._last_draw is not None
                and now - self._last_draw < self._min_interval):
            return
        start_time, start_step = self._window
        rate = (step - start_step) / (now - start_time) if now > start_time \
            else None
        eta = lambda target: ((target - step) / rate) if rate else None
        parts = [f"Step {step}/{last}",
                 f"{rate:.1f} steps/s" if rate else "? steps/s"]
        if next_eval is not None and next_eval < last:
            parts.append(f"next eval in {_clock(eta(next_eval))}")
        parts.append(f"done in {_clock(eta(last))}")
        self._stream.write("\r\x1b[K" + " | ".join(parts))
        self._stream.flush()
        self._shown = True
        self._last_draw = now

    def clear(self):
        if self._shown:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._shown = False
            self._last_draw = None


def for_stream(stream):
    """A :class:`TerminalProgress` when ``stream`` is a terminal, else None."""
    isatty = getattr(stream, "isatty", None)
    try:
        return TerminalProgress(stream) if isatty and isatty() else None
    except ValueError:  # A closed stream.
        return None
