"""The IMDB classifier of Trax's ``intro.ipynb`` as a native Flax program
(``train/imdb_flax``) against real Trax's runs of the notebook's cells
(``trax_oracle/imdb_flax``, ``testdata/generate_imdb_flax.py``) and against
its trax_compat twin (the same cells, ``testdata/intro_imdb_cells.py``, run
on trax_compat), all over the ``imdb_reviews`` stand-in of
``testdata/tiny_tfds.py``: the same initial weights bit for bit, every batch
read in the same order, the same logged metrics and prediction."""

import numpy as np
import pytest

from tests.conftest import load_oracle_json
from tests.testdata import intro_imdb_cells as cells
from tests.testdata import tiny_tfds

import trax_compat
from train.imdb_flax import input_pipeline
from train.imdb_flax import models
from train.imdb_flax import train
from train.imdb_flax.configs import default

# Float32 sums over a batch in another order: a few ulps of the loss.
ATOL = 2e-6
# Native name -> Trax's history name.
TRAX_NAMES = {"train_loss": "train/metrics/WeightedCategoryCrossEntropy",
              "eval_loss": "eval/metrics/WeightedCategoryCrossEntropy",
              "eval_accuracy": "eval/metrics/WeightedCategoryAccuracy"}


@pytest.fixture(scope="module")
def oracle():
    return load_oracle_json("imdb_flax/runs.json")


@pytest.fixture(scope="module", autouse=True)
def stand_in(tmp_path_factory):
    data_dir = tiny_tfds.prepare(tmp_path_factory.mktemp("tfds"),
                                 (tiny_tfds.ImdbReviewsStandIn,))
    with pytest.MonkeyPatch.context() as patch:
        # The notebook's TFDS(...) has no data_dir, nor has the config.
        patch.setenv("TFDS_DATA_DIR", data_dir)
        yield data_dir


def _config(case):
    config = default.get_config()
    config.data_seed = case["data_seed"]
    config.seed = case["loop_seed"]
    config.num_train_steps = case["n_steps"]
    config.eval_every_steps = case["n_steps_per_checkpoint"]
    config.checkpoint_every_steps = case["n_steps_per_checkpoint"]
    config.num_eval_batches = case["n_eval_batches"]
    config.tensorboard = False
    return config


def _run_native(case, workdir):
    """Trains; returns the result, every batch read (in the intro cells'
    record format) and the cell-23 prediction."""
    reads = []
    batches, create = input_pipeline._batches, input_pipeline.create_datasets
    tags = iter(["train", "eval"])

    def tapped_batches(examples, config):
        tag = next(tags)
        for batch in batches(examples, config):
            reads.append([tag, cells.batch_digest(
                [batch["inputs"], batch["labels"], batch["weights"]])])
            yield batch

    def create_and_mark(config):
        out = create(config)
        reads.append(["loop_built", None])
        return out

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(input_pipeline, "_batches", tapped_batches)
        patch.setattr(input_pipeline, "create_datasets", create_and_mark)
        result = train.train_and_evaluate(_config(case), str(workdir))
    example_input = next(result.eval_iter)["inputs"][0]
    probs = train.predict(result.state, example_input[None, :])
    return dict(result=result, reads=reads, example_input=example_input,
                probabilities=np.asarray(probs))


@pytest.fixture(scope="module")
def native(tmp_path_factory):
    return {name: _run_native(case, tmp_path_factory.mktemp("native_" + name))
            for name, case in sorted(cells.CASES.items())}


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    # Case b cut to its first step (a Loop's setup and compiles dominate the
    # twin's time): its reads and step-1 log are case b's.
    return cells.run(trax_compat, tmp_path_factory.mktemp("twin"),
                     **dict(cells.CASES["b"], n_steps=1))


@pytest.mark.parametrize("name", sorted(cells.CASES))
def test_initial_params_are_trax_s_bit_for_bit(oracle, name):
    params = models.initial_params(_config(cells.CASES[name]))
    expected = oracle["runs"][name]["initial_weights"]
    embedding = np.asarray(params["embed"]["embedding"])
    assert cells.digest(embedding) == expected["embedding"]
    np.testing.assert_array_equal(embedding[:3, :4],
                                  expected["embedding_head"])
    np.testing.assert_array_equal(params["dense"]["kernel"],
                                  np.float32(expected["kernel"]))
    np.testing.assert_array_equal(params["dense"]["bias"],
                                  np.float32(expected["bias"]))


@pytest.mark.parametrize("name", sorted(cells.CASES))
def test_every_batch_is_read_as_trax_read_it(native, oracle, name):
    # The train and eval reads, interleaved as the Trax run interleaved
    # them, each the same arrays (shape, dtype, bytes); the last is the
    # eval batch cell 23 predicts on.
    expected = oracle["runs"][name]["reads"]
    assert native[name]["reads"] == expected
    assert cells.digest(native[name]["example_input"]) == (
        oracle["runs"][name]["example_input"])
    assert [list(v.shape) for v in
            native[name]["result"].example_batch.values()] == (
        oracle["runs"][name]["example_batch_shapes"])


@pytest.mark.parametrize("name", sorted(cells.CASES))
def test_logged_metrics_are_trax_s(native, oracle, name):
    history = native[name]["result"].history
    expected = oracle["runs"][name]["history"]
    for ours, theirs in TRAX_NAMES.items():
        steps = [s for s, _ in expected[theirs]]
        assert sorted(s for s in history if ours in history[s]) == steps
        np.testing.assert_allclose([history[s][ours] for s in steps],
                                   [v for _, v in expected[theirs]],
                                   rtol=0, atol=ATOL, err_msg=ours)


@pytest.mark.parametrize("name", sorted(cells.CASES))
def test_trained_weights_and_prediction_are_trax_s(native, oracle, name):
    run, expected = native[name], oracle["runs"][name]
    params = run["result"].state.params
    np.testing.assert_allclose(params["dense"]["kernel"],
                               expected["final_weights"]["kernel"],
                               rtol=0, atol=2e-6)
    np.testing.assert_allclose(params["dense"]["bias"],
                               expected["final_weights"]["bias"],
                               rtol=0, atol=2e-6)
    # A sum of 2M float32 weights: ulp-sized differences in the updated
    # rows add up (seen: 4e-5), while one missed update moves it by ~1e-2.
    np.testing.assert_allclose(
        float(np.asarray(params["embed"]["embedding"], np.float64).sum()),
        expected["final_weights"]["embedding_sum"], rtol=0, atol=2e-4)
    np.testing.assert_allclose(run["probabilities"],
                               expected["probabilities"], rtol=2e-6)
    assert int(run["result"].state.step) == expected["step"]
    assert input_pipeline.detokenize(
        run["example_input"], _config(cells.CASES[name])) == (
        expected["example_input_str"])


def _at_step_1(history):
    return {name: [v for s, v in history[name] if s == 1]
            for name in TRAX_NAMES.values()}


def test_trax_compat_twin_runs_the_cells_as_trax_does(twin, oracle):
    expected = oracle["runs"]["b"]
    for key in ("model_repr", "first_example", "example_batch_shapes",
                "initial_weights"):
        assert twin[key] == expected[key], key
    # Up to step 1 the twin read what Trax read (its last read is cell 23's).
    reads = twin["reads"][:-1]
    assert reads == expected["reads"][:len(reads)]
    assert [tag for tag, _ in reads].count("eval") == 2
    theirs = _at_step_1(expected["history"])
    for name, values in _at_step_1(twin["history"]).items():
        np.testing.assert_allclose(values, theirs[name], rtol=0, atol=ATOL,
                                   err_msg=name)


def test_native_program_logs_what_its_twin_logs(native, twin):
    history = native["b"]["result"].history
    theirs = _at_step_1(twin["history"])
    for ours, name in TRAX_NAMES.items():
        np.testing.assert_allclose([history[1][ours]], theirs[name],
                                   rtol=0, atol=1e-6, err_msg=ours)
    assert native["b"]["reads"][:len(twin["reads"]) - 1] == (
        twin["reads"][:-1])
