"""fastmath on each backend: the operations issue 27 lists, and a clear
error for one a backend lacks."""

import numpy as np
import pytest

from trax_compat import fastmath
from trax_compat.fastmath import numpy as jnp


def test_numpy_backend_computes_with_numpy():
    with fastmath.use_backend("numpy"):
        assert type(jnp.ones(2)) is np.ndarray
        assert fastmath.fori_loop(2, 5, lambda i, x: x + i, 1) == 10
        carry, ys = fastmath.scan(lambda c, x: (c + x, c * x), 0,
                                  jnp.arange(4))
        assert carry == 6 and ys.tolist() == [0, 0, 2, 9]
        values, indices = fastmath.top_k(jnp.array([3., 1., 2.]), 2)
        assert values.tolist() == [3., 2.] and indices.tolist() == [0, 2]
        assert fastmath.index_add(jnp.ones(3), 1, 5.).tolist() == [1, 6, 1]
    assert fastmath.backend_name() == "jax"


def test_a_backend_without_random_numbers_says_so(monkeypatch):
    table = dict(fastmath.backend_state.NUMPY_BACKEND)
    del table["random_get_prng"]
    monkeypatch.setitem(fastmath.ops._backend_dict, fastmath.Backend.NUMPY,
                        table)
    with fastmath.use_backend("numpy"):
        with pytest.raises(fastmath.UnsupportedOpError) as caught:
            fastmath.random.get_prng(0)
    assert isinstance(caught.value, KeyError)
    assert str(caught.value).startswith(
        "fastmath.random_get_prng is not available with the 'numpy' backend")
