"""Trax's research BERT against real Trax (trax_oracle/models_bert, made by
tests/testdata/generate_models_bert.py): reprs, initial weights bit for bit
and eval outputs of tiny BERTs with each head, and the pre-training loss;
then ``PretrainedBERT`` reading a small TensorFlow checkpoint in Google's
BERT layout (by path, by model name from ``~/trax``, and downloaded), and
the gin names Trax's BERT configs use."""

import functools  # pylint: disable=unused-import  (constructor strings)
import os
import sys
import urllib.error
import urllib.request
import zipfile

import jax
import numpy as np
import pytest

import trax_compat as trax
from trax_compat import shapes
from trax_compat.fastmath import random as trax_random
from trax_compat.models.research import bert
from trax_compat.gin_registry import unwrapped

from conftest import load_oracle_json
from conftest import oracle_array
import test_models_reformer as reformer_checks

ORACLE = "models_bert/models_bert.json.gz"
TOL = reformer_checks.TOL
_value = reformer_checks._value  # pylint: disable=protected-access
_typed = reformer_checks._typed  # pylint: disable=protected-access
_assert_summaries = reformer_checks._assert_summaries  # pylint: disable=protected-access
# Every public name of Trax's trax/models/research/bert.py.
TRAX_NAMES = ("AddBias", "BERT", "BERTClassifierHead", "BERTMLMHead",
              "BERTPretrainingHead", "BERTPretrainingLoss",
              "BERTRegressionHead", "PretrainedBERT")
# Initial weights not bitwise Trax's, compared by value instead: (model,
# leaf index) -> why. The MLM head's 8 x 30522 kernel and its bias come out
# of jax.random.normal within float rounding of the oracle's (first values
# equal, sums 1e-8 apart); the oracle's jax is 0.4.34, and only these long
# arrays differ, likely in how its XLA vectorizes the sampling. Every other
# initial weight is bitwise Trax's.
ROUNDED_INIT = {("pretraining_1layer", 25): "MLM kernel",
                ("pretraining_1layer", 26): "MLM bias"}
# The model whose weights the checkpoint tests write and read back.
CKPT_MODEL = "regression_2layers"


@pytest.fixture(scope="module")
def oracle():
    return load_oracle_json(ORACLE)


def _names(section):
    return tuple(load_oracle_json(ORACLE)[section])


def _make(constructor, mode, **kwargs):
    """The recorded constructor in ``mode``; ``kwargs`` go to BERT."""
    extra = "".join(f", {k}={v!r}" for k, v in kwargs.items())
    return eval(constructor.replace("mode=MODE", f"mode={mode!r}{extra}"))  # pylint: disable=eval-used


def _assert_output(y, expected):
    if "tuple" in expected:
        assert isinstance(y, tuple) and len(y) == len(expected["tuple"])
        for a, b in zip(y, expected["tuple"]):
            _assert_output(a, b)
    elif "summary" in expected:
        _assert_summaries([y], [expected["summary"]], with_hash=False)
    else:
        np.testing.assert_allclose(y, oracle_array(expected), **TOL)


@pytest.fixture(scope="module")
def built(oracle):
    """name -> (eval model initialised with get_prng(0), its input, its
    compiled pure_fn)."""
    out = {}
    for name, rec in oracle["models"].items():
        model = _make(rec["constructor"], "eval")
        x = _value(rec["input"])
        model.init(shapes.signature(x), rng=trax_random.get_prng(0))
        out[name] = (model, x, jax.jit(model.pure_fn))
    return out


def test_bert_names_are_trax_names():
    for name in TRAX_NAMES:
        assert callable(getattr(bert, name)), name
    # trax.models exports the module and its names, as Trax's does.
    assert trax.models.bert is bert
    # Both are gin's wrappers (Trax decorates the heads in bert.py and wraps
    # them again in trax.models) around the same function.
    for name in ("BERT", "BERTClassifierHead", "BERTRegressionHead"):
        assert unwrapped(getattr(trax.models, name)) is unwrapped(
            getattr(bert, name))


@pytest.mark.parametrize("name", _names("models"))
def test_bert_matches_trax(oracle, built, name):
    rec = oracle["models"][name]
    for mode in ("eval", "train"):
        assert str(_make(rec["constructor"], mode)) == rec["repr"][mode]
    model, x, run = built[name]
    assert (model.n_in, model.n_out) == (rec["n_in"], rec["n_out"])
    assert _typed(model.weights) == rec["weights_typed"]
    assert _typed(model.state) == rec["state_typed"]
    leaves = jax.tree_util.tree_leaves(model.weights)
    assert len(leaves) == len(rec["weights"])
    for i, (leaf, summary) in enumerate(zip(leaves, rec["weights"])):
        _assert_summaries([leaf], [summary],
                          with_hash=(name, i) not in ROUNDED_INIT)
    y, _ = run(x, model.weights, model.state, trax_random.get_prng(0))
    _assert_output(y, rec["eval_output"])


@pytest.mark.parametrize("name", _names("losses"))
def test_pretraining_loss_matches_trax(oracle, name):
    rec = oracle["losses"][name]
    loss = bert.BERTPretrainingLoss()
    assert str(loss) == rec["repr"]
    x = _value(rec["input"])
    loss.init(shapes.signature(x))
    value, _ = jax.jit(loss.pure_fn)(x, loss.weights, loss.state, loss.rng)
    np.testing.assert_allclose(value, rec["value"], **TOL)


# -- PretrainedBERT: Google's TensorFlow checkpoint layout --------------------

def _tf_layout(weights, n_layers):
    """The encoder's weights under Google's BERT checkpoint names, in that
    checkpoint's shapes (all heads side by side)."""
    w = [np.asarray(a) for a in jax.tree_util.tree_leaves(weights)]
    out = dict(zip(["bert/embeddings/" + n for n in (
        "word_embeddings", "token_type_embeddings", "position_embeddings",
        "LayerNorm/gamma", "LayerNorm/beta")], w[:5]))
    for i in range(n_layers):
        q, k, v, o, qb, kb, vb, *rest = w[5 + 16 * i: 21 + 16 * i]
        p = f"bert/encoder/layer_{i}/"
        for part, kernel, bias in (("query", q, qb), ("key", k, kb),
                                   ("value", v, vb)):
            out[p + f"attention/self/{part}/kernel"] = kernel.swapaxes(
                0, 1).reshape(kernel.shape[1], -1)
            out[p + f"attention/self/{part}/bias"] = bias.reshape(-1)
        out[p + "attention/output/dense/kernel"] = o.reshape(-1, o.shape[-1])
        out.update(zip([p + n for n in (
            "attention/output/dense/bias", "attention/output/LayerNorm/gamma",
            "attention/output/LayerNorm/beta", "intermediate/dense/kernel",
            "intermediate/dense/bias", "output/dense/kernel",
            "output/dense/bias", "output/LayerNorm/gamma",
            "output/LayerNorm/beta")], rest))
    out["bert/pooler/dense/kernel"], out["bert/pooler/dense/bias"] = w[-2:]
    return out


@pytest.fixture(scope="module")
def checkpoint(built, tmp_path_factory):
    """A TensorFlow checkpoint ``.../bert_model.ckpt`` of the encoder
    weights of CKPT_MODEL initialised with get_prng(0)."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    model = built[CKPT_MODEL][0]
    tensors = _tf_layout(model.weights[0], n_layers=2)
    folder = tmp_path_factory.mktemp("bert") / "uncased_L-2_H-12_A-3"
    folder.mkdir()
    prefix = str(folder / "bert_model.ckpt")
    names = sorted(tensors)
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names,
                      shape_and_slices=[""] * len(names),
                      tensors=[tf.constant(tensors[n]) for n in names])
    return prefix


def _init_from(oracle, init_checkpoint):
    """CKPT_MODEL in train mode with ``init_checkpoint``, initialised with
    another key than the checkpoint's weights."""
    rec = oracle["models"][CKPT_MODEL]
    model = _make(rec["constructor"], "train", init_checkpoint=init_checkpoint)
    x = _value(rec["input"])
    model.init(shapes.signature(x), rng=trax_random.get_prng(5))
    return model, x


def _assert_encoder_loaded(model, built):
    reference = built[CKPT_MODEL][0]
    for a, b in zip(jax.tree_util.tree_leaves(model.weights[0]),
                    jax.tree_util.tree_leaves(reference.weights[0])):
        np.testing.assert_array_equal(a, b)


def test_pretrained_bert_reads_a_checkpoint_path(oracle, built, checkpoint):
    model, x = _init_from(oracle, checkpoint)
    _assert_encoder_loaded(model, built)
    # With the head's weights of the oracle's init, Trax's output (the
    # eval model's compiled function: no dropout in either mode).
    reference, _, run = built[CKPT_MODEL]
    weights = (model.weights[0], reference.weights[1])
    y, _ = run(x, weights, model.state, trax_random.get_prng(0))
    _assert_output(y, oracle["models"][CKPT_MODEL]["eval_output"])
    # Only 'train' mode reads it, as in Trax.
    rec = oracle["models"][CKPT_MODEL]
    eval_model = _make(rec["constructor"], "eval", init_checkpoint=checkpoint)
    assert eval_model.sublayers[0].init_checkpoint is None


def test_pretrained_bert_finds_a_model_name_under_home(
        oracle, built, checkpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    folder = os.path.dirname(checkpoint)
    target = tmp_path / "trax" / "bert-base-uncased" / "unpacked"
    target.mkdir(parents=True)
    for name in os.listdir(folder):
        os.symlink(os.path.join(folder, name), target / name)
    model, _ = _init_from(oracle, "bert-base-uncased")
    _assert_encoder_loaded(model, built)


def test_pretrained_bert_downloads_a_model_name(oracle, built, checkpoint,
                                                tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    folder = os.path.dirname(checkpoint)
    archive = tmp_path / "model.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for name in os.listdir(folder):
            z.write(os.path.join(folder, name),
                    f"uncased_L-2_H-12_A-3/{name}")
    fetched = []

    def fake_urlretrieve(url, path):
        fetched.append(url)
        os.link(archive, path)
    monkeypatch.setattr(urllib.request, "urlretrieve", fake_urlretrieve)
    model, _ = _init_from(oracle, "bert-base-uncased")
    assert fetched == [bert._MODEL_LINKS["bert-base-uncased"]]  # pylint: disable=protected-access
    _assert_encoder_loaded(model, built)
    assert not (tmp_path / "trax" / "bert-base-uncased" / "model_temp").exists()


def test_pretrained_bert_offline_or_missing_says_what_to_do(
        oracle, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))

    def offline(url, path):
        with open(path, "wb") as f:
            f.write(b"PK")  # a download cut short
        raise urllib.error.URLError("no network")
    monkeypatch.setattr(urllib.request, "urlretrieve", offline)
    folder = str(tmp_path / "trax" / "bert-base-uncased")
    with pytest.raises(Exception, match="unzip that archive into") as e:
        _init_from(oracle, "bert-base-uncased")
    assert folder in str(e.value)
    assert not os.listdir(folder)  # the next call downloads again
    missing = str(tmp_path / "nowhere" / "bert_model.ckpt")
    with pytest.raises(Exception, match="No TensorFlow checkpoint at") as e:
        _init_from(oracle, missing)
    assert missing in str(e.value)
    with pytest.raises(Exception, match="Unknown BERT model name"):
        _init_from(oracle, "bert-huge")


def test_pretrained_bert_without_tensorflow_names_the_extra(
        oracle, checkpoint, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # as if absent
    with pytest.raises(Exception, match=r"trax-compat\[tfds\]"):
        _init_from(oracle, checkpoint)


# -- gin: the names Trax's bert*.gin configs bind -----------------------------

def test_gin_binds_the_heads_by_trax_names():
    import gin  # pylint: disable=g-import-not-at-top
    gin.clear_config()
    try:
        gin.parse_config([
            "trax.models.BERT.head = @bert.BERTPretrainingHead",
            "bert.BERTPretrainingHead.n_classes = 4",
            "bert.BERTMLMHead.vocab_size = 9",
            "trax.models.BERT.d_model = 8",
            "trax.models.BERT.n_heads = 2",
            "trax.models.BERT.n_layers = 1",
        ])
        from trax_compat import gin_registry  # pylint: disable=g-import-not-at-top
        model = gin_registry.configurable(trax.models.BERT)()
    finally:
        gin.clear_config()
    head = str(model.sublayers[1])
    assert head.startswith("Branch_in2_out2")
    assert "Dense_4" in head and "Dense_9" in head and "Dense_30522" not in head


def test_gin_check_drops_an_included_configs_missing_import(tmp_path):
    # As bert_glue_classification.gin includes bert.gin, which imports t5
    # (t5 has a stand-in now; tensor2tensor has none).
    from trax_compat import gin_check  # pylint: disable=g-import-not-at-top
    (tmp_path / "base.gin").write_text(
        "import tensor2tensor.problems\nimport trax.models\n"
        "train.model = @trax.models.BERT\ntrain.optimizer = "
        "@trax.optimizers.Adam\nBERT.init_checkpoint = 'bert-base-uncased'\n")
    (tmp_path / "main.gin").write_text(
        "import trax.models.research.bert\ninclude 'base.gin'\n"
        "BERT.head = @bert.BERTClassifierHead\n"
        "bert.BERTClassifierHead.n_classes = 3\n")
    import gin  # pylint: disable=g-import-not-at-top
    try:
        check = gin_check.check_config(str(tmp_path / "main.gin"))
    finally:
        gin.clear_config()
    assert (check.status, check.model) == ("fails", "BERT")
    assert check.reason.endswith("without that import the rest builds")
