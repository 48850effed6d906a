"""docs/migration/: the pages are generated from the tested programs and
must match them; every page the migration table points to exists."""

import re

import pytest

from docs.migration import build
from tests.conftest import REPO
from trax_compat import migrate_table


def test_pages_are_fresh(capsys):
    assert build.main(["--check"]) == 0, (
        "a docs/migration page is stale: run python -m docs.migration.build")
    assert capsys.readouterr().err == ""


def test_stale_page_is_reported(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(build, "PAGES_DIR", str(tmp_path))
    assert build.main(["--check"]) == 1
    assert "stale: " in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # --check writes nothing
    assert build.main([]) == 0
    for name in ("sentiment.md", "earlystopping.md", "imdb.md",
                 "fashion_mnist.md", "deep_ngram.md"):
        assert (tmp_path / name).read_text() == (
            REPO / "docs" / "migration" / name).read_text()


def test_code_comes_from_the_programs():
    page = (REPO / "docs" / "migration" / "sentiment.md").read_text()
    # One excerpt, checked against the file it was cut from.
    adam = (REPO / "train" / "trax_adam.py").read_text()
    block = build.extract(build.Code("train/trax_adam.py", "trax_adam",
                                     "def update_fn", "return updates,"))
    assert block.startswith("def update_fn(grads, state, params):")
    assert block.rstrip().endswith("count=optax.safe_int32_increment("
                                   "state.count), mu=mu, nu=nu)")
    assert "\n".join("    " + l if l else l for l in block.splitlines()) \
        in adam
    assert block in page
    for name in ("sentiment.md", "earlystopping.md", "imdb.md",
                 "fashion_mnist.md", "deep_ngram.md"):
        text = (REPO / "docs" / "migration" / name).read_text()
        for section in ("Data", "Model", "Loss and metrics",
                        "Optimizer and schedule", "Loop", "Checkpoints",
                        "Evaluation", "Prediction"):
            assert f"\n## {section}\n" in text, (name, section)
        assert text.count("<table>") == 8


def test_a_mark_that_no_longer_matches_fails_the_build():
    with pytest.raises(LookupError, match="no line beginning with"):
        build.extract(build.Code("train/trax_adam.py", "trax_adam",
                                 "def no_such_function"))
    with pytest.raises(LookupError, match="has no definition 'gone'"):
        build.extract(build.Code("train/trax_adam.py", "gone"))


def _anchors(path):
    """GitHub's anchors for the headings of a Markdown file."""
    anchors = set()
    for line in path.read_text().splitlines():
        m = re.match(r"^#+ (.*)$", line)
        if m:
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower())
            anchors.add(slug.replace(" ", "-"))
    return anchors


def test_every_page_in_the_migration_table_exists():
    pages = {page for _, page in migrate_table.TABLE.values()}
    pages |= {page for _, page in migrate_table.MODULE_EQUIVALENTS.values()}
    for page in sorted(pages):
        path, _, anchor = page.partition("#")
        assert (REPO / path).is_file(), page
        assert anchor in _anchors(REPO / path), page
