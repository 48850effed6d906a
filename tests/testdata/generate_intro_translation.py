"""Writes a small Trax-format ``Transformer`` checkpoint and vocabulary for
the translation cells of Trax's intro notebook, and records what real Trax
decodes from them.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_intro_translation.py OUT [--notebook F]

It writes into ``OUT/trax_oracle/intro_translation/``:

* ``ende_32k.subword``: a subword vocabulary built by Trax's
  ``SubwordTextEncoder.build_from_generator`` from ``TEXT`` (a few English
  and German sentences, below), target size ``VOCAB_TARGET``; it has the
  notebook's file name so that the cells' ``vocab_file`` stays as written;
* ``model.pkl.gz``: a ``trax.models.Transformer`` of the sizes of
  ``intro_translation_cells.SIZES`` in 'eval' mode, initialised with
  ``init((ShapeDtype((1, 1), int32),) * 2, rng=get_prng(seed))``, every
  ``Dense`` and ``Embedding`` matrix then multiplied by ``WEIGHT_SCALE``
  (Trax's initial weights are too small for greedy decoding to vary) and
  ``EOS_BIAS`` added to the output layer's bias for EOS (without it, the
  greedy translations of most seeds loop before any EOS), saved
  by Trax's ``save_to_file(..., input_signature=that signature)`` (the
  notebook's ``init_from_file(weights_only=True)`` reads the signature from
  the file), re-gzipped without a time stamp so that reruns give the same
  bytes. ``seed`` is the first of 0, 1, 2, ... whose greedy translation
  ends with EOS (id 1) after ``MIN_LENGTH`` to ``MAX_LENGTH`` tokens with at
  least ``MIN_DISTINCT`` different ones (searched with the eval-mode model
  fed its own tokens, one compiled function for all seeds);
* ``intro_translation.json``: the cells (``intro_translation_cells``) run
  twice with real Trax on those files: ``tokenized``,
  ``tokenized_translation``, ``translation`` and what they printed, per
  run; and, from the same checkpoint, the full greedy output (EOS included)
  of ``autoregressive_sample``, with the eval-mode model's teacher-forced
  check that each token is its argmax and the smallest margin between the
  best and second-best log-probability (how far the choices are from a
  tie).

With ``--notebook F`` (Trax's ``trax/intro.ipynb``) it first checks that
``intro_translation_cells.CELLS`` are code cells of the notebook, verbatim.
"""

import argparse
import gzip
import json
import pathlib
import sys

import jax
import numpy as np

import trax
from trax import shapes
from trax.data import text_encoder
from trax.fastmath import random as trax_random
from trax.supervised import decoding

import intro_translation_cells as cells  # this folder
import oracle_common as oc  # this folder

FOLDER = "intro_translation"
VOCAB_TARGET = 300
WEIGHT_SCALE = 3.0
EOS_BIAS = 2.0
MIN_LENGTH, MAX_LENGTH, MIN_DISTINCT = 6, 40, 4
MAX_SEEDS = 200
EOS = 1

# English sentences (the notebook's among them) and German translations.
TEXT = """It is nice to learn new things today!
It is nice to see you again.
We learn new words every day.
Today the weather is nice and warm.
Things are going well at work.
Learning a language takes time and patience.
The children read a new book today.
Is it true that you live in Berlin?
Es ist schön, heute neue Dinge zu lernen!
Es ist schön, dich wiederzusehen.
Wir lernen jeden Tag neue Wörter.
Heute ist das Wetter schön und warm.
Die Dinge laufen gut bei der Arbeit.
Eine Sprache zu lernen braucht Zeit und Geduld.
Die Kinder lesen heute ein neues Buch.
Ist es wahr, dass du in Berlin wohnst?
"""


def check_notebook(path):
    notebook = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
    sources = ["".join(c["source"]) for c in notebook["cells"]
               if c["cell_type"] == "code"]
    for i, cell in enumerate(cells.CELLS):
        if cell not in sources:
            sys.exit(f"CELLS[{i}] is not a code cell of {path}")


def build_vocab(folder):
    encoder = text_encoder.SubwordTextEncoder.build_from_generator(
        iter(TEXT.splitlines()), target_size=VOCAB_TARGET)
    path = folder / cells.VOCAB_FILE
    encoder.store_to_file(str(path))
    size = cells.SIZES["input_vocab_size"][1]
    if encoder.vocab_size > size:
        sys.exit(f"the vocabulary has {encoder.vocab_size} ids, more than "
                 f"input_vocab_size={size}")
    return encoder.vocab_size


def signature():
    sig = shapes.ShapeDtype((1, 1), np.int32)
    return (sig, sig)


def _scaled(model):
    """Every Dense and Embedding matrix times WEIGHT_SCALE, and EOS_BIAS
    added to the output layer's bias for EOS."""
    vocab = cells.small_sizes()["input_vocab_size"]
    outputs = []

    def visit(layer):
        if isinstance(layer, (trax.layers.Dense, trax.layers.Embedding)):
            weights = layer.weights
            if isinstance(weights, tuple):  # Dense: (w, b)
                bias = np.array(weights[1])
                if bias.shape == (vocab,):
                    outputs.append(layer)
                    bias[EOS] += EOS_BIAS
                layer.weights = (weights[0] * WEIGHT_SCALE, bias)
            else:
                layer.weights = weights * WEIGHT_SCALE
        for sub in layer.sublayers:
            visit(sub)

    visit(model)
    assert len(outputs) == 1, outputs


def write_checkpoint(path, seed):
    model = trax.models.Transformer(**cells.small_sizes(), mode="eval")
    model.init(signature(), rng=trax_random.get_prng(seed))
    before = [np.asarray(w) for w in _flat(model.weights)]
    _scaled(model)
    after = [np.asarray(w) for w in _flat(model.weights)]
    n_scaled = sum(not np.array_equal(a, b) for a, b in zip(before, after))
    model.save_to_file(str(path), weights_only=False,
                       input_signature=signature())
    # Same pickle, gzip header without a time stamp.
    with gzip.open(path, "rb") as f:
        payload = f.read()
    path.write_bytes(gzip.compress(payload, compresslevel=2, mtime=0))
    return model, n_scaled, len(after)


def _flat(weights):
    if isinstance(weights, (tuple, list)):
        return [leaf for w in weights for leaf in _flat(w)]
    if isinstance(weights, dict) or weights is None:
        return []
    return [weights]


def teacher_forced(eval_model, inputs, output):
    """Whether each produced token is the eval-mode model's argmax given the
    previous ones, and the smallest top-2 margin of those choices."""
    logits = np.asarray(eval_model((inputs, output))[0], np.float64)[0]
    shifted = logits - logits.max(-1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    top2 = np.sort(logp, axis=-1)[:, -2:]
    return (bool((logp.argmax(-1) == output[0]).all()),
            float((top2[:, 1] - top2[:, 0]).min()))


def greedy_eval(folder, seeds):
    """The first of ``seeds`` whose eval-mode model, fed its own greedy
    tokens (one compiled function for every seed), translates the
    notebook's sentence as wanted."""
    sentence = cells.CELLS[2].split("sentence = ")[1].split("\n")[0]
    inputs = next(trax.data.tokenize(
        iter([eval(sentence)]),  # pylint: disable=eval-used
        vocab_dir=str(folder), vocab_file=cells.VOCAB_FILE))[None, :]
    model = trax.models.Transformer(**cells.small_sizes(), mode="eval")
    forward = jax.jit(model.pure_fn)
    for seed in seeds:
        model.init(signature(), rng=trax_random.get_prng(seed))
        _scaled(model)
        targets = np.zeros((1, MAX_LENGTH + 1), np.int32)
        for t in range(MAX_LENGTH + 1):
            logits = forward((inputs, targets), model.weights, model.state,
                             model.rng)[0][0]
            targets[0, t] = int(np.argmax(logits[0, t]))
            if targets[0, t] == EOS:
                break
        ids = targets[0, :t].tolist()
        ok = (targets[0, t] == EOS and len(ids) >= MIN_LENGTH
              and len(set(ids)) >= MIN_DISTINCT)
        print(f"[generate_intro_translation] seed {seed}: {ids[:12]}... "
              f"{'kept' if ok else 'next'}", flush=True)
        if ok:
            return seed
    sys.exit(f"no seed below {seeds[-1] + 1} gives a translation that ends")


def record_seed(folder, seed):
    path = folder / "model.pkl.gz"
    eval_model, n_scaled, n_weights = write_checkpoint(path, seed)
    runs = [cells.run_cells(path, folder) for _ in range(2)]
    model = trax.models.Transformer(**cells.small_sizes(), mode="predict")
    model.init_from_file(str(path), weights_only=True)
    inputs = np.asarray(runs[0]["tokenized"]["data"], np.int32)
    full = decoding.autoregressive_sample(model, inputs, temperature=0.0)
    argmax, margin = teacher_forced(eval_model, inputs, full)
    return {
        "seed": seed,
        "n_weights": n_weights,
        "n_scaled": n_scaled,
        "runs": runs,
        "full_output": oc.array(full),
        "full_output_is_teacher_forced_argmax": argmax,
        "min_margin": margin,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=pathlib.Path,
                        help="output folder: files go to OUT/trax_oracle/...")
    parser.add_argument("--notebook", help="Trax's trax/intro.ipynb")
    args = parser.parse_args()
    if args.notebook:
        check_notebook(args.notebook)
    folder = pathlib.Path(args.out) / "trax_oracle" / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    vocab_size = build_vocab(folder)
    seed = greedy_eval(folder, list(range(MAX_SEEDS)))
    record = record_seed(folder, seed)
    record = {
        "env": oc.env("generate_intro_translation.py",
                      sizes=cells.small_sizes(), vocab_target=VOCAB_TARGET,
                      weight_scale=WEIGHT_SCALE,
                      eos_bias=EOS_BIAS),
        "vocab_size": vocab_size,
        "input_signature": [[1, 1], "int32"],
        **record,
    }
    oc.write_json(folder / "intro_translation.json", record)
    print(f"[generate_intro_translation] wrote {folder}")


if __name__ == "__main__":
    main()
