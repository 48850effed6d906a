"""The JAX backend: Trax's ``fastmath`` operations as JAX, ``jax.lax`` and
Flax functions, under the names of Trax's backend tables.

Random numbers follow Trax's key derivation: threefry with
``jax_threefry_partitionable=False`` (JAX's default before 0.5), scoped to
each call so that the user's global configuration is never changed.
"""

import contextlib

import jax
from jax import lax
import jax.numpy as jnp
import jax.scipy.special as jax_special

from trax_compat import shapes
from trax_compat.fastmath import nested

__all__ = ["JAX_BACKEND", "trax_key_semantics"]


@contextlib.contextmanager
def trax_key_semantics():
    """Scopes ``jax_threefry_partitionable=False`` to a block.

    Trax's numbers were produced with the non-partitionable threefry split
    (JAX's default before 0.5). Setting it only around key derivation and
    sampling reproduces them without changing the user's global config.
    """
    with jax.threefry_partitionable(False):
        yield


def _get_prng(seed):
    with trax_key_semantics():
        return jax.random.PRNGKey(seed)


def _split(key, num=2):
    with trax_key_semantics():
        return jax.random.split(key, num)


def _fold_in(key, data):
    with trax_key_semantics():
        return jax.random.fold_in(key, data)


def _uniform(key, shape=(), dtype=None, minval=0.0, maxval=1.0):
    with trax_key_semantics():
        return jax.random.uniform(key, shape, dtype or jnp.float32,
                                  minval, maxval)


def _normal(key, shape=(), dtype=None):
    with trax_key_semantics():
        return jax.random.normal(key, shape, dtype or jnp.float32)


def _randint(key, shape, minval, maxval, dtype=None):
    with trax_key_semantics():
        return jax.random.randint(key, shape, minval, maxval,
                                  dtype or jnp.int32)


def _bernoulli(key, p=0.5, shape=None):
    with trax_key_semantics():
        return jax.random.bernoulli(key, p, shape)


def _abstract_eval(f):
    """``f`` run on shapes only: arguments may be arrays or ShapeDtypes, the
    result is ShapeDtypes in the structure of ``f``'s output."""
    def shapes_of_f(*args, **kwargs):
        out = jax.eval_shape(f, *args, **kwargs)
        return nested.nested_map(shapes.signature, out)
    return shapes_of_f


def _custom_vjp(f, f_fwd, f_bwd):
    """``f`` with the gradient of ``f_fwd``/``f_bwd`` (jax.custom_vjp's
    protocol; every argument is a primal, as in Trax's JAX backend)."""
    wrapped = jax.custom_vjp(f)
    wrapped.defvjp(f_fwd, f_bwd)
    return wrapped


def _custom_grad(f_vjp, f_original):
    """``f_original`` differentiated by ``f_vjp``, which maps the arguments
    to ``(output, vjp_fn)`` and whose ``vjp_fn(cotangent)`` returns one
    cotangent per argument.

    JAX residuals must be arrays, so the backward pass calls ``f_vjp`` again
    on the saved arguments to get ``vjp_fn``.
    """
    wrapped = jax.custom_vjp(f_original)

    def fwd(*args):
        out, _ = f_vjp(*args)
        return out, args

    def bwd(args, cotangent):
        _, vjp_fn = f_vjp(*args)
        grads = vjp_fn(cotangent)
        if len(args) == 1 and not isinstance(grads, (tuple, list)):
            grads = (grads,)
        return tuple(grads)

    wrapped.defvjp(fwd, bwd)
    return wrapped


def _conv(inp, fltr, window_strides, padding, dimension_numbers,
          filter_dilation=None):
    """A general convolution (``lax.conv_general_dilated`` without input
    dilation)."""
    return lax.conv_general_dilated(
        inp, fltr, window_strides, padding, rhs_dilation=filter_dilation,
        dimension_numbers=dimension_numbers)


# Pooling over the spatial axes of (batch, spatial..., features) inputs, as
# Flax computes it; Trax's average divides by the inputs in each window.
def _max_pool(x, pool_size, strides, padding):
    import flax.linen as nn  # pylint: disable=g-import-not-at-top
    return nn.max_pool(x, tuple(pool_size), strides, padding)


def _avg_pool(x, pool_size, strides, padding):
    import flax.linen as nn  # pylint: disable=g-import-not-at-top
    return nn.avg_pool(x, tuple(pool_size), strides, padding,
                       count_include_pad=False)


def _sum_pool(x, pool_size, strides, padding):
    import flax.linen as nn  # pylint: disable=g-import-not-at-top
    return nn.pool(x, 0., lax.add, tuple(pool_size), strides, padding)


JAX_BACKEND = {
    "name": "jax",
    "np": jnp,
    "abstract_eval": _abstract_eval,
    "avg_pool": _avg_pool,
    "cond": lax.cond,
    "conv": _conv,
    "custom_grad": _custom_grad,
    "custom_vjp": _custom_vjp,
    "dynamic_slice": lax.dynamic_slice,
    "dynamic_slice_in_dim": lax.dynamic_slice_in_dim,
    "dynamic_update_slice": lax.dynamic_update_slice,
    "dynamic_update_slice_in_dim": lax.dynamic_update_slice_in_dim,
    "erf": jax_special.erf,
    "expit": jax_special.expit,
    "fori_loop": lax.fori_loop,
    "global_device_count": jax.device_count,
    "grad": jax.grad,
    "index_add": lambda x, idx, y: jnp.asarray(x).at[idx].add(y),
    "index_max": lambda x, idx, y: jnp.asarray(x).at[idx].max(y),
    "index_min": lambda x, idx, y: jnp.asarray(x).at[idx].min(y),
    "index_update": lambda x, idx, y: jnp.asarray(x).at[idx].set(y),
    "jit": jax.jit,
    "local_device_count": jax.local_device_count,
    "logsumexp": jax_special.logsumexp,
    "lt": lax.lt,
    "map": lax.map,
    "max_pool": _max_pool,
    "pmap": jax.pmap,
    "psum": lax.psum,
    "random_bernoulli": _bernoulli,
    "random_fold_in": _fold_in,
    "random_get_prng": _get_prng,
    "random_normal": _normal,
    "random_randint": _randint,
    "random_split": _split,
    "random_uniform": _uniform,
    "remat": jax.checkpoint,
    "scan": lax.scan,
    "sort_key_val": lax.sort_key_val,
    "stop_gradient": lax.stop_gradient,
    "sum_pool": _sum_pool,
    "top_k": lax.top_k,
    "value_and_grad": jax.value_and_grad,
    "vjp": jax.vjp,
    "vmap": jax.vmap,
}
