"""Reads the scalars of a Trax-style ``output_dir`` from its event files.

Both writers are supported:

* real Trax (``trax.jaxboard``) writes ``simple_value`` scalar summaries;
* our Loop (``summaries.BackgroundSummaryWriter``, over tensorboard's
  event-file writer; earlier versions used CLU's ``tf.summary`` writer)
  writes 0-d float32 tensor summaries with the ``scalars`` plugin.

The files are TFRecord streams of ``Event`` protos. They are read here with
TensorBoard's protobuf classes only: importing TensorFlow (which
``event_accumulator`` does when it is installed) costs seconds and is not
needed to read a few scalars.

Layout: ``output_dir/<mode>/events.out.tfevents.*`` with ``mode`` = ``train``
or ``eval``. Tags ``metrics/<name>`` become ``(mode, <name>)`` (the names the
step log prints); other tags keep their full name, e.g.
``("train", "training/learning_rate")``. ``training/steps per second`` is
turned into the ``Ran N train steps in X secs`` timings instead.
"""

import os
import struct

from trax_compat.logs import parse

EVENT_FILE_PREFIX = "events.out.tfevents"
STEPS_PER_SEC_TAG = "training/steps per second"
_HEADER = struct.Struct("<QI")  # record length, masked CRC of the length


def is_event_file(path):
    return os.path.basename(path).startswith(EVENT_FILE_PREFIX)


def event_files(directory):
    """``[(mode, path)]`` of the event files in ``directory``'s subfolders
    (and in ``directory`` itself, mode = its own name), oldest first."""
    found = []
    try:
        entries = sorted(os.listdir(directory))
    except OSError:
        return found
    for entry in entries:
        path = os.path.join(directory, entry)
        if os.path.isdir(path):
            found.extend((entry, os.path.join(path, name))
                         for name in sorted(os.listdir(path))
                         if is_event_file(name))
        elif is_event_file(entry):
            mode = os.path.basename(os.path.normpath(directory))
            found.append((mode, path))
    # File names carry the creation time: read resumed runs' files last.
    return sorted(found, key=lambda item: (_timestamp(item[1]), item[1]))


def _timestamp(path):
    parts = os.path.basename(path)[len(EVENT_FILE_PREFIX):].split(".")
    try:
        return int(parts[1])
    except (IndexError, ValueError):
        return 0


def iter_records(path):
    """Yields the payloads of a TFRecord file; stops at a truncated tail
    (a file still being written)."""
    with open(path, "rb") as f:
        while True:
            header = f.read(_HEADER.size)
            if len(header) < _HEADER.size:
                return
            length, _ = _HEADER.unpack(header)
            data = f.read(length)
            if len(data) < length or len(f.read(4)) < 4:
                return
            yield data


def _scalar_value(value):
    """The float of a summary value, or None when it is not a scalar."""
    kind = value.WhichOneof("value")
    if kind == "simple_value":
        return float(value.simple_value)
    if kind != "tensor":
        return None
    plugin = value.metadata.plugin_data.plugin_name
    if plugin and plugin != "scalars":
        return None
    from tensorboard.util import tensor_util  # pylint: disable=g-import-not-at-top
    try:
        array = tensor_util.make_ndarray(value.tensor)
    except (TypeError, ValueError):
        return None
    if array.size != 1 or array.dtype.kind not in "fiub":
        return None  # e.g. Trax's gin_config text tensor.
    return float(array.reshape(()))


def _metric_key(mode, tag):
    if tag.startswith("metrics/"):
        return mode, tag[len("metrics/"):]
    return mode, tag


def read_event_files(files, source):
    """Reads ``[(mode, path)]`` event files into one RunLog."""
    # Imported here: protobuf classes load in a fraction of a second, but
    # only commands that read event files need them.
    from tensorboard.compat.proto import event_pb2  # pylint: disable=g-import-not-at-top
    from google.protobuf import message  # pylint: disable=g-import-not-at-top
    log = parse.RunLog(source=str(source), kind="event files")
    steps_per_sec = {}
    for mode, path in files:
        try:
            for record in iter_records(path):
                event = event_pb2.Event.FromString(record)
                if not event.HasField("summary"):
                    continue
                for value in event.summary.value:
                    number = _scalar_value(value)
                    if number is None:
                        continue
                    if value.tag == STEPS_PER_SEC_TAG:
                        steps_per_sec[event.step] = number
                        continue
                    mode_, name = _metric_key(mode, value.tag)
                    log.add(event.step, mode_, name, number,
                            parse.EVENT_PRECISION)
        except OSError as e:
            raise parse.LogError(
                f"cannot read {path}: {e.strerror or e}") from None
        except message.DecodeError:
            raise parse.LogError(
                f"{path}: not a TensorBoard event file (corrupt record)"
            ) from None
    # Rebuild "Ran N train steps in X secs": N = steps since the last log.
    previous = 0
    for step in sorted(steps_per_sec):
        n = step - previous
        rate = steps_per_sec[step]
        secs = n / rate if rate > 0 else float("inf")
        log.timings[step] = parse.Timing(n, secs)
        previous = step
    return log


def read_event_dir(directory):
    """Reads every event file of an ``output_dir`` (see the module doc)."""
    files = event_files(directory)
    if not files:
        raise parse.LogError(
            f"{directory}: no TensorBoard event files "
            f"({EVENT_FILE_PREFIX}.*) in it or in its train/ and eval/ "
            f"folders")
    log = read_event_files(files, directory)
    if log.is_empty():
        raise parse.LogError(
            f"{directory}: the event files hold no scalar summaries")
    return log
