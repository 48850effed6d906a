"""Trax's Deep N-Gram tutorial (``trax/examples/Deep_N_Gram_Models.ipynb``)
as one script, with the stand-ins a test machine needs.

Shared by ``generate_deep_ngram.py`` (real Trax) and
``tests/test_deep_ngram_tutorial.py`` (trax_compat), so both run the same
script. The notebook's code cells are stored verbatim in
``trax_oracle/deep_ngram/cells.json``; ``tutorial_script`` joins them, with
these changes only:

* the ``%%capture`` / ``!pip install trax`` cell is dropped (not Python);
* in the cell that reads the corpus, the literal ``/kaggle/input`` becomes
  a local folder holding ``write_corpus``'s synthetic text (Kaggle's data
  set is not here);
* in the three training cells, ``n_steps = 10`` becomes ``n_steps``
  (``N_STEPS``): ten steps of the three 5-layer, d_model=512 models take
  84 s on a 2-core CPU, too long for a unit test (see the test's
  docstring).

The tutorial imports pandas and never uses it; ``PANDAS_STUB`` is what a
runner puts next to the script where pandas is not installed.
"""

import json
import random
import re

NOTEBOOK = "trax/examples/Deep_N_Gram_Models.ipynb"
KAGGLE = "/kaggle/input"
N_STEPS = 2
# Keras (imported with TensorFlow where the [tfds] extra is installed) looks
# up these two types when pandas is importable.
PANDAS_STUB = ('"""Stand-in: the tutorial imports pandas but never uses '
               'it."""\n\n\nclass Series:\n    pass\n\n\n'
               'class DataFrame:\n    pass\n')
# The tutorial holds out the last 1000 lines for evaluation.
N_LINES = 1200

_WORDS = ("the of and to in is was he for it with as his on be at by had "
          "not are but from or have an they which one you were her all "
          "she there would their we him been has when who will more no "
          "if out so said what up its about into than them can only other "
          "new some could time these two may then do first any my now "
          "such like our over man me even most made after also did many "
          "before must through back years where much your way well down "
          "should because each just those people mr how too little state "
          "good very make world still own see men work long get here "
          "between both life being under never day same another know while "
          "last might us great old year off come since against go came "
          "right used take three").split()


def code_cells(notebook):
    """The notebook's code cells (its parsed JSON), verbatim, in order."""
    return ["".join(cell["source"]) for cell in notebook["cells"]
            if cell["cell_type"] == "code"]


def _training_cell(cell):
    return "_training_loop = train_model(" in cell


def tutorial_script(cells, kaggle_dir, n_steps=N_STEPS):
    """The script: ``cells`` joined, with the stand-ins of the docstring."""
    kaggle_dir = str(kaggle_dir)
    if re.search(r"['\"\\]", kaggle_dir):
        raise ValueError(f"{kaggle_dir!r}: no quotes or backslashes, please")
    kept, n_kaggle = [], 0
    for cell in cells:
        if cell.startswith("%%capture"):
            continue
        if KAGGLE in cell:
            cell = cell.replace(KAGGLE, kaggle_dir)
            n_kaggle += 1
        if _training_cell(cell):
            cell, n = re.subn(r"n_steps ?= ?10\b", f"n_steps={n_steps}", cell)
            assert n == 1, cell
        kept.append(cell)
    # The cells this expects: a changed notebook needs a new look.
    assert n_kaggle == 1 and sum(map(_training_cell, kept)) == 3
    return "\n\n".join(kept) + "\n"


def write_corpus(folder, n_lines=N_LINES, seed=0):
    """Kaggle's layout, ``folder/<data set>/<file>.txt``: ``n_lines``
    non-empty lines of synthetic English-like ASCII text (mixed case; the
    tutorial lowercases), spread over two data sets, with blank lines and a
    non-.txt file the tutorial skips. A few lines are 64 characters or
    longer, which the tutorial's ``data_generator`` skips."""
    rng = random.Random(seed)
    lines = []
    for i in range(n_lines):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(2, 11))]
        if i % 50 == 0:
            words *= 4  # too long for max_length=64
        line = " ".join(words).capitalize() + rng.choice(".,;!?")
        lines.append(line)
    half = n_lines // 2
    for name, part in (("shakespeare", lines[:half]),
                       ("poems", lines[half:])):
        sub = folder / name
        sub.mkdir(parents=True)
        text = "\n\n".join(part[j] if j % 7 else "  " + part[j]
                           for j in range(len(part)))
        (sub / f"{name}.txt").write_text(text + "\n", encoding="ascii")
        (sub / "README.md").write_text("not text lines\n", encoding="ascii")
    return lines


def load_cells(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)["cells"]
