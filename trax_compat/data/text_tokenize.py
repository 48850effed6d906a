"""Trax's text tokenization stages: ``tokenize``, ``Tokenize``, ``detokenize``,
``vocab_size`` (in Trax they live in ``trax.data.tf_inputs``; Trax's
``trax.data.tokenizer`` is the word splitter, :mod:`trax_compat.data.tokenizer`).

Results match ``trax.data`` exactly: each text becomes
``np.array(ids) + n_reserved_ids`` (int64; an empty float64 array for text
without ids). Vocabulary types: ``'subword'``, ``'sentencepiece'``, ``'char'``,
``'bert'``, ``'bert-lowercase'`` (see docs/vocabularies.md). Unlike Trax, a
vocabulary file is read once and shared by all calls, and a missing file is
downloaded into a local cache (see :mod:`trax_compat.data.vocab_files`).
"""

import numpy as np

from trax_compat.data import bert_vocab
from trax_compat.data import char_vocab
from trax_compat.data import sentencepiece_vocab
from trax_compat.data import subword
from trax_compat.data import vocab_files

# vocab_type -> function(vocab_file, vocab_dir, extra_ids) returning an object
# with encode(text) -> list of ints, decode(list of ints) -> str, vocab_size.
_VOCAB_LOADERS = {}
_CHAR_VOCAB = char_vocab.CharVocabulary()


def register_vocab_type(name, loader):
    """Makes ``vocab_type=name`` use ``loader(vocab_file, vocab_dir, extra_ids)``."""
    _VOCAB_LOADERS[name] = loader


def _file_loader(kind, load):
    """A loader that finds (or downloads) the file and loads it once."""
    def loader(vocab_file, vocab_dir, extra_ids):
        if extra_ids and kind != "sentencepiece":
            raise ValueError("extra_ids is only supported for vocab_type="
                             "'sentencepiece', got %r for %r" % (extra_ids, kind))
        # A download is accepted only if it loads, so a bad one is not cached.
        path = vocab_files.fetch_vocab_path(
                vocab_file, vocab_dir, validate=lambda p: load(p, extra_ids))
        return vocab_files.load_cached(path, lambda p: load(p, extra_ids),
                                       kind="%s:%d" % (kind, extra_ids))
    return loader


def _load_char(vocab_file, vocab_dir, extra_ids):
    # Trax's char vocabulary needs no file; vocab_file/vocab_dir are ignored.
    del vocab_file, vocab_dir
    if extra_ids:
        raise ValueError("extra_ids is only supported for vocab_type="
                         "'sentencepiece', got %r for 'char'" % (extra_ids,))
    return _CHAR_VOCAB


register_vocab_type("subword", _file_loader(
        "subword", lambda p, _: subword.SubwordVocabulary.load(p)))
register_vocab_type("sentencepiece", _file_loader(
        "sentencepiece",
        lambda p, extra: sentencepiece_vocab.SentencePieceVocabulary.load(
                p, extra_ids=extra)))
register_vocab_type("char", _load_char)
register_vocab_type("bert", _file_loader(
        "bert", lambda p, _: bert_vocab.BertVocabulary.load(p, lowercase=False)))
register_vocab_type("bert-lowercase", _file_loader(
        "bert-lowercase",
        lambda p, _: bert_vocab.BertVocabulary.load(p, lowercase=True)))


def get_vocab(vocab_type="subword", vocab_file=None, vocab_dir=None,
              extra_ids=0):
    """Returns the (cached) vocabulary object for these arguments.

    ``extra_ids`` (sentencepiece only) adds T5-style sentinel ids; Trax's
    ``tokenize`` always uses 0.
    """
    loader = _VOCAB_LOADERS.get(vocab_type)
    if loader is None:
        valid = ", ".join(repr(t) for t in _VOCAB_LOADERS)
        raise ValueError("vocab_type must be one of %s; got %r."
                         % (valid, vocab_type))
    return loader(vocab_file, vocab_dir, extra_ids)


# Texts whose ids a tokenize stream remembers: a cycled corpus (Trax's Loop
# needs endless streams) is encoded once. About 20 MB at most for tweets.
MEMO_ENTRIES = 1 << 16
_FIRST_ONLY = [0]


def _encoder(vocab, n_reserved_ids):
    """text -> array, the same values and dtype as Trax's expression."""
    encode = vocab.encode
    array = np.array
    if not n_reserved_ids:
        # np.array(ids) + 0 equals np.array(ids) (dtype included); skip the add.
        return lambda text: array(encode(text))
    return lambda text: array(encode(text)) + n_reserved_ids


def _memoized(enc, limit=MEMO_ENTRIES):
    """``enc`` remembering the first ``limit`` distinct texts. Every call
    returns a new array (a consumer may modify what it gets)."""
    memo = {}

    def encode(text):
        ids = memo.get(text) if isinstance(text, (str, bytes)) else None
        if ids is not None:
            return ids.copy()
        ids = enc(text)
        if len(memo) < limit and isinstance(text, (str, bytes)):
            memo[text] = ids.copy()
        return ids
    return encode


def _packed_memoized(vocab, n_reserved_ids, limit=MEMO_ENTRIES):
    """:func:`_memoized` of :func:`_encoder` for a vocabulary with
    ``encode_packed`` (ids as bytes of ``subword.ID_DTYPE``): the memo keeps
    those bytes, and each call makes its array straight from them, which
    saves building a list of ints, converting it and copying it for the memo.
    Same arrays as the generic path (values, dtype, a new writable array per
    call; float64 and empty for a text without ids, as Trax's
    ``np.array([])``)."""
    packed = vocab.encode_packed
    memo = {}
    memo_get = memo.get
    frombuffer = np.frombuffer
    dtype = subword.ID_DTYPE
    array = np.array

    def encode(text):
        if text.__class__ is str or isinstance(text, (str, bytes)):
            blob = memo_get(text)
            if blob is None:
                blob = packed(text)
                if len(memo) < limit:
                    memo[text] = blob
        else:
            blob = packed(text)
        ids = frombuffer(blob, dtype).copy() if blob else array([])
        return ids + n_reserved_ids if n_reserved_ids else ids
    return encode


def _text_encoder(vocab, n_reserved_ids):
    """The memoized text -> array function for ``vocab``."""
    if hasattr(vocab, "encode_packed"):
        return _packed_memoized(vocab, n_reserved_ids)
    return _memoized(_encoder(vocab, n_reserved_ids))


def tokenize(stream, keys=None, vocab_type="subword", vocab_file=None,
             vocab_dir=None, n_reserved_ids=0):
    """Tokenizes the texts of a stream of examples (a generator).

    Args:
        stream: iterable of str/bytes, tuples/lists or dicts of them.
        keys: indices (tuples/lists) or keys (dicts) to tokenize; None = all.
        vocab_type: 'subword', 'sentencepiece', 'char', 'bert' or
            'bert-lowercase'.
        vocab_file: name of the vocabulary file (unused for 'char').
        vocab_dir: folder holding it (see ``vocab_files``); default: the
            local lookup, then Trax's bucket gs://trax-ml/vocabs/.
        n_reserved_ids: offset added to every id.

    Yields:
        The examples with texts replaced by integer arrays; lists become
        tuples.
    """
    # Like Trax, the vocabulary is fetched when iteration starts.
    vocab = get_vocab(vocab_type, vocab_file, vocab_dir)
    enc = _text_encoder(vocab, n_reserved_ids)
    # Tuple positions to tokenize, per tuple length; computed with Trax's own
    # test (``i in keys``) once instead of for every example.
    positions = {}
    for example in stream:
        if isinstance(example, (list, tuple)):
            n = len(example)
            pos = positions.get(n)
            if pos is None:
                pos = positions[n] = [i for i in range(n)
                                      if keys is None or i in keys]
            if pos == _FIRST_ONLY and example.__class__ is tuple:
                # The usual (text, label, ...) example, without a list copy.
                yield (enc(example[0]),) + example[1:]
                continue
            out = list(example)
            for i in pos:
                out[i] = enc(out[i])
            yield tuple(out)
        elif isinstance(example, dict):
            yield {k: (enc(v) if keys is None or k in keys else v)
                   for k, v in example.items()}
        else:
            yield enc(example)


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

    Ids outside the vocabulary (after subtracting ``n_reserved_ids``) behave
    as in Trax: 'subword' decodes them to nothing; 'sentencepiece' decodes
    ids >= vocab_size as the unknown piece (and stops after the first EOS);
    'char', 'bert' and negative sentencepiece ids raise
    :class:`~trax_compat.data.vocab_common.IdOutOfRangeError`.
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
