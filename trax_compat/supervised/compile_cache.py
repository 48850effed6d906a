"""JAX's persistent compilation cache, on by default for Loop users.

A Loop compiles its train step once per batch shape and its eval function
once per eval shape; a persistent cache lets the next process load those
programs instead of compiling them again. ``training.Loop`` calls
:func:`enable_default` when it is built:

* the cache lives in ``<trax_compat cache>/jax``: ``$TRAX_COMPAT_CACHE_DIR/jax``
  if that variable is set, else ``~/.cache/trax_compat/jax``;
* a cache the user configured is never touched: if
  ``jax.config.jax_compilation_cache_dir`` is already set (by
  ``jax.config.update`` or ``$JAX_COMPILATION_CACHE_DIR``), or the cache is
  disabled with ``jax_enable_compilation_cache=False``, nothing changes;
* ``TRAX_COMPAT_COMPILATION_CACHE=off`` (or ``0``, ``false``, ``no``) turns
  the default off.

Every program is stored, however quickly it compiled (JAX's default keeps
only those over 1 s): a Loop's start-up runs some twenty tiny eager
programs (initializers, key splits, optimizer slots), and loading them
beats compiling them again. A threshold the user changed stays as
they set it.
"""

import os

ENV_SWITCH = "TRAX_COMPAT_COMPILATION_CACHE"
OFF_VALUES = ("0", "off", "false", "no")
SUBDIR = "jax"
MIN_COMPILE_SECONDS = 0.0
_JAX_DEFAULT_MIN_COMPILE_SECONDS = 1.0


def choose_cache_dir(environ, configured_dir, jax_cache_enabled=True):
    """The folder to turn the cache on with, or None to leave JAX alone.

    ``environ``: the environment (a mapping); ``configured_dir``: the current
    ``jax_compilation_cache_dir`` (None or "" when unset);
    ``jax_cache_enabled``: ``jax_enable_compilation_cache``.
    """
    if configured_dir or not jax_cache_enabled:
        return None  # The user's choice stands.
    if environ.get(ENV_SWITCH, "").strip().lower() in OFF_VALUES:
        return None
    from trax_compat.data import vocab_files  # pylint: disable=g-import-not-at-top
    root = (environ.get(vocab_files.ENV_CACHE_DIR)
            or vocab_files._DEFAULT_CACHE)  # pylint: disable=protected-access
    return os.path.join(os.path.expanduser(root), SUBDIR)


def enable_default(environ=None):
    """Turns the persistent cache on as described above; returns its folder
    (None if it was left as the user configured it, or switched off)."""
    import jax  # pylint: disable=g-import-not-at-top
    environ = os.environ if environ is None else environ
    path = choose_cache_dir(environ, jax.config.jax_compilation_cache_dir,
                            jax.config.jax_enable_compilation_cache)
    if path is None:
        return None
    jax.config.update("jax_compilation_cache_dir", path)
    if (jax.config.jax_persistent_cache_min_compile_time_secs
            == _JAX_DEFAULT_MIN_COMPILE_SECONDS):
        jax.config.update("jax_persistent_cache_min_compile_time_secs",
                          MIN_COMPILE_SECONDS)
    return path
