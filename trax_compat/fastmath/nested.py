"""Trax's helpers for nested tuples, lists and dicts (weights, states, batches).

Unlike ``jax.tree_util`` these treat only ``list``, ``tuple`` (namedtuples
included) and ``dict`` as containers, and everything else, ``None`` too, as
a leaf; ``tree_flatten`` returns just the list of leaves, as Trax's does.
Container types are kept: tuples stay tuples, namedtuples stay namedtuples.
"""

import numpy as np

__all__ = ["nested_map", "nested_map_multiarg", "nested_zip", "nested_stack",
           "tree_flatten", "tree_leaves", "tree_unflatten"]

_CONTAINERS = (list, tuple, dict)


def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _children(obj):
    return obj.values() if isinstance(obj, dict) else obj


def _rebuild(template, items):
    """A container of ``template``'s type holding ``items`` (a dict's values
    in its key order)."""
    items = list(items)
    if isinstance(template, dict):
        return dict(zip(template.keys(), items))
    if _is_namedtuple(template):
        return type(template)(*items)
    if isinstance(template, tuple):
        return tuple(items)
    return items


def _is_at_level(obj, level):
    """Whether ``obj`` sits exactly ``level`` containers above its leaves:
    level 0 is a leaf; level n a non-empty container of level n-1 items."""
    if not isinstance(obj, _CONTAINERS):
        return level == 0
    if level == 0:
        return False
    children = list(_children(obj))
    return bool(children) and all(_is_at_level(c, level - 1) for c in children)


def _only_nones(obj):
    leaves = tree_flatten(obj)
    return bool(leaves) and all(leaf is None for leaf in leaves)


def nested_map(f, obj, level=0, ignore_nones=True):
    """Applies ``f`` to every part of ``obj`` found ``level`` containers above
    the leaves (the leaves themselves for level 0), keeping the structure.

    With ``ignore_nones`` a part made only of ``None`` stays ``None`` and
    ``f`` is not called on it. Raises ValueError when a leaf is met above
    the requested level.
    """
    if _is_at_level(obj, level):
        if ignore_nones and _only_nones(obj):
            return None
        return f(obj)
    if not isinstance(obj, _CONTAINERS):
        raise ValueError(
            f"nested_map: {obj!r} is a leaf, not a structure {level} "
            f"level(s) deep.")
    return _rebuild(obj, (nested_map(f, c, level, ignore_nones)
                          for c in _children(obj)))


def nested_map_multiarg(f, *objs, ignore_nones=True):
    """Applies ``f`` to corresponding leaves of structures shaped like
    ``objs[0]``: ``f(leaf_of_objs0, leaf_of_objs1, ...)``."""
    first = objs[0]
    if isinstance(first, dict):
        return {k: nested_map_multiarg(f, *[o[k] for o in objs],
                                       ignore_nones=ignore_nones)
                for k in first}
    if isinstance(first, (list, tuple)):
        return _rebuild(first, (
            nested_map_multiarg(f, *[o[i] for o in objs],
                                ignore_nones=ignore_nones)
            for i in range(len(first))))
    if ignore_nones and all(o is None for o in objs):
        return None
    return f(*objs)


def nested_zip(objs):
    """Turns a sequence of equally structured objects into one structure of
    that shape whose leaves are tuples (one item per object)."""
    if not isinstance(objs, (list, tuple)) or not objs:
        raise ValueError("nested_zip needs a non-empty list or tuple.")
    first = objs[0]
    if not isinstance(first, _CONTAINERS):
        return tuple(objs)
    if isinstance(first, dict):
        return {k: nested_zip([o[k] for o in objs]) for k in first}
    return _rebuild(first, (nested_zip([o[i] for o in objs])
                            for i in range(len(first))))


def nested_stack(objs, axis=0, np_module=np):
    """Stacks corresponding leaves of equally structured objects into arrays
    (``np_module.stack`` along ``axis``); all-``None`` leaves stay ``None``."""
    return nested_map(lambda xs: np_module.stack(xs, axis=axis),
                      nested_zip(objs), level=1)


def tree_flatten(tree):
    """The leaves of ``tree`` in order (a dict contributes its values), as a
    list. Unlike ``jax.tree_util.tree_flatten`` no structure is returned and
    ``None`` counts as a leaf."""
    leaves = []

    def visit(node):
        if isinstance(node, _CONTAINERS):
            for child in _children(node):
                visit(child)
        else:
            leaves.append(node)

    visit(tree)
    return leaves


def tree_leaves(tree, ignore_nones=True):
    """``tree_flatten(tree)``, without the ``None`` leaves unless
    ``ignore_nones`` is False."""
    return [leaf for leaf in tree_flatten(tree)
            if not (ignore_nones and leaf is None)]


def tree_unflatten(flat, tree, copy_from_tree=None):
    """Fills the structure of ``tree`` with the items of ``flat`` in order.

    Returns ``(new_tree, rest)``: the filled structure and the items of
    ``flat`` left over. A part of ``tree`` equal to an element of
    ``copy_from_tree`` (e.g. ``()``, the weights of a layer without any) is
    kept as it is and takes nothing from ``flat``.
    """
    flat = list(flat)
    new_tree, used = _fill(flat, 0, tree, copy_from_tree)
    return new_tree, flat[used:]


def _is_copied(node, copy_from_tree):
    if hasattr(node, "shape"):  # an array is never a placeholder to keep
        return False
    for candidate in copy_from_tree:
        try:
            equal = node == candidate
        except (TypeError, ValueError):  # e.g. tuples holding arrays
            continue
        if isinstance(equal, (bool, np.bool_)) and equal:
            return True
    return False


def _fill(flat, start, node, copy_from_tree):
    """``(filled node, index of the next unused item of flat)``."""
    if copy_from_tree is not None and _is_copied(node, copy_from_tree):
        return node, start
    if isinstance(node, _CONTAINERS):
        items = []
        for child in _children(node):
            item, start = _fill(flat, start, child, copy_from_tree)
            items.append(item)
        return _rebuild(node, items), start
    if start >= len(flat):
        raise ValueError("tree_unflatten: the flat list has fewer items than "
                         "the tree has leaves.")
    return flat[start], start + 1
