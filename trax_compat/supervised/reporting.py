"""Where a Loop's numbers go: one CLU ``MetricWriter`` per task that fans
out to the step log, the history and TensorBoard.

Keys follow Trax's summary names: ``metrics/<name>`` (the loss or an eval
metric: shown in the step log, kept in history, written to TensorBoard) and
``training/<name>`` (learning rate, steps per second, optimizer metrics:
history and TensorBoard only, as Trax keeps them off stdout).
"""

from trax_compat.supervised import step_log

interface = step_log.interface

METRICS_PREFIX = "metrics/"


class FanOutWriter(interface.MetricWriter):
    """Writes everything to each of ``writers`` (None entries skipped).

    CLU has the same writer (``clu.metric_writers.MultiWriter``), but its
    package cannot be imported without TensorFlow (see step_log), so this
    is a small copy of the idea on the same interface.
    """

    def __init__(self, writers):
        self._writers = [w for w in writers if w is not None]

    def _each(self, method, *args, **kwargs):
        for writer in self._writers:
            getattr(writer, method)(*args, **kwargs)

    def write_summaries(self, step, values, metadata=None):
        self._each("write_summaries", step, values, metadata)

    def write_scalars(self, step, scalars):
        self._each("write_scalars", step, scalars)

    def write_images(self, step, images):
        self._each("write_images", step, images)

    def write_videos(self, step, videos):
        self._each("write_videos", step, videos)

    def write_audios(self, step, audios, *, sample_rate):
        self._each("write_audios", step, audios, sample_rate=sample_rate)

    def write_texts(self, step, texts):
        self._each("write_texts", step, texts)

    def write_histograms(self, step, arrays, num_buckets=None):
        self._each("write_histograms", step, arrays, num_buckets)

    def write_hparams(self, hparams):
        self._each("write_hparams", hparams)

    def flush(self):
        self._each("flush")

    def close(self):
        self._each("close")


class HistoryWriter(step_log.TextWriter):
    """Appends every scalar to ``history`` under ``mode`` (Trax's
    ``History``: ``history.get('eval', 'metrics/Accuracy')``)."""

    def __init__(self, history, mode):
        self._history = history
        self._mode = mode

    def write_scalars(self, step, scalars):
        for key, value in scalars.items():
            self._history.append(self._mode, key, step, float(value))


class StepLogView(step_log.TextWriter):
    """Shows the ``metrics/`` scalars in the step log as ``<mode> <name>``
    lines; ``training/`` values stay off it, as in Trax."""

    def __init__(self, log_writer, mode):
        self._log_writer = log_writer
        self._mode = mode

    def write_scalars(self, step, scalars):
        shown = {f"{self._mode}/{key[len(METRICS_PREFIX):]}": value
                 for key, value in scalars.items()
                 if key.startswith(METRICS_PREFIX)}
        if shown:
            self._log_writer.write_scalars(step, shown)


def task_writer(log_writer, history, mode, summary_writer=None):
    """The fan-out for one task: step log, history, TensorBoard."""
    return FanOutWriter([StepLogView(log_writer, mode),
                         HistoryWriter(history, mode), summary_writer])
