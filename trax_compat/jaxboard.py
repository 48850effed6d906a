"""Trax's ``trax.jaxboard``: a small TensorBoard writer for scalars, images,
plots, audio, histograms and text, as Trax's ``SummaryWriter`` writes them
(TensorFlow 1-style ``Summary`` protos), without TensorFlow.

Events go through tensorboard's own event-file writer. Images and plots are
encoded to PNG by matplotlib, as in Trax (the ``[plot]`` extra).
New code can use CLU's metric writers instead, as the Loop does.
"""

import io
import struct
import time
import types
import wave

import numpy as np

from trax_compat.supervised import summaries


def _protos():
    """tensorboard's proto modules, by short name (imported on first use)."""
    # pylint: disable=g-import-not-at-top
    from tensorboard.compat.proto import event_pb2
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.compat.proto import tensor_pb2
    from tensorboard.compat.proto import tensor_shape_pb2
    from tensorboard.compat.proto import types_pb2
    # pylint: enable=g-import-not-at-top
    return types.SimpleNamespace(event=event_pb2, summary=summary_pb2,
                                 tensor=tensor_pb2, shape=tensor_shape_pb2,
                                 types=types_pb2)


def _pyplot():
    try:
        import matplotlib  # pylint: disable=g-import-not-at-top
    except ImportError:
        raise ImportError(
            "jaxboard images and plots need matplotlib: pip install "
            "'trax-compat[plot]'.") from None
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
    return plt


def _tile(images, rows, cols):
    """``[N, H, W, C]`` images as one ``[rows * H, cols * W, C]`` grid,
    row by row; images beyond the grid are dropped."""
    height, width, depth = np.shape(images)[-3:]
    images = np.reshape(images, (-1, height, width, depth))
    rows = min(rows, images.shape[0])
    cols = min(images.shape[0] // rows, cols)
    grid = images[:rows * cols].reshape(rows, cols, height, width, depth)
    return grid.transpose(0, 2, 1, 3, 4).reshape(rows * height,
                                                 cols * width, depth)


class SummaryWriter:
    """Writes summaries into an event file in ``log_dir`` (created if
    needed). With ``enable=False`` (other hosts of a multi-host job) nothing
    is written. A call without ``step`` uses the step of the last call that
    had one (0 at first)."""

    def __init__(self, log_dir, enable=True):
        self._event_writer = summaries.open_event_file_writer(
            log_dir, max_queue_size=10, filename_suffix="")
        self._pb = _protos()
        self._step = 0
        self._closed = False
        self._enabled = enable

    def _at(self, step):
        if step is None:
            return self._step
        self._step = step
        return step

    def _write(self, value, step):
        self.add_summary(self._pb.summary.Summary(value=[value]), step)

    def add_summary(self, summary, step):
        """Writes a ``Summary`` proto as an event at ``step``."""
        if not self._enabled:
            return
        event = self._pb.event.Event(summary=summary, wall_time=time.time())
        if step is not None:
            event.step = int(step)
        self._event_writer.add_event(event)

    def flush(self):
        if self._enabled:
            self._event_writer.flush()

    def close(self):
        """Closes the file; the writer cannot be used after."""
        if not self._closed:
            self._event_writer.close()
            self._closed = True

    def __del__(self):
        try:
            self.close()
        except Exception:  # pylint: disable=broad-except
            pass

    def scalar(self, tag, value, step=None):
        step = self._at(step)
        value = float(np.array(value))
        self._write(self._pb.summary.Summary.Value(tag=tag,
                                                  simple_value=value), step)

    def image(self, tag, image, step=None):
        """An image ``[H, W]``, ``[H, W, 1]`` (grey) or ``[H, W, 3]``."""
        image = np.array(image)
        step = self._at(step)
        if image.ndim == 2:
            image = image[:, :, None]
        if image.shape[-1] == 1:
            image = np.repeat(image, 3, axis=-1)
        png = io.BytesIO()
        _pyplot().imsave(png, image, format="png")
        self._write_png(tag, png.getvalue(), 3, image.shape[0],
                        image.shape[1], step)

    def _write_png(self, tag, png, colorspace, height, width, step):
        summary_pb2 = self._pb.summary
        self._write(summary_pb2.Summary.Value(
            tag=tag, image=summary_pb2.Summary.Image(
                encoded_image_string=png, colorspace=colorspace,
                height=height, width=width)), step)

    def images(self, tag, images, step=None, rows=None, cols=None):
        """``[N, H, W, C]`` images tiled in ``rows`` x ``cols`` (by default
        one row; one of them given, the other follows from N)."""
        images = np.array(images)
        step = self._at(step)
        n = images.shape[0]
        if rows is None and cols is None:
            rows, cols = 1, n
        elif rows is None:
            rows = n // cols
        elif cols is None:
            cols = n // rows
        self.image(tag, _tile(images, rows, cols), step=step)

    def plot(self, tag, mpl_plt, step=None, close_plot=True):
        """The current matplotlib figure of ``mpl_plt`` (pyplot), as RGBA."""
        step = self._at(step)
        width, height = mpl_plt.get_current_fig_manager(
        ).canvas.get_width_height()
        png = io.BytesIO()
        mpl_plt.savefig(png, format="png")
        self._write_png(tag, png.getvalue(), 4, height, width, step)
        if close_plot:
            mpl_plt.close()

    def audio(self, tag, audiodata, step=None, sample_rate=44100):
        """Mono samples in [-1, 1] as a 16-bit WAV."""
        audiodata = np.array(audiodata)
        step = self._at(step)
        samples = np.clip(np.squeeze(audiodata), -1, 1)
        if samples.ndim != 1:
            raise ValueError("Audio data must be 1D.")
        frames = (32767.0 * samples).astype(int).tolist()
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(sample_rate)
            wav.writeframes(b"".join(struct.pack("<h", v) for v in frames))
        summary_pb2 = self._pb.summary
        self._write(summary_pb2.Summary.Value(
            tag=tag, audio=summary_pb2.Summary.Audio(
                sample_rate=sample_rate, num_channels=1,
                length_frames=len(frames),
                encoded_audio_string=buffer.getvalue(),
                content_type="audio/wav")), step)

    def histogram(self, tag, values, bins, step=None):
        """``np.histogram(values, bins)`` with empty buckets at the ends
        dropped (one empty bucket is kept before the first full one)."""
        step = self._at(step)
        values = np.reshape(np.array(values), -1)
        counts, limits = np.histogram(values, bins=np.array(bins))
        # The first and last non-empty buckets, located as Trax locates
        # them (which also fixes what an all-empty histogram gives).
        n_full = np.cumsum(counts > 0)
        first, last = (int(i) for i in np.searchsorted(
            n_full, [0, n_full[-1] - 1], side="right"))
        if first > 0:
            kept = counts[first - 1:last + 1]
        else:
            kept = np.concatenate([[0], counts[:last + 1]])
        summary_pb2 = self._pb.summary
        self._write(summary_pb2.Summary.Value(
            tag=tag, histo=summary_pb2.HistogramProto(
                min=values.min(), max=values.max(), num=len(values),
                sum=values.sum(), sum_squares=values.dot(values),
                bucket_limit=limits[first:last + 2].tolist(),
                bucket=kept.tolist())), step)

    def text(self, tag, textdata, step=None):
        """A string, or a 1-D or 2-D list or array of strings (TensorBoard
        renders markdown)."""
        step = self._at(step)
        if isinstance(textdata, (str, bytes)):
            texts, shape = [textdata], (1,)
        else:
            array = np.array(textdata)
            if array.ndim not in (1, 2):
                raise ValueError(f"Text data must be a string or 1-D or 2-D; "
                                 f"got shape {array.shape}.")
            texts, shape = list(array.reshape(-1)), array.shape
        summary_pb2, shape_pb2 = self._pb.summary, self._pb.shape
        tensor = self._pb.tensor.TensorProto(
            dtype=self._pb.types.DT_STRING,
            tensor_shape=shape_pb2.TensorShapeProto(dim=[
                shape_pb2.TensorShapeProto.Dim(size=int(d)) for d in shape]),
            string_val=[t if isinstance(t, bytes) else t.encode("utf_8")
                        for t in texts])
        metadata = summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(
                plugin_name="text"))
        self._write(summary_pb2.Summary.Value(tag=tag, metadata=metadata,
                                              tensor=tensor), step)


def markdownify_operative_config_str(string):
    """gin's operative config as markdown for a text summary: bindings
    indented as code, section comments as headings, rules dropped."""

    def line_to_markdown(line):
        if not line.startswith("#"):
            return "    " + line
        line = line[2:]
        if line.startswith("===="):
            return ""
        if line.startswith("None"):
            return "    # None."
        if line.endswith(":"):
            return "#### " + line
        return line

    return "\n".join(line_to_markdown(line) for line in string.splitlines())
