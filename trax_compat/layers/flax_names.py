"""Where a layer's Trax weights and state live in its Flax variables.

One declarative rule for every layer, so no layer hand-writes conversions:

- a combinator keeps each sublayer's subtree under that sublayer's name
  (``flax_child_names``: ``layers_0``, ``layers_1``... or ``cell``);
- a leaf names its arrays in ``weight_names`` / ``state_names``: a string
  for the whole tree (by default ``weights`` and ``state``, so a user's layer
  needs to declare nothing), or a (nested) tuple matching the Trax tuple;
- a layer used more than once in a network is held once, at its first use
  (depth first, as Trax initializes); its later uses, Trax's cache markers
  in the Trax tree, take no entry.

Empty weights or state take no entry. Only containers are rebuilt; the
arrays are shared.
"""

from trax_compat.layers import base

_ATTR = {"weights": "weight_names", "state": "state_names"}
_EMPTY = {"weights": base.EMPTY_WEIGHTS, "state": base.EMPTY_STATE}
_MARKER = {"weights": base.GET_WEIGHTS_FROM_CACHE,
           "state": base.GET_STATE_FROM_CACHE}
_TO_FLAX = {"weights": "params_from_weights",
            "state": "flax_state_from_state"}
_FROM_FLAX = {"weights": "weights_from_params",
              "state": "state_from_flax_state"}


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


def _is_marker(tree, kind):
    return isinstance(tree, dict) and tree == _MARKER[kind]


def to_flax(layer, tree, kind):
    """``layer``'s Trax ``kind`` tree ('weights' or 'state') as its Flax
    subtree."""
    if base.is_empty(tree) or _is_marker(tree, kind):
        return {}
    if layer.sublayers:
        out = {}
        for name, sub, sub_tree in zip(layer.flax_child_names(),
                                       layer.sublayers, tree):
            # Through the sublayer's method: a layer may map its own way.
            flax_tree = getattr(sub, _TO_FLAX[kind])(sub_tree)
            if flax_tree:
                out[name] = flax_tree
        return out
    return _named(getattr(layer, _ATTR[kind]), tree)


def from_flax(layer, flax_tree, kind, seen=None):
    """The inverse of ``to_flax``. ``seen`` holds the layers met earlier in
    the network, depth first: one met again is a repeat and gets Trax's
    cache marker."""
    seen = set() if seen is None else seen
    seen.add(id(layer))
    flax_tree = flax_tree or {}
    if layer.sublayers:
        return tuple(_child_from_flax(sub, flax_tree.get(name, {}), kind, seen)
                     for name, sub in zip(layer.flax_child_names(),
                                          layer.sublayers))
    if not flax_tree:
        return _EMPTY[kind]
    return _unnamed(getattr(layer, _ATTR[kind]), flax_tree, _EMPTY[kind])


def _child_from_flax(layer, flax_tree, kind, seen):
    if id(layer) in seen:
        return _MARKER[kind]
    method = _FROM_FLAX[kind]
    if getattr(type(layer), method) is getattr(base.Layer, method):
        return from_flax(layer, flax_tree, kind, seen)
    # A layer with a mapping of its own (FlaxModule, Scan's state).
    seen.update(id(sub) for sub in base.layers_in_order(layer))
    return getattr(layer, method)(flax_tree)


def kernel_and_bias(use_bias):
    """The names of Dense's and Conv's weights: ``(kernel, bias)``, or a
    bare kernel without bias."""
    return ("kernel", "bias") if use_bias else "kernel"
