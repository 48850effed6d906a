"""Cases for ``trax.data.text_encoder`` and ``trax.data.tokenizer``, run the
same way on real Trax (``generate_data_text_encoder.py``) and on trax_compat
(``tests/test_data_text_encoder_oracle.py``).

Each case is ``fn(m) -> result`` where ``m`` has the attributes
``text_encoder`` and ``tokenizer`` (either library's modules), ``tmp`` (an
empty folder), ``corpus`` (the development tweets file) and ``vocab`` (the
``en_8k.subword`` file). Results go through ``data_inputs_cases.record``.
"""

import collections
import io
import os

import numpy as np

STRINGS = ["Dude - that's so cool.", "Łukasz est né en 1981.",
           " Spaces at the ends ", "802.11b", "two. \nlines", "", " ", "a  b",
           "under_score back\\slash \\u5;", "emoji \U0001F638 ok", "tab\tand\x00nul",
           "日本語のテキスト", "x" * 30, "'quoted' <pad> <EOS>"]


_ERRORS = (AssertionError, IndexError, KeyError, TypeError, ValueError)


def _attempt(fn):
    """``fn()``, or ``["error", name]`` if it raises: the first of _ERRORS
    the error is an instance of (so a subclass counts as Trax's type)."""
    try:
        return fn()
    except Exception as e:  # pylint: disable=broad-except
        return ["error", next((c.__name__ for c in _ERRORS
                               if isinstance(e, c)), type(e).__name__)]


def _write(path, text):
    with open(path, "wb") as f:
        f.write(text.encode("utf-8"))
    return path


def helpers(m):
    te = m.text_encoder
    return [te.native_to_unicode(b"caf\xc3\xa9"), te.native_to_unicode(b"\xffab\xc3"),
            te.native_to_unicode("str"), te.to_unicode_ignore_errors(b"a\xffb"),
            te.to_unicode_utf8(b"\xc3\xa9"), te.is_unicode(b"x"), te.is_unicode("x"),
            te.strip_ids([3, 0, 1, 0, 1, 1], [0, 1]), te.strip_ids((1, 1), [1]),
            te.whitespace_tokenize("  a b\tc \n"), te.whitespace_tokenize(" \n"),
            te.PAD, te.EOS, te.RESERVED_TOKENS, te.NUM_RESERVED_TOKENS, te.PAD_ID,
            te.EOS_ID, te.RESERVED_TOKENS_BYTES, sorted(te._ESCAPE_CHARS)]  # pylint: disable=protected-access


def escaping(m):
    te = m.text_encoder
    alphabets = [set("abcdefghijklmnopqrstuvwxyz .\n") | te._ESCAPE_CHARS,  # pylint: disable=protected-access
                 set("Fo!") | te._ESCAPE_CHARS, set()]  # pylint: disable=protected-access
    tokens = ["Foo! Bar.\nunder_score back\\slash", "", "_", "\\", "é\U0001F638", "12;"]
    out = [[te._escape_token(t, a) for t in tokens] for a in alphabets]  # pylint: disable=protected-access
    escaped = ["\\70;oo\\33;_", "a\\u\\\\b_", "\\99999999;x", "\\1114112;_", "plain", "\\u"]
    out.append([te._unescape_token(e) for e in escaped])  # pylint: disable=protected-access
    return out


def word_splitter(m):
    tk = m.tokenizer
    enc = [tk.encode(s) for s in STRINGS]
    return [enc, [tk.decode(e) for e in enc if e],
            tk.decode(["a", "b", " ", "c", "!", "d"])]


def _corpus_files(tmp):
    _write(os.path.join(tmp, "corpus-1.txt"),
           "I slept in my pajamas.\nGroucho Marx... was here.\n\n  Padded line  \n")
    _write(os.path.join(tmp, "corpus-2.txt"),
           "Windows\r\nline. \nI I I, my pajamas.\nno newline at end")
    _write(os.path.join(tmp, "vocab-1.txt"), "lollipop,8\nbad line\nx,y,3\n")
    _write(os.path.join(tmp, "vocab-2.txt"), "a,1\n b , 2\nc,3")


def token_counts(m):
    _corpus_files(m.tmp)
    pattern = os.path.join(m.tmp, "corpus-*.txt")
    out = []
    for split in (True, False):
        for max_lines in (0, 3, 6):
            counts = m.tokenizer.corpus_token_counts(pattern, max_lines, split_on_newlines=split)
            out.append(sorted(counts.items()))
    for max_lines in (0, 2, 4):
        out.append(sorted(m.tokenizer.vocab_token_counts(os.path.join(m.tmp, "vocab-*.txt"),
                                                         max_lines).items()))
    return out


def base_and_byte(m):
    te = m.text_encoder
    t = te.TextEncoder()
    t0 = te.TextEncoder(num_reserved_ids=0)
    b = te.ByteTextEncoder()
    b5 = te.ByteTextEncoder(num_reserved_ids=5)
    ids = b.encode("héllo ✓")
    return [t.encode("3 5 0"), t.decode([0, 1, 2, 7]), t.decode([4, 2, 1, 0], strip_extraneous=True),
            t.decode_list([1, 5]), t0.encode("3 5"), t0.decode([0, 3]), t.num_reserved_ids,
            ids, b.decode(ids), b.decode(ids + [0, 1], strip_extraneous=True),
            b.decode([0, 1] + ids[:2]), b.decode([0xc3 + 2, 72]), b.decode_list([0, 1, 67]),
            b.vocab_size, b5.encode("ab"), b5.vocab_size, b5.decode([7, 102]),
            _attempt(lambda: b5.decode([3, 102]))]


def token_text(m):
    te = m.text_encoder
    corpus = "A B {} D E F {} G {}".format(te.EOS, te.EOS, te.PAD).split()
    enc = te.TokenTextEncoder(None, vocab_list=corpus)
    rev = te.TokenTextEncoder(None, vocab_list=["x", "y", "z", "UNK"], reverse=True,
                              replace_oov="UNK", num_reserved_ids=0)
    path = os.path.join(m.tmp, "tokens.vocab")
    enc.store_to_file(path)
    with open(path, "rb") as f:
        stored = f.read()
    loaded = te.TokenTextEncoder(path)
    _write(os.path.join(m.tmp, "plain.vocab"), "  hello \nworld\n\nagain")
    plain = te.TokenTextEncoder(os.path.join(m.tmp, "plain.vocab"))
    return [enc.encode(" A  G D "), enc.decode([2, 3, 40]), enc.decode_list([0, 1, 7]),
            enc.vocab_size, sorted(enc._token_to_id.items()),  # pylint: disable=protected-access
            rev.encode("x q z"), rev.decode([0, 2, 9]), stored,
            loaded.vocab_size, loaded.encode("D E"), sorted(plain._id_to_token.items()),  # pylint: disable=protected-access
            plain.encode("world again")]


def class_labels(m):
    te = m.text_encoder
    enc = te.ClassLabelEncoder(class_labels=["neg", "pos", "neutral"])
    path = _write(os.path.join(m.tmp, "labels.txt"), "zero \none\n two\n")
    from_file = te.ClassLabelEncoder(class_labels_fname=path)
    one_hot = te.OneHotClassLabelEncoder(class_labels=["zero", "one", "two"])
    return [enc.encode("pos"), enc.decode(2), enc.decode([1]), enc.decode(np.array([[0]])),
            enc.decode_list([2, 0]), enc.vocab_size, enc.num_reserved_ids,
            from_file.encode("two"), from_file.decode(1),
            one_hot.encode("one"), one_hot.encode("two", on_value=5, off_value=-1),
            one_hot.decode([0, 0, 1]), one_hot.decode(np.array([[1.0, 0.0, 0.0]])),
            one_hot.vocab_size]


def real(m):
    r = m.text_encoder.RealEncoder()
    return [r.encode(" 1.5 -2 3e2 "), r.decode([1.5, -2.0, 300.0, 7])]


def _subword_record(enc, texts):
    encoded = [enc.encode(t) for t in texts]
    return [list(enc.all_subtoken_strings), enc.vocab_size, sorted(enc._alphabet),  # pylint: disable=protected-access
            enc._max_subtoken_len, encoded, [enc.decode(e) for e in encoded],  # pylint: disable=protected-access
            [enc.decode_list(e) for e in encoded[:3]]]


def subword_build(m):
    te = m.text_encoder
    corpus = ("This is a corpus of text that provides a bunch of tokens from which "
              "to build a vocabulary. It will be used when strings are encoded "
              "with a TextEncoder subclass. The encoder was coded by a coder.")
    counts = collections.Counter(corpus.split(" "))
    counts.update("This is a coded sentence encoded by the SubwordTextEncoder.".split(" "))
    fox = collections.Counter("The quick brown fox jumps over the lazy dog".split(" "))
    texts = STRINGS + [corpus, "the lazy coder"]
    out = [_subword_record(te.SubwordTextEncoder.build_to_target_size(100, counts, 2, 10), texts),
           _subword_record(te.SubwordTextEncoder.build_to_target_size(10, fox, 2, 10), texts),
           _subword_record(te.SubwordTextEncoder.build_to_target_size(
               40, counts, 1, 50, max_subtoken_length=4, num_iterations=2,
               reserved_tokens=te.RESERVED_TOKENS + ["<S>", "<E>"]), texts)]
    enc = te.SubwordTextEncoder()
    enc.build_from_token_counts(counts, 3, num_iterations=2)
    out.append(_subword_record(enc, texts))
    enc.build_from_token_counts(fox, 1, num_iterations=1, max_subtoken_length=3,
                                reserved_tokens=te.RESERVED_TOKENS + ["<X>"])
    out.append(_subword_record(enc, texts))
    return out


def subword_from_generator(m):
    te = m.text_encoder
    with open(m.corpus, encoding="utf-8") as f:
        lines = [next(f).rstrip("\n") for _ in range(400)]
    out = []
    for target, max_len in ((300, 6), (120, None)):
        enc = te.SubwordTextEncoder.build_from_generator(iter(lines), target,
                                                         max_subtoken_length=max_len)
        out.append(_subword_record(enc, STRINGS + lines[:5]))
        out.append([enc.encode_without_tokenizing(t) for t in ("a b", "x_y", "Ünï")])
    return out


def subword_files(m):
    te = m.text_encoder
    enc = te.SubwordTextEncoder.build_to_target_size(
        30, collections.Counter("dog cat dogs cats 'quoted'".split()), 1, 5)
    out = []
    for quotes in (True, False):
        path = os.path.join(m.tmp, "v%d.subwords" % quotes)
        enc.store_to_file(path, add_single_quotes=quotes)
        with open(path, "rb") as f:
            out.append(f.read())
        again = te.SubwordTextEncoder(path)
        out.append(_subword_record(again, STRINGS))
        out.append(sorted(again._subtoken_string_to_id.items()))  # pylint: disable=protected-access
    for text in ("the\nand\nof\n", "\"the\"\n'and'\n  'of'  \n\n'x\n"):
        e = te.SubwordTextEncoder()
        e._load_from_file_object(io.StringIO(text))  # pylint: disable=protected-access
        out.append([list(e.all_subtoken_strings), sorted(e._alphabet),  # pylint: disable=protected-access
                    _attempt(lambda: e.encode("of the")), e.decode([0, 2, 1])])
    en8k = te.SubwordTextEncoder(m.vocab)
    out.append(_subword_record(en8k, STRINGS)[1:])
    out.append(en8k.decode(list(range(0, 8200, 97))))
    out.append(en8k.decode(en8k.encode("Hello world") + [1, 0], strip_extraneous=True))
    return out


BERT_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "hello", "Hello", "world", "##s", "un",
              "##aff", "##able", ",", "!", "cafe", "café", "caf", "##é", "中", "文",
              ".", "x", "##x", "world"]


def bert(m):
    te = m.text_encoder
    path = _write(os.path.join(m.tmp, "vocab.txt"), "\n".join(BERT_VOCAB) + "\n")
    texts = ["Hello, worlds! unaffable Café 中文", "hello\tworld\u00a0x\x00xx",
             "UNAFFABLE", "caf\u0301e", "xxxxxxxxxx" * 25 + " hello", ""]
    out = []
    for lower in (True, False):
        enc = te.BertEncoder(path, do_lower_case=lower)
        toks = [enc.tokenize(t) for t in texts]
        out.append([toks, enc.vocab_size])
        ids = []
        for t in texts:
            try:
                ids.append(enc.encode(t))
            except KeyError as e:
                ids.append("KeyError %s" % e)
        out.append(ids)
        out.append([enc.decode([3, 6, 10, 7, 8, 9, 16]), enc.decode([])])
    basic = te.BertBasicEncoder(do_lower_case=True)
    out.append([basic.tokenize(t) for t in texts + ["Ωmega—dash", b"bytes\xc3\xa9"]])
    wp = te.BertWordpieceTokenizer({"un": 0, "##aff": 1, "##able": 2, "a": 3},
                                   unk_token="<unk>", max_input_chars_per_word=9)
    out.append(wp.tokenize("unaffable un unaff able a " + "a" * 10))
    return out


CASES = {f.__name__: f for f in [
    helpers, escaping, word_splitter, token_counts, base_and_byte, token_text,
    class_labels, real, subword_build, subword_from_generator, subword_files,
    bert]}
