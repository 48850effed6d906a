"""The five cells of Trax's ``trax_data_Explained`` tutorial that end in
``trax.data.Log`` (cells 10, 11, 33, 36, 43), as functions of a ``trax``
module and a vocab dir. Each returns what the cell prints (Log's lines, then
the cell's own ``print(next(...))``). Run on real Trax by
``generate_data_explained.py`` and on trax_compat by
``tests/test_data_explained_log.py``, both over the ``imdb_reviews`` stand-in
of ``tiny_tfds.py`` (``$TFDS_DATA_DIR`` points at it)."""

import contextlib
import io

import numpy as np

VOCAB_FILE = "en_8k.subword"
BOUNDARIES = [32, 128, 512, 2048]
BATCH_SIZES = [512, 128, 32, 8, 1]


def _source_and_tokenize(trax, vocab_dir):
    return (trax.data.TFDS("imdb_reviews", keys=("text", "label"),
                           train=True),
            trax.data.Tokenize(vocab_dir=vocab_dir, vocab_file=VOCAB_FILE,
                               keys=[0]))


def _bucket(trax):
    return trax.data.BucketByLength(boundaries=BOUNDARIES,
                                    batch_sizes=BATCH_SIZES, length_keys=[0])


def cell_10(trax, vocab_dir):
    return trax.data.Serial(*_source_and_tokenize(trax, vocab_dir),
                            trax.data.Log(only_shapes=False))


def cell_11(trax, vocab_dir):
    return trax.data.Serial(*_source_and_tokenize(trax, vocab_dir),
                            trax.data.Log(only_shapes=True))


def cell_33(trax, vocab_dir):
    return trax.data.Serial(*_source_and_tokenize(trax, vocab_dir),
                            _bucket(trax), trax.data.Log(only_shapes=True))


def cell_36(trax, vocab_dir):
    return trax.data.Serial(
            *_source_and_tokenize(trax, vocab_dir), _bucket(trax),
            trax.data.FilterByLength(max_length=2048, length_keys=[0]),
            trax.data.Log(only_shapes=True))


def cell_43(trax, vocab_dir):
    return trax.data.Serial(
            *_source_and_tokenize(trax, vocab_dir), trax.data.Shuffle(),
            trax.data.FilterByLength(max_length=2048, length_keys=[0]),
            _bucket(trax), trax.data.AddLossWeights(),
            trax.data.Log(only_shapes=True))


# A Log every 2nd example, over three examples (not in the tutorial).
def cell_every_2nd(trax, vocab_dir):
    return trax.data.Serial(*_source_and_tokenize(trax, vocab_dir),
                            trax.data.Log(n_steps_per_example=2,
                                          only_shapes=True))


CELLS = {"10": (cell_10, 1), "11": (cell_11, 1), "33": (cell_33, 1),
         "36": (cell_36, 1), "43": (cell_43, 1),
         "every_2nd": (cell_every_2nd, 3)}


def run(trax, vocab_dir, name):
    """What cell ``name`` prints: its pipeline's first item(s), printed.

    NumPy's global generator is seeded first (cell 43 shuffles with it).
    """
    make, n_items = CELLS[name]
    np.random.seed(0)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        example = make(trax, vocab_dir)()
        for _ in range(n_items):
            print(next(example))
    return out.getvalue()
