"""Trax's early-stopping tutorial as a native Flax program
(``train/earlystopping_flax``) against real Trax's runs of it
(``trax_oracle/earlystopping``, the oracle its trax_compat twin in
``tests/test_earlystopping_tutorial.py`` is checked against too): same
initial weights and batches, the same logged losses, the same stop and best
step, and the best step's weights restored."""

import numpy as np
import pytest

from tests.conftest import load_oracle_json, oracle_array

from train.earlystopping_flax import input_pipeline
from train.earlystopping_flax import models
from train.earlystopping_flax import train
from train.earlystopping_flax.configs import default

RTOL = 1e-5  # as the twin's test: float32 rounding of a cancelling SGD step
NAMES = {"train_loss": "train/metrics/L2Loss",
         "eval_loss": "eval/metrics/L2Loss"}


@pytest.fixture(scope="module")
def oracle():
    return load_oracle_json("earlystopping/earlystopping.json.gz")


def _config(name, oracle):
    config = default.get_config()
    run = oracle["runs"][name]
    config.seed = oracle["loop_seed"]
    config.num_train_steps = run["n_steps"]
    config.min_delta = run["callback_kwargs"]["min_delta"]
    config.patience = run["callback_kwargs"].get("patience", 0)
    config.tensorboard = False
    return config


@pytest.fixture(scope="module")
def runs(oracle, tmp_path_factory):
    return {name: train.train_and_evaluate(
        _config(name, oracle), str(tmp_path_factory.mktemp(name)))
        for name in ("a", "b")}


def test_initial_params_are_trax_initial_weights(oracle):
    params = models.initial_params(_config("a", oracle))
    w, b = (oracle_array(a) for a in oracle["runs"]["a"]["initial_weights"])
    np.testing.assert_array_equal(params["dense"]["kernel"], w)
    np.testing.assert_array_equal(params["dense"]["bias"], b)


def test_batches_are_the_tutorial_generators(oracle):
    # The oracle's first example, drawn right after seeding with its data
    # seed, is the first example of the native stream.
    np.random.seed(oracle["data_seed"])
    batch = next(input_pipeline.linear_batches(50))
    x, y = (oracle_array(a) for a in oracle["first_example"])
    np.testing.assert_array_equal(batch["inputs"][0], x)
    np.testing.assert_array_equal(batch["targets"][0], y)
    assert batch["inputs"].shape == batch["weights"].shape == (50, 1)


@pytest.mark.parametrize("name", ["a", "b"])
def test_logged_losses_are_trax_s(runs, oracle, name):
    expected = oracle["runs"][name]["history"]
    ours = runs[name].history
    for native, trax_name in NAMES.items():
        steps = [s for s, _ in expected[trax_name]]
        assert sorted(s for s in ours if native in ours[s]) == steps
        np.testing.assert_allclose([ours[s][native] for s in steps],
                                   [v for _, v in expected[trax_name]],
                                   rtol=RTOL, err_msg=native)


def test_stops_where_trax_stopped_and_restores_the_best(runs, oracle):
    run, expected = runs["a"], oracle["runs"]["a"]
    assert (run.stopped_step, run.best_step) == (
        expected["stopped_step"], expected["best_step"]) == (190, 180)
    best = expected["best_checkpoint"]
    assert best["step"] == 180
    w, b = (oracle_array(a) for a in best["weights"])
    np.testing.assert_allclose(run.state.params["dense"]["kernel"], w,
                               rtol=RTOL)
    np.testing.assert_allclose(run.state.params["dense"]["bias"], b,
                               rtol=RTOL, atol=RTOL * float(np.abs(w).max()))
    test_data = np.array(oracle["test_data"], np.float32)
    np.testing.assert_allclose(train.predict(run.state, test_data),
                               oracle_array(best["predictions"]), rtol=RTOL)
    assert int(run.state.step) == 180


def test_runs_to_the_end_when_the_loss_keeps_improving(runs, oracle):
    run, expected = runs["b"], oracle["runs"]["b"]
    assert run.stopped_step is None and not expected["stop_training"]
    assert max(run.history) == expected["n_steps"] == 400
    assert run.best_step == expected["best_step"]
    w, b = (oracle_array(a) for a in expected["weights_after_run"])
    np.testing.assert_allclose(run.state.params["dense"]["kernel"], w,
                               rtol=RTOL)
