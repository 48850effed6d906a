"""The status of every config in Trax's ``trax/supervised/configs/`` on
trax_compat: ``docs/gin_configs.md`` and ``gin_configs_status.json``::

    python tests/testdata/generate_gin_configs.py TRAX_GIT_REPO

Run with trax_compat's Python (not real Trax): each config is checked by
``trax_compat.gin_check`` (parse, then build the model, optimizer and
schedule ``trainer_lib.train`` would build). TRAX_GIT_REPO is a clone (bare
is fine) of github.com/google/trax; the configs are read from its HEAD into a
temporary folder, so that their ``include`` lines resolve. Configs the tests
run for a few steps are listed in ``gin_configs_cases.py``.
"""

import json
import logging
import os
import pathlib
import re
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

import gin_configs_cases  # noqa: E402
from gin_configs_cases import RUN_IN_TESTS  # noqa: E402
from trax_compat import gin_check  # noqa: E402

CONFIG_DIR = "trax/supervised/configs"
COMMAND = ("python tests/testdata/generate_gin_configs.py "
           "<clone of github.com/google/trax>")


def extract(repo, commit, dest):
    archive = subprocess.run(["git", "-C", repo, "archive", commit,
                              CONFIG_DIR], capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", dest], input=archive, check=True)
    return pathlib.Path(dest) / CONFIG_DIR


def _no_home(text):
    """The page names no machine's home folder (TFDS's default data dir)."""
    home = os.path.expanduser("~")
    return text.replace(home + os.sep, "~" + os.sep) if text else text


def _tfds_stand_ins(names, tmp):
    """A TFDS data dir with the tiny stand-ins ``names`` (tiny_tfds)."""
    import tiny_tfds  # pylint: disable=g-import-not-at-top
    return tiny_tfds.prepare(os.path.join(tmp, "tfds"),
                             tiny_tfds.stand_ins(names))


def _check_bound(path, macros, tmp):
    """check_config with ``macros`` bound to the tiny local files (and the
    TFDS stand-ins the config reads); returns the Check and a note."""
    name = os.path.basename(path)
    bindings = gin_configs_cases.local_file_bindings(macros, HERE.parents[1])
    tfds_names = gin_configs_cases.LOCAL_FILE_TFDS.get(name, ())
    saved = os.environ.get("TFDS_DATA_DIR")
    if tfds_names:
        os.environ["TFDS_DATA_DIR"] = _tfds_stand_ins(tfds_names, tmp)
    try:
        check = gin_check.check_config(str(path), bindings)
    finally:
        if saved is None:
            os.environ.pop("TFDS_DATA_DIR", None)
        else:
            os.environ["TFDS_DATA_DIR"] = saved
    parts = []
    if macros:
        bound = ", ".join(f"`{m}`" for m in sorted(macros))
        parts.append(f"{bound} bound to tiny local files "
                     f"(`{gin_configs_cases.LOCAL_FILES}/`)")
    if tfds_names:
        parts.append("TFDS " + ", ".join(f"`{n}`" for n in tfds_names)
                     + " from tiny local stand-ins")
    parts.append(
        "the bundled `en_8k.subword` for `en_32k.subword`" if macros else
        "`Tokenize.vocab_file` bound to the bundled `en_8k.subword` and "
        "`Tokenize.keys` to `[0, 1]` (the config binds neither: as "
        "written, Trax fails at its first batch)")
    return check, "with " + ", ".join(parts[:-1]) + " and " + parts[-1]


def statuses(folder, tmp):
    rows = []
    for path in sorted(folder.iterdir()):
        if path.suffix != ".gin":
            rows.append({"config": path.name, "status": "sweep",
                         "reason": "a hyperparameter sweep file, not a gin "
                                   "config"})
            continue
        check = gin_check.check_config(str(path))
        row = {"config": path.name, "status": check.status,
               "model": check.model, "optimizer": check.optimizer,
               "data": check.data, "stage": check.stage,
               "reason": _no_home(check.reason)}
        macros = gin_configs_cases.LOCAL_FILE_CONFIGS.get(path.name)
        bug = gin_configs_cases.TRAX_BUGS.get(path.name)
        if macros is not None or bug:
            bound, note = _check_bound(
                path, bug[1] if bug else macros, tmp)
            if bound.status != "builds":
                note += (f", still fails at {bound.stage}: "
                         f"{_no_home(bound.reason)}")
            elif not bug:
                row.update(status="builds", model=bound.model,
                           optimizer=bound.optimizer, data=bound.data)
                note = "builds " + note
            else:
                note = f"{bug[0]}; it builds {note}"
            row["bound"] = note
        if path.name in RUN_IN_TESTS:
            row["status"] = "runs"
            row["runs"] = RUN_IN_TESTS[path.name]
        rows.append(row)
    return rows


def _include_notes(folder, rows):
    """For a fragment (a config without ``train.model``): which configs
    include it and how they fare, e.g. ``c4.gin``."""
    by_name = {r["config"]: r for r in rows}
    for row in rows:
        if row["status"] != "fails" or "no train.model" not in (
                row["reason"] or ""):
            continue
        pattern = re.compile(
            r"""^\s*include\s+['"]%s['"]""" % re.escape(row["config"]),
            re.M)
        users = sorted(p.name for p in folder.glob("*.gin")
                       if pattern.search(p.read_text(encoding="utf-8")))
        if not users:
            continue
        counts = {}
        for name in users:
            status = by_name[name]["status"]
            counts[status] = counts.get(status, 0) + 1
        verbs = {"runs": "run", "builds": "build", "fails": "fail"}
        fare = ", ".join(f"{counts[s]} {verbs[s]}" for s in verbs
                         if s in counts)
        row["included_by"] = (
            f"a fragment: included by {len(users)} configs "
            f"({', '.join(f'`{u}`' for u in users)}), built with them: "
            f"{fare}")


def _cell(text):
    return str(text or "").replace("|", "\\|")


def markdown(rows, commit):
    counts = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    gin_rows = [r for r in rows if r["status"] != "sweep"]
    lines = [
        "# Trax's gin configs on trax_compat", "",
        f"Generated by `{COMMAND}`; do not edit by hand. The configs are "
        f"those of Trax's `{CONFIG_DIR}/` (Trax commit `{commit[:12]}`).",
        "",
        "Each config is parsed unchanged (`import trax...` lines resolve to "
        "trax_compat), then its model (train and eval mode), optimizer and "
        "learning-rate schedule are built as `trainer_lib.train` builds "
        "them, without reading data; `python -m trax_compat.gin_check "
        "F.gin` does the same for any config.", "",
        "* **runs**: trained for a few steps by the tests, with sizes and "
        "steps overridden by `--config` bindings;",
        "* **builds**: parses and builds; its data is not prepared locally "
        "(TFDS datasets download on first use; T2T problems need "
        "tensor2tensor), or, where Trax's config leaves its data files as "
        "a placeholder path, builds with that path bound to tiny local "
        "files;",
        "* **fails**: the step and the reason.", "",
        f"Of {len(gin_rows)} gin configs: {counts.get('runs', 0)} run, "
        f"{counts.get('builds', 0)} build, {counts.get('fails', 0)} fail. "
        f"{counts.get('sweep', 0)} more files are sweep definitions "
        f"(`.yaml`).", "",
        "| config | status | model | optimizer | data | notes |",
        "|---|---|---|---|---|---|"]
    for r in gin_rows:
        notes = []
        if r.get("runs"):
            notes.append(r["runs"])
        if r.get("bound"):
            notes.append(r["bound"])
        if r.get("included_by"):
            notes.append(r["included_by"])
        if gin_configs_cases.NOTES.get(r["config"]):
            notes.append(gin_configs_cases.NOTES[r["config"]])
        if r["stage"]:
            as_written = "as written, " if r["status"] != "fails" else ""
            notes.append(f"{as_written}fails at {r['stage']}: {r['reason']}")
        lines.append(
            f"| `{r['config']}` | {r['status']} | {_cell(r['model'])} | "
            f"{_cell(r['optimizer'])} | {_cell(r['data'])} | "
            f"{_cell('; '.join(notes))} |")
    sweeps = ", ".join(f"`{r['config']}`" for r in rows
                       if r["status"] == "sweep")
    lines += ["", f"Sweep files (not gin configs): {sweeps}.", ""]
    return "\n".join(lines)


def main():
    repo = sys.argv[1]
    logging.getLogger().setLevel(logging.CRITICAL)  # gin's include lookups
    commit = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"],
                            capture_output=True, text=True,
                            check=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        folder = extract(repo, commit, tmp)
        rows = statuses(folder, tmp)
        _include_notes(folder, rows)
    record = {"trax_commit": commit, "configs": rows}
    (HERE / "gin_configs_status.json").write_text(
        json.dumps(record, indent=1, sort_keys=True) + "\n")
    (HERE.parents[1] / "docs" / "gin_configs.md").write_text(
        markdown(rows, commit))
    print(f"wrote docs/gin_configs.md ({len(rows)} files)")


if __name__ == "__main__":
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    main()
