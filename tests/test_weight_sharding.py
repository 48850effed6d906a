"""Trax's weight-sharding helpers (``tl.shard``, ``tl.unshard``,
``tl.unshard_in_pmap``) and the rest of base's and the package's public
names (``tl.base.Fn``, ``tl.layer_configure``)."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from trax_compat import layers as tl
from tests.conftest import REPO

TWO_DEVICES = textwrap.dedent("""
    import jax
    import jax.numpy as jnp
    import numpy as np
    from trax_compat import layers as tl

    assert jax.local_device_count() == 2
    matrix = np.arange(12, dtype=np.float32).reshape(4, 3)
    cube = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    sharded = tl.shard((matrix, cube), 2)
    # Rank 2: split along axis 0; rank 3: along the last axis.
    np.testing.assert_array_equal(sharded[0][1], matrix[2:])
    np.testing.assert_array_equal(sharded[1][0], cube[..., :2])
    back = tl.unshard(sharded, 2)
    np.testing.assert_array_equal(back[0], matrix)
    np.testing.assert_array_equal(back[1], cube)

    gathered, in_pmap = jax.pmap(lambda t: tl.unshard_in_pmap(t, 2),
                                 axis_name="batch")(sharded)
    assert bool(in_pmap.all())
    for device in range(2):
        np.testing.assert_array_equal(gathered[0][device], matrix)
        np.testing.assert_array_equal(gathered[1][device], cube)
    print("ok")
""")


def test_shard_and_unshard_on_two_host_devices():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
               JAX_PLATFORMS="cpu")
    run = subprocess.run([sys.executable, "-c", TWO_DEVICES], cwd=REPO,
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr


def test_one_shard_is_the_array_itself():
    matrix = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert tl.N_WEIGHTS_SHARDS == 1
    sharded = tl.shard(matrix)
    assert sharded.shape == (1, 2, 3)
    np.testing.assert_array_equal(tl.unshard(sharded), matrix)
    # Outside pmap nothing is gathered.
    same, in_pmap = tl.unshard_in_pmap(matrix, 1)
    assert same is matrix and not in_pmap


def test_a_size_that_does_not_divide_names_the_shape():
    with pytest.raises(ValueError, match=r"shape \(3, 2\) into 2 shards"):
        tl.shard(np.zeros((3, 2), np.float32), 2)


def test_base_and_package_names_trax_code_uses():
    assert tl.base.Fn is tl.Fn and tl.base.PureLayer is tl.PureLayer
    # Without gin there is nothing to register with: the layer comes back.
    try:
        import gin  # pylint: disable=g-import-not-at-top,unused-import
    except ImportError:
        assert tl.layer_configure(tl.Dense) is tl.Dense
