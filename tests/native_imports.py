"""What a native Flax program in ``train/`` imports from this repository."""

import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _imports(path):
    tree = ast.parse(open(path, encoding="utf-8").read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{a.name}" for a in node.names)


def repository_files_imported(program, names):
    """The repository files ``train/<program>/<names>`` import, followed
    transitively through ``train`` and ``models``; fails on any import of
    trax_compat or trax (a native program must not need them)."""
    todo = [os.path.join(ROOT, "train", program, name) for name in names]
    seen = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in _imports(path):
            assert not module.startswith(("trax_compat", "trax.")), (
                path, module)
            if module.split(".")[0] in ("train", "models"):
                candidate = os.path.join(ROOT, *module.split(".")) + ".py"
                if os.path.exists(candidate):
                    todo.append(candidate)
    return seen
