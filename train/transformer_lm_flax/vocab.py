"""A small reader of Trax's subword vocabularies (``.subword`` files, the
tensor2tensor ``SubwordTextEncoder`` format), so that the program tokenizes
as Trax's ``Tokenize(vocab_file=...)`` does without importing Trax.

Encoding: the text is split into runs of letters/digits and runs of other
characters (a single space between two words is implied, so dropped); each
run is escaped (``\\`` -> ``\\\\``, ``_`` -> ``\\u``, a character outside the
vocabulary's alphabet -> ``\\<code point>;``) and ends in ``_``; then it is
cut greedily into the longest subtokens of the file, left to right.
"""

import os
import re

PAD_ID = 0
EOS_ID = 1

# Letters and digits are \w without "_" ([^\W_]): the runs t2t splits on.
_WORD = re.compile(r"(?:(?<=[^\W_]) (?=[^\W_]))?([^\W_]+|[\W_]+)")
_UNESCAPE = re.compile(r"\\u|\\\\|\\([0-9]+);")


def default_vocab_dir():
    """The folder of the vocabularies bundled with this project."""
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(os.path.dirname(os.path.dirname(here)),
                        "trax_compat", "data", "vocabs")


class SubwordVocab:
    """Ids <-> text with the subtokens of one ``.subword`` file."""

    def __init__(self, path):
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"no subword vocabulary at {path}: set config.vocab_dir to "
                "the folder holding config.vocab_file")
        with open(path, encoding="utf-8", newline="") as f:
            lines = f.read().split("\n")
        if lines and not lines[-1]:
            lines.pop()
        subtokens = []
        for line in lines:
            line = line.rstrip()
            if len(line) >= 2 and line[0] == line[-1] and line[0] in "'\"":
                line = line[1:-1]
            subtokens.append(line)
        if not subtokens or subtokens[0] not in ("<pad>", "<pad>_"):
            raise ValueError(
                f"{path} is not a subword vocabulary: it should start with "
                "'<pad>' and '<EOS>', one quoted subtoken per line")
        self.subtokens = subtokens
        self._ids = {s: i for i, s in enumerate(subtokens) if s}
        self._max_len = max(len(s) for s in subtokens)
        self._alphabet = set("".join(subtokens)) | set("\\_u;0123456789")
        self._cache = {}

    @property
    def vocab_size(self):
        return len(self.subtokens)

    def _escape(self, word):
        word = word.replace("\\", "\\\\").replace("_", "\\u")
        return "".join(c if c in self._alphabet and c != "\n"
                       else f"\\{ord(c)};" for c in word) + "_"

    def _encode_word(self, word):
        ids = self._cache.get(word)
        if ids is None:
            escaped, ids, start = self._escape(word), [], 0
            while start < len(escaped):
                for end in range(min(len(escaped), start + self._max_len),
                                 start, -1):
                    if escaped[start:end] in self._ids:
                        ids.append(self._ids[escaped[start:end]])
                        start = end
                        break
                else:
                    raise ValueError(f"no subtoken matches {escaped[start]!r}")
            self._cache[word] = ids
        return ids

    def encode(self, text):
        return [i for word in _WORD.findall(text)
                for i in self._encode_word(word)]

    def decode(self, ids):
        pieces = "".join(self.subtokens[i] for i in ids
                         if 0 <= i < len(self.subtokens))
        words = [_UNESCAPE.sub(_unescape, w) for w in pieces.split("_") if w]
        text = []
        for i, word in enumerate(words):
            if i and word[:1].isalnum() and words[i - 1][-1:].isalnum():
                text.append(" ")
            text.append(word)
        return "".join(text)


def _unescape(match):
    if match.group(1) is not None:
        return chr(int(match.group(1)))
    return "_" if match.group(0) == "\\u" else "\\"
