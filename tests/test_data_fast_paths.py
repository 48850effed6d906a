"""The pipeline's fast paths give exactly what the plain code gives.

* ``global_rng.randint_fn(n)`` against ``np.random.randint(n)``: same values,
  same global RNG state afterwards, also when other draws interleave and
  when the global bit generator is not MT19937;
* ``SubwordVocabulary.encode_packed`` and the memoized Tokenize built on it
  against ``np.array(vocab.encode(text))`` on tricky texts (Unicode, escape
  characters, characters outside the alphabet, empty text, bytes), with
  cold and warm caches, a cache emptied when full, and ``n_reserved_ids``.
"""

import numpy as np
import pytest

from trax_compat import data
from trax_compat.data import global_rng
from trax_compat.data import subword
from trax_compat.data import text_tokenize

TRICKY = [
    "", " ", "  ", "a", " a ", "hello  world", "don't_stop \\ me\\u now",
    "tab\there\nnewline", "café naïve Ωmega 東京 ١٢٣", "emoji 😤 🍕!!", "x" * 40,
    "\x00\x01 control", "mixed123abc 4.5e6 #tag @user", "end with space ",
    "\u3013 undefined \\99999999999; escape", "zzzqqqxxx unseen ꙮ ⵣ",
]


def _state():
    kind, key, pos, has_gauss, gauss = np.random.get_state()
    return kind, key.tolist(), pos, has_gauss, gauss


@pytest.mark.parametrize("n", [1, 2, 3, 7, 1000, 1024, 1025, 2 ** 31 + 5])
def test_randint_fn_draws_like_numpy(n):
    np.random.seed(11)
    want = []
    for k in range(400):
        want.append(np.random.randint(n))
        if k % 7 == 0:  # other users of the global RNG in between
            want.append(np.random.random())
    want_state = _state()
    np.random.seed(11)
    draw = global_rng.randint_fn(n)
    got = []
    for k in range(400):
        got.append(draw())
        if k % 7 == 0:
            got.append(np.random.random())
    assert got == want
    assert [type(v) for v in got] == [type(v) for v in want]
    assert _state() == want_state


def test_randint_fn_follows_a_swapped_bit_generator():
    original = np.random.get_bit_generator()
    try:
        np.random.set_bit_generator(np.random.PCG64(5))
        want = [np.random.randint(1000) for _ in range(50)]
        np.random.set_bit_generator(np.random.PCG64(5))
        draw = global_rng.randint_fn(1000)
        assert [draw() for _ in range(50)] == want
    finally:
        np.random.set_bit_generator(original)


def test_shuffle_still_matches_numpy_draws():
    # The queue logic written with np.random.randint, as Trax has it.
    def reference(items, q):
        it = iter(items)
        queue = [next(it) for _ in range(q)]
        for x in it:
            i = np.random.randint(q)
            yield queue[i]
            queue[i] = x
        np.random.shuffle(queue)
        yield from queue

    for q in (3, 16, 100):
        np.random.seed(3)
        want = list(reference(range(500), q))
        want_state = _state()
        np.random.seed(3)
        assert list(data.shuffle(iter(range(500)), q)) == want
        assert _state() == want_state


@pytest.fixture(scope="module")
def vocab():
    texts = ["the quick brown fox jumps over the lazy dog",
             "hello world, hello trax! 123 numbers", "café naïve"] * 5
    return subword.build_subword_vocabulary(texts, 120)


def _packed_array(vocab, text):
    blob = vocab.encode_packed(text)
    return np.frombuffer(blob, subword.ID_DTYPE) if blob else np.array([])


def test_encode_packed_matches_encode_cold_and_warm(vocab):
    fresh = subword.SubwordVocabulary(vocab.subtokens)
    for text in TRICKY + [t.encode("utf-8") for t in TRICKY]:
        want = np.array(fresh.encode(text))
        for _ in range(2):  # cold, then warm word caches
            got = _packed_array(vocab, text)
            assert got.dtype == want.dtype and got.tolist() == want.tolist()


def test_encode_packed_survives_a_full_cache(vocab, monkeypatch):
    monkeypatch.setattr(subword, "_WORD_CACHE_MAX", 3)
    small = subword.SubwordVocabulary(vocab.subtokens)
    for text in TRICKY * 2:
        assert (_packed_array(small, text).tolist()
                == np.array(vocab.encode(text)).tolist())
        assert len(small._packed_cache) <= len(small._word_cache) <= 3  # pylint: disable=protected-access


@pytest.mark.parametrize("n_reserved", [0, 3])
def test_tokenize_fast_path_matches_generic_path(vocab, n_reserved,
                                                 monkeypatch):
    monkeypatch.setattr(text_tokenize, "get_vocab", lambda *a, **k: vocab)
    stream = [(t, 1) for t in TRICKY] * 2 + [(t.encode(), 0) for t in TRICKY]
    fast = list(text_tokenize.tokenize(iter(stream), keys=[0],
                                       n_reserved_ids=n_reserved))
    generic = text_tokenize._memoized(  # pylint: disable=protected-access
        text_tokenize._encoder(vocab, n_reserved))  # pylint: disable=protected-access
    for (got, label), (text, want_label) in zip(fast, stream):
        want = generic(text)
        assert label == want_label
        assert got.dtype == want.dtype and got.shape == want.shape
        assert got.tolist() == want.tolist()
        assert got.flags.writeable and got.flags.owndata
    # An array served from the memo is a new one: changing what the
    # consumer got first changes nothing that comes later.
    text = TRICKY[5]
    it = text_tokenize.tokenize(iter([(text, 1), (text, 1)]), keys=[0],
                                n_reserved_ids=n_reserved)
    next(it)[0][:] = -1
    assert next(it)[0].tolist() == generic(text).tolist()


@pytest.mark.parametrize("boundary", [None, 8, 64])
def test_padding_vectors_matches_pad_and_stack(boundary):
    rng = np.random.default_rng(0)
    rows = [rng.integers(0, 9, size=n) for n in (3, 0, 7, 1, 5)]
    rows[2] = rows[2].astype(np.float32)  # mixed dtypes promote as np.stack
    got = data.pad_to_max_dims(rows, boundary)
    width = {None: 7, 8: 8, 64: 8}[boundary]  # 64 > 2 * 7: next power of 2
    want = np.stack([np.pad(r, (0, width - len(r))) for r in rows])
    assert got.dtype == want.dtype and got.tolist() == want.tolist()


def test_length_filter_and_buckets_on_other_example_types():
    examples = [(np.arange(3), 1), [np.arange(9), 0], (list(range(5)), 1),
                (np.arange(2), np.arange(4)), (np.zeros((6, 2)), 0)]
    kept = list(data.FilterByLength(max_length=5, min_length=2,
                                    length_keys=[0])(iter(examples)))
    assert [len(e[0]) for e in kept] == [3, 5, 2]
    kept = list(data.FilterByLength(max_length=3)(iter(examples[3:4])))
    assert not kept  # keys [0, 1]: the longer one (4) counts
    examples = [e for e in examples if np.ndim(e[1]) == 0][:3] + [
        (np.arange(2), 0), (np.arange(6), 1)]
    batches = list(data.BucketByLength([4, 8], [2, 2, 1], length_keys=[0])(
        iter(examples)))
    assert [b[0].shape for b in batches] == [(1, 9), (2, 4), (2, 8)]
    assert batches[2][0].tolist() == [[0, 1, 2, 3, 4, 0, 0, 0],
                                      [0, 1, 2, 3, 4, 5, 0, 0]]
