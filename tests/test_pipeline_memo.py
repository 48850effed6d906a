"""Speed paths of the tutorial pipeline give what the plain paths give:
memoized tokenization, the single-key length and the bucket search."""

import numpy as np

from tests.conftest import VOCAB_DIR
from trax_compat import data
from trax_compat.data import inputs
from trax_compat.data import text_tokenize


def test_memoized_encoder_returns_fresh_equal_arrays():
    calls = []

    def enc(text):
        calls.append(text)
        return np.array([len(text), 7]) if text else np.array([])

    memo = text_tokenize._memoized(enc, limit=2)  # pylint: disable=protected-access
    first = memo("abc")
    first[0] = 99  # A consumer modifying its batch changes nothing later.
    again = memo("abc")
    assert again.tolist() == [3, 7] and again is not memo("abc")
    assert memo("").dtype == np.float64 and memo("").dtype == np.float64
    memo("zz")  # Over the limit: encoded every time, still correct.
    assert memo("zz").tolist() == [2, 7]
    assert calls == ["abc", "", "zz", "zz"]


def test_tokenize_of_a_cycled_stream_is_unchanged():
    texts = ["Hello world", "", "naïve café", "Hello world", b"bytes too"]
    stream = ((t, i) for i, t in enumerate(texts * 3))
    got = list(data.tokenize(stream, keys=[0], vocab_file="en_8k.subword",
                             vocab_dir=str(VOCAB_DIR)))
    vocab = text_tokenize.get_vocab("subword", "en_8k.subword",
                                    str(VOCAB_DIR))
    assert [i for _, i in got] == list(range(15))
    for (ids, _), text in zip(got, texts * 3):
        expected = np.array(vocab.encode(text))
        assert ids.dtype == expected.dtype and ids.tolist() == expected.tolist()
    assert got[0][0] is not got[3][0]


def test_unsorted_boundaries_keep_first_fitting_bucket():
    examples = [(np.zeros(n, np.int64), np.int64(0)) for n in (2, 8, 2, 8)]
    # Unsorted: every length fits the first boundary (10), as in Trax.
    batches = list(inputs.bucket_by_length(
        iter(examples), lambda e: len(e[0]), [10, 3], [2, 2, 2]))
    assert [b[0].shape for b in batches] == [(2, 10), (2, 10)]
    sorted_batches = list(inputs.bucket_by_length(
        iter(examples), lambda e: len(e[0]), [3, 10], [2, 2, 2]))
    assert [b[0].shape for b in sorted_batches] == [(2, 3), (2, 10)]
