"""Writes the pages of docs/migration/ from the tested programs.

    python -m docs.migration.build           # rewrite the pages
    python -m docs.migration.build --check   # exit 1 if a page is stale

Every code block on a page is cut out of a program the tests run (a whole
function or class, or the lines between two marks inside one), never
retyped; a mark that no longer matches fails the build, naming it.
"""

import argparse
import ast
import dataclasses
import os
import sys
import textwrap

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
PAGES_DIR = os.path.join(REPO, "docs", "migration")


@dataclasses.dataclass(frozen=True)
class Code:
    """``path``'s definition ``name`` (``outer.inner`` for nested ones; None
    for the whole file); with ``start``, only its lines from the first one
    beginning with ``start`` to the first one after it beginning with
    ``end`` (default: the statement begun at ``start``), each extended to
    the end of the statement it begins."""
    path: str
    name: str = None
    start: str = None
    end: str = None


@dataclasses.dataclass(frozen=True)
class Cell:
    """Code cell ``index`` of a notebook's code cells stored verbatim in the
    JSON file ``path`` (under ``cells``, as ``trax_oracle/deep_ngram/
    cells.json``, which the tests execute); with ``start``, only its lines
    from the first beginning with ``start`` through the first after it
    beginning with ``end`` (default: that one line)."""
    path: str
    index: int
    start: str = None
    end: str = None


def _extract_cell(cell):
    import json  # pylint: disable=g-import-not-at-top
    with open(os.path.join(REPO, cell.path), encoding="utf-8") as f:
        lines = json.load(f)["cells"][cell.index].rstrip().splitlines()
    if cell.start is None:
        return "\n".join(lines)

    def find(prefix, after):
        for i in range(after, len(lines)):
            if lines[i].strip().startswith(prefix):
                return i
        raise LookupError(f"{cell.path}: cell {cell.index} has no line "
                          f"beginning with {prefix!r}")
    first = find(cell.start, 0)
    last = find(cell.end, first + 1) if cell.end else first
    return textwrap.dedent("\n".join(lines[first:last + 1])).rstrip()


def _definition(tree, name, path):
    node = tree
    for part in name.split("."):
        found = [n for n in ast.iter_child_nodes(node)
                 if isinstance(n, (ast.FunctionDef, ast.ClassDef))
                 and n.name == part]
        if not found:
            raise LookupError(f"{path} has no definition {name!r}")
        node = found[0]
    return node


def _statement_end(tree, line):
    """Last line of the statement that begins on ``line`` (else ``line``)."""
    ends = [n.end_lineno for n in ast.walk(tree)
            if isinstance(n, ast.stmt) and n.lineno == line]
    return max(ends) if ends else line


def extract(code):
    if hasattr(code, "index"):  # a Cell (the class may be __main__'s)
        return _extract_cell(code)
    with open(os.path.join(REPO, code.path), encoding="utf-8") as f:
        source = f.read()
    tree = ast.parse(source)
    lines = source.splitlines()
    if code.name is None:
        first, last = 1, len(lines)
    else:
        node = _definition(tree, code.name, code.path)
        first = min([node.lineno] + [d.lineno for d in node.decorator_list])
        last = node.end_lineno
    if code.start is not None:
        def find(prefix, after):
            for i in range(after, last + 1):
                if lines[i - 1].strip().startswith(prefix):
                    return i
            raise LookupError(f"{code.path}: no line beginning with "
                              f"{prefix!r} in {code.name or 'the file'}")
        first = find(code.start, first)
        last = _statement_end(tree, find(code.end, first + 1)
                              if code.end else first)
    return textwrap.dedent("\n".join(lines[first - 1:last])).rstrip()


def _label(code):
    if hasattr(code, "index"):
        return (f"{code.path}: cell {code.index}"
                + (" (excerpt)" if code.start else ""))
    where = code.path + (f": {code.name}" if code.name else "")
    return where + (" (excerpt)" if code.start else "")


def _column(codes):
    blocks = []
    for code in codes:
        blocks.append(f"# {_label(code)}\n{extract(code)}")
    return "```python\n" + "\n\n".join(blocks) + "\n```"


def side_by_side(left_title, left, right_title, right):
    return "\n".join([
        "<table>",
        f"<tr><th>{left_title}</th><th>{right_title}</th></tr>",
        "<tr>", "<td>", "", _column(left), "", "</td>", "<td>", "",
        _column(right), "", "</td>", "</tr>", "</table>"])


@dataclasses.dataclass
class Section:
    title: str
    text: str
    trax: list
    flax: list


@dataclasses.dataclass
class Page:
    filename: str
    title: str
    intro: str
    sections: list
    trax_title: str = "Trax (through trax_compat)"
    flax_title: str = "Flax"


def render(page):
    parts = [f"# {page.title}", "",
             "<!-- Generated by `python -m docs.migration.build` from the "
             "tested programs; edit those (or docs/migration/build.py), not "
             "this page. -->", "", page.intro.strip(), ""]
    for section in page.sections:
        parts += [f"## {section.title}", "", section.text.strip(), ""]
        if section.trax or section.flax:
            parts += [side_by_side(page.trax_title, section.trax,
                                   page.flax_title, section.flax), ""]
    return "\n".join(parts).rstrip() + "\n"


def all_pages():
    from docs.migration import deep_ngram_page  # pylint: disable=g-import-not-at-top
    from docs.migration import earlystopping_page  # pylint: disable=g-import-not-at-top
    from docs.migration import fashion_mnist_page  # pylint: disable=g-import-not-at-top
    from docs.migration import imdb_page  # pylint: disable=g-import-not-at-top
    from docs.migration import nmt_page  # pylint: disable=g-import-not-at-top
    from docs.migration import sentiment_page  # pylint: disable=g-import-not-at-top
    from docs.migration import transformer_lm_page  # pylint: disable=g-import-not-at-top
    return [sentiment_page.PAGE, earlystopping_page.PAGE, imdb_page.PAGE,
            fashion_mnist_page.PAGE, deep_ngram_page.PAGE,
            transformer_lm_page.PAGE, nmt_page.PAGE]


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m docs.migration.build",
        description="Write docs/migration/*.md from the tested programs.")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a page is stale")
    args = parser.parse_args(argv)
    stale = []
    for page in all_pages():
        path = os.path.join(PAGES_DIR, page.filename)
        text = render(page)
        current = (open(path, encoding="utf-8").read()
                   if os.path.exists(path) else None)
        if current == text:
            continue
        stale.append(os.path.relpath(path, REPO))
        if not args.check:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
    if args.check and stale:
        print(f"stale: {', '.join(stale)}; run python -m docs.migration.build",
              file=sys.stderr)
        return 1
    for name in stale:
        print(f"wrote {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
