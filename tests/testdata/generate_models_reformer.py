"""Records real Trax's Reformer models and their efficient attention layers.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_models_reformer.py OUT

It writes ``OUT/trax_oracle/models_reformer/models_reformer.json.gz`` (gzip
with no name and mtime 0, so a rerun gives the same bytes).

``LAYERS``: each attention layer is built from its constructor expression
(``tl = trax.layers``), initialised with ``layer.init(signature(x),
rng=get_prng(0))`` and called twice as ``layer(x)`` (LSH hashes again on the
second call, with the key its state advanced): repr, arity, weight and state
structure and values, both outputs and the state after each, and the
gradients of ``sum(y * cot)`` with respect to the weights and the float
inputs, through ``pure_fn`` with the state and key right after init (Trax's
own backward pass for these layers).

``MODELS``: each model is built in 'eval' and in 'train' mode and
initialised the same way: repr, weight and state structure, every weight as
SHA-256 of its float32 bytes plus its sum and first values; the eval model's
output of ``model(x)``; the train model's output of ``pure_fn(x, weights,
state, get_prng(7))`` and the gradients of ``sum(y * cot)`` with respect to
its weights there (sum, sum of absolute values and first values per leaf),
which run through the reversible layers' own backward pass.
"""

import argparse
import functools  # pylint: disable=unused-import  (constructor strings)
import gzip
import hashlib
import json
import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np

import trax
from trax import layers as tl
from trax import shapes
from trax.fastmath import random as trax_random

import oracle_common as oc  # this folder

F32 = np.float32
N_FIRST = 6


def ramp(shape, phase=0.0):
    """Deterministic float32 inputs in [-1, 1]."""
    n = int(np.prod(shape))
    return np.sin(np.arange(n, dtype=F32) * F32(0.37) + F32(phase)).astype(
        F32).reshape(shape)


def cotangent(shape):
    """The fixed output cotangent of the recorded gradients."""
    n = int(np.prod(shape))
    return np.cos(np.arange(n, dtype=F32) * F32(0.71)).astype(F32).reshape(
        shape)


def tokens(shape, vocab, n_pad=0, seed=0):
    """Token ids in [1, vocab), the last ``n_pad`` of each row 0 (padding)."""
    ids = (np.arange(int(np.prod(shape))) * 7 + 3 + seed) % (vocab - 1) + 1
    ids = ids.reshape(shape).astype(np.int32)
    if n_pad:
        ids[:, -n_pad:] = 0
    return ids


def mask(shape, n_pad_end, pad_first_row0=False):
    """True at valid tokens: the last ``n_pad_end`` of each row padding."""
    m = np.ones(shape, dtype=bool)
    m[:, shape[1] - n_pad_end:] = False
    if pad_first_row0:
        m[0, 0] = False
    return m


LSH = "functools.partial(tl.LSHSelfAttention, "

# name -> (constructor, input); inputs are arrays or tuples of arrays.
LAYERS = {
    "self_attention_causal_chunked_train": (
        "tl.SelfAttention(n_heads=2, d_qk=4, d_v=3, causal=True, chunk_len=4,"
        " n_chunks_before=1, attention_dropout=0.2, output_dropout=0.1, "
        "mode='train')", ramp((3, 8, 6))),
    "self_attention_masked_share_qk_bias": (
        "tl.SelfAttention(n_heads=3, d_qk=4, d_v=4, share_qk=True, "
        "masked=True, bias=True, mode='eval')",
        (ramp((2, 6, 5)), mask((2, 6), 2, pad_first_row0=True))),
    "self_attention_chunked_after": (
        "tl.SelfAttention(n_heads=2, d_qk=3, d_v=5, chunk_len=3, "
        "n_chunks_after=1, mode='eval')", ramp((2, 9, 4), 0.5)),
    "lsh_causal_train": (
        "tl.LSHSelfAttention(n_heads=2, d_qk=4, d_v=4, causal=True, "
        "chunk_len=4, n_buckets=4, n_hashes=2, attention_dropout=0.1, "
        "output_dropout=0.1, mode='train')", ramp((3, 16, 6))),
    "lsh_masked_factored_buckets": (
        "tl.LSHSelfAttention(n_heads=2, d_qk=4, d_v=3, masked=True, "
        "chunk_len=4, n_chunks_before=1, n_chunks_after=1, n_buckets=[2, 4], "
        "n_hashes=3, mode='eval')",
        (ramp((2, 16, 6), 1.0), mask((2, 16), 3, pad_first_row0=True))),
    "lsh_default_buckets": (
        "tl.LSHSelfAttention(n_heads=1, d_qk=4, d_v=4, chunk_len=4, "
        "mode='eval')", ramp((1, 16, 5), 2.0)),
    "enc_dec_attention_masked_train": (
        "tl.EncDecAttention(n_heads=2, d_qk=4, d_v=4, masked=True, "
        "attention_dropout=0.1, output_dropout=0.1, mode='train')",
        (ramp((2, 5, 6)), ramp((2, 7, 8), 1.0), mask((2, 7), 2))),
    "enc_dec_attention_unmasked": (
        "tl.EncDecAttention(n_heads=2, d_qk=3, d_v=3, masked=False, "
        "mode='eval')", (ramp((3, 4, 6)), ramp((3, 5, 4), 1.0))),
}

# name -> (constructor taking mode, input)
MODELS = {
    "reformer_lm_lsh": (
        "trax.models.ReformerLM(vocab_size=20, d_model=16, d_ff=32, "
        "d_attention_key=8, d_attention_value=8, n_layers=2, n_heads=2, "
        "dropout=0.1, max_len=32, attention_type=" + LSH +
        "chunk_len=8, n_buckets=4, n_hashes=2), mode=MODE)",
        tokens((3, 32), 20)),
    "reformer_lm_mixed": (
        "trax.models.ReformerLM(vocab_size=20, d_model=16, d_ff=32, "
        "d_attention_key=4, d_attention_value=8, n_layers=2, n_heads=2, "
        "dropout=0.2, max_len=32, ff_activation=tl.Relu, attention_type=["
        "tl.SelfAttention, " + LSH + "chunk_len=4, n_buckets=[2, 2], "
        "n_chunks_after=1)], mode=MODE)", tokens((2, 16), 20, seed=5)),
    "reformer": (
        "trax.models.Reformer(input_vocab_size=20, d_model=16, d_ff=32, "
        "n_encoder_layers=1, n_decoder_layers=1, n_heads=2, dropout=0.1, "
        "max_len=32, mode=MODE)",
        (tokens((2, 12), 20, n_pad=3), tokens((2, 10), 20, seed=2))),
    "reformer_two_vocabs": (
        "trax.models.Reformer(input_vocab_size=20, output_vocab_size=15, "
        "d_model=8, d_ff=16, n_encoder_layers=2, n_decoder_layers=2, "
        "n_heads=2, dropout=0.1, ff_dropout=0.2, max_len=16, mode=MODE)",
        (tokens((3, 9), 20, n_pad=2, seed=1), tokens((3, 7), 15, seed=3))),
    "reformer_shorten_lm": (
        "trax.models.ReformerShortenLM(vocab_size=20, shorten_factor=2, "
        "d_embedding=8, d_model=16, d_ff=32, d_attention_key=8, "
        "d_attention_value=8, n_layers=1, n_heads=2, dropout=0.1, "
        "max_len=32, mode=MODE)", tokens((2, 16), 20, seed=4)),
}

TRAIN_RNG_SEED = 7

# Predict mode: name -> (constructor, init signature (shape, dtype), pieces
# fed one call after another: a prefix, then one position at a time, past
# the memory so that it drops its oldest positions).
PREDICT = {
    "self_attention_predict": (
        "tl.SelfAttention(n_heads=2, d_qk=4, d_v=4, causal=True, chunk_len=2,"
        " n_chunks_before=1, mode='predict')", ((2, 1, 6), "float32"),
        [ramp((2, 4, 6))] + [ramp((2, 1, 6), 0.3 * i) for i in range(5)]),
    "lsh_predict": (
        "tl.LSHSelfAttention(n_heads=2, d_qk=4, d_v=4, causal=True, "
        "chunk_len=2, n_chunks_before=1, n_hashes=2, n_buckets=4, "
        "predict_mem_len=6, predict_drop_len=2, mode='predict')",
        ((2, 1, 6), "float32"),
        [ramp((2, 4, 6), 1.0)] + [ramp((2, 1, 6), 0.4 * i) for i in range(6)]),
    "reformer_lm_predict": (
        "trax.models.ReformerLM(vocab_size=20, d_model=16, d_ff=32, "
        "d_attention_key=8, d_attention_value=8, n_layers=2, n_heads=2, "
        "max_len=32, attention_type=[functools.partial(tl.SelfAttention, "
        "chunk_len=4, n_chunks_before=1), " + LSH + "chunk_len=4, "
        "n_buckets=4, n_hashes=2, predict_mem_len=8, predict_drop_len=4)], "
        "mode='predict')", ((2, 1), "int32"),
        [tokens((2, 1), 20, seed=i) for i in range(11)]),
}


def value(x):
    if isinstance(x, (tuple, list)):
        return {"tuple": [value(t) for t in x]}
    return oc.array(x)


def grads(layer, x, weights, state, rng):
    """Gradients of sum(y * cot) with respect to the float inputs and the
    weights, through pure_fn."""
    xs = x if isinstance(x, tuple) else (x,)
    is_float = [np.issubdtype(np.asarray(a).dtype, np.floating) for a in xs]

    def loss(float_xs, w):
        it = iter(float_xs)
        full = tuple(next(it) if f else a for a, f in zip(xs, is_float))
        y, _ = layer.pure_fn(full if isinstance(x, tuple) else full[0], w,
                             state, rng)
        return jnp.sum(y * cotangent(y.shape))
    float_xs = tuple(a for a, f in zip(xs, is_float) if f)
    return jax.grad(loss, argnums=(0, 1))(float_xs, weights)


def as_jax(x):
    # Trax's batched attention indexes its inputs with traced loop indices.
    if isinstance(x, tuple):
        return tuple(jnp.asarray(a) for a in x)
    return jnp.asarray(x)


def layer_record(constructor, x):
    layer = eval(constructor)  # pylint: disable=eval-used
    record = {"constructor": constructor, "repr": str(layer),
              "n_in": layer.n_in, "n_out": layer.n_out, "input": value(x)}
    x = as_jax(x)
    layer.init(shapes.signature(x), rng=trax_random.get_prng(0))
    weights, state, rng = layer.weights, layer.state, layer.rng
    record.update({"weights_typed": oc.tree_typed(weights),
                   "state_typed": oc.tree_typed(state),
                   "weights": oc.nested(weights, oc.array),
                   "state": oc.nested(state, oc.array),
                   "rng_after_init": oc.array(rng)})
    record["output"] = oc.array(layer(x))
    record["state_after_call"] = oc.nested(layer.state, oc.array)
    record["output_2"] = oc.array(layer(x))
    record["state_after_call_2"] = oc.nested(layer.state, oc.array)
    x_grad, w_grad = grads(layer, x, weights, state, rng)
    record["grad_float_inputs"] = value(x_grad)
    record["grad_weights"] = oc.nested(w_grad, oc.array)
    return record


def leaf_summary(a, with_hash):
    a = np.asarray(a)
    flat = a.reshape(-1)
    out = {"shape": list(a.shape), "dtype": a.dtype.name,
           "sum": float(np.sum(flat, dtype=np.float64)),
           "abs_sum": float(np.sum(np.abs(flat), dtype=np.float64)),
           "first": flat[:N_FIRST].tolist()}
    if with_hash:
        out["sha256"] = hashlib.sha256(np.ascontiguousarray(a).tobytes()
                                       ).hexdigest()
    return out


def model_record(constructor, x):
    make = lambda mode: eval(constructor.replace("MODE", repr(mode)))  # pylint: disable=eval-used
    record = {"constructor": constructor, "input": value(x)}
    x = as_jax(x)
    sig = shapes.signature(x)
    per_mode = {}
    for mode in ("eval", "train"):
        model = make(mode)
        model.init(sig, rng=trax_random.get_prng(0))
        per_mode[mode] = model
    eval_model, train_model = per_mode["eval"], per_mode["train"]
    record["repr"] = {m: str(per_mode[m]) for m in per_mode}
    weights, state = train_model.weights, train_model.state
    record["weights_typed"] = oc.tree_typed(weights)
    record["state_typed"] = oc.tree_typed(state)
    record["weights"] = [leaf_summary(w, True)
                         for w in jax.tree_util.tree_leaves(weights)]
    record["eval_weights_sha256_equal_train"] = all(
        np.array_equal(a, b) for a, b in zip(
            jax.tree_util.tree_leaves(eval_model.weights),
            jax.tree_util.tree_leaves(weights)))
    record["eval_output"] = value(eval_model(x))
    rng = trax_random.get_prng(TRAIN_RNG_SEED)
    y, new_state = train_model.pure_fn(x, weights, state, rng)
    record["train_output"] = value(y)
    record["train_new_state"] = [
        leaf_summary(s, True) for s in jax.tree_util.tree_leaves(new_state)]

    def loss(w):
        out, _ = train_model.pure_fn(x, w, state, rng)
        if isinstance(out, (tuple, list)):
            out = out[0]  # Reformer passes its target tokens through
        return jnp.sum(out * cotangent(out.shape))
    w_grad = jax.grad(loss)(weights)
    record["train_grad_weights"] = [
        leaf_summary(g, False) for g in jax.tree_util.tree_leaves(w_grad)]
    return record


def predict_record(constructor, signature, pieces):
    layer = eval(constructor)  # pylint: disable=eval-used
    shape, dtype = signature
    layer.init(shapes.ShapeDtype(shape, np.dtype(dtype)),
               rng=trax_random.get_prng(0))
    record = {"constructor": constructor, "repr": str(layer),
              "signature": [list(shape), dtype],
              "pieces": [value(p) for p in pieces],
              "state_typed": oc.tree_typed(layer.state), "outputs": []}
    for piece in pieces:
        record["outputs"].append(oc.array(layer(jnp.asarray(piece))))
    record["final_state"] = [leaf_summary(s, True) for s in
                             jax.tree_util.tree_leaves(layer.state)]
    return record


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=pathlib.Path)
    args = parser.parse_args()
    data = {"env": oc.env("tests/testdata/generate_models_reformer.py"),
            "cotangent": "cos(0.71 * arange(n)) reshaped",
            "train_rng_seed": TRAIN_RNG_SEED,
            "layers": {}, "models": {}, "predict": {}}
    for name, (constructor, x) in LAYERS.items():
        print(f"layer {name}", file=sys.stderr)
        data["layers"][name] = layer_record(constructor, x)
    for name, (constructor, x) in MODELS.items():
        print(f"model {name}", file=sys.stderr)
        data["models"][name] = model_record(constructor, x)
    for name, (constructor, signature, pieces) in PREDICT.items():
        print(f"predict {name}", file=sys.stderr)
        data["predict"][name] = predict_record(constructor, signature, pieces)
    oc.write_json_gz(args.out / "trax_oracle" / "models_reformer"
                     / "models_reformer.json.gz", data)


if __name__ == "__main__":
    main()
