"""Using a plain Flax Linen module where Trax expects a layer."""

import flax.linen as nn
import jax
import jax.numpy as jnp

from trax_compat.layers import base


class FlaxModule(base.Layer):
    """Wraps a ``flax.linen.Module`` as a Trax-style layer.

    Its ``weights`` are the module's ``params`` dict and its ``state`` the
    dict of its other collections (e.g. ``nn.BatchNorm``'s
    ``batch_stats``): there is no Trax tuple shape to recover, so both are
    their own named view. In training the module may update its other
    collections; they are its layer state, carried by the Loop and saved in
    checkpoints. ``init`` calls ``module.init`` with the layer's key and
    zeros of the input signature.
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
        self._state = {}

    @property
    def module(self):
        return self._flax_module

    def to_flax(self):
        return self._flax_module, {"params": self.weights, **self.state}

    def init_weights_and_state(self, input_signature):
        sigs = ((input_signature,) if self._n_in == 1
                else tuple(input_signature))
        dummies = tuple(
            jnp.zeros(s.shape, jax.dtypes.canonicalize_dtype(s.dtype))
            for s in sigs)
        variables = dict(self._flax_module.init(
            {"params": self.rng, "dropout": self.rng}, *dummies))
        self._weights = dict(variables.pop("params", {}))
        self._state = {name: dict(collection)
                       for name, collection in variables.items()}

    def forward(self, inputs):
        variables = {"params": self.weights, **self.state}
        rngs = {"dropout": self._rng} if self._rng is not None else {}
        mutable = list(self.state)
        if not mutable:
            return self._flax_module.apply(
                variables, *self._pack_inputs(inputs), rngs=rngs)
        outputs, updated = self._flax_module.apply(
            variables, *self._pack_inputs(inputs), rngs=rngs,
            mutable=mutable)
        self.state = {name: dict(collection)
                      for name, collection in updated.items()}
        return outputs

    def params_from_weights(self, weights):
        return dict(weights) if weights else {}

    def weights_from_params(self, params):
        return dict(params)

    def flax_state_from_state(self, state):
        return dict(state) if state else {}

    def state_from_flax_state(self, flax_state):
        return dict(flax_state or {})


def as_layer(model):
    """Returns ``model`` as a Trax-style layer (wrapping a Flax module)."""
    if isinstance(model, base.Layer):
        return model
    if isinstance(model, nn.Module):
        return FlaxModule(model)
    raise TypeError(
        f"Expected a trax_compat layer or a flax.linen.Module as model, got "
        f"{type(model).__name__}.")
