"""Records real Trax's decoding (``trax.supervised.decoding``).

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_decoding.py OUT

It writes ``OUT/trax_oracle/decoding/decoding.json.gz`` (gzipped, reproducibly) and
``OUT/trax_oracle/decoding/weights.npz``. With OUT = ``tests/testdata`` it
replaces the committed data.

Two tiny models built from plain layers (``MODELS``: constructor
expressions, ``{mode}`` standing for the mode, ``tl = trax.layers``): a
language model and an encoder-decoder with two inputs and two outputs. Each
is initialised in 'eval' mode with ``rng=get_prng(0)``; its flat weights
(``tl.flatten_weights_and_state``, scaled where ``SCALE`` says so, to make
the distributions less flat) go to ``weights.npz`` as ``<model>/<index>``.
Every run (``RUNS``) builds a fresh 'predict'-mode model, initialises it
for ``(batch, 1)`` token inputs (and the encoder inputs), sets those
weights, seeds NumPy's global generator and calls the decoding function;
the result, the model's state afterwards (hashes) and, for reuse runs, a
second call on the same model are recorded.
"""

import argparse
import hashlib
import pathlib
import sys

import jax
import numpy as np

from trax import layers as tl
from trax import shapes
from trax.fastmath import random as trax_random
from trax.supervised import decoding

import oracle_common as oc  # this folder

VOCAB = 13
MODELS = {
    "lm": (
        "tl.Serial(tl.ShiftRight(mode='{mode}'), tl.Embedding(13, 16), "
        "tl.PositionalEncoding(max_len=32, mode='{mode}'), "
        "tl.CausalAttention(16, n_heads=2, max_inference_length=32, "
        "mode='{mode}'), tl.Dense(13))"),
    # Inputs (source ids, target ids) -> (logits, target ids): the decoder's
    # causal self-attention, then attention over the embedded source.
    "encdec": (
        "tl.Serial(tl.Select([0, 0, 1, 1]), "
        "tl.Parallel(tl.Embedding(13, 16), tl.PaddingMask(), "
        "[tl.ShiftRight(mode='{mode}'), tl.Embedding(13, 16), "
        "tl.CausalAttention(16, n_heads=2, max_inference_length=32, "
        "mode='{mode}')]), "
        "tl.Select([2, 0, 0, 1, 3]), "
        "tl.AttentionQKV(16, n_heads=2, mode='{mode}'), "
        "tl.Select([0, 2], n_in=3), tl.Dense(13))"),
}
# Flat weight index -> factor (the output layer's kernel), per model.
SCALE = {"lm": {-2: 2.0}, "encdec": {-2: 2.0}}

_RNG = np.random.default_rng(11)
LM_PREFIX = {1: _RNG.integers(2, VOCAB, size=(1, 4)).astype(np.int32),
             3: _RNG.integers(2, VOCAB, size=(3, 5)).astype(np.int32)}
SOURCE = {1: _RNG.integers(2, VOCAB, size=(1, 6)).astype(np.int32),
          2: _RNG.integers(2, VOCAB, size=(2, 6)).astype(np.int32)}
SOURCE[2][1, 4:] = 0  # padding in row 1

# name -> (model, function, batch, keyword arguments, options). "inputs":
# a key of LM_PREFIX / SOURCE ("prefix" / "source"); "seed": the
# np.random.seed before the call; "stream": how many stream items to take;
# "reuse": call again on the same model (same arguments, no new seed).
RUNS = {
    "lm_greedy_b1": ("lm", "sample", 1, dict(temperature=0.0, max_length=8,
                                             eos_id=-1), {"seed": 7}),
    "lm_greedy_b3_prefix": ("lm", "sample", 3, dict(
        temperature=0.0, max_length=8, eos_id=-1),
        {"seed": 7, "inputs": "prefix"}),
    "lm_greedy_b3_prefix_eager": ("lm", "sample", 3, dict(
        temperature=0.0, max_length=8, eos_id=-1, accelerate=False),
        {"seed": 7, "inputs": "prefix"}),
    "lm_t1_b3_prefix": ("lm", "sample", 3, dict(
        temperature=1.0, max_length=10, eos_id=-1),
        {"seed": 7, "inputs": "prefix"}),
    "lm_t1_b3_prefix_eager": ("lm", "sample", 3, dict(
        temperature=1.0, max_length=10, eos_id=-1, accelerate=False),
        {"seed": 7, "inputs": "prefix"}),
    "lm_t05_b1_prefix": ("lm", "sample", 1, dict(
        temperature=0.5, max_length=10, eos_id=-1),
        {"seed": 21, "inputs": "prefix"}),
    "lm_t1_b3_nostop": ("lm", "sample", 3, dict(
        temperature=1.0, max_length=20, eos_id=-1), {"seed": 5}),
    # eos_id: set by pick_eos_id from the run above, so that it stops early.
    "lm_t1_b3_eos": ("lm", "sample", 3, dict(
        temperature=1.0, max_length=20, eos_id=None), {"seed": 5}),
    "lm_t1_b3_start_ids": ("lm", "sample", 3, dict(
        temperature=1.0, max_length=6, eos_id=-1,
        start_id=np.array([[0], [5], [9]], np.int32)), {"seed": 3}),
    "lm_t1_b1_reuse": ("lm", "sample", 1, dict(
        temperature=1.0, max_length=5, eos_id=-1),
        {"seed": 8, "inputs": "prefix", "reuse": True}),
    "lm_eval_mode_b3_prefix": ("lm", "sample", 3, dict(
        temperature=0.0, max_length=6, eos_id=-1, eval_mode=True),
        {"seed": 7, "inputs": "prefix", "mode": "eval"}),
    "lm_stream_t1_b3_prefix": ("lm", "stream", 3, dict(temperature=1.0),
                               {"seed": 9, "inputs": "prefix", "stream": 4}),
    "lm_beam2": ("lm", "beam", 1, dict(n_beams=2, max_length=6), {}),
    "lm_beam3_prefix": ("lm", "beam", 1, dict(n_beams=3, max_length=6),
                        {"inputs": "prefix"}),
    "encdec_greedy_b1": ("encdec", "sample", 1, dict(
        temperature=0.0, max_length=8, eos_id=-1),
        {"seed": 7, "inputs": "source"}),
    "encdec_greedy_b2": ("encdec", "sample", 2, dict(
        temperature=0.0, max_length=8, eos_id=-1),
        {"seed": 7, "inputs": "source"}),
    "encdec_t1_b2": ("encdec", "sample", 2, dict(
        temperature=1.0, max_length=12, eos_id=-1),
        {"seed": 13, "inputs": "source"}),
    "encdec_t05_b2_eos": ("encdec", "sample", 2, dict(
        temperature=0.5, max_length=12, eos_id=1),
        {"seed": 13, "inputs": "source"}),
    "encdec_stream_t1_b2": ("encdec", "stream", 2, dict(temperature=1.0),
                            {"seed": 4, "inputs": "source", "stream": 3}),
    "encdec_beam2": ("encdec", "beam", 1, dict(n_beams=2, max_length=5),
                     {"inputs": "source"}),
    "encdec_beam3": ("encdec", "beam", 1, dict(n_beams=3, max_length=5),
                     {"inputs": "source"}),
}


def build(name, mode):
    return eval(MODELS[name].format(mode=mode))  # pylint: disable=eval-used


def signature(name, batch, inputs):
    tokens = shapes.ShapeDtype((batch, 1), np.int32)
    if name == "lm":
        return tokens
    return (shapes.signature(inputs), tokens)


def initial_weights(name):
    model = build(name, "eval")
    sig = signature(name, 1, SOURCE[1]) if name == "encdec" else (
        shapes.ShapeDtype((1, 4), np.int32))
    model.init(sig, rng=trax_random.get_prng(0))
    flat, _ = tl.flatten_weights_and_state(model.weights, model.state)
    flat = [np.array(w) for w in flat]
    for index, factor in SCALE[name].items():
        flat[index] = (flat[index] * factor).astype(flat[index].dtype)
    return flat


def decoding_model(name, mode, batch, inputs, flat):
    model = build(name, mode)
    model.init(signature(name, batch, inputs) if mode == "predict" else
               shapes.ShapeDtype((batch, 4), np.int32),
               rng=trax_random.get_prng(0))
    weights, _ = tl.unflatten_weights_and_state(
        flat, [], (model.weights, model.state), weights_only=True)
    model.weights = weights
    return model


def tree_sha256(tree):
    """SHA-256 over the leaves' float32/int32 bytes, depth first."""
    digest = hashlib.sha256()
    for leaf in jax.tree_util.tree_leaves(tree):
        digest.update(np.ascontiguousarray(np.asarray(leaf)).tobytes())
    return digest.hexdigest()


def call(fn, model, inputs, batch, kwargs, options):
    if fn == "sample":
        return decoding.autoregressive_sample(model, inputs, batch_size=batch,
                                              **kwargs)
    if fn == "stream":
        stream = decoding.autoregressive_sample_stream(
            model, inputs, batch_size=batch, **kwargs)
        return [next(stream) for _ in range(options["stream"])]
    return decoding.beam_search(model, inputs, batch_size=batch, **kwargs)


def record_result(fn, result):
    if fn == "beam":
        return [{"sequence": oc.array(np.asarray(seq)),
                 "score": oc.array(np.asarray(score))}
                for seq, score in result]
    if fn == "stream":
        return [oc.array(np.asarray(s)) for s in result]
    return oc.array(np.asarray(result))


def record_run(name, flat):
    model_name, fn, batch, kwargs, options = RUNS[name]
    inputs = {"prefix": LM_PREFIX, "source": SOURCE}.get(
        options.get("inputs"), {}).get(batch)
    mode = options.get("mode", "predict")
    model = decoding_model(model_name, mode, batch, inputs, flat[model_name])
    if "seed" in options:
        np.random.seed(options["seed"])
    out = {"model": model_name, "function": fn, "batch_size": batch,
           "kwargs": {k: (v.tolist() if isinstance(v, np.ndarray) else v)
                      for k, v in kwargs.items()},
           "seed": options.get("seed"), "mode": mode,
           "inputs": None if inputs is None else oc.array(inputs),
           "result": record_result(fn, call(fn, model, inputs, batch, kwargs,
                                            options))}
    out["state_after_sha256"] = tree_sha256(model.state)
    out["state_after"] = oc.tree_typed(model.state)
    if options.get("reuse"):
        out["second_call"] = record_result(
            fn, call(fn, model, inputs, batch, kwargs, options))
    return out


def pick_eos_id(tokens):
    """The token whose first occurrence in every row comes soonest, so that
    a run with it as ``eos_id`` stops before ``max_length``."""
    tokens = np.asarray(tokens)
    best = None
    for token in np.unique(tokens):
        hits = tokens == token
        if hits.any(axis=1).all():
            last_first = int(hits.argmax(axis=1).max())
            if last_first > 0 and (best is None or last_first < best[0]):
                best = (last_first, int(token))
    assert best is not None, f"no token ends every row: {tokens}"
    return best[1]


def record_errors(flat):
    errors = {}
    model = decoding_model("lm", "predict", 2, None, flat["lm"])
    for key, thunk in {
            "beam_search_batch_2": lambda: decoding.beam_search(
                model, None, batch_size=2),
            "inputs_batch_mismatch": lambda: decoding.autoregressive_sample(
                model, LM_PREFIX[3], batch_size=2)}.items():
        try:
            thunk()
            errors[key] = None
        except Exception as e:  # pylint: disable=broad-except
            errors[key] = {"type": type(e).__name__, "message": str(e)}
    return errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=pathlib.Path)
    args = parser.parse_args()
    folder = args.out / "trax_oracle" / "decoding"
    folder.mkdir(parents=True, exist_ok=True)
    flat = {name: initial_weights(name) for name in MODELS}
    runs = {"lm_t1_b3_nostop": record_run("lm_t1_b3_nostop", flat)}
    RUNS["lm_t1_b3_eos"][3]["eos_id"] = pick_eos_id(
        runs["lm_t1_b3_nostop"]["result"]["data"])
    runs.update({name: record_run(name, flat) for name in RUNS
                 if name not in runs})
    eos = runs["lm_t1_b3_eos"]["result"]["shape"][1]
    assert eos < RUNS["lm_t1_b3_eos"][3]["max_length"], "eos run never stops"
    data = {
        "env": oc.env("tests/testdata/generate_decoding.py"),
        "vocab_size": VOCAB,
        "models": MODELS,
        "scale": {k: {str(i): f for i, f in v.items()}
                  for k, v in SCALE.items()},
        "weights_npz": "weights.npz",
        "n_weights": {name: len(f) for name, f in flat.items()},
        "runs": runs,
        "errors": record_errors(flat),
    }
    oc.write_json_gz(folder / "decoding.json.gz", data)
    arrays = {f"{name}/{i:03d}": w for name, f in flat.items()
              for i, w in enumerate(f)}
    np.savez_compressed(folder / "weights.npz", **arrays)
    print(f"wrote {folder}", file=sys.stderr)


if __name__ == "__main__":
    main()
