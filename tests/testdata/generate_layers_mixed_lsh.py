"""Records real Trax's ``MixedLSHSelfAttention``: LSH attention on inputs
longer than ``std_length``, plain dot-product attention on the others.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_layers_mixed_lsh.py OUT

It writes ``OUT/trax_oracle/layers_mixed_lsh/layers_mixed_lsh.json.gz``
(gzip with no name and mtime 0, so a rerun gives the same bytes), with the
record layout of ``generate_layers_purelsh.py`` (whose helpers it uses):

``LAYERS``: each layer initialised with ``get_prng(0)`` and called twice:
repr, arity, weights, state, both outputs and the state after each, and
the gradients of ``sum(y * cot)`` through ``pure_fn``. Causal and masked,
``std_length`` below the length (LSH) and not (dot-product), train mode
with and without dropout, eval mode, batch 3; and the layer inside
``PureLSHSelfAttentionWrapper`` inside a reversible half-residual, whose
gradients come from the layer's ``forward_and_or_backward``.

``PREDICT``: the layer in 'predict' mode fed a prefix and then one
position per call: each output and the final state.

Trax's layer does not pass its key to its two parts: the LSH part's hash
keys come from that part's own seed, which Python's ``random`` draws when
the part is made. Each case seeds it with ``PY_SEED`` first.
"""

import argparse
import functools  # pylint: disable=unused-import  (constructor strings)
import pathlib
import random
import sys

import trax  # pylint: disable=unused-import  (constructor strings)
from trax import layers as tl  # pylint: disable=unused-import

import generate_layers_purelsh as gp  # this folder
import generate_models_reformer as gr  # this folder
import oracle_common as oc  # this folder

ramp, mask = gr.ramp, gr.mask
PY_SEED = 0

MIXED = "tl.MixedLSHSelfAttention("
CAUSAL = (MIXED + "n_heads=2, d_qk=4, d_v=4, causal=True, chunk_len=4, "
          "n_buckets=4, n_hashes=2, ")
MASKED = (MIXED + "n_heads=2, d_qk=4, d_v=4, masked=True, chunk_len=4, "
          "n_chunks_after=1, n_buckets=[2, 2], n_hashes=2, ")
CAUSAL_X = (ramp((6, 16, 4)), ramp((6, 16, 4), 1.0))
MASKED_X = (ramp((6, 16, 4), 2.0), ramp((6, 16, 4), 0.5),
            mask((3, 16), 3, pad_first_row0=True))


def wrapper(std_length, dropout):
    return ("tl.Serial(tl.ReversibleSerial(tl.ReversibleHalfResidual("
            "tl.LayerNorm(), attention_layer=tl.PureLSHSelfAttentionWrapper("
            "pure_lsh_implementation=tl.MixedLSHSelfAttention, n_heads=2, "
            "d_qk=4, d_v=4, causal=True, num_weights=2, bias=False, "
            f"chunk_len=4, n_buckets=4, n_hashes=2, std_length={std_length},"
            f" attention_dropout={dropout}, mode='train')), "
            "tl.ReversibleSwap()), tl.Add())")


LAYERS = {
    # batch 3 x 2 heads, length 16
    "causal_lsh_train": (
        CAUSAL + "std_length=8, mode='train')", CAUSAL_X),
    "causal_lsh_default_std_length_eval": (
        CAUSAL + "mode='eval')", CAUSAL_X),
    "causal_std_train": (
        CAUSAL + "std_length=16, mode='train')", CAUSAL_X),
    "causal_std_dropout_train": (
        CAUSAL + "std_length=32, attention_dropout=0.2, mode='train')",
        CAUSAL_X),
    "causal_lsh_force_no_dropout_train": (
        CAUSAL + "std_length=8, attention_dropout=0.2, "
        "force_no_dropout=True, mode='train')", CAUSAL_X),
    "masked_lsh_eval": (MASKED + "std_length=15, mode='eval')", MASKED_X),
    "masked_std_eval": (MASKED + "std_length=16, mode='eval')", MASKED_X),
    "masked_std_train": (MASKED + "std_length=64, mode='train')", MASKED_X),
    # the reversible backward pass: LSH (reusing the forward's buckets),
    # then dot-product attention
    "reversible_wrapper_lsh_train": (
        wrapper(8, 0.0), (ramp((3, 16, 8), 0.3), ramp((3, 16, 8), 1.3))),
    "reversible_wrapper_std_train": (
        wrapper(16, 0.1), (ramp((3, 16, 8), 0.3), ramp((3, 16, 8), 1.3))),
}

PREDICT_ARGS = ("n_heads=2, d_qk=4, d_v=4, causal=True, chunk_len=2, "
                "n_chunks_before=1, n_hashes=2, n_buckets=4, "
                "predict_mem_len=6, predict_drop_len=2, ")
PIECES = ([(ramp((4, 4, 4)), ramp((4, 4, 4), 1.0))]
          + [(ramp((4, 1, 4), 0.4 * i), ramp((4, 1, 4), 0.3 * i + 1.0))
             for i in range(6)])
PREDICT = {
    # every call through LSH's memory
    "lsh_predict": (MIXED + PREDICT_ARGS + "mode='predict')", PIECES),
    # the prefix through LSH, the single positions through dot-product
    # attention's own cache (which never saw the prefix)
    "mixed_predict": (
        MIXED + PREDICT_ARGS + "std_length=2, mode='predict')", PIECES),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=pathlib.Path)
    args = parser.parse_args()
    data = {"env": oc.env("tests/testdata/generate_layers_mixed_lsh.py"),
            "cotangent": "cos(0.71 * arange(n)) reshaped",
            "py_seed": PY_SEED, "layers": {}, "predict": {}}
    for name, (constructor, x) in LAYERS.items():
        print(f"layer {name}", file=sys.stderr)
        random.seed(PY_SEED)
        data["layers"][name] = gr.layer_record(constructor, x)
    for name, (constructor, pieces) in PREDICT.items():
        print(f"predict {name}", file=sys.stderr)
        random.seed(PY_SEED)
        data["predict"][name] = gp.predict_record(constructor, pieces)
    oc.write_json_gz(args.out / "trax_oracle" / "layers_mixed_lsh"
                     / "layers_mixed_lsh.json.gz", data)


if __name__ == "__main__":
    main()
