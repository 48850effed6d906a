"""Lists Trax's public modules and names, from Trax's source, into
``trax_compat/trax_names.json`` (what ``trax_compat.missing`` and
``trax_compat.coverage`` compare trax_compat against)::

    python3 tests/testdata/generate_trax_names.py TRAX_GIT_REPO [--commit REV] [--output FILE]

TRAX_GIT_REPO is a clone (bare is fine) of github.com/google/trax; files
are read with ``git show``, nothing is imported or executed. Per module:

* ``names``: public name -> the module that defines it. A module's own
  names are its top-level ``def``/``class``/assignments (or its ``__all__``);
  a package's also include what its ``__init__`` imports by name;
* ``star``: modules a package re-exports with ``from M import *``;
* ``package``: whether it is a package (``__init__.py``).

Tests, test helpers and test data are left out.
"""

import argparse
import ast
import json
import pathlib
import subprocess

DEFAULT_OUTPUT = (pathlib.Path(__file__).resolve().parents[2] / "trax_compat"
                  / "trax_names.json")


def _git(repo, *args):
    return subprocess.run(["git", "-C", repo, *args], check=True,
                          capture_output=True, text=True).stdout


def _module_files(repo, commit):
    """{dotted module name: path} for Trax's non-test modules."""
    modules = {}
    for path in _git(repo, "ls-tree", "-r", "--name-only", commit,
                     "trax").splitlines():
        parts = path.split("/")
        if (not path.endswith(".py") or path.endswith("_test.py")
                or parts[-1] in ("test_utils.py", "conftest.py")
                or "testdata" in parts or "jax_tests" in parts):
            continue
        parts[-1] = parts[-1][:-3]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _top_level(body):
    """Statements at module level, including those inside if/try blocks."""
    for node in body:
        if isinstance(node, ast.If):
            yield from _top_level(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            yield from _top_level(node.body + node.orelse + node.finalbody +
                                  [s for h in node.handlers for s in h.body])
        else:
            yield node


def _assigned(node):
    targets = (node.targets if isinstance(node, ast.Assign) else
               [node.target] if isinstance(node, ast.AnnAssign) else [])
    for target in targets:
        for leaf in ast.walk(target):
            if isinstance(leaf, ast.Name):
                yield leaf.id


def _explicit_all(tree):
    for node in _top_level(tree.body):
        if "__all__" in _assigned(node) and isinstance(
                node.value, (ast.List, ast.Tuple)):
            return [e.value for e in node.value.elts
                    if isinstance(e, ast.Constant)]
    return None


def _public(name):
    return not name.startswith("_")


def module_entry(name, source, is_package, modules):
    tree = ast.parse(source)
    names, star = {}, []
    for node in _top_level(tree.body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                             ast.ClassDef)):
            names.setdefault(node.name, name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in _assigned(node):
                # `Relu = layer_configure(Relu)` keeps Relu's origin.
                names.setdefault(target, name)
        elif isinstance(node, ast.ImportFrom) and is_package and node.module:
            for alias in node.names:
                if alias.name == "*":
                    star.append(node.module)
                    continue
                full = f"{node.module}.{alias.name}"
                names.setdefault(alias.asname or alias.name,
                                 full if full in modules else node.module)
    explicit = _explicit_all(tree)
    if explicit is not None:
        names = {n: names.get(n, name) for n in explicit}
    return {"package": is_package,
            "names": {n: names[n] for n in sorted(names) if _public(n)},
            "star": star}


def generate(repo, commit="HEAD"):
    commit = _git(repo, "rev-parse", commit).strip()
    files = _module_files(repo, commit)
    modules = {}
    for name in sorted(files):
        source = _git(repo, "show", f"{commit}:{files[name]}")
        modules[name] = module_entry(
            name, source, files[name].endswith("__init__.py"), files)
    # `Relu = layer_configure(Relu)` in a package re-wraps a name its star
    # imports brought in: the name still comes from that module.
    for entry in modules.values():
        for star in entry["star"]:
            for n in modules.get(star, {}).get("names", {}):
                if entry["names"].get(n) in modules and modules[
                        entry["names"][n]] is entry:
                    entry["names"][n] = modules[star]["names"][n]
    return {"trax_commit": commit, "modules": modules}


def dump_rows(commit, key, rows, brackets="{}"):
    """``{"trax_commit": ..., key: ...}`` as JSON with one row (already
    JSON text) per line, so that a regeneration diffs well."""
    return ("{\n" + f'"trax_commit": {json.dumps(commit)},\n'
            + f'"{key}": {brackets[0]}\n' + ",\n".join(rows)
            + f"\n{brackets[1]}\n}}\n")


def dump(data):
    """JSON with one module per line."""
    return dump_rows(data["trax_commit"], "modules", [
        f'"{name}": {json.dumps(entry, sort_keys=True)}'
        for name, entry in data["modules"].items()])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repo", help="a git clone of google/trax")
    parser.add_argument("--commit", default="HEAD")
    parser.add_argument("--output", default=str(DEFAULT_OUTPUT))
    args = parser.parse_args()
    text = dump(generate(args.repo, args.commit))
    pathlib.Path(args.output).write_text(text)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
