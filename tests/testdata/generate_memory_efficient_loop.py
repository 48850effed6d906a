"""Records real Trax's ``Loop(use_memory_efficient_trainer=True)``.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_memory_efficient_loop.py tests/testdata

It writes ``OUT/trax_oracle/memory_efficient_loop/runs.json`` and
``runs.npz`` (zip entries dated 1980-01-01). Each run of ``RUNS`` builds
its model, task and eval task from ``setup()`` (shared with the test) and,
with ``random_seed`` and ``use_memory_efficient_trainer=True``:

    loop = Loop(model, task, eval_tasks=[eval_task], output_dir=D,
                random_seed=SEED, use_memory_efficient_trainer=True, ...)
        -> the model's initial weight leaves (``<run>/init/<i>``)
    loop.run(N_STEPS)
        -> stdout (timings masked), history, checkpoint files, the final
           weight leaves (``<run>/final/<i>``)
    Loop(model, task, output_dir=D, use_memory_efficient_trainer=True)
        -> the step it resumes at and its weight leaves
           (``<run>/resumed/<i>``)

The models are deterministic (no dropout), so the steps do not depend on
how the Loop derives its per-step keys.
"""

import argparse
import contextlib
import io
import itertools
import json
import os
import pathlib
import re
import sys
import tempfile

import numpy as np

RUNS = {
    # Two reversible layers between standard ones; Adam given as a class
    # (Trax's memory-efficient trainer makes one per layer), a rate from
    # the task's schedule, checkpoints every 3 steps of 7.
    "classifier": dict(seed=5, n_steps=7, steps_per_checkpoint=3,
                       loss_chunk_size=0),
    # A language model whose loss is chunked (extract_reversible_blocks'
    # loss_chunk_size): the initial weights follow the chunked loss.
    "lm_chunked_loss": dict(seed=2, n_steps=5, steps_per_checkpoint=2,
                            loss_chunk_size=4),
}


def batches(name):
    """A repeating stream of three batches (NumPy's legacy RandomState)."""
    rs = np.random.RandomState(7 if name == "classifier" else 8)
    out = []
    for _ in range(3):
        ids = rs.randint(1, 11, size=(4, 5)).astype(np.int32)
        if name == "classifier":
            out.append((ids, (ids[:, 0] % 3).astype(np.int32),
                        np.ones((4,), np.float32)))
        else:
            targets = np.roll(ids, -1, axis=1) % 11
            w = np.ones((4, 5), np.float32)
            w[:, -1] = 0
            out.append((ids, targets.astype(np.int32), w))
    return itertools.cycle(out)


def setup(name, tl, optimizers, lr, training):
    """(model, train task, eval task) for run ``name``; ``tl``,
    ``optimizers``, ``lr`` and ``training`` are Trax's or trax_compat's."""
    if name == "classifier":
        model = tl.Serial(
            tl.Embedding(11, 6), tl.Dup(),
            tl.ReversibleHalfResidual(tl.Dense(6)), tl.ReversibleSwap(),
            tl.ReversibleHalfResidual(tl.Relu(), tl.Dense(6)),
            tl.ReversibleSwap(), tl.Concatenate(), tl.Mean(axis=1),
            tl.Dense(3))
        loss = tl.WeightedCategoryCrossEntropy()
        metrics = [tl.WeightedCategoryCrossEntropy(),
                   tl.WeightedCategoryAccuracy()]
    else:
        model = tl.Serial(
            tl.Embedding(11, 6), tl.Dup(),
            tl.ReversibleHalfResidual(tl.Dense(6)), tl.ReversibleSwap(),
            tl.Select([0], n_in=2, name="Select"), tl.Dense(11),
            tl.LogSoftmax())
        loss = tl.CrossEntropyLoss()
        metrics = [tl.CrossEntropyLoss()]
    task = training.TrainTask(
        batches(name), loss, optimizers.Adam,
        lr_schedule=lr.multifactor(constant=0.02, factors="constant"),
        n_steps_per_checkpoint=RUNS[name]["steps_per_checkpoint"])
    eval_task = training.EvalTask(batches(name), metrics, n_eval_batches=2)
    return model, task, eval_task


def leaves(tree):
    import jax  # pylint: disable=import-outside-toplevel
    return [np.asarray(a) for a in jax.tree_util.tree_leaves(tree)]


def mask_timings(text):
    """Step-log timings vary run to run."""
    return re.sub(r"in +[0-9.]+ secs", "in <t> secs", text)


def run(name, trax_modules, out_dir, arrays):
    """One run with ``trax_modules = (tl, optimizers, lr, training)``;
    returns its record and fills ``arrays``."""
    tl, optimizers, lr, training = trax_modules
    cfg = RUNS[name]
    model, task, eval_task = setup(name, tl, optimizers, lr, training)
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        loop = training.Loop(model, task, eval_tasks=[eval_task],
                             output_dir=out_dir, random_seed=cfg["seed"],
                             loss_chunk_size=cfg["loss_chunk_size"],
                             use_memory_efficient_trainer=True)
        for i, a in enumerate(leaves(model.weights)):
            arrays[f"{name}/init/{i}"] = a
        loop.run(cfg["n_steps"])
    for i, a in enumerate(leaves(model.weights)):
        arrays[f"{name}/final/{i}"] = a
    history = {f"{mode}/{metric}": [[int(s), float(v)] for s, v in
                                    loop.history.get(mode, metric)]
               for mode in loop.history.modes
               for metric in loop.history.metrics_for_mode(mode)
               if "steps per second" not in metric}
    files = sorted(f for f in os.listdir(out_dir)
                   if f.startswith("model") and f.endswith(".pkl.gz"))
    model2, task2, _ = setup(name, tl, optimizers, lr, training)
    with contextlib.redirect_stdout(io.StringIO()):
        loop2 = training.Loop(model2, task2, output_dir=out_dir,
                              loss_chunk_size=cfg["loss_chunk_size"],
                              use_memory_efficient_trainer=True)
    for i, a in enumerate(leaves(model2.weights)):
        arrays[f"{name}/resumed/{i}"] = a
    return {"stdout": mask_timings(stdout.getvalue()), "history": history,
            "checkpoint_files": files, "resumed_step": int(loop2.step)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=pathlib.Path)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    import oracle_common  # pylint: disable=import-outside-toplevel
    from make_testdata import write_npz  # pylint: disable=import-outside-toplevel
    import trax  # pylint: disable=import-outside-toplevel
    from trax import layers as tl  # pylint: disable=import-outside-toplevel
    from trax import optimizers  # pylint: disable=import-outside-toplevel
    from trax.supervised import training  # pylint: disable=import-outside-toplevel
    folder = args.out / "trax_oracle" / "memory_efficient_loop"
    folder.mkdir(parents=True, exist_ok=True)
    arrays, records = {}, {}
    for name in RUNS:
        print(f"[generate_memory_efficient_loop] {name}", file=sys.stderr)
        with tempfile.TemporaryDirectory() as tmp:
            records[name] = run(name, (tl, optimizers, trax.lr, training),
                                tmp, arrays)
    write_npz(folder / "runs.npz", dict(sorted(arrays.items())))
    oracle_common.write_json(folder / "runs.json", {
        "env": oracle_common.env("generate_memory_efficient_loop.py"),
        "runs": {name: {**RUNS[name], **records[name]} for name in RUNS}})


if __name__ == "__main__":
    main()
