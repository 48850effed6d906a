"""Building .subword vocabularies: Python API and `trax-compat vocab build`."""

import random

import pytest

from trax_compat import cli
from trax_compat.data import subword
from trax_compat.data import text_tokenize
from trax_compat.data import vocab_files


def _corpus(n_lines=6000, seed=0):
    """Deterministic text with a Zipf-like mix of ~4000 distinct words."""
    rng = random.Random(seed)
    onsets = ["", "b", "k", "st", "pr", "m", "l", "tr", "sh", "g", "d", "fl"]
    vowels = ["a", "e", "i", "o", "u", "ou", "ea", "ä"]
    codas = ["", "n", "r", "s", "nd", "t", "ck", "ll"]
    words = sorted({"".join(rng.choice(onsets) + rng.choice(vowels) +
                            rng.choice(codas) for _ in range(rng.randint(1, 3)))
                    for _ in range(6000)})
    rng.shuffle(words)
    weights = [1.0 / (rank + 1) for rank in range(len(words))]
    lines = []
    for _ in range(n_lines):
        picked = rng.choices(words, weights, k=rng.randint(3, 15))
        line = " ".join(picked).capitalize()
        lines.append(line + rng.choice([".", "!", "?", ",", " :)", " 42."]))
    return lines


def _t2t_style_read(path):
    # An independent reader of the file format Trax uses (quotes stripped).
    subtokens = []
    with open(path, encoding="utf-8", newline="\n") as f:
        for line in f:
            s = line.rstrip()
            if len(s) >= 2 and s[0] == s[-1] == "'":
                s = s[1:-1]
            subtokens.append(s)
    return subtokens


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text("\n".join("%s,%d" % (line, i % 2)
                              for i, line in enumerate(_corpus())) + "\n",
                    encoding="utf-8")
    return path


def test_command_builds_a_vocabulary_within_one_percent(corpus_file, tmp_path,
                                                        capsys):
    out = tmp_path / "out" / "built.subword"
    target = 2000
    rc = cli.main(["vocab", "build", str(corpus_file), "--target-size",
                   str(target), "--output", str(out), "--delimiter", ","])
    assert rc == 0
    printed = capsys.readouterr().out
    vocab = subword.SubwordVocabulary.load(out)
    assert abs(vocab.vocab_size - target) * 100 < target
    assert "%d subtokens (target %d" % (vocab.vocab_size, target) in printed
    # The file is in Trax's format: readable by a plain t2t-style reader.
    assert _t2t_style_read(out) == list(vocab.subtokens)
    assert vocab.subtokens[:2] == ("<pad>_", "<EOS>_")
    lines = [l.split(",")[0] for l in corpus_file.read_text("utf-8").splitlines()]
    assert "," not in "".join(vocab.subtokens[2:50])  # labels were cut off
    for line in lines[:500] + ["unseen wörds ☃ 123"]:
        ids = vocab.encode(line)
        assert vocab.decode(ids) == line
    # ... and through the Trax API.
    vocab_files.clear_vocab_cache()
    (arr,) = text_tokenize.tokenize(iter([lines[0]]), vocab_file="built.subword",
                                vocab_dir=str(out.parent))
    assert arr.tolist() == vocab.encode(lines[0])
    assert not [p for p in out.parent.iterdir() if p.name != "built.subword"]


def test_python_api_is_deterministic_and_matches_the_command(corpus_file,
                                                             tmp_path):
    lines = [l.split(",")[0] for l in corpus_file.read_text("utf-8").splitlines()]
    path = tmp_path / "api.subword"
    vocab = subword.build_subword_vocab_file(lines, 1000, path)
    assert abs(vocab.vocab_size - 1000) * 100 < 1000
    assert subword.SubwordVocabulary.load(path).subtokens == vocab.subtokens
    assert cli.main(["vocab", "build", str(corpus_file), "--target-size",
                     "1000", "--output", str(tmp_path / "cmd.subword"),
                     "--delimiter", ","]) == 0
    assert (tmp_path / "cmd.subword").read_bytes() == path.read_bytes()


def test_command_errors(tmp_path, capsys):
    assert cli.main(["vocab", "build", str(tmp_path / "nope.txt"),
                     "--target-size", "10", "--output",
                     str(tmp_path / "x.subword")]) == 2
    assert "nope.txt" in capsys.readouterr().err
    assert not (tmp_path / "x.subword").exists()
    with pytest.raises(SystemExit):
        cli.main(["vocab", "build", "--output", "x"])
    bad = tmp_path / "bad.subword"
    bad.write_text("'<pad>'\n'<EOS>'\n'the", encoding="utf-8")
    assert cli.main(["vocab", "info", str(bad)]) == 1
    assert "no closing quote" in capsys.readouterr().err
    # Errors are named after the subcommand, as argparse names its own.
    assert cli.main(["vocab", "build", str(bad), "--target-size", "0",
                     "--output", str(tmp_path / "x.subword")]) == 2
    assert capsys.readouterr().err == (
        "trax-compat vocab build: error: --target-size must be positive\n")


def test_info_finds_a_name_where_tokenize_does(vocab_dir, tmp_path,
                                               monkeypatch, capsys):
    monkeypatch.setenv("TRAX_COMPAT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("TRAX_COMPAT_VOCAB_DIR", raising=False)
    monkeypatch.chdir(tmp_path)  # not where the vocabulary is
    found = lambda: capsys.readouterr().out.split(":")[0]
    # The bundled copy, as Tokenize finds it...
    assert cli.main(["vocab", "info", "en_8k.subword"]) == 0
    assert found() == vocab_files.resolve_vocab_path("en_8k.subword")
    # ...after $TRAX_COMPAT_VOCAB_DIR, and --vocab-dir before both.
    other = tmp_path / "env"
    other.mkdir()
    (other / "en_8k.subword").write_bytes(
        (vocab_dir / "en_8k.subword").read_bytes())
    monkeypatch.setenv("TRAX_COMPAT_VOCAB_DIR", str(other))
    assert cli.main(["vocab", "info", "en_8k.subword"]) == 0
    assert found() == str(other / "en_8k.subword")
    assert cli.main(["vocab", "info", "en_8k.subword", "--vocab-dir",
                     str(vocab_dir)]) == 0
    assert found() == str(vocab_dir / "en_8k.subword")
    # Not found: one line naming the places and the flag, exit 2.
    assert cli.main(["vocab", "info", "nothing.subword"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("trax-compat vocab info: error: nothing.subword "
                          "not found (looked in ")
    assert str(other / "nothing.subword") in err and "--vocab-dir" in err
    assert "vocab_dir" not in err and len(err.splitlines()) == 1


def test_info_command(vocab_dir, capsys):
    assert cli.main(["vocab", "info", str(vocab_dir / "en_8k.subword")]) == 0
    assert "vocab_size 8183" in capsys.readouterr().out
    assert cli.main(["vocab", "info", str(vocab_dir / "sentencepiece.model"),
                     "--vocab-type", "sentencepiece"]) == 0
    assert "vocab_size 32000" in capsys.readouterr().out
