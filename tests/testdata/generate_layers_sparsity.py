"""Records real Trax's research sparsity layers
(``trax.layers.research.sparsity``, without the sparse feed-forward blocks):
Dense replacements, the causal attentions built from them, FAVOR+ and the
reversible permutations; ``AttentionQKV`` with ``q_sparsity`` /
``result_sparsity``.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_layers_sparsity.py OUT

It writes ``OUT/trax_oracle/layers_sparsity/layers_sparsity.json.gz`` (gzip
with no name and mtime 0, so a rerun gives the same bytes), with the record
layout of ``generate_models_reformer.py`` (whose helpers it uses):

``LAYERS``: each layer built from its constructor expression (dropout 0),
initialised with ``get_prng(0)`` and called twice (``RandomLayer`` draws its
coin from the key): repr, arity, weight and state trees and values, both
outputs and states, and the gradients of ``sum(y * cot)`` with respect to
the float inputs and the weights through ``pure_fn``.

``PREDICT``: each layer in 'predict' mode, initialised with ``get_prng(0)``
for the given signature, then fed a prefix and one position per call: each
output and the final state. ``EVAL``: the same layers' 'eval'-mode output on
the pieces joined (Trax's predict-equals-eval check).

``PROJECTIONS``: ``FavorAttention.get_2d_array`` for a few shapes (the
random-feature matrix, drawn from ``get_prng(0)`` when the layer is built).
"""

import argparse
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

ramp = gr.ramp


def pad_mask(batch, length, n_pad):
    """PaddingMask's layout, (batch, 1, 1, length): the last ``n_pad``
    positions of each row False (row 0 keeps one more)."""
    m = np.ones((batch, 1, 1, length), dtype=bool)
    m[..., length - n_pad:] = False
    m[0, ..., length - n_pad - 1] = False
    return m


MCCA = "tl.MultiplicativeConvCausalAttention("

LAYERS = {
    "split_last_axis": ("tl.SplitLastAxis(3)", ramp((3, 2, 6))),
    "merge_last_two_axes": ("tl.MergeLastTwoAxes()", ramp((3, 2, 2, 3))),
    "locally_connected_dense_k1": (
        "tl.LocallyConnectedDense(2, 3)", ramp((3, 5, 4))),
    "locally_connected_dense_k3_no_bias": (
        "tl.LocallyConnectedDense(4, 2, kernel_size=3, use_bias=False)",
        ramp((3, 2, 8), 0.5)),
    "locally_connected_dense_one_module": (
        "tl.LocallyConnectedDense(1, 5)", ramp((3, 4))),
    "locally_conv_dense_k3_len3": (
        "tl.LocallyConvDense(4, 3, mode='train', kernel_size=3, "
        "length_kernel_size=3)", ramp((3, 5, 8))),
    "locally_conv_dense_k1": (
        "tl.LocallyConvDense(2, 5, mode='eval')", ramp((1, 4, 6), 1.0)),
    "low_rank_dense": ("tl.LowRankDense(7, 2)", ramp((3, 4, 5))),
    "einsum_dense_bias": ("tl.EinsumDense(5, 7, use_bias=True)",
                          ramp((3, 4, 5))),
    "einsum_dense_no_bias": ("tl.EinsumDense(5, 3, use_bias=False)",
                             ramp((3, 5), 0.2)),
    "factored_dense": ("tl.FactoredDense(3, 5, 6)", ramp((3, 4, 5))),
    "factored_dense_no_bias": ("tl.FactoredDense(2, 4, 8, use_bias=False)",
                               ramp((5, 4), 1.5)),
    "mult_modular_sparse_dense": (
        "tl.MultiplicativeModularSparseDense(4, 8)", ramp((3, 4, 8))),
    "mult_modular_sparse_dense_2": (
        "tl.MultiplicativeModularSparseDense(2, 6)", ramp((1, 3, 6), 0.7)),
    "random_layer": ("tl.RandomLayer(tl.Dense(3), tl.Dense(3), 0.5)",
                     ramp((3, 4))),
    "sparse_dense_none": ("tl.SparseDenseWithOptions(6, d_input=4)",
                          ramp((3, 2, 4))),
    "sparse_dense_mult": (
        "tl.SparseDenseWithOptions(6, d_input=4, sparsity_type='mult', "
        "sparsity=2)", ramp((3, 2, 4))),
    "sparse_dense_lowrank": (
        "tl.SparseDenseWithOptions(6, d_input=4, sparsity_type='lowrank', "
        "sparsity=2, d_lowrank=3)", ramp((3, 2, 4))),
    "sparse_dense_einsum": (
        "tl.SparseDenseWithOptions(6, d_input=4, sparsity_type='einsum', "
        "sparsity=2, use_bias=False)", ramp((3, 2, 4))),
    "sparse_dense_local": (
        "tl.SparseDenseWithOptions(6, d_input=4, sparsity_type='local', "
        "sparsity=2)", ramp((3, 2, 4))),
    "sparse_dense_local3": (
        "tl.SparseDenseWithOptions(8, d_input=8, sparsity_type='local3', "
        "sparsity=4)", ramp((3, 2, 8))),
    "sparse_dense_prob_sparse_train": (
        "tl.SparseDenseWithOptions(6, d_input=4, sparsity_type='mult', "
        "sparsity=2, prob_sparse=0.5, mode='train')", ramp((3, 2, 4))),
    "sparse_dense_prob_sparse_eval": (
        "tl.SparseDenseWithOptions(6, d_input=4, sparsity_type='mult', "
        "sparsity=2, prob_sparse=0.5, mode='eval')", ramp((3, 2, 4))),
    "modular_causal_attention": (
        "tl.ModularCausalAttention(d_feature=8, n_heads=2, sparsity=4, "
        "kernel_size=3)", ramp((3, 5, 8))),
    "modular_causal_attention_heads": (
        "tl.ModularCausalAttention(d_feature=8, n_heads=4)",
        ramp((1, 3, 8), 0.4)),
    "conv_causal_attention": (
        "tl.ConvCausalAttention(d_feature=8, n_heads=2, sparsity=4, "
        "kernel_size=3)", ramp((3, 5, 8))),
    "low_rank_causal_attention": (
        "tl.LowRankCausalAttention(d_feature=6, n_heads=3, lowrank=2)",
        ramp((3, 4, 6))),
    "multiplicative_causal_attention": (
        "tl.MultiplicativeCausalAttention(d_feature=8, n_heads=2, "
        "sparsity=4)", ramp((3, 5, 8))),
    "mult_modular_causal_attention": (
        "tl.MultiplicativeModularCausalAttention(d_feature=8, n_heads=4)",
        ramp((3, 5, 8), 0.3)),
    "mult_conv_default": (
        MCCA + "d_feature=8, n_heads=2, sparsity=4)", ramp((3, 5, 8))),
    "mult_conv_share_qk_multconv_fixed": (
        MCCA + "d_feature=8, n_heads=4, sparsity=2, share_qk=True, "
        "output_layer_type='multconv', v_concat_type='fixed')",
        ramp((3, 5, 8), 0.6)),
    "mult_conv_mult_original_len2": (
        MCCA + "d_feature=6, n_heads=3, length_kernel_size=2, "
        "output_layer_type='mult', v_concat_type='original', dropout=0.3, "
        "force_no_dropout=True)", ramp((1, 4, 6), 0.9)),
    "mult_conv_share_qk_conv_none": (
        MCCA + "d_feature=8, n_heads=2, sparsity=2, share_qk=True, "
        "output_layer_type='conv')", ramp((3, 4, 8), 1.1)),
    "favor_relu": (
        "tl.Favor(d_feature=6, n_heads=2)",
        (ramp((3, 5, 6)), pad_mask(3, 5, 1))),
    "favor_relu_heads": (
        "tl.Favor(d_feature=8, n_heads=4, numerical_stabilizer=0.01)",
        (ramp((1, 4, 8), 0.5), pad_mask(1, 4, 1))),
    "favor_softmax_scaled": (
        "tl.Favor(d_feature=12, n_heads=3, n_random_features=10, "
        "use_approximate_softmax=True, scale_by_norm=True)",
        (ramp((3, 5, 12), 0.2), pad_mask(3, 5, 2))),
    "favor_softmax_normalized": (
        "tl.Favor(d_feature=8, n_heads=2, n_random_features=8, "
        "use_approximate_softmax=True, normalize_data=True)",
        (ramp((3, 4, 8), 1.2), pad_mask(3, 4, 0))),
    "favor_attention": (
        "tl.FavorAttention(d_feature=4, n_heads=2, n_random_features=6, "
        "use_approximate_softmax=True)",
        (ramp((6, 5, 2)), ramp((6, 5, 2), 0.5), ramp((6, 5, 2), 1.0),
         pad_mask(3, 5, 1))),
    "causal_favor": ("tl.CausalFavor(d_feature=6, n_heads=3)",
                     ramp((3, 5, 6))),
    "causal_favor_one_head": (
        "tl.CausalFavor(d_feature=4, numerical_stabilizer=0.1)",
        ramp((1, 7, 4), 0.8)),
    "causal_favor_attention": (
        "tl.CausalFavorAttention()",
        (ramp((5, 6, 3)), ramp((5, 6, 3), 0.5), ramp((5, 6, 2), 1.0))),
    "reversible_reshape_permute": (
        "tl.ReversibleReshapePermute()", ramp((3, 16))),
    "reversible_reshape_permute_64": (
        "tl.ReversibleReshapePermute()", ramp((1, 2, 64))),
    "reversible_random_permute": (
        "tl.ReversibleRandomPermute()", ramp((3, 2, 7))),
    "attention_qkv_sparsity": (
        "tl.AttentionQKV(8, n_heads=2, q_sparsity=4, result_sparsity=2)",
        (ramp((3, 5, 8)), ramp((3, 6, 8), 0.5), ramp((3, 6, 8), 1.0),
         pad_mask(3, 6, 1))),
    "attention_qkv_q_sparsity_noop": (
        "tl.AttentionQKV(6, n_heads=3, q_sparsity=3, result_sparsity='noop')",
        (ramp((1, 4, 6)), ramp((1, 4, 6), 0.5), ramp((1, 4, 6), 1.0),
         pad_mask(1, 4, 0))),
}

# name -> (constructor taking MODE, signature, pieces): a prefix, then one
# position per call.
PREDICT = {
    "locally_conv_dense_len3": (
        "tl.LocallyConvDense(4, 3, mode=MODE, kernel_size=3, "
        "length_kernel_size=3)", ((3, 1, 8), "float32"),
        [ramp((3, 3, 8))] + [ramp((3, 1, 8), 0.3 * i) for i in range(4)]),
    "mult_conv_default": (
        MCCA + "d_feature=8, n_heads=2, sparsity=4, max_inference_length=16,"
        " mode=MODE)", ((3, 1, 8), "float32"),
        [ramp((3, 2, 8), 0.2)] + [ramp((3, 1, 8), 0.5 * i) for i in range(4)]),
    "mult_conv_share_qk_multconv_fixed": (
        MCCA + "d_feature=8, n_heads=4, sparsity=2, share_qk=True, "
        "output_layer_type='multconv', v_concat_type='fixed', "
        "max_inference_length=8, mode=MODE)", ((1, 1, 8), "float32"),
        [ramp((1, 1, 8), 0.4 * i) for i in range(5)]),
    "mult_conv_original_len4": (
        MCCA + "d_feature=6, n_heads=3, length_kernel_size=4, "
        "output_layer_type='conv', v_concat_type='original', "
        "max_inference_length=8, mode=MODE)", ((3, 1, 6), "float32"),
        [ramp((3, 3, 6), 0.1)] + [ramp((3, 1, 6), 0.6 * i) for i in range(3)]),
    "mult_modular_causal_attention": (
        "tl.MultiplicativeModularCausalAttention(d_feature=8, n_heads=2, "
        "max_inference_length=8, mode=MODE)", ((3, 1, 8), "float32"),
        [ramp((3, 2, 8))] + [ramp((3, 1, 8), 0.7 * i) for i in range(3)]),
    "conv_causal_attention": (
        "tl.ConvCausalAttention(d_feature=8, n_heads=2, sparsity=4, "
        "kernel_size=3, max_inference_length=8, mode=MODE)",
        ((1, 1, 8), "float32"),
        [ramp((1, 1, 8), 0.3 * i) for i in range(4)]),
}

PROJECTIONS = [
    {"n_rows": 10, "n_columns": 4, "scale_by_norm": True},
    {"n_rows": 6, "n_columns": 3, "scale_by_norm": False},
    {"n_rows": 3, "n_columns": 5, "scale_by_norm": True},
]


def first(y):
    """The activations of a layer that also passes its mask on."""
    return y[0] if isinstance(y, (tuple, list)) else y


def layer_record(constructor, x):
    """``gr.layer_record`` for layers with one or more outputs; the
    gradients are those of ``sum(y * cot)`` over the first output."""
    layer = eval(constructor)  # pylint: disable=eval-used
    record = {"constructor": constructor, "repr": str(layer),
              "n_in": layer.n_in, "n_out": layer.n_out,
              "input": gr.value(x)}
    x = gr.as_jax(x)
    layer.init(shapes.signature(x), rng=trax_random.get_prng(0))
    weights, state, rng = layer.weights, layer.state, layer.rng
    record.update({"weights_typed": oc.tree_typed(weights),
                   "state_typed": oc.tree_typed(state),
                   "weights": oc.nested(weights, oc.array),
                   "state": oc.nested(state, oc.array),
                   "rng_after_init": oc.array(rng)})
    record["output"] = gr.value(layer(x))
    record["state_after_call"] = oc.nested(layer.state, oc.array)
    record["output_2"] = gr.value(layer(x))
    record["state_after_call_2"] = oc.nested(layer.state, oc.array)
    xs = x if isinstance(x, tuple) else (x,)
    is_float = [np.issubdtype(np.asarray(a).dtype, np.floating) for a in xs]

    def loss(float_xs, w):
        it = iter(float_xs)
        full = tuple(next(it) if f else a for a, f in zip(xs, is_float))
        y, _ = layer.pure_fn(full if isinstance(x, tuple) else full[0], w,
                             state, rng)
        y = first(y)
        return jnp.sum(y * gr.cotangent(y.shape))
    float_xs = tuple(a for a, f in zip(xs, is_float) if f)
    x_grad, w_grad = jax.grad(loss, argnums=(0, 1))(float_xs, weights)
    record["grad_float_inputs"] = gr.value(x_grad)
    record["grad_weights"] = oc.nested(w_grad, oc.array)
    return record


def eval_record(constructor, pieces):
    layer = eval(constructor.replace("MODE", "'eval'"))  # pylint: disable=eval-used
    x = jnp.asarray(np.concatenate(pieces, axis=1))
    layer.init(shapes.signature(x), rng=trax_random.get_prng(0))
    return oc.array(layer(x))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=pathlib.Path)
    args = parser.parse_args()
    data = {"env": oc.env("tests/testdata/generate_layers_sparsity.py"),
            "cotangent": "cos(0.71 * arange(n)) reshaped",
            "layers": {}, "predict": {}, "eval": {}, "projections": []}
    for name, (constructor, x) in LAYERS.items():
        print(f"layer {name}", file=sys.stderr)
        data["layers"][name] = layer_record(constructor, x)
    for name, (constructor, signature, pieces) in PREDICT.items():
        print(f"predict {name}", file=sys.stderr)
        data["predict"][name] = gr.predict_record(
            constructor.replace("MODE", "'predict'"), signature, pieces)
        data["eval"][name] = eval_record(constructor, pieces)
    for kwargs in PROJECTIONS:
        matrix = tl.FavorAttention.get_2d_array(
            rng=trax_random.get_prng(0), **kwargs)
        data["projections"].append({"kwargs": kwargs,
                                    "matrix": oc.array(matrix)})
    oc.write_json_gz(args.out / "trax_oracle" / "layers_sparsity"
                     / "layers_sparsity.json.gz", data)


if __name__ == "__main__":
    main()
