"""Trax's text encoders (``trax.data.text_encoder``, from tensor2tensor).

* ``TextEncoder``: ids written as numbers separated by spaces (the base).
* ``ByteTextEncoder``: one id per UTF-8 byte.
* ``TokenTextEncoder``: one id per space-separated token of a vocabulary.
* ``SubwordTextEncoder``: invertible subword encoding; built on
  :mod:`trax_compat.data.subword` (the same code that reads Trax's
  ``.subword`` files for ``Tokenize``), including its vocabulary builder.
* ``ClassLabelEncoder``, ``OneHotClassLabelEncoder``, ``ImageEncoder``,
  ``RealEncoder``.
* ``BertEncoder`` = ``BertBasicEncoder`` (cleaning, punctuation splitting,
  lower-casing) + ``BertWordpieceTokenizer`` (greedy WordPiece).

Files are local paths (Trax also accepts ``gs://`` through TensorFlow).
"""

import collections
import logging
import math
import tempfile

import numpy as np

from trax_compat.data import bert_vocab
from trax_compat.data import subword
from trax_compat.data import tokenizer

_log = logging.getLogger(__name__)

PAD = subword.PAD
EOS = subword.EOS
RESERVED_TOKENS = [PAD, EOS]
NUM_RESERVED_TOKENS = len(RESERVED_TOKENS)
PAD_ID = RESERVED_TOKENS.index(PAD)
EOS_ID = RESERVED_TOKENS.index(EOS)
RESERVED_TOKENS_BYTES = [PAD.encode('ascii'), EOS.encode('ascii')]

# Characters the subword escaping produces; read when an encoder is built or
# loaded, so replacing this module attribute changes new encoders (as in t2t).
_ESCAPE_CHARS = set(subword._ESCAPE_CHARS)  # pylint: disable=protected-access
_UNESCAPE_REGEX = subword._UNESCAPE_RE  # pylint: disable=protected-access


# Text helpers.


def is_unicode(s):
    return isinstance(s, str)


def to_unicode(s, ignore_errors=False):
    """str as is; bytes decoded as UTF-8 (strictly unless ``ignore_errors``)."""
    if is_unicode(s):
        return s
    return s.decode('utf-8', errors='ignore' if ignore_errors else 'strict')


def to_unicode_ignore_errors(s):
    return to_unicode(s, ignore_errors=True)


def to_unicode_utf8(s):
    return s.decode('utf-8')


def native_to_unicode(s):
    """str as is; bytes as UTF-8, dropping undecodable bytes (logged)."""
    if is_unicode(s):
        return s
    try:
        return to_unicode(s)
    except UnicodeDecodeError:
        res = to_unicode(s, ignore_errors=True)
        _log.info('Ignoring Unicode error, outputting: %s', res)
        return res


def strip_ids(ids, ids_to_strip):
    """``ids`` as a list without its trailing ids that are in ``ids_to_strip``."""
    ids = list(ids)
    while ids and ids[-1] in ids_to_strip:
        ids.pop()
    return ids


def whitespace_tokenize(text):
    """Splits stripped text at whitespace (``[]`` for blank text)."""
    return text.split()


def _escape_token(token, alphabet):
    if not isinstance(token, str):
        raise ValueError('Expected string type for token, got %s' % type(token))
    return subword.escape_token(token, alphabet)


def _unescape_token(escaped_token):
    return subword.unescape_token(escaped_token)


# Encoders.


class TextEncoder:
    """Base encoder: text ``"3 5"`` <-> ids ``[3 + n, 5 + n]``, with n the
    number of reserved ids (0 is ``<pad>``, 1 is ``<EOS>``)."""

    def __init__(self, num_reserved_ids=NUM_RESERVED_TOKENS):
        self._num_reserved_ids = num_reserved_ids

    @property
    def num_reserved_ids(self):
        return self._num_reserved_ids

    def encode(self, s):
        """Space-separated integers -> ids (offset by the reserved ids)."""
        return [int(w) + self._num_reserved_ids for w in s.split()]

    def decode(self, ids, strip_extraneous=False):
        """Ids -> text; ``strip_extraneous`` drops trailing reserved ids."""
        if strip_extraneous:
            ids = strip_ids(ids, list(range(self._num_reserved_ids or 0)))
        return ' '.join(self.decode_list(ids))

    def decode_list(self, ids):
        """Ids -> list of strings (reserved ids as their tokens)."""
        out = []
        for id_ in ids:
            if 0 <= id_ < self._num_reserved_ids:
                out.append(RESERVED_TOKENS[int(id_)])
            else:
                out.append(id_ - self._num_reserved_ids)
        return [str(d) for d in out]

    @property
    def vocab_size(self):
        raise NotImplementedError()


class ByteTextEncoder(TextEncoder):
    """One id per UTF-8 byte of the text."""

    def encode(self, s):
        numres = self._num_reserved_ids
        return [c + numres for c in s.encode('utf-8')]

    def decode(self, ids, strip_extraneous=False):
        if strip_extraneous:
            ids = strip_ids(ids, list(range(self._num_reserved_ids or 0)))
        return b''.join(self.decode_list(ids)).decode('utf-8', 'replace')

    def decode_list(self, ids):
        numres = self._num_reserved_ids
        return [RESERVED_TOKENS_BYTES[int(id_)] if 0 <= id_ < numres
                else bytes([id_ - numres]) for id_ in ids]

    @property
    def vocab_size(self):
        return 2 ** 8 + self._num_reserved_ids


def _read_lines(filename):
    with open(filename, encoding='utf-8') as f:
        return f.readlines()


class ClassLabelEncoder(TextEncoder):
    """Label string <-> its index in ``class_labels`` (or in the lines of
    ``class_labels_fname``)."""

    def __init__(self, class_labels=None, class_labels_fname=None):
        super().__init__(num_reserved_ids=0)
        if class_labels_fname:
            class_labels = [label.strip()
                            for label in _read_lines(class_labels_fname)]
        if not class_labels:
            raise ValueError('ClassLabelEncoder needs class_labels (a list of '
                             'label strings) or class_labels_fname.')
        self._class_labels = class_labels

    def encode(self, s):
        return self._class_labels.index(s)

    def decode(self, ids, strip_extraneous=False):
        del strip_extraneous
        label_id = ids
        if isinstance(label_id, list):
            if len(label_id) != 1:
                raise ValueError(f'decode expects one label id, got {ids!r}.')
            label_id, = label_id
        if isinstance(label_id, np.ndarray):
            label_id = np.squeeze(label_id)
        return self._class_labels[label_id]

    def decode_list(self, ids):
        return [self._class_labels[i] for i in ids]

    @property
    def vocab_size(self):
        return len(self._class_labels)


class OneHotClassLabelEncoder(ClassLabelEncoder):
    """Label string <-> one-hot list over the class labels."""

    def encode(self, label_str, on_value=1, off_value=0):  # pylint: disable=arguments-differ
        e = np.full(self.vocab_size, off_value, dtype=np.int32)
        e[self._class_labels.index(label_str)] = on_value
        return e.tolist()

    def decode(self, ids, strip_extraneous=False):
        del strip_extraneous
        label_id = ids
        if isinstance(label_id, np.ndarray):
            label_id = np.squeeze(label_id).astype(np.int8).tolist()
        if not isinstance(label_id, list) or len(label_id) != self.vocab_size:
            raise ValueError(f'decode expects a one-hot list of length '
                             f'{self.vocab_size}, got {ids!r}.')
        return self._class_labels[label_id.index(1)]


class TokenTextEncoder(TextEncoder):
    """One id per space-separated token, from a vocabulary file or list.

    A list gets the reserved tokens in front (and loses any copies of them);
    a file is taken as is; ``store_to_file`` writes every token.
    """

    def __init__(self, vocab_filename, reverse=False, vocab_list=None,
                 replace_oov=None, num_reserved_ids=NUM_RESERVED_TOKENS):
        super().__init__(num_reserved_ids=num_reserved_ids)
        self._reverse = reverse
        self._replace_oov = replace_oov
        if vocab_filename:
            tokens = [t.strip() for t in _read_lines(vocab_filename)]
            self._init_vocab(tokens, add_reserved_tokens=False)
        else:
            if vocab_list is None:
                raise ValueError('TokenTextEncoder needs vocab_filename or '
                                 'vocab_list.')
            self._init_vocab(t for t in vocab_list
                             if t not in RESERVED_TOKENS)

    def encode(self, s):
        tokens = s.strip().split()
        if self._replace_oov is not None:
            tokens = [t if t in self._token_to_id else self._replace_oov
                      for t in tokens]
        ids = [self._token_to_id[t] for t in tokens]
        return ids[::-1] if self._reverse else ids

    def decode(self, ids, strip_extraneous=False):
        return ' '.join(self.decode_list(ids))

    def decode_list(self, ids):
        seq = reversed(ids) if self._reverse else ids
        return [self._safe_id_to_token(i) for i in seq]

    @property
    def vocab_size(self):
        return len(self._id_to_token)

    def _safe_id_to_token(self, idx):
        return self._id_to_token.get(idx, 'ID_%d' % idx)

    def _init_vocab(self, tokens, add_reserved_tokens=True):
        self._id_to_token = {}
        start = 0
        if add_reserved_tokens:
            self._id_to_token.update(enumerate(RESERVED_TOKENS))
            start = len(RESERVED_TOKENS)
        self._id_to_token.update(enumerate(tokens, start=start))
        self._token_to_id = {v: k for k, v in self._id_to_token.items()}

    def store_to_file(self, filename):
        """Writes one token per line, reserved tokens included."""
        with open(filename, 'w', encoding='utf-8') as f:
            for i in range(len(self._id_to_token)):
                f.write(self._id_to_token[i] + '\n')


class SubwordTextEncoder(TextEncoder):
    """Invertible subword encoding (t2t's), backed by
    :class:`trax_compat.data.subword.SubwordVocabulary`.

    Text is split into words (:mod:`trax_compat.data.tokenizer`), each word
    escaped and ended with ``_``, then cut greedily into the longest
    subtokens of the vocabulary. ``SubwordTextEncoder(filename)`` loads a
    ``.subword`` file; ``build_from_generator`` / ``build_to_target_size``
    build one from a corpus exactly as Trax does.
    """

    def __init__(self, filename=None):
        self._alphabet = set()
        self._vocab = None
        self.filename = filename
        if filename is not None:
            self._load_from_file(filename)
        super().__init__()

    # The vocabulary behind the encoder.

    def _require_vocab(self):
        if self._vocab is None:
            raise ValueError(
                'This SubwordTextEncoder has no vocabulary yet: give a '
                'filename, or build one (build_from_generator, '
                'build_to_target_size or build_from_token_counts).')
        return self._vocab

    def _set_subtokens(self, subtokens, alphabet):
        self._alphabet = set(alphabet)
        self._vocab = subword.SubwordVocabulary(
            subtokens, path=self.filename, alphabet=alphabet)

    @property
    def _all_subtoken_strings(self):
        return list(self._require_vocab().subtokens)

    @property
    def all_subtoken_strings(self):
        return self._require_vocab().subtokens

    @property
    def _subtoken_string_to_id(self):
        return dict(self._require_vocab()._subtoken_to_id)  # pylint: disable=protected-access

    @property
    def _max_subtoken_len(self):
        return self._require_vocab()._max_len  # pylint: disable=protected-access

    @property
    def vocab_size(self):
        return self._require_vocab().vocab_size

    # Encoding and decoding.

    def encode(self, s):
        """Text (str or UTF-8 bytes) -> subtoken ids."""
        return self._require_vocab().encode(native_to_unicode(s))

    def encode_without_tokenizing(self, token_text):
        """Ids of ``token_text`` taken as one word (no splitting)."""
        return list(self._require_vocab().encode_word(
            native_to_unicode(token_text)))

    def decode(self, ids, strip_extraneous=False):
        """Subtoken ids -> text; ids out of range decode to nothing."""
        if strip_extraneous:
            ids = strip_ids(ids, list(range(self._num_reserved_ids or 0)))
        return self._require_vocab().decode(ids)

    def decode_list(self, ids):
        vocab = self._require_vocab()
        return [vocab.id_to_subtoken(i) for i in ids]

    def _tokens_to_subtoken_ids(self, tokens):
        vocab = self._require_vocab()
        return [i for t in tokens for i in vocab.encode_word(t)]

    def _subtoken_ids_to_tokens(self, subtokens):
        vocab = self._require_vocab()
        joined = ''.join(vocab.id_to_subtoken(i) for i in subtokens)
        return [w for w in (_unescape_token(t + '_')
                            for t in joined.split('_') if t) if w]

    def _escaped_token_to_subtoken_strings(self, escaped_token):
        vocab = self._require_vocab()
        return [vocab.id_to_subtoken(i)
                for i in vocab._segment(escaped_token)]  # pylint: disable=protected-access

    def _escaped_token_to_subtoken_ids(self, escaped_token):
        return list(self._require_vocab()._segment(escaped_token))  # pylint: disable=protected-access

    # Building.

    @staticmethod
    def _check_reserved(reserved_tokens):
        if reserved_tokens is None:
            return list(RESERVED_TOKENS)
        for default, proposed in zip(RESERVED_TOKENS, reserved_tokens):
            if default != proposed:
                raise ValueError('RESERVED_TOKENS must be a prefix of '
                                 'reserved_tokens.')
        return [native_to_unicode(t) for t in reserved_tokens]

    @classmethod
    def _trainer(cls, token_counts, reserved_tokens, max_subtoken_length):
        return subword.SubwordTrainer(
            token_counts, cls._check_reserved(reserved_tokens),
            max_subtoken_length, escape_chars=_ESCAPE_CHARS)

    @classmethod
    def build_from_generator(cls, generator, target_size,
                             max_subtoken_length=None, reserved_tokens=None):
        """Builds an encoder of about ``target_size`` subtokens from texts."""
        token_counts = collections.defaultdict(int)
        for item in generator:
            for tok in tokenizer.encode(native_to_unicode(item)):
                token_counts[tok] += 1
        return cls.build_to_target_size(
            target_size, token_counts, 1, 1e3,
            max_subtoken_length=max_subtoken_length,
            reserved_tokens=reserved_tokens)

    @classmethod
    def build_to_target_size(cls, target_size, token_counts, min_val, max_val,
                             max_subtoken_length=None, reserved_tokens=None,
                             num_iterations=4):
        """Bisects the minimum subtoken count in ``[min_val, max_val]`` for
        the vocabulary size closest to ``target_size`` (within 1% stops)."""
        if min_val > max_val:
            raise ValueError('Lower bound for the minimum token count is '
                             'greater than the upper bound.')
        if target_size < 1:
            raise ValueError('Target size must be positive.')
        trainer = cls._trainer(token_counts, reserved_tokens,
                               max_subtoken_length)
        subtokens = subword.search_min_count(trainer, target_size, min_val,
                                             max_val, num_iterations)
        encoder = cls()
        encoder._set_subtokens(subtokens, trainer.alphabet)  # pylint: disable=protected-access
        return encoder

    def build_from_token_counts(self, token_counts, min_count,
                                num_iterations=4, reserved_tokens=None,
                                max_subtoken_length=None):
        """Trains this encoder on ``{word: count}``, keeping subtokens seen
        at least ``min_count`` times."""
        trainer = self._trainer(token_counts, reserved_tokens,
                                max_subtoken_length)
        self._set_subtokens(trainer.train(min_count, num_iterations),
                            trainer.alphabet)

    def dump(self):
        """Prints ``id : 'subtoken'`` for the whole vocabulary."""
        pairs = sorted((i, s) for s, i in self._subtoken_string_to_id.items())
        print(', '.join("{0} : '{1}'".format(i, s) for i, s in pairs))

    def _init_subtokens_from_list(self, subtoken_strings,
                                  reserved_tokens=None):
        self._set_subtokens(list(reserved_tokens or []) + list(subtoken_strings),
                            self._alphabet or self._alphabet_of(subtoken_strings))

    @staticmethod
    def _alphabet_of(tokens):
        return {c for t in tokens for c in t} | set(_ESCAPE_CHARS)

    def _init_alphabet_from_tokens(self, tokens):
        self._alphabet = self._alphabet_of(tokens)
        if self._vocab is not None:
            self._set_subtokens(self._vocab.subtokens, self._alphabet)

    def _load_from_file_object(self, f):
        """Reads subtokens from an open text file (quotes optional)."""
        subtokens = subword.parse_subword_lines(f.read(), strict=False)
        self._set_subtokens(subtokens, self._alphabet_of(subtokens))

    def _load_from_file(self, filename):
        try:
            f = open(filename, encoding='utf-8', newline='\n')
        except FileNotFoundError:
            raise ValueError('File %s not found' % filename) from None
        with f:
            self._load_from_file_object(f)

    def store_to_file(self, filename, add_single_quotes=True):
        """Writes one subtoken per line, in single quotes by default."""
        with open(filename, 'w', encoding='utf-8', newline='\n') as f:
            for s in self._require_vocab().subtokens:
                f.write("'%s'\n" % s if add_single_quotes else s + '\n')


class ImageEncoder:
    """Image file <-> flat list of its 8-bit channel values."""

    def __init__(self, num_reserved_ids=0, height=None, width=None,
                 channels=3):
        if num_reserved_ids != 0:
            raise ValueError('ImageEncoder has no reserved ids; '
                             'num_reserved_ids must be 0.')
        self._height = height
        self._width = width
        self._channels = channels

    @property
    def num_reserved_ids(self):
        return 0

    def encode(self, s):
        """Reads the image file ``s`` (needs matplotlib)."""
        try:
            import matplotlib.image as im  # pylint: disable=import-outside-toplevel
        except ImportError as e:
            raise NotImplementedError(
                'Reading an image needs matplotlib: pip install matplotlib '
                f'({e}).') from e
        return im.imread(s)

    def decode(self, ids, strip_extraneous=False):
        """Writes the values as a PNG file; returns its (temporary) path."""
        del strip_extraneous
        if self._height is None or self._width is None:
            size = int(math.sqrt(len(ids) / self._channels))
            shape = (size, size, self._channels)
        else:
            shape = (self._height, self._width, self._channels)
        length = int(np.prod(shape))
        if len(ids) != length:
            raise ValueError(
                'Length of ids (%d) must be height (%s) x width (%s) x '
                'channels (%d); %d != %d.\n Ids: %s' % (
                    len(ids), self._height, self._width, self._channels,
                    len(ids), length, ' '.join(str(i) for i in ids)))
        try:
            from PIL import Image  # pylint: disable=import-outside-toplevel
        except ImportError as e:
            raise NotImplementedError(
                f'Writing an image needs Pillow: pip install pillow ({e}).'
            ) from e
        img = np.asarray(ids, dtype=np.uint8).reshape(shape)
        if shape[-1] == 1:
            img = img[..., 0]
        _, path = tempfile.mkstemp('_decode.png')
        Image.fromarray(img).save(path, format='PNG')
        return path

    def decode_list(self, ids):
        return [self.decode(ids)]

    @property
    def vocab_size(self):
        return 256


class RealEncoder:
    """Space-separated floats <-> list of floats."""

    def encode(self, s):
        return [float(w) for w in s.split()]

    def decode(self, ids, strip_extraneous=False):
        del strip_extraneous
        return ' '.join(str(i) for i in ids)


class BertBasicEncoder:
    """BERT's basic tokenizer: cleans the text, isolates CJK characters and
    punctuation, and (with ``do_lower_case``) lower-cases and strips accents."""

    def __init__(self, do_lower_case=True):
        self.do_lower_case = do_lower_case

    def tokenize(self, text):
        return bert_vocab.basic_tokenize(native_to_unicode(text),
                                         self.do_lower_case)


class BertWordpieceTokenizer:
    """Greedy longest-match-first WordPiece over ``vocab`` (a token -> id
    mapping); continuation pieces carry a ``##`` prefix, and a word that
    cannot be covered (or is too long) becomes ``unk_token``."""

    def __init__(self, vocab, unk_token='[UNK]', max_input_chars_per_word=200):
        self.vocab = vocab
        self.unk_token = unk_token
        self.max_input_chars_per_word = max_input_chars_per_word

    def _pieces(self, word):
        if len(word) > self.max_input_chars_per_word:
            return None
        pieces = []
        start = 0
        while start < len(word):
            prefix = '##' if start else ''
            for end in range(len(word), start, -1):
                if prefix + word[start:end] in self.vocab:
                    pieces.append(prefix + word[start:end])
                    start = end
                    break
            else:
                return None
        return pieces

    def tokenize(self, text):
        out = []
        for word in whitespace_tokenize(native_to_unicode(text)):
            pieces = self._pieces(word)
            out.extend([self.unk_token] if pieces is None else pieces)
        return out


class BertEncoder:
    """Encoder compatible with the original BERT vocab.txt and tokenizer."""

    def __init__(self, vocab_file, do_lower_case=True):
        self._vocab = self.load_vocab(vocab_file)
        self._inv_vocab = {v: k for k, v in self._vocab.items()}
        self._basic_tokenizer = BertBasicEncoder(do_lower_case=do_lower_case)
        self._wordpiece_tokenizer = BertWordpieceTokenizer(vocab=self._vocab)

    def load_vocab(self, vocab_file):
        """vocab.txt -> ordered {token: line index} (later duplicates win)."""
        vocab = collections.OrderedDict()
        for index, token in enumerate(bert_vocab.read_bert_vocab(vocab_file)):
            vocab[token] = index
        return vocab

    def encode(self, text):
        return self._convert_tokens_to_ids(self.tokenize(text))

    def decode(self, ids):
        """Tokens joined by spaces, ``##`` pieces glued to the previous one
        (not the original text: case, accents and spacing may differ)."""
        tokens = self._convert_ids_to_tokens(ids)
        if not tokens:
            return ''
        out = [tokens[0]]
        for token in tokens[1:]:
            out.append(token.lstrip('#') if token.startswith('##')
                       else ' ' + token)
        return ''.join(out)

    @property
    def vocab_size(self):
        return len(self._vocab)

    def tokenize(self, text):
        return [piece for word in self._basic_tokenizer.tokenize(text)
                for piece in self._wordpiece_tokenizer.tokenize(word)]

    def _convert_tokens_to_ids(self, tokens):
        return [self._vocab[t] for t in tokens]

    def _convert_ids_to_tokens(self, ids):
        return [self._inv_vocab[i] for i in ids]
