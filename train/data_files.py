"""Reading a user's ``text,label`` file the way the Trax tutorial does.

The tutorial reads its tweets with::

    [tuple([str(i.split(',')[0]), np.int64(i.split(',')[1])]) for i in f]

i.e. the text is everything before the comma and the label after it,
parsed with ``np.int64``. The line still ends with its ``'\\n'`` there,
which ``np.int64`` tolerates (it strips surrounding whitespace), so
``"good movie,1\\n"`` gives ``("good movie", 1)``.

:func:`read_labeled_lines` keeps exactly those semantics for lines with one
comma, and reads texts that hold commas, which the tutorial cannot:

* A line with more commas takes its label from after the *last* one; the
  text is everything before it (``a, b,1`` gives ``("a, b", 1)``).
* A line that starts with ``"`` is a CSV record, with standard quoting
  (``"great, really",1``; ``""`` is a quote inside the text): a quoted text
  and a label, nothing else. A line with a single comma stays the
  tutorial's, quotes and all.

Where Trax would fail with a bare ``IndexError``/``ValueError`` (or silently
return nothing) it raises :class:`DataFileError`, naming the file, the
1-based line number and the offending line. Also:

* Blank (whitespace-only) lines at the end of the file are skipped, since
  editors often leave them. A blank line *before* the last example is an
  error: Trax's reader fails on it too, and it usually means a broken file.
* An empty file (or one with only blank lines) is an error.
* The file is decoded as UTF-8 (a leading byte-order mark is dropped);
  undecodable bytes raise :class:`DataFileError` with their line number.
  Line endings ``\\n``, ``\\r\\n`` and ``\\r`` are all accepted, as with
  Python's text-mode ``open``.
"""

import csv
import io
import os

import numpy as np

EXPECTED_FORMAT = (
    "expected one example per line as `text,label` with an integer label "
    "(e.g. `what a great movie,1`); a text with commas is followed by "
    "`,label` after its last comma, or quoted: `\"great, really\",1`")

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
        text, label_field = _text_and_label(path, lineno, raw, shown)
        try:
            label = np.int64(label_field)
        except (ValueError, OverflowError, TypeError):
            raise DataFileError(
                path, lineno, shown,
                f"label {label_field.strip()!r} is not an integer") from None
        if n_classes is not None and not 0 <= label < n_classes:
            raise DataFileError(
                path, lineno, shown,
                f"label {int(label)} is outside 0..{n_classes - 1}: the model "
                f"has {n_classes} classes (see --n-classes)")
        examples.append((str(text), label))
    return examples


def _text_and_label(path, lineno, raw, shown):
    """The text and the (unparsed) label field of one line."""
    n_commas = raw.count(",")
    if n_commas == 0:
        raise DataFileError(path, lineno, shown,
                            "no comma separating text and label")
    if n_commas == 1 or not raw.startswith('"'):
        # One comma: the tutorial's split. More: the last one separates.
        text, label = raw.rsplit(",", 1)
        return text, label
    try:
        fields = next(csv.reader([raw.rstrip("\n")], strict=True))
    except csv.Error as e:
        raise DataFileError(path, lineno, shown,
                            f"bad CSV quoting ({e})") from None
    if len(fields) != 2:
        raise DataFileError(
            path, lineno, shown,
            f"a quoted text must be followed by one `,label` (found "
            f"{len(fields)} fields)")
    return fields[0], fields[1]
