"""The seed sentiment tutorial as a native Flax program
(``train/sentiment_flax``) against real Trax's run of it and against its
trax_compat twin (``python -m train.sentiment``): same initial weights, same
batches, the same logged metrics."""

import contextlib
import io
import re

import jax
import numpy as np
import pytest

from tests.conftest import CORPUS_DIR, ORACLE, array_sha256
from tests.conftest import load_oracle_json, oracle_npz
from tests.testdata.oracle_common import Recorder

from train.sentiment_flax import input_pipeline
from train.sentiment_flax import models
from train.sentiment_flax import train
from train.sentiment_flax.configs import default
from models import sentiment as sentiment_models

TRAIN = str(CORPUS_DIR / "dev_tweets.txt")
EVAL = str(CORPUS_DIR / "dev_tweets_eval.txt")
STEPS = 100  # real Trax logged steps 1 and 100 of its run with these settings
# Native name -> the name in Trax's log.
TRAX_NAMES = {"train_loss": ("train", "WeightedCategoryCrossEntropy"),
              "eval_loss": ("eval", "WeightedCategoryCrossEntropy"),
              "eval_accuracy": ("eval", "WeightedCategoryAccuracy")}


def _config():
    config = default.get_config()
    config.train_file, config.eval_file = TRAIN, EVAL
    config.num_train_steps = STEPS
    config.eval_every_steps = config.checkpoint_every_steps = 100
    config.tensorboard = False
    return config


def _trax_log_values(text):
    values = {}
    for m in re.finditer(r"^Step +(\d+): (train|eval) +(\S+) \| +(\S+)$",
                         text, re.M):
        values[(int(m.group(1)), m.group(2), m.group(3))] = float(m.group(4))
    return values


def _native_log_values(history):
    return {(step, *TRAX_NAMES[name]): value
            for step, scalars in history.items()
            for name, value in scalars.items() if name in TRAX_NAMES}


@pytest.fixture(scope="module")
def native(tmp_path_factory):
    """The native program's run, recording every batch it read."""
    recorded = {}
    create = input_pipeline.create_datasets

    def recording_datasets(config):
        train_iter, eval_iter, init_batch = create(config)
        recorded["train"], recorded["eval"] = (Recorder(train_iter),
                                               Recorder(eval_iter))
        return recorded["train"], recorded["eval"], init_batch

    workdir = tmp_path_factory.mktemp("native")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(input_pipeline, "create_datasets", recording_datasets)
        result = train.train_and_evaluate(_config(), str(workdir))
    return dict(result=result, workdir=workdir,
                train=recorded["train"].pulled, eval=recorded["eval"].pulled)


TINY = dict(num_train_steps=12, eval_every_steps=5, num_eval_batches=2)


@pytest.fixture(scope="module")
def tiny_pair(tmp_path_factory):
    """A tiny run of the native program and of its trax_compat twin (the
    tutorial's code on trax_compat, as in ``train/sentiment.py``) with the
    same data, seed and schedule: evals at steps 1, 5, 10 of 2 batches."""
    import itertools  # pylint: disable=g-import-not-at-top
    import trax_compat as trax  # pylint: disable=g-import-not-at-top
    from trax_compat import layers as tl  # pylint: disable=g-import-not-at-top
    from trax_compat.supervised import training  # pylint: disable=g-import-not-at-top
    from train import data_files  # pylint: disable=g-import-not-at-top
    from tests.testdata.oracle_common import tutorial_pipeline  # pylint: disable=g-import-not-at-top
    from tests.conftest import VOCAB_DIR  # pylint: disable=g-import-not-at-top

    config = _config()
    config.update(TINY)
    native_run = train.train_and_evaluate(
        config, str(tmp_path_factory.mktemp("tiny")))

    np.random.seed(0)
    train_stream = tutorial_pipeline(trax.data, VOCAB_DIR)(
        itertools.cycle(data_files.read_labeled_lines(TRAIN)))
    np.random.seed(1)
    eval_stream = tutorial_pipeline(trax.data, VOCAB_DIR)(
        itertools.cycle(data_files.read_labeled_lines(EVAL)))
    model = tl.Serial(tl.Embedding(vocab_size=8192, d_feature=256),
                      tl.Mean(axis=1), tl.Dense(2), tl.LogSoftmax())
    train_task = training.TrainTask(
        train_stream, tl.WeightedCategoryCrossEntropy(),
        trax.optimizers.Adam(0.01), n_steps_per_checkpoint=5)
    eval_task = training.EvalTask(
        eval_stream, [tl.WeightedCategoryCrossEntropy(),
                      tl.WeightedCategoryAccuracy()], n_eval_batches=2)
    out = io.StringIO()
    output_dir = tmp_path_factory.mktemp("twin") / "out"
    with contextlib.redirect_stdout(out):
        # One checkpoint, at the end (the conversion test reads it).
        loop = training.Loop(model, train_task, eval_tasks=[eval_task],
                             output_dir=str(output_dir), random_seed=0,
                             checkpoint_at=lambda step: False)
        loop.run(TINY["num_train_steps"])
        loop.save_checkpoint()
    loop.close()
    return dict(native=native_run, stdout=out.getvalue(), model=model,
                output_dir=output_dir)


def test_initial_params_are_trax_initial_weights():
    params = models.initial_params(_config())
    expected = oracle_npz("init_and_step.npz")
    embedding = np.asarray(params["embed"]["embedding"])
    np.testing.assert_array_equal(embedding, expected["init.embedding"])
    assert array_sha256(embedding) == load_oracle_json(
        "init_and_step.json")["sha256_float32_C_order"]["init.embedding"]
    np.testing.assert_array_equal(params["dense"]["kernel"],
                                  expected["init.dense_w"])
    np.testing.assert_array_equal(params["dense"]["bias"],
                                  expected["init.dense_b"])


def test_reads_the_batches_trax_read(native):
    expected = load_oracle_json("trax_run_dev/consumed_batches.json.gz")
    # Trax's train[0] / eval[0] are its tasks' sample batches: the native
    # pipeline reads (and drops) them while it is built.
    assert len(native["train"]) == STEPS
    assert len(native["eval"]) == 40  # two evals of 20 batches
    for ours, theirs in zip(native["train"] + native["eval"],
                            expected["train"][1:STEPS + 1]
                            + expected["eval"][1:41]):
        np.testing.assert_array_equal(ours["inputs"], theirs["inputs"])
        np.testing.assert_array_equal(ours["labels"], theirs["labels"])
        np.testing.assert_array_equal(ours["weights"],
                                      np.ones(len(theirs["labels"])))
        assert [str(ours[k].dtype) for k in ("inputs", "labels")] == \
            theirs["dtypes"][:2]


def test_logs_real_trax_values(native):
    theirs = _trax_log_values(
        (ORACLE / "trax_run_dev" / "stdout.txt").read_text())
    ours = _native_log_values(native["result"].history)
    assert sorted(ours) == sorted(k for k in theirs if k[0] <= STEPS)
    assert len(ours) == 6
    for key, value in ours.items():
        assert value == pytest.approx(theirs[key], abs=2e-6), key


def test_equals_its_trax_compat_twin(tiny_pair):
    theirs = _trax_log_values(tiny_pair["stdout"])
    ours = _native_log_values(tiny_pair["native"].history)
    assert ours.keys() == theirs.keys() and len(ours) == 9
    for key, value in ours.items():
        assert value == pytest.approx(theirs[key], abs=1e-6), key
    # The trained weights too (Trax-shaped in the twin). Adam divides by
    # sqrt(v) + 1e-5: where a gradient is near 0 a last-bit difference in it
    # moves the update by up to ~1e-6 per step.
    trained = sentiment_models.params_from_trax_weights(
        tiny_pair["model"].weights)["params"]
    for ours_leaf, theirs_leaf in zip(
            jax.tree_util.tree_leaves(tiny_pair["native"].state.params),
            jax.tree_util.tree_leaves(trained)):
        np.testing.assert_allclose(ours_leaf, theirs_leaf, rtol=0,
                                   atol=2e-5)


def test_checkpoint_restores_and_a_finished_run_does_nothing(native):
    result = native["result"]
    assert sorted(p.name for p in (native["workdir"] / "checkpoints")
                  .iterdir()) == [str(STEPS)]
    again = train.train_and_evaluate(_config(), str(native["workdir"]))
    assert again.history == {}  # nothing left to train
    for a, b in zip(jax.tree_util.tree_leaves(again.state),
                    jax.tree_util.tree_leaves(result.state)):
        np.testing.assert_array_equal(a, b)
    probs = np.asarray(train.predict(again.state,
                                     next(again.eval_iter)["inputs"]))
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=1e-6)


def test_twin_checkpoint_converts_for_the_native_program(tiny_pair, tmp_path,
                                                         capsys):
    """The command the migration page gives moves the twin's trained
    weights into the native program, exactly."""
    from trax_compat import cli  # pylint: disable=g-import-not-at-top
    exported = tmp_path / "params.msgpack"
    from docs.migration.sentiment_page import MODEL_EXPR  # pylint: disable=g-import-not-at-top
    assert cli.main(["convert", str(tiny_pair["output_dir"]), str(exported),
                     "--model", MODEL_EXPR]) == 0
    capsys.readouterr()
    config = _config()
    config.init_params_from = str(exported)
    state = train.create_train_state(config)
    expected = sentiment_models.params_from_trax_weights(
        tiny_pair["model"].weights)["params"]
    assert jax.tree_util.tree_structure(state.params) == \
        jax.tree_util.tree_structure(expected)
    for a, b in zip(jax.tree_util.tree_leaves(state.params),
                    jax.tree_util.tree_leaves(expected)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="not the tutorial model's"):
        models.load_exported_params(_write_msgpack(
            tmp_path / "other.msgpack", {"params": {"layers_1": {}}}))


def _write_msgpack(path, tree):
    import flax  # pylint: disable=g-import-not-at-top
    path.write_bytes(flax.serialization.msgpack_serialize(tree))
    return str(path)
