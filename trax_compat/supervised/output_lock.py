"""One training job per output directory.

A Loop with an ``output_dir`` holds ``<output_dir>/trax_compat.lock``: an
exclusive ``flock`` on the file (the kernel drops it when the process dies,
however it dies) and, inside, the holder's PID, host and command line, so a
second job can say who holds it. Finding the file with the lock free means
its writer died without cleaning up: the new job takes it over and says so.

The lock is per process: several Loops of one process on one directory (a
new Loop resuming from the first one's checkpoints, as Trax's own tests do)
share it.
"""

import atexit
import fcntl
import json
import os
import socket
import sys
import threading
import time

LOCK_FILE_NAME = "trax_compat.lock"

_held = {}  # realpath of the lock file -> [fd, count]
_held_lock = threading.Lock()


class OutputDirLockedError(RuntimeError):
    """Another live process trains into the same output directory."""


def _describe(info):
    if not info:
        return "another process"
    started = info.get("started")
    when = (time.strftime(" since %Y-%m-%d %H:%M:%S", time.localtime(started))
            if isinstance(started, (int, float)) else "")
    return (f"process {info.get('pid')} on host {info.get('host')}{when} "
            f"({info.get('command', '?')})")


def _read_info(fd):
    os.lseek(fd, 0, os.SEEK_SET)
    data = b""
    while chunk := os.read(fd, 65536):
        data += chunk
    try:
        info = json.loads(data.decode("utf-8"))
        return info if isinstance(info, dict) else None
    except (UnicodeDecodeError, ValueError):
        return None


def _write_info(fd):
    info = {"pid": os.getpid(), "host": socket.gethostname(),
            "started": time.time(), "command": " ".join(sys.argv) or "python"}
    data = json.dumps(info).encode("utf-8")
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, data)
    os.fsync(fd)


class OutputDirLock:
    """Holds the lock of ``output_dir`` until :meth:`release`.

    Args:
      output_dir: an existing directory.
      say: called with a message when a stale lock is taken over.

    Raises:
      OutputDirLockedError: a live process holds it (named in the message).
    """

    def __init__(self, output_dir, say=print):
        self._path = os.path.realpath(os.path.join(output_dir, LOCK_FILE_NAME))
        self._released = False
        with _held_lock:
            if self._path in _held:
                _held[self._path][1] += 1
                return
            _held[self._path] = [self._acquire(say), 1]

    @property
    def path(self):
        return self._path

    def _acquire(self, say):
        while True:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _describe(_read_info(fd))
                os.close(fd)
                raise OutputDirLockedError(
                    f"{os.path.dirname(self._path)} is in use by {holder}. "
                    f"Wait for that job to finish (or stop it), or choose "
                    f"another output directory.") from None
            # A holder that released and deleted the file between our open
            # and flock leaves us locking an orphan inode: start over.
            try:
                same = os.fstat(fd).st_ino == os.stat(self._path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            previous = _read_info(fd)
            if previous and previous.get("pid") != os.getpid():
                say(f"Taking over the lock of {_describe(previous)} in "
                    f"{os.path.dirname(self._path)}: that process is no "
                    f"longer running.")
            _write_info(fd)
            return fd

    def release(self):
        """Gives the lock up (once; later calls do nothing)."""
        if self._released:
            return
        self._released = True
        with _held_lock:
            entry = _held.get(self._path)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] > 0:
                return
            del _held[self._path]
            fd = entry[0]
            try:
                os.unlink(self._path)
            except FileNotFoundError:
                pass
            os.close(fd)  # Closing drops the flock.

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


@atexit.register
def _release_all():
    """A normal exit leaves no lock file behind (not even for a Loop that
    was never closed)."""
    with _held_lock:
        for path, (fd, _) in list(_held.items()):
            try:
                os.unlink(path)
            except OSError:
                pass
            os.close(fd)
        _held.clear()
