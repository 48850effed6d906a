"""One generic Flax module hosting any layer.

``ForwardModule(layer)`` runs ``layer.pure_fn`` inside Flax: its ``params``
collection is the layer's named view of its weights (``layer.params``: for
the tutorial model ``{'layers_0': {'embedding'}, 'layers_2': {'kernel',
'bias'}}``) and its ``state`` collection the named view of the layer's state.
The layer's own code runs, traced, inside whatever Flax code applies the
module; the new state is written back when ``state`` is mutable. The key is
the ``rng`` argument, else the ``dropout`` stream.
"""

from typing import Any

import flax.linen as nn
import jax

from trax_compat import shapes


def _initial_weights_and_state(layer, xs, key):
    """What ``layer.init`` gives for inputs like ``xs``, leaving the layer's
    own weights, state and key as they were."""
    saved = layer.weights, layer.state, layer._rng  # pylint: disable=protected-access
    try:
        return layer.init(shapes.signature(xs), rng=key)
    finally:
        layer.weights, layer.state = saved[0], saved[1]
        layer._rng = saved[2]  # pylint: disable=protected-access


class ForwardModule(nn.Module):
    """Computes ``layer`` with its ``pure_fn`` (see the module docstring)."""
    layer: Any

    @nn.compact
    def __call__(self, *xs, rng=None):
        layer = self.layer
        packed = xs[0] if len(xs) == 1 else tuple(xs)
        if self.is_initializing():
            weights, state = _initial_weights_and_state(
                layer, packed, self.make_rng("params"))
            for name, value in layer.params_from_weights(weights).items():
                self.param(name, lambda _, v=value: v)
            for name, value in layer.flax_state_from_state(state).items():
                self.variable("state", name, lambda v=value: v)
        weights = layer.weights_from_params(
            dict(self.variables.get("params", {})))
        state = layer.state_from_flax_state(
            dict(self.variables.get("state", {})))
        if rng is None:
            # Deterministic layers ignore the key; a fixed one keeps a
            # layer that reads self.rng working without a dropout stream.
            rng = (self.make_rng("dropout") if self.has_rng("dropout")
                   else jax.random.PRNGKey(0))
        outputs, new_state = layer.pure_fn(packed, weights, state, rng)
        if self.is_mutable_collection("state"):
            for name, value in layer.flax_state_from_state(new_state).items():
                self.put_variable("state", name, value)
        return outputs
