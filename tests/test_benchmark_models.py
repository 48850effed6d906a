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


def test_transformer_twin_dropout_is_active_in_training():
    """With a dropout rate the twin drops at random (it is trained with a
    dropout key per step, as the Loop's TransformerLM is)."""
    ids = mvf.make_batches(1, VOCAB, 2, LENGTH, seed=2)[0][0]
    twin = mvf.twin_model("transformer", VOCAB, D, LENGTH, HEADS,
                          dropout=0.5)
    params = twin.init({"params": jax.random.PRNGKey(0),
                        "dropout": jax.random.PRNGKey(1)}, ids)["params"]

    def run(seed):
        return np.asarray(twin.apply({"params": params}, ids,
                                     rngs={"dropout": jax.random.PRNGKey(
                                         seed)}))

    assert not np.allclose(run(1), run(2))
    np.testing.assert_array_equal(run(3), run(3))


def test_transformer_row_runs_on_a_tiny_size():
    """The benchmark's TransformerLM row end to end (no timing checks)."""
    args = mvf.parse_args([
        "--models", "transformer", "--steps", "2", "--rounds", "1",
        "--warmup", "1", "--vocab", "16", "--d", "8", "--length", "8",
        "--batch-size", "2", "--heads", "2"])
    assert args.dropout == 0.1  # Trax's default rate, on both sides
    lines = []
    results = mvf.measure(args, log=lines.append)
    row = results["transformer"]
    assert row["names"][0].startswith("A ")
    assert set(row["ratio"]) >= {"B1", "B2"}
    assert all(r > 0 for r in row["ratio"].values())
    assert any("TransformerLM" in line for line in lines)
