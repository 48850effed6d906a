"""``Loop(use_memory_efficient_trainer=True)`` against real Trax
(trax_oracle/memory_efficient_loop, see tests/testdata/README.md): Trax's
initial weights for that trainer bit for bit (blocks initialized layer by
layer, the loss chunked or not), an optimizer given as a class, the step
log, the history's metrics, the final weights and the resumed Loop."""

import re

import numpy as np
import pytest

import trax_compat as trax
from trax_compat import layers as tl
from trax_compat import optimizers
from trax_compat.supervised import training

from conftest import load_oracle_json
from conftest import oracle_npz
from tests.testdata import generate_memory_efficient_loop as recipe

ORACLE = "memory_efficient_loop/runs.json"
NPZ = "memory_efficient_loop/runs.npz"
MODULES = (tl, optimizers, trax.lr, training)
NUMBER = re.compile(r"-?\d+\.\d+")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = {}
    for name in recipe.RUNS:
        arrays = {}
        record = recipe.run(name, MODULES,
                            str(tmp_path_factory.mktemp(name)), arrays)
        out[name] = (record, arrays)
    return out


@pytest.mark.parametrize("name", sorted(recipe.RUNS))
def test_weights_are_trax_s(runs, name):
    _, ours = runs[name]
    theirs = {k: v for k, v in oracle_npz(NPZ).items()
              if k.startswith(name + "/")}
    assert sorted(ours) == sorted(theirs)
    for key, want in theirs.items():
        if "/init/" in key:  # the memory-efficient initialization
            np.testing.assert_array_equal(ours[key], want, err_msg=key)
        else:
            np.testing.assert_allclose(ours[key], want, rtol=1e-6,
                                       atol=1e-7, err_msg=key)


@pytest.mark.parametrize("name", sorted(recipe.RUNS))
def test_log_history_and_resume_are_trax_s(runs, name):
    ours, _ = runs[name]
    theirs = load_oracle_json(ORACLE)["runs"][name]
    # The log: Trax's lines, its values to 1e-6.
    assert NUMBER.sub("N", ours["stdout"]) == NUMBER.sub("N",
                                                         theirs["stdout"])
    np.testing.assert_allclose(
        [float(x) for x in NUMBER.findall(ours["stdout"])],
        [float(x) for x in NUMBER.findall(theirs["stdout"])],
        rtol=1e-6, atol=1e-7)
    assert ours["resumed_step"] == theirs["resumed_step"]
    # The history: the same metrics and learning rates. Trax's per-layer
    # optimizer metrics are the whole model's here (memory_efficient.py).
    per_layer = {k for k in theirs["history"] if "/layer" in k}
    assert per_layer and all(
        re.fullmatch(r"train/training/layer\d+/(gradients_l2|weights_l2|"
                     r"loss)", k) for k in per_layer)
    whole_model = {"train/training/gradients_l2",
                   "train/training/weights_l2", "train/training/loss"}
    assert set(ours["history"]) == (set(theirs["history"]) - per_layer
                                    | whole_model)
    for key in set(theirs["history"]) - per_layer:
        got, want = ours["history"][key], theirs["history"][key]
        assert [s for s, _ in got] == [s for s, _ in want], key
        np.testing.assert_allclose([v for _, v in got], [v for _, v in want],
                                   rtol=1e-6, atol=1e-7, err_msg=key)


def test_the_memory_efficient_initialization_differs_from_init():
    # Without the flag the same seed gives model.init's weights instead.
    model, _, _ = recipe.setup("classifier", *MODULES)
    task = training.TrainTask(recipe.batches("classifier"),
                              tl.WeightedCategoryCrossEntropy(),
                              optimizers.Adam(0.01))
    training.Loop(model, task, random_seed=5)
    standard = [np.asarray(w) for w in trax.fastmath.tree_leaves(
        model.weights)]
    init = [oracle_npz(NPZ)[f"classifier/init/{i}"]
            for i in range(len(standard))]
    assert [a.shape for a in standard] == [b.shape for b in init]
    assert any(not np.array_equal(a, b) for a, b in zip(standard, init))


def test_refusals_name_the_fix():
    model, task, _ = recipe.setup("classifier", *MODULES)
    with pytest.raises(ValueError, match="trains one task"):
        training.Loop(model, [task, task], use_memory_efficient_trainer=True)
    clipped = training.TrainTask(recipe.batches("classifier"),
                                 tl.WeightedCategoryCrossEntropy(),
                                 optimizers.Adam(0.01, clip_grad_norm=1.0))
    with pytest.raises(NotImplementedError, match="clip_grad_norm"):
        training.Loop(model, clipped, use_memory_efficient_trainer=True)
    # An optimizer class is made into its optimizer, as Trax does there.
    training.Loop(model, task, use_memory_efficient_trainer=True)
    assert isinstance(task.optimizer, optimizers.Adam)
