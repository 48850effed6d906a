"""trax_compat.data.text_encoder_build_subword against the vocabulary files
real Trax's program wrote for the same flags
(``tests/testdata/trax_oracle/data_subword_build/``)."""

import pathlib
import subprocess
import sys

import pytest
from absl import flags

from tests.testdata import subword_build_cases as cases
from trax_compat.data import text_encoder
from trax_compat.data import text_encoder_build_subword as build_subword

TESTDATA = pathlib.Path(__file__).resolve().parent / "testdata"
ORACLE = TESTDATA / "trax_oracle" / "data_subword_build"
CORPUS = TESTDATA / "corpus"


def _argv(name, out):
    return cases.argv(name, CORPUS, ORACLE / cases.WORDS_FILE, out)


@pytest.mark.parametrize("name", ["whole_files", "word_counts"])
def test_flags_write_trax_vocabulary(name, tmp_path):
    out = tmp_path / "vocab.subword"
    flag_values = flags.FLAGS
    flag_values(["prog"] + _argv(name, out))
    try:
        build_subword.main(None)
    finally:
        flag_values.unparse_flags()
    assert out.read_text(encoding="utf-8") == (
            ORACLE / (name + ".subword")).read_text(encoding="utf-8")


def test_program_writes_trax_vocabulary_and_it_encodes(tmp_path):
    out = tmp_path / "vocab.subword"
    subprocess.run([sys.executable, "-m",
                    "trax_compat.data.text_encoder_build_subword"]
                   + _argv("corpus_glob", out), check=True,
                   capture_output=True)
    expected = ORACLE / "corpus_glob.subword"
    assert out.read_bytes() == expected.read_bytes()
    encoder = text_encoder.SubwordTextEncoder(str(out))
    text = "so happy today, thanks!"
    assert encoder.decode(encoder.encode(text)) == text


def test_needs_exactly_one_source(tmp_path):
    with pytest.raises(ValueError, match="not both"):
        build_subword.build(str(tmp_path / "v"), corpus_filepattern="a",
                            vocab_filepattern="b")
    with pytest.raises(ValueError, match="--corpus_filepattern"):
        build_subword.build(str(tmp_path / "v"))
