"""Trax's models, module by module as in Trax (``trax.models.X``).

Each model is a layer stack built from ``trax_compat.layers``, so its weights
tree has Trax's structure and Trax checkpoints load into it. This package
exports every public name its modules define, as Trax's ``trax.models``
does; a model not written yet says so (see ``trax_compat.missing``).
Idiomatic Flax Linen versions for migrating off Trax live in the
repository's top-level ``models/`` folder.
"""

import importlib

from trax_compat import missing as _missing

# Trax's model modules (research/ and rl excluded).
_MODULES = ("atari_cnn", "mlp", "neural_gpu", "resnet", "rnn", "transformer",
            "reformer.reformer")


def _public_names(module):
    return [name for name, obj in vars(module).items()
            if not name.startswith("_")
            and getattr(obj, "__module__", None) == module.__name__]


def _export_all():
    for module_name in _MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{module_name}")
        except ModuleNotFoundError as e:
            if not _missing.is_missing_module(e, f"{__name__}.{module_name}"):
                raise
            continue  # a module not written yet
        vars(module).setdefault("__getattr__",
                                _missing.module_getattr(module.__name__))
        # trax.models.reformer is the module reformer/reformer.py, as in Trax.
        globals()[module_name.rsplit(".", 1)[-1]] = module
        for name in _public_names(module):
            globals()[name] = getattr(module, name)


_export_all()
__getattr__ = _missing.module_getattr(__name__)

# Trax's gin names for what this package has (a no-op without gin).
from trax_compat import gin_registry as _gin_registry  # noqa: E402
_gin_registry.register('trax.models')
