"""trax_compat.data.text_encoder and .tokenizer against real Trax.

Each case of ``tests/testdata/data_text_encoder_cases.py`` runs here and must
give exactly what real Trax recorded in
``trax_oracle/data_text_encoder/data_text_encoder.json.gz``: the word
splitter and token counts, every encoder's ids, decodings and stored files,
and the subword vocabularies built from corpora (subtoken lists, alphabets,
encodings).
"""

import types

import pytest

from conftest import CORPUS_DIR
from conftest import VOCAB_DIR
from conftest import load_oracle_json
from tests.testdata import data_inputs_cases as rec
from tests.testdata import data_text_encoder_cases as cases
from trax_compat.data import text_encoder
from trax_compat.data import tokenizer


@pytest.fixture(scope="module")
def oracle():
    return load_oracle_json(
        "data_text_encoder/data_text_encoder.json.gz")["cases"]


def test_every_case_is_recorded(oracle):
    assert sorted(oracle) == sorted(cases.CASES)
    assert not [n for n, r in oracle.items() if "error" in r]


@pytest.mark.parametrize("name", sorted(cases.CASES))
def test_case_matches_trax(name, oracle, tmp_path):
    m = types.SimpleNamespace(
        text_encoder=text_encoder, tokenizer=tokenizer, tmp=str(tmp_path),
        corpus=str(CORPUS_DIR / "dev_tweets.txt"),
        vocab=str(VOCAB_DIR / "en_8k.subword"))
    got = rec.record(cases.CASES[name](m))
    want = oracle[name]["result"]
    if got != want:
        # Point at the first differing entry of the top-level list.
        for i, (g, w) in enumerate(zip(got, want)):
            assert g == w, f"{name}: entry {i} differs"
    assert got == want
