"""Trax's invertible word splitter (``trax.data.tokenizer``).

``encode`` cuts a text into alternating runs of letters/digits (Unicode
categories L* and N*) and of other characters, leaving out a single space
between two words; ``decode`` puts those spaces back. The subword
vocabularies use the same splitter (:func:`trax_compat.data.subword.split_words`),
so there is one implementation. ``corpus_token_counts`` and
``vocab_token_counts`` count words in local text files matched by a glob
pattern, as Trax does with ``tf.io.gfile``.
"""

import collections
import glob
import logging

from trax_compat.data import subword

_log = logging.getLogger(__name__)


def encode(text):
    """Splits a str into word tokens; ``decode(encode(text)) == text``."""
    if not text:
        return []
    if not isinstance(text, str):
        raise TypeError(
            f'tokenizer.encode expects a str, got {type(text).__name__}; '
            f'decode bytes first (text_encoder.native_to_unicode).')
    return subword.split_words(text)


def decode(tokens):
    """Joins word tokens back into text (a space between two word runs)."""
    return subword.join_words(tokens)


def _read_text(path):
    with open(path, 'rb') as f:
        return f.read().decode('utf-8')


def _read_lines(path):
    # Line by line, TensorFlow's file reader (which Trax uses) splits at
    # "\n" only and drops every "\r"; reading a whole file keeps them.
    parts = _read_text(path).replace('\r', '').split('\n')
    return [p + '\n' for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _read_filepattern(filepattern, max_lines=None, split_on_newlines=True):
    """Yields stripped lines (or whole documents) of the matching files."""
    filenames = sorted(glob.glob(filepattern))
    if not filenames:
        _log.warning('No file matches %r.', filepattern)
    lines_read = 0
    for filename in filenames:
        if not split_on_newlines and not max_lines:
            yield _read_text(filename)
            continue
        lines = _read_lines(filename)
        if split_on_newlines:
            for line in lines:
                yield line.strip()
                lines_read += 1
                if max_lines and lines_read >= max_lines:
                    return
        else:
            doc = []
            for line in lines:
                doc.append(line)
                lines_read += 1
                if lines_read >= max_lines:
                    yield ''.join(doc)
                    return
            yield ''.join(doc)


def corpus_token_counts(text_filepattern, corpus_max_lines,
                        split_on_newlines=True):
    """Counter of word tokens over the files matching ``text_filepattern``.

    Args:
      text_filepattern: glob pattern of text files.
      corpus_max_lines: stop after this many lines in all (0/None: no limit).
      split_on_newlines: count stripped lines (True) or whole files (False).
    """
    counts = collections.Counter()
    for doc in _read_filepattern(text_filepattern, max_lines=corpus_max_lines,
                                 split_on_newlines=split_on_newlines):
        counts.update(encode(doc))
    return counts


def vocab_token_counts(text_filepattern, max_lines):
    """Reads ``token,count`` lines (split at the last comma) into a dict.

    Lines without a comma are skipped with a warning, as in Trax.
    """
    ret = {}
    for i, line in enumerate(_read_filepattern(text_filepattern,
                                               max_lines=max_lines)):
        if ',' not in line:
            _log.warning("Malformed vocab line #%d '%s'", i, line)
            continue
        token, count = line.rsplit(',', 1)
        ret[token] = int(count)
    return ret
