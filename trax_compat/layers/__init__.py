"""Trax-compatible layers, module by module as in Trax.

``trax_compat.layers.X`` mirrors ``trax.layers.X``; this package exports
every public name defined in those modules (as Trax's ``import *`` does),
so a layer added to its module is exported without a second list here.
"""

from trax_compat import missing as _missing
from trax_compat.fastmath import backend_state as _fastmath_backend

# Trax's layer modules (research/ excluded), in Trax's import order.
_MODULES = (
    # from Trax's research/: the Hourglass model's relative attention and
    # resampling layers. First, so that tl.DotProductAttention stays the
    # attention module's layer (in Trax this research function shadows it).
    "research.rel_attention", "research.resampling",
    "research.rotary_positional_embedding",
    "acceleration", "activation_fns", "assert_shape", "attention", "base",
    "combinators", "convolution", "core", "deconvolution", "initializers",
    "metrics", "normalization", "pooling", "reversible", "rnn",
    # from Trax's research/: the attention layers Reformer needs
    "efficient_attention",
    # from Trax's research/: the positional encodings models pick by pos_type
    "research.position_encodings",
    # from Trax's research/: sparse Dense replacements, their attentions, FAVOR
    "research.sparsity",
    # from Trax's research/sparsity: the sparse feed-forward blocks
    "research.sparse_ff",
    # ours: Flax modules as layers
    "flax_adapter", "functional",
)


# Module-level defaults (`dtype=jnp.float32`, `aggregation_fun=jnp.mean`)
# are read from JAX even when a script chose another backend before its
# first `import trax.layers` (Trax's tutorials set 'tensorflow-numpy').
with _fastmath_backend.use_backend("jax"):
    _missing.export_modules(__name__, _MODULES, globals())
__getattr__ = _missing.module_getattr(__name__)


def layer_configure(*args, **kwargs):
    """Trax's hook registering a layer with gin under ``trax.layers``.
    Without gin installed there is no configuration to register with, and
    the layer is returned as it is."""
    try:
        import gin  # pylint: disable=g-import-not-at-top
    except ImportError:
        return args[0] if args else (lambda layer: layer)
    kwargs["module"] = "trax.layers"
    return gin.external_configurable(*args, **kwargs)

# Trax's gin names for what this package has (a no-op without gin).
from trax_compat import gin_registry as _gin_registry  # noqa: E402
_gin_registry.register('trax.layers')
