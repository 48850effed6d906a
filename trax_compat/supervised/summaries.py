"""TensorBoard event files through CLU, written off the training thread.

``clu.metric_writers.SummaryWriter`` needs TensorFlow, whose import takes
seconds. ``BackgroundSummaryWriter`` is a ``MetricWriter`` that queues the
writes and lets a worker thread import CLU, create the real writer and
perform them, so training starts at once; ``close()`` waits until every
queued value is on disk.
"""

import queue
import threading

from trax_compat.supervised.step_log import interface

_CLOSE = object()


class BackgroundSummaryWriter(interface.MetricWriter):
    """Queues writes for a ``clu.metric_writers.SummaryWriter(logdir)``."""

    def __init__(self, logdir):
        self._logdir = logdir
        self._queue = queue.Queue()
        self._error = None
        self._closed = False
        self._thread = threading.Thread(target=self._work, daemon=True,
                                        name="trax_compat-summaries")
        self._thread.start()

    def _work(self):
        writer = None
        try:
            from clu import metric_writers  # pylint: disable=g-import-not-at-top
            writer = metric_writers.SummaryWriter(self._logdir)
        except Exception as e:  # pylint: disable=broad-except
            self._error = e
        while True:
            item = self._queue.get()
            if item is _CLOSE:
                break
            if writer is None:
                continue
            method, args = item
            try:
                getattr(writer, method)(*args)
            except Exception as e:  # pylint: disable=broad-except
                self._error = self._error or e
        if writer is not None:
            writer.close()

    def _put(self, method, *args):
        if self._closed:
            raise RuntimeError(f"Summary writer for {self._logdir} is closed.")
        self._queue.put((method, args))

    def write_scalars(self, step, scalars):
        self._put("write_scalars", step, dict(scalars))

    def write_texts(self, step, texts):
        self._put("write_texts", step, dict(texts))

    def write_summaries(self, step, values, metadata=None):
        self._put("write_summaries", step, values, metadata)

    def write_images(self, step, images):
        self._put("write_images", step, images)

    def write_videos(self, step, videos):
        self._put("write_videos", step, videos)

    def write_audios(self, step, audios, *, sample_rate):
        self._put("write_audios", step, audios, sample_rate)

    def write_histograms(self, step, arrays, num_buckets=None):
        self._put("write_histograms", step, arrays, num_buckets)

    def write_hparams(self, hparams):
        self._put("write_hparams", hparams)

    def flush(self):
        self._put("flush")

    def close(self):
        """Writes everything queued, then raises any error the worker met."""
        if not self._closed:
            self._closed = True
            self._queue.put(_CLOSE)
            self._thread.join()
        if self._error is not None:
            raise OSError(
                f"Writing TensorBoard files into {self._logdir} failed: "
                f"{self._error}") from self._error
