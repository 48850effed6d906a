"""The NumPy backend: ``fastmath`` computed eagerly with NumPy and SciPy.

As in Trax, random numbers come from NumPy's global generator (keys are
accepted and ignored; ``split`` gives ``None`` keys), ``jit`` returns the
function unchanged and there is one device. Beyond Trax's table it runs the
control-flow and indexing operations as plain Python/NumPy (``fori_loop``,
``scan``, ``map``, ``cond``, ``index_*``, ``top_k``, ``sort_key_val``),
``stop_gradient`` is the identity and the custom-gradient wrappers return
the function itself (there is no differentiation here). Gradients, ``vmap``
and ``pmap`` need the JAX backend.
"""

import jax
import numpy as np

from trax_compat import shapes
from trax_compat.fastmath import nested

__all__ = ["NUMPY_BACKEND"]


def _get_prng(seed):
    """A key laid out as JAX's ``PRNGKey(seed)``: uint32 [high, low]."""
    if np.ndim(seed):
        raise TypeError("A PRNG seed must be a scalar.")
    seed = int(seed)
    return np.array([(seed >> 32) & 0xFFFFFFFF, seed & 0xFFFFFFFF],
                    dtype=np.uint32)


def _uniform(rng, shape=(), dtype=np.float64, minval=0.0, maxval=1.0):
    del rng
    return np.random.uniform(minval, maxval, size=shape).astype(dtype)


def _normal(rng, shape=(), dtype=np.float64):
    del rng
    return np.random.normal(size=shape).astype(dtype)


def _randint(rng, shape, minval, maxval, dtype=np.int64):
    del rng
    return np.random.randint(minval, maxval, size=shape).astype(dtype)


def _bernoulli(rng, p=0.5, shape=()):
    del rng
    return np.random.binomial(1, p, size=shape)


def _abstract_eval(f):
    """``f`` run on zeros of the given shapes; returns the result's
    ShapeDtypes."""
    def shapes_of_f(*args, **kwargs):
        zeros = [nested.nested_map(lambda s: np.zeros(s.shape, s.dtype), a)
                 for a in args]
        return shapes.signature(f(*zeros, **kwargs))
    return shapes_of_f


def _fori_loop(lower, upper, body_fn, init_val):
    val = init_val
    for i in range(int(lower), int(upper)):
        val = body_fn(i, val)
    return val


def _scan(f, init, xs, length=None, reverse=False, unroll=1):
    """``lax.scan``'s semantics as a Python loop: ``f(carry, x) -> (carry,
    y)`` over the leading axis of ``xs``; the ``y``s are stacked."""
    del unroll
    leaves, treedef = jax.tree_util.tree_flatten(xs)
    n = length if length is not None else len(leaves[0])
    order = range(n - 1, -1, -1) if reverse else range(n)
    carry, ys = init, []
    for i in order:
        carry, y = f(carry, treedef.unflatten([leaf[i] for leaf in leaves]))
        ys.append(y)
    if reverse:
        ys.reverse()
    if not ys:
        return carry, None
    return carry, jax.tree_util.tree_map(lambda *y: np.stack(y), *ys)


def _map(f, xs):
    return _scan(lambda carry, x: (carry, f(x)), None, xs)[1]


def _cond(pred, true_fun, false_fun, *operands):
    return true_fun(*operands) if pred else false_fun(*operands)


def _index_op(ufunc):
    """``x`` with ``ufunc`` applied at ``idx`` (repeated indices
    accumulate), on a copy, like JAX's ``x.at[idx]`` updates."""
    def update(x, idx, y):
        out = np.array(x, copy=True)
        ufunc.at(out, idx, y)
        return out
    return update


def _index_update(x, idx, y):
    out = np.array(x, copy=True)
    out[idx] = y
    return out


def _top_k(x, k):
    """The ``k`` largest entries along the last axis (ties: lower index
    first, as ``lax.top_k``) and their indices."""
    x = np.asarray(x)
    n = x.shape[-1]
    # A stable ascending sort of the reversed axis, read backwards, is a
    # descending sort that keeps equal entries in their original order.
    ascending = np.argsort(x[..., ::-1], axis=-1, kind="stable")
    indices = (n - 1 - ascending[..., ::-1])[..., :k]
    return np.take_along_axis(x, indices, axis=-1), indices


def _sort_key_val(keys, values, dimension=-1):
    order = np.argsort(keys, axis=dimension, kind="stable")
    return (np.take_along_axis(np.asarray(keys), order, axis=dimension),
            np.take_along_axis(np.asarray(values), order, axis=dimension))


def _scipy_special(name):
    """``scipy.special.<name>``, imported at the first call: SciPy costs
    about 80 ms to import, and only this backend needs it."""

    def call(*args, **kwargs):
        import scipy.special  # pylint: disable=g-import-not-at-top
        return getattr(scipy.special, name)(*args, **kwargs)

    call.__name__ = name
    return call


NUMPY_BACKEND = {
    "name": "numpy",
    "np": np,
    "abstract_eval": _abstract_eval,
    "cond": _cond,
    "custom_grad": lambda f_vjp, f_original: f_original,
    "custom_vjp": lambda f, f_fwd, f_bwd: f,
    "erf": _scipy_special("erf"),
    "expit": _scipy_special("expit"),
    "fori_loop": _fori_loop,
    "global_device_count": lambda: 1,
    "index_add": _index_op(np.add),
    "index_max": _index_op(np.maximum),
    "index_min": _index_op(np.minimum),
    "index_update": _index_update,
    "jit": lambda f, *args, **kwargs: f,
    "local_device_count": lambda: 1,
    "logsumexp": _scipy_special("logsumexp"),
    "lt": np.less,
    "map": _map,
    "random_bernoulli": _bernoulli,
    "random_fold_in": lambda rng, data: None,
    "random_get_prng": _get_prng,
    "random_normal": _normal,
    "random_randint": _randint,
    "random_split": lambda rng, num=2: (None,) * num,
    "random_uniform": _uniform,
    "remat": lambda f, *args, **kwargs: f,
    "scan": _scan,
    "sort_key_val": _sort_key_val,
    "stop_gradient": lambda x: x,
    "top_k": _top_k,
}
