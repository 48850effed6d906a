"""Records real Trax's ``trax.data.tf_inputs`` on tiny local TFDS datasets.

Run with a Python that has **real Google Trax** (with TensorFlow and TFDS)
installed, from the repository root:

    python tests/testdata/generate_data_tfds.py [OUT_DIR]

OUT_DIR defaults to ``tests/testdata/trax_oracle/data_tfds``; it gets
``tfds.json.gz``. The datasets are the builders of ``tiny_tfds.py`` prepared
into a temporary dir (nothing is downloaded). Every case is described by
its arguments, so the tests replay it with trax_compat:

* ``tfds``: ``TFDS(name, data_dir=DIR, **kwargs)()``'s first ``n`` items
  (splits, holdouts, host slices, a ``tfds_preprocess_fn`` named from
  tiny_tfds), or the error type Trax raised;
* ``preprocess``: a ``tf_inputs`` preprocessing function on a tiny
  ``tf.data`` dataset built by the named tiny_tfds helper, all elements;
* ``streams``: ``CreateBertInputs``, ``mask_random_tokens`` (after
  ``np.random.seed``), ``ConvertToUnicode`` on literal rows;
* ``data_streams``: train/eval streams with ``shuffle_buffer_size=1`` after
  ``random.seed`` (Trax's random skip of the train stream).
"""

import gzip
import json
import os
import pathlib
import random
import sys
import tempfile

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import oracle_common as oc  # noqa: E402  this folder
import tiny_tfds  # noqa: E402  this folder

from trax.data import tf_inputs  # noqa: E402

TEXT = ("text", "label")
TRIPLE = ("inputs", "targets", "id")

TFDS_CASES = [
    ("tiny_text", {"keys": TEXT, "shuffle_train": False}, 30),
    ("tiny_text", {"keys": TEXT}, 10),
    ("tiny_text", {"keys": ["label", "text"], "train": False}, 7),
    ("tiny_text", {"keys": TEXT, "eval_holdout_size": 0.2}, 25),
    ("tiny_text", {"keys": TEXT, "eval_holdout_size": 0.2, "train": False},
     7),
    ("tiny_text", {"keys": TEXT, "n_hosts": 2, "host_id": 0}, 14),
    ("tiny_text", {"keys": TEXT, "n_hosts": 2, "host_id": 1}, 14),
    ("tiny_text", {"keys": TEXT, "n_hosts": 3, "host_id": 2,
                   "eval_holdout_size": 0.1}, 9),
    ("tiny_text", {"keys": TEXT, "n_hosts": 3, "host_id": 2,
                   "eval_holdout_size": 0.1, "train": False}, 4),
    ("tiny_text", {"keys": TEXT, "n_hosts": 2, "host_id": 1,
                   "train": False}, 6),
    ("tiny_text", {"keys": TEXT, "n_hosts": 30, "host_id": 0}, 1),
    ("tiny_triple", {"keys": TRIPLE, "train": False}, 5),
    ("tiny_triple", {"keys": TRIPLE, "train": False, "use_alt_eval": True},
     5),
    ("tiny_triple", {"keys": TRIPLE, "eval_holdout_size": 0.25,
                     "train": False}, 5),
    ("tiny_triple", {"keys": ["id", "n"],
                     "tfds_preprocess_fn": "count_and_keep_odd"}, 12),
    ("tiny_triple", {"keys": ["id", "n"], "train": False,
                     "tfds_preprocess_fn": "count_and_keep_odd"}, 3),
]

PAIRS = ["pairs_dataset", [[1, 2, 3, 4, 5, 6], [2, 5, 1, 3, 6, 4]]]
PAIRS_1 = ["pairs_dataset", [[2, 3, 1], [1, 2, 3]], {"target_trailing_1": True}]
DICTS = ["dicts_dataset", [[1, 2, 3, 4, 5, 6, 7], [3, 2, 1, 6, 5, 8, 9]]]
PREPROCESS_CASES = [
    ("lm1b_preprocess", PAIRS, [True], {"max_target_length": 4}),
    ("lm1b_preprocess", PAIRS, [False], {"max_target_length": 4,
                                         "max_eval_target_length": 2}),
    ("wmt_preprocess", PAIRS, [True], {"max_length": 4}),
    ("wmt_preprocess", PAIRS, [False], {"max_length": 4,
                                        "max_eval_length": 5}),
    ("wmt_concat_preprocess", PAIRS, [True], {"max_length": 5}),
    ("concat_preprocess", PAIRS, [True], {}),
    ("concat_preprocess", PAIRS, [False], {"pad_symbol": 7}),
    ("squeeze_targets_preprocess", PAIRS_1, [True], {}),
    ("squeeze_targets_preprocess", PAIRS, [True], {}),
    ("lm_token_preprocessing", DICTS, [True], {}),
    ("filter_dataset_on_len", DICTS, [True],
     {"len_map": {"inputs": [2, 6], "targets": [3, 8]}}),
    ("filter_dataset_on_len", DICTS, [False],
     {"len_map": {"inputs": [2, 6]}}),
    ("filter_dataset_on_len", DICTS, [False],
     {"len_map": {"inputs": [2, 6]}, "filter_on_eval": True}),
    ("truncate_dataset_on_len", DICTS, [True],
     {"len_map": {"inputs": 3, "targets": 5}}),
    ("truncate_dataset_on_len", DICTS, [False],
     {"len_map": {"inputs": 3}}),
    ("truncate_dataset_on_len", DICTS, [False],
     {"len_map": {"inputs": 3}, "truncate_on_eval": True}),
    ("pad_dataset_to_length", DICTS, [True],
     {"len_map": {"inputs": 5, "targets": 7}}),
    ("add_eos_to_output_features", DICTS, [True], {}),
    ("add_eos_to_output_features", DICTS, [False],
     {"output_features": ["inputs", "targets"], "eos": 9}),
    ("cifar10_no_augmentation_preprocess", ["images_dataset", [3]], [True],
     {}),
    ("cifar10_augmentation_preprocess", ["images_dataset", [3]], [False],
     {}),
    ("cifar10_augmentation_flatten_preprocess", ["images_dataset", [3]],
     [False], {}),
    ("downsampled_imagenet_flatten_bare_preprocess",
     ["images_dataset", [3, [2, 3, 3]], {"with_targets": False}], [True], {}),
    ("c4_preprocess", ["texts_dataset", [["abc", "h\u00e9llo w\u00f6rld",
                                          "x" * 9]]], [True], {}),
    ("c4_preprocess", ["texts_dataset", [["abc", "h\u00e9llo w\u00f6rld",
                                          "x" * 9]]], [True],
     {"max_target_length": 8}),
]


def build_dataset(spec):
    fn_name, args = spec[0], spec[1]
    kwargs = spec[2] if len(spec) > 2 else {}
    return getattr(tiny_tfds, fn_name)(*args, **kwargs)


def tfds_kwargs(kwargs):
    kw = dict(kwargs)
    if "tfds_preprocess_fn" in kw:
        kw["tfds_preprocess_fn"] = getattr(tiny_tfds, kw["tfds_preprocess_fn"])
    return kw


def run_tfds(data_dir):
    out = []
    for name, kwargs, n in TFDS_CASES:
        case = {"name": name, "kwargs": kwargs, "n": n}
        try:
            gen = tf_inputs.TFDS(name, data_dir=data_dir,
                                 **tfds_kwargs(kwargs))()
            case["items"] = [tiny_tfds.encode(next(gen)) for _ in range(n)]
        except Exception as e:  # pylint: disable=broad-except
            case["error"] = type(e).__name__
        out.append(case)
    return out


def run_preprocess():
    out = []
    for fn, spec, args, kwargs in PREPROCESS_CASES:
        ds = getattr(tf_inputs, fn)(build_dataset(spec), *args, **kwargs)
        out.append({"fn": fn, "dataset": spec, "args": args,
                    "kwargs": kwargs,
                    "items": [tiny_tfds.encode(x)
                              for x in ds.as_numpy_iterator()]})
    return out


def bert_rows():
    seqs = tiny_tfds.int_sequences([3, 2, 4, 1], start=200)
    return seqs


def run_streams():
    seqs = bert_rows()
    labels = [np.int64(1), np.int64(0)]
    out = {}
    single = tf_inputs.CreateBertInputs(double_sentence=False)
    out["bert_single"] = [tiny_tfds.encode(x) for x in single(
            zip(seqs[:2], labels))]
    out["bert_single_unlabeled"] = [tiny_tfds.encode(x) for x in
                                    tf_inputs.CreateBertInputs(
                                        False, labeled=False, cls_id=5,
                                        sep_id=6)(
                                        [(s,) for s in seqs[:3]])]
    out["bert_double"] = [tiny_tfds.encode(x) for x in
                          tf_inputs.CreateBertInputs()(
                              zip(seqs[:2], seqs[2:], labels))]
    out["bert_double_unlabeled"] = [tiny_tfds.encode(x) for x in
                                    tf_inputs.CreateBertInputs(
                                        True, labeled=False)(
                                        zip(seqs[:2], seqs[2:]))]
    rows = []
    rng = np.random.RandomState(11)
    for n in (12, 30, 3, 41):
        row = rng.randint(1000, 2000, size=n)
        row[0], row[-1] = 101, 102
        row[n // 2] = 0
        rows.append((row, np.int64(n)))
    np.random.seed(7)
    out["mask_random_tokens"] = [tiny_tfds.encode(x) for x in
                                 tf_inputs.mask_random_tokens(
                                     [(r.copy(), k) for r, k in rows])]
    np.random.seed(8)
    out["mask_random_tokens_small_vocab"] = [
            tiny_tfds.encode(x) for x in tf_inputs.mask_random_tokens(
                    [(r.copy(),) for r, _ in rows], explicit_vocab_size=1010,
                    masking_prob=0.4, vocab_start_id=1000)]
    unicode_rows = [(b"Audentes fortuna", b"\x81ab\xc3\xa9", 3),
                    (b"x", b"y", 4)]
    out["convert_to_unicode_0"] = [tiny_tfds.encode(x) for x in
                                   tf_inputs.ConvertToUnicode(keys=[0])(
                                       iter(unicode_rows))]
    out["convert_to_unicode_dict"] = [tiny_tfds.encode(x) for x in
                                      tf_inputs.ConvertToUnicode(
                                          keys=["a"])(
                                          iter([{"a": b"\xff\xfeok",
                                                 "b": b"b"}]))]
    out["convert_to_unicode_all"] = [tiny_tfds.encode(x) for x in
                                     tf_inputs.ConvertToUnicode()(
                                         iter([b"caf\xc3\xa9\x80"]))]
    return out


def run_data_streams(data_dir):
    out = []
    for kwargs, seed in (({}, 0), ({"input_name": "targets",
                                    "target_name": "inputs"}, 3),
                         ({"eval_holdout_size": 0.25}, 5)):
        random.seed(seed)
        train, evals = tf_inputs.data_streams(
                "tiny_triple", data_dir=data_dir, shuffle_buffer_size=1,
                **kwargs)
        tr, ev = train(), evals()
        out.append({"kwargs": kwargs, "seed": seed,
                    "train": [tiny_tfds.encode(next(tr)) for _ in range(6)],
                    "eval": [tiny_tfds.encode(next(ev)) for _ in range(6)]})
    return out


def main():
    out_dir = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else
                           HERE / "trax_oracle" / "data_tfds")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as data_dir:
        tiny_tfds.prepare(data_dir, (tiny_tfds.TinyText,
                                     tiny_tfds.TinyTriple))
        result = {
            "env": oc.env("tests/testdata/generate_data_tfds.py",
                          with_tensorflow=True),
            "tfds": run_tfds(data_dir),
            "preprocess": run_preprocess(),
            "streams": run_streams(),
            "data_streams": run_data_streams(data_dir),
        }
    path = out_dir / "tfds.json.gz"
    text = json.dumps(result, indent=None, sort_keys=True) + "\n"
    # No name or mtime in the gzip header: reruns give the same bytes.
    path.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
    print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
