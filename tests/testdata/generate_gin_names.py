"""Lists every gin configurable Trax registers, from Trax's source, into
``trax_compat/gin_names.json`` (what ``trax_compat.gin_registry`` registers
trax_compat's objects under)::

    python3 tests/testdata/generate_gin_names.py TRAX_GIT_REPO [--commit REV] [--output FILE]

TRAX_GIT_REPO is a clone (bare is fine) of github.com/google/trax; files
are read with ``git show``, nothing is imported or executed. Trax registers
in three ways, all found here:

* ``@gin.configurable`` / ``@gin.configurable(module=..., denylist=...)`` on
  a module-level function or class (no ``module``: gin uses the defining
  module's name);
* ``X = layer_configure(X, denylist=[...])`` and its twins
  ``model_configure`` / ``opt_configure`` in a package ``__init__``, which
  set ``module`` to the package's name;
* ``gin.external_configurable(X, module=...)``.

Each entry: ``module`` and ``name`` (gin's selector is ``module.name``),
``trax`` (where a Trax user reaches the object: ``trax.layers.Relu``),
``denylist``, ``allowlist``, and ``how``: ``decorator`` (the name is gin's
wrapper wherever the object is reached, as a decorator makes it) or
``wrapper`` (only ``trax`` is gin's wrapper; the defining module keeps the
plain object). Research, RL and test code are left out, as on the coverage
page, except the research modules of ``RESEARCH_IN_SCOPE``.
"""

import argparse
import ast
import json
import pathlib

from generate_trax_names import _git, _module_files, _top_level, dump_rows

DEFAULT_OUTPUT = (pathlib.Path(__file__).resolve().parents[2] / "trax_compat"
                  / "gin_names.json")
OUT_OF_SCOPE = ("trax.layers.research", "trax.models.research", "trax.rl",
                "trax.models.rl", "trax.rl_trainer", "trax.tf_numpy")
# Research modules trax_compat has, whose configurables Trax's own configs
# name (``bert.BERTClassifierHead`` in ``bert_glue_classification.gin``).
RESEARCH_IN_SCOPE = ("trax.models.research.bert",)
# Trax's wrappers that call gin.external_configurable with a fixed module.
CONFIGURE_HELPERS = {"layer_configure": "trax.layers",
                     "model_configure": "trax.models",
                     "opt_configure": "trax.optimizers"}


def _in_scope(module):
    if module in RESEARCH_IN_SCOPE:
        return True
    return not any(module == p or module.startswith(p + ".")
                   for p in OUT_OF_SCOPE)


def _strings(node):
    if isinstance(node, (ast.List, ast.Tuple)):
        return [e.value for e in node.elts if isinstance(e, ast.Constant)]
    return []


def _options(call):
    """module, denylist, allowlist and name of a gin call's keywords."""
    out = {"module": None, "denylist": [], "allowlist": [], "name": None}
    for kw in call.keywords if call else ():
        if kw.arg in ("module", "name") and isinstance(kw.value, ast.Constant):
            out[kw.arg] = kw.value.value
        elif kw.arg in ("denylist", "blacklist"):
            out["denylist"] = _strings(kw.value)
        elif kw.arg in ("allowlist", "whitelist"):
            out["allowlist"] = _strings(kw.value)
    return out


def _is_gin_configurable(node):
    target = node.func if isinstance(node, ast.Call) else node
    return (isinstance(target, ast.Attribute) and target.attr == "configurable"
            and isinstance(target.value, ast.Name) and target.value.id == "gin")


def _entry(module, name, trax_name, options, how):
    return {"module": options["module"] or module, "name": options["name"]
            or name, "trax": trax_name, "denylist": options["denylist"],
            "allowlist": options["allowlist"], "how": how}


def _object_name(node):
    """``Relu`` or ``atari_cnn.AtariCnn`` -> the wrapped object's own name."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def module_entries(module, source):
    entries = []
    for node in _top_level(ast.parse(source).body):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            for deco in node.decorator_list:
                if _is_gin_configurable(deco):
                    call = deco if isinstance(deco, ast.Call) else None
                    entries.append(_entry(module, node.name,
                                          f"{module}.{node.name}",
                                          _options(call), "decorator"))
        elif isinstance(node, ast.Assign) and isinstance(node.value,
                                                         ast.Call):
            call, func = node.value, node.value.func
            helper = func.id if isinstance(func, ast.Name) else None
            external = (isinstance(func, ast.Attribute)
                        and func.attr == "external_configurable")
            if (helper not in CONFIGURE_HELPERS and not external) or (
                    not call.args):
                continue
            options = _options(call)
            if helper:
                options["module"] = CONFIGURE_HELPERS[helper]
            name = _object_name(call.args[0])
            for target in node.targets:
                if isinstance(target, ast.Name) and name:
                    entries.append(_entry(module, name,
                                          f"{module}.{target.id}", options,
                                          "wrapper"))
    return entries


def generate(repo, commit="HEAD"):
    commit = _git(repo, "rev-parse", commit).strip()
    files = _module_files(repo, commit)
    entries = []
    for module in sorted(files):
        if not _in_scope(module):
            continue
        source = _git(repo, "show", f"{commit}:{files[module]}")
        if "gin" not in source:
            continue
        entries.extend(e for e in module_entries(module, source)
                       if _in_scope(e["module"]))
    entries.sort(key=lambda e: (e["module"], e["name"]))
    return {"trax_commit": commit, "configurables": entries}


def dump(data):
    """JSON with one configurable per line."""
    return dump_rows(data["trax_commit"], "configurables",
                     [json.dumps(e, sort_keys=True)
                      for e in data["configurables"]], brackets="[]")


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
