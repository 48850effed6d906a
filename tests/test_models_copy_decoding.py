"""Real Trax's copy-task checkpoints of TransformerLM and Transformer, loaded
into trax_compat's models in predict mode: greedy, sampled and beam-search
decodes give real Trax's tokens (and beam scores)."""

import gzip
import json

import numpy as np
import pytest

from trax_compat import models
from trax_compat import shapes
from trax_compat.supervised import decoding

from conftest import REPO

ORACLE = REPO / "tests" / "testdata" / "trax_oracle" / "models_copy"
KWARGS = {"dropout": 0.0, "d_model": 16, "d_ff": 32, "n_heads": 2,
          "max_len": 32}
BUILD = {
    "transformer_lm_copy": lambda: models.TransformerLM(
        vocab_size=20, n_layers=2, mode="predict", **KWARGS),
    "transformer_copy": lambda: models.Transformer(
        input_vocab_size=20, n_encoder_layers=1, n_decoder_layers=1,
        mode="predict", **KWARGS),
}


def _runs():
    with gzip.open(ORACLE / "decoding.json.gz", "rt", encoding="utf-8") as f:
        return json.load(f)["runs"]


def _array(record):
    return np.asarray(record["data"], dtype=record["dtype"])


def _model(name, batch):
    """A fresh predict-mode model loaded from Trax's checkpoint, as the
    oracle did for every decode."""
    model = BUILD[name]()
    sig = shapes.ShapeDtype((batch, 1), np.int32)
    signature = sig if name == "transformer_lm_copy" else (sig, sig)
    model.init_from_file(str(ORACLE / name / "model.pkl.gz"),
                         weights_only=True, input_signature=signature)
    return model


@pytest.mark.parametrize("name", sorted(BUILD))
def test_greedy_and_sampled_decodes_are_traxs(name):
    run = _runs()[name]
    inputs = _array(run["decode_inputs"])
    max_length = _array(run["temperature_1"]["output"]).shape[1]
    greedy = decoding.autoregressive_sample(
        _model(name, 2), inputs=inputs, batch_size=2, temperature=0.0,
        max_length=max_length)
    np.testing.assert_array_equal(greedy, _array(run["greedy"]["output"]))
    np.random.seed(7)  # Trax draws the sampling noise from NumPy's generator
    sampled = decoding.autoregressive_sample(
        _model(name, 2), inputs=inputs, batch_size=2, temperature=1.0,
        max_length=max_length)
    np.testing.assert_array_equal(sampled,
                                  _array(run["temperature_1"]["output"]))


@pytest.mark.parametrize("name", sorted(BUILD))
def test_beam_search_is_traxs(name):
    run = _runs()[name]
    inputs = _array(run["decode_inputs"])[:1]
    beams = decoding.beam_search(_model(name, 1), inputs=inputs,
                                 batch_size=1, n_beams=2, max_length=6)
    expected = run["beam_search"]["result"]
    assert len(beams) == len(expected)
    for (sequence, score), want in zip(beams, expected):
        np.testing.assert_array_equal(sequence, _array(want["sequence"]))
        np.testing.assert_allclose(score, _array(want["score"]), rtol=1e-6)
