"""Records real Trax's ``TransformerLM`` and ``Transformer`` for the native
Flax models (``models/transformer.py``).

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_models_native.py OUT [--fixtures DIR]

It writes ``OUT/trax_oracle/models_native/models_native.json.gz`` and
``models_native.npz`` (reproducible bytes). Each case of ``CASES`` builds
its constructor in 'eval' mode, initialises it with ``init(signature(x),
rng=get_prng(seed))`` and records:

* ``weights``: the weight tree, each array replaced by its index in the flat
  depth-first list (Trax's checkpoint order), ``null`` for ``()`` and
  ``"shared"`` for Trax's shared-layer marker; the arrays are
  ``<case>/w<index>`` in the npz. ``predict_weights``: the same for the
  model built in 'predict' mode (the ``Transformer`` nests differently);
* ``output_eval``: ``model(x)`` (for the ``Transformer`` its first output,
  the logits);
* ``decodes``: ``np.random.seed(np_seed)``, then
  ``trax.supervised.decoding.autoregressive_sample`` (greedy with
  ``temperature=0.0``, or sampled) on a fresh 'predict'-mode model loaded
  with the same weights (``save_to_file`` / ``init_from_file``), with the
  margin between the best and second-best score of each choice when the
  eval-mode model scores the result with teacher forcing, plus the sampling
  noise replayed from the seed (``min_margin``: how far the choices are from
  a tie).

``lm_b.weights.npy.gz``: ``lm_b``'s flat weights written by Trax's own
``trax.layers.base.np_to_file`` (the format of a Trax checkpoint's
``model.weights.npy.gz``), re-gzipped without a time stamp.

With ``--fixtures DIR`` (the developers' fixtures folder) the cases that use
the configuration and inputs of ``DIR/trax_oracle/models`` are checked to
give its weights and outputs exactly.
"""

import argparse
import gzip
import json
import pathlib
import sys
import tempfile

import numpy as np

import trax
from trax import shapes
from trax.fastmath import random as trax_random
from trax.supervised import decoding

import make_testdata  # this folder
import oracle_common as oc  # this folder

MARKER = {"__marker_for_cached_weights_": ()}


def _ids(seed, batch, length, n_pad, vocab):
    ids = np.random.default_rng(seed).integers(
        1, vocab, size=(batch, length)).astype(np.int32)
    for row, n in enumerate(n_pad):
        if n:
            ids[row, length - n:] = 0
    return ids


# The inputs of the developers' fixtures (trax_oracle/models/README.md).
IDS_A = _ids(5, 2, 8, [3, 0], 20)
IDS_B = _ids(11, 3, 7, [0, 2, 4], 23)
SRC_B = _ids(12, 3, 7, [2, 0, 3], 17)
TGT_B = _ids(13, 3, 5, [0, 1, 0], 13)
PROMPT_B = _ids(14, 3, 4, [0, 0, 0], 23)

LM_A = ("trax.models.TransformerLM(vocab_size=20, d_model=16, d_ff=32, "
        "n_layers=2, n_heads=2, max_len=32, mode='{mode}')")
TR_A = ("trax.models.Transformer(input_vocab_size=20, d_model=16, d_ff=32, "
        "n_encoder_layers=1, n_decoder_layers=1, n_heads=2, max_len=32, "
        "mode='{mode}')")

# name -> constructor, config of models.transformer.TransformerConfig,
# inputs, init seed, decodes (prompt or encoder inputs, batch, max_length),
# fixture model name.
CASES = {
    "lm_a": dict(
        constructor=LM_A, kind="lm",
        config=dict(vocab_size=20, d_model=16, d_ff=32, n_layers=2,
                    n_heads=2, max_len=32),
        inputs=[IDS_A], seed=0, fixture="TransformerLM",
        decodes=[dict(inputs=IDS_A[:, :4], max_length=10),
                 dict(inputs=None, batch_size=2, max_length=8)]),
    "lm_b": dict(
        constructor=("trax.models.TransformerLM(vocab_size=23, d_model=12, "
                     "d_ff=20, n_layers=1, n_heads=3, max_len=24, "
                     "mode='{mode}')"), kind="lm",
        config=dict(vocab_size=23, d_model=12, d_ff=20, n_layers=1,
                    n_heads=3, max_len=24),
        inputs=[IDS_B], seed=1,
        decodes=[dict(inputs=PROMPT_B, max_length=12),
                 dict(inputs=PROMPT_B, max_length=12, temperature=1.0,
                      np_seed=7)]),
    "tr_a": dict(
        constructor=TR_A, kind="encdec",
        config=dict(vocab_size=20, d_model=16, d_ff=32, n_layers=1,
                    n_heads=2, max_len=32),
        inputs=[IDS_A, IDS_A[:, :6].copy()], seed=0, fixture="Transformer",
        decodes=[dict(inputs=IDS_A, max_length=10)]),
    "tr_b": dict(
        constructor=("trax.models.Transformer(input_vocab_size=17, "
                     "output_vocab_size=13, d_model=8, d_ff=16, "
                     "n_encoder_layers=2, n_decoder_layers=2, n_heads=4, "
                     "max_len=16, mode='{mode}')"), kind="encdec",
        config=dict(vocab_size=17, output_vocab_size=13, d_model=8, d_ff=16,
                    n_encoder_layers=2, n_decoder_layers=2, n_heads=4,
                    max_len=16),
        inputs=[SRC_B, TGT_B], seed=2,
        decodes=[dict(inputs=SRC_B, max_length=9),
                 dict(inputs=SRC_B, max_length=9, temperature=0.8,
                      np_seed=8)]),
}


def _structure(tree, flat):
    """The tree with each array replaced by its index in ``flat``."""
    if isinstance(tree, dict):
        if tree == MARKER:
            return "shared"
        raise ValueError(f"unexpected dict in a weight tree: {tree}")
    if isinstance(tree, (tuple, list)):
        return [_structure(t, flat) for t in tree] if len(tree) else None
    flat.append(np.asarray(tree))
    return len(flat) - 1


def _packed(xs):
    return xs[0] if len(xs) == 1 else tuple(xs)


def _log_softmax(x):
    x = np.asarray(x, np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def _margins(model, kind, spec, tokens):
    """Teacher-forced log-probabilities of the chosen tokens, plus the
    sampling noise replayed from ``np_seed`` (Trax draws it from NumPy's
    global generator, one (batch, vocab) draw per token): margin of each
    choice over the runner-up, and whether each choice is the argmax."""
    if kind == "lm":
        prefix = spec["inputs"]
        if prefix is None:
            prefix = np.zeros((tokens.shape[0], 0), np.int32)
        logits = model(np.concatenate([prefix, tokens], axis=1).astype(
            np.int32))[:, prefix.shape[1]:]
    else:
        logits = model((spec["inputs"], tokens.astype(np.int32)))[0]
    scores = _log_softmax(logits).astype(np.float32)
    if spec.get("temperature", 0.0):
        replay = np.random.RandomState(spec["np_seed"])
        for t in range(tokens.shape[1]):
            u = replay.uniform(low=1e-6, high=1.0 - 1e-6,
                               size=scores[:, t].shape)
            scores[:, t] += (-np.log(-np.log(u)) *
                             spec["temperature"]).astype(np.float32)
    ordered = np.sort(scores, axis=-1)
    return {"argmax_equals_greedy": bool(
                (np.argmax(scores, axis=-1) == tokens).all()),
            "min_margin": float((ordered[..., -1] - ordered[..., -2]).min())}


def _decode(constructor, kind, checkpoint, spec):
    model = eval(constructor.format(mode="predict"))  # pylint: disable=eval-used
    inputs = spec["inputs"]
    batch = spec.get("batch_size", None if inputs is None else len(inputs))
    sig = shapes.ShapeDtype((batch, 1), np.int32)
    model.init_from_file(checkpoint, weights_only=True,
                         input_signature=sig if kind == "lm" else (sig, sig))
    flat = []
    structure = _structure(model.weights, flat)
    np.random.seed(spec.get("np_seed", 0))
    tokens = decoding.autoregressive_sample(
        model, inputs=inputs, batch_size=batch,
        temperature=spec.get("temperature", 0.0),
        max_length=spec["max_length"])
    return model, structure, flat, np.asarray(tokens)


def case_record(name, case, arrays):
    constructor = case["constructor"].format(mode="eval")
    model = eval(constructor)  # pylint: disable=eval-used
    x = _packed(case["inputs"])
    model.init(shapes.signature(x), rng=trax_random.get_prng(case["seed"]))
    flat = []
    structure = _structure(model.weights, flat)
    for i, w in enumerate(flat):
        arrays[f"{name}/w{i:03d}"] = w
    out = model(x)
    if isinstance(out, (tuple, list)):
        out = out[0]
    record = {
        "constructor": constructor, "kind": case["kind"],
        "config": case["config"],
        "init_rng": f"trax.fastmath.random.get_prng({case['seed']})",
        "inputs": [oc.array(v) for v in case["inputs"]],
        "n_weights": len(flat), "weights": structure,
        "output_eval": oc.array(out), "decodes": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = str(pathlib.Path(tmp) / "model.pkl.gz")
        model.save_to_file(checkpoint, weights_only=False,
                           input_signature=shapes.signature(x))
        for spec in case["decodes"]:
            pred, pred_structure, pred_flat, tokens = _decode(
                case["constructor"], case["kind"], checkpoint, spec)
            assert len(pred_flat) == len(flat) and all(
                np.array_equal(a, b) for a, b in zip(pred_flat, flat))
            record["predict_weights"] = pred_structure
            record["decodes"].append({
                "call": "np.random.seed(np_seed); autoregressive_sample("
                        "model, inputs=inputs, batch_size=batch_size, "
                        "temperature=temperature, max_length=max_length)",
                "temperature": spec.get("temperature", 0.0),
                "np_seed": spec.get("np_seed", 0),
                "inputs": None if spec["inputs"] is None
                else oc.array(spec["inputs"]),
                "batch_size": len(tokens),
                "max_length": spec["max_length"],
                "output": oc.array(tokens),
                **_margins(model, case["kind"], spec, tokens),
            })
            del pred
    return record


def write_weights_file(path, arrays, name):
    flat = [arrays[k] for k in sorted(arrays) if k.startswith(name + "/w")]
    with tempfile.TemporaryDirectory() as tmp:
        raw = str(pathlib.Path(tmp) / "weights.npy.gz")
        trax.layers.base.np_to_file(flat, raw, compresslevel=2)
        with gzip.open(raw, "rb") as f:
            data = f.read()
    path.write_bytes(make_testdata.gzip_bytes(data))


def check_fixtures(fixtures, data, arrays):
    folder = fixtures / "trax_oracle" / "models"
    models = json.loads((folder / "models.json").read_text())["models"]
    with np.load(folder / "models.npz") as z:
        for name, case in CASES.items():
            if "fixture" not in case:
                continue
            ref = models[case["fixture"]]
            for i, (path, _, _) in enumerate(ref["weights_npz"]):
                np.testing.assert_array_equal(
                    arrays[f"{name}/w{i:03d}"],
                    z[f"{case['fixture']}/weights/{path}"])
            out = ref["output_eval"]
            out = out["tuple"][0] if "tuple" in out else out
            np.testing.assert_array_equal(
                np.asarray(data["cases"][name]["output_eval"]["data"],
                           np.float32),
                np.asarray(out["data"], np.float32))
            print(f"[generate_models_native] {name} equals the fixture's "
                  f"{case['fixture']}", file=sys.stderr)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=pathlib.Path,
                        help="output folder: files go to OUT/trax_oracle/...")
    parser.add_argument("--fixtures", type=pathlib.Path,
                        help="developers' fixtures folder to cross-check")
    args = parser.parse_args(argv)
    arrays = {}
    data = {
        "description": "Real trax.models TransformerLM/Transformer for the "
                       "native Flax models; see tests/testdata/README.md.",
        "env": oc.env("generate_models_native.py"),
        "cases": {name: case_record(name, case, arrays)
                  for name, case in CASES.items()},
    }
    if args.fixtures:
        check_fixtures(args.fixtures, data, arrays)
    folder = args.out / "trax_oracle" / "models_native"
    folder.mkdir(parents=True, exist_ok=True)
    oc.write_json_gz(folder / "models_native.json.gz", data, indent=None)
    make_testdata.write_npz(folder / "models_native.npz", arrays)
    write_weights_file(folder / "lm_b.weights.npy.gz", arrays, "lm_b")
    return 0


if __name__ == "__main__":
    sys.exit(main())
