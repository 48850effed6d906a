"""One clear error for each public Trax name trax_compat does not have yet.

Touching such a name -- a module (``import trax_compat.models``,
``trax.rl`` under ``install_as_trax``), or a function or class
(``trax_compat.data.TFDS``, ``tl.LSHFF``) -- raises a
:class:`NotAvailableError` that names the Trax name, says it is not
available in this version and points to the coverage page. It is an
``AttributeError`` for attributes (so ``hasattr`` answers False) and a
``ModuleNotFoundError`` for modules (so ``except ImportError`` catches it).
Names Trax never had get Python's usual errors.

Trax's public names come from ``trax_names.json``, listed from Trax's
source by ``tests/testdata/generate_trax_names.py``. What trax_compat has
is looked up at the time of the error, so a layer added to its module is
found without touching anything here.
"""

import functools
import importlib
import importlib.abc
import json
import os
import sys

TRAX = "trax"
OURS = "trax_compat"
COVERAGE_PAGE = "docs/coverage.md"

# Trax code that trax_compat does not mean to port: (module prefix, why).
OUT_OF_SCOPE = (
    ("trax.layers.research", "Trax's research code"),
    ("trax.models.research", "Trax's research code"),
    ("trax.rl", "Trax's reinforcement-learning code"),
    ("trax.models.rl", "Trax's reinforcement-learning code"),
    ("trax.rl_trainer", "Trax's reinforcement-learning code"),
    ("trax.tf_numpy", "Trax's copy of TensorFlow NumPy "
                      "(tf.experimental.numpy now)"),
)


class NotAvailableError(Exception):
    """Base of both errors below; ``trax_name`` is the missing Trax name."""
    trax_name = None


class NotAvailableAttributeError(NotAvailableError, AttributeError):
    """A public Trax function, class or module reached as an attribute."""


class NotAvailableModuleError(NotAvailableError, ModuleNotFoundError):
    """A public Trax module reached by ``import``."""


def out_of_scope_reason(trax_module):
    """Why ``trax_module`` is out of scope, or None if it is in scope."""
    for prefix, why in OUT_OF_SCOPE:
        if trax_module == prefix or trax_module.startswith(prefix + "."):
            return why
    return None


def message(trax_name, origin):
    """The error text for ``trax_name``, defined in Trax module ``origin``."""
    from trax_compat import __version__  # pylint: disable=g-import-not-at-top
    why = out_of_scope_reason(origin)
    status = f" ({why} is out of scope)" if why else " yet"
    return (f"{trax_name} is not available in trax_compat {__version__}"
            f"{status}. See {COVERAGE_PAGE} in the trax-compat source (or "
            f"run `python -m trax_compat.coverage`) for what is.")


def _error(cls, trax_name, origin, **kwargs):
    error = cls(message(trax_name, origin), **kwargs)
    error.trax_name = trax_name
    return error


@functools.lru_cache(maxsize=None)
def trax_modules():
    """{Trax module: {"package", "names": {name: defining module}, "star"}}."""
    path = os.path.join(os.path.dirname(__file__), "trax_names.json")
    with open(path, encoding="utf-8") as f:
        return json.load(f)["modules"]


def trax_commit():
    path = os.path.join(os.path.dirname(__file__), "trax_names.json")
    with open(path, encoding="utf-8") as f:
        return json.load(f)["trax_commit"]


@functools.lru_cache(maxsize=None)
def public_names(trax_module):
    """{name: defining module} of every public name of ``trax_module``,
    including those its ``from M import *`` lines bring in."""
    entry = trax_modules().get(trax_module)
    if entry is None:
        return {}
    names = {}
    for star in entry["star"]:
        names.update(public_names(star))
    names.update(entry["names"])
    return names


def trax_name_of(module_name):
    """``trax_compat.X.Y`` -> ``trax.X.Y``."""
    return TRAX + module_name[len(OURS):]


def lookup(module_name, name):
    """What ``getattr(module, name)`` gives when trax_compat's module
    ``module_name`` has no attribute ``name``: a submodule imported now (as
    Trax's packages import theirs), or the error."""
    if not name.startswith("__"):  # dunder probes stay cheap
        trax_module = trax_name_of(module_name)
        full = f"{trax_module}.{name}"
        if full in trax_modules():
            try:
                return importlib.import_module(f"{module_name}.{name}")
            except NotAvailableModuleError:
                raise _error(NotAvailableAttributeError, full, full,
                             name=name) from None
        origin = public_names(trax_module).get(name)
        if origin is not None:
            raise _error(NotAvailableAttributeError, full, origin, name=name)
    raise AttributeError(f"module {module_name!r} has no attribute {name!r}",
                         name=name)


def module_getattr(module_name):
    """A module ``__getattr__`` for ``module_name`` (see :func:`lookup`)."""
    def __getattr__(name):  # pylint: disable=invalid-name
        return lookup(module_name, name)
    return __getattr__


def is_missing_module(error, module_name):
    """Whether ``error`` (a ModuleNotFoundError) says that the module
    ``module_name`` itself is absent (not something it imports)."""
    return error.name == module_name or (
        isinstance(error, NotAvailableError) and
        error.trax_name == trax_name_of(module_name))


class MissingModuleFinder(importlib.abc.MetaPathFinder):
    """Last on ``sys.meta_path``, so reached only when no other finder has
    the module: for a public Trax module that trax_compat lacks, raises
    :class:`NotAvailableModuleError` instead of a bare "No module named"."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname.startswith(OURS + "."):
            trax_name = trax_name_of(fullname)
            if trax_name in trax_modules():
                # The Trax name, not ours, as the error's name: else
                # `from trax_compat.X import missing` would swallow this
                # message for a bare "cannot import name".
                raise _error(NotAvailableModuleError, trax_name, trax_name,
                             name=trax_name)
        return None


def install_finder():
    if not any(isinstance(f, MissingModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(MissingModuleFinder())


def _public_names(module):
    """Names ``module`` defines itself (not ones it imports), without a
    leading underscore, plus any it lists in ``_EXPORTS``."""
    names = [name for name, obj in vars(module).items()
             if not name.startswith("_")
             and getattr(obj, "__module__", None) == module.__name__]
    return names + list(getattr(module, "_EXPORTS", ()))


def export_modules(package, module_names, namespace):
    """Imports ``package.<name>`` for each of ``module_names`` (skipping
    modules not written yet), gives each the not-available ``__getattr__``
    for Trax names it lacks, and puts their public names into ``namespace``
    (the package's globals), as Trax's packages do with ``import *``.
    Returns ``{name: module}`` for the modules found."""
    found = {}
    for module_name in module_names:
        full = f"{package}.{module_name}"
        try:
            module = importlib.import_module(full)
        except ModuleNotFoundError as e:
            if not is_missing_module(e, full):
                raise
            continue  # a module not written yet
        vars(module).setdefault("__getattr__", module_getattr(full))
        found[module_name] = module
        for name in _public_names(module):
            namespace[name] = getattr(module, name)
    return found

