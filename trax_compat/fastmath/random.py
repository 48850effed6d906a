"""PRNG keys with Trax's derivation (threefry, non-partitionable)."""

import contextlib

import jax


@contextlib.contextmanager
def trax_key_semantics():
    """Scopes ``jax_threefry_partitionable=False`` to a block.

    Trax's numbers were produced with the non-partitionable threefry split
    (JAX's default before 0.5). Setting it only around key derivation and
    sampling reproduces them without changing the user's global config.
    """
    with jax.threefry_partitionable(False):
        yield


def get_prng(seed):
    with trax_key_semantics():
        return jax.random.PRNGKey(seed)


def split(key, num=2):
    with trax_key_semantics():
        return jax.random.split(key, num)


def fold_in(key, data):
    with trax_key_semantics():
        return jax.random.fold_in(key, data)


def uniform(key, shape=(), dtype=None, minval=0.0, maxval=1.0):
    with trax_key_semantics():
        return jax.random.uniform(key, shape, dtype or jax.numpy.float32,
                                  minval, maxval)


def normal(key, shape=(), dtype=None):
    with trax_key_semantics():
        return jax.random.normal(key, shape, dtype or jax.numpy.float32)


def randint(key, shape, minval, maxval, dtype=None):
    with trax_key_semantics():
        return jax.random.randint(key, shape, minval, maxval,
                                  dtype or jax.numpy.int32)


def bernoulli(key, p=0.5, shape=None):
    with trax_key_semantics():
        return jax.random.bernoulli(key, p, shape)
