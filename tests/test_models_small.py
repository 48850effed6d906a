"""trax_compat.models mlp, rnn, resnet, atari_cnn and neural_gpu against
real Trax (trax_oracle/models_small, see tests/testdata/README.md): reprs in
every mode, arity, weight and state trees, initial weights bit for bit, eval
outputs, train-mode outputs (dropout keys) and BatchNorm statistics after a
train call, and one-token-per-call predict mode of the recurrent models."""

import functools

import jax
import numpy as np
import pytest

import trax_compat as trax
from trax_compat import layers as tl  # pylint: disable=unused-import
from trax_compat import models
from trax_compat import shapes
from trax_compat.fastmath import random as trax_random
from trax_compat.gin_registry import unwrapped

from conftest import array_sha256
from conftest import load_oracle_json
from conftest import oracle_npz
from tests.testdata import models_small_inputs

ORACLE = "models_small/models_small.json.gz"
NPZ = "models_small/models_small.npz"
# Outputs: within 1e-5 of Trax's, relative to the array's largest value
# (convolutions and matmuls may sum in another order than jax 0.4.34 did).
TOL = 1e-5
NAMES = (
    "MLP", "RNNLM", "GRULM", "LSTMSeq2SeqAttn", "WideResnet", "Resnet50",
    "AtariCnn", "MLP_tanh_unflattened", "RNNLM_gru_cell", "GRULM_2_layers",
    "LSTMSeq2SeqAttn_dropout", "WideResnet_2_blocks", "Resnet50_frn",
    "AtariCnn_3_frames", "AtariCnnBody", "AtariCnnBody_same_atari_init",
    "FrameStackMLP", "NeuralGPU", "NeuralGPU_2_rows")
# Resnet50 at the 200x200 input it needs is the slow one: only its
# fixture configuration runs every check; the FilterResponseNorm variant
# checks structure and initial weights.
STRUCTURE_ONLY = ("Resnet50_frn",)
PREDICT = ("RNNLM", "GRULM", "LSTMSeq2SeqAttn", "RNNLM_gru_cell",
           "GRULM_2_layers", "LSTMSeq2SeqAttn_dropout")


@functools.lru_cache(maxsize=None)
def _oracle():
    return load_oracle_json(ORACLE)


@functools.lru_cache(maxsize=None)
def _arrays():
    return oracle_npz(NPZ)


@functools.lru_cache(maxsize=None)
def _inputs():
    return models_small_inputs.inputs()


def _build(record, mode):
    return eval(record["constructor"].replace("MODE", repr(mode)))  # pylint: disable=eval-used


def _input(record):
    return models_small_inputs.model_input(record["input"], _inputs())


def _leaves(tree, prefix=""):
    if isinstance(tree, (tuple, list)):
        out = []
        for i, sub in enumerate(tree):
            out += _leaves(sub, f"{prefix}{i}/")
        return out
    if isinstance(tree, dict) or tree is None:
        return []
    return [(prefix.rstrip("/"), np.asarray(tree))]


def _typed(tree):
    if isinstance(tree, tuple):
        return {"tuple": [_typed(t) for t in tree]} if tree else None
    if isinstance(tree, list):
        return {"list": [_typed(t) for t in tree]}
    return {"shape": list(np.shape(tree)), "dtype": np.asarray(tree).dtype.name}


def _close(actual, expected, what):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, what
    assert actual.dtype == expected.dtype, what
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    np.testing.assert_allclose(actual, expected, rtol=TOL, atol=TOL * scale,
                               err_msg=what)


def _ulps_close(actual, expected, what):
    """Equal up to 4 float32 ulps of the array's largest value."""
    expected = np.asarray(expected, np.float32)
    ulp = np.spacing(np.float32(np.max(np.abs(expected))))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=4 * ulp,
                               err_msg=what)


def _check_initial(a, rec, stored, what):
    """Bit for bit, except where JAX's normal sampler rounds differently:
    normal draws (Conv's Glorot-normal kernels, FilterResponseNorm's
    epsilon) come from ``jax.random.normal``, whose inverse error function
    in today's XLA differs from jax 0.4.34's (Trax's) by up to 3 ulps in
    about 3 of 10,000 draws (the uniform bits under it are identical).
    A leaf that is not Trax's bits must be within 4 ulps of them."""
    if array_sha256(a) == rec["sha256"]:
        return
    if stored is not None:
        _ulps_close(a, stored, what)
    else:
        _ulps_close(a.reshape(-1)[:8], rec["first"], what)
        np.testing.assert_allclose(np.sum(a, dtype=np.float64), rec["sum"],
                                   rtol=0, atol=1e-6 * a.size ** 0.5,
                                   err_msg=what)


def _check_leaves(tree, records, name, kind, what, exact):
    leaves = _leaves(tree)
    assert [p for p, _ in leaves] == [r["path"] for r in records], what
    arrays = _arrays()
    for (path, a), rec in zip(leaves, records):
        assert (list(a.shape), a.dtype.name) == (rec["shape"], rec["dtype"])
        key = f"{name}/{kind}/{path}"
        if exact:
            _check_initial(a, rec, arrays.get(key), f"{what} {path}")
        elif key in arrays:
            _close(a, arrays[key], f"{what} {path}")
        else:
            _close(a.reshape(-1)[:8], np.float32(rec["first"]),
                   f"{what} {path}")


def _jitted_call(model, x, rng):
    """``model(x, rng=rng)``, compiled (the 200x200 ResNet-50 is slow
    layer by layer); the model's state is updated as a call updates it."""
    y, state = jax.jit(model.pure_fn)(x, model.weights, model.state, rng)
    model.state = state
    return y


def _outputs(y, key, n):
    arrays = _arrays()
    if n == 1 and key in arrays:
        return [(y, arrays[key])]
    return [(y[i], arrays[f"{key}/{i}"]) for i in range(n)]


@functools.lru_cache(maxsize=None)
def _initialised(name, mode):
    record = _oracle()["models"][name]
    model = _build(record, mode)
    model.init(shapes.signature(_input(record)), rng=trax_random.get_prng(0))
    return model


def test_configurations_are_the_oracles():
    assert tuple(_oracle()["models"]) == NAMES


def test_inputs_are_the_oracles():
    # The inputs are rebuilt from NumPy's seeded generators.
    for name, record in _oracle()["models"].items():
        x = _input(record)
        xs = x if isinstance(x, tuple) else (x,)
        assert [array_sha256(a) for a in xs] == record["input_sha256"], name


@pytest.mark.parametrize("name", NAMES)
def test_repr_and_arity(name):
    record = _oracle()["models"][name]
    eval_model = _build(record, "eval")
    assert (str(eval_model), eval_model.n_in, eval_model.n_out) == (
        record["repr_eval"], record["n_in"], record["n_out"])
    assert str(_build(record, "train")) == record["repr_train"]
    if "predict" in record:
        assert str(_build(record, "predict")) == record["predict"]["repr"]


@pytest.mark.parametrize("name", NAMES)
def test_weights_and_state_as_trax_initialises_them(name):
    record = _oracle()["models"][name]
    model = _initialised(name, "eval")
    assert _typed(model.weights) == record["weights_typed"]
    assert _typed(model.state) == record["state_typed"]
    assert sum(a.size for _, a in _leaves(model.weights)) == (
        record["n_weights"])
    # Every initializer draws Trax's bits from Trax's keys.
    _check_leaves(model.weights, record["weights"], name, "weights",
                  "initial weights", exact=True)
    _check_leaves(model.state, record["state_init"], name, "state_init",
                  "initial state", exact=True)


@pytest.mark.parametrize("name", [n for n in NAMES
                                  if n not in STRUCTURE_ONLY])
def test_eval_output(name):
    record = _oracle()["models"][name]
    model = _initialised(name, "eval")
    x = _input(record)
    y = _jitted_call(model, x, model.rng)
    for i, (a, e) in enumerate(_outputs(y, f"{name}/eval",
                                        record["n_eval_outputs"])):
        _close(a, e, f"eval output {i}")


@pytest.mark.parametrize("name", [n for n in NAMES
                                  if n not in STRUCTURE_ONLY])
def test_train_call_output_and_state(name):
    # Dropout masks drawn from the keys Trax derives from the call's rng;
    # BatchNorm normalises with the batch statistics and moves its running
    # averages as Trax's does.
    record = _oracle()["models"][name]
    model = _build(record, "train")
    x = _input(record)
    model.init(shapes.signature(x), rng=trax_random.get_prng(0))
    _check_leaves(model.weights, record["weights"], name, "weights",
                  "train-mode initial weights", exact=True)
    y = _jitted_call(model, x, trax_random.get_prng(1))
    for i, (a, e) in enumerate(_outputs(y, f"{name}/train",
                                        record["n_eval_outputs"])):
        _close(a, e, f"train output {i}")
    _check_leaves(model.state, record["state_train"], name, "state_train",
                  "state after the train call", exact=False)


def test_train_calls_change_what_trax_changes():
    oracle = _oracle()["models"]
    dropout = {n for n in NAMES if "dropout" in oracle[n]["constructor"]
               or n == "RNNLM"}
    assert dropout == {"RNNLM", "RNNLM_gru_cell", "LSTMSeq2SeqAttn_dropout"}
    arrays = _arrays()
    for name in dropout:
        first = f"{name}/train" if f"{name}/train" in arrays else (
            f"{name}/train/0")
        assert not np.array_equal(arrays[first], arrays[first.replace(
            "train", "eval")]), name
    changed = {n for n in NAMES if oracle[n]["state_changed_by_train_call"]}
    assert changed == {"WideResnet", "Resnet50", "WideResnet_2_blocks"}


@pytest.mark.parametrize("name", PREDICT)
def test_predict_mode_one_token_per_call(name):
    record = _oracle()["models"][name]
    expected = record["predict"]
    model = _build(record, "predict")
    x = _input(record)
    if record["predict_kind"] == "lm":
        tokens = x
        sig = shapes.ShapeDtype((x.shape[0], 1), np.int32)
    else:
        tokens = x[1]
        sig = (shapes.signature(x[0]),
               shapes.ShapeDtype((x[0].shape[0], 1), np.int32))
    model.init(sig, rng=trax_random.get_prng(0))
    assert _typed(model.weights) == expected["weights_typed"]
    assert _typed(model.state) == expected["state_typed_after_init"]
    if expected["weights_equal_eval_weights"]:
        _check_leaves(model.weights, record["weights"], name, "weights",
                      "predict-mode initial weights", exact=True)
    else:
        # Attention caching keys and values nests its weights differently
        # in predict mode, so Trax's keys, hence weights, differ too.
        _check_leaves(model.weights, expected["weights"], name,
                      "weights_predict", "predict-mode initial weights",
                      exact=True)
    step = jax.jit(model.pure_fn)
    outs = []
    for t in range(tokens.shape[1]):
        token = tokens[:, t:t + 1]
        y, model.state = step(token if record["predict_kind"] == "lm"
                              else (x[0], token), model.weights, model.state,
                              model.rng)
        outs.append(np.asarray(y if record["predict_kind"] == "lm" else y[0]))
    _close(np.concatenate(outs, axis=1), _arrays()[f"{name}/predict"],
           "predict-mode outputs")
    assert _typed(model.state) == expected["state_typed_after"]
    _check_leaves(model.state, expected["state_after"], name,
                  "state_predict", "predict-mode state", exact=False)


def test_models_namespace_has_trax_names():
    assert unwrapped(trax.models.MLP) is models.mlp.MLP
    for module, names in (
            ("mlp", ["MLP"]),
            ("rnn", ["GRULM", "LSTMSeq2SeqAttn", "RNNLM"]),
            ("resnet", ["ConvBlock", "IdentityBlock", "Resnet50",
                        "WideResnet", "WideResnetBlock", "WideResnetGroup"]),
            ("atari_cnn", ["AtariCnn", "AtariCnnBody", "FrameStackMLP"]),
            ("neural_gpu", ["ConvDiagonalGRU", "DiagonalGate", "NeuralGPU",
                            "SaturationCost"])):
        mod = getattr(models, module)
        public = sorted(n for n, o in vars(mod).items()
                        if not n.startswith("_")
                        and getattr(o, "__module__", None) == mod.__name__)
        assert public == names
        for n in names:
            assert unwrapped(getattr(models, n)) is getattr(mod, n)


def test_rnnlm_refuses_other_layer_counts():
    with pytest.raises(ValueError, match="must be set to 2; instead got 3"):
        models.RNNLM(10, n_layers=3)


def test_frame_stack_needs_a_frame():
    with pytest.raises(ValueError, match="n_frames must be at least 1"):
        models.AtariCnn(n_frames=0)


def test_frame_stack_of_one_frame_is_no_layer():
    model = models.FrameStackMLP(n_frames=1, hidden_sizes=(), output_size=2)
    assert str(model) == "Serial[\n  Dense_2\n]"


def test_neural_gpu_shares_one_cell_over_its_steps():
    model = models.NeuralGPU(d_feature=6, steps=4, vocab_size=5)
    x = np.ones((3, 2, 7), np.int32)  # extra rows, as in Trax's own test
    model.init(shapes.signature(x))
    assert model(x).shape == (3, 2, 7, 5)
    cells = model.sublayers[1:5]
    assert all(cell is cells[0] for cell in cells)
    # Embedding, one cell (3 convolutions), Dense: the repeats add nothing.
    assert len(jax.tree_util.tree_leaves(model.weights)) == 1 + 6 + 2


def test_diagonal_gate_shifts_the_outer_thirds_of_the_channels():
    gate = models.neural_gpu.DiagonalGate()
    x = np.arange(1, 13, dtype=np.float32).reshape(1, 1, 4, 3)
    y = np.asarray(gate(x))
    # Channel 0 moves one step right, channel 2 one step left.
    np.testing.assert_array_equal(y[0, 0, :, 0], [0, 1, 4, 7])
    np.testing.assert_array_equal(y[0, 0, :, 1], x[0, 0, :, 1])
    np.testing.assert_array_equal(y[0, 0, :, 2], [6, 9, 12, 0])
    with pytest.raises(tl.LayerError, match="divisible by 3"):
        gate(np.zeros((1, 1, 4, 4), np.float32))


def test_saturation_cost_is_zero_beyond_the_limit():
    cost = models.neural_gpu.SaturationCost(
        np.array([-1.0, -0.5, 0.0, 0.95]), limit=0.9)
    np.testing.assert_allclose(cost, [0.0, -0.4, -0.9, 0.0], atol=1e-6)
