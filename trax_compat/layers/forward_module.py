"""One generic Flax module for layers written in Trax's style.

A layer that computes through its own ``forward`` (a user's ``tl.Layer``
subclass, a layer with custom gradients, a network sharing a layer) runs in
Flax as ``ForwardModule(layer)``: its Trax weights tree is the param
``weights`` and its Trax state tree the variable ``state`` of the ``state``
collection. Applying the module calls ``layer.pure_fn``, so the layer's own
code runs, traced, inside the jitted step; the new state is written back
when the ``state`` collection is mutable.
"""

from typing import Any

import jax

from trax_compat import shapes
from trax_compat.layers import base


def _initial_weights_and_state(layer, xs, key):
    """What ``layer.init`` gives for inputs like ``xs``, leaving the layer's
    own weights, state and key as they were."""
    saved = layer.weights, layer.state, layer._rng  # pylint: disable=protected-access
    sig = shapes.signature(xs)
    try:
        return layer.init(sig, rng=key)
    finally:
        layer.weights, layer.state = saved[0], saved[1]
        layer._rng = saved[2]  # pylint: disable=protected-access


class ForwardModule(base.TraxModule):
    """Computes ``layer`` with its ``pure_fn`` (see the module docstring)."""
    layer: Any

    def __call__(self, *xs, rng=None):
        layer = self.layer
        packed = xs[0] if len(xs) == 1 else tuple(xs)
        if self.is_initializing() and not self.has_variable("params",
                                                            "weights"):
            weights, state = _initial_weights_and_state(
                layer, packed, self.make_rng("params"))
            if not base.is_empty(weights):
                self.param("weights", lambda _: weights)
            if not base.is_empty(state):
                self.variable("state", "state", lambda: state)
        weights = (self.get_variable("params", "weights")
                   if self.has_variable("params", "weights")
                   else base.EMPTY_WEIGHTS)
        state = (self.get_variable("state", "state")
                 if self.has_variable("state", "state")
                 else base.EMPTY_STATE)
        if rng is None:
            rng = (self.make_rng("dropout") if self.has_rng("dropout")
                   else jax.random.PRNGKey(0))
        outputs, new_state = layer.pure_fn(packed, weights, state, rng)
        if (not base.is_empty(new_state)
                and self.is_mutable_collection("state")):
            self.put_variable("state", "state", new_state)
        return outputs
