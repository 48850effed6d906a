"""A Loop whose output_dir holds real Trax's checkpoint resumes from it and
continues as real Trax's own Loop does (the training-API resume run)."""

import contextlib
import io
import json
import pathlib
import shutil

import jax
import numpy as np

import trax_compat as trax
from trax_compat import layers as tl
from trax_compat.supervised import training
from trax_compat.supervised import trax_checkpoint as tc
from trax_compat.supervised import trax_resume

DATA = pathlib.Path(__file__).parent / "testdata" / "trax_oracle"
RESUME = DATA / "checkpoints" / "resume"
GENERATED = json.loads((DATA / "checkpoints" / "generated.json").read_text())
TRAX = np.load(RESUME / "resume.npz")
W_TRUE = [1.0, -1.0, 0.5, 0.0, 0.0, 2.0, 0.0, -0.5]


def _stream(seed, batch):
    rng = np.random.default_rng(seed)
    w = np.asarray(W_TRUE, dtype=np.float64)
    while True:
        x = rng.standard_normal((batch, 8)).astype(np.float32)
        y = (x.astype(np.float64) @ w > 0).astype(np.int64)
        yield (x, y, np.ones((batch,), dtype=np.float32))


def _loop(output_dir, **kwargs):
    task = training.TrainTask(_stream(101, 8),
                              tl.WeightedCategoryCrossEntropy(),
                              trax.optimizers.Adam(0.01),
                              n_steps_per_checkpoint=4)
    eval_task = training.EvalTask(
        _stream(102, 4), [tl.WeightedCategoryCrossEntropy(),
                          tl.WeightedCategoryAccuracy()], n_eval_batches=1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        loop = training.Loop(
            tl.Serial(tl.Dense(16), tl.Relu(), tl.Dense(2), tl.LogSoftmax()),
            task, eval_tasks=[eval_task], output_dir=str(output_dir),
            random_seed=1, optimizer_metrics_every_step=True, **kwargs)
    return loop, out.getvalue()


def _slots(loop):
    # The slots in Trax's order, as Trax's checkpoint would hold them.
    state = loop.train_state
    _, _, slots = trax_resume.trax_checkpoint_from_loop(
        state.replace(opt_state=(state.opt_state,)), loop.model,
        loop.tasks, loop.step, loop.history, None)
    return slots[0]


def _close(got, want):
    # As the training-API oracle: float32 forward passes may differ by an
    # ulp from Trax's XLA, which Adam's division by sqrt(v) magnifies.
    np.testing.assert_allclose(got, want, rtol=1e-6,
                               atol=1e-5 * float(np.abs(want).max()))


def test_a_loop_resumes_from_a_trax_output_dir(tmp_path):
    out = tmp_path / "run"
    shutil.copytree(RESUME / "output_dir", out)
    ckpt = tc.read(out / "model.pkl.gz")
    loop, said = _loop(out)
    record = GENERATED["resume"]
    assert loop.step == record["step_after_constructor"] == 8
    assert said.count("Converted the Trax checkpoint") == 1
    for got, want in zip(jax.tree_util.tree_leaves(loop.model.weights),
                         ckpt.flat_weights):
        np.testing.assert_array_equal(np.asarray(got), want)
    for i, got in enumerate(_slots(loop)):
        np.testing.assert_array_equal(got, TRAX[f"slots_after_constructor/{i}"])
    assert loop.history.get("train", "training/loss") == \
        ckpt.history.get("train", "training/loss")

    with contextlib.redirect_stdout(io.StringIO()) as run_out:
        loop.run(5)
    assert "Converted" not in run_out.getvalue()
    assert loop.step == record["final_step"] == 13
    for i, got in enumerate(jax.tree_util.tree_leaves(loop.model.weights)):
        _close(np.asarray(got), TRAX[f"final_weights/{i}"])
    for i, got in enumerate(_slots(loop)):
        _close(got, TRAX[f"final_slots/{i}"])
    # The history continues Trax's (which lacks the entries of step 8,
    # written after Trax saved that checkpoint).
    for key, pairs in record["history"].items():
        mode, metric = key.split("/", 1)
        got = loop.history.get(mode, metric)
        assert [s for s, _ in got] == [s for s, _ in pairs], key
        np.testing.assert_allclose([float(v) for _, v in got],
                                   [v for _, v in pairs], rtol=1e-6,
                                   err_msg=key)
    loop.close()

    # Our own checkpoints from then on; the next Loop resumes from them.
    assert (out / "checkpoints" / "12").is_dir()
    again, said = _loop(out)
    assert again.step == 12 and "Converted" not in said
    again.close()


def test_the_same_continuation_as_trax_in_the_training_api_oracle(tmp_path):
    # The training-API oracle's run d: Trax's second Loop's final weights.
    arrays = np.load(DATA / "training_api" / "training_api.npz")
    out = tmp_path / "run"
    shutil.copytree(RESUME / "output_dir", out)
    loop, _ = _loop(out)
    with contextlib.redirect_stdout(io.StringIO()):
        loop.run(5)
    paths = ["0/0", "0/1", "2/0", "2/1"]
    for got, path in zip(jax.tree_util.tree_leaves(loop.model.weights),
                         paths):
        _close(np.asarray(got), arrays[f"d/second/final_weights/{path}"])
    loop.close()
