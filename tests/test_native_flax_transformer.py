"""The native Flax TransformerLM / Transformer (models/transformer.py) and
their converter from Trax-layout weights, against real Trax
(trax_oracle/models_native, see tests/testdata/README.md)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models import convert_transformer as ct
from models import transformer as tr
from tests.conftest import ORACLE, load_oracle_json, oracle_array, oracle_npz

DATA = "models_native/models_native.json.gz"
NPZ = "models_native/models_native.npz"
CASES = ["lm_a", "lm_b", "tr_a", "tr_b"]
LM_CASES = ["lm_a", "lm_b"]
TR_CASES = ["tr_a", "tr_b"]


@pytest.fixture(scope="module")
def oracle():
    return load_oracle_json(DATA)["cases"]


def _flat(name):
    arrays = oracle_npz(NPZ)
    keys = sorted(k for k in arrays if k.startswith(name + "/w"))
    return [arrays[k] for k in keys]


def _tree(structure, flat):
    """The oracle's weight-tree description -> Trax's nested tuples."""
    if structure is None:
        return ()
    if structure == "shared":
        return {"__marker_for_cached_weights_": ()}
    if isinstance(structure, list):
        return tuple(_tree(s, flat) for s in structure)
    return flat[structure]


def _model(record, **changes):
    config = tr.TransformerConfig(**record["config"], **changes)
    return (tr.TransformerLM(config) if record["kind"] == "lm"
            else tr.Transformer(config))


def _loaded(oracle, name, **changes):
    record = oracle[name]
    model = _model(record, **changes)
    tree = _tree(record["weights"], _flat(name))
    return record, model, ct.params_from_trax_weights(tree, model)


def _apply(model):
    return jax.jit(model.apply)


def _inputs(record):
    return [oracle_array(x) for x in record["inputs"]]


@pytest.mark.parametrize("name", CASES)
def test_converted_weights_give_trax_eval_outputs(oracle, name):
    record, model, variables = _loaded(oracle, name)
    assert record["n_weights"] == len(_flat(name))
    out = _apply(model)(variables, *_inputs(record))
    np.testing.assert_allclose(out, oracle_array(record["output_eval"]),
                               atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", CASES)
def test_greedy_and_sampled_decodes_give_trax_tokens(oracle, name):
    record, model, variables = _loaded(oracle, name)
    for decode in record["decodes"]:
        # Trax's choices are clear of ties (teacher-forced margins, with the
        # sampling noise replayed).
        assert decode["argmax_equals_greedy"] and decode["min_margin"] > 1e-3
        inputs = (None if decode["inputs"] is None
                  else oracle_array(decode["inputs"]))
        # Trax drew its noise from NumPy's global generator after
        # np.random.seed(np_seed): a RandomState(np_seed) gives the same.
        options = dict(max_length=decode["max_length"],
                       temperature=decode["temperature"],
                       rng=np.random.RandomState(decode["np_seed"]))
        if record["kind"] == "lm":
            tokens = tr.decode_lm(model, variables, inputs,
                                  batch_size=decode["batch_size"], **options)
        else:
            tokens = tr.decode_transformer(model, variables, inputs,
                                           **options)
        # Same tokens and the same length: lm_b stops early, once every
        # row has produced the end id 1.
        np.testing.assert_array_equal(tokens, oracle_array(decode["output"]),
                                      strict=False)
        assert tokens.dtype == np.int32


def test_the_oracle_has_sampled_decodes(oracle):
    temperatures = [d["temperature"] for name in CASES
                    for d in oracle[name]["decodes"]]
    assert 1.0 in temperatures and 0.8 in temperatures


def test_an_early_stop_is_covered(oracle):
    out = oracle_array(oracle["lm_b"]["decodes"][0]["output"])
    assert out.shape[1] < oracle["lm_b"]["decodes"][0]["max_length"]
    assert all((row == 1).any() for row in out)


@pytest.mark.parametrize("name", TR_CASES)
def test_predict_mode_tree_converts_to_the_same_params(oracle, name):
    record, model, variables = _loaded(oracle, name)
    assert record["predict_weights"] != record["weights"]  # nested otherwise
    predict_tree = _tree(record["predict_weights"], _flat(name))
    again = ct.params_from_trax_weights(predict_tree, model)
    jax.tree_util.tree_map(np.testing.assert_array_equal, again, variables)
    # A checkpoint's flat list converts the same, too.
    flat = ct.params_from_trax_weights(_flat(name), model)
    jax.tree_util.tree_map(np.testing.assert_array_equal, flat, variables)


@pytest.mark.parametrize("name", CASES)
def test_back_to_trax_layout(oracle, name):
    record, model, variables = _loaded(oracle, name)
    flat = ct.trax_flat_weights_from_params(variables, model)
    assert len(flat) == len(_flat(name))
    for got, want in zip(flat, _flat(name)):
        np.testing.assert_array_equal(got, want, strict=True)
    like = _tree(record["weights"], [np.zeros(()) for _ in flat])
    tree = ct.trax_weights_from_params(variables, model, like)
    assert (jax.tree_util.tree_structure(tree)
            == jax.tree_util.tree_structure(_tree(record["weights"],
                                                  _flat(name))))
    for got, want in zip(jax.tree_util.tree_leaves(tree), _flat(name)):
        np.testing.assert_array_equal(got, want, strict=True)


def _step_logits(model, variables, feeds, *extra):
    """Feeds ``feeds`` one column per call to the decode-mode model."""
    decoder = type(model)(model.config.replace(decode=True))
    batch, length = feeds.shape
    if isinstance(model, tr.Transformer):
        cache = tr.init_cache(decoder, batch, length, extra[1].shape[1])
        method = "decode"
    else:
        cache = tr.init_cache(decoder, batch, length)
        method = None
    step = jax.jit(lambda c, ids: decoder.apply(
        {"params": variables["params"], "cache": c}, *extra, ids,
        mutable=["cache"], method=method))
    outs = []
    for t in range(length):
        logits, mutated = step(cache, feeds[:, t:t + 1])
        cache = mutated["cache"]
        outs.append(logits[:, 0])
    assert step._cache_size() == 1  # pylint: disable=protected-access
    return np.stack(outs, axis=1)


@pytest.mark.parametrize("name", ["lm_b", "tr_b"])
def test_cached_decoding_equals_the_full_forward_pass(oracle, name):
    record, model, variables = _loaded(oracle, name)
    inputs = _inputs(record)
    full = _apply(model)(variables, *inputs)
    targets = inputs[-1]
    # The full pass shifts right; decoding is fed the shifted ids itself.
    feeds = np.asarray(tr.shift_right(targets))
    if record["kind"] == "lm":
        stepped = _step_logits(model, variables, feeds)
    else:
        encoded = jax.jit(lambda v, x: model.apply(v, x, method="encode"))(
            variables, inputs[0])
        stepped = _step_logits(model, variables, feeds, encoded, inputs[0])
    np.testing.assert_allclose(stepped, full, atol=1e-5, rtol=0)


def _compiled(step):
    return step._cache_size()  # pylint: disable=protected-access


def test_decoding_compiles_one_step_for_all_tokens(oracle):
    # 3 prompt positions and 13 produced tokens (16 calls of the step): one
    # compilation; a second decode of the same shapes compiles nothing.
    _, model, variables = _loaded(oracle, "lm_a")
    step = tr._lm_step(tr.TransformerLM(model.config.replace(decode=True)))
    before = _compiled(step)
    for _ in range(2):
        tokens = tr.decode_lm(model, variables, np.full((2, 3), 5, np.int32),
                              max_length=13, eos_id=-1)
        assert tokens.shape == (2, 13)
        assert _compiled(step) - before == 1
    _, model, variables = _loaded(oracle, "tr_b")
    step = tr._transformer_step(tr.Transformer(
        model.config.replace(decode=True)))
    before = _compiled(step)
    for _ in range(2):
        tokens = tr.decode_transformer(model, variables,
                                       _inputs(oracle["tr_b"])[0],
                                       max_length=7, eos_id=-1)
        assert tokens.shape == (3, 7)
        assert _compiled(step) - before == 1


def test_sampling_uses_the_key_and_temperature(oracle):
    _, model, variables = _loaded(oracle, "lm_b")
    prompt = np.full((3, 2), 4, np.int32)

    def sample(seed, temperature):
        return tr.decode_lm(model, variables, prompt, max_length=12,
                            temperature=temperature, eos_id=-1,
                            rng=jax.random.PRNGKey(seed))

    hot = sample(0, 5.0)
    np.testing.assert_array_equal(hot, sample(0, 5.0))
    assert not np.array_equal(hot, sample(1, 5.0))
    assert not np.array_equal(hot, sample(0, 0.0))
    assert hot.min() >= 0 and hot.max() < 23
    # Temperature 0 ignores the key.
    np.testing.assert_array_equal(sample(0, 0.0), sample(1, 0.0))


def _dropout_key(seed):
    # 'rbg' keys: XLA compiles their dropout masks several times faster on
    # CPU than threefry's.
    return jax.random.key(seed, impl="rbg")


@pytest.mark.parametrize("name", ["lm_b", "tr_a"])
def test_train_mode_dropout(oracle, name):
    record, model, variables = _loaded(oracle, name)
    inputs = _inputs(record)
    evaluated = _apply(model)(variables, *inputs)

    train = jax.jit(lambda v, key: model.apply(
        v, *inputs, deterministic=False, rngs={"dropout": key}))
    out3 = train(variables, _dropout_key(3))
    np.testing.assert_array_equal(out3, train(variables,
                                              _dropout_key(3)))
    assert np.abs(out3 - evaluated).max() > 1e-3
    assert np.abs(out3 - train(variables, _dropout_key(4))).max() > 1e-3
    no_dropout = _model(record, dropout=0.0)
    no_dropout_train = jax.jit(lambda v, key: no_dropout.apply(
        v, *inputs, deterministic=False, rngs={"dropout": key}))
    np.testing.assert_allclose(
        no_dropout_train(variables, _dropout_key(3)), evaluated,
        atol=1e-6)


@pytest.mark.parametrize("name", ["lm_b", "tr_b"])
def test_flax_init_has_the_converter_layout_and_trax_positions(oracle, name):
    record, model, variables = _loaded(oracle, name)
    inputs = _inputs(record)
    fresh = jax.eval_shape(model.init, jax.random.PRNGKey(0), *inputs)
    assert (jax.tree_util.tree_map(np.shape, fresh)
            == jax.tree_util.tree_map(np.shape, variables))
    # The positional table starts as Trax's sinusoids (Trax's weight 1).
    config = model.config
    table = tr.AddPositionEmbs(config).init(
        jax.random.PRNGKey(0), jnp.zeros((1, 1, config.d_model)))
    np.testing.assert_array_equal(table["params"]["pos_embedding"],
                                  _flat(name)[1])
    np.testing.assert_array_equal(
        tr.sinusoidal_table(config.max_len, config.d_model), _flat(name)[1])


def test_converter_errors_name_the_problem(oracle):
    _, model, _ = _loaded(oracle, "lm_a")
    flat = _flat("lm_a")
    with pytest.raises(ValueError, match="expected 38 weight arrays.*got 37"):
        ct.params_from_trax_weights(flat[:-1], model)
    other = tr.TransformerLM(model.config.replace(n_heads=4, d_model=32))
    with pytest.raises(ValueError, match="embed/embedding|shape"):
        ct.params_from_trax_weights(flat, other)
    bigger_vocab = tr.TransformerLM(model.config.replace(vocab_size=21))
    with pytest.raises(ValueError, match=r"embed/embedding has shape "
                       r"\(20, 16\), expected \(21, 16\).*vocab_size=21"):
        ct.params_from_trax_weights(flat, bigger_vocab)
    with pytest.raises(TypeError, match="TransformerLM or Transformer"):
        ct.params_from_trax_weights(flat, "lm")


def test_bad_inputs_get_clear_errors(oracle):
    _, model, variables = _loaded(oracle, "lm_a")
    with pytest.raises(ValueError, match="max_len is 32"):
        tr.decode_lm(model, variables, np.ones((1, 10), np.int32),
                     max_length=30)
    with pytest.raises(ValueError, match="integer token ids"):
        model.apply(variables, np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="multiple of n_heads"):
        tr.TransformerConfig(vocab_size=5, d_model=10, n_heads=3)


def test_reads_a_trax_weights_file(oracle):
    # Written by Trax's own np_to_file, as its checkpoints' weights files.
    flat = ct.read_trax_weights(
        ORACLE / "models_native" / "lm_b.weights.npy.gz")
    assert len(flat) == len(_flat("lm_b"))
    for got, want in zip(flat, _flat("lm_b")):
        np.testing.assert_array_equal(got, want, strict=True)
    with pytest.raises(FileNotFoundError, match="no Trax weights file"):
        ct.read_trax_weights(ORACLE / "models_native" / "missing.npy.gz")


@pytest.mark.parametrize("broadcast_dims", [(), (1,)])
def test_dropout_is_nn_dropout_s_mask_times_trax_s_scale(broadcast_dims):
    # The model's Dropout draws the mask nn.Dropout draws from the same key
    # and computes Trax's x * keep / (1 - rate): equal to rounding.
    x = jax.random.normal(jax.random.PRNGKey(1), (4, 6, 8)) + 3.0
    rngs = {"dropout": jax.random.PRNGKey(7)}
    ours = tr.Dropout(0.3, broadcast_dims).apply({}, x, False, rngs=rngs)
    flax_nn = tr.nn.Dropout(0.3, broadcast_dims).apply(
        {}, x, deterministic=False, rngs=rngs)
    np.testing.assert_allclose(ours, flax_nn, rtol=1e-6, atol=0)
    kept = np.asarray(ours) != 0
    assert 0.5 < kept.mean() < 0.9  # a mask was applied
    if broadcast_dims:  # one draw shared along axis 1
        assert (kept == kept[:, :1]).all()
    np.testing.assert_allclose(ours[kept], (x / 0.7)[kept], rtol=1e-6)
    np.testing.assert_array_equal(tr.Dropout(0.3).apply({}, x, True), x)
