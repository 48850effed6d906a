"""The hand-written Flax twins of ``benchmarks.models_vs_flax`` compute the
same function as the Trax models the Loop trains there, so comparing their
speed is honest: with the Trax weights copied in, the same batch gives the
same log-probabilities and the same loss."""

import jax
import numpy as np
import pytest

from benchmarks import models_vs_flax as mvf
from trax_compat import layers as tl
from trax_compat import shapes

VOCAB, D, LENGTH, HEADS = 32, 16, 8, 4


@pytest.mark.parametrize("kind", mvf.MODELS)
def test_twin_matches_trax_model(kind):
    ids, targets, weights = mvf.make_batches(1, VOCAB, 3, LENGTH, seed=1)[0]
    weights = weights * (np.arange(LENGTH) < LENGTH - 2)  # some padding
    model = mvf.trax_model(kind, VOCAB, D, LENGTH, HEADS)
    model.init(shapes.signature(ids))
    twin = mvf.twin_model(kind, VOCAB, D, LENGTH, HEADS)
    params = mvf.twin_params(kind, model.weights)

    # Every weight of the twin is filled, with the shapes it declares.
    own = twin.init(jax.random.PRNGKey(0), ids)["params"]
    assert (jax.tree_util.tree_map(np.shape, params)
            == jax.tree_util.tree_map(np.shape, own))

    trax_out = model(ids)
    twin_out = twin.apply({"params": params}, ids)
    np.testing.assert_allclose(twin_out, trax_out, atol=1e-5, rtol=1e-5)

    trax_loss = tl.CrossEntropyLoss()((trax_out, targets, weights))
    twin_loss = mvf.cross_entropy_loss(twin_out, targets, weights)
    assert abs(float(twin_loss) - float(trax_loss)) < 1e-5
