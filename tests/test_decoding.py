"""``trax_compat.supervised.decoding`` against real Trax: the same tokens
(greedy, sampled with NumPy's global seed, stopped at ``eos_id``, with a
prefix, with start ids, from the stream, in eval mode, continued from the
cached state) and the same beam-search sequences and scores, from the same
weights (``trax_oracle/decoding``, see ``generate_decoding.py``); and one
compiled step reused for every token."""

import functools

import numpy as np
import pytest

from trax_compat import layers as tl  # noqa: F401  (the constructors use tl)
from trax_compat import shapes
from trax_compat.fastmath import random as trax_random
from trax_compat.supervised import decoding

from conftest import ORACLE, load_oracle_json

DATA = load_oracle_json("decoding/decoding.json")
WEIGHTS = dict(np.load(ORACLE / "decoding" / DATA["weights_npz"]))


def _flat_weights(name):
    return [WEIGHTS[f"{name}/{i:03d}"] for i in range(DATA["n_weights"][name])]


def build(name, mode, batch, source=None):
    """The oracle's model ``name`` with its recorded weights, initialised as
    the generator initialises it."""
    model = eval(DATA["models"][name].format(mode=mode))  # pylint: disable=eval-used
    tokens = shapes.ShapeDtype((batch, 1), np.int32)
    if mode != "predict":
        sig = shapes.ShapeDtype((batch, 4), np.int32)
    elif name == "lm":
        sig = tokens
    else:
        sig = (shapes.signature(source), tokens)
    model.init(sig, rng=trax_random.get_prng(0))
    weights, _ = tl.unflatten_weights_and_state(
        _flat_weights(name), [], (model.weights, model.state),
        weights_only=True)
    model.weights = weights
    return model


@functools.lru_cache(maxsize=None)
def _shared_model(name, mode, batch, source_shape):
    source = None if source_shape is None else np.zeros(source_shape, np.int32)
    model = build(name, mode, batch, source)
    return model, model.state


def fresh_model(name, mode, batch, inputs):
    """A model as just initialised: one object per configuration, its state
    reset, so the runs share its compiled step (as a user's loop would)."""
    source_shape = None if name == "lm" else inputs.shape
    model, initial_state = _shared_model(name, mode, batch, source_shape)
    model.state = initial_state
    return model


def _array(record):
    return np.array(record["data"], dtype=record["dtype"])


def _call(run, model, inputs):
    kwargs = dict(run["kwargs"])
    if "start_id" in kwargs:
        kwargs["start_id"] = np.array(kwargs["start_id"], np.int32)
    batch = run["batch_size"]
    if run["function"] == "sample":
        return decoding.autoregressive_sample(model, inputs, batch_size=batch,
                                              **kwargs)
    if run["function"] == "stream":
        stream = decoding.autoregressive_sample_stream(
            model, inputs, batch_size=batch, **kwargs)
        return [next(stream) for _ in run["result"]]
    return decoding.beam_search(model, inputs, batch_size=batch, **kwargs)


def _check(run, got, expected):
    if run["function"] == "sample":
        want = _array(expected)
        assert isinstance(got, np.ndarray) and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    elif run["function"] == "stream":
        assert len(got) == len(expected)
        for sample, record in zip(got, expected):
            assert sample.shape == tuple(record["shape"])  # (batch,)
            np.testing.assert_array_equal(np.asarray(sample), _array(record))
    else:
        assert len(got) == len(expected) == run["kwargs"]["n_beams"]
        for (sequence, score), record in zip(got, expected):
            np.testing.assert_array_equal(sequence, _array(record["sequence"]))
            # Sums of float32 log-probabilities: a few ulps apart at most.
            np.testing.assert_allclose(score, _array(record["score"]),
                                       rtol=1e-6, atol=0)


@pytest.mark.parametrize("run_name", sorted(DATA["runs"]))
def test_decodes_as_trax(run_name):
    run = DATA["runs"][run_name]
    inputs = None if run["inputs"] is None else _array(run["inputs"])
    model = fresh_model(run["model"], run["mode"], run["batch_size"], inputs)
    if run["seed"] is not None:
        np.random.seed(run["seed"])
    _check(run, _call(run, model, inputs), run["result"])
    if "second_call" in run:  # continues from the cache in model.state
        _check(run, _call(run, model, inputs), run["second_call"])


def test_the_oracle_runs_cover_what_matters():
    runs = DATA["runs"].values()
    sampled = [r for r in runs if r["function"] == "sample"]
    assert {r["kwargs"]["temperature"] for r in sampled} == {0.0, 0.5, 1.0}
    assert {r["batch_size"] for r in sampled} >= {1, 2, 3}
    assert any(r["kwargs"].get("accelerate") is False for r in sampled)
    # One eos run stops before max_length, with eos in every row.
    eos = DATA["runs"]["lm_t1_b3_eos"]
    tokens = _array(eos["result"])
    assert tokens.shape[1] < eos["kwargs"]["max_length"]
    assert (tokens == eos["kwargs"]["eos_id"]).any(axis=1).all()
    beams = {(r["model"], r["kwargs"]["n_beams"]) for r in runs
             if r["function"] == "beam"}
    assert beams == {("lm", 2), ("lm", 3), ("encdec", 2), ("encdec", 3)}


def _prefix(batch):
    run = DATA["runs"]["lm_greedy_b3_prefix"]
    return _array(run["inputs"])[:batch]


def test_one_compiled_step_serves_every_token():
    # A fresh model (not shared with the oracle tests): its step counts the
    # traces of the jitted model call.
    model = build("lm", "predict", 3)
    step = decoding._step_for(model)  # pylint: disable=protected-access
    initial_state = model.state
    out = decoding.autoregressive_sample(model, _prefix(3), batch_size=3,
                                         temperature=0.0, max_length=8,
                                         eos_id=-1)
    assert out.shape == (3, 8)
    # Two traces: the first call (start symbol + 5-token prefix), then the
    # one-token call used for the 7 tokens after it.
    assert step.n_traces == 2
    model.state = initial_state
    again = decoding.autoregressive_sample(model, _prefix(3), batch_size=3,
                                           temperature=0.0, max_length=12,
                                           eos_id=-1)
    np.testing.assert_array_equal(again[:, :8], out)
    assert step.n_traces == 2  # a second decode compiles nothing new
    model.state = initial_state
    decoding.autoregressive_sample(model, None, batch_size=3, max_length=5,
                                   eos_id=-1)
    assert step.n_traces == 2  # no prefix: the one-token step throughout


def test_without_a_prefix_and_for_encoder_decoders_one_trace():
    model = build("lm", "predict", 2)
    decoding.autoregressive_sample(model, batch_size=2, max_length=6)
    assert decoding._step_for(model).n_traces == 1  # pylint: disable=protected-access
    source = _array(DATA["runs"]["encdec_t1_b2"]["inputs"])
    encdec = build("encdec", "predict", 2, source)
    decoding.autoregressive_sample(encdec, source, batch_size=2,
                                   max_length=6, eos_id=-1)
    assert decoding._step_for(encdec).n_traces == 1  # pylint: disable=protected-access


def test_eager_decoding_traces_nothing_and_gives_the_same_tokens():
    fast, slow = build("lm", "predict", 3), build("lm", "predict", 3)
    np.random.seed(2)
    want = decoding.autoregressive_sample(fast, _prefix(3), batch_size=3,
                                          max_length=5, eos_id=-1)
    np.random.seed(2)
    got = decoding.autoregressive_sample(slow, _prefix(3), batch_size=3,
                                         max_length=5, eos_id=-1,
                                         accelerate=False)
    np.testing.assert_array_equal(got, want)
    assert decoding._step_for(slow).n_traces == 0  # pylint: disable=protected-access


def test_bad_arguments_say_what_to_fix():
    model = fresh_model("lm", "predict", 3, None)
    errors = DATA["errors"]
    with pytest.raises(ValueError, match=r"Inputs batch size \(3\) does "
                       r"not match batch_size arg \(2\)"):
        decoding.autoregressive_sample(model, _prefix(3), batch_size=2)
    assert errors["inputs_batch_mismatch"]["type"] == "ValueError"
    with pytest.raises(AssertionError, match="batch_size=1 only"):
        decoding.beam_search(model, None, batch_size=2)
    assert errors["beam_search_batch_2"]["type"] == "AssertionError"
    with pytest.raises(ValueError, match=r"shape \(batch_size, length\)"):
        decoding.autoregressive_sample(model, _prefix(1)[0], batch_size=1)
    with pytest.raises(ValueError, match=r"start_id must be"):
        decoding.autoregressive_sample(model, batch_size=3,
                                       start_id=np.zeros((2, 1), np.int32))
    with pytest.raises(ValueError, match="max_length must be at least 1"):
        decoding.autoregressive_sample(model, batch_size=3, max_length=0)


def test_the_stream_leaves_the_cache_in_model_state_at_each_yield():
    import jax  # pylint: disable=import-outside-toplevel
    model = fresh_model("lm", "predict", 3, None)
    initial_state = model.state
    np.random.seed(4)
    stream = decoding.autoregressive_sample_stream(model, _prefix(3),
                                                   batch_size=3)
    first, second = next(stream), next(stream)
    after_two = model.state
    model.state = initial_state
    np.random.seed(4)
    tokens = decoding.autoregressive_sample(model, _prefix(3), batch_size=3,
                                            max_length=2, eos_id=-1)
    np.testing.assert_array_equal(tokens, np.stack([first, second], axis=1))
    leaves = jax.tree_util.tree_leaves
    assert len(leaves(after_two)) == len(leaves(model.state)) > 0
    for a, b in zip(leaves(after_two), leaves(model.state)):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in
               zip(leaves(after_two), leaves(initial_state)))
