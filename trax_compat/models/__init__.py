"""Trax's models, module by module as in Trax (``trax.models.X``).

Each model is a layer stack built from ``trax_compat.layers``, so its weights
tree has Trax's structure and Trax checkpoints load into it. This package
exports every public name its modules define, as Trax's ``trax.models``
does; a model not written yet says so (see ``trax_compat.missing``).
Idiomatic Flax Linen versions for migrating off Trax live in the
repository's top-level ``models/`` folder.
"""

from trax_compat import missing as _missing

# Trax's model modules (research/ and rl excluded).
_MODULES = ("atari_cnn", "mlp", "neural_gpu", "resnet", "rnn", "transformer",
            "reformer.reformer")
# From Trax's research/: trax.models names their models (and modules), not
# the helper layers these modules define.
_RESEARCH_MODULES = ("research.terraformer", "research.transformer2",
                     "research.hourglass", "research.rse", "research.bert",
                     "research.layerdrop_transformer", "research.rezero",
                     "research.configurable_transformer")

for _name, _module in _missing.export_modules(__name__, _MODULES,
                                              globals()).items():
    # trax.models.reformer is the module reformer/reformer.py, as in Trax.
    globals()[_name.rsplit(".", 1)[-1]] = _module
_research_names = {}
for _name, _module in _missing.export_modules(
        __name__, _RESEARCH_MODULES, _research_names).items():
    globals()[_name.rsplit(".", 1)[-1]] = _module
globals().update({_name: _obj for _name, _obj in _research_names.items()
                  if _name in _missing.public_names("trax.models")})
__getattr__ = _missing.module_getattr(__name__)

# Trax's gin names for what this package has (a no-op without gin).
from trax_compat import gin_registry as _gin_registry  # noqa: E402
_gin_registry.register('trax.models')
# Registers a user's model under trax.models, as Trax's helper does.
model_configure = _gin_registry.external_configurable_in('trax.models')
