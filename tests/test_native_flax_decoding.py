"""trax_compat's ``TransformerLM`` and ``Transformer``, converted to the
native Flax models (``models/transformer.py``) with
``models/convert_transformer.py``, decode the same greedy tokens as the
trax_compat models themselves; and the intro notebook's checkpoint,
converted, decodes real Trax's translation
(``trax_oracle/intro_translation``)."""

import json

import jax
import numpy as np
import pytest

from models import convert_transformer as ct
from models import transformer as tr
from tests.conftest import ORACLE
from tests.testdata import intro_translation_cells as cells
from trax_compat import models
from trax_compat import shapes
from trax_compat.fastmath import random as trax_random
from trax_compat.supervised import decoding
from trax_compat.supervised import trax_checkpoint

SCALE = 3.0  # larger weights than the initial ones: the tokens vary
MAX_LENGTH = 7


def _inputs(seed, batch, length, vocab):
    ids = np.random.default_rng(seed).integers(2, vocab, (batch, length))
    ids[-1, -2:] = 0  # a padded row
    return ids.astype(np.int32)


def _scaled_model(model, signature, seed):
    model.init(signature, rng=trax_random.get_prng(seed))
    model.weights = jax.tree_util.tree_map(lambda w: np.asarray(w) * SCALE,
                                           model.weights)
    return model


CASES = {
    # name: (trax_compat constructor, native config, prompt/inputs shape,
    # init seed: one whose greedy tokens vary)
    "lm": (lambda mode: models.TransformerLM(
        vocab_size=23, d_model=16, d_ff=24, n_layers=2, n_heads=2,
        max_len=32, mode=mode),
        dict(vocab_size=23, d_model=16, d_ff=24, n_layers=2, n_heads=2,
             max_len=32), (3, 4), 5),
    "encdec": (lambda mode: models.Transformer(
        input_vocab_size=19, output_vocab_size=17, d_model=16, d_ff=24,
        n_encoder_layers=1, n_decoder_layers=2, n_heads=4, max_len=32,
        mode=mode),
        dict(vocab_size=19, output_vocab_size=17, d_model=16, d_ff=24,
             n_encoder_layers=1, n_decoder_layers=2, n_heads=4, max_len=32),
        (3, 5), 1),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_converted_models_decode_trax_compat_tokens(name):
    build, config, shape, seed = CASES[name]
    batch = shape[0]
    inputs = _inputs(len(name), *shape, config["vocab_size"])
    sig = shapes.ShapeDtype((batch, 1), np.int32)
    model = _scaled_model(build("predict"), sig if name == "lm"
                          else (sig, sig), seed)
    ours = decoding.autoregressive_sample(
        model, inputs=inputs, batch_size=batch, temperature=0.0,
        max_length=MAX_LENGTH, eos_id=-1)
    assert ours.shape == (batch, MAX_LENGTH)
    # Several different tokens, rows that differ: not a trivial comparison.
    assert len(np.unique(ours)) >= 5 and len(np.unique(ours, axis=0)) == batch

    native_cls = tr.TransformerLM if name == "lm" else tr.Transformer
    native = native_cls(tr.TransformerConfig(**config, dropout=0.0))
    params = ct.params_from_trax_weights(model.weights, native)
    if name == "lm":
        theirs = tr.decode_lm(native, params, inputs, max_length=MAX_LENGTH,
                              eos_id=-1)
    else:
        theirs = tr.decode_transformer(native, params, inputs,
                                       max_length=MAX_LENGTH, eos_id=-1)
    np.testing.assert_array_equal(theirs, ours)


def test_the_intro_checkpoint_converted_decodes_real_traxs_translation():
    folder = ORACLE / "intro_translation"
    oracle = json.loads((folder / "intro_translation.json").read_text(
        encoding="utf-8"))
    sizes = cells.small_sizes()
    # The checkpoint's flat weights, read safely, straight into Flax params.
    checkpoint = trax_checkpoint.read(str(folder / "model.pkl.gz"))
    config = tr.TransformerConfig(
        vocab_size=sizes["input_vocab_size"], d_model=sizes["d_model"],
        d_ff=sizes["d_ff"], n_heads=sizes["n_heads"],
        n_encoder_layers=sizes["n_encoder_layers"],
        n_decoder_layers=sizes["n_decoder_layers"],
        max_len=sizes["max_len"], dropout=0.0)
    native = tr.Transformer(config)
    params = ct.params_from_trax_weights(checkpoint.flat_weights, native)
    tokenized = np.asarray(oracle["runs"][0]["tokenized"]["data"], np.int32)
    tokens = tr.decode_transformer(native, params, tokenized)
    np.testing.assert_array_equal(tokens, oracle["full_output"]["data"],
                                  strict=False)
