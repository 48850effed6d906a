"""Trax-compatible API on Flax Linen, optax, Orbax and CLU.

Use it where Trax code says ``import trax``::

        import trax_compat as trax
        from trax_compat import layers as tl
        from trax_compat.supervised import training

To run Trax code without editing its imports, see :func:`install_as_trax`
(notebooks) and ``trax-compat run script.py`` (scripts).

Submodules are imported on first attribute access so that
``import trax_compat`` stays cheap (no JAX, TensorFlow or CLU until needed).
"""

import importlib

from trax_compat import missing as _missing

__version__ = "0.1.0"

_SUBMODULES = ("data", "layers", "models", "optimizers", "supervised", "shapes",
               "fastmath")

# Trax's short names for deeper modules (``trax.lr`` is its lr_schedules).
_ALIASES = {"lr": "supervised.lr_schedules"}

__all__ = list(_SUBMODULES)


def install_as_trax(shadow=False):
    """Makes ``import trax`` and ``trax.X.Y`` give trax_compat's modules, so
    that unmodified Trax code runs on trax_compat (call it before the first
    ``import trax``). A real ``trax`` that is importable is not hidden
    unless ``shadow`` is True. See ``trax_compat.as_trax``."""
    from trax_compat import as_trax  # pylint: disable=g-import-not-at-top
    as_trax.install_as_trax(shadow=shadow)


def __getattr__(name):
    if name in _SUBMODULES or name in _ALIASES:
        path = _ALIASES.get(name, name)
        module = importlib.import_module(f"{__name__}.{path}")
        globals()[name] = module
        return module
    return _missing.lookup(__name__, name)  # a Trax name not here: say so


# `import trax_compat.models` (a Trax module not here yet) says so.
_missing.install_finder()


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES) | set(_ALIASES))
