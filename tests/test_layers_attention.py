"""Trax's attention layers against real Trax (the oracle written by
``testdata/generate_layers_attention.py``), and predict mode: a sequence fed
in pieces, through the layer or its Flax module, gives the outputs of the
whole sequence."""

import jax
import numpy as np
import pytest

from trax_compat import fastmath
from trax_compat import layers as tl
from trax_compat import shapes
from trax_compat.layers import attention as A
from trax_compat.gin_registry import unwrapped

from conftest import load_oracle_json
from conftest import oracle_array
from conftest import without_gin_note
from test_layer_oracle_models import _assert_values_bitwise
from test_layer_oracle_models import _typed

# The cases of layers_attention.json, in its order (checked below), so that
# collecting the tests reads no file.
CASES = ("attention", "attention_qkv", "attention_qkv_noop",
         "causal_attention", "pure_attention", "dot_product_attention",
         "dot_product_causal_attention", "split_into_heads",
         "split_into_heads_unmerged", "merge_heads", "merge_heads_unmerged",
         "padding_mask", "padding_mask_pad3", "encoder_decoder_mask",
         "positional_encoding", "positional_encoding_d_feature",
         "positional_encoding_random_start", "configurable_attention",
         "configurable_attention_masked")
WITH_PREDICT = ("causal_attention", "dot_product_causal_attention",
                "positional_encoding", "positional_encoding_d_feature")
WITH_TRAIN = ("attention", "attention_qkv", "causal_attention",
              "pure_attention", "dot_product_attention",
              "dot_product_causal_attention", "positional_encoding",
              "positional_encoding_random_start")
# Within 1e-6 relative, plus 1e-7 absolute (under 1 float32 ulp at 1.0):
# the oracle's jax 0.4.34 rounds logsumexp and the attention matmuls
# differently in the last bit, and values that are sums of terms of both
# signs (attention outputs near 0, their gradients) then differ by a few
# 1e-8 absolutely, which is a large relative error near zero. Weights are
# compared bit for bit.
RTOL, ATOL = 1e-6, 1e-7
# Gradients sum more products than outputs: their last bits follow the
# CPU's vector instructions (the oracle was made on another CPU), a few
# float32 ulps apart.
GRAD_RTOL, GRAD_ATOL = 1e-5, 1e-6


@pytest.fixture(scope="module")
def oracle():
    return load_oracle_json("layers_attention/layers_attention.json")


def _inputs(case):
    xs = [oracle_array(a) for a in case["inputs"]]
    return xs[0] if len(xs) == 1 else tuple(xs)


def _build(constructor, x):
    layer = eval(constructor)  # pylint: disable=eval-used
    layer.init(shapes.signature(x), rng=fastmath.random.get_prng(0))
    return layer


def _assert_outputs(actual, expected):
    actual = actual if isinstance(actual, tuple) else (actual,)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        e = oracle_array(e)
        assert np.asarray(a).dtype == e.dtype and np.shape(a) == e.shape
        np.testing.assert_allclose(a, e, rtol=RTOL, atol=ATOL)


def _assert_tree_close(actual, expected, rtol=RTOL, atol=ATOL):
    if expected is None:
        assert actual == ()
        return
    if isinstance(expected, list):
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected):
            _assert_tree_close(a, e, rtol, atol)
        return
    np.testing.assert_allclose(actual, oracle_array(expected), rtol=rtol,
                               atol=atol)


def test_case_list_is_the_oracles(oracle):
    assert tuple(oracle["cases"]) == CASES
    assert tuple(n for n, c in oracle["cases"].items()
                 if "predict" in c) == WITH_PREDICT
    assert tuple(n for n, c in oracle["cases"].items()
                 if "train" in c) == WITH_TRAIN


@pytest.mark.parametrize("name", CASES)
def test_structure_and_initial_weights_match_trax(name, oracle):
    case = oracle["cases"][name]
    layer = _build(case["constructor"], _inputs(case))
    assert str(layer) == case["repr"]
    assert (layer.name, layer.n_in, layer.n_out) == (
        case["name"], case["n_in"], case["n_out"])
    assert _typed(layer.weights) == case["weights_typed"]
    assert _typed(layer.state) == case["state_typed"]
    _assert_values_bitwise(layer.weights, case["weights"])


@pytest.mark.parametrize("name", CASES)
def test_outputs_and_state_match_trax(name, oracle):
    case = oracle["cases"][name]
    x = _inputs(case)
    layer = _build(case["constructor"], x)
    _assert_outputs(layer(x, rng=fastmath.random.get_prng(1)),
                    case["outputs"])
    _assert_tree_close(layer.state, case["state_after"])


@pytest.mark.parametrize("name", [n for n in CASES if n not in (
    "padding_mask", "padding_mask_pad3")])
def test_gradients_match_trax(name, oracle):
    case = oracle["cases"][name]
    x = _inputs(case)
    xs = x if isinstance(x, tuple) else (x,)
    layer = _build(case["constructor"], x)
    cotangents = [None if c is None else oracle_array(c)
                  for c in case["cotangents"]]
    float_ids = [int(i) for i in case["gradients"]["inputs"]]
    rng = fastmath.random.get_prng(1)

    def loss(weights, floats):
        full = list(xs)
        for i, a in zip(float_ids, floats):
            full[i] = a
        out, _ = layer.pure_fn(full[0] if len(full) == 1 else tuple(full),
                               weights, layer.state, rng)
        out = out if isinstance(out, tuple) else (out,)
        return sum((o * c).sum() for o, c in zip(out, cotangents)
                   if c is not None)

    grad_w, grad_x = jax.grad(loss, argnums=(0, 1))(
        layer.weights, [xs[i] for i in float_ids])
    _assert_tree_close(grad_w, case["gradients"]["weights"], GRAD_RTOL,
                       GRAD_ATOL)
    for i, g in zip(float_ids, grad_x):
        np.testing.assert_allclose(
            g, oracle_array(case["gradients"]["inputs"][str(i)]),
            rtol=GRAD_RTOL, atol=GRAD_ATOL)


@pytest.mark.parametrize("name", WITH_TRAIN)
def test_train_mode_dropout_matches_trax(name, oracle):
    """Dropout masks are drawn from the same keys as Trax's."""
    case = oracle["cases"][name]
    x = _inputs(case)
    layer = _build(case["train"]["constructor"], x)
    _assert_outputs(layer(x, rng=fastmath.random.get_prng(1)),
                    case["train"]["outputs"])


@pytest.mark.parametrize("name", WITH_PREDICT)
def test_predict_mode_pieces_match_trax(name, oracle):
    case = oracle["cases"][name]
    predict = case["predict"]
    x = _inputs(case)
    xs = x if isinstance(x, tuple) else (x,)
    layer = _build(predict["constructor"], x)
    assert _typed(layer.state) == predict["initial_state_typed"]
    start = 0
    for n, expected in zip(predict["chunks"], predict["outputs"]):
        piece = tuple(a[:, start:start + n] for a in xs)
        _assert_outputs(layer(piece[0] if len(piece) == 1 else piece,
                              rng=fastmath.random.get_prng(1)), expected)
        start += n
    _assert_tree_close(layer.state, predict["state_after"])


@pytest.mark.parametrize("name", ("causal_attention", "positional_encoding",
                                  "dot_product_causal_attention"))
def test_predict_pieces_equal_the_whole_sequence(name, oracle):
    case = oracle["cases"][name]
    x = _inputs(case)
    xs = x if isinstance(x, tuple) else (x,)
    whole = _build(case["constructor"], x)(x)
    layer = _build(case["predict"]["constructor"], x)
    pieces = []
    for i in range(xs[0].shape[1]):  # one position at a time
        piece = tuple(a[:, i:i + 1] for a in xs)
        pieces.append(layer(piece[0] if len(piece) == 1 else piece))
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), whole,
                               rtol=RTOL, atol=ATOL)


def test_predict_positional_encoding_with_d_feature_is_traxs():
    """Trax cuts the d_feature table to the piece's length before slicing it
    at the current position, so later pieces get the first positions'
    encodings; kept for fidelity (the whole sequence at once is right)."""
    x = np.random.RandomState(0).randn(1, 4, 2).astype(np.float32)
    eval_layer = _build("tl.PositionalEncoding(8, d_feature=4, mode='eval')",
                        x)
    layer = _build("tl.PositionalEncoding(8, d_feature=4, mode='predict')", x)
    np.testing.assert_array_equal(layer(x), eval_layer(x))
    first = layer(x[:, :1])
    np.testing.assert_array_equal(first - x[:, :1],
                                  eval_layer(x)[:, :1] - x[:, :1])


def _flax_decode(layer, x):
    """Feeds ``x`` one position at a time to ``layer``'s Flax module,
    carrying the ``state`` collection; returns the outputs, concatenated."""
    module, variables = layer.to_flax()
    outputs = []
    for i in range(x.shape[1]):
        y, updated = module.apply(variables, x[:, i:i + 1], mutable=["state"])
        variables = {**variables, **updated}
        outputs.append(y)
    return np.concatenate(outputs, axis=1), variables


def test_causal_attention_decodes_in_flax_one_token_at_a_time():
    x = np.random.RandomState(1).randn(2, 6, 8).astype(np.float32)
    eval_layer = tl.CausalAttention(8, n_heads=2, mode="eval")
    eval_layer.init(shapes.signature(x))
    layer = tl.CausalAttention(8, n_heads=2, max_inference_length=6,
                               mode="predict")
    layer.init(shapes.signature(x[:, :1]))
    layer.weights = eval_layer.weights
    decoded, variables = _flax_decode(layer, x)
    np.testing.assert_allclose(decoded, eval_layer(x), rtol=RTOL, atol=ATOL)
    # The key/value cache is the Flax state, named, and has seen 6 positions.
    leaves = jax.tree_util.tree_leaves_with_path(variables["state"])
    names = {jax.tree_util.keystr(p).split("'")[-2]: v for p, v in leaves}
    assert set(names) == {"cached_key", "cached_value", "cache_index"}
    assert int(names["cache_index"]) == 6
    assert names["cached_key"].shape == (4, 6, 4)  # batch * heads


def test_positional_encoding_decodes_in_flax_one_token_at_a_time():
    x = np.random.RandomState(2).randn(2, 5, 4).astype(np.float32)
    layer = tl.PositionalEncoding(max_len=8, mode="predict")
    layer.init(shapes.signature(x[:, :1]))
    decoded, variables = _flax_decode(layer, x)
    whole = tl.PositionalEncoding(max_len=8, mode="eval")
    whole.init(shapes.signature(x))
    np.testing.assert_allclose(decoded, whole(x), rtol=RTOL, atol=ATOL)
    assert int(variables["state"]["index"]) == 5
    assert set(variables["params"]) == {"encoding"}


def test_predict_state_restart_changes_the_result():
    """Without the cache carried over, a second token would attend to
    itself alone: the state matters."""
    x = np.random.RandomState(3).randn(1, 2, 4).astype(np.float32)
    layer = tl.CausalAttention(4, n_heads=2, mode="predict")
    layer.init(shapes.signature(x[:, :1]))
    fresh = layer.state
    layer(x[:, :1])
    second = layer(x[:, 1:2])
    layer.state = fresh
    restarted = layer(x[:, 1:2])
    assert not np.allclose(second, restarted, atol=1e-4)


@pytest.mark.parametrize("name", ("causal_attention_heads",
                                  "pure_attention_heads", "dropout_one",
                                  "split_heads", "merge_heads",
                                  "encoder_decoder_mask_rank",
                                  "positional_encoding_dropout_one"))
def test_errors_match_trax(name, oracle):
    expected = oracle["errors"][name]
    x, mask = np.zeros((2, 5, 4), np.float32), np.ones((2, 1, 1, 5), bool)
    q = np.zeros((2, 3, 4), np.float32)
    calls = {
        "causal_attention_heads": lambda: tl.CausalAttention(6, n_heads=4),
        "pure_attention_heads": lambda: _build(
            "tl.PureAttention(n_heads=3)", (q, x, x, mask))((q, x, x, mask)),
        "dropout_one": lambda: _build(
            "tl.PureAttention(n_heads=2, dropout=1.0)",
            (q, x, x, mask))((q, x, x, mask)),
        "split_heads": lambda: _build("tl.SplitIntoHeads(3)", x)(x),
        "merge_heads": lambda: tl.MergeHeads(3)(
            np.zeros((4, 5, 2), np.float32)),
        "encoder_decoder_mask_rank": lambda: tl.EncoderDecoderMask()(
            (np.zeros((2, 5), np.int32), mask)),
        "positional_encoding_dropout_one":
            lambda: tl.PositionalEncoding(dropout=1.0),
    }
    with pytest.raises(Exception) as info:
        calls[name]()
    assert type(info.value).__name__ == expected["error_type"]
    assert without_gin_note(info.value).rstrip().endswith(
        expected["last_line"])


@pytest.mark.parametrize("name", ("padding_mask_rank",
                                  "attention_wrong_mask_shape"))
def test_shape_asserts_reject_what_trax_rejects(name, oracle):
    expected = oracle["errors"][name]
    x = np.zeros((2, 5, 4), np.float32)
    with pytest.raises(tl.LayerError) as info:
        if name == "padding_mask_rank":
            tl.PaddingMask()(x)
        else:  # Trax fails in init already
            _build("tl.Attention(4, n_heads=2)",
                   (x, np.ones((2, 1, 5, 1), bool)))
    # Trax's message also lists the letters bound so far.
    prefix = expected["last_line"].split(" with dict")[0].rstrip(".")
    assert prefix.split("got")[0] in str(info.value)


def test_dot_product_attention_is_traxs_attention_module_class():
    """Real Trax's ``tl.DotProductAttention`` is shadowed by a research
    function; ours is ``trax.layers.attention.DotProductAttention``."""
    assert unwrapped(tl.DotProductAttention) is A.DotProductAttention
    assert repr(A.DotProductAttention()) == "DotProductAttention_in4"


def test_research_sparsity_builds_traxs_layers():
    # q_sparsity/result_sparsity: FactoredDense then LocallyConvDense (the
    # values against Trax are in test_layers_sparsity.py).
    layer = tl.AttentionQKV(4, q_sparsity=2, result_sparsity=4)
    assert "_GateAndProject_in3" in str(layer)
    assert str(layer).count("_RememberPad") == 2


def test_positional_encoding_has_no_dropout_outside_train_mode():
    # As in Trax: the rate is set to 0 unless in train mode, so predict mode
    # (which refuses a nonzero rate) adds the whole encoding.
    layer = tl.PositionalEncoding(max_len=4, dropout=0.5, mode="predict")
    x = np.zeros((1, 1, 2), np.float32)
    layer.init(shapes.signature(x))
    np.testing.assert_array_equal(layer(x)[0, 0], [0.0, 1.0])


def test_viz_mode_keeps_the_attention_strengths_as_state():
    q = np.random.RandomState(4).randn(2, 3, 2).astype(np.float32)
    layer = A.DotProductAttention(mode="viz")
    mask = np.array([True, True, False]).reshape(1, 1, 3)
    layer((q, q, q, mask))
    strengths = np.asarray(layer.state)
    assert strengths.shape == (2, 3, 3)
    np.testing.assert_allclose(strengths.sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(strengths[..., 2], 0.0)


@pytest.mark.parametrize("layer, x, argument", [
    (tl.CausalAttention(4, n_heads=2, max_inference_length=3,
                        mode="predict"), np.ones((1, 2, 4), np.float32),
     "max_inference_length=3"),
    (tl.PositionalEncoding(max_len=3, mode="predict"),
     np.ones((1, 2, 4), np.float32), "max_len=3"),
])
def test_predict_past_the_buffer_is_a_clear_error(layer, x, argument):
    layer.init(shapes.signature(x))
    layer(x)  # positions 0 and 1
    with pytest.raises(tl.LayerError, match=f"{argument} positions; this "
                       r"input of length 2 at position 2 runs to 4\. Create "
                       f"the layer with a larger {argument.split('=')[0]}"):
        layer(x)
    # Under jit the position is not known: no check (as in Trax).
    weights, state = layer.weights, layer.state
    jax.jit(layer.pure_fn)(x, weights, state, fastmath.random.get_prng(0))
