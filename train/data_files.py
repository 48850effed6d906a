"""Reading a user's ``text,label`` file the way the Trax tutorial does.

The tutorial reads its tweets with::

    [tuple([str(i.split(',')[0]), np.int64(i.split(',')[1])]) for i in f]

i.e. the text is everything before the first comma and the label is the next
comma-separated field, parsed with ``np.int64``. The line still ends with its
``'\\n'`` there, which ``np.int64`` tolerates (it strips surrounding
whitespace), so ``"good movie,1\\n"`` gives ``("good movie", 1)``.

:func:`read_labeled_lines` keeps exactly those semantics for well-formed
lines, but where Trax would fail with a bare ``IndexError``/``ValueError``
(or silently return nothing) it raises :class:`DataFileError`, naming the
file, the 1-based line number and the offending line. Choices made here:

* Fields after the label (``"text,1,extra"``) are ignored, as in the
  tutorial; a comma inside the text cannot be represented (``"a, b,1"``
  fails because ``" b"`` is not an integer).
* Blank (whitespace-only) lines at the end of the file are skipped, since
  editors often leave them. A blank line *before* the last example is an
  error: Trax's reader fails on it too, and it usually means a broken file.
* An empty file (or one with only blank lines) is an error.
* The file is decoded as UTF-8 (a leading byte-order mark is dropped);
  undecodable bytes raise :class:`DataFileError` with their line number.
  Line endings ``\\n``, ``\\r\\n`` and ``\\r`` are all accepted, as with
  Python's text-mode ``open``.
"""

import io
import os

import numpy as np

EXPECTED_FORMAT = (
    "expected one example per line as `text,label` with an integer label "
    "(e.g. `what a great movie,1`); the text must not contain commas")

_MAX_SHOWN = 80


class DataFileError(ValueError):
    """A ``text,label`` data file could not be read (exit code 2).

    Attributes: ``path``, ``lineno`` (1-based, or ``None`` for whole-file
    problems) and ``line`` (the offending line without its line break, or
    ``None``).
    """

    exit_code = 2  # Bad input: see trax_compat.command_errors.

    def __init__(self, path, lineno, line, reason):
        self.path = os.fspath(path)
        self.lineno = lineno
        self.line = line
        where = self.path if lineno is None else f"{self.path}:{lineno}"
        message = f"{where}: {reason}"
        if line is not None:
            shown = line if len(line) <= _MAX_SHOWN else (
                line[:_MAX_SHOWN] + f"... ({len(line)} chars)")
            message += f" (line {lineno}: {shown!r})"
        # Two lines: what is wrong where, then what is expected.
        message += f"\n  {EXPECTED_FORMAT}"
        super().__init__(message)


def _decode(path, data):
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        lineno = data[:e.start].count(b"\n") + 1
        raise DataFileError(
            path, lineno, None,
            f"line {lineno} is not valid UTF-8 ({e.reason} at byte "
            f"{e.start})") from e


def read_labeled_lines(path, n_classes=None):
    """Reads ``text,label`` lines into a list of ``(str, np.int64)`` pairs.

    Same result as the Trax tutorial's reader for valid files; malformed
    files raise :class:`DataFileError` (see the module docstring), and so
    does a label outside ``0..n_classes-1`` when ``n_classes`` is given
    (Trax would train on it silently: a loss of 0 and nothing learned).
    """
    with open(path, "rb") as f:
        text = _decode(path, f.read())
    # newline=None gives text-mode universal newlines, as open() does.
    lines = list(io.StringIO(text, newline=None))
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise DataFileError(path, None, None, "the file has no examples")

    examples = []
    for lineno, raw in enumerate(lines, start=1):
        shown = raw.rstrip("\n")
        if not raw.strip():
            raise DataFileError(path, lineno, shown,
                                "blank line before the last example")
        fields = raw.split(",")
        if len(fields) < 2:
            raise DataFileError(path, lineno, shown,
                                "no comma separating text and label")
        try:
            label = np.int64(fields[1])
        except (ValueError, OverflowError, TypeError):
            raise DataFileError(
                path, lineno, shown,
                f"label {fields[1].strip()!r} is not an integer") from None
        if n_classes is not None and not 0 <= label < n_classes:
            raise DataFileError(
                path, lineno, shown,
                f"label {int(label)} is outside 0..{n_classes - 1}: the model "
                f"has {n_classes} classes (see --n-classes)")
        examples.append((str(fields[0]), label))
    return examples
