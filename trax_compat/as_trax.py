"""``import trax`` for unmodified Trax code.

After :func:`install_as_trax`, ``trax`` and every ``trax.X.Y`` name resolve
to ``trax_compat`` and ``trax_compat.X.Y``: the very same module objects, so
``isinstance`` checks and module-level state (the fastmath backend, gin
registrations) agree whichever name the code used. No package named
``trax`` needs to be installed. In a notebook, before the first
``import trax``::

    import trax_compat
    trax_compat.install_as_trax()

    import trax
    from trax import layers as tl

For scripts, ``trax-compat run script.py [args]`` does the same, then runs
the script (see ``trax_compat.run``).
"""

import importlib
import importlib.abc
import importlib.util
import sys

ALIAS = "trax"
TARGET = "trax_compat"

__all__ = ["install_as_trax", "RealTraxError"]


class RealTraxError(ImportError):
    """A real ``trax`` is importable (or imported) and was not to be hidden."""
    exit_code = 2  # a usage error for `trax-compat run`


def target_name(fullname):
    """``trax.X.Y`` -> ``trax_compat.X.Y``."""
    return TARGET + fullname[len(ALIAS):]


class _SameModuleLoader(importlib.abc.Loader):
    """Gives the import system an already imported trax_compat module."""

    def __init__(self, module):
        self._module = module
        self._spec = getattr(module, "__spec__", None)

    def create_module(self, spec):
        return self._module

    def exec_module(self, module):
        # The import system has stamped the trax.* spec on the module; the
        # module's own spec must stay, or its relative imports and
        # importlib.reload would look for trax.* files.
        module.__spec__ = self._spec


class TraxAliasFinder(importlib.abc.MetaPathFinder):
    """Resolves ``trax.*`` to ``trax_compat.*``; it sits first on
    ``sys.meta_path`` so that no ``trax.*`` name is ever loaded twice (or
    from a real Trax)."""

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith(ALIAS + "."):
            return None
        name = target_name(fullname)
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name is not None and (
                    e.name == name or name.startswith(e.name + ".")):
                # trax_compat lacks the module: report the name the user
                # wrote, not ours.
                raise ModuleNotFoundError(f"No module named {fullname!r}",
                                          name=fullname) from None
            raise
        return importlib.util.spec_from_loader(
            fullname, _SameModuleLoader(module),
            is_package=hasattr(module, "__path__"))


def is_installed():
    """Whether ``import trax`` gives trax_compat in this process."""
    return (sys.modules.get(ALIAS) is sys.modules.get(TARGET) and
            any(isinstance(f, TraxAliasFinder) for f in sys.meta_path))


def _installed_trax_location():
    """Where a package named ``trax`` would be imported from, or None."""
    try:
        spec = importlib.util.find_spec(ALIAS)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    return spec.origin or ", ".join(spec.submodule_search_locations or ())


def install_as_trax(shadow=False):
    """Makes ``import trax`` (and ``trax.X.Y``) give trax_compat's modules.

    Call it before the first ``import trax``; calling it again does nothing.

    Args:
      shadow: if a real ``trax`` package is importable, use trax_compat under
        the name ``trax`` anyway (by default that is refused, with a
        :class:`RealTraxError` saying where the real one is).

    Raises:
      RealTraxError: a real ``trax`` is importable and ``shadow`` is False,
        or a ``trax`` other than trax_compat has already been imported.
    """
    if is_installed():
        return
    target = importlib.import_module(TARGET)
    current = sys.modules.get(ALIAS)
    if current is not None and current is not target:
        raise RealTraxError(
            f"a module named {ALIAS!r} is already imported (from "
            f"{getattr(current, '__file__', None) or current!r}); call "
            f"install_as_trax() before the first `import {ALIAS}` (restart "
            f"the interpreter or notebook kernel).")
    if current is None and not shadow:
        location = _installed_trax_location()
        if location is not None:
            raise RealTraxError(
                f"a real {ALIAS!r} package is importable ({location}); "
                f"trax_compat does not hide it unless asked. Uninstall it, "
                f"or use install_as_trax(shadow=True) (`trax-compat run "
                f"--shadow-trax`) to run with trax_compat as {ALIAS!r}.")
    if not any(isinstance(f, TraxAliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, TraxAliasFinder())
    # Submodules already imported under trax_compat.* get their trax.* names
    # on first import through the finder; the package itself is named now.
    sys.modules[ALIAS] = target
