"""Trax's step log (``Step    N: ...`` lines) as a CLU ``MetricWriter``.

The layout reproduces Trax's stdout exactly:

* a blank line before the first line of each step's block;
* ``Step % 6d: <message>`` for texts (``Ran N train steps in X secs``);
* ``Step % 6d: <mode> <name> | <value>`` for scalars, the mode padded to 5
  characters, names right-justified to the longest loss/metric name of the
  Loop, values formatted with ``% .8f``.

Scalar keys are ``"<mode>/<name>"`` (e.g. ``"eval/WeightedCategoryAccuracy"``).
"""

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys

# The name CLU's interface module gets when it is loaded as our own copy.
_PRIVATE_INTERFACE_NAME = "trax_compat._clu_metric_writers_interface"


_CLU_INTERFACE = "clu.metric_writers.interface"


def _private_clu_interface():
    """CLU's ``interface.py`` executed as a private module of ours, registered
    nowhere in ``sys.modules``."""
    clu_spec = importlib.util.find_spec("clu")
    if clu_spec is None or not clu_spec.submodule_search_locations:
        raise ImportError("trax_compat needs CLU: pip install clu")
    path = None
    for folder in clu_spec.submodule_search_locations:
        candidate = os.path.join(folder, "metric_writers", "interface.py")
        if os.path.isfile(candidate):
            path = candidate
            break
    if path is None:
        raise ImportError(
            "CLU's clu/metric_writers/interface.py was not found in "
            f"{list(clu_spec.submodule_search_locations)}")
    spec = importlib.util.spec_from_file_location(_PRIVATE_INTERFACE_NAME,
                                                  path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _RegisteringLoader(importlib.abc.Loader):
    """Loads CLU's interface module as usual, then registers our private
    ``MetricWriter`` (so every writer of ours) as a virtual subclass of
    CLU's: ``isinstance(writer, clu.metric_writers.MetricWriter)`` holds."""

    def __init__(self, loader, ours):
        self._loader = loader
        self._ours = ours

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        module.MetricWriter.register(self._ours.MetricWriter)


class _CluInterfaceWatcher(importlib.abc.MetaPathFinder):
    """Waits, at no cost, for other code to import CLU's interface module."""

    def __init__(self, ours):
        self._ours = ours

    def find_spec(self, fullname, path, target=None):
        if fullname != _CLU_INTERFACE:
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _RegisteringLoader(spec.loader, self._ours)
        return spec


def _clu_metric_writer_interface():
    """CLU's ``MetricWriter`` interface module, without importing TensorFlow
    and without side effects on ``clu`` for other code (see "CLU's
    MetricWriter without TensorFlow" in docs/design.md).

    ``clu/metric_writers/__init__.py`` imports CLU's TensorFlow writer, so
    importing the package costs TensorFlow's import (seconds, in every
    training process) or fails without TensorFlow. Unless other code has
    already imported it, CLU's ``interface.py`` is executed as a private
    module of ours; if other code imports ``clu.metric_writers`` later, our
    writers are registered then as subclasses of its ``MetricWriter``.
    """
    if _CLU_INTERFACE in sys.modules:
        return sys.modules[_CLU_INTERFACE]
    ours = _private_clu_interface()
    sys.meta_path.insert(0, _CluInterfaceWatcher(ours))
    return ours


interface = _clu_metric_writer_interface()


class _Stdout:
    """``sys.stdout`` looked up at each write (``redirect_stdout`` works)."""

    def write(self, text):
        sys.stdout.write(text)

    def flush(self):
        sys.stdout.flush()


STDOUT = _Stdout()


class TextWriter(interface.MetricWriter):
    """A ``MetricWriter`` for writers that only show scalars (and, where
    they override it, texts): images, audio, tensors and the like have no
    text form and are dropped."""

    def write_summaries(self, step, values, metadata=None):
        del step, values, metadata

    def write_scalars(self, step, scalars):
        del step, scalars

    def write_texts(self, step, texts):
        del step, texts

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
        pass

    def close(self):
        pass


class TraxStepLogWriter(TextWriter):
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

    def flush(self):
        for stream in (self._streams or [sys.stdout]):
            stream.flush()

    def close(self):
        self.flush()
