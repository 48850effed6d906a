"""Rebuilds tests/testdata from the developer fixtures folder.

Usage (from the repository root):

    python3 tests/testdata/make_testdata.py path/to/fixtures

The fixtures folder holds the full real-Trax oracle data (about 20 MB); this
script copies the part the test suite reads and compacts it (see README.md
next to this file). The output is byte-for-byte reproducible: gzip members
carry no name and mtime 0, and the .npz entries a fixed timestamp.

Not imported by the tests.
"""

import argparse
import gzip
import hashlib
import io
import json
import pathlib
import shutil
import sys
import zipfile

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent

# Copied unchanged: (source relative to the fixtures folder, destination
# relative to tests/testdata).
COPY = [
    ("corpus/dev_tweets.txt", "corpus/dev_tweets.txt"),
    ("corpus/dev_tweets_eval.txt", "corpus/dev_tweets_eval.txt"),
    ("trax_oracle/log_format.txt", "trax_oracle/log_format.txt"),
    ("trax_oracle/trax_run_dev/stdout.txt",
     "trax_oracle/trax_run_dev/stdout.txt"),
    ("trax_oracle/trax_run_dev/predictions.json",
     "trax_oracle/trax_run_dev/predictions.json"),
    ("trax_oracle/trax_run_dev/consumed_batches.json.gz",
     "trax_oracle/trax_run_dev/consumed_batches.json.gz"),
    ("trax_oracle/training_api/training_api.npz",
     "trax_oracle/training_api/training_api.npz"),
] + [(f"trax_oracle/models/{run}/{f}", f"trax_oracle/models_copy/{run}/{f}")
     for run in ("transformer_lm_copy", "transformer_copy")
     for f in ("model.pkl.gz", "model.weights.npy.gz")]

# Copied as .gz (gzip -9, no name, mtime 0); the tests unzip on read.
GZIP = [
    "trax_oracle/tokens_en_8k.json",
    "trax_oracle/pipeline_dev.json",
    "trax_oracle/layers.json",
    "trax_oracle/init_and_step.json",
    "trax_oracle/training_api/training_api.json",
    "trax_oracle/training_api/lr_schedules.json",
    "vocab/sentencepiece.model",
]

# TensorBoard event files of the tutorial run, under their original names.
EVENT_DIRS = ["trax_oracle/trax_run_dev/output_dir/train",
              "trax_oracle/trax_run_dev/output_dir/eval"]

# Arrays of init_and_step.npz replaced by their SHA-256 (float32, C order)
# plus a few rows; the tests regenerate them from the documented key
# derivation and check the hash.
HASHED = {"init.embedding": [0, 1, 4095, 8191]}

# Hand-written files of tests/testdata, left alone.
KEEP = {"README.md", "make_testdata.py", "vocab", "vocab/LICENSE-NOTE.md"}

SENTENCEPIECE_SHA256 = (
    "9e925505c08efc3173ed8aa1d7e7e396fa47f6e4aa7aee5a5f56093ca6722a93")
NPZ_DATE_TIME = (1980, 1, 1, 0, 0, 0)


# Written by this folder's own generate_*.py scripts (run with real Trax),
# not copied from the fixtures folder: left alone.
GENERATED = ("trax_oracle/earlystopping", "trax_oracle/optimizers",
             "trax_oracle/deep_ngram")
# Each family's oracle (trax_oracle/layers_<family>/, models_<family>/,
# ...) is written directly by its own generate_<folder>.py.
GENERATED_PREFIXES = ("trax_oracle/layers_", "trax_oracle/models_",
                      "trax_oracle/decoding", "trax_oracle/checkpoints",
                      "trax_oracle/data_")


def _kept(rel):
    # This folder's scripts (make_testdata, generate_*, their helpers).
    return (rel in KEEP or (rel.endswith(".py") and "/" not in rel)
            or rel.startswith(GENERATED_PREFIXES)
            or any(rel == d or rel.startswith(d + "/") for d in GENERATED))


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def array_sha256(array):
    return sha256(np.ascontiguousarray(array).tobytes())


def gzip_bytes(data):
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9,
                       mtime=0) as f:
        f.write(data)
    return buf.getvalue()


def write_npz(path, arrays):
    """np.savez_compressed, with a fixed timestamp on every entry."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for key, value in arrays.items():
            info = zipfile.ZipInfo(key + ".npy", date_time=NPZ_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(value),
                                      allow_pickle=False)
            zf.writestr(info, buf.getvalue(), compresslevel=9)


def compact_init_and_step(src, dest):
    with np.load(src / "trax_oracle/init_and_step.npz") as z:
        arrays = {k: z[k] for k in z.files}
    with open(src / "trax_oracle/init_and_step.json", encoding="utf-8") as f:
        hashes = json.load(f)["sha256_float32_C_order"]
    out = {}
    for key, value in arrays.items():
        if key in hashes:
            assert array_sha256(value) == hashes[key], key
        if key not in HASHED:
            out[key] = value
            continue
        assert value.dtype == np.float32, key
        rows = np.asarray(HASHED[key], np.int64)
        out[key + ".sha256"] = np.asarray(array_sha256(value))
        out[key + ".shape"] = np.asarray(value.shape, np.int64)
        out[key + ".row_ids"] = rows
        out[key + ".rows"] = value[rows]
    write_npz(dest / "trax_oracle/init_and_step.npz", out)


def compact_copy_decoding(src, dest):
    """The decodes of models/decoding.json's two copy-task checkpoints
    (the checkpoint files themselves are in COPY)."""
    runs = json.loads((src / "trax_oracle/models/decoding.json").read_text())
    keep = ("model_constructor", "checkpoint_input_signature",
            "decode_inputs", "greedy", "temperature_1", "beam_search")
    out = {"env": runs["env"], "runs": {
        name: {k: run[k] for k in keep}
        for name, run in runs["runs"].items()}}
    for run in out["runs"].values():
        run["greedy"] = {"output": run["greedy"]["output"]}
    path = dest / "trax_oracle/models_copy/decoding.json.gz"
    path.write_bytes(gzip_bytes(
        json.dumps(out, indent=1, sort_keys=True).encode()))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fixtures", type=pathlib.Path,
                        help="the developers' fixtures folder (real-Trax output)")
    parser.add_argument("--out", type=pathlib.Path, default=HERE,
                        help="output folder (default: this script's folder)")
    args = parser.parse_args(argv)
    src, dest = args.fixtures.resolve(), args.out.resolve()
    if not (src / "trax_oracle").is_dir():
        parser.error(f"{src} has no trax_oracle/ folder")

    for path in sorted(dest.rglob("*"), reverse=True):
        rel = path.relative_to(dest).as_posix()
        if _kept(rel):
            continue
        if path.is_dir():
            if not any(path.iterdir()):
                path.rmdir()
        else:
            path.unlink()
    for rel_src, rel_dest in COPY:
        (dest / rel_dest).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / rel_src, dest / rel_dest)
    for rel in GZIP:
        data = (src / rel).read_bytes()
        if rel.endswith("sentencepiece.model"):
            assert sha256(data) == SENTENCEPIECE_SHA256
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / (rel + ".gz")).write_bytes(gzip_bytes(data))
    for rel in EVENT_DIRS:
        (dest / rel).mkdir(parents=True, exist_ok=True)
        for event_file in sorted((src / rel).glob("events.out.tfevents.*")):
            shutil.copyfile(event_file, dest / rel / event_file.name)
    compact_init_and_step(src, dest)
    compact_copy_decoding(src, dest)

    total = 0
    for path in sorted(dest.rglob("*")):
        if path.is_file() and not _kept(path.relative_to(dest).as_posix()):
            size = path.stat().st_size
            total += size
            print(f"{size:>9}  {path.relative_to(dest)}")
    print(f"{total:>9}  total (without README.md, LICENSE-NOTE.md, the "
          f"scripts and what generate_*.py wrote)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
