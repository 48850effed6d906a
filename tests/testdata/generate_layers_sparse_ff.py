"""Records real Trax's sparse feed-forward blocks (``SparseFF``,
``BlockSparseFF``, ``SwitchSparseFF`` of ``trax.layers.research.sparsity``)
and the models that reach them through ``ff_sparsity``.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_layers_sparse_ff.py OUT

It writes ``OUT/trax_oracle/layers_sparse_ff/layers_sparse_ff.json.gz``
(gzip with no name and mtime 0, so a rerun gives the same bytes):

``layers``: each layer initialised with ``get_prng(0)``: repr, weights,
state, then its output through ``pure_fn`` with the key ``get_prng(KEY)``
for each of ``keys`` (in 'train' mode the key draws the Gumbel noise, the
hard/soft choice and the dropout masks), the state after the first, and
the gradients of ``sum(y * cot)`` with respect to the input and the
weights for the first key.

``predict``: each layer in 'predict' mode, initialised with ``get_prng(0)``
for the first piece's signature, called on one piece after another: each
output and the final state.

``reverse``: a ``ReversibleHalfResidual`` holding a 'train' ``SparseFF``:
its forward output and new state, then ``reverse_and_grad`` given a new
state whose remembered masks are replaced by ``recalled_mask``: the
reconstructed inputs and the gradients (the recomputation must use the
recalled masks).

``models``: models built with ``ff_sparsity`` (constructor with MODE), as
``generate_models_reformer.py`` records them: weights (SHA-256, sums),
eval output, train output, new state and weight gradients for the key
``get_prng(7)``.
"""

import argparse
import functools  # pylint: disable=unused-import  (constructor strings)
import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np
import trax  # pylint: disable=unused-import  (constructor strings)
from trax import layers as tl  # pylint: disable=unused-import
from trax import shapes
from trax.fastmath import random as trax_random
from trax.layers.research import sparsity  # pylint: disable=unused-import
from trax.models.research import configurable_transformer as ct  # pylint: disable=unused-import

import generate_models_reformer as gr  # this folder
import oracle_common as oc  # this folder

ramp = gr.ramp
KEYS = (7, 8, 9)

SFF = "sparsity.SparseFF("
LAYERS = {
    # quant_prob 1: always the hard (straight-through) mask
    "sparse_ff_train_hard": (
        SFF + "16, n_elements_in_block=4, d_lowrank=3, temperature=0.7, "
        "quant_prob=1.0, mode='train')", ramp((3, 5, 8))),
    # quant_prob 0: always the soft mask; output scaled by the controller,
    # chunked (15 positions in chunks of 5), kernel scaled
    "sparse_ff_train_soft_multiply_chunked": (
        SFF + "24, n_elements_in_block=3, d_lowrank=4, temperature=0.5, "
        "quant_prob=0.0, multiply_by_controller_output=True, "
        "ff_chunk_size=5, kernel_scaling=True, mode='train')",
        ramp((3, 5, 6), 0.4)),
    # Trax's defaults for the draws (temperature 0.1, quant_prob 0.3: the
    # keys pick hard or soft), and dropout after the block
    "sparse_ff_train_dropout": (
        SFF + "32, n_elements_in_block=8, d_lowrank=5, dropout_rate=0.25, "
        "dropout_shared_axes=[0], mode='train')", ramp((5, 3, 8), 1.1)),
    "sparse_ff_eval": (
        SFF + "32, n_elements_in_block=8, d_lowrank=5, mode='eval')",
        ramp((5, 3, 8), 1.1)),
    "sparse_ff_eval_multiply": (
        SFF + "12, n_elements_in_block=2, d_lowrank=3, "
        "multiply_by_controller_output=True, ff_chunk_size=3, mode='eval')",
        ramp((3, 3, 4), 0.2)),
    "block_sparse_ff_train": (
        "sparsity.BlockSparseFF(24, n_experts=4, temperature=0.7, "
        "mode='train')", ramp((3, 5, 8))),
    "block_sparse_ff_eval": (
        "sparsity.BlockSparseFF(12, n_experts=3, mode='eval')",
        ramp((1, 7, 6), 0.3)),
    "switch_sparse_ff_train": (
        "sparsity.SwitchSparseFF(32, n_experts=8, mode='train')",
        ramp((3, 4, 8), 0.6)),
    "switch_sparse_ff_train_hot": (
        "sparsity.SwitchSparseFF(12, n_experts=2, temperature=2.0, "
        "mode='train')", ramp((5, 2, 6), 0.9)),
    "switch_sparse_ff_eval": (
        "sparsity.SwitchSparseFF(12, n_experts=2, mode='eval')",
        ramp((5, 2, 6), 0.9)),
    # FeedForwardWithOptions' three sparse branches (LayerNorm first)
    "ffwo_1inN_tuple": (
        "tl.Serial(ct.FeedForwardWithOptions(8, 16, 0.0, None, tl.Relu, "
        "0.0, 0, 0, (4, 3), True, 'train'))", ramp((3, 4, 8), 0.5)),
    "ffwo_block": (
        "tl.Serial(ct.FeedForwardWithOptions(8, 16, 0.0, None, tl.Relu, "
        "0.0, 0, 0, 4, True, 'train', ff_sparsity_type='Block'))",
        ramp((3, 4, 8), 0.7)),
    "ffwo_switch_chunked": (
        "tl.Serial(ct.FeedForwardWithOptions(8, 16, 0.0, None, tl.Relu, "
        "0.0, 2, 0, 2, False, 'train', ff_sparsity_type='Switch'))",
        ramp((3, 4, 8), 0.8)),
}

PREDICT = {
    "sparse_ff_predict": (
        SFF + "16, n_elements_in_block=4, d_lowrank=3, mode='predict')",
        [ramp((3, 1, 8), 0.5 * i) for i in range(4)]),
    "sparse_ff_predict_multiply": (
        SFF + "24, n_elements_in_block=3, d_lowrank=4, "
        "multiply_by_controller_output=True, ff_chunk_size=3, "
        "mode='predict')", [ramp((3, 1, 6), 0.3 * i) for i in range(4)]),
    "block_sparse_ff_predict": (
        "sparsity.BlockSparseFF(24, n_experts=4, mode='predict')",
        [ramp((1, 1, 8), 0.7 * i) for i in range(5)]),
    "switch_sparse_ff_predict": (
        "sparsity.SwitchSparseFF(32, n_experts=8, mode='predict')",
        [ramp((1, 1, 8), 0.45 * i) for i in range(5)]),
    "switch_sparse_ff_predict_batch3": (
        "sparsity.SwitchSparseFF(12, n_experts=2, mode='predict')",
        [ramp((3, 1, 6), 0.6 * i) for i in range(3)]),
}

REVERSE = {
    "reversible_sparse_ff": (
        "tl.ReversibleHalfResidual(tl.LayerNorm(), " + SFF + "16, "
        "n_elements_in_block=4, d_lowrank=3, temperature=0.7, "
        "quant_prob=1.0, ff_chunk_size=3, mode='train'))",
        (ramp((3, 3, 8), 0.2), ramp((3, 3, 8), 1.2))),
}

MODELS = {
    "reformer_lm_ff_sparsity": (
        "trax.models.ReformerLM(vocab_size=20, d_model=8, d_ff=16, "
        "d_attention_key=4, d_attention_value=4, n_layers=2, n_heads=2, "
        "dropout=0.0, max_len=16, attention_type=tl.SelfAttention, "
        "ff_sparsity=4, mode=MODE)", gr.tokens((3, 8), 20)),
}


def tree(t):
    """A Trax weight or state tree with dicts, exactly: {"tuple": [...]},
    {"dict": {...}}, arrays as ``oc.array``."""
    if isinstance(t, (tuple, list)):
        return {"tuple": [tree(s) for s in t]}
    if isinstance(t, dict):
        return {"dict": {k: tree(v) for k, v in sorted(t.items())}}
    return oc.array(t)


def typed(t):
    if isinstance(t, (tuple, list)):
        return {"tuple": [typed(s) for s in t]}
    if isinstance(t, dict):
        return {"dict": {k: typed(v) for k, v in sorted(t.items())}}
    return oc.shape_dtype(t)


def grads(layer, x, weights, state, rng):
    def loss(x, w):
        y, _ = layer.pure_fn(x, w, state, rng)
        return jnp.sum(y * gr.cotangent(y.shape))
    return jax.grad(loss, argnums=(0, 1))(jnp.asarray(x), weights)


def layer_record(constructor, x):
    layer = eval(constructor)  # pylint: disable=eval-used
    layer.init(shapes.signature(x), rng=trax_random.get_prng(0))
    weights, state = layer.weights, layer.state
    record = {"constructor": constructor, "repr": str(layer),
              "input": oc.array(x), "keys": list(KEYS),
              "weights_typed": typed(weights), "state_typed": typed(state),
              "weights": tree(weights), "state": tree(state), "outputs": []}
    for i, seed in enumerate(KEYS):
        y, new_state = layer.pure_fn(jnp.asarray(x), weights, state,
                                     trax_random.get_prng(seed))
        record["outputs"].append(oc.array(y))
        if i == 0:
            record["state_after"] = tree(new_state)
    x_grad, w_grad = grads(layer, x, weights, state,
                           trax_random.get_prng(KEYS[0]))
    record["grad_input"] = oc.array(x_grad)
    record["grad_weights"] = tree(w_grad)
    return record


def predict_record(constructor, pieces):
    layer = eval(constructor)  # pylint: disable=eval-used
    layer.init(shapes.signature(pieces[0]), rng=trax_random.get_prng(0))
    record = {"constructor": constructor, "repr": str(layer),
              "pieces": [oc.array(p) for p in pieces],
              "weights": tree(layer.weights),
              "state_typed": typed(layer.state), "outputs": []}
    for piece in pieces:
        record["outputs"].append(oc.array(layer(jnp.asarray(piece))))
    record["final_state"] = tree(layer.state)
    return record


def with_recalled(state, mask):
    """``state`` with every remembered array replaced by ``mask``."""
    if (isinstance(state, tuple) and len(state) == 2
            and isinstance(state[1], dict)
            and "running_second_time" in state[1]):
        return (jnp.asarray(mask), state[1])
    if isinstance(state, (tuple, list)):
        return type(state)(with_recalled(s, mask) for s in state)
    return state


def reverse_record(constructor, xs):
    layer = eval(constructor)  # pylint: disable=eval-used
    sig = tuple(shapes.signature(x) for x in xs)
    layer.init(sig, rng=trax_random.get_prng(0))
    weights, state = layer.weights, layer.state
    rng = trax_random.get_prng(KEYS[0])
    xs = tuple(jnp.asarray(x) for x in xs)
    out, new_state = layer.pure_fn(xs, weights, state, rng)
    n_positions = xs[0].shape[0] * xs[0].shape[1]
    # d_ff / n_elements_in_block blocks, each unit picked in turn
    recalled = (np.arange(n_positions * 4).reshape(n_positions, 4) % 4
                ).astype(np.int32)
    cot = tuple(gr.cotangent(o.shape) * (k + 1) for k, o in enumerate(out))
    reconstructed, (x_grads, w_grads) = layer.reverse_and_grad(
        out, cot, weights=weights, state=state,
        new_state=with_recalled(new_state, recalled), rng=rng)
    _, (x_grads_same, _) = layer.reverse_and_grad(
        out, cot, weights=weights, state=state, new_state=new_state,
        rng=rng)
    return {"constructor": constructor,
            "inputs": [oc.array(x) for x in xs],
            "weights": tree(weights), "outputs": [oc.array(o) for o in out],
            "new_state": tree(new_state), "recalled_mask": oc.array(recalled),
            "reconstructed": [oc.array(r) for r in reconstructed],
            "grad_inputs": [oc.array(g) for g in x_grads],
            "grad_weights": tree(w_grads),
            "grad_inputs_forward_masks": [oc.array(g) for g in x_grads_same]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=pathlib.Path)
    args = parser.parse_args()
    data = {"env": oc.env("tests/testdata/generate_layers_sparse_ff.py"),
            "cotangent": "cos(0.71 * arange(n)) reshaped",
            "train_rng_seed": gr.TRAIN_RNG_SEED,
            "layers": {}, "predict": {}, "reverse": {}, "models": {}}
    for name, (constructor, x) in LAYERS.items():
        print(f"layer {name}", file=sys.stderr)
        data["layers"][name] = layer_record(constructor, x)
    for name, (constructor, pieces) in PREDICT.items():
        print(f"predict {name}", file=sys.stderr)
        data["predict"][name] = predict_record(constructor, pieces)
    for name, (constructor, xs) in REVERSE.items():
        print(f"reverse {name}", file=sys.stderr)
        data["reverse"][name] = reverse_record(constructor, xs)
    for name, (constructor, x) in MODELS.items():
        print(f"model {name}", file=sys.stderr)
        data["models"][name] = gr.model_record(constructor, x)
    oc.write_json_gz(args.out / "trax_oracle" / "layers_sparse_ff"
                     / "layers_sparse_ff.json.gz", data)


if __name__ == "__main__":
    main()
