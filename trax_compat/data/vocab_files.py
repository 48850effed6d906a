"""Finding vocabulary files, downloading them, and keeping them in memory.

Trax reads vocabularies from ``gs://trax-ml/vocabs/`` unless ``vocab_dir`` is
given. Here a vocabulary file is found as follows:

* ``vocab_dir`` given and local: only that folder (``~`` expanded);
* ``vocab_dir`` not given: ``$TRAX_COMPAT_VOCAB_DIR`` when set and holding the
  file, then the cache folder (``$TRAX_COMPAT_CACHE_DIR/vocabs``, default
  ``~/.cache/trax_compat/vocabs``), then the files bundled with the package
  (Trax's ``en_8k.subword``, in ``trax_compat/data/vocabs/``), then a download
  of ``gs://trax-ml/vocabs/<file>`` into the cache folder;
* ``vocab_dir='gs://bucket/path/'``: the cache copy, else (for Trax's own
  bucket) the bundled file, else a download into the cache (Trax's bucket
  maps onto the cache folder itself, other buckets onto
  ``<cache>/vocabs/gs/<bucket>/<path>/``).

:func:`resolve_vocab_path` never downloads; :func:`fetch_vocab_path` (used by
``tokenize`` and friends) does. Downloads go through
:mod:`trax_compat.data.download` (``$TRAX_COMPAT_GCS_ENDPOINT``).
"""

import os
import threading

from trax_compat.data import download as _download

ENV_VOCAB_DIR = "TRAX_COMPAT_VOCAB_DIR"
ENV_CACHE_DIR = "TRAX_COMPAT_CACHE_DIR"
_DEFAULT_CACHE = os.path.join("~", ".cache", "trax_compat")
TRAX_VOCAB_BUCKET = "gs://trax-ml/vocabs/"
BUNDLED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vocabs")


def bundled_path(vocab_file):
    """The packaged copy of a vocabulary of Trax's bucket, or None."""
    path = os.path.join(BUNDLED_DIR, os.path.basename(os.fspath(vocab_file)))
    return path if os.path.isfile(path) else None


def cache_dir():
    """Root of trax_compat's cache (``$TRAX_COMPAT_CACHE_DIR`` or default)."""
    root = os.environ.get(ENV_CACHE_DIR) or _DEFAULT_CACHE
    return os.path.expanduser(root)


def vocab_cache_dir():
    """Folder where vocabulary files are looked up by default."""
    return os.path.join(cache_dir(), "vocabs")


def _is_remote(path):
    return str(path).startswith("gs://")


def gs_cache_path(gs_path):
    """Where the object ``gs://bucket/path`` is kept in the cache folder."""
    if gs_path.startswith(TRAX_VOCAB_BUCKET):
        rest = gs_path[len(TRAX_VOCAB_BUCKET):]
        return os.path.join(vocab_cache_dir(), *rest.split("/"))
    bucket, rest = _download.split_gs_path(gs_path)
    return os.path.join(vocab_cache_dir(), "gs", bucket, *rest.split("/"))


def remote_path(vocab_file, vocab_dir=None):
    """The ``gs://`` object a vocabulary would be downloaded from, or None."""
    vocab_file = os.fspath(vocab_file)
    if _is_remote(vocab_file):
        return vocab_file
    vocab_file = os.path.expanduser(vocab_file)
    if os.path.isabs(vocab_file):
        return None
    if vocab_dir is None:
        vocab_dir = TRAX_VOCAB_BUCKET
    vocab_dir = os.fspath(vocab_dir)
    if not _is_remote(vocab_dir):
        return None
    return vocab_dir.rstrip("/") + "/" + vocab_file.replace(os.sep, "/")


def candidate_paths(vocab_file, vocab_dir=None, bundled=True):
    """The local places :func:`resolve_vocab_path` looks, in order
    (``bundled=False`` leaves out the packaged files)."""
    if not vocab_file:
        raise ValueError("vocab_file must name a vocabulary file (e.g. "
                         "'en_8k.subword'), got %r" % (vocab_file,))
    vocab_file = os.fspath(vocab_file)
    remote = remote_path(vocab_file, vocab_dir)
    if _is_remote(vocab_file) or (vocab_dir is not None and remote):
        return [gs_cache_path(remote)] + _bundled_for(remote, bundled)
    vocab_file = os.path.expanduser(vocab_file)
    if os.path.isabs(vocab_file):
        # As in Trax (os.path.join), an absolute file name ignores vocab_dir.
        return [vocab_file]
    if vocab_dir is not None:
        return [os.path.join(os.path.expanduser(os.fspath(vocab_dir)), vocab_file)]
    places = []
    env_dir = os.environ.get(ENV_VOCAB_DIR)
    if env_dir:
        places.append(os.path.join(os.path.expanduser(env_dir), vocab_file))
    places.append(gs_cache_path(remote))
    return places + _bundled_for(remote, bundled)


def _bundled_for(remote, bundled=True):
    # Only files of Trax's own bucket have a packaged copy.
    if not bundled or remote is None or not remote.startswith(
            TRAX_VOCAB_BUCKET):
        return []
    rest = remote[len(TRAX_VOCAB_BUCKET):]
    bundled = bundled_path(rest) if "/" not in rest else None
    return [bundled] if bundled else []


def _advice(vocab_file, vocab_dir, places):
    name = os.path.basename(os.fspath(vocab_file))
    lines = ["To provide it, do one of:"]
    lines.append("  - pass vocab_dir='/folder/containing/%s'" % name)
    explicit = vocab_dir is not None and not _is_remote(vocab_dir)
    lines.append("  - %sset the environment variable %s to that folder"
                 % ("leave vocab_dir unset and " if explicit else "",
                    ENV_VOCAB_DIR))
    remote = remote_path(vocab_file, vocab_dir)
    cache_place = (gs_cache_path(remote) if remote and not explicit
                   else os.path.join(vocab_cache_dir(), name))
    lines.append("  - copy the file to %s (the cache folder; set %s to move "
                 "the cache)" % (cache_place, ENV_CACHE_DIR))
    return lines


def resolve_vocab_path(vocab_file, vocab_dir=None, bundled=True):
    """Returns the path of an existing local vocabulary file (no download).

    Raises:
        FileNotFoundError: naming every place looked in and how to provide
            the file.
    """
    places = candidate_paths(vocab_file, vocab_dir, bundled)
    for place in places:
        if os.path.isfile(place):
            return place
    lines = ["Vocabulary file %r not found. Looked in:" % os.fspath(vocab_file)]
    lines += ["  - %s" % p for p in places]
    remote = remote_path(vocab_file, vocab_dir)
    if remote is not None:
        lines.append("(It can be downloaded from %s into the cache; "
                     "resolve_vocab_path does not download, tokenize does.)"
                     % remote)
    lines += _advice(vocab_file, vocab_dir, places)
    raise FileNotFoundError("\n".join(lines))


def fetch_vocab_path(vocab_file, vocab_dir=None, validate=None, progress=None,
                     bundled=True):
    """Like :func:`resolve_vocab_path`, but downloads a missing gs:// file.

    Args:
        vocab_file, vocab_dir: as in Trax's ``tokenize``.
        validate: optional ``f(path)`` that must accept a download before it
            is moved into the cache (e.g. the vocabulary loader).
        progress: show download progress (None = only on a terminal).
        bundled: whether a packaged copy counts as found (``trax-compat
            vocab download`` says False: it fills the cache).

    Raises:
        FileNotFoundError: the file is not local and cannot be downloaded
            (:class:`~trax_compat.data.download.DownloadError` then); the
            message names the URL and the cache path to place the file at.
    """
    try:
        return resolve_vocab_path(vocab_file, vocab_dir, bundled)
    except FileNotFoundError:
        remote = remote_path(vocab_file, vocab_dir)
        if remote is None:
            raise
    places = candidate_paths(vocab_file, vocab_dir, bundled)
    dest = gs_cache_path(remote)
    url = _download.gcs_url(remote)
    looked = ", ".join(p for p in places if p != dest)
    hint = ("Download it yourself (e.g. `gsutil cp %s %s`) and place it at "
            "%s (the cache folder; %s moves it), or put it in a folder and "
            "pass vocab_dir='/that/folder' or set %s to it%s."
            % (remote, dest, dest, ENV_CACHE_DIR, ENV_VOCAB_DIR,
               "; also looked in " + looked if looked else ""))
    return _download.download(url, dest, validate=validate, progress=progress,
                              hint=hint)


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
