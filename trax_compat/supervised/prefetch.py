"""Producing training batches in a background thread.

The data pipeline (tokenizing, shuffling, bucketing: plain Python) then runs
while the device trains on earlier batches. Trax's ``Shuffle`` draws from
NumPy's global generator, and the train and eval pipelines share it, so the
order of draws decides which batches come out. To keep Trax's batches, a
prefetcher is given a *window* of steps that ends at the next eval: it pulls
exactly the batches of those steps and stops, so eval batches are drawn at
the same point of the global RNG's sequence as in Trax.
"""

import queue
import threading
import time

_DONE = object()


class WindowPrefetcher:
    """Pulls ``next_batch(step)`` for ``steps`` in a background thread.

    ``get()`` returns the batches in order and re-raises, at the step where
    it happened, any error the producer met (e.g. a stream that ran out).
    """

    def __init__(self, next_batch, steps, depth=64):
        self._queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._wait_seconds = 0.0
        self._thread = threading.Thread(
            target=self._produce, args=(next_batch, list(steps)),
            name="trax_compat-batch-prefetch", daemon=True)
        self._thread.start()

    @property
    def wait_seconds(self):
        """Time ``get()`` spent blocked: how long training waited on data."""
        return self._wait_seconds

    def _put(self, item):
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self, next_batch, steps):
        for step in steps:
            if self._stop.is_set():
                return
            try:
                item = (tuple(next_batch(step)), None)
            except BaseException as e:  # pylint: disable=broad-except
                self._put((None, e))
                return
            if not self._put(item):
                return
        self._put((_DONE, None))

    def get(self):
        start = time.perf_counter()
        batch, error = self._queue.get()
        self._wait_seconds += time.perf_counter() - start
        if error is not None:
            raise error
        if batch is _DONE:
            raise RuntimeError("The prefetch window is exhausted.")
        return batch

    def close(self):
        """Stops the producer (after its current batch) and waits for it."""
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get_nowait()
            except queue.Empty:
                pass
            self._thread.join(timeout=0.05)


class InlineBatches:
    """The same interface, pulling each batch when asked (no thread)."""

    def __init__(self, next_batch, steps):
        self._next_batch = next_batch
        self._steps = iter(steps)
        self._wait_seconds = 0.0

    @property
    def wait_seconds(self):
        return self._wait_seconds

    def get(self):
        start = time.perf_counter()
        try:
            return tuple(self._next_batch(next(self._steps)))
        finally:
            self._wait_seconds += time.perf_counter() - start

    def close(self):
        pass
