"""Records real Trax's research positional encodings, ReformerLM with each
``pos_type``, the pure-LSH attention and the Terraformer.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_models_terraformer.py OUT

It writes ``OUT/trax_oracle/models_terraformer/models_terraformer.json.gz``
(gzip with no name and mtime 0, so a rerun gives the same bytes), with the
records of ``generate_models_reformer.py`` (same helpers, same layout):

``LAYERS``: each layer initialised with ``get_prng(0)`` and called twice:
repr, arity, weights, state, both outputs and the state after each, and
the gradients of ``sum(y * cot)`` through ``pure_fn``.

``MODELS``: each model in 'eval' and 'train' mode: repr, weight and state
structure, every initial weight as SHA-256 plus sum and first values, the
eval output, the train output and new state with ``get_prng(7)``, and the
weight gradients there.

``TERRAFORMERS``: each ConfigurableTerraformer in 'eval' and 'train'
mode: repr, weight and state structure, every initial weight as SHA-256
plus sum and first values, the eval output and the train output with
``get_prng(7)``.

``TERRA_PREDICT``: a Terraformer in 'predict' mode fed the source with one
target token per call, as decoding does: the logits of each call.

``PREDICT``: each layer or model in 'predict' mode, initialised with
``get_prng(0)`` and fed the listed pieces one call after another: the
output of each call and the final state.

A second file, ``models_terraformer_reversible.json.gz``, holds the
Terraformers with ``reversible_encoder=True`` (the first file stays as it
was): ``terraformers`` as above, with the weight gradients of
``sum(logits * cot)`` in 'train' mode (``get_prng(7)``) as per-leaf
summaries where ``grads`` is set; ``greedy``: the model in 'predict' mode
decoding greedily from token 0 (the source in the first call, then the
argmax token of each call fed back): the tokens and each call's logits.
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

import generate_models_reformer as gr  # this folder
import oracle_common as oc  # this folder

ramp, tokens = gr.ramp, gr.tokens
LSH = "functools.partial(tl.LSHSelfAttention, "
# Cheap models (one layer, dot-product attention): the encodings are what
# these check; the predict model keeps LSH attention, as Trax's decoding
# test does.
LM = ("trax.models.ReformerLM(vocab_size=20, d_model=16, d_ff=32, "
      "d_attention_key=8, d_attention_value=8, n_layers=1, n_heads=2, "
      "dropout=0.1, max_len=32, ")
LM_PREDICT = (LM.replace("dropout=0.1", "dropout=0.0") + "attention_type="
              + LSH + "chunk_len=4, n_buckets=4, n_hashes=2, "
              "predict_mem_len=8, predict_drop_len=4), ")

LAYERS = {
    "fixed_base_train": (
        "tl.FixedBasePositionalEncoding(bases=[3, 5], n_digits=4, "
        "base_dropout_one_in=2, mode='train')", ramp((3, 7, 8))),
    "fixed_base_default_eval": (
        "tl.FixedBasePositionalEncoding(mode='eval')", ramp((2, 5, 16), 0.5)),
    "sin_cos_train": (
        "tl.SinCosPositionalEncoding(add_offset=50, dropout=0.3, "
        "mode='train')", ramp((3, 6, 8), 1.0)),
    "sin_cos_eval": (
        "tl.SinCosPositionalEncoding(mode='eval')", ramp((1, 5, 6))),
    "axial_train": (
        "tl.AxialPositionalEncoding(shape=(2, 4), d_embs=(3, 5), "
        "dropout=0.2, dropout_broadcast_dims=(1,), mode='train')",
        ramp((3, 8, 8), 2.0)),
    "axial_eval": (
        "tl.AxialPositionalEncoding(shape=(3, 2, 2), d_embs=(2, 2, 4), "
        "mode='eval')", ramp((2, 12, 8))),
}

MODELS = {
    "reformer_lm_fixed_base": (
        LM + "pos_type='fixed-base', mode=MODE)", tokens((3, 16), 20)),
    "reformer_lm_sin_cos": (
        LM + "pos_type='sin-cos', mode=MODE)", tokens((2, 16), 20, seed=3)),
    "reformer_lm_axial": (
        LM + "pos_type='axial', pos_axial_shape=(4, 4), "
        "pos_d_axial_embs=(8, 8), mode=MODE)", tokens((2, 16), 20, seed=5)),
}

PREDICT = {
    "fixed_base_predict": (
        "tl.FixedBasePositionalEncoding(bases=[3, 5], n_digits=2, "
        "mode='predict')", ((2, 1, 6), "float32"),
        [ramp((2, 3, 6))] + [ramp((2, 1, 6), 0.3 * i) for i in range(3)]),
    "sin_cos_predict": (
        "tl.SinCosPositionalEncoding(mode='predict')", ((1, 1, 4), "float32"),
        [ramp((1, 2, 4))] + [ramp((1, 1, 4), 0.3 * i) for i in range(3)]),
    "axial_predict": (
        "tl.AxialPositionalEncoding(shape=(2, 4), d_embs=(2, 4), "
        "mode='predict')", ((3, 1, 6), "float32"),
        [ramp((3, 3, 6))] + [ramp((3, 1, 6), 0.3 * i) for i in range(4)]),
    "reformer_lm_fixed_base_predict": (
        LM_PREDICT + "pos_type='fixed-base', mode='predict')", ((2, 1), "int32"),
        [tokens((2, 3), 20)] + [tokens((2, 1), 20, seed=i) for i in range(8)]),
}

# The Terraformer: name -> (constructor taking mode, (source, target)).
TERRA = ("trax.models.ConfigurableTerraformer(input_vocab_size=20, "
         "d_model=16, d_ff=32, n_heads=2, max_len=32, dropout=0.1, ")
TERRA_LSH = (LSH + "chunk_len=4, n_buckets=4, n_hashes=2, "
             "predict_mem_len=16, predict_drop_len=8)")
TERRAFORMERS = {
    "terraformer_lsh_sru": (
        TERRA + "n_encoder_layers=1, n_decoder_layers=1, ff_use_sru=1, "
        "d_attention_key=8, d_attention_value=8, encoder_attention_type="
        + TERRA_LSH + ", encoder_decoder_attention_type=" + TERRA_LSH
        + ", pos_axial_shape=None, mode=MODE)",
        (tokens((2, 12), 20, n_pad=3), tokens((2, 8), 20, seed=2))),
    "terraformer_dot_two_vocabs": (
        TERRA + "output_vocab_size=15, n_encoder_layers=2, "
        "n_decoder_layers=2, n_decoder_attention_layers=1, pos_type=None, "
        "ff_activation=tl.Gelu, mode=MODE)",
        (tokens((3, 9), 20, n_pad=2, seed=1), tokens((3, 7), 15, seed=3))),
}
# Predict mode: the source and the first target token, then one target
# token per call, as decoding feeds them. Batch size 1: Trax's predict-mode
# SRU mask fails to broadcast for larger batches.
TERRA_PREDICT = {
    "terraformer_lsh_sru_predict": (
        TERRAFORMERS["terraformer_lsh_sru"][0].replace(
            "dropout=0.1", "dropout=0.0").replace("MODE", "'predict'"),
        tokens((1, 12), 20, n_pad=3),
        [tokens((1, 1), 20, seed=i) for i in range(5)]),
}


# reversible_encoder=True: name -> (constructor taking mode, (source,
# target), record gradients).
PURE_LSH = ("functools.partial(tl.PureLSHSelfAttentionWrapper, "
            "pure_lsh_implementation=tl.PureLSHSelfAttention, num_weights=2,"
            " bias=False, chunk_len=4, n_buckets=[2, 2], n_hashes=2, "
            "max_length_for_buckets=64, predict_mem_len=32, "
            "predict_drop_len=8, attention_dropout=0.0, n_chunks_before=1, ")
REVERSIBLE = {
    # as Trax's scientific-papers config builds it, at a tiny size
    "reversible_pure_lsh": (
        TERRA + "n_encoder_layers=2, n_decoder_layers=1, "
        "d_attention_key=8, d_attention_value=8, reversible_encoder=True, "
        "use_two_swaps_per_encoder_block=False, pos_type=None, "
        "encoder_attention_type=" + PURE_LSH + "n_chunks_after=1), "
        "encoder_decoder_attention_type=" + PURE_LSH + "n_chunks_after=0), "
        "mode=MODE)",
        (tokens((3, 16), 20, n_pad=3), tokens((3, 8), 20, seed=2)), False),
    # dot-product attention (in 'predict' mode unchunked, with a memory),
    # SRU, a forgetting layer, two vocabularies
    "reversible_dot_sru_forget": (
        TERRA + "output_vocab_size=15, n_encoder_layers=3, "
        "n_decoder_layers=1, n_decoder_attention_layers=1, ff_use_sru=1, "
        "n_layers_forget=1, reversible_encoder=True, "
        "encoder_decoder_attention_type=functools.partial(tl.SelfAttention,"
        " predict_mem_len=32, predict_drop_len=16), mode=MODE)",
        (tokens((3, 9), 20, n_pad=2, seed=1), tokens((3, 7), 15, seed=3)),
        True),
}
# Greedy decoding in 'predict' mode: name -> (constructor, source, steps).
# Batch size 1 with SRU (see TERRA_PREDICT).
REVERSIBLE_GREEDY = {
    "reversible_pure_lsh_greedy": (
        REVERSIBLE["reversible_pure_lsh"][0].replace(
            "dropout=0.1", "dropout=0.0").replace("MODE", "'predict'"),
        tokens((2, 16), 20, n_pad=3, seed=4), 6),
    "reversible_dot_sru_forget_greedy": (
        REVERSIBLE["reversible_dot_sru_forget"][0].replace(
            "dropout=0.1", "dropout=0.0").replace("MODE", "'predict'"),
        tokens((1, 9), 20, n_pad=2, seed=5), 6),
}


def terraformer_record(constructor, x):
    """Initial weights, eval output and train output (no gradients: the
    reversible LSH backward pass is checked on ReformerLM)."""
    make = lambda mode: eval(constructor.replace("MODE", repr(mode)))  # pylint: disable=eval-used
    record = {"constructor": constructor, "input": gr.value(x)}
    x = gr.as_jax(x)
    sig = shapes.signature(x)
    models = {}
    for mode in ("eval", "train"):
        models[mode] = make(mode)
        models[mode].init(sig, rng=trax_random.get_prng(0))
    model = models["train"]
    record["repr"] = {m: str(models[m]) for m in models}
    record["weights_typed"] = oc.tree_typed(model.weights)
    record["state_typed"] = oc.tree_typed(model.state)
    record["weights"] = [gr.leaf_summary(w, True) for w in
                         jax.tree_util.tree_leaves(model.weights)]
    record["eval_output"] = gr.value(models["eval"](x))
    y, _ = model.pure_fn(x, model.weights, model.state,
                         trax_random.get_prng(gr.TRAIN_RNG_SEED))
    record["train_output"] = gr.value(y)
    return record


def terraformer_grads(model, x):
    """Per-leaf summaries of the weight gradients of sum(logits * cot) in
    'train' mode (through the reversible layers' backward passes)."""
    x = gr.as_jax(x)

    def loss(w):
        (logits, _), _ = model.pure_fn(
            x, w, model.state, trax_random.get_prng(gr.TRAIN_RNG_SEED))
        return jnp.sum(logits * gr.cotangent(logits.shape))
    grads = jax.grad(loss)(model.weights)
    return [gr.leaf_summary(g, False)
            for g in jax.tree_util.tree_leaves(grads)]


def greedy_record(constructor, source, n_steps):
    """Greedy decoding from token 0: the tokens and each call's logits."""
    model = eval(constructor)  # pylint: disable=eval-used
    target = np.zeros((source.shape[0], 1), np.int32)
    model.init((shapes.signature(source), shapes.signature(target)),
               rng=trax_random.get_prng(0))
    record = {"constructor": constructor, "repr": str(model),
              "source": oc.array(source), "n_steps": n_steps,
              "state_typed": oc.tree_typed(model.state), "outputs": [],
              "tokens": []}
    for _ in range(n_steps):
        logits, _ = model((jnp.asarray(source), jnp.asarray(target)))
        record["outputs"].append(oc.array(logits))
        target = np.asarray(jnp.argmax(logits[:, -1, :], axis=-1),
                            np.int32)[:, None]
        record["tokens"].append(target[:, 0].tolist())
    return record


def terraformer_predict_record(constructor, source, targets):
    model = eval(constructor)  # pylint: disable=eval-used
    model.init((shapes.signature(source), shapes.signature(targets[0])),
               rng=trax_random.get_prng(0))
    record = {"constructor": constructor, "repr": str(model),
              "source": oc.array(source),
              "targets": [oc.array(t) for t in targets],
              "state_typed": oc.tree_typed(model.state), "outputs": []}
    for target in targets:
        logits, _ = model((jnp.asarray(source), jnp.asarray(target)))
        record["outputs"].append(oc.array(logits))
    return record


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=pathlib.Path)
    args = parser.parse_args()
    data = {"env": oc.env("tests/testdata/generate_models_terraformer.py"),
            "cotangent": "cos(0.71 * arange(n)) reshaped",
            "train_rng_seed": gr.TRAIN_RNG_SEED,
            "layers": {}, "models": {}, "predict": {}}
    for name, (constructor, x) in LAYERS.items():
        print(f"layer {name}", file=sys.stderr)
        data["layers"][name] = gr.layer_record(constructor, x)
    for name, (constructor, x) in MODELS.items():
        print(f"model {name}", file=sys.stderr)
        data["models"][name] = gr.model_record(constructor, x)
    for name, (constructor, signature, pieces) in PREDICT.items():
        print(f"predict {name}", file=sys.stderr)
        data["predict"][name] = gr.predict_record(constructor, signature,
                                                  pieces)
    data["terraformers"], data["terraformer_predict"] = {}, {}
    for name, (constructor, x) in TERRAFORMERS.items():
        print(f"terraformer {name}", file=sys.stderr)
        data["terraformers"][name] = terraformer_record(constructor, x)
    for name, (constructor, source, targets) in TERRA_PREDICT.items():
        print(f"terraformer predict {name}", file=sys.stderr)
        data["terraformer_predict"][name] = terraformer_predict_record(
            constructor, source, targets)
    oc.write_json_gz(args.out / "trax_oracle" / "models_terraformer"
                     / "models_terraformer.json.gz", data)

    rev = {"env": oc.env("tests/testdata/generate_models_terraformer.py"),
           "cotangent": "cos(0.71 * arange(n)) reshaped",
           "train_rng_seed": gr.TRAIN_RNG_SEED, "terraformers": {},
           "greedy": {}}
    for name, (constructor, x, with_grads) in REVERSIBLE.items():
        print(f"reversible terraformer {name}", file=sys.stderr)
        record = terraformer_record(constructor, x)
        if with_grads:
            model = eval(constructor.replace("MODE", "'train'"))  # pylint: disable=eval-used
            model.init(shapes.signature(gr.as_jax(x)),
                       rng=trax_random.get_prng(0))
            record["grad_weights"] = terraformer_grads(model, x)
        rev["terraformers"][name] = record
    for name, (constructor, source, n_steps) in REVERSIBLE_GREEDY.items():
        print(f"reversible greedy {name}", file=sys.stderr)
        rev["greedy"][name] = greedy_record(constructor, source, n_steps)
    oc.write_json_gz(args.out / "trax_oracle" / "models_terraformer"
                     / "models_terraformer_reversible.json.gz", rev)


if __name__ == "__main__":
    main()
