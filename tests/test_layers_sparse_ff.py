"""Trax's sparse feed-forward blocks (``SparseFF``, ``BlockSparseFF``,
``SwitchSparseFF``) and ``ff_sparsity`` against real Trax
(trax_oracle/layers_sparse_ff, made by
tests/testdata/generate_layers_sparse_ff.py): initial weights and state bit
for bit; train-mode outputs for several keys (the Gumbel noise, the
hard/soft choice and the dropout masks drawn as Trax draws them), state and
gradients; eval and predict outputs; the reversible backward pass reusing
the forward pass's masks; a ReformerLM with ``ff_sparsity``."""

import functools  # pylint: disable=unused-import  (constructor strings)

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import trax_compat as trax  # pylint: disable=unused-import  (constructors)
from trax_compat import layers as tl
from trax_compat import shapes
from trax_compat.fastmath import random as trax_random
from trax_compat.gin_registry import unwrapped
from trax_compat.layers.research import sparse_ff as sparsity
from trax_compat.models.reformer import configurable as ct  # pylint: disable=unused-import

from conftest import load_oracle_json
from conftest import oracle_array
import test_models_reformer as reformer_checks

ORACLE = "layers_sparse_ff/layers_sparse_ff.json.gz"
TOL = dict(rtol=1e-5, atol=1e-5)
_cotangent = reformer_checks._cotangent  # pylint: disable=protected-access


# Run for the suite's time (the oracle holds more): SparseFF with the hard
# mask (Gumbel noise) and with the soft one (output scaled, chunked, kernel
# scaled); BlockSparseFF through FeedForwardWithOptions (keys giving both
# hard and soft batches); SwitchSparseFF at a temperature that changes its
# choices; each layer in 'predict' mode; SparseFF in eval mode as a Flax
# module (below). Not run: the records with dropout and Trax's default
# draws, the other eval and FeedForwardWithOptions records, whose code paths
# these take.
LAYERS = ("sparse_ff_train_hard", "sparse_ff_train_soft_multiply_chunked",
          "ffwo_block", "switch_sparse_ff_train_hot")
PREDICT = ("sparse_ff_predict_multiply", "block_sparse_ff_predict",
           "switch_sparse_ff_predict")


@pytest.fixture(scope="module")
def oracle():
    return load_oracle_json(ORACLE)


def _names(section):
    return tuple(load_oracle_json(ORACLE)[section])


def _tree(entry):
    """An oracle tree ({"tuple"}, {"dict"}, arrays) as Trax's tree."""
    if "tuple" in entry:
        return tuple(_tree(e) for e in entry["tuple"])
    if "dict" in entry:
        return {k: _tree(v) for k, v in entry["dict"].items()}
    return oracle_array(entry)


def _typed(tree):
    if isinstance(tree, (tuple, list)):
        return {"tuple": [_typed(t) for t in tree]}
    if isinstance(tree, dict):
        return {"dict": {k: _typed(v) for k, v in sorted(tree.items())}}
    return {"shape": list(np.shape(tree)),
            "dtype": np.asarray(tree).dtype.name}


def _assert_close(ours, theirs, exact=False):
    assert (jax.tree_util.tree_structure(ours)
            == jax.tree_util.tree_structure(theirs))
    for a, b in zip(jax.tree_util.tree_leaves(ours),
                    jax.tree_util.tree_leaves(theirs)):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape and a.dtype == b.dtype
        if exact or not np.issubdtype(b.dtype, np.floating):
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, **TOL)


def _init(rec, signature):
    layer = eval(rec["constructor"])  # pylint: disable=eval-used
    assert str(layer) == rec["repr"]
    layer.init(signature, rng=trax_random.get_prng(0))
    return layer


def test_the_oracle_has_every_kind_of_record(oracle):
    assert set(LAYERS) <= set(oracle["layers"])
    assert set(PREDICT) <= set(oracle["predict"]) and oracle["reverse"]
    assert oracle["models"]


@pytest.mark.parametrize("name", LAYERS)
def test_layer_matches_trax(oracle, name):
    rec = oracle["layers"][name]
    x = oracle_array(rec["input"])
    layer = _init(rec, shapes.signature(x))
    weights, state = layer.weights, layer.state
    assert _typed(weights) == rec["weights_typed"]
    assert _typed(state) == rec["state_typed"]
    _assert_close(weights, _tree(rec["weights"]), exact=True)
    _assert_close(state, _tree(rec["state"]), exact=True)

    keys = [trax_random.get_prng(seed) for seed in rec["keys"]]

    def loss(x, w):
        y, new_state = layer.pure_fn(x, w, state, keys[0])
        return jnp.sum(y * _cotangent(y.shape)), (y, new_state)

    @jax.jit
    def run(x, w):
        # One compilation: the gradients and first output, and the outputs
        # for the other keys (vmapped over the keys).
        grads, first = jax.grad(loss, argnums=(0, 1), has_aux=True)(x, w)
        others = jax.vmap(lambda k: layer.pure_fn(x, w, state, k)[0])(
            jnp.stack(keys[1:]))
        return grads, first, others
    (x_grad, w_grad), (y, new_state), others = run(x, weights)
    _assert_close(y, oracle_array(rec["outputs"][0]))
    _assert_close(new_state, _tree(rec["state_after"]))
    for y, expected in zip(others, rec["outputs"][1:]):
        _assert_close(y, oracle_array(expected))
    _assert_close(x_grad, oracle_array(rec["grad_input"]))
    _assert_close(w_grad, _tree(rec["grad_weights"]))


@pytest.mark.parametrize("name", PREDICT)
def test_predict_mode_matches_trax(oracle, name):
    rec = oracle["predict"][name]
    pieces = [oracle_array(p) for p in rec["pieces"]]
    layer = _init(rec, shapes.signature(pieces[0]))
    _assert_close(layer.weights, _tree(rec["weights"]), exact=True)
    assert _typed(layer.state) == rec["state_typed"]
    step = jax.jit(layer.pure_fn)
    state, rng = layer.state, layer.rng
    for piece, expected in zip(pieces, rec["outputs"]):
        y, state = step(piece, layer.weights, state, rng)
        _assert_close(y, oracle_array(expected))
    _assert_close(state, _tree(rec["final_state"]))


def _with_recalled(state, mask):
    if (isinstance(state, tuple) and len(state) == 2
            and isinstance(state[1], dict)
            and "running_second_time" in state[1]):
        return (jnp.asarray(mask), state[1])
    if isinstance(state, (tuple, list)):
        return type(state)(_with_recalled(s, mask) for s in state)
    return state


@pytest.mark.parametrize("name", _names("reverse"))
def test_reversible_backward_pass_recalls_the_remembered_masks(oracle, name):
    # The backward pass recomputes the block; SparseFF must then use the
    # masks its forward pass kept (here replaced by other ones, so that the
    # reconstruction and gradients show which masks were used).
    rec = oracle["reverse"][name]
    xs = tuple(oracle_array(x) for x in rec["inputs"])
    layer = eval(rec["constructor"])  # pylint: disable=eval-used
    layer.init(tuple(shapes.signature(x) for x in xs),
               rng=trax_random.get_prng(0))
    weights, state = layer.weights, layer.state
    _assert_close(weights, _tree(rec["weights"]), exact=True)
    rng = trax_random.get_prng(7)
    out, new_state = jax.jit(layer.pure_fn)(xs, weights, state, rng)
    _assert_close(tuple(out), tuple(oracle_array(o) for o in rec["outputs"]))
    _assert_close(new_state, _tree(rec["new_state"]))
    cot = tuple(_cotangent(o.shape) * (k + 1) for k, o in enumerate(out))
    recalled = oracle_array(rec["recalled_mask"])

    @jax.jit
    def reverse(new_state):
        return layer.reverse_and_grad(out, cot, weights=weights, state=state,
                                      new_state=new_state, rng=rng)
    reconstructed, (x_grads, w_grads) = reverse(
        _with_recalled(new_state, recalled))
    _assert_close(tuple(reconstructed),
                  tuple(oracle_array(r) for r in rec["reconstructed"]))
    _assert_close(tuple(x_grads),
                  tuple(oracle_array(g) for g in rec["grad_inputs"]))
    _assert_close(w_grads, _tree(rec["grad_weights"]))
    # With the forward pass's own masks: its inputs back.
    reconstructed, (x_grads, _) = reverse(new_state)
    _assert_close(tuple(reconstructed), xs)
    _assert_close(tuple(x_grads), tuple(
        oracle_array(g) for g in rec["grad_inputs_forward_masks"]))


@pytest.mark.parametrize("name", _names("models"))
def test_model_with_ff_sparsity_matches_trax(oracle, name):
    rec = oracle["models"][name]
    x = oracle_array(rec["input"])
    make = lambda mode: eval(rec["constructor"].replace("MODE", repr(mode)))  # pylint: disable=eval-used
    models = {mode: make(mode) for mode in ("eval", "train")}
    for mode, model in models.items():
        assert str(model) == rec["repr"][mode]
    model = models["train"]
    weights, state = model.init(shapes.signature(x),
                                rng=trax_random.get_prng(0))
    reformer_checks._assert_summaries(  # pylint: disable=protected-access
        jax.tree_util.tree_leaves(weights), rec["weights"], with_hash=True)
    rng = trax_random.get_prng(oracle["train_rng_seed"])

    @jax.jit
    def run(w):
        eval_y, _ = models["eval"].pure_fn(x, w, state,
                                           trax_random.get_prng(0))
        return eval_y, model.pure_fn(x, w, state, rng)
    # (The oracle's weight gradients are not compared, for the suite's
    # time: the reversible test above takes that backward pass.)
    eval_y, (y, new_state) = run(weights)
    _assert_close(eval_y, oracle_array(rec["eval_output"]))
    _assert_close(y, oracle_array(rec["train_output"]))
    reformer_checks._assert_summaries(  # pylint: disable=protected-access
        jax.tree_util.tree_leaves(new_state), rec["train_new_state"],
        with_hash=True)


def test_exported_as_in_trax_and_reached_through_gin_by_ff_sparsity():
    assert unwrapped(tl.SparseFF) is sparsity.SparseFF
    assert unwrapped(tl.BlockSparseFF) is sparsity.BlockSparseFF
    assert unwrapped(tl.SwitchSparseFF) is sparsity.SwitchSparseFF
    # Trax registers none of them with gin: configs set ff_sparsity.
    gin = pytest.importorskip("gin")
    gin.clear_config()
    try:
        with pytest.raises(ValueError, match="No configurable"):
            gin.parse_config("trax.layers.SparseFF.d_lowrank = 3")
        gin.parse_config("ReformerLM.ff_sparsity = 4")
        model = trax.models.ReformerLM(
            vocab_size=10, d_model=8, d_ff=16, d_attention_key=4,
            d_attention_value=4, n_layers=1, n_heads=2, max_len=8,
            attention_type=tl.SelfAttention, mode="eval")
        assert "_SparseFFMain_16" in str(model)
    finally:
        gin.clear_config()


def test_ff_sparsity_forms_give_trax_s_sparse_ff():
    def controller_of(ff_sparsity):
        ff = ct.FeedForwardWithOptions(
            8, 48, 0.0, None, tl.Relu, 0.0, 0, 0, ff_sparsity, True, "eval")
        sparse = ff[0][1] if isinstance(ff[0], list) else ff[0].sublayers[1]
        assert isinstance(sparse, tl.BatchLeadingAxes)
        return sparse.sublayers[0].sublayers[1].sublayers[1]
    for form in (4, (4, 12), "4 12", (4, 12, 0.5, 0.2), "4 12 0.5 0.2"):
        assert controller_of(form).name == "_SparseFFController_48"
    with pytest.raises(ValueError, match="ff_sparsity"):
        controller_of((4, 12, 0.5))
    with pytest.raises(ValueError, match="n_elements_in_block=5"):
        tl.SparseFF(48, n_elements_in_block=5)
    with pytest.raises(ValueError, match="n_experts=5"):
        tl.BlockSparseFF(48, n_experts=5)


def test_runs_as_a_flax_module_as_trax_computes_it(oracle):
    # SparseFF's state (the remembered mask and its flag dict) lives in the
    # Flax variables; eval mode with the output scaled by the controller.
    rec = oracle["layers"]["sparse_ff_eval_multiply"]
    x = oracle_array(rec["input"])
    layer = _init(rec, shapes.signature(x))
    _assert_close(layer.weights, _tree(rec["weights"]), exact=True)
    module, variables = layer.to_flax()
    y, new_vars = jax.jit(functools.partial(module.apply, mutable=["state"]))(
        variables, x, rngs={"dropout": trax_random.get_prng(7)})
    _assert_close(y, oracle_array(rec["outputs"][0]))
    state = layer.state_from_flax_state(new_vars["state"])
    _assert_close(state, _tree(rec["state_after"]))
