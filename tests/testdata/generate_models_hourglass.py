"""Records real Trax's Transformer2, HourglassLM (with its resampling and
relative-attention layers) and ResidualShuffleExchange.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_models_hourglass.py OUT

It writes ``OUT/trax_oracle/models_hourglass/models_hourglass.json.gz``
(gzip with no name and mtime 0, so a rerun gives the same bytes).

``MODELS``: each model built in 'eval' and 'train' mode from its
constructor expression (``MODE`` replaced), initialised with
``get_prng(0)``: repr per mode, weight and state structure, every initial
weight as SHA-256 plus sum and first values, the eval output and the train
output of ``pure_fn`` with ``get_prng(7)`` (dropout on).

``PREDICT``: Transformer2 in 'predict' mode fed the source with one target
token per call, as decoding does: the logits of each call. (HourglassLM
refuses 'predict' mode in Trax; ResidualShuffleExchange has no state.)

``LAYERS``: the resampling, relative-attention and rotary-position layers
(the last also inside pure-LSH attention) alone, with the
records of ``generate_models_reformer.py``'s layers (two calls, gradients
of ``sum(y * cot)``).

``ERRORS``: constructor calls Trax rejects, with the exception's type.
"""

import argparse
import functools  # pylint: disable=unused-import  (constructor strings)
import pathlib
import sys

import numpy as np
import trax  # pylint: disable=unused-import  (constructor strings)
from trax import layers as tl  # pylint: disable=unused-import

import generate_models_reformer as gr  # this folder
import generate_models_terraformer as gt  # this folder
import oracle_common as oc  # this folder

ramp, tokens = gr.ramp, gr.tokens


def ragged(shape, vocab, lengths, seed=0):
    """Token ids in [1, vocab) with row i padded (0) after ``lengths[i]``."""
    ids = tokens(shape, vocab, seed=seed)
    for row, length in enumerate(lengths):
        ids[row, length:] = 0
    return ids


T2 = ("trax.models.Transformer2(input_vocab_size=20, d_model=16, d_ff=32, "
      "n_heads=2, max_len=32, ")
HG = "trax.models.HourglassLM(vocab_size=20, d_model=16, d_ff=32, n_heads=2, "
RSE = "trax.models.ResidualShuffleExchange("

MODELS = {
    # Transformer2: one vocabulary; sources of different lengths, so each
    # row's target starts at another place in the joined sequence.
    "transformer2_shared_vocab": (
        T2 + "n_encoder_layers=1, n_decoder_layers=1, dropout=0.1, "
        "mode=MODE)",
        (ragged((3, 9), 20, (9, 4, 6)), ragged((3, 6), 20, (6, 6, 3), 2))),
    "transformer2_two_vocabs": (
        T2 + "output_vocab_size=13, n_encoder_layers=2, n_decoder_layers=1, "
        "n_decoder_attention_layers=1, ff_activation=tl.Gelu, "
        "pos_type='sin-cos', dropout=0.2, mode=MODE)",
        (ragged((5, 7), 20, (7, 1, 3, 5, 2), 1),
         ragged((5, 5), 13, (5, 4, 5, 2, 5), 3))),
    # HourglassLM: the default relative attention and attention resampling
    # (average pooling down, linear up), one shortening level.
    "hourglass_default": (
        HG + "vanilla_layers=(1, 1), hierarchy='1@2', dropout=0.1, "
        "mode=MODE)", tokens((3, 8), 20)),
    # Two shortening levels (2, then 2 more), no layer before them, linear pooling down and
    # repetition up inside the attention resampling.
    "hourglass_two_levels": (
        HG + "vanilla_layers=(0, 1), hierarchy='1@2 1@4 1@2', dropout=0.1, "
        "ff_activation=tl.Relu, attention_downsampling_fn="
        "tl.LinearPooling, attention_upsampling_fn="
        "tl.NaiveUpsampling, mode=MODE)", tokens((5, 8), 20, seed=4)),
    # Linear resampling instead of attention resampling, causal dot-product
    # attention in the token-level layers (as hourglass_imagenet64.gin).
    "hourglass_linear_causal": (
        HG + "vanilla_layers=(1, 1), hierarchy='1@3', dropout=0.1, "
        "vanilla_attn_type=tl.CausalAttention, downsampling_fn="
        "tl.LinearPooling, upsampling_fn=tl.LinearUpsampling, "
        "mode=MODE)", tokens((1, 9), 20, seed=2)),
    # ResidualShuffleExchange: a length of 8 (3-bit rotations) and of 12
    # (4-bit rotations, clipped at the end).
    "rse_one_block": (
        RSE + "vocab_size=5, d_model=8, input_dropout=0.05, dropout=0.1, "
        "n_blocks=1, mode=MODE)", tokens((3, 8), 5)),
    "rse_two_blocks": (
        RSE + "vocab_size=7, d_model=6, input_dropout=0.1, dropout=0.2, "
        "n_blocks=2, mode=MODE)", tokens((1, 12), 7, seed=1)),
}

PREDICT = {
    "transformer2_predict": (
        T2 + "n_encoder_layers=1, n_decoder_layers=2, dropout=0.0, "
        "mode='predict')",
        ragged((3, 9), 20, (9, 4, 6)),
        [tokens((3, 1), 20, seed=i) for i in range(4)]),
}

Q = ramp((3, 4, 8))
KV = ramp((3, 8, 8), 0.5)
LAYERS = {
    "no_upsampling": ("tl.NoUpsampling(3, 8)", ramp((3, 2, 4))),
    "naive_upsampling": ("tl.NaiveUpsampling(2, 8)", ramp((1, 3, 4))),
    "linear_pooling": ("tl.Serial(tl.LinearPooling(2, 6, "
                       "dropout=0.0, mode='eval'))", ramp((3, 4, 5))),
    # Queries shorter than keys (downsampling) and longer (upsampling).
    "rel_attention_lm_down": (
        "tl.RelativeAttentionLMLayer(8, *tl."
        "get_rel_att_inputs(8, 2), 2, n_heads=2, dropout=0.0, mode='eval')",
        (Q, KV, KV)),
    "rel_attention_lm_up": (
        "tl.RelativeAttentionLMLayer(8, *tl."
        "get_rel_att_inputs(8, 4), 1, n_heads=4, dropout=0.0, mode='eval')",
        (KV, Q, Q)),
    # Rotary positions alone, and turning the queries/keys of pure-LSH
    # attention (as hourglass_imagenet64.gin's token-level layers).
    "rotate": ("tl.Rotate()", ramp((3, 5, 6))),
    "purelsh_wrapper_rotary": (
        "tl.PureLSHSelfAttentionWrapper(n_heads=2, d_qk=4, d_v=4, "
        "pure_lsh_implementation=tl.PureLSHSelfAttention, "
        "causal=True, chunk_len=4, n_buckets=2, n_hashes=2, "
        "n_chunks_before=1, n_chunks_after=0, num_weights=2, "
        "rotary_position_emb=True, mode='eval')", ramp((3, 8, 8), 0.2)),
    "shift_right_cls": ("tl.ShiftRightCls(5)",
                        tokens((3, 4), 9).astype(np.float32)),
}

ERRORS = {
    "hourglass_not_palindrome": "trax.models.HourglassLM(10, hierarchy='1@2 1@4')",
    "hourglass_not_divisible": (
        "trax.models.HourglassLM(10, hierarchy='1@2 1@3 1@2')"),
    "hourglass_predict": "trax.models.HourglassLM(10, mode='predict')",
}


def error_record(constructor):
    try:
        eval(constructor)  # pylint: disable=eval-used
    except Exception as e:  # pylint: disable=broad-except
        return {"constructor": constructor, "type": type(e).__name__,
                "message": str(e)}
    raise AssertionError(f"{constructor} did not fail")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=pathlib.Path)
    args = parser.parse_args()
    data = {"env": oc.env("tests/testdata/generate_models_hourglass.py"),
            "cotangent": "cos(0.71 * arange(n)) reshaped",
            "train_rng_seed": gr.TRAIN_RNG_SEED,
            "models": {}, "predict": {}, "layers": {}, "errors": {}}
    for name, (constructor, x) in MODELS.items():
        print(f"model {name}", file=sys.stderr)
        data["models"][name] = gt.terraformer_record(constructor, x)
    for name, (constructor, source, targets) in PREDICT.items():
        print(f"predict {name}", file=sys.stderr)
        data["predict"][name] = gt.terraformer_predict_record(
            constructor, source, targets)
    for name, (constructor, x) in LAYERS.items():
        print(f"layer {name}", file=sys.stderr)
        data["layers"][name] = gr.layer_record(constructor, x)
    for name, constructor in ERRORS.items():
        data["errors"][name] = error_record(constructor)
    oc.write_json_gz(args.out / "trax_oracle" / "models_hourglass"
                     / "models_hourglass.json.gz", data)


if __name__ == "__main__":
    main()
