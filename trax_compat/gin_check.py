"""Does a Trax gin config work on trax_compat? Parses it (with its
``include``s) and builds what ``trainer_lib.train`` would build before
reading any data: the model in train and eval mode, the optimizer and the
learning-rate schedule. Says what data the config reads, and, when a step
fails, why::

    python -m trax_compat.gin_check F.gin [F2.gin ...] [--config=BINDING]

Nothing is trained and no data is read, so the check takes seconds even for
configs of big models (layers are built, weights are not initialised).
"""

import argparse
import dataclasses
import logging
import os
import re
import sys

from trax_compat import gin_registry
from trax_compat.data import t5_fallback

# train.inputs functions that generate their data (nothing to download).
GENERATED_INPUTS = ("sequence_copy_inputs", "simple_sequence_copy_inputs",
                    "addition_inputs")


@dataclasses.dataclass
class Check:
    """One config's result. ``status``: ``"builds"`` or ``"fails"``;
    ``stage``: where it failed (parse, model, optimizer, lr_schedule)."""
    config: str
    status: str
    model: str = ""
    optimizer: str = ""
    data: str = ""
    stage: str = ""
    reason: str = ""


def _gin():
    gin = gin_registry.gin_or_none()
    if gin is None:
        raise ImportError("checking gin configs needs gin-config: "
                          "pip install 'trax-compat[gin]'")
    return gin


def register_everything():
    """Makes ``import trax...`` lines resolve to trax_compat and registers
    every configurable trax_compat has under Trax's gin names."""
    from trax_compat import as_trax  # pylint: disable=g-import-not-at-top
    from trax_compat import trainer  # pylint: disable=g-import-not-at-top
    as_trax.install_as_trax()
    return trainer._register_everything()  # pylint: disable=protected-access


def _name(obj):
    return getattr(obj, "__name__", type(obj).__name__)


def _first_line(error):
    lines = [ln.strip() for ln in str(error).strip().splitlines()]
    return lines[0] if lines else type(error).__name__


def reason_of(error, imports_t5=False):
    """A short reason for ``error``, naming what is missing; ``imports_t5``:
    the config has an ``import t5...`` line."""
    from trax_compat import missing  # pylint: disable=g-import-not-at-top
    text = str(error)
    if isinstance(error, missing.NotAvailableError):
        module = re.search(r"(trax(\.\w+)+)", text)
        return (f"{module.group(1) if module else 'a Trax module'} is Trax "
                f"research code, out of scope")
    package = re.search(r"No module named '([\w.]+)'", text)
    if isinstance(error, ModuleNotFoundError) and package:
        top = package.group(1).split(".")[0]
        return f"needs the `{top}` package (not a trax_compat dependency)"
    unknown = re.search(
        r"No configurable matching (?:reference )?'@?([\w.]+)'", text)
    if unknown:
        name = unknown.group(1)
        trax_name = gin_registry.missing_configurable(name)
        if trax_name:
            return f"`{trax_name}` not in trax_compat"
        if imports_t5 and not t5_fallback.t5_installed():
            return (f"`{name}` is not registered: not a Trax configurable, "
                    f"so T5's (the config imports `t5`); needs the `t5` "
                    f"package (not a trax_compat dependency)")
        return f"`{name}` is not registered (not a Trax configurable)"
    if isinstance(error, OSError) and "Unable to open file" in text:
        return _first_line(error)
    return f"{type(error).__name__}: {_first_line(error)}"


def _data_of(bindings, gin):
    """What the config trains on: a generated task or a dataset name."""
    inputs = bindings.get("inputs")
    name = _name(inputs) if inputs is not None else "batcher"
    if name in GENERATED_INPUTS:
        return f"generated ({name})"
    try:
        dataset = gin.query_parameter("data_streams.dataset_name")
    except ValueError:
        dataset = None
    if dataset and dataset.startswith("t2t_"):
        return f"T2T `{dataset}` (needs tensor2tensor)"
    if dataset:
        return f"TFDS `{dataset}`"
    return name


def _build(result, parse, trainer_lib, gin):
    """Runs ``parse`` then builds what train() would; fills ``result``."""
    stage = "parse"
    try:
        parse()
        train = gin.get_bindings("train")
        result.data = _data_of(train, gin)
        stage = "model"
        model = train.get("model")
        if model is None:
            raise ValueError("no train.model (a fragment for other configs)")
        result.model = _name(model)
        model = gin_registry.configurable(model)
        model(mode="train")
        model(mode="eval")
        stage = "optimizer"
        optimizer = train.get("optimizer", trainer_lib.trax_opt.Adafactor)
        result.optimizer = _name(optimizer)
        gin_registry.configurable(optimizer)()
        stage = "lr_schedule"
        schedule = train.get("lr_schedule_fn", trainer_lib.lr.multifactor)
        gin_registry.configurable(schedule)()
    except Exception as e:  # pylint: disable=broad-except
        return stage, e
    return None, None


def _without_import(path, package, seen=()):
    """The config's text with its ``import <package>...`` lines dropped, its
    ``include``d files (from its own folder) inlined likewise: a config
    often gets the import from what it includes (``bert.gin``)."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    folder = os.path.dirname(os.path.abspath(path))
    out = []
    for ln in lines:
        if package and re.match(rf"\s*(import|from)\s+{re.escape(package)}\b",
                                ln):
            ln = ""
        include = re.match(r"""\s*include\s+['"]([^'"]+)['"]""", ln)
        inner = include and os.path.join(folder, include.group(1))
        if inner and os.path.isfile(inner) and inner not in seen:
            ln = _without_import(inner, package, seen + (inner,))
        out.append(ln)
    return "\n".join(out)


def check_config(path, bindings=()):
    """Parses ``path`` (then ``bindings``) into a cleared gin config and
    builds its model, optimizer and schedule; returns a :class:`Check`.
    The gin config is left as parsed.

    A config that imports a package trax_compat does not install (``import
    t5.data.preprocessors``) fails at parse; the rest of it is then checked
    without that import, and the reason says how far it got.
    """
    gin = _gin()
    trainer_lib = register_everything()
    gin.clear_config()
    folder = os.path.dirname(os.path.abspath(path))
    # For the config's `include` lines (gin keeps each path it is given).
    prefixes = gin.config._LOCATION_PREFIXES  # pylint: disable=W0212
    if folder not in prefixes:
        gin.add_config_file_search_path(folder)
    result = Check(config=os.path.basename(path), status="fails")
    stage, error = _build(result, lambda: gin.parse_config_files_and_bindings(
        [path], list(bindings)), trainer_lib, gin)
    if error is None:
        result.status = "builds"
        return result
    imports_t5 = bool(re.search(r"^\s*(import|from)\s+t5\b",
                                _without_import(path, None), re.M))
    result.stage, result.reason = stage, reason_of(error, imports_t5)
    package = re.search(r"No module named '(\w+)", str(error))
    if (stage == "parse" and isinstance(error, ModuleNotFoundError)
            and package and package.group(1) != "trax"):
        gin.clear_config()
        text = _without_import(path, package.group(1))
        rest = Check(config=result.config, status="fails")
        stage, error = _build(rest, lambda: (
            gin.parse_config(text), gin.parse_config(list(bindings))),
            trainer_lib, gin)
        result.model, result.optimizer, result.data = (
            rest.model, rest.optimizer, rest.data)
        result.reason += ("; without that import the rest builds"
                          if error is None else
                          f"; without that import it fails at {stage}: "
                          f"{reason_of(error, imports_t5)}")
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m trax_compat.gin_check",
        description=__doc__.split("\n\n")[0])
    parser.add_argument("config_files", nargs="+", metavar="FILE")
    parser.add_argument("--config", action="append", default=[],
                        metavar="BINDING", help="a gin binding (repeatable)")
    args = parser.parse_args(argv)
    # gin logs each include it looks for on the way; only results matter.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.CRITICAL)
    failed = 0
    try:
        for path in args.config_files:
            r = check_config(path, args.config)
            if r.status == "builds":
                print(f"{r.config}: builds {r.model} with {r.optimizer}; "
                      f"data: {r.data}")
            else:
                failed += 1
                print(f"{r.config}: fails at {r.stage}: {r.reason}")
    finally:
        root.setLevel(level)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
