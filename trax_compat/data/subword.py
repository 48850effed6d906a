"""Subword vocabularies in the tensor2tensor/Trax ``.subword`` format.

A ``.subword`` file holds one subtoken per line, normally wrapped in single
quotes; the id of a subtoken is its line index. Encoding works in three steps,
bit-compatible with Trax's ``SubwordTextEncoder``:

1. split the text into runs of alphanumeric (Unicode categories L* and N*) and
   non-alphanumeric characters, dropping single spaces between two words;
2. escape each run: ``\\`` -> ``\\\\``, ``_`` -> ``\\u``, characters outside
   the vocabulary's alphabet (and newlines) -> ``\\<codepoint>;``, then append
   the terminator ``_``;
3. cut the escaped run greedily into the longest subtokens of the vocabulary.

Decoding concatenates the subtokens, splits at ``_`` and undoes steps 2 and 1.
"""

import collections
import itertools
import os
import re
import sys
import threading
import unicodedata

import numpy as np

from trax_compat.data.vocab_common import VocabFormatError
from trax_compat.data.vocab_common import to_text as _to_text

PAD = "<pad>"
EOS = "<EOS>"
RESERVED_TOKENS = (PAD, EOS)

# Characters the escaping scheme itself produces; always part of the alphabet.
_ESCAPE_CHARS = frozenset("\\_u;0123456789")
_UNESCAPE_RE = re.compile(r"\\u|\\\\|\\([0-9]+);")
# Placeholder t2t uses for an escape that names no valid code point.
_UNDEFINED_CHAR = "\u3013"
_QUOTES = ("'", '"')
_chain = itertools.chain
_join_bytes = b"".join
# The dtype np.array gives a list of Python ints (what Trax's Tokenize makes).
ID_DTYPE = np.array([0]).dtype

# Per-vocabulary word cache bound; cleared wholesale when full (cheap, and
# real corpora stay far below it).
_WORD_CACHE_MAX = 1 << 20


class SubwordFormatError(VocabFormatError):
    """A file is not a readable ``.subword`` vocabulary."""


class SubwordEncodingError(ValueError, AssertionError):
    """A word cannot be expressed with the vocabulary's subtokens.

    Also an ``AssertionError``: the type t2t/Trax's ``SubwordTextEncoder``
    raises here, so code catching either keeps working.
    """


# --------------------------------------------------------------------------
# Word splitting (alphanumeric / non-alphanumeric runs).
# --------------------------------------------------------------------------

# t2t's word characters are the Unicode categories L* and N*. For a single
# character, str.isalnum() is exactly that set (checked over every code point
# in tests/test_vocab_alnum.py), and re's \\w is isalnum() plus "_", so
# [^\\W_] needs no 1.1M-code-point table: compiling it is instant.
_RUN_RE = re.compile(r"[^\W_]+|[\W_]+")
# The same runs, minus t2t's dropped spaces: a run that is exactly one space
# and lies between two words is consumed in front of the next word.
_WORD_RE = re.compile(r"(?:(?<=[^\W_]) (?=[^\W_]))?([^\W_]+|[\W_]+)")
_split = _WORD_RE.findall
_alnum_lock = threading.Lock()
_alnum_chars = None


def _alnum_ranges():
    """Code point ranges of letters and numbers, as (first, last) pairs.

    Slow (scans every code point); only for tests and :func:`alphanumeric_chars`.
    """
    ranges = []
    start = None
    category = unicodedata.category
    # t2t scans range(sys.maxunicode), i.e. it never tests the last code point.
    for cp in range(sys.maxunicode):
        is_alnum = category(chr(cp))[0] in "LN"
        if is_alnum and start is None:
            start = cp
        elif not is_alnum and start is not None:
            ranges.append((start, cp - 1))
            start = None
    if start is not None:
        ranges.append((start, sys.maxunicode - 1))
    return ranges


def alphanumeric_chars():
    """The frozenset of all letter/number characters (built once, lazily)."""
    global _alnum_chars
    with _alnum_lock:
        if _alnum_chars is None:
            _alnum_chars = frozenset(
                    chr(cp) for first, last in _alnum_ranges()
                    for cp in range(first, last + 1))
    return _alnum_chars


def split_words(text):
    """Splits ``text`` into word tokens exactly like t2t's ``tokenizer.encode``.

    The tokens alternate between alphanumeric and non-alphanumeric runs; a run
    that is a single space is dropped unless it is the first or the last one
    (it is implied by two adjacent words).
    """
    return _split(text)


def join_words(tokens):
    """Inverse of :func:`split_words`: a space goes between two words."""
    out = []
    prev_alnum = False
    for token in tokens:
        cur_alnum = token[0].isalnum()
        if out and prev_alnum and cur_alnum:
            out.append(" ")
        out.append(token)
        prev_alnum = cur_alnum
    return "".join(out)


# --------------------------------------------------------------------------
# Escaping.
# --------------------------------------------------------------------------

def escape_token(token, alphabet):
    """Escapes one word token and appends the ``_`` terminator."""
    token = token.replace("\\", "\\\\").replace("_", "\\u")
    pieces = [c if (c in alphabet and c != "\n") else "\\%d;" % ord(c)
              for c in token]
    return "".join(pieces) + "_"


def _unescape_match(m):
    digits = m.group(1)
    if digits is None:
        return "_" if m.group(0) == "\\u" else "\\"
    try:
        return chr(int(digits))
    except (ValueError, OverflowError):
        return _UNDEFINED_CHAR


def unescape_token(escaped):
    """Inverse of :func:`escape_token` (a trailing ``_`` is optional)."""
    if escaped.endswith("_"):
        escaped = escaped[:-1]
    return _UNESCAPE_RE.sub(_unescape_match, escaped)


# --------------------------------------------------------------------------
# File format.
# --------------------------------------------------------------------------

def _is_quoted(line):
    return any(line.startswith(q) and line.endswith(q) for q in _QUOTES)


def parse_subword_lines(text, source="<string>", strict=True):
    """Parses the content of a ``.subword`` file into its subtoken list.

    Mirrors t2t's reader (each line right-stripped, then one pair of
    surrounding quotes removed). With ``strict`` (the default) it refuses
    input t2t would silently misread: no subtokens at all, a quoted file with
    a line that lost its closing quote (a truncated file), or an unquoted file
    that does not start with the reserved ``<pad>`` token (not a subword
    vocabulary at all). ``strict=False`` reads any lines, as t2t does.
    """
    if not strict:
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        stripped = [line.rstrip() for line in lines]
        return [s[1:-1] if _is_quoted(s) else s for s in stripped]
    expected = ("expected a t2t/Trax SubwordTextEncoder vocabulary: one "
                "single-quoted subtoken per line, starting with '<pad>' and "
                "'<EOS>'")
    if "\x00" in text:
        raise SubwordFormatError(
                "%s is not a .subword vocabulary (it contains NUL bytes, so it "
                "looks binary); %s" % (source, expected))
    # t2t's file reader splits at "\n" only (no universal newlines).
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    stripped = [line.rstrip() for line in lines]
    first = next((s for s in stripped if s), None)
    if first is None:
        raise SubwordFormatError(
                "%s is empty: it holds no subtokens; %s" % (source, expected))
    quoted = _is_quoted(first)
    if not quoted and first not in (PAD, PAD + "_"):
        raise SubwordFormatError(
                "%s is not a .subword vocabulary: line %d is %r; %s"
                % (source, stripped.index(first) + 1, first[:80], expected))
    subtokens = []
    for lineno, s in enumerate(stripped, 1):
        if _is_quoted(s):
            s = s[1:-1]
        elif quoted and s:
            hint = ("it has no closing quote (is the file truncated?)"
                    if s[0] in _QUOTES else "it is not quoted")
            raise SubwordFormatError(
                    "%s: line %d (%r) is not a valid subtoken line: %s; %s"
                    % (source, lineno, s[:80], hint, expected))
        subtokens.append(s)
    return subtokens


def read_subword_file(path):
    """Reads a ``.subword`` file and returns its subtoken strings."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SubwordFormatError(
                "%s is not a .subword vocabulary: it is not UTF-8 text (%s); "
                "expected one single-quoted subtoken per line" % (path, e)
                ) from None
    return parse_subword_lines(text, source=str(path))


def format_subword_lines(subtokens):
    """The ``.subword`` file content for ``subtokens`` (t2t's quoted style)."""
    return "".join("'%s'\n" % s for s in subtokens)


# --------------------------------------------------------------------------
# The vocabulary.
# --------------------------------------------------------------------------

class SubwordVocabulary:
    """A t2t/Trax-compatible subword vocabulary.

    Args:
        subtokens: the subtoken strings; the id of a subtoken is its index.
        path: where the vocabulary came from (for messages only).
        alphabet: the characters written as themselves when escaping; by
            default those of the subtokens plus the escaping characters
            (what t2t derives when it loads a file).
    """

    def __init__(self, subtokens, path=None, alphabet=None):
        subtokens = list(subtokens)
        if not subtokens:
            raise ValueError("a subword vocabulary needs at least one subtoken")
        self._subtokens = subtokens
        self.path = None if path is None else str(path)
        # Empty strings are unreachable for encoding; later duplicates win,
        # as in t2t.
        self._subtoken_to_id = {s: i for i, s in enumerate(subtokens) if s}
        self._max_len = max(len(s) for s in subtokens)
        if alphabet is None:
            alphabet = frozenset(c for s in subtokens for c in s) | _ESCAPE_CHARS
        self._alphabet = frozenset(alphabet)
        self._word_cache = {}
        # word -> its ids as ID_DTYPE bytes (see encode_packed).
        self._packed_cache = {}

    @classmethod
    def load(cls, path):
        """Loads a ``.subword`` file (raises :class:`SubwordFormatError`)."""
        path = os.fspath(path)
        return cls(read_subword_file(path), path=path)

    def save(self, path):
        """Writes the vocabulary as a quoted ``.subword`` file, atomically
        (a crash never leaves a truncated file under ``path``)."""
        path = os.fspath(path)
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(format_subword_lines(self._subtokens))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    @property
    def vocab_size(self):
        return len(self._subtokens)

    @property
    def subtokens(self):
        return tuple(self._subtokens)

    @property
    def alphabet(self):
        return self._alphabet

    def __len__(self):
        return len(self._subtokens)

    def __repr__(self):
        return "SubwordVocabulary(vocab_size=%d, path=%r)" % (
                self.vocab_size, self.path)

    # -- encoding ----------------------------------------------------------

    def _segment(self, escaped):
        """Greedy longest-prefix split of an escaped word into subtokens."""
        table = self._subtoken_to_id
        max_len = self._max_len
        n = len(escaped)
        out = []
        start = 0
        while start < n:
            for end in range(min(n, start + max_len), start, -1):
                sid = table.get(escaped[start:end])
                if sid is not None:
                    out.append(sid)
                    start = end
                    break
            else:
                raise SubwordEncodingError(
                        "cannot encode %r with vocabulary %s: no subtoken "
                        "matches %r (the vocabulary lacks a one-character "
                        "subtoken for a character of its own alphabet)"
                        % (escaped, self.path or "<in memory>",
                           escaped[start]))
        return out

    def encode_word(self, word):
        """Ids of one word token (cached)."""
        ids = self._word_cache.get(word)
        if ids is None:
            ids = self._segment(escape_token(word, self._alphabet))
            if len(self._word_cache) >= _WORD_CACHE_MAX:
                self._word_cache.clear()
                self._packed_cache.clear()
            self._word_cache[word] = ids
        return ids

    def encode_packed(self, text):
        """The ids of ``encode(text)`` as the bytes of an ``ID_DTYPE`` array.

        ``np.frombuffer(blob, ID_DTYPE)`` holds what ``np.array(encode(text))``
        holds (empty bytes for no ids). Joining cached per-word bytes is one C
        call, where building a list of ints and converting it costs a few
        microseconds per text.
        """
        if text.__class__ is not str:
            text = _to_text(text)
        words = _split(text)
        packed = self._packed_cache
        try:
            return _join_bytes(map(packed.__getitem__, words))
        except KeyError:
            pass
        encode_word = self.encode_word
        parts = []
        for word in words:
            blob = packed.get(word)
            if blob is None:
                # encode_word empties both caches when they are full.
                blob = np.array(encode_word(word), dtype=ID_DTYPE).tobytes()
                packed[word] = blob
            parts.append(blob)
        return _join_bytes(parts)

    def encode(self, text):
        """Text (str or UTF-8 bytes) -> list of subtoken ids."""
        if text.__class__ is not str:
            text = _to_text(text)
        words = _split(text)
        try:
            # Fast path (every word seen before): C-level lookups and concat.
            return list(_chain(*map(self._word_cache.__getitem__, words)))
        except KeyError:
            pass
        encode_word = self.encode_word
        ids = []
        for word in words:
            ids.extend(encode_word(word))
        return ids

    # -- decoding ----------------------------------------------------------

    def id_to_subtoken(self, i):
        """The subtoken string of id ``i``; "" for ids out of range."""
        if 0 <= i < len(self._subtokens):
            return self._subtokens[i]
        return ""

    def decode(self, ids):
        """List of ids -> text; out-of-range ids decode to nothing."""
        pieces = []
        n = len(self._subtokens)
        subtokens = self._subtokens
        for i in ids:
            if isinstance(i, bool) or not hasattr(i, "__index__"):
                raise TypeError("subtoken ids must be integers, got %r (%s)"
                                % (i, type(i).__name__))
            i = i.__index__()
            if 0 <= i < n:
                pieces.append(subtokens[i])
        words = []
        for piece in "".join(pieces).split("_"):
            if piece:
                word = unescape_token(piece)
                if word:
                    words.append(word)
        return join_words(words)


# --------------------------------------------------------------------------
# Building a vocabulary from a corpus.
# --------------------------------------------------------------------------

def count_words(texts):
    """Counter of word tokens (see :func:`split_words`) over ``texts``."""
    counts = collections.Counter()
    for text in texts:
        counts.update(split_words(_to_text(text)))
    return counts


class SubwordTrainer:
    """Everything about one corpus that does not depend on min_count."""

    def __init__(self, word_counts, reserved_tokens, max_subtoken_length,
                 escape_chars=_ESCAPE_CHARS):
        self.reserved = list(reserved_tokens)
        self.max_subtoken_length = max_subtoken_length
        alphabet = {c for w in word_counts for c in w}
        alphabet.update(c for t in self.reserved for c in t)
        alphabet |= set(escape_chars)
        self.alphabet = frozenset(alphabet)
        self.escaped_reserved = [escape_token(t, self.alphabet)
                                 for t in self.reserved]
        self.items = [(escape_token(w, self.alphabet), c)
                      for w, c in word_counts.items()]
        # In the first round every subtoken is one character, so its counts
        # do not depend on min_count: compute them once for all searches.
        self.first_counts = self._count(None)

    def _count(self, table):
        """Counts the substrings that start at current subtoken boundaries.

        Each boundary contributes every prefix of the rest of its word, so
        equal remainders are merged first and expanded once.
        """
        limit = self.max_subtoken_length
        tails = collections.defaultdict(int)
        for escaped, count in self.items:
            n = len(escaped)
            starts = range(n) if table is None else table.boundaries(escaped)
            for start in starts:
                # t2t's longest candidate is max_subtoken_length - 1 long.
                stop = n if limit is None else min(n, start + limit - 1)
                tails[escaped[start:stop]] += count
        counts = collections.defaultdict(int)
        for tail, count in tails.items():
            for end in range(1, len(tail) + 1):
                counts[tail[:end]] += count
        return counts

    def train(self, min_count, num_iterations):
        """The subtoken list t2t's ``build_from_token_counts`` would make."""
        min_count = max(min_count, 1)
        alphabet = self.alphabet
        table = None
        subtokens = None
        for iteration in range(num_iterations):
            if iteration == 0:
                counts = collections.defaultdict(int, self.first_counts)
            else:
                counts = self._count(table)
            by_len = collections.defaultdict(list)
            for s, c in counts.items():
                if c >= min_count:
                    by_len[len(s)].append(s)
            chosen = []
            # Longest first, so accepting a string discounts its prefixes.
            for length in sorted(by_len, reverse=True):
                for s in by_len[length]:
                    c = counts[s]
                    if c >= min_count:
                        if s not in alphabet:
                            chosen.append((c, s))
                        for k in range(1, length):
                            counts[s[:k]] -= c
            chosen.extend((counts.get(a, 0), a) for a in alphabet)
            chosen.sort(reverse=True)
            subtokens = self.escaped_reserved + [s for _, s in chosen]
            table = _GreedyTable(subtokens)
        return subtokens


class _GreedyTable:
    """Greedy longest-prefix segmentation, trying only lengths that exist."""

    def __init__(self, subtokens):
        self.strings = {s for s in subtokens if s}
        lengths = collections.defaultdict(set)
        for s in self.strings:
            lengths[s[0]].add(len(s))
        # For each first character: candidate lengths, longest first.
        self.lengths = {c: sorted(ls, reverse=True) for c, ls in lengths.items()}

    def boundaries(self, escaped):
        """Start offsets of the subtokens of ``escaped``."""
        strings = self.strings
        lengths = self.lengths
        n = len(escaped)
        starts = []
        start = 0
        while start < n:
            starts.append(start)
            rest = n - start
            for length in lengths.get(escaped[start], ()):
                if length <= rest and escaped[start:start + length] in strings:
                    start += length
                    break
            else:
                raise SubwordEncodingError(
                        "internal error: %r cannot be segmented" % escaped)
        return starts


def build_subword_vocabulary(texts, target_size, *, min_count_range=(1, 1000),
                             num_iterations=4, max_subtoken_length=None,
                             reserved_tokens=RESERVED_TOKENS):
    """Builds a vocabulary of about ``target_size`` subtokens from ``texts``.

    Like t2t's ``build_from_generator``: words are counted, then a recursive
    bisection over the minimum subtoken count picks the vocabulary whose size
    is closest to ``target_size`` (stopping early once within 1%). If no
    minimum count gets within 1%, the rarest multi-character subtokens of the
    next larger candidate are dropped to reach ``target_size`` exactly (only
    a corpus with too few distinct words stays below the target).

    Args:
        texts: iterable of str/bytes (e.g. lines of a corpus).
        target_size: desired vocabulary size (reserved tokens included).
        min_count_range: (low, high) bounds for the searched minimum count.
        num_iterations: refinement rounds per candidate vocabulary.
        max_subtoken_length: optional bound on subtoken length (speed).
        reserved_tokens: tokens placed first; must start with <pad>, <EOS>.

    Returns:
        A :class:`SubwordVocabulary`.
    """
    if target_size < 1:
        raise ValueError("target_size must be positive, got %r" % (target_size,))
    low, high = min_count_range
    if low > high:
        raise ValueError("min_count_range low bound %r exceeds high bound %r"
                         % (low, high))
    reserved_tokens = list(reserved_tokens or ())
    for want, got in zip(RESERVED_TOKENS, reserved_tokens):
        if want != got:
            raise ValueError("reserved_tokens must start with %r, got %r"
                             % (list(RESERVED_TOKENS), reserved_tokens))
    word_counts = count_words(texts)
    trainer = SubwordTrainer(word_counts, reserved_tokens, max_subtoken_length)
    results = {}
    best = search_min_count(trainer, target_size, low, high, num_iterations,
                            results)
    if abs(len(best) - target_size) * 100 >= target_size:
        # min_count moves the size in jumps; when no count lands within 1%,
        # drop the rarest multi-character subtokens of the smallest larger
        # candidate. Single characters stay, so every text remains encodable.
        larger = [c for c in results.values() if len(c) > target_size]
        if larger:
            best = _trim(min(larger, key=len), target_size, len(reserved_tokens),
                         trainer.alphabet)
    return SubwordVocabulary(best)


def search_min_count(trainer, target_size, low, high, num_iterations=4,
                     results=None):
    """t2t's bisection over the minimum subtoken count: the subtoken list of
    the tried count whose size is closest to ``target_size`` (a count within
    1% of it ends the search). ``results`` (min_count -> subtokens) collects
    every candidate tried."""
    results = {} if results is None else results

    def build(min_count):
        if min_count not in results:
            results[min_count] = trainer.train(min_count, num_iterations)
        return results[min_count]

    def distance(subtokens):
        return abs(len(subtokens) - target_size)

    def search(lo, hi):
        mid = (lo + hi) // 2
        cand = build(mid)
        close_enough = distance(cand) * 100 < target_size
        if close_enough or lo >= hi or mid < 2:
            return cand
        if len(cand) > target_size:
            other = search(mid + 1, hi)
        else:
            other = search(lo, mid - 1)
        return other if distance(other) < distance(cand) else cand

    return search(low, high)


def _trim(subtokens, target_size, n_reserved, alphabet):
    """Removes the last (rarest) removable subtokens down to target_size."""
    excess = len(subtokens) - target_size
    keep = list(subtokens)
    for i in range(len(keep) - 1, n_reserved - 1, -1):
        if excess <= 0:
            break
        if keep[i] not in alphabet:
            del keep[i]
            excess -= 1
    return keep


def build_subword_vocab_file(texts, target_size, path, **kwargs):
    """Builds a vocabulary (see :func:`build_subword_vocabulary`) and saves it.

    Note: a one-character subtoken "\\n" (present when the corpus contains
    newlines) is written as a quoted line break, which t2t (and our loader)
    read back as two empty subtokens; this mirrors t2t exactly.
    """
    vocab = build_subword_vocabulary(texts, target_size, **kwargs)
    vocab.save(path)
    return SubwordVocabulary.load(path)
