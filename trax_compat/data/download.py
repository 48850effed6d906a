"""Downloading files from public Google Cloud Storage buckets over HTTPS.

``gs://bucket/path`` is read as ``<endpoint>/bucket/path``, where the endpoint
is ``$TRAX_COMPAT_GCS_ENDPOINT`` or ``https://storage.googleapis.com`` (public
objects need no credentials). Only the standard library is used.

A download goes to a temporary file next to its destination and is renamed
into place only once it is complete (and, when a ``validate`` function is
given, accepted by it), so an interrupted download never leaves a partial
file under the final name.
"""

import http.client
import os
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ENV_GCS_ENDPOINT = "TRAX_COMPAT_GCS_ENDPOINT"
DEFAULT_GCS_ENDPOINT = "https://storage.googleapis.com"
_CHUNK = 1 << 16


class DownloadError(FileNotFoundError):
    """A file could not be downloaded (offline, missing, or cut short).

    A FileNotFoundError, so callers that fall back when a vocabulary is not
    found treat "cannot download" the same way.
    """


def gcs_endpoint():
    return (os.environ.get(ENV_GCS_ENDPOINT) or DEFAULT_GCS_ENDPOINT).rstrip("/")


def split_gs_path(gs_path):
    """``gs://bucket/a/b`` -> ``("bucket", "a/b")``."""
    if not gs_path.startswith("gs://"):
        raise ValueError("not a gs:// path: %r" % (gs_path,))
    bucket, _, rest = gs_path[len("gs://"):].partition("/")
    if not bucket:
        raise ValueError("gs:// path without a bucket: %r" % (gs_path,))
    return bucket, rest


def gcs_url(gs_path):
    """The public HTTPS URL of a ``gs://`` object."""
    bucket, rest = split_gs_path(gs_path)
    return "%s/%s/%s" % (gcs_endpoint(), urllib.parse.quote(bucket),
                         urllib.parse.quote(rest))


def _human(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return ("%d %s" % (n, unit)) if unit == "B" else (
                    "%.1f %s" % (n, unit))
        n /= 1024.0
    return str(n)


class _Progress:
    """A one-line progress display on stderr (only used on a terminal)."""

    def __init__(self, url, total, stream):
        self.url = url
        self.total = total
        self.stream = stream
        self.last = 0.0

    def update(self, done, final=False):
        now = time.monotonic()
        if not final and now - self.last < 0.1:
            return
        self.last = now
        if self.total:
            msg = "%3d%% (%s / %s)" % (100 * done // self.total, _human(done),
                                       _human(self.total))
        else:
            msg = _human(done)
        self.stream.write("\rDownloading %s: %s" % (self.url, msg))
        if final:
            self.stream.write("\n")
        self.stream.flush()


def _want_progress(progress):
    if progress is not None:
        return progress
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def download(url, dest, *, validate=None, progress=None, timeout=60,
             hint=""):
    """Downloads ``url`` to the file ``dest`` atomically; returns ``dest``.

    Args:
        url: http(s) URL.
        dest: final path; its folder is created if needed.
        validate: optional ``f(path)`` run on the complete temporary file; an
            exception from it aborts the download (nothing is written).
        progress: show progress on stderr; None = only when it is a terminal.
        timeout: socket timeout in seconds.
        hint: extra advice appended to error messages.

    Raises:
        DownloadError: the URL cannot be fetched or the transfer was cut.
    """
    dest = os.fspath(dest)
    folder = os.path.dirname(os.path.abspath(dest))
    os.makedirs(folder, exist_ok=True)

    def fail(reason):
        msg = "Could not download %s to %s: %s." % (url, dest, reason)
        if hint:
            msg += " " + hint
        return DownloadError(msg)

    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(dest) + ".",
                               suffix=".part", dir=folder)
    try:
        try:
            request = urllib.request.Request(
                    url, headers={"User-Agent": "trax-compat"})
            with urllib.request.urlopen(request, timeout=timeout) as response:
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                shown = (_Progress(url, total, sys.stderr)
                         if _want_progress(progress) else None)
                done = 0
                with os.fdopen(fd, "wb") as out:
                    fd = None
                    while True:
                        chunk = response.read(_CHUNK)
                        if not chunk:
                            break
                        out.write(chunk)
                        done += len(chunk)
                        if shown:
                            shown.update(done)
                    out.flush()
                    os.fsync(out.fileno())
                if shown:
                    shown.update(done, final=True)
        except urllib.error.HTTPError as e:
            raise fail("HTTP %d %s" % (e.code, e.reason)) from None
        except urllib.error.URLError as e:
            raise fail("%s (are you offline?)" % (e.reason,)) from None
        except (OSError, ValueError, http.client.HTTPException) as e:
            # Connection reset, timeout, or http.client.IncompleteRead.
            raise fail("%s: %s" % (type(e).__name__, e)) from None
        if total is not None and done != total:
            raise fail("the transfer stopped after %d of %d bytes"
                       % (done, total))
        if validate is not None:
            validate(tmp)
        os.replace(tmp, dest)
        tmp = None
    finally:
        if fd is not None:
            os.close(fd)
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return dest
