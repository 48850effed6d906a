"""The Deep N-Gram tutorial as a native Flax program
(``train/deep_ngram_flax``) against its trax_compat twin: the tutorial's
own code (``data_generator``, ``GRULM``, ``LSTMLM``, ``train_model``, read
from ``trax_oracle/deep_ngram/cells.json``) run on trax_compat in this
process, on a small synthetic corpus and tiny models.

The twin's one change: its ``Loop`` gets a ``random_seed`` (the tutorial
leaves it unset, so Trax seeds from the clock and no two runs agree), and
Python's generator is seeded before ``train_model`` (the tutorial never
seeds it). Then both programs must read the same batches in the same
order, start from the same weights (the twin's, converted), and log the
same losses and accuracies.
"""

import functools
import itertools
import os
import random
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import ORACLE
from tests.testdata import deep_ngram_script as dn

import trax_compat
from trax_compat.supervised import training
from train.deep_ngram_flax import input_pipeline
from train.deep_ngram_flax import models
from train.deep_ngram_flax import train
from train.deep_ngram_flax.configs import default

# Both compute the same float32 operations, compiled apart (seen: 1 ulp
# of the loss, 4.8e-7; accuracies equal).
ATOL = 1e-6
N_LINES = 100
# Two tiny configurations, each reshuffling both streams within its steps
# (3-4 train batches per pass of the lines, 1-3 eval batches).
CASES = {
    "gru": dict(cell="gru", data_seed=5, seed=3, batch_size=13,
                max_length=24, d_model=16, n_layers=2, num_eval_lines=40,
                num_train_steps=5),
    "lstm": dict(cell="lstm", data_seed=11, seed=0, batch_size=17,
                 max_length=30, d_model=8, n_layers=3, num_eval_lines=30,
                 num_train_steps=5),
}
TRAX_NAMES = {"train_loss": ("train", "metrics/CrossEntropyLoss"),
              "eval_loss": ("eval", "metrics/CrossEntropyLoss"),
              "eval_accuracy": ("eval", "metrics/Accuracy")}


def _config(case, corpus):
    config = default.get_config()
    config.update(case)
    config.data_dir = str(corpus)
    config.tensorboard = False
    config.checkpoint_every_steps = 3  # and the last step (saves time)
    return config


def _digest(batch):
    return [np.asarray(x).tolist() for x in batch]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("texts")
    dn.write_corpus(folder, n_lines=N_LINES)
    return folder


def _never(step):
    del step
    return False


def _tutorial_namespace(corpus, loop_seed):
    """The tutorial's cells 3-8 and 13 executed over trax_compat; the
    Loop they build is given ``random_seed=loop_seed`` and, to save time,
    writes no checkpoints (evaluating still at every step)."""
    cells = dn.load_cells(ORACLE / "deep_ngram" / "cells.json")
    ns = {"os": os, "trax": trax_compat, "np": trax_compat.fastmath.numpy,
          "rnd": random, "tl": trax_compat.layers, "itertools": itertools,
          "training": types.SimpleNamespace(
              TrainTask=training.TrainTask, EvalTask=training.EvalTask,
              Loop=functools.partial(training.Loop, random_seed=loop_seed,
                                     checkpoint_at=_never))}
    for cell in cells[3:9]:  # read, lowercase, tensors, generator, models
        exec(cell.replace(dn.KAGGLE, str(corpus)), ns)  # pylint: disable=exec-used
    return ns, cells[13].replace("from trax.supervised import training\n",
                                 "")


def _run_twin(case, corpus, output_dir):
    ns, train_model_cell = _tutorial_namespace(corpus, case["seed"])
    n_eval = case["num_eval_lines"]
    ns["eval_lines"] = ns["lines"][-n_eval:]
    ns["lines"] = ns["lines"][:-n_eval]
    exec(train_model_cell, ns)  # pylint: disable=exec-used
    make = {"gru": ns["GRULM"], "lstm": ns["LSTMLM"]}[case["cell"]]
    model = make(d_model=case["d_model"], n_layers=case["n_layers"])
    reads, tags = [], iter(["train", "eval"])

    def tapped_generator(*args, **kwargs):
        tag = next(tags)
        for batch in ns["data_generator"](*args, **kwargs):
            reads.append([tag, _digest(batch)])
            yield batch

    random.seed(case["data_seed"])
    loop = ns["train_model"](model, tapped_generator,
                             batch_size=case["batch_size"],
                             max_length=case["max_length"], n_steps=0,
                             output_dir=str(output_dir))
    initial = [np.asarray(w) for w in jax.tree_util.tree_leaves(
        loop.model.weights)]
    loop.run(n_steps=case["num_train_steps"])
    history = {ours: loop.history.get(*theirs)
               for ours, theirs in TRAX_NAMES.items()}
    return dict(reads=reads, initial_weights=initial, history=history,
                model=model, lines=ns["lines"] + ns["eval_lines"])


def _run_native(config, workdir, initial_params):
    reads = []
    batches, tags = input_pipeline._batches, iter(["train", "eval"])

    def tapped_batches(*args):
        tag = next(tags)
        for batch in batches(*args):
            reads.append([tag, _digest([batch["inputs"], batch["targets"],
                                        batch["weights"]])])
            yield batch

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(input_pipeline, "_batches", tapped_batches)
        result = train.train_and_evaluate(config, str(workdir),
                                          initial_params=initial_params)
    return dict(result=result, reads=reads)


@pytest.fixture(scope="module")
def runs(corpus, tmp_path_factory):
    out = {}
    for name, case in sorted(CASES.items()):
        twin = _run_twin(case, corpus, tmp_path_factory.mktemp("twin_" + name))
        config = _config(case, corpus)
        params = models.params_from_trax_weights(twin["initial_weights"],
                                                 config)
        native = _run_native(config, tmp_path_factory.mktemp(name), params)
        out[name] = dict(twin=twin, native=native, config=config,
                         params=params)
    return out


def test_native_reads_the_tutorial_s_lines(runs, corpus):
    for run in runs.values():
        assert input_pipeline.read_lines(str(corpus)) == run["twin"]["lines"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_batch_is_read_as_the_twin_read_it(runs, name):
    twin, native = runs[name]["twin"]["reads"], runs[name]["native"]["reads"]
    # The sample batch of each task, then one train and one eval batch per
    # step, interleaved alike; the last read of each stream is the same.
    n = CASES[name]["num_train_steps"]
    assert [tag for tag, _ in twin] == ["train", "eval"] + ["train",
                                                            "eval"] * n
    assert native == twin


@pytest.mark.parametrize("name", sorted(CASES))
def test_converted_weights_compute_what_the_twin_computes(runs, name):
    run = runs[name]
    # Every converted array is the twin's, bit for bit, and lands in place.
    converted = jax.tree_util.tree_leaves(run["params"])
    assert sorted(np.asarray(a).tobytes() for a in converted) == sorted(
        a.tobytes() for a in run["twin"]["initial_weights"])
    ids = np.asarray(run["native"]["reads"][0][1][0], np.int32)
    config = run["config"]
    ours = jax.jit(models.create_model(config).apply)(
        {"params": run["params"]}, ids)
    # The twin's model holds its trained weights now: set the initial ones.
    twin_model = run["twin"]["model"]
    twin_model.weights = _like(twin_model.weights,
                               run["twin"]["initial_weights"])
    np.testing.assert_allclose(ours, twin_model(jnp.asarray(ids)), rtol=0,
                               atol=2e-6)


def _like(tree, leaves):
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(tree),
                                        [jnp.asarray(x) for x in leaves])


@pytest.mark.parametrize("name", sorted(CASES))
def test_logged_metrics_are_the_twin_s(runs, name):
    history = runs[name]["native"]["result"].history
    n = CASES[name]["num_train_steps"]
    for ours, theirs in runs[name]["twin"]["history"].items():
        assert [s for s, _ in theirs] == list(range(1, n + 1)), ours
        assert sorted(s for s in history if ours in history[s]) == list(
            range(1, n + 1)), ours
        np.testing.assert_allclose([history[s][ours] for s, _ in theirs],
                                   [v for _, v in theirs], rtol=0, atol=ATOL,
                                   err_msg=ours)
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
    for name in ("ShiftRight", "GRU", "LSTM"):
        assert pages["trax.layers." + name] == page + "#model", name
    for name in ("CrossEntropyLoss", "Accuracy"):
        assert pages["trax.layers." + name] == page + "#loss-and-metrics"
    assert {"trax.optimizers.Adam", "trax.supervised.training.Loop",
            "trax.supervised.training.TrainTask",
            "trax.supervised.training.EvalTask"} <= set(pages)
