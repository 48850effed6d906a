"""The Deep N-Gram tutorial as a native Flax program
(``train/deep_ngram_flax``) against real Trax's run of the tutorial's
data, model and ``train_model`` cells (``trax_oracle/deep_ngram_flax``,
``testdata/generate_deep_ngram_flax.py``) and against its trax_compat twin
(the same cells, ``testdata/deep_ngram_flax_cells.py``, run on trax_compat
in this process), on a small synthetic corpus with tiny GRU and LSTM
models: the same lines, every batch read in the same order, the same
initial weights (the twin's, converted), the same logged losses and
accuracies; and a resumed run equal to a straight one.
"""

import ast

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import ORACLE
from conftest import REPO
from tests.conftest import load_oracle_json
from tests.testdata import deep_ngram_flax_cells as dnf
from tests.testdata import deep_ngram_script as dn

import trax_compat
from train.deep_ngram_flax import input_pipeline
from train.deep_ngram_flax import models
from train.deep_ngram_flax import train
from train.deep_ngram_flax.configs import default

# The same float32 operations, compiled apart: against the twin (same
# jax) seen 9.5e-7 (2 ulps of the loss); against real Trax (its older jax
# and XLA) 1.4e-6 (3 ulps); accuracies equal.
TWIN_ATOL = 2e-6
TRAX_ATOL = 3e-6
CASES = dnf.CASES


def _config(case, corpus):
    config = default.get_config()
    config.update(case)
    config.data_dir = str(corpus)
    config.tensorboard = False
    config.checkpoint_every_steps = 3  # and the last step (saves time)
    return config


@pytest.fixture(scope="module")
def oracle():
    return load_oracle_json("deep_ngram_flax/runs.json")


@pytest.fixture(scope="module")
def oracle_weights():
    with np.load(ORACLE / "deep_ngram_flax" / "initial_weights.npz") as npz:
        return {name: [npz[k] for k in sorted(npz.files)
                       if k.startswith(name + "_")] for name in CASES}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("texts")
    dn.write_corpus(folder, n_lines=dnf.N_LINES)
    return folder


def _run_native(config, workdir, initial_params):
    reads = []
    batches, tags = input_pipeline._batches, iter(["train", "eval"])

    def tapped_batches(*args):
        tag = next(tags)
        for batch in batches(*args):
            reads.append([tag, dnf.batch_digest(
                [batch["inputs"], batch["targets"], batch["weights"]])])
            yield batch

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(input_pipeline, "_batches", tapped_batches)
        result = train.train_and_evaluate(config, str(workdir),
                                          initial_params=initial_params)
    return dict(result=result, reads=reads)


@pytest.fixture(scope="module")
def runs(corpus, tmp_path_factory):
    cells = dn.load_cells(ORACLE / "deep_ngram" / "cells.json")
    out = {}
    for name, case in sorted(CASES.items()):
        twin = dnf.run(trax_compat, cells, corpus,
                       tmp_path_factory.mktemp("twin_" + name), case)
        config = _config(case, corpus)
        params = models.params_from_trax_weights(twin["initial_weights"],
                                                 config)
        native = _run_native(config, tmp_path_factory.mktemp(name), params)
        out[name] = dict(twin=twin, native=native, config=config,
                         params=params)
    return out


def test_cases_are_the_oracle_s(oracle):
    assert oracle["cases"] == CASES and oracle["n_lines"] == dnf.N_LINES


def test_native_reads_the_tutorial_s_lines(runs, corpus, oracle):
    lines = input_pipeline.read_lines(str(corpus))
    for name, run in runs.items():
        assert lines == run["twin"]["lines"]
        assert dnf.hashlib.sha256("\n".join(lines).encode()).hexdigest() == (
            oracle["runs"][name]["lines_sha256"])


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_batch_is_read_as_trax_read_it(runs, oracle, name):
    # Each task's sample batch, then one train and one eval batch per step,
    # each the same arrays (shape, dtype, bytes), interleaved alike.
    expected = oracle["runs"][name]["reads"]
    n = CASES[name]["num_train_steps"]
    assert [tag for tag, _ in expected] == ["train", "eval"] * (n + 1)
    assert runs[name]["native"]["reads"] == expected
    assert runs[name]["twin"]["reads"] == expected


@pytest.mark.parametrize("name", sorted(CASES))
def test_initial_weights_are_trax_s_and_compute_the_same(
        runs, oracle_weights, name):
    run = runs[name]
    twin_weights = run["twin"]["initial_weights"]
    # The twin starts where real Trax starts, bit for bit.
    assert len(twin_weights) == len(oracle_weights[name])
    for ours, theirs in zip(twin_weights, oracle_weights[name]):
        np.testing.assert_array_equal(ours, theirs)
    # Converted: every array lands in place, and computes the twin's output.
    expected = models.params_from_trax_weights(oracle_weights[name],
                                               run["config"])
    jax.tree_util.tree_map(np.testing.assert_array_equal, run["params"],
                           expected)
    ids = np.zeros((3, run["config"].max_length), np.int32)
    ids[:, :5] = [104, 101, 108, 108, 111]
    ids[1, 5:9] = 1, 300, 0, 7  # an id past the vocabulary is clipped
    ours = jax.jit(models.create_model(run["config"]).apply)(
        {"params": run["params"]}, ids)
    twin_model = run["twin"]["model"]  # holds its trained weights now
    twin_model.weights = jax.tree_util.tree_unflatten(
        jax.tree_util.tree_structure(twin_model.weights),
        [jnp.asarray(w) for w in twin_weights])
    np.testing.assert_allclose(ours, twin_model(jnp.asarray(ids)), rtol=0,
                               atol=2e-6)


@pytest.mark.parametrize("name", sorted(CASES))
def test_logged_metrics_are_trax_s(runs, oracle, name):
    history = runs[name]["native"]["result"].history
    n = CASES[name]["num_train_steps"]
    for source, atol in ((oracle["runs"][name]["history"], TRAX_ATOL),
                         (runs[name]["twin"]["history"], TWIN_ATOL)):
        for ours, theirs in source.items():
            assert [s for s, _ in theirs] == list(range(1, n + 1)), ours
            assert sorted(s for s in history if ours in history[s]) == list(
                range(1, n + 1)), ours
            np.testing.assert_allclose(
                [history[s][ours] for s, _ in theirs],
                [v for _, v in theirs], rtol=0, atol=atol, err_msg=ours)
    losses = [history[s]["train_loss"] for s in range(1, n + 1)]
    assert losses[-1] < losses[0]  # it learns


def test_resumed_run_ends_where_a_straight_run_ends(runs, tmp_path):
    run = runs["gru"]
    config = run["config"].copy_and_resolve_references()
    config.num_train_steps = 3
    first = train.train_and_evaluate(config, str(tmp_path),
                                     initial_params=run["params"])
    assert sorted(first.history) == [1, 2, 3]
    config.num_train_steps = CASES["gru"]["num_train_steps"]
    # Resumes from step 3's checkpoint; initial_params apply to fresh runs.
    resumed = train.train_and_evaluate(config, str(tmp_path))
    straight = run["native"]["result"]
    assert sorted(resumed.history) == list(range(4, config.num_train_steps
                                                 + 1))
    for step, values in resumed.history.items():
        for key in ("train_loss", "eval_loss", "eval_accuracy"):
            assert values[key] == straight.history[step][key], (step, key)
    assert int(resumed.state.step) == config.num_train_steps
    jax.tree_util.tree_map(np.testing.assert_array_equal,
                           resumed.state.params, straight.state.params)
    jax.tree_util.tree_map(np.testing.assert_array_equal,
                           resumed.state.opt_state, straight.state.opt_state)


def test_sample_continues_a_prefix(runs):
    state = runs["gru"]["native"]["result"].state
    text = train.sample(state, "the ", 5, jax.random.PRNGKey(0),
                        temperature=0.0)
    assert text.startswith("the ") and 4 <= len(text) <= 9
    assert text == train.sample(state, "the ", 5, jax.random.PRNGKey(1),
                                temperature=0.0)  # greedy: no randomness


def test_bad_config_gets_a_clear_error(runs, tmp_path):
    config = default.get_config()
    config.update(CASES["gru"])
    config.data_dir = str(tmp_path / "absent")
    with pytest.raises(ValueError, match="config.data_dir"):
        input_pipeline.create_datasets(config)
    config.cell = "rnn"
    with pytest.raises(ValueError, match="config.cell='rnn'"):
        models.create_model(config)
    config.cell, config.n_layers = "lstm", 2
    with pytest.raises(ValueError, match="n_layers"):
        models.params_from_trax_weights(
            runs["gru"]["twin"]["initial_weights"], config)
    config.n_layers, config.d_model = CASES["gru"]["n_layers"], 5
    config.cell = "gru"
    with pytest.raises(ValueError, match="config.d_model"):
        models.params_from_trax_weights(
            runs["gru"]["twin"]["initial_weights"], config)


# A character LM trained as the tutorial trains it, in our own words.
_TUTORIAL_LIKE_SCRIPT = '''\
import trax
from trax import layers as tl
from trax.supervised import training

def char_lm(depth, cell):
    return tl.Serial(tl.ShiftRight(mode="train"), tl.Embedding(256, depth),
                     cell(n_units=depth), tl.Dense(256), tl.LogSoftmax())

model = char_lm(32, tl.LSTM)
other = char_lm(32, tl.GRU)
third = char_lm(32, tl.SRU)
task = training.TrainTask(labeled_data=None, loss_layer=tl.CrossEntropyLoss(),
                          optimizer=trax.optimizers.Adam(0.0005))
check = training.EvalTask(labeled_data=None,
                          metrics=[tl.CrossEntropyLoss(), tl.Accuracy()])
loop = training.Loop(model, task, eval_tasks=[check], output_dir="out")
'''


def test_migrate_plan_points_the_tutorial_s_calls_to_its_page(tmp_path):
    from trax_compat import migrate  # pylint: disable=g-import-not-at-top
    path = tmp_path / "char_lm.py"
    path.write_text(_TUTORIAL_LIKE_SCRIPT)
    pages = {f.name: f.page for f in migrate.plan(str(path))}
    page = "docs/migration/deep_ngram.md"
    for name in ("ShiftRight", "GRU", "LSTM", "SRU"):
        assert pages["trax.layers." + name] == page + "#model", name
    for name in ("CrossEntropyLoss", "Accuracy"):
        assert pages["trax.layers." + name] == page + "#loss-and-metrics"
    assert {"trax.optimizers.Adam", "trax.supervised.training.Loop",
            "trax.supervised.training.TrainTask",
            "trax.supervised.training.EvalTask"} <= set(pages)


def test_native_program_does_not_use_trax_compat():
    # Its modules and the Adam it uses import neither trax nor trax_compat.
    files = sorted((REPO / "train" / "deep_ngram_flax").rglob("*.py"))
    assert len(files) >= 7
    for path in files + [REPO / "train" / "trax_adam.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n.split(".")[0] in ("trax", "trax_compat")
                           for n in names), (path, names)
