"""Errors and small helpers shared by all vocabulary types."""


class VocabFormatError(ValueError):
    """A vocabulary file is empty, truncated or not of the expected format."""


class IdOutOfRangeError(ValueError, IndexError):
    """``decode`` got an id that the vocabulary cannot map back to text.

    Subclasses both ValueError and IndexError, so code written against Trax
    (where SentencePiece raises IndexError) keeps working.
    """


def to_text(text):
    """str as is; bytes as UTF-8 (undecodable bytes dropped, like t2t)."""
    if isinstance(text, str):
        return text
    if isinstance(text, (bytes, bytearray)):
        return bytes(text).decode("utf-8", errors="ignore")
    raise TypeError("expected text (str or UTF-8 bytes) to tokenize, got %s: %r"
                    % (type(text).__name__, text))


def as_int_ids(ids):
    """``ids`` as a list of Python ints; rejects floats and bools."""
    out = []
    for i in ids:
        if isinstance(i, bool) or not hasattr(i, "__index__"):
            raise TypeError("token ids must be integers, got %r (%s)"
                            % (i, type(i).__name__))
        out.append(i.__index__())
    return out


def read_bytes(path, what):
    """Reads a vocabulary file, turning an empty file into a clear error."""
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        raise VocabFormatError("%s is empty; expected %s" % (path, what))
    return data
