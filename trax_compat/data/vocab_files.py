"""Finding vocabulary files and keeping loaded vocabularies in memory.

Trax reads vocabularies from ``gs://trax-ml/vocabs/`` unless ``vocab_dir`` is
given. We never touch the network here; instead a file is looked up in

1. ``vocab_dir`` when given (``~`` expanded), else
2. ``$TRAX_COMPAT_VOCAB_DIR`` when set, then
3. the cache folder: ``$TRAX_COMPAT_CACHE_DIR/vocabs`` when that variable is
   set, else ``~/.cache/trax_compat/vocabs``.

A ``gs://`` ``vocab_dir`` is mapped onto the cache folder (downloading is not
supported yet).
"""

import os
import threading

ENV_VOCAB_DIR = "TRAX_COMPAT_VOCAB_DIR"
ENV_CACHE_DIR = "TRAX_COMPAT_CACHE_DIR"
_DEFAULT_CACHE = os.path.join("~", ".cache", "trax_compat")


def cache_dir():
    """Root of trax_compat's cache (``$TRAX_COMPAT_CACHE_DIR`` or default)."""
    root = os.environ.get(ENV_CACHE_DIR) or _DEFAULT_CACHE
    return os.path.expanduser(root)


def vocab_cache_dir():
    """Folder where vocabulary files are looked up by default."""
    return os.path.join(cache_dir(), "vocabs")


def _is_remote(path):
    return str(path).startswith("gs://")


def candidate_paths(vocab_file, vocab_dir=None):
    """The places :func:`resolve_vocab_path` looks, in order."""
    if not vocab_file:
        raise ValueError("vocab_file must name a vocabulary file (e.g. "
                         "'en_8k.subword'), got %r" % (vocab_file,))
    vocab_file = os.path.expanduser(os.fspath(vocab_file))
    if _is_remote(vocab_file):
        return [os.path.join(vocab_cache_dir(), vocab_file.rstrip("/").rsplit("/", 1)[-1])]
    if os.path.isabs(vocab_file):
        # As in Trax (os.path.join), an absolute file name ignores vocab_dir.
        return [vocab_file]
    if vocab_dir is not None and not _is_remote(vocab_dir):
        return [os.path.join(os.path.expanduser(os.fspath(vocab_dir)), vocab_file)]
    if vocab_dir is not None:
        return [os.path.join(vocab_cache_dir(), os.path.basename(vocab_file))]
    places = []
    env_dir = os.environ.get(ENV_VOCAB_DIR)
    if env_dir:
        places.append(os.path.join(os.path.expanduser(env_dir), vocab_file))
    places.append(os.path.join(vocab_cache_dir(), vocab_file))
    return places


def resolve_vocab_path(vocab_file, vocab_dir=None):
    """Returns the path of an existing vocabulary file.

    Raises:
        FileNotFoundError: naming every place looked in and how to provide
            the file.
    """
    places = candidate_paths(vocab_file, vocab_dir)
    for place in places:
        if os.path.isfile(place):
            return place
    name = os.path.basename(os.fspath(vocab_file))
    lines = ["Vocabulary file %r not found. Looked in:" % os.fspath(vocab_file)]
    lines += ["  - %s" % p for p in places]
    remote = vocab_dir if vocab_dir is not None and _is_remote(vocab_dir) else None
    if remote is None and _is_remote(vocab_file):
        remote = vocab_file
    if remote is not None:
        lines.append("%r is a Google Cloud Storage location; trax_compat does "
                     "not download vocabularies yet, so it only looks for a "
                     "local copy in the cache folder." % remote)
    lines.append("To provide it, do one of:")
    lines.append("  - pass vocab_dir='/folder/containing/%s'" % name)
    explicit = vocab_dir is not None and not _is_remote(vocab_dir)
    lines.append("  - %sset the environment variable %s to that folder"
                 % ("leave vocab_dir unset and " if explicit else "",
                    ENV_VOCAB_DIR))
    lines.append("  - copy the file into %s (the cache folder; set %s to move "
                 "the cache)" % (vocab_cache_dir(), ENV_CACHE_DIR))
    raise FileNotFoundError("\n".join(lines))


# Loaded vocabularies, keyed by (kind, absolute path, mtime, size) so an edited
# or replaced file is reloaded while repeated calls share one object.
_loaded = {}
_loaded_lock = threading.Lock()


def load_cached(path, loader, kind="subword"):
    """Returns ``loader(path)``, loading each (unchanged) file only once."""
    abspath = os.path.abspath(path)
    st = os.stat(abspath)
    key = (kind, abspath, st.st_mtime_ns, st.st_size)
    with _loaded_lock:
        vocab = _loaded.get(key)
    if vocab is not None:
        return vocab
    vocab = loader(abspath)
    with _loaded_lock:
        # Drop stale versions of the same file so memory does not grow.
        for old in [k for k in _loaded if k[:2] == key[:2]]:
            del _loaded[old]
        _loaded[key] = vocab
    return vocab


def clear_vocab_cache():
    """Forgets every loaded vocabulary (tests; freeing memory)."""
    with _loaded_lock:
        _loaded.clear()
