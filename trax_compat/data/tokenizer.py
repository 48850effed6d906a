"""Trax's text tokenization API: ``tokenize``, ``Tokenize``, ``detokenize``,
``vocab_size``.

Results match ``trax.data`` exactly: each text becomes
``np.array(ids) + n_reserved_ids`` (int64; an empty float64 array for text
without ids). Unlike Trax, a vocabulary file is read once and shared by all
calls (see :mod:`trax_compat.data.vocab_files`).
"""

import numpy as np

from trax_compat.data import subword
from trax_compat.data import vocab_files

# vocab_type -> function(vocab_file, vocab_dir) returning an object with
# encode(text) -> list of ints, decode(list of ints) -> str, vocab_size.
_VOCAB_LOADERS = {}
# Types Trax knows that are not implemented here yet (named in errors).
_PLANNED_TYPES = ("sentencepiece", "char", "bert", "bert-lowercase")


def register_vocab_type(name, loader):
    """Makes ``vocab_type=name`` use ``loader(vocab_file, vocab_dir)``."""
    _VOCAB_LOADERS[name] = loader


def _load_subword(vocab_file, vocab_dir):
    path = vocab_files.resolve_vocab_path(vocab_file, vocab_dir)
    return vocab_files.load_cached(path, subword.SubwordVocabulary.load,
                                   kind="subword")


register_vocab_type("subword", _load_subword)


def get_vocab(vocab_type="subword", vocab_file=None, vocab_dir=None):
    """Returns the (cached) vocabulary object for these arguments."""
    loader = _VOCAB_LOADERS.get(vocab_type)
    if loader is None:
        valid = ", ".join(repr(t) for t in _VOCAB_LOADERS)
        planned = [t for t in _PLANNED_TYPES if t not in _VOCAB_LOADERS]
        msg = "vocab_type must be one of: %s; got %r." % (valid, vocab_type)
        if vocab_type in planned:
            msg += (" (%r is a Trax vocabulary type that trax_compat does not "
                    "support yet.)" % vocab_type)
        raise ValueError(msg)
    return loader(vocab_file, vocab_dir)


def _encode(vocab, text, n_reserved_ids):
    # Same expression as Trax, so dtypes agree (int64, or float64 when empty).
    return np.array(vocab.encode(text)) + n_reserved_ids


def tokenize(stream, keys=None, vocab_type="subword", vocab_file=None,
             vocab_dir=None, n_reserved_ids=0):
    """Tokenizes the texts of a stream of examples (a generator).

    Args:
        stream: iterable of str/bytes, tuples/lists or dicts of them.
        keys: indices (tuples/lists) or keys (dicts) to tokenize; None = all.
        vocab_type: 'subword'.
        vocab_file: name of the vocabulary file.
        vocab_dir: folder holding it (see ``vocab_files.resolve_vocab_path``).
        n_reserved_ids: offset added to every id.

    Yields:
        The examples with texts replaced by integer arrays; lists become
        tuples.
    """
    # Like Trax, the vocabulary is fetched when iteration starts.
    vocab = get_vocab(vocab_type, vocab_file, vocab_dir)
    for example in stream:
        if isinstance(example, (list, tuple)):
            yield tuple(
                    _encode(vocab, x, n_reserved_ids)
                    if keys is None or i in keys else x
                    for i, x in enumerate(example))
        elif isinstance(example, dict):
            yield {k: (_encode(vocab, v, n_reserved_ids)
                       if keys is None or k in keys else v)
                   for k, v in example.items()}
        else:
            yield _encode(vocab, example, n_reserved_ids)


def Tokenize(keys=None, vocab_type="subword", vocab_file=None,  # pylint: disable=invalid-name
             vocab_dir=None, n_reserved_ids=0):
    """Returns a stream -> stream function; see :func:`tokenize`."""
    def _tokenize(stream):
        return tokenize(stream, keys=keys, vocab_type=vocab_type,
                        vocab_file=vocab_file, vocab_dir=vocab_dir,
                        n_reserved_ids=n_reserved_ids)
    return _tokenize


def detokenize(x, vocab_type="subword", vocab_file=None, vocab_dir=None,
               n_reserved_ids=0):
    """Maps a list/array of ids back to text; the inverse of tokenize.

    Ids outside the vocabulary decode to nothing (as in Trax).
    """
    vocab = get_vocab(vocab_type, vocab_file, vocab_dir)
    ids = (np.array(x) - n_reserved_ids).tolist()
    if not isinstance(ids, list):
        raise TypeError("detokenize expects a 1-D list or array of ids, got %r"
                        % (x,))
    return str(vocab.decode(ids))


def vocab_size(vocab_type="subword", vocab_file=None, vocab_dir=None,
               n_reserved_ids=0):
    """Number of ids used: the vocabulary size plus ``n_reserved_ids``."""
    vocab = get_vocab(vocab_type, vocab_file, vocab_dir)
    return vocab.vocab_size + n_reserved_ids
