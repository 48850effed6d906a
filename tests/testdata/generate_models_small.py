"""Records real Trax's small models: mlp, rnn, resnet, atari_cnn and
neural_gpu.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_models_small.py tests/testdata

It writes ``OUT/trax_oracle/models_small/models_small.json.gz`` (gzip with
no name and mtime 0) and ``models_small.npz`` (zip entries dated
1980-01-01, so a rerun gives the same bytes). Every configuration of
``CONFIGS`` is a constructor expression (``MODE`` stands for the mode) and
an input. For each, in this order:

    m = CONSTRUCTOR(mode='eval'); m.init(signature(x), rng=get_prng(0))
        -> repr, n_in/n_out, weight/state trees, initial weights, m(x)
    mt = CONSTRUCTOR(mode='train'); mt.init(signature(x), rng=get_prng(0))
        -> repr, mt(x, rng=get_prng(1)) and mt.state afterwards
    (recurrent models) mp = CONSTRUCTOR(mode='predict'), initialised on
        one-token signatures with get_prng(0), fed one target token per call
        -> outputs of every call, the state after the last, and its
        initial weights where they differ from eval mode's

Weight leaves are listed depth first (Trax's flat weight order) with their
path into the nested tuples (``2/1/0`` = ``weights[2][1][0]``), shape,
dtype and the SHA-256 of their bytes (C order); leaves of at most
``FULL_VALUES`` numbers are also stored in the npz (``<name>/weights/<path>``),
larger ones with their first 8 values and float64 sum. Outputs and states
are stored whole in the npz (``<name>/eval``, ``<name>/train``,
``<name>/predict``, ``<name>/state_train/<path>``, ...). Inputs come from
``models_small_inputs.py``; the JSON keeps their SHA-256.

The first seven configurations are those of the developers' fixtures
(``models.json``: same constructors and inputs); the others add parameter
sets (odd batches, other widths, options, the other constructors).
"""

import argparse
import gzip
import hashlib
import io
import json
import pathlib
import sys
import zipfile

import numpy as np

import trax
from trax import layers as tl  # pylint: disable=unused-import
from trax import shapes
from trax.fastmath import random as trax_random

import models_small_inputs  # this folder
import oracle_common as oc  # this folder

FULL_VALUES = 256
I32 = np.int32


# name -> (constructor, input key(s), predict: None or "lm" / "seq2seq").
CONFIGS = {
    # The developers' fixtures' configurations.
    "MLP": ("trax.models.MLP(layer_widths=(8, 8, 3), mode=MODE)", "mlp",
            None),
    "RNNLM": ("trax.models.RNNLM(vocab_size=20, d_model=8, n_layers=2, "
              "mode=MODE)", "ids", "lm"),
    "GRULM": ("trax.models.GRULM(vocab_size=20, d_model=8, n_layers=1, "
              "mode=MODE)", "ids", "lm"),
    "LSTMSeq2SeqAttn": (
        "trax.models.LSTMSeq2SeqAttn(input_vocab_size=20, "
        "target_vocab_size=20, d_model=8, n_encoder_layers=1, "
        "n_decoder_layers=1, n_attention_heads=2, mode=MODE)",
        ("ids", "ids[:, :6]"), "seq2seq"),
    "WideResnet": ("trax.models.WideResnet(n_blocks=1, widen_factor=1, "
                   "n_output_classes=3, mode=MODE)", "wrn", None),
    "Resnet50": ("trax.models.Resnet50(d_hidden=2, n_output_classes=3, "
                 "mode=MODE)", "r50", None),
    "AtariCnn": ("trax.models.AtariCnn(n_frames=2, hidden_sizes=(4, 4), "
                 "output_size=8, mode=MODE)", "atari", None),
    # More parameter sets.
    "MLP_tanh_unflattened": (
        "trax.models.MLP(layer_widths=(6, 4), activation_fn=tl.Tanh, "
        "out_activation=True, flatten=False, mode=MODE)", "mlp2", None),
    "RNNLM_gru_cell": (
        "trax.models.RNNLM(vocab_size=11, d_model=6, rnn_cell=tl.GRUCell, "
        "rnn_cell_d_state_multiplier=1, dropout=0.25, mode=MODE)", "ids3",
        "lm"),
    "GRULM_2_layers": ("trax.models.GRULM(vocab_size=13, d_model=6, "
                       "n_layers=2, mode=MODE)", "ids_gru2", "lm"),
    "LSTMSeq2SeqAttn_dropout": (
        "trax.models.LSTMSeq2SeqAttn(input_vocab_size=11, "
        "target_vocab_size=9, d_model=6, n_encoder_layers=2, "
        "n_decoder_layers=2, n_attention_heads=3, attention_dropout=0.25, "
        "mode=MODE)", ("src3", "tgt3"), "seq2seq"),
    "WideResnet_2_blocks": (
        "trax.models.WideResnet(n_blocks=2, widen_factor=1, "
        "n_output_classes=5, bn_momentum=0.75, mode=MODE)", "wrn2", None),
    "Resnet50_frn": (
        "trax.models.Resnet50(d_hidden=1, n_output_classes=2, mode=MODE, "
        "norm=tl.FilterResponseNorm, non_linearity=tl.ThresholdedLinearUnit)",
        "r50", None),
    "AtariCnn_3_frames": ("trax.models.AtariCnn(n_frames=3, hidden_sizes=("
                          "3, 5), output_size=4, mode=MODE)", "atari2", None),
    "AtariCnnBody": ("trax.models.AtariCnnBody(n_frames=2, hidden_sizes=("
                     "4, 3, 5), output_size=6, mode=MODE)", "body", None),
    "AtariCnnBody_same_atari_init": (
        "trax.models.AtariCnnBody(n_frames=3, hidden_sizes=(2, 3, 2), "
        "output_size=3, mode=MODE, kernel_initializer=tl.AtariConvInit, "
        "padding='SAME')", "body_same", None),
    "FrameStackMLP": ("trax.models.FrameStackMLP(n_frames=3, hidden_sizes=("
                      "5, 4), output_size=3, mode=MODE)", "frames", None),
    # The Neural GPU: one cell shared by every step, dropout in every mode.
    "NeuralGPU": ("trax.models.NeuralGPU(d_feature=6, steps=3, vocab_size=5, "
                  "mode=MODE)", "ngpu", None),
    "NeuralGPU_2_rows": ("trax.models.NeuralGPU(d_feature=9, steps=2, "
                         "vocab_size=7, mode=MODE)", "ngpu2", None),
}


def build(constructor, mode):
    return eval(constructor.replace("MODE", repr(mode)))  # pylint: disable=eval-used


def flat_leaves(tree, prefix=""):
    """(path, array) of every array in a Trax weight/state tree, depth
    first."""
    if isinstance(tree, (tuple, list)):
        out = []
        for i, sub in enumerate(tree):
            out += flat_leaves(sub, f"{prefix}{i}/")
        return out
    if isinstance(tree, dict) or tree is None:
        return []  # a shared layer's cache marker
    return [(prefix.rstrip("/"), np.asarray(tree))]


def sha256(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def leaf_records(tree, name, kind, arrays):
    records = []
    for path, a in flat_leaves(tree):
        rec = {"path": path, "shape": list(a.shape), "dtype": a.dtype.name,
               "sha256": sha256(a)}
        if a.size <= FULL_VALUES:
            arrays[f"{name}/{kind}/{path}"] = a
        else:
            rec["first"] = a.reshape(-1)[:8].tolist()
            rec["sum"] = float(np.sum(a, dtype=np.float64))
        records.append(rec)
    return records


def store_output(y, key, arrays):
    if isinstance(y, (tuple, list)):
        for i, a in enumerate(y):
            arrays[f"{key}/{i}"] = np.asarray(a)
        return len(y)
    arrays[key] = np.asarray(y)
    return 1


def same_tree(a, b):
    la, lb = flat_leaves(a), flat_leaves(b)
    return (oc.tree_typed(a) == oc.tree_typed(b)
            and all(pa == pb and np.array_equal(x, y)
                    for (pa, x), (pb, y) in zip(la, lb)))


def predict_run(constructor, kind, x, name, arrays):
    """One-token-per-call decoding of the target in predict mode."""
    mp = build(constructor, "predict")
    if kind == "lm":
        tokens, sig = x, shapes.ShapeDtype((x.shape[0], 1), I32)
    else:
        tokens = x[1]
        sig = (shapes.signature(x[0]), shapes.ShapeDtype((x[0].shape[0], 1),
                                                         I32))
    mp.init(sig, rng=trax_random.get_prng(0))
    record = {"repr": str(mp), "weights_typed": oc.tree_typed(mp.weights),
              "state_typed_after_init": oc.tree_typed(mp.state)}
    outs = []
    for t in range(tokens.shape[1]):
        step = tokens[:, t:t + 1]
        y = mp(step if kind == "lm" else (x[0], step))
        outs.append(np.asarray(y if kind == "lm" else y[0]))
    arrays[f"{name}/predict"] = np.concatenate(outs, axis=1)
    record["state_after"] = leaf_records(mp.state, name, "state_predict",
                                         arrays)
    record["state_typed_after"] = oc.tree_typed(mp.state)
    return record, mp.weights


def model_record(name, constructor, keys, predict, inputs, arrays):
    x = models_small_inputs.model_input(keys, inputs)
    m = build(constructor, "eval")
    record = {"constructor": constructor,
              "input": keys if isinstance(keys, str) else list(keys),
              "input_sha256": [sha256(a) for a in
                               (x if isinstance(x, tuple) else (x,))],
              "repr_eval": str(m), "n_in": m.n_in, "n_out": m.n_out}
    m.init(shapes.signature(x), rng=trax_random.get_prng(0))
    record.update({
        "weights_typed": oc.tree_typed(m.weights),
        "state_typed": oc.tree_typed(m.state),
        "n_weights": int(sum(a.size for _, a in flat_leaves(m.weights))),
        "weights": leaf_records(m.weights, name, "weights", arrays),
        "state_init": leaf_records(m.state, name, "state_init", arrays),
    })
    record["n_eval_outputs"] = store_output(m(x), f"{name}/eval", arrays)

    mt = build(constructor, "train")
    record["repr_train"] = str(mt)
    mt.init(shapes.signature(x), rng=trax_random.get_prng(0))
    record["train_weights_equal_eval_weights"] = same_tree(mt.weights,
                                                           m.weights)
    init_state = mt.state
    yt = mt(x, rng=trax_random.get_prng(1))
    store_output(yt, f"{name}/train", arrays)
    record["state_train"] = leaf_records(mt.state, name, "state_train",
                                         arrays)
    record["state_changed_by_train_call"] = not same_tree(mt.state,
                                                          init_state)
    if predict:
        record["predict_kind"] = predict
        record["predict"], pw = predict_run(constructor, predict, x, name,
                                            arrays)
        record["predict"]["weights_equal_eval_weights"] = same_tree(
            pw, m.weights)
        if not record["predict"]["weights_equal_eval_weights"]:
            record["predict"]["weights"] = leaf_records(
                pw, name, "weights_predict", arrays)
    return record


def write_npz(path, arrays):
    """np.savez_compressed's format, with fixed entry dates."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for key in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.array(arrays[key], order="C"),
                                      allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0,
                                                            0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, buf.getvalue())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=pathlib.Path,
                        help="output folder: files go to OUT/trax_oracle/...")
    args = parser.parse_args(argv)
    folder = args.out / "trax_oracle" / "models_small"
    folder.mkdir(parents=True, exist_ok=True)
    inputs = models_small_inputs.inputs()
    arrays = {}
    models = {}
    for name, (constructor, keys, predict) in CONFIGS.items():
        print(f"[generate_models_small] {name}", file=sys.stderr)
        models[name] = model_record(name, constructor, keys, predict, inputs,
                                    arrays)
    record = {
        "description": "Real trax.models mlp/rnn/resnet/atari_cnn; see "
                       "tests/testdata/README.md and this script's "
                       "docstring.",
        "env": oc.env("generate_models_small.py"),
        "init_rng": "trax.fastmath.random.get_prng(0)",
        "train_rng": "trax.fastmath.random.get_prng(1)",
        "full_values_max_size": FULL_VALUES,
        "models": models,
    }
    text = json.dumps(record, indent=None, ensure_ascii=False) + "\n"
    path = folder / "models_small.json.gz"
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                           compresslevel=9) as f:
            f.write(text.encode("utf-8"))
    write_npz(folder / "models_small.npz", arrays)
    print(f"wrote {path} and models_small.npz", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
