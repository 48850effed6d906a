"""The few pieces of T5's ``t5.data`` that Trax's own text pipelines and gin
configs use, for machines without the ``t5`` package.

Trax reaches T5 through ``tf_inputs.t5_data()``: its SentencePiece
vocabulary and ``Feature`` for ``generic_text_dataset_preprocess_fn``, and
preprocessors by name (``get_t5_preprocessor_by_name(name='rekey')``, as
``transformer_imdb_tfds.gin`` does). The ``t5`` package drags in
mesh-tensorflow, a second TensorFlow, transformers and more, so trax-compat
does not install it: when it is installed, it is used; when it is not, this
module stands in for the part Trax's configs need (``rekey``, ``tokenize``,
``glue`` (``t5_glue``, for Trax's ``T5Glue*`` streams),
``SentencePieceVocabulary``, ``Feature``, ``DEFAULT_SPM_PATH``, and the
span-corruption preprocessors ``c4.gin`` binds, from ``t5_span_corruption``),
with seqio's semantics. Any other T5 name raises one error saying to install
``t5``.
"""

import importlib.abc
import importlib.util
import os
import sys
import types

import numpy as np

from trax_compat.data import t5_glue
from trax_compat.data import t5_span_corruption
from trax_compat.data import tf_deps

# Where T5 (and so Trax) reads its default 32k SentencePiece model from.
DEFAULT_SPM_PATH = "gs://t5-data/vocabs/cc_all.32000/sentencepiece.model"

T5_HINT = ("pip install t5 (T5's preprocessors and its default "
           "SentencePiece model)")


class T5NameError(tf_deps.MissingExtraError):
    """A T5 name outside the part trax-compat provides without ``t5``."""


def missing(name):
    return T5NameError(
        "T5's %r needs the 't5' package, which trax-compat does not install "
        "(without it only %s are available): %s"
        % (name, ", ".join(sorted(PROVIDED)), T5_HINT))


def _tf():
    return tf_deps.tf("T5's preprocessing")


def _read_model(path):
    """The model's bytes. A ``gs://`` model (T5's default) is read from
    trax_compat's cache folder, downloaded there over HTTPS when missing,
    as Trax's vocabularies are (``trax_compat.data.vocab_files``)."""
    if str(path).startswith("gs://"):
        from trax_compat.data import vocab_files  # pylint: disable=g-import-not-at-top
        path = vocab_files.fetch_vocab_path(os.path.basename(path),
                                            os.path.dirname(path))
    try:
        with _tf().io.gfile.GFile(path, "rb") as f:
            return f.read()
    except Exception as e:  # gfile raises NotFoundError, PermissionDenied...
        raise FileNotFoundError(
            "cannot read the SentencePiece model %s (%s: %s); check the path"
            % (path, type(e).__name__, e)) from None


class SentencePieceVocabulary:
    """seqio's ``SentencePieceVocabulary`` for what Trax calls: ``encode``,
    ``decode``, ``encode_tf`` (no EOS appended), ``vocab_size``, ``eos_id``.
    The model is read through ``tf.io.gfile`` (local paths, ``gs://``)."""

    def __init__(self, sentencepiece_model_file, extra_ids=0):
        # Imported here: trax_compat.data imports this module lazily.
        from trax_compat.data import sentencepiece_vocab  # pylint: disable=g-import-not-at-top
        self.sentencepiece_model_file = sentencepiece_model_file
        self.extra_ids = extra_ids
        self._vocab = sentencepiece_vocab.SentencePieceVocabulary(
            _read_model(sentencepiece_model_file), extra_ids=extra_ids,
            path=sentencepiece_model_file)

    @property
    def vocab_size(self):
        return self._vocab.vocab_size

    @property
    def eos_id(self):
        return self._vocab.processor.eos_id()

    def encode(self, s):
        return list(self._vocab.encode(s))

    def decode(self, ids):
        return self._vocab.decode(ids)

    def encode_tf(self, s):
        """The ids of the scalar string tensor ``s``, as an int32 vector."""
        tf = _tf()
        s = tf.convert_to_tensor(s)
        if s.dtype != tf.string or s.shape.rank != 0:
            # seqio's tokenizer op accepts strings only, as here.
            raise TypeError(
                "SentencePieceVocabulary.encode_tf encodes one string; got a "
                "%s tensor of shape %s" % (s.dtype.name, s.shape))

        def encode(text):
            return np.asarray(self._vocab.encode(text.decode("utf-8")),
                              np.int32)

        ids = tf.numpy_function(encode, [s], tf.int32, stateful=False)
        ids.set_shape([None])
        return ids


class Feature:
    """seqio's ``Feature``: a vocabulary and whether EOS is appended."""

    def __init__(self, vocabulary, add_eos=True, required=True,
                 dtype=None, rank=1):
        self.vocabulary = vocabulary
        self.add_eos = add_eos
        self.required = required
        self.dtype = dtype
        self.rank = rank


def _rekey_example(x, key_map):
    if not key_map:
        return x
    missing_keys = sorted(old for old in key_map.values()
                          if old and old not in x)
    if missing_keys:
        # A KeyError, as T5 0.9.4's rekey raises, saying which and why.
        raise KeyError("rekey: the examples have no feature %s (they have "
                       "%s); fix key_map %r"
                       % (", ".join(map(repr, missing_keys)), sorted(x),
                          key_map))
    # seqio: an empty or None source key gives the empty string.
    return {new: x[old] if old else "" for new, old in key_map.items()}


def rekey(dataset, key_map=None):
    """Renames features: ``{new_key: old_key}`` (seqio's ``rekey``)."""
    return dataset.map(lambda x: _rekey_example(x, key_map),
                       num_parallel_calls=_tf().data.AUTOTUNE)


def tokenize(dataset, output_features, copy_pretokenized=True,
             with_eos=False):
    """Encodes each string feature named in ``output_features`` with its
    vocabulary (seqio's ``tokenize``); ``copy_pretokenized`` keeps the text
    as ``<key>_pretokenized``; ``with_eos`` appends EOS where the feature's
    ``add_eos`` says so.

    Non-string features pass through unchanged, as T5's docstring says
    (its code hands them to the SentencePiece op, which refuses them: with
    the real ``t5`` package, ``transformer_imdb_tfds.gin`` stops at
    imdb_reviews' integer label)."""
    tf = _tf()

    def encode(features):
        out = {}
        for key, value in features.items():
            if key in output_features and value.dtype == tf.string:
                if copy_pretokenized:
                    out[key + "_pretokenized"] = value
                feature = output_features[key]
                value = feature.vocabulary.encode_tf(value)
                if with_eos and feature.add_eos:
                    value = tf.concat(
                        [value, [feature.vocabulary.eos_id]], axis=0)
            out[key] = value
        return out

    return dataset.map(encode, num_parallel_calls=tf.data.AUTOTUNE)


PROVIDED = ("DEFAULT_SPM_PATH", "Feature", "SentencePieceVocabulary",
            "preprocessors.glue", "preprocessors.rekey",
            "preprocessors.tokenize") + tuple(
                "preprocessors." + name for name in t5_span_corruption.NAMES)


class _Namespace(types.ModuleType):
    """A module whose unknown names raise :func:`missing`'s error."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        raise missing(self.__name__.split(".", 2)[-1] + "." + name
                      if self.__name__.count(".") > 1 else name)


def _namespace(name, **attrs):
    module = _Namespace(name, "Stands in for %s without the t5 package "
                              "(trax_compat.data.t5_fallback)." % name)
    module.__dict__.update(attrs)
    return module


preprocessors = _namespace("t5.data.preprocessors", glue=t5_glue.glue,
                           rekey=rekey,
                           tokenize=tokenize,
                           **t5_span_corruption.functions())
data = _namespace("t5.data", preprocessors=preprocessors,
                  DEFAULT_SPM_PATH=DEFAULT_SPM_PATH,
                  SentencePieceVocabulary=SentencePieceVocabulary,
                  Feature=Feature)
t5 = _namespace("t5", data=data)
t5.__path__ = data.__path__ = []  # packages, so their submodules import
MODULES = {"t5": t5, "t5.data": data, "t5.data.preprocessors": preprocessors}


def t5_installed():
    """Whether the real ``t5`` package is importable (asked of the import
    system's other finders, so this module's own finder is not consulted)."""
    module = sys.modules.get("t5", False)
    if module is not False:
        return module is not None and module is not t5
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        if (find_spec is not None and not isinstance(finder, _Finder)
                and find_spec("t5", None) is not None):
            return True
    return False


class _Loader(importlib.abc.Loader):
    def create_module(self, spec):
        return MODULES[spec.name]

    def exec_module(self, module):
        pass


class _Finder(importlib.abc.MetaPathFinder):
    """``import t5.data.preprocessors`` (a gin config's import line) finds
    this module's stand-ins; placed last on ``sys.meta_path``, so it only
    answers when nothing else provides ``t5``."""

    def find_spec(self, fullname, path=None, target=None):
        del path, target
        if fullname in MODULES and not t5_installed():
            return importlib.util.spec_from_loader(fullname, _Loader())
        return None


def install_import_alias():
    """Lets Trax's gin configs' ``import t5.data.preprocessors`` lines parse
    without the ``t5`` package (the gin trainer and ``gin_check`` call it),
    and registers the span-corruption preprocessors with gin under T5's
    names, which ``c4.gin`` binds. With the real ``t5``, its own modules
    and registrations are used instead."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())
    from trax_compat import gin_registry  # pylint: disable=g-import-not-at-top
    gin = gin_registry.gin_or_none()
    if gin is not None and not t5_installed():
        # The namespace then holds gin's wrappers, so Trax code reaching
        # t5.data.preprocessors.unsupervised gets the config's bindings.
        preprocessors.__dict__.update(
            t5_span_corruption.register_with_gin(gin))
