"""Using a plain Flax Linen module where Trax expects a layer."""

import flax.linen as nn
import jax
import jax.numpy as jnp

from trax_compat.layers import base


class FlaxModule(base.Layer):
    """Wraps a ``flax.linen.Module`` as a Trax-style layer.

    Its ``weights`` are the module's Flax ``params`` dict itself (there is no
    Trax tuple shape to recover). ``init`` calls ``module.init`` with the
    layer's rng and zeros of the input signature.
    """

    def __init__(self, module, n_in=1, n_out=1, name=None):
        if not isinstance(module, nn.Module):
            raise TypeError(
                f"FlaxModule expects a flax.linen.Module, got "
                f"{type(module).__name__}.")
        super().__init__(n_in=n_in, n_out=n_out,
                         name=name or type(module).__name__)
        self._flax_module = module
        self._weights = {}

    def make_module(self):
        return self._flax_module

    def init_weights_and_state(self, input_signature):
        sigs = ((input_signature,) if self._n_in == 1
                else tuple(input_signature))
        dummies = tuple(
            jnp.zeros(s.shape, jax.dtypes.canonicalize_dtype(s.dtype))
            for s in sigs)
        variables = self._flax_module.init(self.rng, *dummies)
        self._weights = dict(variables.get("params", {}))

    def params_from_weights(self, weights):
        return dict(weights) if weights else {}

    def weights_from_params(self, params):
        return dict(params)


def as_layer(model):
    """Returns ``model`` as a Trax-style layer (wrapping a Flax module)."""
    if isinstance(model, base.Layer):
        return model
    if isinstance(model, nn.Module):
        return FlaxModule(model)
    raise TypeError(
        f"Expected a trax_compat layer or a flax.linen.Module as model, got "
        f"{type(model).__name__}.")
