"""TensorBoard event files for the Loop, written without TensorFlow.

``BackgroundSummaryWriter`` is a CLU ``MetricWriter`` over the
``tensorboard`` package: summaries are built with TensorBoard's NumPy
summary functions (``scalar_pb``, ``text_pb``, ...) and appended to an event
file by ``tensorboard``'s ``EventFileWriter``, whose own thread does the disk
writes. Building a summary takes microseconds, so the training thread only
waits in ``flush()`` and ``close()``.

The files hold what ``tf.summary`` wrote through CLU's ``SummaryWriter``:
one event per value; scalars as 0-d float32 tensors with the ``scalars``
plugin's metadata; texts as string tensors (``text`` plugin); histograms as
``[buckets, 3]`` float64 tensors (``histograms`` plugin); hparams with the
``hparams`` plugin at step 0; images as PNG strings (``images`` plugin).
"""

import collections.abc
import io
import os
import socket
import sys
import time

import numpy as np

from trax_compat.supervised.step_log import interface

# Values waiting for the writer thread before a write blocks the caller.
_MAX_QUEUE = 1024
# TensorFlow 2's summary writers name their files "....v2"; so do we.
_FILE_SUFFIX = ".v2"


def open_event_file_writer(logdir, max_queue_size=_MAX_QUEUE,
                           filename_suffix=_FILE_SUFFIX):
    """tensorboard's ``EventFileWriter`` for ``logdir``.

    That writer opens its file through ``tensorboard.compat.tf``, which
    imports TensorFlow whenever it is installed (seconds, in every training
    process). For a local directory, unless TensorFlow is already imported,
    the same writer opens a plain file instead; remote paths (``gs://``)
    keep TensorFlow's filesystems.
    """
    # pylint: disable=g-import-not-at-top
    from tensorboard.summary.writer import event_file_writer
    # pylint: enable=g-import-not-at-top
    if "tensorflow" in sys.modules or "://" in os.fspath(logdir):
        return event_file_writer.EventFileWriter(
            logdir, max_queue_size=max_queue_size,
            filename_suffix=filename_suffix)
    return _local_event_file_writer(event_file_writer, logdir,
                                    max_queue_size, filename_suffix)


def _local_event_file_writer(module, logdir, max_queue_size,
                             filename_suffix):
    """``module.EventFileWriter`` on a plain local file."""

    class LocalEventFileWriter(module.EventFileWriter):
        # The parent's __init__, with os/open in place of tf.io.gfile; the
        # file name has the parent's pattern.
        def __init__(self):  # pylint: disable=super-init-not-called
            self._logdir = os.fspath(logdir)
            os.makedirs(self._logdir, exist_ok=True)
            self._file_name = os.path.join(
                self._logdir, "events.out.tfevents.%010d.%s.%s.%s%s" % (
                    time.time(), socket.gethostname(), os.getpid(),
                    module._global_uid.get(), filename_suffix))  # pylint: disable=protected-access
            self._general_file_writer = open(self._file_name, "wb")  # pylint: disable=consider-using-with
            self._async_writer = module._AsyncWriter(  # pylint: disable=protected-access
                module.RecordWriter(self._general_file_writer),
                max_queue_size, 120)
            self.add_event(module.event_pb2.Event(
                wall_time=time.time(), file_version="brain.Event:2",
                source_metadata=module.event_pb2.SourceMetadata(
                    writer="tensorboard.summary.writer.event_file_writer")))
            self.flush()

    return LocalEventFileWriter()


class SummaryWriteError(OSError):
    """Writing the event file of a logdir failed."""


class BackgroundSummaryWriter(interface.MetricWriter):
    """Writes TensorBoard event files into ``logdir`` (created if needed).

    The disk writes happen on ``EventFileWriter``'s thread; ``flush()``
    returns once everything written so far is on disk, and ``close()`` also
    closes the file. Errors of the writer thread are raised (as
    ``SummaryWriteError``, naming the logdir) by the next call.
    """

    def __init__(self, logdir):
        self._logdir = logdir
        self._closed = False
        self._error = None
        # Imported here: only runs with an output_dir need them.
        # pylint: disable=g-import-not-at-top
        from tensorboard.compat.proto import event_pb2
        # pylint: enable=g-import-not-at-top
        self._event_pb2 = event_pb2
        try:
            self._writer = open_event_file_writer(logdir)
        except Exception as e:  # pylint: disable=broad-except
            raise self._failed(e) from e

    @property
    def logdir(self):
        return self._logdir

    def _failed(self, error):
        return SummaryWriteError(
            f"Writing TensorBoard files into {self._logdir} failed: "
            f"{type(error).__name__}: {error}")

    def _check_open(self):
        if self._closed:
            raise RuntimeError(
                f"Summary writer for {self._logdir} is closed.")

    def _add(self, step, summary):
        """Queues one event per value of ``summary`` (as ``tf.summary``
        does)."""
        self._check_open()
        try:
            for value in summary.value:
                event = self._event_pb2.Event(wall_time=time.time(),
                                              step=int(step))
                event.summary.value.add().CopyFrom(value)
                self._writer.add_event(event)
        except Exception as e:  # pylint: disable=broad-except
            self._error = self._error or e
            raise self._failed(e) from e

    # -- the MetricWriter interface ------------------------------------------

    def write_scalars(self, step, scalars):
        """0-d float32 tensors with the ``scalars`` plugin, like
        ``tf.summary.scalar``; raises ValueError for a non-scalar value."""
        from tensorboard.plugins.scalar import summary_v2  # pylint: disable=g-import-not-at-top
        self._check_open()
        protos = [_proto_for(key, summary_v2.scalar_pb, key, value)
                  for key, value in scalars.items()]
        for proto in protos:
            self._add(step, proto)

    def write_texts(self, step, texts):
        from tensorboard.plugins.text import summary_v2  # pylint: disable=g-import-not-at-top
        self._check_open()
        protos = [_proto_for(key, summary_v2.text_pb, key, value)
                  for key, value in texts.items()]
        for proto in protos:
            self._add(step, proto)

    def write_histograms(self, step, arrays, num_buckets=None):
        """``[buckets, 3]`` (left edge, right edge, count) tensors; 30
        buckets unless ``num_buckets[key]`` says otherwise."""
        from tensorboard.plugins.histogram import summary_v2  # pylint: disable=g-import-not-at-top
        self._check_open()
        protos = []
        for key, value in arrays.items():
            buckets = None if num_buckets is None else num_buckets.get(key)
            protos.append(_proto_for(key, summary_v2.histogram_pb, key,
                                     np.asarray(value), buckets=buckets))
        for proto in protos:
            self._add(step, proto)

    def write_hparams(self, hparams):
        """Nested mappings and sequences are flattened to dotted keys
        (``{"opt": {"lr": 1}}`` -> ``opt.lr``), None becomes ``""``, as in
        CLU's writer; written at step 0."""
        from tensorboard.plugins.hparams import summary_v2  # pylint: disable=g-import-not-at-top
        self._check_open()
        flat = dict(_flatten_hparams(hparams))
        proto = _proto_for("hparams", summary_v2.hparams_pb, flat)
        self._add(0, proto)

    def write_images(self, step, images):
        """Images ``[H, W, C]`` or ``[N, H, W, C]`` (C = 1, 3 or 4), uint8,
        or floats in [0, 1]; stored as PNG like ``tf.summary.image`` (needs
        Pillow, which recent ``tensorboard`` releases depend on)."""
        from tensorboard.compat.proto import summary_pb2  # pylint: disable=g-import-not-at-top
        from tensorboard.plugins.image import metadata  # pylint: disable=g-import-not-at-top
        from tensorboard.util import tensor_util  # pylint: disable=g-import-not-at-top
        self._check_open()
        protos = []
        for key, value in images.items():
            batch = _image_batch(key, value)
            encoded = [_png(image) for image in batch]
            height, width = batch.shape[1:3]
            tensor = tensor_util.make_tensor_proto(
                np.array([str(width).encode(), str(height).encode()]
                         + encoded, dtype=np.object_))
            summary = summary_pb2.Summary()
            summary.value.add(
                tag=key, tensor=tensor,
                metadata=metadata.create_summary_metadata(
                    display_name=None, description=None))
            protos.append(summary)
        for proto in protos:
            self._add(step, proto)

    def write_summaries(self, step, values, metadata=None):
        """Tensors as they are, with ``metadata[key]`` (a
        ``SummaryMetadata`` proto or its serialized bytes) if given."""
        # pylint: disable=g-import-not-at-top
        from tensorboard.compat.proto import summary_pb2
        from tensorboard.util import tensor_util
        # pylint: enable=g-import-not-at-top
        self._check_open()
        summary = summary_pb2.Summary()
        for key, value in values.items():
            entry = summary.value.add(
                tag=key, tensor=tensor_util.make_tensor_proto(
                    np.asarray(value)))
            md = metadata.get(key) if metadata is not None else None
            if md is not None:
                if not isinstance(md, bytes):
                    md = md.SerializeToString()
                entry.metadata.ParseFromString(md)
        self._add(step, summary)

    def write_videos(self, step, videos):
        raise NotImplementedError(
            "BackgroundSummaryWriter.write_videos: TensorBoard has no video "
            "summaries (CLU's TensorFlow writer drops them too); write the "
            "frames with write_images.")

    def write_audios(self, step, audios, *, sample_rate):
        raise NotImplementedError(
            "BackgroundSummaryWriter.write_audios is not implemented (it "
            "needs a WAV encoder); write audio with CLU's SummaryWriter "
            "(needs TensorFlow).")

    def flush(self):
        """Returns once every value written so far is on disk."""
        self._check_open()
        try:
            self._writer.flush()
        except Exception as e:  # pylint: disable=broad-except
            self._error = self._error or e
            raise self._failed(e) from e

    def close(self):
        """Writes everything to disk and closes the file; raises
        ``SummaryWriteError`` naming the logdir if any write failed."""
        if not self._closed:
            self._closed = True
            try:
                # flush() raises what the writer thread met; close() alone
                # would not.
                self._writer.flush()
            except Exception as e:  # pylint: disable=broad-except
                self._error = self._error or e
            try:
                self._writer.close()
            except Exception as e:  # pylint: disable=broad-except
                self._error = self._error or e
        if self._error is not None:
            raise self._failed(self._error) from self._error


def _proto_for(key, make, *args, **kwargs):
    """``make(*args)``; a bad value's error names its key."""
    try:
        return make(*args, **kwargs)
    except (TypeError, ValueError) as e:
        raise type(e)(f"summary {key!r}: {e}") from None


def _flatten_hparams(hparams, prefix=()):
    for key, value in hparams.items():
        path = prefix + (str(key),)
        if isinstance(value, collections.abc.Mapping) or hasattr(
                value, "items"):
            yield from _flatten_hparams(value, path)
        elif isinstance(value, (list, tuple)):
            yield from _flatten_hparams(dict(enumerate(value)), path)
        else:
            yield ".".join(path), "" if value is None else value


def _image_batch(key, value):
    array = np.asarray(value)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[-1] not in (1, 3, 4):
        raise ValueError(
            f"image {key!r}: expected shape [H, W, C] or [N, H, W, C] with "
            f"C in (1, 3, 4), got {array.shape}")
    if array.dtype.kind == "f":
        array = np.clip(np.round(array.astype(np.float64) * 255.0), 0, 255)
        array = array.astype(np.uint8)
    elif array.dtype != np.uint8:
        raise ValueError(f"image {key!r}: expected uint8 or floats in "
                         f"[0, 1], got {array.dtype}")
    return array


def _png(image):
    try:
        from PIL import Image  # pylint: disable=g-import-not-at-top
    except ImportError:
        raise ImportError("BackgroundSummaryWriter.write_images encodes PNG "
                          "with Pillow: pip install pillow") from None
    if image.shape[-1] == 1:
        image = image[..., 0]
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()
