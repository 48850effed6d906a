"""Real Trax checkpoint files, and what real Trax reads from them.

Run with a Python that has **real Google Trax** installed (not
trax_compat), from the repository root:

    python tests/testdata/generate_checkpoints.py OUT --fixtures DIR

``DIR`` is the developer fixture folder ``trax_oracle/checkpoints`` (its
README says how its files were made with Trax). Writes into
``OUT/trax_oracle/checkpoints/``:

* ``loop_a/``, ``layer_save_to_file/``, ``trainer_lib/``, ``bfloat16_loop/``:
  the fixture's Trax files, unchanged; ``checkpoints.json.gz`` and
  ``checkpoints.npz``: the fixture's record of what real Trax reads from them.
* ``oldest/``: the two oldest formats, which current Trax no longer writes,
  built here with Trax's own ``History`` in the layout Trax's trainer of 2019
  and early 2020 pickled (``model.pkl``, uncompressed): ``tuple_model.pkl``
  ``(opt_state, step, history, model_state)`` with ``opt_state = (weights,
  slots, opt_params)`` and ``dict_model.pkl`` ``{'weights', 'slots',
  'opt_params', 'step', 'history', 'state'}``, weights as nested tuples; and
  the sharded Loop format of late 2020 (``sharded/model.pkl.gz`` whose
  ``flat_weights`` counts ``model.pkl.gz.shard<i>`` pickles of weight lists).
  ``oldest.npz`` holds their arrays.
* ``resume/``: Trax's ``d_resume`` run of ``training_api`` (``Loop.run(10)``
  with checkpoints every 4 steps) left in ``resume/output_dir/``, and, in
  ``resume.json`` / ``resume.npz``, real Trax's continuation: a new Loop on
  that output_dir restored at step 8, then ``run(5)`` (history, final
  weights, Adam slots).
* ``written_by_us.json``, when ``--ours DIR`` names the output_dir of
  trax_compat's ``Loop(..., checkpoint_format='trax')`` of the resume run
  after ``run(10)`` (``test_trax_checkpoints_write.py`` writes it with
  ``write_ours(DIR)``): what real Trax's ``init_from_file`` and
  ``Loop.load_checkpoint`` read from those files (step, outputs on ``x``,
  Adam slots, history), and the weights after Trax trains on from them
  with ``run(5)``; with ``--ours-bfloat16 DIR`` (the bfloat16 Loop of
  ``test_bfloat16_weights_are_written_as_bits`` after ``run(2)``), what
  real Trax's Loop restores from it (step, dtypes, outputs on ``x``).
"""

import argparse
import contextlib
import io
import json
import os
import pathlib
import pickle
import shutil
import tempfile

import numpy as np

import trax
from trax import layers as tl
from trax import shapes
from trax.supervised import history as trax_history
from trax.supervised import training

import oracle_common as oc  # this folder

FIXTURE_CASES = ("loop_a", "layer_save_to_file", "trainer_lib",
                 "bfloat16_loop")
W_TRUE = [1.0, -1.0, 0.5, 0.0, 0.0, 2.0, 0.0, -0.5]


def make_stream(seed, batch_size, w_true=W_TRUE):
    rng = np.random.default_rng(seed)
    w = np.asarray(w_true, dtype=np.float64)
    while True:
        x = rng.standard_normal((batch_size, 8)).astype(np.float32)
        y = (x.astype(np.float64) @ w > 0).astype(np.int64)
        yield (x, y, np.ones((batch_size,), dtype=np.float32))


def small_model():
    return tl.Serial(tl.Dense(16), tl.Relu(), tl.Dense(2), tl.LogSoftmax())


def copy_fixtures(fixtures, out):
    for case in FIXTURE_CASES:
        shutil.copytree(fixtures / case, out / case, dirs_exist_ok=True)
        (out / case).chmod(0o755)
        for f in (out / case).iterdir():
            f.chmod(0o644)
    record = json.loads((fixtures / "checkpoints.json").read_text())
    oc.write_json_gz(out / "checkpoints.json.gz", record)
    shutil.copyfile(fixtures / "checkpoints.npz", out / "checkpoints.npz")
    (out / "checkpoints.npz").chmod(0o644)


def _history():
    h = trax_history.History()
    h.append("train", "metrics/loss", 1, np.float32(0.75))
    h.append("train", "metrics/loss", 5, np.float32(0.5))
    h.append("eval", "metrics/accuracy", 5, 0.625)
    return h


def oldest(out):
    """The formats Trax no longer writes, in the layouts its code wrote."""
    d = out / "oldest"
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    f32 = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    # Serial(Dense(4), Relu(), Dense(2), LogSoftmax()) in the nested form,
    # plus the empty tuples of layers without weights.
    weights = ((f32(8, 4), f32(4)), (), (f32(4, 2), f32(2)), ())
    slots = tuple((f32(*w.shape), np.abs(f32(*w.shape)))
                  for layer in weights for w in layer)
    opt_params = {"learning_rate": np.float32(0.01), "b1": np.float32(0.9)}
    state = ((), (), (), ())
    arrays = {}
    for i, w in enumerate(trax.fastmath.tree_flatten(weights)):
        arrays[f"weights/{i}"] = w
    for i, s in enumerate(trax.fastmath.tree_flatten(slots)):
        arrays[f"slots/{i}"] = s
    with open(d / "tuple_model.pkl", "wb") as f:
        pickle.dump(((weights, slots, opt_params), 7, _history(), state), f)
    with open(d / "dict_model.pkl", "wb") as f:
        pickle.dump({"weights": weights, "slots": slots,
                     "opt_params": opt_params, "step": 9,
                     "history": _history(), "state": state}, f)
    # Sharded (memory-efficient trainer, late 2020): the int in
    # flat_weights counts the shards; each shard pickles a list.
    sd = d / "sharded"
    sd.mkdir(exist_ok=True)
    flat = trax.fastmath.tree_flatten(weights)
    shards = [flat[:3], flat[3:]]
    for i, shard in enumerate(shards):
        training.pickle_to_file(shard, str(sd / f"model.pkl.gz.shard{i}"),
                                gzip=False)
    training.pickle_to_file({
        "step": 11, "flat_weights": len(shards), "flat_state": [],
        "flat_eval_state": [], "slots_per_task": [list(
            trax.fastmath.tree_flatten(slots))],
        "input_signature": (shapes.ShapeDtype((4, 8), np.float32),),
        "history": _history().to_dict()}, str(sd / "model.pkl.gz"),
        gzip=True)
    np.savez(out / "oldest.npz", **arrays)
    x = np.random.default_rng(7).standard_normal((3, 8)).astype(np.float32)
    model = tl.Serial(tl.Dense(4), tl.Relu(), tl.Dense(2), tl.LogSoftmax())
    model.init(shapes.signature(x))
    model.weights = tuple(w if w else model.weights[i]
                          for i, w in enumerate(weights))
    return {"x": oc.array(x), "outputs": oc.array(np.asarray(model(x))),
            "steps": {"tuple_model.pkl": 7, "dict_model.pkl": 9,
                      "sharded/model.pkl.gz": 11}}


def _d_loop(output_dir):
    tt = training.TrainTask(labeled_data=make_stream(101, 8),
                            loss_layer=tl.WeightedCategoryCrossEntropy(),
                            optimizer=trax.optimizers.Adam(0.01),
                            n_steps_per_checkpoint=4)
    et = training.EvalTask(labeled_data=make_stream(102, 4),
                           metrics=[tl.WeightedCategoryCrossEntropy(),
                                    tl.WeightedCategoryAccuracy()],
                           n_eval_batches=1)
    return training.Loop(small_model(), tt, eval_tasks=[et],
                         output_dir=str(output_dir), random_seed=1)


def _flat_slots(loop):
    return [np.asarray(s) for s in trax.fastmath.tree_flatten(
        loop._trainer_per_task[0].slots) if s is not None]  # pylint: disable=protected-access


def resume(out):
    """Trax's resume of a Loop from its output_dir (training_api run d)."""
    d = out / "resume"
    output_dir = d / "output_dir"
    if output_dir.exists():
        shutil.rmtree(output_dir)
    with contextlib.redirect_stdout(io.StringIO()):
        _d_loop(output_dir).run(10)
    for name in os.listdir(output_dir):  # Only the checkpoint is needed.
        if not name.startswith("model."):
            path = output_dir / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    keep = {p.name: p.read_bytes() for p in output_dir.iterdir()}
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in keep.items():
            (pathlib.Path(tmp) / name).write_bytes(data)
        with contextlib.redirect_stdout(io.StringIO()):
            loop = _d_loop(tmp)
            step_after_constructor = loop.step
            slots_after_constructor = _flat_slots(loop)
            loop.run(5)
        arrays = {}
        for i, s in enumerate(slots_after_constructor):
            arrays[f"slots_after_constructor/{i}"] = s
        for i, w in enumerate(trax.fastmath.tree_flatten(loop.model.weights)):
            arrays[f"final_weights/{i}"] = np.asarray(w)
        for i, s in enumerate(_flat_slots(loop)):
            arrays[f"final_slots/{i}"] = s
        np.savez(d / "resume.npz", **arrays)
        record = {"step_after_constructor": step_after_constructor,
                  "final_step": loop.step,
                  "history": oc.history(loop.history)}
    return record


def verify_ours(ours_dir):
    """What real Trax reads from files trax_compat wrote in its format."""
    ours_dir = pathlib.Path(ours_dir)
    x = np.random.default_rng(7).standard_normal((3, 8)).astype(np.float32)
    result = {}
    model = small_model()
    model.init_from_file(str(ours_dir / "model.pkl.gz"), weights_only=True)
    result["init_from_file_outputs"] = oc.array(np.asarray(model(x)))
    with tempfile.TemporaryDirectory() as tmp:
        with contextlib.redirect_stdout(io.StringIO()):
            loop = _d_loop(tmp)
            loop.load_checkpoint(directory=str(ours_dir), filename="model")
        result["loop_step"] = loop.step
        result["loop_outputs"] = oc.array(np.asarray(loop.model(x)))
        result["loop_slots"] = [oc.array(s) for s in _flat_slots(loop)]
        result["loop_history"] = oc.history(loop.history)
        with contextlib.redirect_stdout(io.StringIO()):
            loop.run(5)
        result["loop_step_after_run"] = loop.step
        result["loop_final_weights"] = [
            oc.array(w) for w in trax.fastmath.tree_flatten(loop.model.weights)]
    return result


def bf16_stream():
    rng = np.random.default_rng(3)
    while True:
        x = rng.standard_normal((4, 8)).astype(np.float32)
        yield x, (x[:, 0] + x[:, 1] > 0).astype(np.int64), np.ones(
            (4,), np.float32)


def verify_ours_bfloat16(ours_dir):
    """Real Trax's Loop restoring bfloat16 weights trax_compat wrote."""
    task = training.TrainTask(bf16_stream(), tl.WeightedCategoryCrossEntropy(),
                              trax.optimizers.Adam(0.01),
                              n_steps_per_checkpoint=2)
    model = tl.Serial(tl.Dense(4, use_bfloat16=True), tl.Relu(),
                      tl.Dense(2, use_bfloat16=True), tl.LogSoftmax())
    with contextlib.redirect_stdout(io.StringIO()):
        loop = training.Loop(model, task, output_dir=str(ours_dir),
                             random_seed=0)
    x = np.random.default_rng(7).standard_normal((3, 8)).astype(np.float32)
    return {"step": loop.step,
            "weight_dtypes": [str(w.dtype) for w in trax.fastmath.tree_flatten(
                loop.model.weights)],
            "outputs": oc.array(np.asarray(loop.model(x)).astype(np.float32))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--fixtures", required=True)
    parser.add_argument("--ours", default=None)
    parser.add_argument("--ours-bfloat16", default=None)
    args = parser.parse_args()
    out = pathlib.Path(args.out) / "trax_oracle" / "checkpoints"
    out.mkdir(parents=True, exist_ok=True)
    if args.ours:
        record = dict(env=oc.env("generate_checkpoints.py"),
                      **verify_ours(args.ours))
        if args.ours_bfloat16:
            record["bfloat16"] = verify_ours_bfloat16(args.ours_bfloat16)
        oc.write_json(out / "written_by_us.json", record)
        return
    copy_fixtures(pathlib.Path(args.fixtures), out)
    oc.write_json(out / "generated.json", {
        "env": oc.env("generate_checkpoints.py"),
        "oldest": oldest(out), "resume": resume(out)})


if __name__ == "__main__":
    main()
