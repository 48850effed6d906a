"""Shared test helpers: where the Trax oracle fixtures live."""

import json
import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "fixtures"
ORACLE = SHARED / "trax_oracle"
VOCAB_DIR = SHARED / "vocab"
CORPUS_DIR = SHARED / "corpus"

_SKIP_REASON = (
        "developer fixtures (../shared/fixtures next to the repository) are not "
        "present; they hold real-Trax oracle data and exist only in the "
        "development and CI checkouts")


def require_shared():
    if not ORACLE.is_dir():
        pytest.skip(_SKIP_REASON)


@pytest.fixture(scope="session")
def oracle_dir():
    require_shared()
    return ORACLE


@pytest.fixture(scope="session")
def vocab_dir():
    require_shared()
    return VOCAB_DIR


@pytest.fixture(scope="session")
def corpus_dir():
    require_shared()
    return CORPUS_DIR


def load_oracle_json(name):
    require_shared()
    with open(ORACLE / name, encoding="utf-8") as f:
        return json.load(f)


def oracle_array(entry):
    """Turns an oracle ``{"shape", "dtype", "data"}`` record into an ndarray."""
    import numpy as np
    return np.asarray(entry["data"], dtype=entry["dtype"]).reshape(entry["shape"])


def read_tweets(path):
    """Reads a corpus file exactly as the Trax tutorial does."""
    import numpy as np
    with open(path, encoding="utf-8") as f:
        return [tuple([str(i.split(",")[0]), np.int64(i.split(",")[1])]) for i in f]


@pytest.fixture(autouse=True)
def _no_internet_for_vocab_downloads(monkeypatch):
    """Vocabulary downloads default to a public bucket; in tests they go to
    a closed loopback port unless a test starts its own local server."""
    if "TRAX_COMPAT_GCS_ENDPOINT" not in os.environ:
        monkeypatch.setenv("TRAX_COMPAT_GCS_ENDPOINT", "http://127.0.0.1:9")
