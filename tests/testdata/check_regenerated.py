"""Compares regenerated real-Trax output with the committed test data.

Usage (from the repository root, after the ``generate_*.py`` scripts wrote
into OUT; any Python with NumPy, TensorFlow only for the event files):

    python3 tests/testdata/check_regenerated.py OUT [--only NAME ...]

Each file OUT/trax_oracle/<name> is compacted as ``make_testdata.py`` does
(gzip, the ``init_and_step.npz`` hash) and compared with its committed
copy. A file is reported ``identical`` when the bytes agree; otherwise the
fields that may differ between two real-Trax runs or two checkouts (listed
in ``MASKS``, each with its reason in README.md) are masked in both, and the
file is ``equal after masking`` when nothing else differs. Anything else is
a failure (exit status 1), with the first differences shown.
"""

import argparse
import gzip
import io
import json
import pathlib
import re
import sys
import tempfile

import numpy as np

import make_testdata  # this folder

HERE = pathlib.Path(__file__).resolve().parent
ORACLE = "trax_oracle"

# The generators are not the scripts that first wrote the data: they name
# themselves (the committed files name the original ``gen_*.py``).
_SCRIPT = [("env", "generator_script")]
# Wall-clock timings in Trax's progress lines and the generator's own lines.
_TIMINGS = [(r"Ran (\d+) train steps in [0-9.]+ secs",
             r"Ran \1 train steps in <secs> secs"),
            (r"(wall clock:?|import) [0-9.]+s", r"\1 <secs>s")]

# name -> (kind, JSON paths masked, regex substitutions on the text).
MASKS = {
    "tokens_en_8k.json": ("json", _SCRIPT, []),
    "pipeline_dev.json": ("json", _SCRIPT + [("input_file",)], []),
    # LayerError headers name the file and line that created the layer.
    "layers.json": ("json", _SCRIPT, [
        (r"layer created in file [^\"]*, line \d+",
         "layer created in file <generator>, line <n>")]),
    "init_and_step.json": ("json", _SCRIPT, _TIMINGS),
    "init_and_step.npz": ("npz", [], []),
    "log_format.txt": ("text", [], _TIMINGS),
    # Also the generator's name in its own lines, and its temporary folder.
    "trax_run_dev/stdout.txt": ("text", [], _TIMINGS + [
        (r"outdir=\S+", "outdir=<dir>"),
        (r"^\[gen(erate)?_trax_run_dev\]", "[<generator>]")]),
    "trax_run_dev/predictions.json": ("json", _SCRIPT, []),
    "trax_run_dev/consumed_batches.json.gz": ("json", _SCRIPT, []),
    "trax_run_dev/output_dir/train": ("events", [], []),
    "trax_run_dev/output_dir/eval": ("events", [], []),
    "training_api/training_api.json": ("json", _SCRIPT, _TIMINGS),
    "training_api/training_api.npz": ("npz", [], []),
    "training_api/lr_schedules.json": ("json", _SCRIPT, []),
}


def _committed_bytes(name):
    path = HERE / ORACLE / name
    if path.exists():
        return path.read_bytes()
    return gzip.decompress((HERE / ORACLE / (name + ".gz")).read_bytes())


def _plain(data, name):
    return gzip.decompress(data) if name.endswith(".gz") else data


def _mask_json(text, paths, subs):
    for pattern, repl in subs:
        text = re.sub(pattern, repl, text)
    obj = json.loads(text)
    for path in paths:
        node = obj
        for key in path[:-1]:
            node = node.get(key, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict) and path[-1] in node:
            node[path[-1]] = "<masked>"
    return obj


def _first_diffs(a, b, where="", out=None, limit=5):
    out = [] if out is None else out
    if len(out) >= limit:
        return out
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(dict.fromkeys(list(a) + list(b))):
            if k not in a or k not in b:
                out.append(f"{where}/{k}: only in "
                           f"{'committed' if k in a else 'regenerated'}")
            else:
                _first_diffs(a[k], b[k], f"{where}/{k}", out, limit)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            _first_diffs(x, y, f"{where}[{i}]", out, limit)
    elif a != b and not (a != a and b != b):  # NaN equals NaN here
        out.append(f"{where}: committed {str(a)[:120]!r} != regenerated "
                   f"{str(b)[:120]!r}")
    return out


def _events(folder):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    files = sorted(folder.glob("events.out.tfevents.*"))
    records = []
    for path in files:
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            event.wall_time = 0  # when it was written
            for value in event.summary.value:
                if value.tag == "training/steps per second":  # a timing
                    value.simple_value = 0
            records.append(event.SerializeToString(deterministic=True))
    return len(files), records


def check(name, out, tmp):
    kind, paths, subs = MASKS[name]
    new_path = out / ORACLE / name
    if kind == "events":
        n_new, new = _events(new_path)
        n_old, old = _events(HERE / ORACLE / name)
        ok = n_new == n_old == 1 and new == old
        return ok, ("equal after masking (wall_time, file name, "
                    "steps per second)" if ok else
                    f"{len(old)} committed records, {len(new)} regenerated, "
                    f"{n_old}/{n_new} files")
    if kind == "npz":
        if name == "init_and_step.npz":
            # make_testdata's compaction (the embedding as a hash).
            (tmp / ORACLE).mkdir(parents=True, exist_ok=True)
            make_testdata.compact_init_and_step(out, tmp)
            new_bytes = (tmp / ORACLE / name).read_bytes()
        else:
            new_bytes = new_path.read_bytes()
        old_bytes = (HERE / ORACLE / name).read_bytes()
        if new_bytes == old_bytes:
            return True, "identical"
        old_z, new_z = np.load(io.BytesIO(old_bytes)), np.load(
            io.BytesIO(new_bytes))
        bad = [k for k in sorted(set(old_z.files) | set(new_z.files))
               if k not in old_z.files or k not in new_z.files
               or old_z[k].dtype != new_z[k].dtype
               or old_z[k].tobytes() != new_z[k].tobytes()]
        return (not bad, "same arrays bit for bit, other zip bytes" if not bad
                else f"arrays differ: {bad[:8]}")
    old = _plain(_committed_bytes(name), name)
    new = _plain(new_path.read_bytes(), name)
    if old == new:
        return True, "identical"
    if kind == "text":
        old_t, new_t = old.decode(), new.decode()
        for pattern, repl in subs:
            old_t, new_t = (re.sub(pattern, repl, t, flags=re.M)
                            for t in (old_t, new_t))
        if old_t == new_t:
            return True, "equal after masking " + ", ".join(
                p for p, _ in subs)
        diff = [f"line {i + 1}: {a!r} != {b!r}" for i, (a, b) in enumerate(
            zip(old_t.splitlines(), new_t.splitlines())) if a != b][:5]
        return False, "; ".join(diff) or "line counts differ"
    old_o = _mask_json(old.decode("utf-8"), paths, subs)
    new_o = _mask_json(new.decode("utf-8"), paths, subs)
    if old_o == new_o or not _first_diffs(old_o, new_o):
        raw_o = json.loads(old.decode("utf-8"))
        raw_n = json.loads(new.decode("utf-8"))
        differing = _first_diffs(raw_o, raw_n, limit=10 ** 6)
        fields = sorted({re.sub(r"\[\d+\]", "[*]", d.split(":")[0])
                         for d in differing})
        return True, ("equal after masking: " + ", ".join(fields) if fields
                      else "same JSON, other formatting")
    return False, "; ".join(_first_diffs(old_o, new_o))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=pathlib.Path,
                        help="the folder the generate_*.py scripts wrote")
    parser.add_argument("--only", nargs="*", default=None,
                        help="names (as in MASKS) to check; default: every "
                             "one present in OUT")
    args = parser.parse_args(argv)
    names = args.only or [n for n in MASKS
                          if (args.out / ORACLE / n).exists()]
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            ok, how = check(name, args.out, pathlib.Path(tmp))
            failed += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {name}: {how}")
    return 1 if failed or not names else 0


if __name__ == "__main__":
    sys.exit(main())
