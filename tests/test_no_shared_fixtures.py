"""The tests read their oracle data from tests/testdata only.

A developer checkout may have the full fixtures folder next to the
repository, but a user's clone does not: a test that reached for it would
silently test nothing there. This guard fails as soon as a file under
tests/ names that folder again.
"""

import re

from tests.conftest import REPO
from tests.conftest import TESTDATA

TESTS = REPO / "tests"
# Where the folder may be named: the script that builds tests/testdata from
# it, and the README that says how.
ALLOWED = {TESTDATA / "make_testdata.py", TESTDATA / "README.md"}

S = "sha" + "red"  # spelt out, this file would trip its own guard
Q = "[\"']"  # a quote
FORBIDDEN = [
    re.compile(S + r"\s*[/\\]+\s*fixtures"),  # .../fixtures, in any text
    re.compile(r"\.\.\s*[/\\]+\s*" + S + r"\b"),  # ../<it>
    re.compile(Q + r"\.\." + Q + r"\s*,\s*" + Q + S + Q),  # join("..", it)
    # REPO.parent / <it>, Path(...).parents[1] / <it>, dirname(...) + <it>
    re.compile(r"\.parents?\b.*" + Q + S + Q),
    re.compile(r"dirname\(.*" + Q + S + Q),
]


def _text_files():
    for path in sorted(TESTS.rglob("*")):
        if not path.is_file() or path in ALLOWED or "__pycache__" in path.parts:
            continue
        data = path.read_bytes()
        if b"\0" in data:
            continue  # binary (.gz, .npz, event files)
        try:
            yield path, data.decode("utf-8")
        except UnicodeDecodeError:
            continue


def test_the_guard_sees_the_test_files():
    seen = {p.name for p, _ in _text_files()}
    assert {"conftest.py", "test_no_shared_fixtures.py", "stdout.txt"} <= seen


def test_the_patterns_catch_the_old_paths():
    old = [f'SHARED = REPO.parent / "{S}" / "fixtures"',
           f"ORACLE = pathlib.Path(__file__).parents[2] / '{S}'",
           f'os.path.join(REPO, "..", "{S}", "fixtures")',
           f'os.path.join(os.path.dirname(REPO), "{S}")',
           f"../{S}/fixtures/vocab", f"{S}\\fixtures", f"{S}/fixtures"]
    for line in old:
        assert any(p.search(line) for p in FORBIDDEN), line
    assert not any(p.search("all 12 shared values") for p in FORBIDDEN)


def test_no_test_file_reads_the_fixtures_folder_next_to_the_repo():
    offenders = []
    for path, text in _text_files():
        for n, line in enumerate(text.splitlines(), 1):
            if any(p.search(line) for p in FORBIDDEN):
                offenders.append(f"{path.relative_to(REPO)}:{n}: "
                                 f"{line.strip()}")
    assert not offenders, (
        "tests must read oracle data from tests/testdata (see its README), "
        "not from a folder next to the repository:\n" + "\n".join(offenders))
