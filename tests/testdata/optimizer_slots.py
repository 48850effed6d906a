"""The optimizer oracle's tree and slot-layout conventions, shared by
``generate_optimizers.py`` (run with real Trax) and the tests that read its
data. Only NumPy and JAX: importable on both sides."""

import jax.numpy as jnp


def as_tree(leaves, tree):
    """The weight tree of a case from its four leaves (device arrays, as a
    Loop hands them over); ``tree='full'`` keeps the scalar leaf."""
    a, b, c, d = (jnp.asarray(x) for x in leaves)
    return (a, (b, c), d) if tree == 'full' else ((b, c), d)


def layout(x):
    """Trax's slot structure, with list/tuple/None kept apart."""
    if x is None:
        return None
    if isinstance(x, tuple):
        return {'tuple': [layout(e) for e in x]}
    if isinstance(x, list):
        return {'list': [layout(e) for e in x]}
    return {'shape': list(x.shape), 'dtype': str(x.dtype)}


def slot_arrays(x):
    """The arrays of a slot structure, depth first."""
    if x is None:
        return []
    if isinstance(x, (list, tuple)):
        return [a for e in x for a in slot_arrays(e)]
    return [x]
