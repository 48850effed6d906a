"""Trax's step log (``Step    N: ...`` lines) as a CLU ``MetricWriter``.

The layout reproduces Trax's stdout exactly:

* a blank line before the first line of each step's block;
* ``Step % 6d: <message>`` for texts (``Ran N train steps in X secs``);
* ``Step % 6d: <mode> <name> | <value>`` for scalars, the mode padded to 5
  characters, names right-justified to the longest loss/metric name of the
  Loop, values formatted with ``% .8f``.

Scalar keys are ``"<mode>/<name>"`` (e.g. ``"eval/WeightedCategoryAccuracy"``).
"""

import importlib.util
import os
import sys


def _clu_metric_writer_interface():
    """Returns ``clu.metric_writers.interface`` without importing the rest of
    ``clu.metric_writers``, whose ``__init__`` imports TensorFlow (seconds).

    The module is registered under its real name, so a later regular import
    of ``clu.metric_writers`` reuses it and ``MetricWriter`` stays one class.
    """
    name = "clu.metric_writers.interface"
    if name in sys.modules:
        return sys.modules[name]
    clu_dir = os.path.dirname(importlib.util.find_spec("clu").origin)
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(clu_dir, "metric_writers", "interface.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


interface = _clu_metric_writer_interface()


class _Stdout:
    """``sys.stdout`` looked up at each write (``redirect_stdout`` works)."""

    def write(self, text):
        sys.stdout.write(text)

    def flush(self):
        sys.stdout.flush()


STDOUT = _Stdout()


class TraxStepLogWriter(interface.MetricWriter):
    """Writes Trax-format step log lines to text streams (stdout by default).

    Args:
      name_width: width that metric names are right-justified to (Trax uses
        the longest of the loss and metric names across tasks).
      streams: file-like objects to write to; ``None`` means ``sys.stdout``
        looked up at write time (so ``contextlib.redirect_stdout`` works).
    """

    def __init__(self, name_width=0, streams=None):
        self._name_width = name_width
        self._streams = streams
        self._last_step = None

    @property
    def streams(self):
        return self._streams

    @streams.setter
    def streams(self, streams):
        self._streams = streams

    @property
    def name_width(self):
        return self._name_width

    @name_width.setter
    def name_width(self, value):
        self._name_width = value

    def _write_line(self, line):
        for stream in (self._streams or [sys.stdout]):
            stream.write(line + "\n")
            stream.flush()

    def _start_line(self, step):
        # Trax separates each step's block from what came before.
        if step != self._last_step:
            self._write_line("")
            self._last_step = step

    def format_scalar(self, step, mode, name, value):
        return "Step % 6d: %s %s | % .8f" % (
            step, mode.ljust(5), name.rjust(self._name_width), value)

    def write_text_line(self, step, message):
        self._start_line(step)
        self._write_line("Step % 6d: %s" % (step, message))

    def write_texts(self, step, texts):
        for message in texts.values():
            self.write_text_line(step, message)

    def write_scalars(self, step, scalars):
        for key, value in scalars.items():
            mode, _, name = key.partition("/")
            if not name:
                mode, name = "", key
            self._start_line(step)
            self._write_line(self.format_scalar(step, mode, name, float(value)))

    def write_summaries(self, step, values, metadata=None):
        del step, values, metadata  # Tensor summaries have no stdout form.

    def write_images(self, step, images):
        del step, images

    def write_videos(self, step, videos):
        del step, videos

    def write_audios(self, step, audios, *, sample_rate):
        del step, audios, sample_rate

    def write_histograms(self, step, arrays, num_buckets=None):
        del step, arrays, num_buckets

    def write_hparams(self, hparams):
        del hparams

    def flush(self):
        for stream in (self._streams or [sys.stdout]):
            stream.flush()

    def close(self):
        self.flush()
