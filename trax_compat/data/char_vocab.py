"""Trax's ``vocab_type='char'``: one id per UTF-8 byte.

Trax uses a byte encoder with no reserved ids of its own: the id of a byte is
its value (0..255) and ``vocab_size`` is 256. Reserving ids is left to
``n_reserved_ids`` in ``tokenize``/``detokenize``/``vocab_size``, which shifts
every id up, so byte ``b`` becomes ``b + n_reserved_ids``.

Decoding joins the bytes and decodes them as UTF-8, replacing invalid
sequences with U+FFFD. An id that is not a byte value (negative, e.g. a
reserved id below ``n_reserved_ids``, or above 255) has no text; Trax fails
on it, and so do we, with :class:`IdOutOfRangeError`.
"""

from trax_compat.data.vocab_common import IdOutOfRangeError
from trax_compat.data.vocab_common import as_int_ids


class CharVocabulary:
    """Byte-level vocabulary; needs no file."""

    vocab_size = 256
    path = None

    def encode(self, text):
        """str -> its UTF-8 bytes as ids; bytes are taken as they are."""
        if isinstance(text, str):
            return list(text.encode("utf-8"))
        if isinstance(text, (bytes, bytearray)):
            # Already UTF-8: using the bytes directly is lossless.
            return list(text)
        raise TypeError("expected text (str or UTF-8 bytes) to tokenize, got "
                        "%s: %r" % (type(text).__name__, text))

    def decode(self, ids):
        ids = as_int_ids(ids)
        bad = [i for i in ids if not 0 <= i < 256]
        if bad:
            raise IdOutOfRangeError(
                    "char vocabulary ids are byte values 0..255 (plus "
                    "n_reserved_ids when tokenized with it); cannot decode %r "
                    "(after subtracting n_reserved_ids)" % (bad[:5],))
        return bytes(ids).decode("utf-8", errors="replace")

    def __repr__(self):
        return "CharVocabulary(vocab_size=256)"
