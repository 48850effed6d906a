"""The vocabulary types besides 'subword': sentencepiece, char, bert."""

import sys
import unicodedata

import numpy as np
import pytest
import sentencepiece as spm

from trax_compat.data import subword
from trax_compat.data import text_tokenize
from trax_compat.data import vocab_files
from trax_compat.data.vocab_common import IdOutOfRangeError
from trax_compat.data.vocab_common import VocabFormatError

SP = "sentencepiece.model"


@pytest.fixture(autouse=True)
def _fresh_cache():
    vocab_files.clear_vocab_cache()
    yield
    vocab_files.clear_vocab_cache()


def _sp(vocab_dir, **extra):
    return dict(vocab_type="sentencepiece", vocab_file=SP,
                vocab_dir=str(vocab_dir), **extra)


# ---------------------------------------------------------- sentencepiece --

def test_sentencepiece_matches_the_sentencepiece_package(vocab_dir):
    proc = spm.SentencePieceProcessor(model_file=str(vocab_dir / SP))
    texts = ["Hello, World!", "naïve café — déjà vu", "日本語", "  x  ", "",
             "tab\there", "<pad> </s>"]
    outs = list(text_tokenize.tokenize(iter(texts), **_sp(vocab_dir)))
    for text, arr in zip(texts, outs):
        assert arr.tolist() == proc.EncodeAsIds(text)
        assert arr.dtype == (np.int64 if arr.size else np.float64)
    assert outs[0].tolist() == [8774, 6, 1150, 55]
    assert text_tokenize.vocab_size(**_sp(vocab_dir)) == 32000
    assert text_tokenize.vocab_size(**_sp(vocab_dir, n_reserved_ids=2)) == 32002
    # bytes are UTF-8; dicts/tuples with keys; n_reserved_ids shifts.
    (d,) = text_tokenize.tokenize(iter([{"a": "Hello, World!".encode(), "b": 1}]),
                              keys=["a"], **_sp(vocab_dir, n_reserved_ids=3))
    assert d["a"].tolist() == [8777, 9, 1153, 58] and d["b"] == 1
    assert text_tokenize.detokenize(d["a"], **_sp(vocab_dir, n_reserved_ids=3)) == (
            "Hello, World!")


def test_sentencepiece_decode_out_of_range_like_trax(vocab_dir):
    kw = _sp(vocab_dir)
    # Ids >= vocab_size decode as the unknown piece; decoding stops at EOS (1).
    assert text_tokenize.detokenize([8774, 32000, 99999], **kw) == "Hello ⁇  ⁇ "
    assert text_tokenize.detokenize([8774, 6, 1150, 55, 1, 8774], **kw) == (
            "Hello, World!")
    with pytest.raises(IdOutOfRangeError, match="-1"):
        text_tokenize.detokenize([8774, -1], **kw)
    with pytest.raises(IndexError):
        text_tokenize.detokenize([8774], **_sp(vocab_dir, n_reserved_ids=9000))


def test_sentencepiece_extra_ids(vocab_dir):
    vocab = text_tokenize.get_vocab(extra_ids=3, **_sp(vocab_dir))
    assert vocab.vocab_size == 32003
    # Numbered from the end, as T5/Trax do.
    assert vocab.encode("a <extra_id_0> b <extra_id_2>") == [
            3, 9, 32002, 3, 115, 32000]
    assert vocab.decode([100, 32000, 32002, 5]) == (
            "This <extra_id_2> <extra_id_0>.")
    assert vocab.decode([100, 32003]) == "This ⁇ "
    # Different extra_ids are different (cached) vocabularies.
    assert text_tokenize.get_vocab(**_sp(vocab_dir)).vocab_size == 32000
    with pytest.raises(ValueError, match="extra_ids"):
        text_tokenize.get_vocab("char", extra_ids=2)


@pytest.mark.parametrize("cut, expected", [
        (0, "empty"),
        (1000, "truncated"),
        (500_000, "not a readable SentencePiece model"),
])
def test_bad_sentencepiece_files(vocab_dir, tmp_path, cut, expected):
    data = (vocab_dir / SP).read_bytes()
    path = tmp_path / "bad.model"
    path.write_bytes(data[:cut])
    with pytest.raises(VocabFormatError, match=expected) as info:
        text_tokenize.vocab_size(vocab_type="sentencepiece", vocab_file="bad.model",
                             vocab_dir=str(tmp_path))
    assert str(path) in str(info.value)
    assert "SentencePiece model" in str(info.value)


def test_sentencepiece_rejects_a_subword_file(vocab_dir):
    with pytest.raises(VocabFormatError, match="en_8k.subword"):
        text_tokenize.vocab_size(vocab_type="sentencepiece",
                             vocab_file="en_8k.subword", vocab_dir=str(vocab_dir))


# ------------------------------------------------------------------- char --

def test_char_vocabulary():
    kw = dict(vocab_type="char")
    (a, b, e) = text_tokenize.tokenize(iter(["hé!", "hé!".encode(), ""]), **kw)
    assert a.tolist() == [104, 195, 169, 33] == b.tolist()
    assert a.dtype == np.int64 and e.dtype == np.float64 and e.shape == (0,)
    assert text_tokenize.vocab_size(**kw) == 256
    assert text_tokenize.vocab_size(n_reserved_ids=2, **kw) == 258
    # vocab_file/vocab_dir are ignored, as in Trax.
    assert text_tokenize.vocab_size(vocab_type="char", vocab_file="nope",
                                vocab_dir="/nonexistent") == 256
    (t,) = text_tokenize.tokenize(iter([("hé", 5)]), keys=[0], n_reserved_ids=2,
                              **kw)
    assert t[0].tolist() == [106, 197, 171] and t[1] == 5
    assert text_tokenize.detokenize(t[0], n_reserved_ids=2, **kw) == "hé"
    # A lone continuation byte decodes as U+FFFD.
    assert text_tokenize.detokenize([104, 169], **kw) == "h\ufffd"
    for bad in ([256], [-1]):
        with pytest.raises(IdOutOfRangeError, match="0..255"):
            text_tokenize.detokenize(bad, **kw)
    # Reserved ids have no text (Trax fails on them too).
    with pytest.raises(IdOutOfRangeError):
        text_tokenize.detokenize([0, 106], n_reserved_ids=2, **kw)


# ------------------------------------------------------------------- bert --

_BERT_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "un", "##aff",
                "##able", "hello", "Hello", ",", "!", "world", "cafe", "café",
                "中", "文", "##s", "'", "don", "t", "#", "##"]


@pytest.fixture
def bert_dir(tmp_path):
    (tmp_path / "vocab.txt").write_text("\n".join(_BERT_TOKENS) + "\n",
                                        encoding="utf-8")
    return tmp_path


def _bert(bert_dir, lower, **extra):
    return dict(vocab_type="bert-lowercase" if lower else "bert",
                vocab_file="vocab.txt", vocab_dir=str(bert_dir), **extra)


def _ids(*tokens):
    return [_BERT_TOKENS.index(t) for t in tokens]


def test_bert_cased_and_lowercase(bert_dir):
    text = "Hello, unaffable world!\tcafé 中文 don't"
    (cased,) = text_tokenize.tokenize(iter([text]), **_bert(bert_dir, False))
    assert cased.tolist() == _ids("Hello", ",", "un", "##aff", "##able",
                                  "world", "!", "café", "中", "文", "don",
                                  "'", "t")
    (lower,) = text_tokenize.tokenize(iter([text.upper().replace("É", "É")]),
                                  **_bert(bert_dir, True))
    # Lower-casing also strips accents; CJK ideographs stand alone.
    assert lower.tolist() == _ids("hello", ",", "un", "##aff", "##able",
                                  "world", "!", "cafe", "中", "文", "don",
                                  "'", "t")
    assert text_tokenize.detokenize(lower, **_bert(bert_dir, True)) == (
            "hello , unaffable world ! cafe 中 文 don ' t")
    # Unknown words (or too long ones) become [UNK]; control chars vanish.
    (unk,) = text_tokenize.tokenize(iter(["the\x00 zzz the" + "s" * 300 + " #"]),
                                **_bert(bert_dir, False))
    assert unk.tolist() == _ids("the", "[UNK]", "[UNK]", "#")
    assert text_tokenize.vocab_size(**_bert(bert_dir, False)) == len(_BERT_TOKENS)
    assert text_tokenize.vocab_size(**_bert(bert_dir, True, n_reserved_ids=1)) == (
            len(_BERT_TOKENS) + 1)
    (shifted,) = text_tokenize.tokenize(iter([b"the"]),
                                    **_bert(bert_dir, False, n_reserved_ids=5))
    assert shifted.tolist() == [9]


def test_bert_decode_rules_and_bad_ids(bert_dir):
    kw = _bert(bert_dir, False)
    # "##" pieces glue on; a leading "##" piece stays as it is.
    assert text_tokenize.detokenize(_ids("##s", "the", "##s", "##"), **kw) == (
            "##s thes")
    assert text_tokenize.detokenize([], **kw) == ""
    for bad in ([len(_BERT_TOKENS)], [-1]):
        with pytest.raises(IdOutOfRangeError, match="no token"):
            text_tokenize.detokenize(bad, **kw)


def test_bert_file_quirks_and_errors(tmp_path):
    # Duplicates: the last line wins and vocab_size counts distinct tokens.
    (tmp_path / "dup.txt").write_text("[UNK]\na\nb\na\n", encoding="utf-8")
    kw = dict(vocab_type="bert", vocab_file="dup.txt", vocab_dir=str(tmp_path))
    assert text_tokenize.vocab_size(**kw) == 3
    (ids,) = text_tokenize.tokenize(iter(["a b"]), **kw)
    assert ids.tolist() == [3, 2]
    with pytest.raises(IdOutOfRangeError):
        text_tokenize.detokenize([1], **kw)
    # A vocabulary without [UNK] cannot encode unknown words.
    (tmp_path / "nounk.txt").write_text("a\n", encoding="utf-8")
    with pytest.raises(KeyError, match=r"\[UNK\]"):
        list(text_tokenize.tokenize(iter(["b"]), vocab_type="bert",
                                vocab_file="nounk.txt", vocab_dir=str(tmp_path)))
    for name, content, expected in [("empty.txt", b"", "empty"),
                                    ("blank.txt", b"\n \n", "no tokens"),
                                    ("bin.txt", b"\x00\x01\x02", "binary"),
                                    ("latin.txt", b"caf\xe9\n", "not UTF-8")]:
        (tmp_path / name).write_bytes(content)
        with pytest.raises(VocabFormatError, match=expected) as info:
            text_tokenize.vocab_size(vocab_type="bert", vocab_file=name,
                                 vocab_dir=str(tmp_path))
        assert str(tmp_path / name) in str(info.value)
        assert "vocab.txt" in str(info.value)


# -------------------------------------------------------- word characters --

def test_fast_alnum_test_equals_unicode_categories_everywhere():
    # The fast word splitter relies on str.isalnum() == categories L*/N*
    # for single characters; check every code point of this Python.
    bad = [cp for cp in range(sys.maxunicode + 1)
           if chr(cp).isalnum() != (unicodedata.category(chr(cp))[0] in "LN")]
    assert bad == []


def test_split_words_matches_the_reference_algorithm():
    # Reference: t2t's rule written out character by character.
    def reference(text):
        if not text:
            return []
        flags = [unicodedata.category(c)[0] in "LN" for c in text]
        out, begin = [], 0
        for pos in range(1, len(text)):
            if flags[pos] != flags[pos - 1]:
                if text[begin:pos] != " " or begin == 0:
                    out.append(text[begin:pos])
                begin = pos
        out.append(text[begin:])
        return out

    import random  # pylint: disable=g-import-not-at-top
    rng = random.Random(3)
    alphabet = "ab1 _ \t\n.,'é²٣-😀 "
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert subword.split_words(text) == reference(text), repr(text)
