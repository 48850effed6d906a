"""Where a layer's Trax weights and state live in its Flax variables.

One declarative rule for every layer, so no layer hand-writes conversions:

- a combinator keeps each sublayer's subtree under that sublayer's name
  (``flax_child_names``: ``layers_0``, ``layers_1``... or ``cell``);
- a leaf names its arrays in ``weight_names`` / ``state_names``: a string
  for the whole tree (by default ``weights`` and ``state``, so a user's layer
  needs to declare nothing), or a (nested) tuple matching the Trax tuple;
- a network in which one layer occurs twice keeps its whole tree under
  ``weights`` / ``state`` (cache markers included) for now.

Empty weights or state take no entry. Only containers are rebuilt; the
arrays are shared.
"""

from trax_compat.layers import base

_ATTR = {"weights": "weight_names", "state": "state_names"}
_EMPTY = {"weights": base.EMPTY_WEIGHTS, "state": base.EMPTY_STATE}


def _named(names, tree):
    if base.is_empty(tree):
        return {}
    if isinstance(names, str):
        return {names: tree}
    out = {}
    for name, sub in zip(names, tree):
        out.update(_named(name, sub))
    return out


def _unnamed(names, flat, empty):
    if isinstance(names, str):
        return flat[names] if names in flat else empty
    parts = tuple(_unnamed(name, flat, empty) for name in names)
    return empty if all(base.is_empty(p) for p in parts) else parts


def to_flax(layer, tree, kind):
    """``layer``'s Trax ``kind`` tree ('weights' or 'state') as its Flax
    subtree."""
    if base.is_empty(tree):
        return {}
    if layer.sublayers and base.has_shared_layers(layer):
        return {kind: tree}
    if layer.sublayers:
        out = {}
        for name, sub, sub_tree in zip(layer.flax_child_names(),
                                       layer.sublayers, tree):
            flax_tree = _child_to_flax(sub, sub_tree, kind)
            if flax_tree:
                out[name] = flax_tree
        return out
    return _named(getattr(layer, _ATTR[kind]), tree)


def from_flax(layer, flax_tree, kind):
    """The inverse of ``to_flax``."""
    empty = _EMPTY[kind]
    flax_tree = flax_tree or {}
    if layer.sublayers and base.has_shared_layers(layer):
        return flax_tree.get(kind, empty)
    if layer.sublayers:
        return tuple(_child_from_flax(sub, flax_tree.get(name, {}), kind)
                     for name, sub in zip(layer.flax_child_names(),
                                          layer.sublayers))
    if not flax_tree:
        return empty
    return _unnamed(getattr(layer, _ATTR[kind]), flax_tree, empty)


def _child_to_flax(layer, tree, kind):
    # Through the layer's methods, so a layer may map its own way (FlaxModule).
    if kind == "weights":
        return layer.params_from_weights(tree)
    return layer.flax_state_from_state(tree)


def _child_from_flax(layer, flax_tree, kind):
    if kind == "weights":
        return layer.weights_from_params(flax_tree)
    return layer.state_from_flax_state(flax_tree)


def kernel_and_bias(use_bias):
    """The names of Dense's and Conv's weights: ``(kernel, bias)``, or a
    bare kernel without bias."""
    return ("kernel", "bias") if use_bias else "kernel"

