"""``trax-compat migrate --plan SCRIPT``: the way from a Trax script to
native Flax / optax / CLU / Orbax code, call by call.

The script (a ``.py`` file or a Jupyter notebook's code cells) is parsed,
never run. Every call of a Trax API is resolved through the script's own
imports (``import trax``, ``from trax import layers as tl``, ``from
trax.supervised import training``, their ``trax_compat`` spellings) and
through the variables it assigns (``loop = training.Loop(...)`` makes
``loop.run`` a ``Loop.run``), then looked up in ``migrate_table``. Calls
the table does not know are listed as unknown.
"""

import ast
import dataclasses
import json
import os

from trax_compat import migrate_table
from trax_compat.command_errors import UsageError

_TRAX_ROOTS = ("trax", "trax_compat")


@dataclasses.dataclass(frozen=True)
class Finding:
    where: str        # "line 12" or "cell 3, line 2"
    name: str         # the Trax name, e.g. trax.layers.Dense
    equivalent: str   # None when unknown
    page: str         # None when unknown
    position: tuple   # for sorting: (cell, line, column)


def _canonical(dotted):
    """``trax_compat.x`` is spelled ``trax.x``: the table knows Trax's names."""
    root, _, rest = dotted.partition(".")
    if root in _TRAX_ROOTS:
        return "trax" + ("." + rest if rest else "")
    return None


class _Scanner:
    """Finds the Trax calls of one script, cell after cell."""

    def __init__(self):
        self.aliases = {}    # local name -> trax dotted name
        self.objects = {}    # variable -> table prefix (Loop, Layer)
        self.findings = []

    def _resolve(self, node):
        """The trax dotted name ``node`` stands for, else None."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self._resolve(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def _imports(self, tree):
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    full = _canonical(a.name)
                    if full is None:
                        continue
                    if a.asname:
                        self.aliases[a.asname] = full
                    else:  # `import trax.layers` binds `trax`
                        self.aliases[a.name.split(".")[0]] = "trax"
            elif isinstance(node, ast.ImportFrom) and node.module:
                full = _canonical(node.module)
                if full is None or node.level:
                    continue
                for a in node.names:
                    if a.name != "*":
                        self.aliases[a.asname or a.name] = f"{full}.{a.name}"

    def _assignments(self, tree):
        for node in ast.walk(tree):
            if (isinstance(node, ast.Assign)
                    and isinstance(node.value, ast.Call)):
                constructor = self._resolve(node.value.func)
                kind = constructor and migrate_table.object_kind(constructor)
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        if kind:
                            self.objects[target.id] = kind
                        else:
                            self.objects.pop(target.id, None)

    def _call_name(self, func):
        name = self._resolve(func)
        if name:
            return name
        if isinstance(func, ast.Name) and func.id in self.objects:
            return f"{self.objects[func.id]}.__call__"
        if (isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and func.value.id in self.objects):
            return f"{self.objects[func.value.id]}.{func.attr}"
        return None

    def scan(self, source, cell, label):
        tree = ast.parse(source)
        self._imports(tree)
        self._assignments(tree)
        called = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                called.add(id(node.func))
                name = self._call_name(node.func)
                if name:
                    self._add(name, node, cell, label)
        # Trax classes passed without being called (optimizer=Adam, ...);
        # modules (`trax.layers` inside `trax.layers.Dense`) are skipped.
        for node in ast.walk(tree):
            if (isinstance(node, (ast.Attribute, ast.Name))
                    and id(node) not in called
                    and isinstance(getattr(node, "ctx", None), ast.Load)):
                name = self._resolve(node)
                last = name.rsplit(".", 1)[-1] if name else ""
                if name and (name in migrate_table.TABLE
                             or last[:1].isupper()):
                    self._add(name, node, cell, label)

    def _add(self, name, node, cell, label):
        found = migrate_table.lookup(name)
        where = f"{label}line {node.lineno}"
        self.findings.append(Finding(
            where, name, found[0] if found else None,
            found[1] if found else None, (cell, node.lineno, node.col_offset)))


def _notebook_cells(path, text):
    try:
        notebook = json.loads(text)
        cells = notebook["cells"]
    except (ValueError, KeyError, TypeError) as e:
        raise UsageError(f"{path} is not a Jupyter notebook ({e}); pass a "
                         f".py script or an .ipynb notebook.") from None
    for number, cell in enumerate(cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        # Shell and magic lines are not Python; blank them, keeping lines.
        lines = ["" if line.lstrip().startswith(("!", "%")) else line
                 for line in source.split("\n")]
        yield number, f"cell {number}, ", "\n".join(lines)


def plan(path):
    """The findings for the script or notebook at ``path``, in order."""
    if not os.path.exists(path):
        raise UsageError(f"{path} does not exist; pass the path of a Trax "
                         f"script (.py) or notebook (.ipynb).")
    if os.path.isdir(path):
        raise UsageError(f"{path} is a directory; pass the path of a Trax "
                         f"script (.py) or notebook (.ipynb).")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError as e:
        raise UsageError(f"{path} is not UTF-8 text ({e.reason} at byte "
                         f"{e.start}); pass a Python script.") from None
    units = (_notebook_cells(path, text) if path.endswith(".ipynb")
             else [(0, "", text)])
    scanner = _Scanner()
    for cell, label, source in units:
        try:
            scanner.scan(source, cell, label)
        except SyntaxError as e:
            raise UsageError(
                f"{path} is not valid Python ({label}line {e.lineno}: "
                f"{e.msg}); migrate --plan only parses the script, so it "
                f"must parse.") from None
    return sorted(set(scanner.findings), key=lambda f: f.position)


def format_plan(path, findings):
    known = [f for f in findings if f.equivalent]
    unknown = [f for f in findings if not f.equivalent]
    lines = [f"Migration plan for {path}: {len(findings)} Trax call(s), "
             f"{len(known)} with a native equivalent, {len(unknown)} "
             f"unknown. Nothing was run."]
    if not findings:
        lines.append("No Trax calls found (imports of trax or trax_compat "
                     "are how calls are recognized).")
    width = max([len(f.where) for f in findings] + [0])
    for f in findings:
        if f.equivalent:
            lines += ["", f"{f.where:<{width}}  {f.name}",
                      f"{'':<{width}}  -> {f.equivalent}",
                      f"{'':<{width}}     see {f.page}"]
    if unknown:
        lines += ["", "Unknown (not in the migration table yet; see "
                  f"{migrate_table.GUIDE} and the layer's to_flax()):"]
        lines += [f"{f.where:<{width}}  {f.name}" for f in unknown]
    return "\n".join(lines)


def add_arguments(parser):
    parser.add_argument("script", help="a Trax script (.py) or notebook "
                        "(.ipynb); it is parsed, not run")
    parser.add_argument("--plan", action="store_true",
                        help="print, for each Trax call, its native "
                        "Flax/optax/CLU/Orbax equivalent and the page that "
                        "explains it")


def run(args):
    if not args.plan:
        raise UsageError("pass --plan: it prints the migration plan of "
                         f"{args.script} (the script is not changed).")
    print(format_plan(args.script, plan(args.script)))
    return 0
