"""Trax's ``vocab_type='sentencepiece'``: SentencePiece ``.model`` files.

Behaves like the T5/seqio ``SentencePieceVocabulary`` that Trax wraps:

* ``encode`` is SentencePiece's ``EncodeAsIds`` (no EOS appended);
* ``extra_ids=n`` appends ``n`` user-defined pieces ``▁<extra_id_K>`` to the
  model, numbered from the end (``<extra_id_0>`` gets the largest id), so the
  text ``<extra_id_0>`` encodes to ``vocab_size - 1``; ``vocab_size`` counts
  them;
* ``decode`` maps ids at or beyond ``vocab_size`` to the unknown id, cuts the
  ids after the first EOS (id 1 in T5-style models), then decodes. A negative
  id raises :class:`IdOutOfRangeError`, as SentencePiece does.
"""

import sentencepiece as spm

from trax_compat.data.vocab_common import IdOutOfRangeError
from trax_compat.data.vocab_common import VocabFormatError
from trax_compat.data.vocab_common import as_int_ids
from trax_compat.data.vocab_common import read_bytes

_EXPECTED = "a SentencePiece model (.model protobuf file written by spm_train)"


def _parse_model(data, path):
    # Imported here: the protobuf module is only needed to load a model.
    from sentencepiece import sentencepiece_model_pb2  # pylint: disable=g-import-not-at-top
    from google.protobuf import message  # pylint: disable=g-import-not-at-top
    try:
        model = sentencepiece_model_pb2.ModelProto.FromString(data)
    except message.DecodeError as e:
        raise VocabFormatError(
                "%s is not a readable SentencePiece model (%s); expected %s"
                % (path, e, _EXPECTED)) from None
    if not model.pieces:
        raise VocabFormatError("%s holds no SentencePiece pieces; expected %s"
                               % (path, _EXPECTED))
    # Pieces come first in the file and the specs after them, so a file cut
    # at a field boundary still parses but lacks the specs.
    if not (model.HasField("trainer_spec") and
            model.HasField("normalizer_spec")):
        raise VocabFormatError(
                "%s looks truncated: it has %d pieces but no trainer/normalizer "
                "spec; expected %s" % (path, len(model.pieces), _EXPECTED))
    return model


class SentencePieceVocabulary:
    """A SentencePiece model with Trax/T5's ``extra_ids`` handling."""

    def __init__(self, serialized_model, extra_ids=0, path=None):
        self.path = None if path is None else str(path)
        self.extra_ids = int(extra_ids or 0)
        if self.extra_ids < 0:
            raise ValueError("extra_ids must be >= 0, got %r" % (extra_ids,))
        model = _parse_model(serialized_model, self.path or "<bytes>")
        if self.extra_ids:
            from sentencepiece import sentencepiece_model_pb2  # pylint: disable=g-import-not-at-top
            user_defined = sentencepiece_model_pb2.ModelProto.SentencePiece.USER_DEFINED
            for k in reversed(range(self.extra_ids)):
                model.pieces.add(piece="\u2581<extra_id_%d>" % k, score=0.0,
                                 type=user_defined)
            serialized_model = model.SerializeToString()
        self._sp = spm.SentencePieceProcessor()
        try:
            self._sp.LoadFromSerializedProto(serialized_model)
        except RuntimeError as e:
            raise VocabFormatError("%s: SentencePiece cannot load it (%s); "
                                   "expected %s" % (self.path, e, _EXPECTED)
                                   ) from None
        self._size = self._sp.GetPieceSize()
        self._unk = self._sp.unk_id()
        self._eos = self._sp.eos_id()
        self._encode = self._sp.EncodeAsIds

    @classmethod
    def load(cls, path, extra_ids=0):
        return cls(read_bytes(path, _EXPECTED), extra_ids=extra_ids, path=path)

    @property
    def vocab_size(self):
        return self._size

    @property
    def processor(self):
        """The underlying ``sentencepiece.SentencePieceProcessor``."""
        return self._sp

    def encode(self, text):
        if not isinstance(text, (str, bytes)):
            if isinstance(text, bytearray):
                text = bytes(text)
            else:
                raise TypeError("expected text (str or UTF-8 bytes) to "
                                "tokenize, got %s: %r"
                                % (type(text).__name__, text))
        # SentencePiece decodes bytes as UTF-8 itself, exactly as in Trax.
        return self._encode(text)

    def decode(self, ids):
        ids = as_int_ids(ids)
        ids = [self._unk if i >= self._size else i for i in ids]
        if self._eos >= 0 and self._eos in ids:
            ids = ids[:ids.index(self._eos) + 1]
        negative = [i for i in ids if i < 0]
        if negative:
            raise IdOutOfRangeError(
                    "sentencepiece ids must be >= 0 (after subtracting "
                    "n_reserved_ids); got %r for %s" % (negative[:5], self.path))
        return self._sp.DecodeIds(ids)

    def __repr__(self):
        return "SentencePieceVocabulary(vocab_size=%d, extra_ids=%d, path=%r)" % (
                self._size, self.extra_ids, self.path)
