"""Records real Trax's ConfigurableTerraformer in 'eval' and 'predict'
mode with causal dot-product attention in the decoder (which, in 'predict'
mode, reads the encoder's padding mask), with and without
``reversible_encoder``, and with ``half_before_layer`` /
``double_after_layer``.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_terraformer_predict.py OUT

It writes ``OUT/trax_oracle/terraformer_predict/terraformer_predict.json.gz``
(gzip with no name and mtime 0, so a rerun gives the same bytes). For each
model of ``MODELS`` (constructor with ``MODE``, source and target tokens):

``eval``: the model in 'eval' mode initialised with ``get_prng(0)``: repr,
weight structure, every weight as SHA-256 plus sum and first values, and
the output for (source, target).

``predict``: the model in 'predict' mode initialised with ``get_prng(0)``
for a one-token target: repr, weight summaries, state structure; then,
given the 'eval' model's weights (``save_to_file``, ``init_from_file``
with ``weights_only=True``, as Trax's predict-equals-eval test does), called
with the source and one target token per call, the tokens the 'eval'
model's ShiftRight gives (0, then the target's tokens but the last): each
call's logits. For a batch of one these are the eval output's positions.
"""

import argparse
import pathlib
import sys
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
import trax  # pylint: disable=unused-import  (constructor strings)
from trax import layers as tl  # pylint: disable=unused-import
from trax import shapes
from trax.fastmath import random as trax_random

import generate_models_reformer as gr  # this folder
import oracle_common as oc  # this folder

tokens = gr.tokens
TINY = ("trax.models.ConfigurableTerraformer(input_vocab_size=20, "
        "n_heads=2, dropout=0.0, max_len=24, n_encoder_layers=1, "
        "encoder_attention_type=tl.Attention, "
        "encoder_decoder_attention_type=tl.CausalAttention, ")
MODELS = {
    # as Trax's predict-equals-eval test: SRU (batch 1 only in Trax's
    # predict mode), reversible encoder, one attention layer per block
    "reversible_sru": (
        TINY + "d_model=8, d_ff=16, n_decoder_layers=1, ff_use_sru=(1, 8), "
        "n_decoder_attention_layers=1, reversible_encoder=True, "
        "pos_type=None, mode=MODE)",
        tokens((1, 7), 20, n_pad=2), tokens((1, 5), 20, seed=2)),
    # batch 3, rows of different padding lengths
    "reversible_batch3": (
        TINY + "d_model=16, d_ff=32, n_decoder_layers=2, "
        "reversible_encoder=True, pos_type=None, mode=MODE)",
        None, tokens((3, 5), 20, seed=3)),
    # the averaging encoder, with fixed-base positional encodings
    "averaged_batch3": (
        TINY + "d_model=16, d_ff=32, n_decoder_layers=1, mode=MODE)",
        tokens((3, 7), 20, n_pad=3, seed=1), tokens((3, 5), 20, seed=4)),
    # halved before decoder block 1, doubled after it (widths 4, 8, 16)
    "doubling": (
        TINY + "d_model=8, d_ff=16, n_decoder_layers=3, "
        "half_before_layer=1, double_after_layer=1, "
        "n_decoder_attention_layers=1, pos_type=None, mode=MODE)",
        tokens((3, 7), 20, n_pad=2, seed=5), tokens((3, 5), 20, seed=6)),
    # only doubled, with the reversible encoder, batch 1
    "doubling_reversible": (
        TINY + "d_model=8, d_ff=16, n_decoder_layers=2, "
        "double_after_layer=1, reversible_encoder=True, pos_type=None, "
        "mode=MODE)",
        tokens((1, 7), 20, n_pad=1, seed=7), tokens((1, 4), 20, seed=8)),
}


def _ragged_source():
    source = tokens((3, 7), 20, seed=9)
    source[0, 5:] = 0
    source[1, 3:] = 0
    return source


def _shifted(target):
    return np.concatenate([np.zeros_like(target[:, :1]), target[:, :-1]],
                          axis=1)


def record(constructor, source, target):
    make = lambda mode: eval(constructor.replace("MODE", repr(mode)))  # pylint: disable=eval-used
    rec = {"constructor": constructor, "source": oc.array(source),
           "target": oc.array(target)}
    eval_model = model = make("eval")
    x = (jnp.asarray(source), jnp.asarray(target))
    model.init(shapes.signature(x), rng=trax_random.get_prng(0))
    rec["eval"] = {
        "repr": str(model), "weights_typed": oc.tree_typed(model.weights),
        "weights": [gr.leaf_summary(w, True)
                    for w in jax.tree_util.tree_leaves(model.weights)],
        "output": gr.value(model(x))}
    model = make("predict")
    first = jnp.asarray(target[:, :1])
    model.init((shapes.signature(x[0]), shapes.signature(first)),
               rng=trax_random.get_prng(0))
    pred = {"repr": str(model),
            "weights": [gr.leaf_summary(w, True)
                        for w in jax.tree_util.tree_leaves(model.weights)],
            "state_typed": oc.tree_typed(model.state), "outputs": []}
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "weights.pkl.gz"
        eval_model.save_to_file(str(path))
        model.init_from_file(str(path), weights_only=True,
                             input_signature=(shapes.signature(x[0]),
                                              shapes.signature(first)))
    for i in range(target.shape[1]):
        piece = jnp.asarray(_shifted(target)[:, i:i + 1])
        logits, _ = model((x[0], piece))
        pred["outputs"].append(oc.array(logits))
    rec["predict"] = pred
    return rec


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=pathlib.Path)
    args = parser.parse_args()
    data = {"env": oc.env("tests/testdata/generate_terraformer_predict.py"),
            "models": {}}
    for name, (constructor, source, target) in MODELS.items():
        print(f"terraformer {name}", file=sys.stderr)
        if source is None:
            source = _ragged_source()
        data["models"][name] = record(constructor, source, target)
    oc.write_json_gz(args.out / "trax_oracle" / "terraformer_predict"
                     / "terraformer_predict.json.gz", data)


if __name__ == "__main__":
    main()
