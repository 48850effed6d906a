"""``fastmath.random``: random numbers from the active backend.

Under JAX (the default) keys are derived as in Trax (threefry,
non-partitionable; see ``trax_key_semantics``); under the NumPy backend the
numbers come from NumPy's global generator and keys are ignored, as in
Trax.
"""

from trax_compat.fastmath import backend_state as _backend_state
from trax_compat.fastmath.jax_backend import trax_key_semantics  # noqa: F401

__all__ = ["get_prng", "split", "fold_in", "uniform", "normal", "randint",
           "bernoulli", "trax_key_semantics"]


def _op(name):
    # Through ops.backend_op: a backend without random numbers says so
    # (UnsupportedOpError, still a KeyError) instead of a bare KeyError.
    from trax_compat.fastmath import ops  # pylint: disable=g-import-not-at-top
    return ops.backend_op("random_" + name)


def get_prng(seed):
    """A key for the integer ``seed`` (JAX's ``PRNGKey`` layout)."""
    return _op("get_prng")(seed)


def split(key, num=2):
    """``num`` new keys derived from ``key``."""
    return _op("split")(key, num)


def fold_in(key, data):
    """A new key derived from ``key`` and the integer ``data``."""
    return _op("fold_in")(key, data)


def uniform(*args, **kwargs):
    """``uniform(key, shape=(), dtype=..., minval=0., maxval=1.)``."""
    return _op("uniform")(*args, **kwargs)


def normal(*args, **kwargs):
    """``normal(key, shape=(), dtype=...)``: standard normal samples."""
    return _op("normal")(*args, **kwargs)


def randint(*args, **kwargs):
    """``randint(key, shape, minval, maxval, dtype=...)``: integers in
    ``[minval, maxval)``."""
    return _op("randint")(*args, **kwargs)


def bernoulli(*args, **kwargs):
    """``bernoulli(key, p=0.5, shape=...)``: True (1) with probability p."""
    return _op("bernoulli")(*args, **kwargs)
