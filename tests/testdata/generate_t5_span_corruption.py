"""Records what T5's span-corruption preprocessors give (the real ``t5``
package, as ``c4.gin`` binds them), and what real Trax's
``c4_bare_preprocess_fn`` gives with them.

Run with a Python that has real Google Trax **and T5** (``t5==0.9.4`` with
``seqio==0.0.19``), from the repository root:

    python tests/testdata/generate_t5_span_corruption.py [OUT_DIR]

OUT_DIR defaults to ``tests/testdata/trax_oracle/t5_span_corruption``; it
gets ``t5_span_corruption.json`` with, per function, each case's arguments
and result (token lists, masks as 0/1 lists):

* deterministic: ``random_spans_helper``; the sentinel functions on given
  tokens and masks; ``split_tokens`` with fixed lengths;
  ``reduce_concat_tokens``;
* seeded: ``random_spans_noise_mask`` with given stateless seeds;
  ``select_random_chunk``, ``split_tokens`` with random lengths and
  ``denoise`` built under ``seqio.map_seed_manager(seed)`` (seqio then
  draws every example's seed from ``tf.data`` random streams with op seeds
  ``seed, seed + 1, ...``, two per preprocessor, in the order built);
* ``c4``: Trax's ``c4_bare_preprocess_fn`` on three documents with Trax's
  test SentencePiece model and ``c4.gin``'s bindings (``max_length`` and the
  sequence lengths made small), under ``map_seed_manager``.
"""

import functools
import gzip
import json
import pathlib
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import oracle_common  # noqa: E402  pylint: disable=wrong-import-position
from t5_span_corruption_cases import C4_GIN  # noqa: E402  pylint: disable=wrong-import-position

# Token lists: odd lengths, one shorter than every chunk, one empty.
DOCS = [[5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610],
        [2, 3],
        [],
        list(range(10, 47)),
        [7, 1, 9, 4, 6, 2, 8, 3, 5]]
VOCAB_SIZE = 1000
PARAMS = [(0.15, 3.0), (0.5, 3.0), (0.15, 1.5), (0.5, 1.5)]
TEXTS = ["The quick brown fox jumps over the lazy dog, twice in one day.",
         "I have a cat.",
         "Span corruption replaces random spans of tokens with sentinels, "
         "and the targets hold the spans that were dropped from the inputs."]
C4_CASES = [dict(max_length=7, density=0.15, mean=3.0, seqlen=12, seed=3),
            dict(max_length=16, density=0.5, mean=1.5, seqlen=20, seed=11),
            dict(max_length=512, density=0.15, mean=3.0, seqlen=64, seed=5)]


class Vocab:
    """Just what the sentinel functions read."""
    vocab_size = VOCAB_SIZE


def _list(x):
    import numpy as np  # pylint: disable=import-outside-toplevel
    x = np.asarray(x)
    if x.dtype.kind in "SO":
        return x.item().decode("utf-8")
    return x.astype(int).tolist()


def _dataset(docs, key="targets", extra=None):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    def gen():
        for i, d in enumerate(docs):
            ex = {key: d}
            if extra:
                ex["ids"] = [100 + t for t in d]
                ex["doc"] = i
            yield ex
    sig = {key: tf.TensorSpec([None], tf.int64)}
    if extra:
        sig["ids"] = tf.TensorSpec([None], tf.int64)
        sig["doc"] = tf.TensorSpec([], tf.int64)
    return tf.data.Dataset.from_generator(gen, output_signature=sig)


def _rows(ds):
    return [{k: _list(v) for k, v in sorted(e.items())}
            for e in ds.as_numpy_iterator()]


def helper_cases(p):
    out = []
    for inputs_length in (7, 20, 114, 512):
        for density, mean in PARAMS:
            args = dict(inputs_length=inputs_length, noise_density=density,
                        mean_noise_span_length=mean,
                        extra_tokens_per_span_inputs=1,
                        extra_tokens_per_span_targets=1)
            out.append({"args": args,
                        "result": list(p.random_spans_helper(**args))})
    return out


MASKS = [([4, 5, 6, 7, 8, 9, 10], [0, 1, 1, 0, 0, 1, 0]),
         ([4, 5, 6, 7, 8], [1, 1, 0, 1, 1]),
         ([4, 5, 6], [0, 0, 0]),
         ([4, 5, 6], [1, 1, 1]),
         ([9], [1]),
         ([3, 1, 4, 1, 5, 9, 2, 6, 5], [1, 0, 1, 0, 1, 0, 1, 0, 1])]
SENTINEL_FNS = ["noise_span_to_unique_sentinel",
                "nonnoise_span_to_unique_sentinel", "noise_span_to_sentinel",
                "nonnoise_span_to_sentinel", "noise_token_to_sentinel",
                "drop_noise_tokens", "drop_nonnoise_tokens"]


def sentinel_cases(p):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    out = []
    for name in SENTINEL_FNS:
        for tokens, mask in MASKS:
            result = getattr(p, name)(
                tf.constant(tokens, tf.int64), tf.cast(tf.constant(mask), tf.bool),
                Vocab(), seeds=None)
            out.append({"fn": name, "tokens": tokens, "mask": mask,
                        "result": _list(result)})
    return out


def mask_cases(p):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    out = []
    seeds = [[[1, 2], [3, 4]], [[77, -5], [0, 123456]]]
    for length in (1, 2, 7, 13, 64):
        for density, mean in PARAMS:
            for roll in (False, True):
                for seed in seeds:
                    mask = p.random_spans_noise_mask(
                        tf.constant(length, tf.int32), density,
                        seeds=tf.constant(seed, tf.int32),
                        mean_noise_span_length=mean, random_roll=roll)
                    out.append({"length": length, "noise_density": density,
                                "mean_noise_span_length": mean,
                                "random_roll": roll, "seeds": seed,
                                "result": _list(mask)})
    return out


def split_cases(p, seqio):
    out = []
    for args in [dict(max_tokens_per_segment=3),
                 dict(max_tokens_per_segment=7),
                 dict(max_tokens_per_segment=512),
                 dict(max_tokens_per_segment=4,
                      additional_feature_keys=["ids"],
                      passthrough_feature_keys=["doc"]),
                 dict(min_tokens_per_segment=2, max_tokens_per_segment=9)]:
        extra = "additional_feature_keys" in args
        for seed in (4, 17):
            with seqio.map_seed_manager(seed):
                ds = p.split_tokens(_dataset(DOCS, extra=extra), **args)
            out.append({"args": args, "seed": seed, "extra": extra,
                        "result": _rows(ds)})
    return out


def concat_cases(p):
    return [{"batch_size": b,
             "result": _rows(p.reduce_concat_tokens(_dataset(DOCS),
                                                    batch_size=b))}
            for b in (2, 3, 128)]


def chunk_cases(p, seqio):
    out = []
    for args in [dict(max_length=7), dict(max_length=512),
                 dict(max_length=4, uniform_random_start=True),
                 dict(max_length=8, min_length=2),
                 dict(max_length=5, additional_feature_keys=["ids"],
                      passthrough_feature_keys=["doc"])]:
        extra = "additional_feature_keys" in args
        for seed in (0, 9):
            with seqio.map_seed_manager(seed):
                ds = p.select_random_chunk(_dataset(DOCS, extra=extra),
                                           output_features={}, **args)
            out.append({"args": args, "seed": seed, "extra": extra,
                        "result": _rows(ds)})
    return out


def denoise_cases(p, seqio):
    import seqio as _seqio  # pylint: disable=import-outside-toplevel
    out = []
    vocab = _seqio.PassThroughVocabulary(VOCAB_SIZE)
    features = {"inputs": _seqio.Feature(vocab),
                "targets": _seqio.Feature(vocab)}
    docs = [d for d in DOCS if d] + [[42]]
    for density, mean in PARAMS:
        for seed in (1, 8):
            mask_fn = functools.partial(p.random_spans_noise_mask,
                                        mean_noise_span_length=mean)
            with seqio.map_seed_manager(seed):
                ds = p.denoise(
                    _dataset(docs), features, noise_density=density,
                    noise_mask_fn=mask_fn,
                    inputs_fn=p.noise_span_to_unique_sentinel,
                    targets_fn=p.nonnoise_span_to_unique_sentinel)
            out.append({"noise_density": density,
                        "mean_noise_span_length": mean, "seed": seed,
                        "docs": docs, "result": _rows(ds)})
    return out


def c4_cases(spm_path, seqio):
    import gin  # pylint: disable=import-outside-toplevel
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    from trax.data import tf_inputs  # pylint: disable=import-outside-toplevel
    out = []
    for case in C4_CASES:
        gin.clear_config()
        gin.parse_config(C4_GIN % case)
        ds = tf.data.Dataset.from_tensor_slices({"text": TEXTS})
        length = {"inputs": case["seqlen"], "targets": case["seqlen"]}
        with seqio.map_seed_manager(case["seed"]):
            ds = tf_inputs.c4_bare_preprocess_fn(
                ds, training=True, spm_path=spm_path, sequence_length=length)
        out.append({**case, "texts": TEXTS, "result": _rows(ds)})
    gin.clear_config()
    return out


def _section(fn, *args):
    """The section's cases, or the error that stopped it (recorded, so the
    other sections still come out)."""
    try:
        return fn(*args)
    except Exception as e:  # pylint: disable=broad-except
        import traceback  # pylint: disable=import-outside-toplevel
        traceback.print_exc()
        return {"error": "%s: %s" % (type(e).__name__, e)}


def main(argv):
    out_dir = pathlib.Path(argv[1] if len(argv) > 1 else
                           HERE / "trax_oracle" / "t5_span_corruption")
    import seqio  # pylint: disable=import-outside-toplevel
    import t5  # pylint: disable=import-outside-toplevel
    from t5.data import preprocessors as p  # pylint: disable=import-outside-toplevel
    with tempfile.TemporaryDirectory() as tmp:
        spm_path = str(pathlib.Path(tmp) / "sentencepiece.model")
        with gzip.open(HERE / "vocab" / "sentencepiece.model.gz") as f:
            pathlib.Path(spm_path).write_bytes(f.read())
        data = {
            "env": oracle_common.env(
                "tests/testdata/generate_t5_span_corruption.py",
                with_tensorflow=True, t5=t5.__version__,
                seqio=seqio.__version__, spm_model="sentencepiece.model"),
            "vocab_size": VOCAB_SIZE,
            "docs": DOCS,
            "random_spans_helper": _section(helper_cases, p),
            "sentinels": _section(sentinel_cases, p),
            "random_spans_noise_mask": _section(mask_cases, p),
            "split_tokens": _section(split_cases, p, seqio),
            "reduce_concat_tokens": _section(concat_cases, p),
            "select_random_chunk": _section(chunk_cases, p, seqio),
            "denoise": _section(denoise_cases, p, seqio),
            "c4": _section(c4_cases, spm_path, seqio),
        }
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "t5_span_corruption.json", "w",
              encoding="utf-8") as f:
        json.dump(data, f, sort_keys=True, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv)
