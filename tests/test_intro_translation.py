"""The translation cells of Trax's intro notebook, run unchanged but for the
local files and smaller sizes (``testdata/intro_translation_cells.py``),
under trax_compat as ``trax``: they read a Trax-format checkpoint written by
real Trax's ``save_to_file`` and decode what real Trax decoded from it
(``trax_oracle/intro_translation``, see tests/testdata/README.md)."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ORACLE, REPO
from tests.testdata import intro_translation_cells as cells

FOLDER = ORACLE / "intro_translation"
CHECKPOINT = FOLDER / "model.pkl.gz"


@pytest.fixture(scope="module")
def oracle():
    return json.loads((FOLDER / "intro_translation.json").read_text(
        encoding="utf-8"))


@pytest.fixture(scope="module")
def ours(tmp_path_factory):
    """The cells run twice through ``python -m trax_compat.run``, in one
    fresh Python where ``import trax`` gives trax_compat."""
    output = tmp_path_factory.mktemp("intro") / "runs.json"
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-m", "trax_compat.run",
         str(REPO / "tests" / "testdata" / "intro_translation_cells.py"),
         "--checkpoint", str(CHECKPOINT), "--vocab-dir", str(FOLDER),
         "--runs", "2", "--output", str(output)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(output.read_text(encoding="utf-8"))["runs"]


def test_the_oracle_decodes_several_tokens_clear_of_ties(oracle):
    trax_run = oracle["runs"][0]
    ids = trax_run["tokenized_translation"]["data"]
    assert len(ids) >= 6 and len(set(ids)) >= 4
    full = oracle["full_output"]["data"][0]
    assert full[:-1] == ids and full[-1] == 1  # the cell drops the EOS
    assert oracle["full_output_is_teacher_forced_argmax"]
    assert oracle["min_margin"] > 1e-3
    # Real Trax, too, decoded the same twice.
    assert oracle["runs"][0] == oracle["runs"][1]


def test_tokens_and_translation_are_real_traxs(oracle, ours):
    want = oracle["runs"][0]
    got = ours[0]
    assert got["tokenized"] == want["tokenized"]
    assert got["tokenized_translation"] == want["tokenized_translation"]
    assert got["translation"] == want["translation"]
    assert got["stdout"] == want["stdout"] == want["translation"] + "\n"


def test_decoding_is_deterministic(ours):
    assert ours[0] == ours[1]


def test_the_cells_are_adapted_only_where_documented(tmp_path):
    checkpoint = tmp_path / "model.pkl.gz"
    code = cells.adapted_code(checkpoint, tmp_path)
    head, tail = "\n".join(cells.CELLS).split(cells.SHELL_LINE)
    assert code.startswith(head)  # all before the dropped shell line
    theirs, mine = tail.splitlines(), code[len(head):].splitlines()
    assert len(theirs) == len(mine)
    differing = [(a, b) for a, b in zip(theirs, mine) if a != b]
    # The sizes span 4 lines; the checkpoint 1 and the vocabulary folder 2.
    assert len(differing) == 7
    for old, new in differing:
        if "gs://" in old:
            assert (old.replace(cells.CHECKPOINT, repr(str(checkpoint)))
                    .replace(cells.VOCAB_DIR, repr(str(tmp_path))) == new)
        else:
            for name, (notebook, small) in cells.SIZES.items():
                old = old.replace(f"{name}={notebook},", f"{name}={small},")
            assert old == new
    assert "'gs://" not in code and "!pip" not in code


def test_the_data_stay_small_and_match_the_documented_sizes(oracle):
    total = sum(p.stat().st_size for p in FOLDER.iterdir())
    assert total < 1_000_000
    sizes = cells.small_sizes()
    assert oracle["env"]["sizes"] == sizes
    assert oracle["vocab_size"] <= sizes["input_vocab_size"]
    # save_to_file's layout: Trax's flat weights, every Dense and Embedding
    # matrix scaled up (the embedding is shared by encoder and decoder).
    assert oracle["n_weights"] > 40 and oracle["n_scaled"] > 20


def test_a_notebook_change_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(cells, "CELLS", tuple(
        c.replace("d_model=512", "d_model=256") for c in cells.CELLS))
    with pytest.raises(ValueError, match="'d_model=512,' 1 time"):
        cells.adapted_code(tmp_path / "m.pkl.gz", tmp_path)
