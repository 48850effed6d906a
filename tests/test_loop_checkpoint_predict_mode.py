"""A Loop's checkpoint of a train-mode model loads into the same model built
in predict mode (Trax fills weights in order; predict mode nests the
Transformer's encoder in Cache), as the NMT tutorial's decoding does."""

import numpy as np
import jax
import pytest

import trax_compat as trax
from trax_compat import layers as tl
from trax_compat import shapes
from trax_compat.supervised import decoding, training

SIZES = dict(input_vocab_size=20, d_model=8, d_ff=16, n_heads=2,
             n_encoder_layers=1, n_decoder_layers=1, max_len=16, dropout=0.0)
SIGNATURE = (shapes.ShapeDtype((1, 6), np.int32),
             shapes.ShapeDtype((1, 1), np.int32))


def _stream():
    rng = np.random.RandomState(0)
    while True:
        x = rng.randint(1, 20, size=(3, 6)).astype(np.int32)
        yield x, x, np.ones_like(x, dtype=np.float32)


@pytest.fixture(scope="module")
def output_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("nmt")
    task = training.TrainTask(_stream(), tl.WeightedCategoryCrossEntropy(),
                              trax.optimizers.Adam(0.01),
                              n_steps_per_checkpoint=2)
    loop = training.Loop(trax.models.Transformer(mode="train", **SIZES),
                         [task], output_dir=str(out))
    loop.run(2)
    return out


def test_predict_mode_model_gets_the_trained_weights_in_order(output_dir):
    evaluator = trax.models.Transformer(mode="eval", **SIZES)
    evaluator.init_from_file(str(output_dir), weights_only=True,
                             input_signature=SIGNATURE)
    predictor = trax.models.Transformer(mode="predict", **SIZES)
    predictor.init_from_file(str(output_dir), weights_only=True,
                             input_signature=SIGNATURE)
    expected = jax.tree_util.tree_leaves(evaluator.weights)
    got = jax.tree_util.tree_leaves(predictor.weights)
    assert len(got) == len(expected) > 10
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    untrained = trax.models.Transformer(mode="predict", **SIZES)
    untrained.init(SIGNATURE)
    assert not all(np.array_equal(a, b) for a, b in zip(
        jax.tree_util.tree_leaves(untrained.weights), got))

    tokens = decoding.autoregressive_sample(
        predictor, np.array([[3, 4, 5, 1, 0, 0]], np.int32),
        temperature=0.0, max_length=4, eos_id=-1)
    assert tokens.shape == (1, 4)


def test_a_model_of_other_sizes_is_refused_by_name(output_dir):
    other = trax.models.Transformer(mode="predict",
                                    **dict(SIZES, d_model=12))
    with pytest.raises(ValueError, match="another model"):
        other.init_from_file(str(output_dir), weights_only=True,
                             input_signature=SIGNATURE)
