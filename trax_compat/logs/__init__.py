"""Training logs in Trax's formats: read, compare, render and plot them.

* :func:`load_log` reads a Trax step log (captured stdout or a ``log.txt``),
  a single event file, or an ``output_dir`` (TensorBoard event files and/or
  ``log.txt``) into a :class:`RunLog`;
* :func:`trax_compat.logs.compare.compare` lines two RunLogs up;
* ``trax-compat compare-logs A B`` is the command (``compare_command``).
"""

import os

from trax_compat.logs.parse import LogError
from trax_compat.logs.parse import RunLog
from trax_compat.logs.parse import Timing
from trax_compat.logs.parse import parse_step_log
from trax_compat.logs.parse import read_step_log

# The step log a Loop may keep next to its event files.
LOG_FILE_NAME = "log.txt"

__all__ = ["LOG_FILE_NAME", "LogError", "RunLog", "Timing", "load_log",
           "parse_step_log", "read_step_log"]


def load_log(path):
    """Reads ``path`` as a training log; raises LogError when unusable.

    A directory is read from its event files (``train/``, ``eval/``) and its
    ``log.txt``; when it has both, the step log's values and timings are
    used and the event files add the series the step log does not print
    (``training/learning_rate``, ``training/gradients_l2``, ...).
    """
    from trax_compat.logs import events  # pylint: disable=g-import-not-at-top
    path = os.fspath(path)
    if not os.path.exists(path):
        raise LogError(f"{path}: no such file or directory")
    if not os.path.isdir(path):
        if events.is_event_file(path):
            mode = os.path.basename(os.path.dirname(os.path.abspath(path)))
            log = events.read_event_files([(mode, path)], path)
            if log.is_empty():
                raise LogError(f"{path}: the event file holds no scalars")
            return log
        return read_step_log(path)
    text_path = os.path.join(path, LOG_FILE_NAME)
    has_text = os.path.isfile(text_path)
    if not events.event_files(path):
        if has_text:
            log = read_step_log(text_path)
            log.source = path
            return log
        raise LogError(
            f"{path}: neither TensorBoard event files (train/, eval/) nor a "
            f"{LOG_FILE_NAME} step log found in it")
    event_log = events.read_event_dir(path)
    if not has_text:
        return event_log
    log = read_step_log(text_path)
    log.source, log.kind = path, "step log + event files"
    for key, series in event_log.values.items():
        if key not in log.values:
            log.values[key] = dict(series)
            log.precision[key] = event_log.precision[key]
    if not log.timings:
        log.timings = dict(event_log.timings)
    return log
