"""The Terraformer with causal dot-product attention in the decoder against
real Trax (trax_oracle/terraformer_predict, made by
tests/testdata/generate_terraformer_predict.py): in 'predict' mode that
attention reads the encoder's padding mask, so that later target tokens
skip the padding cached with the source; and ``half_before_layer`` /
``double_after_layer`` give Trax's widths and weight order."""

import functools  # pylint: disable=unused-import  (constructor strings)

import jax
import numpy as np
import pytest

import trax_compat as trax  # pylint: disable=unused-import  (constructors)
from trax_compat import layers as tl  # pylint: disable=unused-import
from trax_compat import shapes
from trax_compat.fastmath import random as trax_random

from conftest import load_oracle_json
from conftest import oracle_array
import test_models_reformer as reformer_checks

ORACLE = "terraformer_predict/terraformer_predict.json.gz"
TOL = reformer_checks.TOL
_value = reformer_checks._value  # pylint: disable=protected-access
_typed = reformer_checks._typed  # pylint: disable=protected-access
_assert_tree_close = reformer_checks._assert_tree_close  # pylint: disable=protected-access
_assert_summaries = reformer_checks._assert_summaries  # pylint: disable=protected-access


@pytest.fixture(scope="module")
def oracle():
    return load_oracle_json(ORACLE)["models"]


def _shifted(target):
    return np.concatenate([np.zeros_like(target[:, :1]), target[:, :-1]],
                          axis=1)


def _eval_model(rec):
    """The 'eval' model with Trax's initial weights, checked against the
    oracle with its output."""
    source = oracle_array(rec["source"])
    target = oracle_array(rec["target"])
    model = eval(rec["constructor"].replace("MODE", "'eval'"))  # pylint: disable=eval-used
    assert str(model) == rec["eval"]["repr"]
    weights, state = model.init(shapes.signature((source, target)),
                                rng=trax_random.get_prng(0))
    assert _typed(weights) == rec["eval"]["weights_typed"]
    _assert_summaries(jax.tree_util.tree_leaves(weights),
                      rec["eval"]["weights"], with_hash=True)
    eval_y, _ = jax.jit(model.pure_fn)((source, target), weights, state,
                                       trax_random.get_prng(0))
    _assert_tree_close(eval_y, _value(rec["eval"]["output"]))
    return model, eval_y[0]


def _predict_logits(rec, eval_model, tmp_path):
    """The 'predict' model (its own initial weights checked), given the
    eval model's weights and fed one shifted target token per call: the
    logits of each call, checked against the oracle."""
    source = oracle_array(rec["source"])
    target = oracle_array(rec["target"])
    model = eval(rec["constructor"].replace("MODE", "'predict'"))  # pylint: disable=eval-used
    assert str(model) == rec["predict"]["repr"]
    signature = (shapes.signature(source), shapes.signature(target[:, :1]))
    model.init(signature, rng=trax_random.get_prng(0))
    _assert_summaries(jax.tree_util.tree_leaves(model.weights),
                      rec["predict"]["weights"], with_hash=True)
    assert _typed(model.state) == rec["predict"]["state_typed"]
    path = str(tmp_path / "weights.pkl.gz")
    eval_model.save_to_file(path)
    model.init_from_file(path, weights_only=True, input_signature=signature)
    step = jax.jit(model.pure_fn)
    state, rng = model.state, model.rng
    pieces = _shifted(target)
    outputs = []
    for i, expected in enumerate(rec["predict"]["outputs"]):
        (logits, _), state = step((source, pieces[:, i:i + 1]),
                                  model.weights, state, rng)
        np.testing.assert_allclose(logits, oracle_array(expected), **TOL)
        outputs.append(logits)
    return np.concatenate(outputs, axis=1)


# Run, for the suite's time (each model compiles for seconds): the model of
# Trax's predict-equals-eval test (reversible encoder, SRU, batch 1) in
# both modes, and the halved-and-doubled one in 'eval' mode. Not run: the
# oracle's batch-3 predict records (Trax's mask flattened over the batch),
# the averaging encoder, and the doubled reversible model.
BOTH_MODES = ("reversible_sru",)
EVAL_ONLY = ("doubling",)


def test_the_oracle_has_these_records(oracle):
    assert set(BOTH_MODES + EVAL_ONLY) <= set(oracle)


@pytest.mark.parametrize("name", BOTH_MODES)
def test_eval_and_predict_match_trax(oracle, name, tmp_path):
    rec = oracle[name]
    eval_model, eval_logits = _eval_model(rec)
    predict_logits = _predict_logits(rec, eval_model, tmp_path)
    # A batch of one: decoding token by token gives the eval output.
    assert predict_logits.shape[0] == 1
    np.testing.assert_allclose(predict_logits, eval_logits, **TOL)


@pytest.mark.parametrize("name", EVAL_ONLY)
def test_halved_and_doubled_widths_match_trax(oracle, name):
    # Embeddings, encoder and the first decoder block at d_model/2, one
    # block at d_model, the rest at 2*d_model: Trax's weights in its order.
    _eval_model(oracle[name])
