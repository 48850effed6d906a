"""Records real Trax's attention layers (``trax.layers.attention``).

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_layers_attention.py OUT

It writes ``OUT/trax_oracle/layers_attention/layers_attention.json.gz``
(gzip as ``make_testdata.py`` writes it: byte-for-byte reproducible); the
README.md next to it describes the fields. With OUT = ``tests/testdata`` it
replaces the committed data. Each case of ``CASES`` builds a
layer from its constructor expression (``tl = trax.layers``, ``A =
trax.layers.attention``), initialises it with ``init(signature(inputs),
rng=get_prng(0))`` and records its repr, arity, weight and state trees, the
initial weights, the outputs of ``layer(inputs, rng=get_prng(1))``, the
state after that call, and the gradients of ``sum(outputs * cotangents)``
with respect to the weights and the float inputs (``pure_fn``, same key).
A case with ``predict`` also builds the layer in 'predict' mode, feeds the
inputs in chunks along axis 1 and records each chunk's output and the
final state. ``ERRORS``: what Trax raises for misuse.
"""

import argparse
import pathlib
import sys

import jax
import numpy as np

from trax import layers as tl
from trax import shapes
from trax.fastmath import random as trax_random
from trax.layers import attention as A  # pylint: disable=unused-import

import make_testdata  # this folder
import oracle_common as oc  # this folder

F32 = np.float32
RNG = np.random.RandomState(27)


def floats(*shape):
    return RNG.uniform(-1.0, 1.0, shape).astype(F32)


X = floats(2, 5, 4)  # batch 2, length 5, d_model 4
MASK = np.array([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0]], bool).reshape(2, 1, 1, 5)
Q3 = floats(2, 3, 4)
HEADS_Q, HEADS_K, HEADS_V = floats(4, 3, 2), floats(4, 5, 2), floats(4, 5, 2)
HEADS_MASK = np.array([[1, 1, 1, 0, 0]] * 2 + [[1, 1, 1, 1, 1]] * 2,
                      bool).reshape(4, 1, 5)
IDS = np.array([[3, 7, 1, 0, 0], [5, 0, 2, 9, 0]], np.int32)
PE_X = floats(2, 6, 4)

# name -> (constructor, inputs, options). Options: "predict": chunk lengths
# along axis 1 for a 'predict'-mode copy (the constructor's "{mode}" is
# 'eval' for the main record and 'predict' there); "train": a constructor
# whose train-mode output (with dropout, key get_prng(1)) is recorded too.
CASES = {
    "attention": (
        "tl.Attention(4, n_heads=2, mode='{mode}')", (X, MASK),
        {"train": "tl.Attention(4, n_heads=2, dropout=0.5, mode='train')"}),
    "attention_qkv": (
        "tl.AttentionQKV(4, n_heads=2, mode='{mode}')",
        (Q3, X, X[:, ::-1] * 2.0, MASK),
        {"train": "tl.AttentionQKV(4, n_heads=2, dropout=0.25)"}),
    "attention_qkv_noop": (
        "tl.AttentionQKV(4, n_heads=2, q_sparsity='noop', "
        "result_sparsity='noop', mode='{mode}')", (X, X, X, MASK), {}),
    "causal_attention": (
        "tl.CausalAttention(4, n_heads=2, max_inference_length=8, "
        "mode='{mode}')", (X,),
        {"predict": [2, 1, 1, 1],
         "train": "tl.CausalAttention(4, n_heads=2, dropout=0.5)"}),
    "pure_attention": (
        "tl.PureAttention(n_heads=2, mode='{mode}')", (Q3, X, X * 0.5, MASK),
        {"train": "tl.PureAttention(n_heads=2, dropout=0.5)"}),
    "dot_product_attention": (
        "A.DotProductAttention(mode='{mode}')",
        (HEADS_Q, HEADS_K, HEADS_V, HEADS_MASK),
        {"train": "A.DotProductAttention(dropout=0.5)"}),
    "dot_product_causal_attention": (
        "tl.DotProductCausalAttention(max_inference_length=6, "
        "mode='{mode}')", (HEADS_K, HEADS_V * 2.0, HEADS_V),
        {"predict": [1, 3, 1],
         "train": "tl.DotProductCausalAttention(dropout=0.5)"}),
    "split_into_heads": ("tl.SplitIntoHeads(2)", (X,), {}),
    "split_into_heads_unmerged": (
        "tl.SplitIntoHeads(2, merged_batch_and_head=False)", (X,), {}),
    "merge_heads": ("tl.MergeHeads(2)", (HEADS_K,), {}),
    "merge_heads_unmerged": (
        "tl.MergeHeads(2, merged_batch_and_head=False)",
        (HEADS_K.reshape(2, 2, 5, 2),), {}),
    "padding_mask": ("tl.PaddingMask()", (IDS,), {}),
    "padding_mask_pad3": ("tl.PaddingMask(pad=3)", (IDS,), {}),
    "encoder_decoder_mask": ("tl.EncoderDecoderMask()", (Q3, MASK), {}),
    "positional_encoding": (
        "tl.PositionalEncoding(max_len=8, mode='{mode}')", (PE_X,),
        {"predict": [1, 2, 1, 2],
         "train": "tl.PositionalEncoding(max_len=8, dropout=0.5)"}),
    "positional_encoding_d_feature": (
        "tl.PositionalEncoding(max_len=8, d_feature=6, mode='{mode}')",
        (PE_X,), {"predict": [3, 1, 2]}),
    "positional_encoding_random_start": (
        "tl.PositionalEncoding(max_len=10, start_from_zero_prob=0.0, "
        "max_offset_to_add=4)", (PE_X,),
        {"train": "tl.PositionalEncoding(max_len=10, "
                  "start_from_zero_prob=0.0, max_offset_to_add=4)"}),
    "configurable_attention": (
        "tl.ConfigurableAttention(tl.Dense(4), tl.Dense(4), tl.Dense(4), "
        "tl.Dense(4), tl.DotProductCausalAttention(mode='{mode}'), "
        "n_heads=2)", (X,), {}),
    "configurable_attention_masked": (
        "tl.ConfigurableAttention(tl.Dense(4), tl.Dense(4), tl.Dense(4), "
        "tl.Dense(4), A.DotProductAttention(mode='{mode}'), n_heads=2)",
        (X, MASK[0]), {}),
}


def _run(call):
    try:
        call()
    except Exception as e:  # pylint: disable=broad-except
        # The underlying error's line: not gin's "In call to configurable"
        # note, not JAX's traceback note, not AssertShape's source path.
        lines = [line for line in
                 str(e).split("\n--------------------\n")[0].splitlines()
                 if not line.startswith("  In call to configurable")]
        last = lines[-1].split(" Defined at ")[0] if lines else ""
        return {"raised": True, "error_type": type(e).__name__,
                "last_line": last}
    return {"raised": False}


def _called(constructor, x, mode="eval"):
    layer = eval(constructor.format(mode=mode))  # pylint: disable=eval-used
    layer.init(shapes.signature(x))
    return layer(x)


ERRORS = {
    "causal_attention_heads": lambda: tl.CausalAttention(6, n_heads=4),
    "pure_attention_heads": lambda: _called(
        "tl.PureAttention(n_heads=3)", (Q3, X, X, MASK)),
    "dropout_one": lambda: _called(
        "tl.PureAttention(n_heads=2, dropout=1.0)", (Q3, X, X, MASK)),
    "split_heads": lambda: _called("tl.SplitIntoHeads(3)", X),
    "merge_heads": lambda: _called("tl.MergeHeads(3)", HEADS_K),
    "padding_mask_rank": lambda: _called("tl.PaddingMask()", X),
    "encoder_decoder_mask_rank": lambda: _called(
        "tl.EncoderDecoderMask()", (IDS, MASK)),
    "positional_encoding_dropout_one":
        lambda: tl.PositionalEncoding(dropout=1.0),
    "attention_wrong_mask_shape": lambda: _called(
        "tl.Attention(4, n_heads=2)", (X, MASK.reshape(2, 1, 5, 1))),
}


def _value(x):
    if isinstance(x, (tuple, list)):
        return [oc.array(t) for t in x]
    return [oc.array(x)]


def _packed(xs):
    return xs[0] if len(xs) == 1 else tuple(xs)


def _is_float(a):
    return np.issubdtype(np.asarray(a).dtype, np.floating)


def _gradients(layer, xs, cotangents, rng):
    """d sum(outputs * cotangents) / d (weights, float inputs)."""
    float_ids = [i for i, a in enumerate(xs) if _is_float(a)]
    weights, state = layer.weights, layer.state

    def loss(w, floats_in):
        full = list(xs)
        for i, a in zip(float_ids, floats_in):
            full[i] = a
        out, _ = layer.pure_fn(_packed(full), w, state, rng)
        out = out if isinstance(out, (tuple, list)) else (out,)
        return sum((o * c).sum() for o, c in zip(out, cotangents)
                   if c is not None)

    gw, gx = jax.grad(loss, argnums=(0, 1))(
        weights, [np.asarray(xs[i]) for i in float_ids])
    return {"weights": oc.nested(gw, oc.array),
            "inputs": {str(i): oc.array(g) for i, g in zip(float_ids, gx)}}


def _predict_record(constructor, xs, chunks, weights):
    layer = eval(constructor.format(mode="predict"))  # pylint: disable=eval-used
    layer.init(shapes.signature(_packed(xs)), rng=trax_random.get_prng(0))
    same = jax.tree_util.tree_all(jax.tree_util.tree_map(
        lambda a, b: bool(np.array_equal(a, b)), layer.weights, weights))
    initial_state = oc.tree_typed(layer.state)
    outputs, start = [], 0
    for n in chunks:
        chunk = tuple(x[:, start:start + n] for x in xs)
        outputs.append(_value(layer(_packed(chunk),
                                    rng=trax_random.get_prng(1))))
        start += n
    return {"constructor": constructor.format(mode="predict"),
            "chunks": chunks, "weights_equal_eval_weights": bool(same),
            "initial_state_typed": initial_state,
            "outputs": outputs,
            "state_after": oc.nested(layer.state, oc.array)}


def case_record(constructor, xs, options):
    expr = constructor.format(mode="eval")
    layer = eval(expr)  # pylint: disable=eval-used
    x = _packed(xs)
    layer.init(shapes.signature(x), rng=trax_random.get_prng(0))
    weights, state = layer.weights, layer.state
    record = {"constructor": expr, "repr": str(layer), "name": layer.name,
              "n_in": layer.n_in, "n_out": layer.n_out,
              "inputs": _value(xs),
              "weights_typed": oc.tree_typed(weights),
              "state_typed": oc.tree_typed(state),
              "weights": oc.nested(weights, oc.array)}
    out = layer(x, rng=trax_random.get_prng(1))
    record["outputs"] = _value(out)
    record["state_after"] = oc.nested(layer.state, oc.array)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    cotangents = [RNG.uniform(-1, 1, np.shape(o)).astype(F32)
                  if _is_float(o) else None for o in outs]
    if any(c is not None for c in cotangents):
        record["cotangents"] = [None if c is None else oc.array(c)
                                for c in cotangents]
        layer.state = state
        record["gradients"] = _gradients(layer, xs, cotangents,
                                         trax_random.get_prng(1))
    if "predict" in options:
        record["predict"] = _predict_record(constructor, xs,
                                            options["predict"], weights)
    if "train" in options:
        train = eval(options["train"])  # pylint: disable=eval-used
        train.init(shapes.signature(x), rng=trax_random.get_prng(0))
        record["train"] = {
            "constructor": options["train"],
            "outputs": _value(train(x, rng=trax_random.get_prng(1)))}
    return record


def attention_json():
    return {
        "description": "Real trax.layers.attention behaviour; see README.md.",
        "env": oc.env("generate_layers_attention.py"),
        "init_rng": "trax.fastmath.random.get_prng(0)",
        "call_rng": "trax.fastmath.random.get_prng(1)",
        "cases": {name: case_record(*spec) for name, spec in CASES.items()},
        "errors": {name: _run(call) for name, call in ERRORS.items()},
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=pathlib.Path,
                        help="output folder: files go to OUT/trax_oracle/...")
    args = parser.parse_args(argv)
    path = (args.out / "trax_oracle" / "layers_attention" /
            "layers_attention.json")
    oc.write_json(path, attention_json(), indent=None)
    gz = path.with_name(path.name + ".gz")
    gz.write_bytes(make_testdata.gzip_bytes(path.read_bytes()))
    path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
