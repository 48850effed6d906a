"""Records real Trax's research BERT (``trax.models.research.bert``): the
encoder alone and with each head, and the pre-training loss.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_models_bert.py OUT

It writes ``OUT/trax_oracle/models_bert/models_bert.json.gz`` (gzip with no
name and mtime 0, so a rerun gives the same bytes):

``MODELS``: each tiny BERT (odd batch sizes, padded inputs, one or two
layers, each head) built in 'eval' and 'train' mode: both reprs, the weight
and state structure, every initial weight from ``get_prng(0)`` as SHA-256
plus sum and first values, and the eval-mode output for the recorded
inputs (an output over 4096 values as a summary with its hash).

``LOSSES``: ``BERTPretrainingLoss()`` on fixed logits, targets and weights:
repr and value.
"""

import argparse
import functools  # pylint: disable=unused-import  (constructor strings)
import pathlib
import sys

import jax
import numpy as np
from trax import shapes
from trax.fastmath import random as trax_random
from trax.models.research import bert  # pylint: disable=unused-import

import generate_models_reformer as gr  # this folder
import oracle_common as oc  # this folder

tokens = gr.tokens
BIG_OUTPUT = 4096  # values; larger outputs are recorded as summaries


def bert_inputs(batch, length, vocab, type_vocab, n_pad, seed):
    """(token ids with padding at the end, token types, the ignored index)."""
    ids = tokens((batch, length), vocab, n_pad=n_pad, seed=seed)
    types = (np.arange(batch * length).reshape(batch, length) // 3
             % type_vocab).astype(np.int32)
    index = np.zeros((batch,), np.int32)
    return ids, types, index


# Mostly one width (8) and one table length (8): the eager initializers
# compile once per shape, which keeps the test quick.
MODELS = {
    "classifier_1layer": (
        "bert.BERT(d_model=8, vocab_size=20, max_len=8, n_heads=2, "
        "d_ff=16, n_layers=1, head=functools.partial("
        "bert.BERTClassifierHead, 3), mode=MODE)",
        bert_inputs(3, 8, 20, 2, n_pad=2, seed=0)),
    "regression_2layers": (
        "bert.BERT(d_model=8, vocab_size=11, max_len=8, type_vocab_size=3, "
        "n_heads=2, d_ff=16, n_layers=2, head=bert.BERTRegressionHead, "
        "mode=MODE)",
        bert_inputs(5, 7, 11, 3, n_pad=3, seed=1)),
    "mlm_2layers": (
        "bert.BERT(d_model=8, vocab_size=13, max_len=8, n_heads=1, d_ff=16, "
        "n_layers=2, head=functools.partial(bert.BERTMLMHead, "
        "vocab_size=13), mode=MODE)",
        bert_inputs(1, 6, 13, 2, n_pad=1, seed=2)),
    "pretraining_1layer": (
        "bert.BERT(d_model=8, vocab_size=9, max_len=8, n_heads=2, d_ff=16, "
        "n_layers=1, head=functools.partial(bert.BERTPretrainingHead, 2), "
        "mode=MODE)",
        bert_inputs(1, 5, 9, 2, n_pad=0, seed=3)),
    "no_head_1layer": (
        "bert.BERT(d_model=8, vocab_size=20, max_len=8, n_heads=4, "
        "d_ff=16, n_layers=1, mode=MODE)",
        bert_inputs(3, 7, 20, 2, n_pad=4, seed=4)),
}


def _logits(shape, phase):
    return gr.ramp(shape, phase) * np.float32(3.0)


def loss_inputs(batch, length, vocab, seed):
    """(nsp logits, mlm logits, nsp targets, nsp weights, mlm targets, mlm
    weights)."""
    nsp_targets = (np.arange(batch) + seed) % 2
    mlm_targets = tokens((batch, length), vocab, seed=seed)
    mlm_weights = (np.arange(batch * length).reshape(batch, length) % 3
                   != 0).astype(np.float32)
    return (_logits((batch, 2), 0.1 * seed), _logits((batch, length, vocab),
                                                       0.2 * seed),
            nsp_targets.astype(np.int32),
            np.linspace(0.5, 1.0, batch).astype(np.float32),
            mlm_targets, mlm_weights)


LOSSES = {
    "pretraining_loss_b3": loss_inputs(3, 5, 7, seed=0),
    "pretraining_loss_b1": loss_inputs(1, 4, 11, seed=5),
}


def output_record(y):
    if isinstance(y, (tuple, list)):
        return {"tuple": [output_record(t) for t in y]}
    if np.size(y) > BIG_OUTPUT:
        return {"summary": gr.leaf_summary(y, True)}
    return oc.array(y)


def model_record(constructor, x):
    make = lambda mode: eval(constructor.replace("MODE", repr(mode)))  # pylint: disable=eval-used
    models = {mode: make(mode) for mode in ("eval", "train")}
    model = models["eval"]
    sig = shapes.signature(x)
    model.init(sig, rng=trax_random.get_prng(0))
    return {"constructor": constructor, "input": gr.value(x),
            "repr": {m: str(models[m]) for m in models},
            "n_in": model.n_in, "n_out": model.n_out,
            "weights_typed": oc.tree_typed(model.weights),
            "state_typed": oc.tree_typed(model.state),
            "weights": [gr.leaf_summary(w, True) for w in
                        jax.tree_util.tree_leaves(model.weights)],
            "eval_output": output_record(model(x))}


def loss_record(x):
    loss = bert.BERTPretrainingLoss()
    loss.init(shapes.signature(x))
    return {"repr": str(loss), "input": gr.value(x),
            "value": float(loss(x))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=pathlib.Path)
    args = parser.parse_args()
    data = {"env": oc.env("tests/testdata/generate_models_bert.py"),
            "models": {}, "losses": {}}
    for name, (constructor, x) in MODELS.items():
        print(f"model {name}", file=sys.stderr)
        data["models"][name] = model_record(constructor, x)
    for name, x in LOSSES.items():
        print(f"loss {name}", file=sys.stderr)
        data["losses"][name] = loss_record(x)
    oc.write_json_gz(args.out / "trax_oracle" / "models_bert"
                     / "models_bert.json.gz", data)


if __name__ == "__main__":
    main()
