"""Records real Trax's data pipelines over the development corpus.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_pipeline.py OUT [--corpus-dir D] [--vocab-dir D]

It writes ``OUT/trax_oracle/pipeline_dev.json`` (``make_testdata.py`` gzips
it; README.md describes the fields): the tutorial pipeline and the
``Shuffle(queue_size=16)`` + ``BucketByLength([8, 16], [4, 2, 1])``
variants over all 6000 lines of ``dev_tweets.txt`` (a finite iterator,
``np.random.seed(0)`` right before each pipeline is built: Trax's
``Shuffle`` draws from NumPy's global generator), the token-length
histogram, and direct ``pad_to_max_dims`` calls (their 2-d inputs are
``RandomState(123).randint(1, 9, shape)``, drawn in case order).
"""

import argparse
import collections
import sys
import warnings

import numpy as np

import trax
from trax.data import inputs as trax_inputs

import oracle_common as oc  # this folder

LIMIT = 40
TOKENIZE = "Tokenize(vocab_file='en_8k.subword', keys=[0])"
FILTER = "FilterByLength(max_length=30, length_keys=[0])"
LABEL_TO_1D = "<(x, y) -> (x, np.array([y]))>"
STRICT_ERROR_PLACE = ("next() on the pipeline stream "
                      "(bucket_by_length -> pad_to_max_dims)")
NOTE_NONSTRICT = (
    "Extra variant (not requested): identical to variant_b_queue16_strict "
    "except strict_pad_on_len=False, because the strict variant raises on "
    "its first batch.")
NOTE_1D = (
    "Extra variant (not requested): variant_b_queue16_strict with a "
    "hand-written stream step inserted before BucketByLength that turns each "
    "scalar label y into np.array([y]) (shape (1,), int64), so strict "
    "padding can run; labels in the batches therefore have shape (batch, 1).")

I64, I32, F32, F64 = np.int64, np.int32, np.float32, np.float64
R = "random"  # a 2-d input drawn from RandomState(123)
# (name, [(dtype, shape or values)], kwargs)
PAD_CASES = [
    ("1d_int64_no_boundary", [(I64, [1, 2, 3]), (I64, [4, 5, 6, 7, 8])], {}),
    ("1d_int64_boundary8", [(I64, [1, 2, 3]), (I64, [4, 5, 6, 7, 8])],
     {"boundary": 8}),
    ("1d_int64_boundary30_pow2_rule", [(I64, [1, 2]), (I64, [3, 4, 5])],
     {"boundary": 30}),
    ("1d_int64_boundary10_2xmax_equals_boundary",
     [(I64, [1, 2]), (I64, [3, 4, 5, 6, 7])], {"boundary": 10}),
    ("1d_int64_boundary4_below_max",
     [(I64, [1, 2, 3]), (I64, [4, 5, 6, 7, 8])], {"boundary": 4}),
    ("1d_int64_boundary4_strict", [(I64, [1, 2, 3]), (I64, [4, 5, 6, 7, 8])],
     {"boundary": 4, "strict_pad_on_len": True}),
    ("1d_int64_boundary8_strict_exact_multiple",
     [(I64, [1, 2, 3, 4, 5, 6, 7, 8]), (I64, [1, 2])],
     {"boundary": 8, "strict_pad_on_len": True}),
    ("1d_int32_all_equal_to_boundary_no_pad",
     [(I32, [0, 1, 2, 3, 4]), (I32, [5, 6, 7, 8, 9])], {"boundary": 5}),
    ("1d_int32_all_equal_len_no_boundary", [(I32, [0, 1, 2]), (I32, [3, 4, 5])],
     {}),
    ("1d_float32_boundary5", [(F32, [0.5, 1.5]), (F32, [2.5, 3.5, 4.5])],
     {"boundary": 5}),
    ("0d_int64_scalars_labels_boundary5", [(I64, 1), (I64, 0), (I64, 1)],
     {"boundary": 5}),
    ("0d_int64_scalars_labels_boundary8_strict", [(I64, 1), (I64, 0)],
     {"boundary": 8, "strict_pad_on_len": True}),
    ("2d_float32_docstring_2x10_3x9_no_boundary",
     [(F32, (R, 2, 10)), (F32, (R, 3, 9))], {}),
    ("2d_float32_docstring_8x10_8x9_boundary12",
     [(F32, (R, 8, 10)), (F32, (R, 8, 9))], {"boundary": 12}),
    ("2d_int32_2x10_3x9_boundary12", [(I32, (R, 2, 10)), (I32, (R, 3, 9))],
     {"boundary": 12}),
    ("2d_int32_2x3_3x5_boundary4_strict", [(I32, (R, 2, 3)), (I32, (R, 3, 5))],
     {"boundary": 4, "strict_pad_on_len": True}),
    ("2d_float32_boundary_list_4_None", [(F32, (R, 2, 3)), (F32, (R, 3, 5))],
     {"boundary": [4, None]}),
    ("2d_float32_boundary_list_0_3", [(F32, (R, 2, 3)), (F32, (R, 3, 5))],
     {"boundary": [0, 3]}),
    ("1d_mixed_int64_and_empty_float64_boundary5", [(I64, [1, 2, 3]), (F64, [])],
     {"boundary": 5}),
    ("1d_single_empty_float64_no_boundary", [(F64, [])], {}),
    ("1d_single_empty_float64_boundary5_ERROR", [(F64, [])], {"boundary": 5}),
    ("2d_boundary_list_wrong_len_ERROR", [(F32, (R, 2, 3))], {"boundary": [4]}),
]


def label_to_1d(stream):
    for x, y in stream:
        yield x, np.array([y])


def bucket_text(boundaries, batch_sizes, strict):
    text = (f"BucketByLength(boundaries={boundaries}, "
            f"batch_sizes={batch_sizes}, length_keys=[0]")
    return text + (f", strict_pad_on_len={strict})" if strict is not None
                   else ")")


def run_variant(rows, vocab_dir, queue_size, boundaries, batch_sizes, strict,
                one_d_labels, limit):
    shuffle = (f"Shuffle(queue_size={queue_size})" if queue_size else
               "Shuffle()")
    steps_text = [TOKENIZE, shuffle, FILTER]
    if one_d_labels:
        steps_text.append(LABEL_TO_1D)
    steps_text += [bucket_text(boundaries, batch_sizes, strict),
                   "AddLossWeights()"]
    np.random.seed(0)
    steps = [trax.data.Tokenize(vocab_file=oc.VOCAB_FILE, keys=[0],
                                vocab_dir=vocab_dir),
             (trax.data.Shuffle(queue_size) if queue_size
              else trax.data.Shuffle()),
             trax.data.FilterByLength(max_length=30, length_keys=[0])]
    if one_d_labels:
        steps.append(label_to_1d)
    bucket_kw = {} if strict is None else {"strict_pad_on_len": strict}
    steps += [trax.data.BucketByLength(boundaries=boundaries,
                                       batch_sizes=batch_sizes,
                                       length_keys=[0], **bucket_kw),
              trax.data.AddLossWeights()]
    stream = trax.data.Serial(*steps)(iter(rows))
    record = {"pipeline": "Serial(" + ", ".join(steps_text) + ")",
              "np_random_seed_before_build": 0,
              "all_batches": limit is None}
    if limit is not None:
        record["limit"] = limit
    batches, error = [], None
    try:
        while limit is None or len(batches) < limit:
            batches.append(next(stream))
    except StopIteration:
        pass
    except Exception as e:  # pylint: disable=broad-except
        error = {"error_type": type(e).__name__, "error_message": str(e),
                 "n_batches_before_error": len(batches),
                 "raised_in": STRICT_ERROR_PLACE}
    shape_counts = collections.Counter(
        str([list(a.shape) for a in b]) for b in batches)
    record.update({
        "error": error,
        "n_batches": len(batches),
        "n_examples_out": int(sum(len(b[0]) for b in batches)),
        "shape_counts": dict(shape_counts),
        "batches": [{"n_arrays": len(b),
                     "types": [type(a).__name__ for a in b],
                     "arrays": [oc.array(a) for a in b]} for b in batches],
    })
    return record


def pad_cases():
    rng = np.random.RandomState(123)
    cases = []
    for name, spec, kwargs in PAD_CASES:
        tensors = []
        for dtype, values in spec:
            if isinstance(values, tuple):
                tensors.append(rng.randint(1, 9, values[1:]).astype(dtype))
            elif isinstance(values, list):
                tensors.append(np.array(values, dtype=dtype))
            else:
                tensors.append(dtype(values))
        case = {"name": name, "inputs": [oc.array(t) for t in tensors],
                "input_types": [type(t).__name__ for t in tensors],
                "kwargs": kwargs}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                case["output"] = oc.array(
                    trax_inputs.pad_to_max_dims(tensors, **kwargs))
            except Exception as e:  # pylint: disable=broad-except
                case["error_type"] = type(e).__name__
                case["error_message"] = str(e)
        # Only beside an output: a call that fails keeps just its error.
        if caught and "output" in case:
            case["warnings"] = [f"{w.category.__name__}: {w.message}"
                                for w in caught]
        cases.append(case)
    return cases


def main(argv=None):
    args = oc.out_arg(argparse.ArgumentParser(
        description=__doc__.splitlines()[0])).parse_args(argv)
    vocab_dir = str(args.vocab_dir) + "/"
    rows = oc.read_tweets(args.corpus_dir / "dev_tweets.txt")
    lengths = np.array([len(ids) for ids in trax.data.tokenize(
        iter([t for t, _ in rows]), vocab_type="subword",
        vocab_file=oc.VOCAB_FILE, vocab_dir=vocab_dir)])
    variant_b = dict(queue_size=16, boundaries=[8, 16], batch_sizes=[4, 2, 1],
                     limit=LIMIT)
    data = {
        "description": "Real trax.data pipelines over dev_tweets.txt (finite "
                       "iterator, not cycled). See README.md.",
        "env": oc.env("generate_pipeline.py"),
        "input_file": "corpus/dev_tweets.txt",
        "n_input_examples": len(rows),
        "variant_a_tutorial": run_variant(
            rows, vocab_dir, None, [5, 10, 30], [1, 5, 10], None, False,
            None),
        "variant_b_queue16_strict": run_variant(
            rows, vocab_dir, strict=True, one_d_labels=False, **variant_b),
        "variant_b_nonstrict": {"note": NOTE_NONSTRICT, **run_variant(
            rows, vocab_dir, strict=False, one_d_labels=False, **variant_b)},
        "variant_b_strict_1d_labels": {"note": NOTE_1D, **run_variant(
            rows, vocab_dir, strict=True, one_d_labels=True, **variant_b)},
        "token_length_stats": {
            "n_le_5": int((lengths <= 5).sum()),
            "n_6_10": int(((lengths > 5) & (lengths <= 10)).sum()),
            "n_11_30": int(((lengths > 10) & (lengths <= 30)).sum()),
            "n_gt_30": int((lengths > 30).sum()),
            "min": int(lengths.min()), "max": int(lengths.max()),
            "mean": float(lengths.mean())},
        "pad_to_max_dims_cases": pad_cases(),
    }
    oc.write_json(args.out / "trax_oracle" / "pipeline_dev.json", data,
                  indent=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
