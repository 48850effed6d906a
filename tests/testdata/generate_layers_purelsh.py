"""Records real Trax's weightless LSH attention (``PureLSHSelfAttention``),
its wrapper (``PureLSHSelfAttentionWrapper``) and a Terraformer using them.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_layers_purelsh.py OUT

It writes ``OUT/trax_oracle/layers_purelsh/layers_purelsh.json.gz`` (gzip
with no name and mtime 0, so a rerun gives the same bytes), with the record
layout of ``generate_models_reformer.py`` (whose helpers it uses):

``LAYERS``: each layer initialised with ``get_prng(0)`` and called twice
(the hashes are drawn again on the second call): repr, arity, weights,
state, both outputs and the state after each, and the gradients of
``sum(y * cot)`` with respect to the float inputs and the weights through
``pure_fn``.

``PREDICT``: each layer in 'predict' mode, initialised with ``get_prng(0)``
for the signature of its first piece's shape with length 1, then fed a
prefix and one position per call past the memory's size: each output and
the final state.

``TERRAFORMERS``: a ConfigurableTerraformer whose encoder and decoder use
``PureLSHSelfAttentionWrapper`` (as Trax's decoding test builds it), in
'eval' and 'train' mode: repr, weights (SHA-256, sum, first values), eval
and train outputs. ``TERRA_PREDICT``: the same model in 'predict' mode fed
the source and one target token per call: the logits of each call.
"""

import argparse
import functools  # pylint: disable=unused-import  (constructor strings)
import pathlib
import sys

import jax
import trax  # pylint: disable=unused-import  (constructor strings)
from trax import layers as tl  # pylint: disable=unused-import
from trax import shapes
from trax.fastmath import random as trax_random

import generate_models_reformer as gr  # this folder
import generate_models_terraformer as gt  # this folder
import oracle_common as oc  # this folder

ramp, tokens, mask = gr.ramp, gr.tokens, gr.mask

PURE = "tl.PureLSHSelfAttention("
WRAP = ("tl.PureLSHSelfAttentionWrapper(pure_lsh_implementation="
        "tl.PureLSHSelfAttention, ")

LAYERS = {
    # batch 3 x 2 heads; dropout in train mode
    "pure_causal_train": (
        PURE + "n_heads=2, d_qk=4, d_v=4, causal=True, chunk_len=4, "
        "n_buckets=4, n_hashes=2, attention_dropout=0.1, mode='train')",
        (ramp((6, 16, 4)), ramp((6, 16, 4), 1.0))),
    "pure_masked_factored": (
        PURE + "n_heads=2, d_qk=4, d_v=4, masked=True, chunk_len=4, "
        "n_chunks_after=1, n_buckets=[2, 4], n_hashes=3, "
        "max_length_for_buckets=20, mode='eval')",
        (ramp((4, 16, 4), 2.0), ramp((4, 16, 4), 0.5),
         mask((2, 16), 3, pad_first_row0=True))),
    # Trax's wrapper defaults: three projections, biases
    "wrapper_three_weights": (
        WRAP + "n_heads=2, d_qk=4, d_v=4, causal=True, chunk_len=4, "
        "n_buckets=4, n_hashes=2, mode='eval')", ramp((3, 16, 8))),
    "wrapper_two_weights_masked": (
        WRAP + "n_heads=2, d_qk=3, d_v=3, masked=True, num_weights=2, "
        "bias=False, chunk_len=4, n_chunks_after=1, n_buckets=[2, 2], "
        "n_hashes=2, attention_dropout=0.2, mode='train')",
        (ramp((2, 8, 6), 0.7), mask((2, 8), 2))),
    # Gradients through the reversible backward pass, which calls the
    # wrapper's forward_and_or_backward with the forward pass's buckets.
    "reversible_wrapper_train": (
        "tl.Serial(tl.ReversibleSerial(tl.ReversibleHalfResidual("
        "tl.LayerNorm(), "
        "attention_layer=" + WRAP + "n_heads=2, d_qk=4, d_v=4, causal=True, "
        "num_weights=2, bias=False, chunk_len=4, n_buckets=4, n_hashes=2, "
        "attention_dropout=0.1, mode='train')), tl.ReversibleSwap()), "
        "tl.Add())",
        (ramp((3, 16, 8), 0.3), ramp((3, 16, 8), 1.3))),
}

PREDICT = {
    "pure_predict": (
        PURE + "n_heads=2, d_qk=4, d_v=4, causal=True, chunk_len=2, "
        "n_chunks_before=1, n_hashes=2, n_buckets=4, predict_mem_len=6, "
        "predict_drop_len=2, mode='predict')",
        [(ramp((4, 4, 4)), ramp((4, 4, 4), 1.0))]
        + [(ramp((4, 1, 4), 0.4 * i), ramp((4, 1, 4), 0.3 * i + 1.0))
           for i in range(6)]),
    "wrapper_predict": (
        WRAP + "n_heads=2, d_qk=4, d_v=4, causal=True, num_weights=2, "
        "bias=False, chunk_len=2, n_chunks_before=1, n_hashes=2, "
        "n_buckets=4, predict_mem_len=6, predict_drop_len=2, "
        "mode='predict')",
        [ramp((1, 4, 8), 0.2)] + [ramp((1, 1, 8), 0.5 * i)
                                  for i in range(6)]),
}


def pure_lsh_fn(n_chunks_after):
    """Trax's decoding test's attention type, at a tiny size."""
    return ("functools.partial(tl.PureLSHSelfAttentionWrapper, "
            "attention_dropout=0.0, chunk_len=4, n_buckets=[2, 2], "
            f"n_chunks_after={n_chunks_after}, n_chunks_before=1, n_hashes=2,"
            " n_parallel_heads=1, max_length_for_buckets=64, "
            "predict_drop_len=8, predict_mem_len=32, num_weights=2, "
            "bias=False, pure_lsh_implementation=tl.PureLSHSelfAttention)")


TERRA = ("trax.models.ConfigurableTerraformer(input_vocab_size=20, "
         "d_model=16, d_ff=32, n_heads=2, max_len=32, dropout=0.1, "
         "n_encoder_layers=1, n_decoder_layers=1, ff_use_sru=1, "
         "d_attention_key=8, d_attention_value=8, encoder_attention_type="
         + pure_lsh_fn(1) + ", encoder_decoder_attention_type="
         + pure_lsh_fn(0) + ", pos_axial_shape=None, mode=MODE)")
TERRAFORMERS = {
    "terraformer_pure_lsh": (
        TERRA, (tokens((2, 16), 20, n_pad=3), tokens((2, 8), 20, seed=2))),
}
TERRA_PREDICT = {
    "terraformer_pure_lsh_predict": (
        TERRA.replace("dropout=0.1", "dropout=0.0").replace(
            "MODE", "'predict'"),
        tokens((1, 16), 20, n_pad=3),
        [tokens((1, 1), 20, seed=i) for i in range(5)]),
}


def predict_record(constructor, pieces):
    """``gr.predict_record`` for layers with several inputs."""
    layer = eval(constructor)  # pylint: disable=eval-used
    first = pieces[0] if isinstance(pieces[0], tuple) else (pieces[0],)
    sig = tuple(shapes.ShapeDtype((p.shape[0], 1) + p.shape[2:], p.dtype)
                for p in first)
    layer.init(sig if len(sig) > 1 else sig[0], rng=trax_random.get_prng(0))
    record = {"constructor": constructor, "repr": str(layer),
              "pieces": [gr.value(p) for p in pieces],
              "state_typed": oc.tree_typed(layer.state), "outputs": []}
    for piece in pieces:
        record["outputs"].append(oc.array(layer(gr.as_jax(piece))))
    record["final_state"] = [gr.leaf_summary(s, True) for s in
                             jax.tree_util.tree_leaves(layer.state)]
    return record


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=pathlib.Path)
    args = parser.parse_args()
    data = {"env": oc.env("tests/testdata/generate_layers_purelsh.py"),
            "cotangent": "cos(0.71 * arange(n)) reshaped",
            "train_rng_seed": gr.TRAIN_RNG_SEED,
            "layers": {}, "predict": {}, "terraformers": {},
            "terraformer_predict": {}}
    for name, (constructor, x) in LAYERS.items():
        print(f"layer {name}", file=sys.stderr)
        data["layers"][name] = gr.layer_record(constructor, x)
    for name, (constructor, pieces) in PREDICT.items():
        print(f"predict {name}", file=sys.stderr)
        data["predict"][name] = predict_record(constructor, pieces)
    for name, (constructor, x) in TERRAFORMERS.items():
        print(f"terraformer {name}", file=sys.stderr)
        data["terraformers"][name] = gt.terraformer_record(constructor, x)
    for name, (constructor, source, targets) in TERRA_PREDICT.items():
        print(f"terraformer predict {name}", file=sys.stderr)
        data["terraformer_predict"][name] = gt.terraformer_predict_record(
            constructor, source, targets)
    oc.write_json_gz(args.out / "trax_oracle" / "layers_purelsh"
                     / "layers_purelsh.json.gz", data)


if __name__ == "__main__":
    main()
