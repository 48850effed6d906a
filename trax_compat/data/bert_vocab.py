"""Trax's ``vocab_type='bert'`` and ``'bert-lowercase'``: WordPiece vocab.txt.

The file has one token per line; a token's id is its line index (surrounding
whitespace stripped). Encoding follows the original BERT tokenizer that Trax
ships:

1. clean: drop NUL, U+FFFD and control characters (categories Cc/Cf, except
   tab/newline/CR); turn whitespace (space, tab, newline, CR, Zs) into spaces;
2. put spaces around CJK ideographs;
3. split at whitespace; for ``bert-lowercase`` lower-case each word and strip
   accents (NFD, then drop Mn marks); split each word so that punctuation
   (ASCII symbols and categories P*) stands alone;
4. WordPiece: greedily take the longest vocabulary entry at the start of the
   word, then of the rest with a ``##`` prefix; a word that cannot be covered,
   or is longer than 200 characters, becomes ``[UNK]``.

Decoding joins tokens with spaces, gluing ``##`` continuations to the previous
token (text is not restored exactly: case, accents and spacing may differ).
Quirks kept from Trax: a token listed twice keeps its last line's id and
``vocab_size`` counts distinct tokens; ids with no token (out of range, or the
earlier line of a duplicate) cannot be decoded and raise
:class:`IdOutOfRangeError` (Trax raises KeyError).
"""

import unicodedata

from trax_compat.data.vocab_common import IdOutOfRangeError
from trax_compat.data.vocab_common import VocabFormatError
from trax_compat.data.vocab_common import as_int_ids
from trax_compat.data.vocab_common import read_bytes
from trax_compat.data.vocab_common import to_text

UNK = "[UNK]"
_MAX_WORD_CHARS = 200
_EXPECTED = "a BERT WordPiece vocab.txt (UTF-8 text, one token per line)"
# (first, last) code points that BERT treats as CJK ideographs.
_CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF),
               (0x2A700, 0x2B73F), (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF),
               (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))
_ASCII_PUNCT = frozenset(chr(c) for c in range(33, 127)
                         if not chr(c).isalnum())


def _is_cjk(ch):
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


def _is_punct(ch):
    return ch in _ASCII_PUNCT or unicodedata.category(ch).startswith("P")


def _clean(text):
    out = []
    for ch in text:
        if ch in " \t\n\r":
            out.append(" ")
            continue
        cat = unicodedata.category(ch)
        if ch == "\x00" or ch == "\ufffd" or cat in ("Cc", "Cf"):
            continue
        if cat == "Zs":
            out.append(" ")
        elif _is_cjk(ch):
            out.append(" %s " % ch)
        else:
            out.append(ch)
    return "".join(out)


def _strip_accents(word):
    return "".join(c for c in unicodedata.normalize("NFD", word)
                   if unicodedata.category(c) != "Mn")


def _split_punct(word):
    pieces = []
    current = []
    for ch in word:
        if _is_punct(ch):
            if current:
                pieces.append("".join(current))
                current = []
            pieces.append(ch)
        else:
            current.append(ch)
    if current:
        pieces.append("".join(current))
    return pieces


def basic_tokenize(text, lowercase):
    """Steps 1-3 of the module docstring: text -> list of words."""
    if text.isascii() and text.isprintable():
        # Fast path: nothing to clean, no CJK, no accents to strip.
        words = text.split()
        if lowercase:
            words = [w.lower() for w in words]
    else:
        words = _clean(text).split()
        if lowercase:
            words = [_strip_accents(w.lower()) for w in words]
    out = []
    for word in words:
        out.extend(_split_punct(word))
    # Splitting again drops empty pieces, e.g. a word that was only accents.
    return " ".join(out).split()


def read_bert_vocab(path):
    """Returns the token list of a vocab.txt (line index = id)."""
    data = read_bytes(path, _EXPECTED)
    if b"\x00" in data:
        raise VocabFormatError("%s looks binary (it contains NUL bytes); "
                               "expected %s" % (path, _EXPECTED))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise VocabFormatError("%s is not UTF-8 text (%s); expected %s"
                               % (path, e, _EXPECTED)) from None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    tokens = [line.strip() for line in lines]
    if not any(tokens):
        raise VocabFormatError("%s has no tokens; expected %s"
                               % (path, _EXPECTED))
    return tokens


class BertVocabulary:
    """A WordPiece vocabulary with BERT's basic tokenizer in front."""

    def __init__(self, tokens, lowercase=False, path=None):
        self.path = None if path is None else str(path)
        self.lowercase = bool(lowercase)
        # Later duplicates win, as in Trax.
        self._token_to_id = {t: i for i, t in enumerate(tokens)}
        self._id_to_token = {i: t for t, i in self._token_to_id.items()}
        self._unk_id = self._token_to_id.get(UNK)
        self._word_cache = {}

    @classmethod
    def load(cls, path, lowercase=False):
        return cls(read_bert_vocab(path), lowercase=lowercase, path=path)

    @property
    def vocab_size(self):
        return len(self._token_to_id)

    def _wordpieces(self, word):
        table = self._token_to_id
        if len(word) <= _MAX_WORD_CHARS:
            ids = []
            start = 0
            n = len(word)
            while start < n:
                prefix = "##" if start else ""
                for end in range(n, start, -1):
                    tid = table.get(prefix + word[start:end])
                    if tid is not None:
                        ids.append(tid)
                        start = end
                        break
                else:
                    break
            else:
                return ids
        if self._unk_id is None:
            raise KeyError("cannot encode %r: it is not covered by the "
                           "vocabulary %s, which has no %s token"
                           % (word, self.path or "<in memory>", UNK))
        return [self._unk_id]

    def encode(self, text):
        cache = self._word_cache
        ids = []
        for word in basic_tokenize(to_text(text), self.lowercase):
            wids = cache.get(word)
            if wids is None:
                wids = cache[word] = self._wordpieces(word)
            ids.extend(wids)
        return ids

    def decode(self, ids):
        tokens = []
        for i in as_int_ids(ids):
            token = self._id_to_token.get(i)
            if token is None:
                raise IdOutOfRangeError(
                        "id %d has no token in the BERT vocabulary %s (valid "
                        "ids are line numbers 0..%d, after subtracting "
                        "n_reserved_ids)" % (i, self.path,
                                             max(self._id_to_token)))
            tokens.append(token)
        if not tokens:
            return ""
        out = [tokens[0]]
        for token in tokens[1:]:
            if token.startswith("##"):
                out.append(token.lstrip("#"))
            else:
                out.append(" " + token)
        return "".join(out)

    def __repr__(self):
        return "BertVocabulary(vocab_size=%d, lowercase=%s, path=%r)" % (
                self.vocab_size, self.lowercase, self.path)
