"""The coverage page: Trax's public modules and names, module by module,
against what trax_compat has. It is generated from the code::

    python -m trax_compat.coverage                              # print it
    python -m trax_compat.coverage --output docs/coverage.md    # refresh it
    python -m trax_compat.coverage --check docs/coverage.md     # 1 if stale

A name is "here" when the trax_compat module has the attribute, so layers
added to their modules show up at the next refresh with no list to edit.
"""

import argparse
import importlib
import sys

from trax_compat import missing

REFRESH = "python -m trax_compat.coverage --output docs/coverage.md"


def our_module(trax_module):
    """trax_compat's module for ``trax_module``, or None."""
    try:
        return importlib.import_module(missing.OURS +
                                       trax_module[len(missing.TRAX):])
    except ModuleNotFoundError:
        return None


def _checked_names(trax_module, modules):
    """The names to list for ``trax_module``: its own and those it imports
    by name (not its submodules, nor its ``import *`` lines, which have
    rows of their own)."""
    entry = modules[trax_module]
    starred = set()
    for star in entry["star"]:
        starred.update(missing.public_names(star))
    return sorted(n for n in entry["names"]
                  if n not in starred and f"{trax_module}.{n}" not in modules)


def module_rows(modules=None):
    """[(trax module, our module exists, names here, names missing)] for the
    in-scope modules; a missing module has every name missing."""
    modules = modules or missing.trax_modules()
    rows = []
    for name in sorted(modules):
        if missing.out_of_scope_reason(name):
            continue
        ours = our_module(name)
        names = _checked_names(name, modules)
        here = [n for n in names if ours is not None and hasattr(ours, n)]
        rows.append((name, ours is not None, here,
                     [n for n in names if n not in here]))
    return rows


def _codes(names):
    return ", ".join(f"`{n}`" for n in names) or "none"


def render():
    modules = missing.trax_modules()
    rows = module_rows(modules)
    n_names = sum(len(r[2]) + len(r[3]) for r in rows)
    n_here = sum(len(r[2]) for r in rows)
    lines = [
        "# Coverage of Trax's public API",
        "",
        f"Generated from the code by `{REFRESH}`; do not edit by hand. "
        f"Trax's public names (Trax commit "
        f"`{missing.trax_commit()[:12]}`) are listed in "
        "`trax_compat/trax_names.json` by "
        "`tests/testdata/generate_trax_names.py`.",
        "",
        "Touching a Trax name listed as missing raises "
        "`trax_compat.missing.NotAvailableError` (an `AttributeError`, or "
        "a `ModuleNotFoundError` for a module) that names it and points "
        "here.",
        "",
        f"In scope: {sum(r[1] for r in rows)} of {len(rows)} modules, "
        f"{n_here} of {n_names} names.",
        "",
        "## Modules in scope",
        "",
        "| Trax module | here | names here |",
        "|---|---|---:|",
    ]
    for name, exists, here, absent in rows:
        lines.append(f"| `{name}` | {'yes' if exists else 'no'} | "
                     f"{len(here)} of {len(here) + len(absent)} |")
    lines += ["", "## Names, module by module", ""]
    for name, exists, here, absent in rows:
        if not here and not absent:
            continue
        lines += [f"### `{name}`", ""]
        if not exists:
            lines += ["Module not here yet.", ""]
        lines += [f"- here ({len(here)}): {_codes(here)}",
                  f"- missing ({len(absent)}): {_codes(absent)}", ""]
    lines += ["## Out of scope", "",
              "Not planned for trax_compat; touching these names says so.",
              "", "| Trax module | why | public names |", "|---|---|---:|"]
    for name in sorted(modules):
        why = missing.out_of_scope_reason(name)
        if why:
            lines.append(f"| `{name}` | {why} | "
                         f"{len(modules[name]['names'])} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m trax_compat.coverage",
        description="Trax's public API against trax_compat, as markdown.")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--output", help="write the page to this file")
    group.add_argument("--check", metavar="FILE",
                       help="exit 1 if FILE is not the page as generated now")
    args = parser.parse_args(argv)
    page = render()
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(page)
    elif args.check:
        try:
            with open(args.check, encoding="utf-8") as f:
                current = f.read()
        except OSError as e:
            print(f"{parser.prog}: error: {e}", file=sys.stderr)
            return 2
        if current != page:
            print(f"{args.check} is stale; refresh it with: {REFRESH}",
                  file=sys.stderr)
            return 1
    else:
        sys.stdout.write(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
