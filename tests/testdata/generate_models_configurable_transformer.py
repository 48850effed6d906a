"""Records real Trax's configurable Transformers
(``trax.models.research.configurable_transformer``).

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_models_configurable_transformer.py OUT

It writes ``OUT/trax_oracle/models_configurable_transformer/
models_configurable_transformer.json.gz`` (gzip with no name and mtime 0,
so a rerun gives the same bytes).

``MODELS``: each constructor (``ct`` is the module, ``tl`` Trax's layers)
is built in 'eval' and in 'train' mode and initialised with
``model.init(signature(x), rng=get_prng(0))``: repr per mode, weight and
state structure, every initial weight as SHA-256 of its bytes plus its
shape, sum, sum of absolute values and first values; the eval model's
``model(x)``; the train model's ``pure_fn(x, weights, state,
get_prng(7))`` and the leaves of the state it returns.

``DECODES``: the constructor in 'predict' mode, initialised with
``init(signature, rng=get_prng(0))`` (the signature of one decoding step),
then ``trax.supervised.decoding.autoregressive_sample(model, inputs,
batch_size, temperature=0.0, max_length)``: the initial weights (as above)
and the greedy tokens (for the language model, after its prefix
``inputs``). The same constructor in 'eval' mode, given the predict model's
weights (whether its own initialisation gives the same:
``eval_weights_equal_predict``), scores the decoded tokens with teacher
forcing: ``argmax_equals_greedy``, and ``min_margin``, the smallest gap
between the best and the second-best logit of each choice (how far the
greedy choices are from a tie).
"""

import argparse
import functools  # pylint: disable=unused-import  (constructor strings)
import hashlib
import pathlib
import sys

import jax
import numpy as np

from trax import layers as tl  # pylint: disable=unused-import  (constructors)
from trax import shapes
from trax.fastmath import random as trax_random
from trax.models.research import configurable_transformer as ct  # pylint: disable=unused-import
from trax.supervised import decoding

import oracle_common as oc  # this folder

N_FIRST = 6
TRAIN_RNG_SEED = 7


def tokens(shape, vocab, n_pad=0, seed=0):
    """Token ids in [1, vocab), the last ``n_pad`` of each row 0 (padding)."""
    ids = (np.arange(int(np.prod(shape))) * 7 + 3 + seed) % (vocab - 1) + 1
    ids = ids.reshape(shape).astype(np.int32)
    if n_pad:
        ids[:, -n_pad:] = 0
    return ids


# name -> (constructor with MODE, input)
MODELS = {
    "encoder_chunked_attention": (
        "ct.ConfigurableTransformerEncoder(vocab_size=20, n_classes=5, "
        "d_model=8, d_ff=16, n_layers=1, n_heads=2, max_len=16, dropout=0.1,"
        " ff_dropout=0.2, attention_chunk_size=1, mode=MODE)",
        tokens((3, 7), 20, n_pad=2)),
    "encoder_axial": (
        "ct.ConfigurableTransformerEncoder(vocab_size=20, n_classes=3, "
        "d_model=8, d_ff=16, n_layers=1, n_heads=2, max_len=16, dropout=0.0,"
        " ff_dropout=0.0, pos_type='axial', pos_axial_shape=(4, 4), "
        "pos_d_axial_embs=(4, 4), mode=MODE)",
        tokens((3, 16), 20, n_pad=3, seed=1)),
    "lm_lsh_sru_chunked_ff": (
        "ct.ConfigurableTransformerLM(vocab_size=20, d_model=8, d_ff=16, "
        "n_layers=1, n_heads=2, max_len=16, dropout=0.0, ff_dropout=0.0, "
        "ff_activation=tl.Gelu, ff_use_sru=(1, 4), ff_chunk_size=4, "
        "attention_type=functools.partial(tl.LSHSelfAttention, chunk_len=4, "
        "n_buckets=2, n_hashes=2), pos_type='fixed-base', mode=MODE)",
        tokens((3, 8), 20, seed=3)),
    "lm_self_attention_random_start": (
        "ct.ConfigurableTransformerLM(vocab_size=20, d_model=8, d_ff=16, "
        "n_layers=2, n_heads=2, max_len=32, dropout=0.1, ff_dropout=0.0, "
        "attention_type=functools.partial(tl.SelfAttention, chunk_len=4, "
        "n_chunks_before=1), pos_start_from_zero_prob=0.5, "
        "pos_max_offset_to_add=5, mode=MODE)", tokens((1, 16), 20, seed=9)),
    "transformer_sru_sincos": (
        "ct.ConfigurableTransformer(input_vocab_size=20, "
        "output_vocab_size=15, d_model=8, d_ff=16, n_encoder_layers=1, "
        "n_decoder_layers=1, n_heads=2, max_len=16, dropout=0.1, "
        "ff_dropout=0.1, ff_use_sru=1, pos_type='sin-cos', mode=MODE)",
        (tokens((3, 7), 20, n_pad=2, seed=4), tokens((3, 6), 15, seed=5))),
}

# name -> (constructor with MODE, inputs (the language model's prefix, the
# encoder-decoder's source), batch size, max_length)
DECODES = {
    "lm_decode": (
        "ct.ConfigurableTransformerLM(vocab_size=20, d_model=8, d_ff=16, "
        "n_layers=2, n_heads=2, max_len=16, mode=MODE)",
        tokens((3, 3), 20, seed=10), 3, 6),
    "transformer_shared_vocab_decode": (
        "ct.ConfigurableTransformer(input_vocab_size=20, d_model=8, "
        "d_ff=12, n_encoder_layers=1, n_decoder_layers=1, n_heads=2, "
        "max_len=16, mode=MODE)", tokens((3, 5), 20, n_pad=1, seed=8), 3, 5),
}


def value(x):
    if isinstance(x, (tuple, list)):
        return {"tuple": [value(t) for t in x]}
    return oc.array(x)


def leaf_summary(a):
    a = np.asarray(a)
    flat = a.reshape(-1)
    out = {"shape": list(a.shape), "dtype": a.dtype.name,
           "sha256": hashlib.sha256(np.ascontiguousarray(a).tobytes()
                                    ).hexdigest(),
           "first": flat[:N_FIRST].tolist()}
    if np.issubdtype(a.dtype, np.number):
        out["sum"] = float(np.sum(flat, dtype=np.float64))
        out["abs_sum"] = float(np.sum(np.abs(flat), dtype=np.float64))
    return out


def summaries(tree):
    return [leaf_summary(w) for w in jax.tree_util.tree_leaves(tree)]


def build(constructor, mode):
    return eval(constructor.replace("MODE", repr(mode)))  # pylint: disable=eval-used


def model_record(constructor, x):
    record = {"constructor": constructor, "input": value(x)}
    sig = shapes.signature(x)
    per_mode = {}
    for mode in ("eval", "train"):
        model = build(constructor, mode)
        model.init(sig, rng=trax_random.get_prng(0))
        per_mode[mode] = model
    eval_model, train_model = per_mode["eval"], per_mode["train"]
    record["repr"] = {m: str(per_mode[m]) for m in per_mode}
    weights, state = train_model.weights, train_model.state
    record["weights_typed"] = oc.tree_typed(weights)
    record["state_typed"] = oc.tree_typed(state)
    record["weights"] = summaries(weights)
    record["eval_weights_equal_train"] = all(
        np.array_equal(a, b) for a, b in zip(
            jax.tree_util.tree_leaves(eval_model.weights),
            jax.tree_util.tree_leaves(weights)))
    record["eval_output"] = value(eval_model(x))
    y, new_state = train_model.pure_fn(
        x, weights, state, trax_random.get_prng(TRAIN_RNG_SEED))
    record["train_output"] = value(y)
    record["train_new_state"] = summaries(new_state)
    return record


def decode_record(constructor, inputs, batch, max_length):
    model = build(constructor, "predict")
    step = shapes.ShapeDtype((batch, 1), np.int32)
    lm = model.n_in == 1
    sig = step if lm else (shapes.signature(inputs), step)
    model.init(sig, rng=trax_random.get_prng(0))
    record = {"constructor": constructor, "inputs": oc.array(inputs),
              "batch_size": batch, "max_length": max_length,
              "call": "autoregressive_sample(model, inputs=inputs, "
                      "batch_size=batch_size, temperature=0.0, "
                      "max_length=max_length)",
              "repr": str(model),
              "weights_typed": oc.tree_typed(model.weights),
              "weights": summaries(model.weights)}
    predict_leaves = jax.tree_util.tree_leaves(model.weights)
    out = np.asarray(decoding.autoregressive_sample(
        model, inputs=inputs, batch_size=batch, temperature=0.0,
        max_length=max_length))
    record["output"] = oc.array(out)

    # Teacher-forced scores of the result by the eval model holding the
    # predict model's weights.
    full = np.concatenate([inputs, out], axis=1) if lm else (inputs, out)
    eval_model = build(constructor, "eval")
    eval_model.init(shapes.signature(full), rng=trax_random.get_prng(0))
    record["eval_weights_equal_predict"] = all(
        np.array_equal(a, b) for a, b in zip(
            jax.tree_util.tree_leaves(eval_model.weights), predict_leaves))
    eval_model.weights = jax.tree_util.tree_unflatten(
        jax.tree_util.tree_structure(eval_model.weights), predict_leaves)
    logits = eval_model(full)
    logits = np.asarray(logits[:, inputs.shape[1]:] if lm else logits[0])
    ordered = np.sort(logits, axis=-1)
    record["argmax_equals_greedy"] = bool(
        (np.argmax(logits, axis=-1) == out).all())
    record["min_margin"] = float((ordered[..., -1] - ordered[..., -2]).min())
    return record


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=pathlib.Path)
    args = parser.parse_args()
    data = {"env": oc.env(
                "tests/testdata/generate_models_configurable_transformer.py"),
            "train_rng_seed": TRAIN_RNG_SEED, "models": {}, "decodes": {}}
    for name, (constructor, x) in MODELS.items():
        print(f"model {name}", file=sys.stderr)
        data["models"][name] = model_record(constructor, x)
    for name, (constructor, inputs, batch, max_length) in DECODES.items():
        print(f"decode {name}", file=sys.stderr)
        data["decodes"][name] = decode_record(constructor, inputs, batch,
                                              max_length)
    folder = "models_configurable_transformer"
    oc.write_json_gz(args.out / "trax_oracle" / folder / (folder + ".json.gz"),
                     data)


if __name__ == "__main__":
    main()
