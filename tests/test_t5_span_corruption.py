"""T5's span-corruption preprocessors without the ``t5`` package
(``trax_compat.data.t5_span_corruption``), against what real T5 0.9.4 gave
(``tests/testdata/generate_t5_span_corruption.py``): the deterministic
functions equal, the random ones equal under the same seeds (seqio's
``map_seed_manager`` there, ours here), and Trax's ``c4_bare_preprocess_fn``
with ``c4.gin``'s bindings equal to real Trax's, its inputs and targets
rebuilding the text."""

import functools
import json
import sys

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
gin = pytest.importorskip("gin")

from conftest import ORACLE  # noqa: E402

from tests.testdata import t5_span_corruption_cases as cases  # noqa: E402
from trax_compat.data import t5_fallback  # noqa: E402
from trax_compat.data import t5_span_corruption as p  # noqa: E402
from trax_compat.data import tf_inputs  # noqa: E402

with open(ORACLE / "t5_span_corruption" / "t5_span_corruption.json",
          encoding="utf-8") as _f:
    T5 = json.load(_f)


class Vocab:
    vocab_size = T5["vocab_size"]


class Feature:
    vocabulary = Vocab()
    add_eos = True


@pytest.fixture(autouse=True)
def _without_t5(monkeypatch):
    # As on a machine without the t5 package, even where it is installed.
    monkeypatch.setitem(sys.modules, "t5", None)


def _dataset(docs, extra=False):
    def examples():
        for i, doc in enumerate(docs):
            example = {"targets": doc}
            if extra:
                example.update(ids=[100 + t for t in doc], doc=i)
            yield example
    signature = {"targets": tf.TensorSpec([None], tf.int64)}
    if extra:
        signature.update(ids=tf.TensorSpec([None], tf.int64),
                         doc=tf.TensorSpec([], tf.int64))
    return tf.data.Dataset.from_generator(examples,
                                          output_signature=signature)


def _rows(dataset):
    out = []
    for example in dataset.as_numpy_iterator():
        row = {}
        for key, value in sorted(example.items()):
            value = np.asarray(value)
            row[key] = (value.item().decode("utf-8") if value.dtype.kind
                        in "SO" else value.astype(int).tolist())
        out.append(row)
    return out


def _section(name, first_seed_only=False):
    """The oracle's cases of ``name``; ``first_seed_only``: of each
    argument set, the case with its first seed (each case builds and traces
    a pipeline: the others add time, not coverage of other code)."""
    section = T5[name]
    assert "error" not in section, section
    if first_seed_only:
        seeds = sorted({c["seed"] for c in section})
        section = [c for c in section if c["seed"] == seeds[0]]
    return section


def test_random_spans_helper_gives_t5s_lengths():
    for case in _section("random_spans_helper"):
        assert list(p.random_spans_helper(**case["args"])) == case["result"]
    # c4.gin's own numbers: 568 raw tokens give 512 inputs, 114 targets.
    assert p.random_spans_helper(512, 0.15, 3.0, 1, 1) == (568, 114)


def test_sentinel_functions_give_t5s_tokens():
    for case in _section("sentinels"):
        out = getattr(p, case["fn"])(
            tf.constant(case["tokens"], tf.int64),
            tf.constant(case["mask"]) > 0, Vocab(), seeds=None)
        assert out.numpy().tolist() == case["result"], case


def test_random_spans_noise_mask_gives_t5s_mask_for_the_same_seeds():
    for case in _section("random_spans_noise_mask"):
        mask = p.random_spans_noise_mask(
            tf.constant(case["length"], tf.int32), case["noise_density"],
            seeds=tf.constant(case["seeds"], tf.int32),
            mean_noise_span_length=case["mean_noise_span_length"],
            random_roll=case["random_roll"])
        assert mask.numpy().astype(int).tolist() == case["result"], case


def test_split_tokens_gives_t5s_segments():
    for case in _section("split_tokens", first_seed_only=True):
        with p.map_seed_manager(case["seed"]):
            out = p.split_tokens(_dataset(T5["docs"], case["extra"]),
                                 **case["args"])
        assert _rows(out) == case["result"], case


def test_reduce_concat_tokens_gives_t5s_sequences():
    for case in _section("reduce_concat_tokens"):
        out = p.reduce_concat_tokens(_dataset(T5["docs"]),
                                     batch_size=case["batch_size"])
        assert _rows(out) == case["result"]


def test_select_random_chunk_gives_t5s_chunks_for_the_same_seeds():
    for case in _section("select_random_chunk", first_seed_only=True):
        with p.map_seed_manager(case["seed"]):
            out = p.select_random_chunk(_dataset(T5["docs"], case["extra"]),
                                        output_features={}, **case["args"])
        assert _rows(out) == case["result"], case


def test_denoise_gives_t5s_inputs_and_targets_for_the_same_seeds():
    features = {"inputs": Feature(), "targets": Feature()}
    for case in _section("denoise", first_seed_only=True):
        mask_fn = functools.partial(
            p.random_spans_noise_mask,
            mean_noise_span_length=case["mean_noise_span_length"])
        with p.map_seed_manager(case["seed"]):
            out = p.denoise(
                _dataset(case["docs"]), features,
                noise_density=case["noise_density"], noise_mask_fn=mask_fn,
                inputs_fn=p.noise_span_to_unique_sentinel,
                targets_fn=p.nonnoise_span_to_unique_sentinel)
        rows = _rows(out)
        assert rows == case["result"], case
        for doc, row in zip(case["docs"], rows):
            assert _rebuild(row["inputs"], row["targets"],
                            Vocab.vocab_size) == doc


def _rebuild(inputs, targets, vocab_size):
    """The tokens that ``inputs`` and ``targets`` were cut from: each
    sentinel in one stands for the run that follows it in the other."""
    def runs(tokens):
        out, current = {}, None
        for t in tokens:
            if t >= vocab_size - 100:  # a sentinel: far above the texts' ids
                current = out.setdefault(t, [])
            elif current is not None:
                current.append(t)
        return out
    noise = runs(targets)
    text = []
    for t in inputs:
        text.extend(noise[t] if t in noise else [t])
    return text


@pytest.fixture()
def c4_gin():
    saved = list(sys.meta_path)
    t5_fallback.install_import_alias()
    yield
    gin.clear_config()
    sys.meta_path[:] = saved
    for name, module in t5_fallback.MODULES.items():
        if sys.modules.get(name) is module:
            del sys.modules[name]


def test_c4_bare_preprocess_fn_with_c4_gin_gives_real_traxs_examples(
        c4_gin, vocab_dir, monkeypatch):
    del c4_gin
    monkeypatch.delitem(sys.modules, "t5")  # the stand-in answers imports
    spm = str(vocab_dir / "sentencepiece.model")
    vocab = t5_fallback.SentencePieceVocabulary(spm)
    pieces = [vocab.encode(text) for text in T5["c4"][0]["texts"]]
    for case in _section("c4"):
        gin.clear_config()
        gin.parse_config(cases.C4_GIN % case)
        dataset = tf.data.Dataset.from_tensor_slices({"text": case["texts"]})
        length = {"inputs": case["seqlen"], "targets": case["seqlen"]}
        with p.map_seed_manager(case["seed"]):
            out = tf_inputs.c4_bare_preprocess_fn(
                dataset, training=True, spm_path=spm, sequence_length=length)
        rows = _rows(out)
        assert rows == case["result"], case
        tokens_length = p.random_spans_helper(
            case["max_length"], case["density"], case["mean"], 1, 1)[0]
        for row in rows:
            # Trax appends EOS (1) to the targets only; then padding (0).
            inputs = _unpad(row["inputs"])
            targets = _unpad(row["targets"])
            assert targets[-1] == 1
            targets = targets[:-1]
            text = _rebuild(inputs, targets, vocab.vocab_size)
            assert 0 < len(text) <= min(tokens_length, case["max_length"])
            # T5's mask has a noise span in any segment of 2 tokens or more
            # (one token alone stays in the inputs, a sentinel as target).
            assert any(t >= vocab.vocab_size - 100 for t in inputs) == (
                len(text) > 1)
            assert any(_contains(doc, text) for doc in pieces), (text, case)


def _unpad(ids):
    ids = list(ids)
    while ids and ids[-1] == 0:
        ids.pop()
    return ids


def _contains(doc, part):
    return any(doc[i:i + len(part)] == part
               for i in range(len(doc) - len(part) + 1))


def test_gin_registration_uses_t5s_names(c4_gin):
    del c4_gin
    gin.clear_config()
    gin.parse_config("random_spans_helper.inputs_length = 20\n"
                     "random_spans_helper.noise_density = 0.5\n"
                     "random_spans_helper.mean_noise_span_length = 1.5\n"
                     "random_spans_helper.extra_tokens_per_span_inputs = 1\n"
                     "random_spans_helper.extra_tokens_per_span_targets = 1")
    assert p.random_spans_tokens_length() == p.random_spans_helper(
        20, 0.5, 1.5, 1, 1)[0]
    assert gin.query_parameter(
        "t5.data.preprocessors.random_spans_helper.noise_density") == 0.5
    # Trax reaches them through the stand-in's namespace: gin's wrappers.
    assert (t5_fallback.preprocessors.unsupervised
            is p.functions()["unsupervised"])


@pytest.mark.parametrize("call, message", [
    (lambda: p.denoise(None, {"targets": Feature()}, noise_density=1.5,
                       noise_mask_fn=p.random_spans_noise_mask,
                       inputs_fn=p.noise_span_to_unique_sentinel),
     r"noise_density is the fraction of tokens to corrupt, between 0 and 1"
     r".*got 1\.5"),
    (lambda: p.random_spans_helper(512, -0.1, 3.0, 1, 1),
     r"noise_density .*between 0 and 1"),
    (lambda: p.random_spans_helper(512, 0.15, 0, 1, 1),
     r"mean_noise_span_length must be a positive number"),
    (lambda: p.random_spans_helper(inputs_length=512),
     r"random_spans_helper needs noise_density, mean_noise_span_length"),
    (lambda: p.split_tokens(None),
     r"split_tokens needs max_tokens_per_segment"),
    (lambda: p.select_random_chunk(None, {}),
     r"select_random_chunk needs max_length or sequence_length"),
    (lambda: p.denoise(None, {"targets": Feature()}, noise_density=0.15),
     r"denoise needs noise_mask_fn"),
])
def test_bad_arguments_get_one_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_nothing_is_registered_where_the_real_t5_is_installed(monkeypatch):
    # Then T5's own modules and gin registrations answer the configs.
    monkeypatch.setattr(t5_fallback, "t5_installed", lambda: True)

    def register(unused_gin):
        raise AssertionError("registered although t5 is installed")
    monkeypatch.setattr(p, "register_with_gin", register)
    saved = list(sys.meta_path)
    try:
        t5_fallback.install_import_alias()
    finally:
        sys.meta_path[:] = saved
