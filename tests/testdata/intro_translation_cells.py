"""The translation cells of Trax's intro notebook, and the one place where
they are adapted to run offline on a small checkpoint.

``CELLS`` is a verbatim copy of the notebook's first code cells (cells 2, 3
and 5 of ``trax/intro.ipynb``; ``docs/source/notebooks/trax_intro.ipynb``
has the same cells), Copyright 2020 Google LLC, Apache License 2.0 (cell 2
carries the notice). ``generate_intro_translation.py --notebook FILE``
checks the copy against the notebook.

:func:`adapted_code` joins them and changes only this, each change checked
to apply exactly where expected:

* the IPython shell line ``!pip install -q -U trax`` is dropped (it is not
  Python, and nothing is installed);
* the ``gs://`` checkpoint and vocabulary-folder strings become local paths
  (the vocabulary file keeps its name, ``ende_32k.subword``);
* the ``Transformer``'s sizes become ``SIZES`` (below), so that the
  checkpoint stays a few hundred KB.

Real Trax runs the result (``generate_intro_translation.py``) and so does
trax_compat (``tests/test_intro_translation.py``, this file run as a
script through ``python -m trax_compat.run``, where ``import trax`` gives
trax_compat). Only the standard library here: the code under test brings
its own ``import trax``.
"""

import argparse
import contextlib
import io
import json

CELLS = (
    '#@title\n# Copyright 2020 Google LLC.\n\n# Licensed under the Apache '
    'License, Version 2.0 (the "License");\n# you may not use this file '
    'except in compliance with the License.\n# You may obtain a copy of the '
    'License at\n\n# https://www.apache.org/licenses/LICENSE-2.0\n\n# Unless '
    'required by applicable law or agreed to in writing, software\n# '
    'distributed under the License is distributed on an "AS IS" BASIS,\n# '
    'WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or '
    'implied.\n# See the License for the specific language governing '
    'permissions and\n# limitations under the License.\n\nimport os\nimport '
    'numpy as np\n\n\n',

    '#@title\n# Import Trax\n\n!pip install -q -U trax\nimport trax',

    """
# Create a Transformer model.
# Pre-trained model config in gs://trax-ml/models/translation/ende_wmt32k.gin
model = trax.models.Transformer(
    input_vocab_size=33300,
    d_model=512, d_ff=2048,
    n_heads=8, n_encoder_layers=6, n_decoder_layers=6,
    max_len=2048, mode='predict')

# Initialize using pre-trained weights.
model.init_from_file('gs://trax-ml/models/translation/ende_wmt32k.pkl.gz',
                     weights_only=True)

# Tokenize a sentence.
sentence = 'It is nice to learn new things today!'
tokenized = list(trax.data.tokenize(iter([sentence]),  # Operates on streams.
                                    vocab_dir='gs://trax-ml/vocabs/',
                                    vocab_file='ende_32k.subword'))[0]

# Decode from the Transformer.
tokenized = tokenized[None, :]  # Add batch dimension.
tokenized_translation = trax.supervised.decoding.autoregressive_sample(
    model, tokenized, temperature=0.0)  # Higher temperature: more diverse results.

# De-tokenize,
tokenized_translation = tokenized_translation[0][:-1]  # Remove batch and EOS.
translation = trax.data.detokenize(tokenized_translation,
                                   vocab_dir='gs://trax-ml/vocabs/',
                                   vocab_file='ende_32k.subword')
print(translation)""",
)

SHELL_LINE = "!pip install -q -U trax\n"
CHECKPOINT = "'gs://trax-ml/models/translation/ende_wmt32k.pkl.gz'"
VOCAB_DIR = "'gs://trax-ml/vocabs/'"
VOCAB_FILE = "ende_32k.subword"

# THE place where the notebook's sizes are overridden: argument -> (the
# notebook's value, ours). The checkpoint and vocabulary of
# trax_oracle/intro_translation/ are written for these sizes.
SIZES = {
    "input_vocab_size": (33300, 152),
    "d_model": (512, 32),
    "d_ff": (2048, 64),
    "n_heads": (8, 4),
    "n_encoder_layers": (6, 2),
    "n_decoder_layers": (6, 2),
    "max_len": (2048, 128),
}


def small_sizes():
    """The ``Transformer`` keyword arguments the adapted cell uses."""
    return {name: ours for name, (_, ours) in SIZES.items()}


def _replace(code, old, new, count):
    found = code.count(old)
    if found != count:
        raise ValueError(f"expected {old!r} {count} time(s) in the "
                         f"notebook's cells, found it {found} time(s)")
    return code.replace(old, new)


def adapted_code(checkpoint, vocab_dir):
    """The cells' code, to run on ``checkpoint`` (a Trax ``.pkl.gz``) with
    ``vocab_dir`` holding ``ende_32k.subword``."""
    code = "\n".join(CELLS)
    code = _replace(code, SHELL_LINE, "", 1)
    code = _replace(code, CHECKPOINT, repr(str(checkpoint)), 1)
    code = _replace(code, VOCAB_DIR, repr(str(vocab_dir)), 2)
    for name, (theirs, ours) in SIZES.items():
        code = _replace(code, f"{name}={theirs},", f"{name}={ours},", 1)
    return code


def run_cells(checkpoint, vocab_dir):
    """Runs the adapted cells in a fresh namespace; returns what they
    computed and printed, as JSON-ready values."""
    namespace = {"__name__": "__main__"}
    printed = io.StringIO()
    code = compile(adapted_code(checkpoint, vocab_dir), "intro.ipynb",
                   "exec")
    with contextlib.redirect_stdout(printed):
        exec(code, namespace)  # pylint: disable=exec-used
    return {
        "tokenized": _ids(namespace["tokenized"]),
        "tokenized_translation": _ids(namespace["tokenized_translation"]),
        "translation": namespace["translation"],
        "stdout": printed.getvalue(),
    }


def _ids(array):
    return {"shape": list(array.shape), "dtype": str(array.dtype),
            "data": array.tolist()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--vocab-dir", required=True)
    parser.add_argument("--runs", type=int, default=2,
                        help="how many times to run the cells")
    parser.add_argument("--output", required=True, help="JSON file to write")
    args = parser.parse_args(argv)
    runs = [run_cells(args.checkpoint, args.vocab_dir)
            for _ in range(args.runs)]
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump({"runs": runs}, f)


if __name__ == "__main__":
    main()
