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


def test_tensorflow_numpy_backend_draws_jax_random_numbers():
    # The layers compute with JAX under every backend, so their keys and
    # numbers stay JAX's; an initializer's bound computed with TF-NumPy is
    # taken as it is, and a model initialises and decodes.
    pytest.importorskip("tensorflow")
    from trax_compat import models, shapes  # pylint: disable=g-import-not-at-top
    from trax_compat.layers import initializers  # pylint: disable=g-import-not-at-top
    from trax_compat.supervised import decoding  # pylint: disable=g-import-not-at-top
    key = fastmath.random.get_prng(3)
    expected = fastmath.random.uniform(fastmath.random.split(key)[1], (4,))
    glorot = initializers.GlorotUniformInitializer()((3, 5), key)
    with fastmath.use_backend(fastmath.Backend.TFNP):
        assert fastmath.backend_name() == "tensorflow-numpy"
        tf_key = fastmath.random.get_prng(3)
        np.testing.assert_array_equal(tf_key, key)
        np.testing.assert_array_equal(
            fastmath.random.uniform(fastmath.random.split(tf_key)[1], (4,)),
            expected)
        np.testing.assert_array_equal(
            initializers.GlorotUniformInitializer()((3, 5), key), glorot)
        model = models.TransformerLM(10, d_model=8, d_ff=16, n_layers=1,
                                     n_heads=2, mode="predict")
        model.init(shapes.ShapeDtype((1, 1), dtype=np.int32))
        tokens = decoding.autoregressive_sample(model, batch_size=1,
                                                eos_id=-1, max_length=4)
    assert tokens.shape == (1, 4)
