"""Records real Trax's training API: Loop runs and learning-rate schedules.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root (about a minute):

    python tests/testdata/generate_training_api.py OUT

It writes into ``OUT/trax_oracle/training_api/`` (README.md describes the
fields; ``make_testdata.py`` gzips the JSON files):

* ``training_api.json`` and ``training_api.npz``: ``TrainTask`` /
  ``EvalTask`` / ``Loop`` runs, in one process and this order, on the
  synthetic ``make_stream`` batches and a fresh
  ``Serial(Dense(16), Relu(), Dense(2), LogSoftmax())`` each, with
  ``random_seed=1``: a ``multifactor`` schedule with permanent and
  highest-metric checkpoints (a), two tasks with the default and a custom
  ``which_task`` (b1, b2), a recording callback (c), a resume by a new Loop
  (d), custom ``eval_at``/``checkpoint_at`` with a lowest-metric checkpoint
  (e), ``save_checkpoint``/``load_checkpoint`` (g). Per run: stdout, history,
  checkpoint files and steps, the order batches were pulled; the weights in
  the npz.
* ``lr_schedules.json``: every public ``trax.lr`` schedule (the
  ``SCHEDULES`` constructors, evaluated with ``lr = trax.lr``) at steps
  0..200, under Trax's NumPy backend (as ``TrainTask.learning_rate``
  evaluates it) and under the default JAX backend, with the Python type of
  every value; an unknown factor's error; and ``TrainTask.learning_rate``
  without a schedule.
"""

import argparse
import contextlib
import gzip
import io
import pathlib
import pickle
import sys
import tempfile

import numpy as np

import trax
from trax import layers as tl
from trax import lr  # pylint: disable=unused-import  (the constructors' name)
from trax.supervised import callbacks
from trax.supervised import history as trax_history
from trax.supervised import training

import oracle_common as oc  # this folder

PARAMS = {"n_steps": 200, "value": 0.01, "n_warmup_steps": 10,
          "max_value": 0.02, "constant": 0.1, "warmup_steps": 20,
          "decay_factor": 0.5, "steps_per_decay": 30, "steps_per_cycle": 50,
          "second_constant": 0.003, "second_constant_step": 60,
          "minimum": 0.004}
_MF = ("constant=0.1, warmup_steps=20, decay_factor=0.5, steps_per_decay=30,"
       " steps_per_cycle=50, second_constant=0.003, second_constant_step=60")
# multifactor cases: (name, factors, with minimum)
_FACTORS = [
    ("constant", "constant", False),
    ("linear_warmup", "linear_warmup", False),
    ("rsqrt_decay", "rsqrt_decay", False),
    ("rsqrt_normalized_decay", "rsqrt_normalized_decay", False),
    ("decay_every", "decay_every", False),
    ("cosine_decay", "cosine_decay", False),
    ("two_constants", "two_constants", False),
    ("constant*linear_warmup", "constant * linear_warmup", False),
    ("constant*linear_warmup*rsqrt_decay",
     "constant * linear_warmup * rsqrt_decay", False),
    ("constant*linear_warmup*cosine_decay",
     "constant * linear_warmup * cosine_decay", False),
    ("constant*decay_every", "constant * decay_every", False),
    ("constant*linear_warmup*rsqrt_normalized_decay",
     "constant * linear_warmup * rsqrt_normalized_decay", False),
    ("two_constants*linear_warmup", "two_constants * linear_warmup", False),
    ("constant*linear_warmup*rsqrt_decay, no spaces",
     "constant*linear_warmup*rsqrt_decay", False),
    ("constant*linear_warmup*rsqrt_decay, minimum",
     "constant * linear_warmup * rsqrt_decay", True),
    ("constant*rsqrt_decay, minimum", "constant * rsqrt_decay", True),
    ("constant*linear_warmup*cosine_decay, minimum",
     "constant * linear_warmup * cosine_decay", True),
]
SCHEDULES = {
    "constant": "lr.constant(value=0.01)",
    "warmup": "lr.warmup(n_warmup_steps=10, max_value=0.02)",
    "warmup_and_rsqrt_decay":
        "lr.warmup_and_rsqrt_decay(n_warmup_steps=10, max_value=0.02)",
    "multifactor_all_defaults": "lr.multifactor()",
    **{f"multifactor[{name}]": f"lr.multifactor(factors='{factors}', {_MF}"
       + (", minimum=0.004)" if minimum else ")")
       for name, factors, minimum in _FACTORS},
}
W_TRUE = [1.0, -1.0, 0.5, 0.0, 0.0, 2.0, 0.0, -0.5]


def make_stream(seed, batch_size, w_true):
    """An endless stream of (x, y, weights) batches (no Trax data code)."""
    rng = np.random.default_rng(seed)
    w = np.asarray(w_true, dtype=np.float64)
    while True:
        x = rng.standard_normal((batch_size, 8)).astype(np.float32)
        y = (x.astype(np.float64) @ w > 0).astype(np.int64)
        yield (x, y, np.ones((batch_size,), dtype=np.float32))


def type_name(value):
    return f"{type(value).__module__}.{type(value).__qualname__}"


def types_by_step(values):
    """Python type -> [first, last] step ranges of the values of that type."""
    out = {}
    for step, value in enumerate(values):
        ranges = out.setdefault(type_name(value), [])
        if ranges and ranges[-1][1] == step - 1:
            ranges[-1][1] = step
        else:
            ranges.append([step, step])
    return dict(sorted(out.items()))


def evaluate(schedule, n_steps):
    values = [schedule(step) for step in range(n_steps + 1)]
    return {"values": [float(v) for v in values],
            "types_by_step": types_by_step(values)}


def lr_schedules():
    n_steps = PARAMS["n_steps"]
    schedules = {}
    for name, constructor in SCHEDULES.items():
        with trax.fastmath.use_backend(trax.fastmath.Backend.NUMPY):
            numpy_backend = evaluate(eval(constructor), n_steps)  # pylint: disable=eval-used
        jax_backend = evaluate(eval(constructor), n_steps)  # pylint: disable=eval-used
        schedules[name] = {
            "constructor": constructor,
            "numpy_backend": numpy_backend,
            "jax_backend": jax_backend,
            "backends_equal_as_float32": bool(np.array_equal(
                np.float32(numpy_backend["values"]),
                np.float32(jax_backend["values"]))),
        }
    errors = []
    call = "lr.multifactor(factors='constant * bogus')(5)"
    try:
        eval(call)  # pylint: disable=eval-used
        errors.append({"call": call, "error_type": None})
    except Exception as e:  # pylint: disable=broad-except
        errors.append({"call": call, "error_type": type(e).__name__,
                       "error_message": str(e)})
    task = training.TrainTask(make_stream(101, 8, W_TRUE),
                              tl.WeightedCategoryCrossEntropy(),
                              trax.optimizers.Adam(0.0123))
    no_schedule = [task.learning_rate(step) for step in range(4)]
    return {
        "n_steps": n_steps,
        "steps": f"values[i] is the value at step i, i = 0..{n_steps}",
        "schedules": schedules,
        "errors": errors,
        "train_task_without_lr_schedule": {
            "call": "TrainTask(<stream>, tl.WeightedCategoryCrossEntropy(), "
                    "trax.optimizers.Adam(0.0123)).learning_rate(step)",
            "values_steps_0_to_3": [float(v) for v in no_schedule],
            "type": type_name(no_schedule[0]),
        },
        "env": oc.env("generate_training_api.py", with_tensorflow=True,
                      set="dev"),
        "params": PARAMS,
    }



# -- the Loop runs (training_api.json, training_api.npz) ----------------------

W_TRUE2 = [0.0, 1.0, 0.0, -1.5, 1.0, 0.0, 0.5, 0.0]
LOOP_SEED = 1
STREAMS = {"train": (101, 8, W_TRUE), "eval": (102, 4, W_TRUE),
           "train2": (103, 8, W_TRUE2), "eval2": (104, 4, W_TRUE2)}
N_STORED = 40
WHICH_TASK = "lambda step: 0 if step < 6 else 1"
CALL_AT = "lambda step: step % 3 == 0"
EVAL_AT = "lambda s: s % 4 == 0"
CHECKPOINT_AT = "lambda s: s == 7"
RUN_PARAMS = {
    "d_hidden": 16, "loop_seed": LOOP_SEED,
    "seeds": {name: seed for name, (seed, _, _) in STREAMS.items()},
    "w_true": W_TRUE, "w_true2": W_TRUE2, "train_batch": 8, "eval_batch": 4,
    "a": {"constant": 0.05, "warmup_steps": 4, "n_steps_per_checkpoint": 5,
          "n_steps_per_permanent_checkpoint": 10, "n_eval_batches": 2,
          "n_steps": 20},
    "b": {"lr0": 0.01, "lr1": 0.02, "n_steps_per_checkpoint": 4,
          "n_steps": 12, "which_task_src": WHICH_TASK},
    "c": {"call_at_src": CALL_AT, "n_steps": 10, "n_steps_per_checkpoint": 2},
    "d": {"n_steps_per_checkpoint": 4, "n_steps_first": 10,
          "n_steps_second": 5},
    "e": {"eval_at_src": EVAL_AT, "checkpoint_at_src": CHECKPOINT_AT,
          "n_steps": 12},
    "g": {"n_steps": 6, "n_steps_after": 2, "n_steps_per_checkpoint": 4},
}
EVENTS_NAME = "events.out.tfevents.<TIMESTAMP>.<HOSTNAME>"


class Streams:
    """Fresh streams for one Loop; every ``next()`` is logged as
    ``"<stream>@<loop.step>"`` (``@construct`` before the Loop exists)."""

    def __init__(self):
        self.loop = None
        self.consumption = []

    def __call__(self, name):
        seed, batch_size, w_true = STREAMS[name]
        stream = make_stream(seed, batch_size, w_true)
        while True:
            batch = next(stream)
            at = "construct" if self.loop is None else self.loop.step
            self.consumption.append(f"{name}@{at}")
            yield batch


def model():
    return tl.Serial(tl.Dense(16), tl.Relu(), tl.Dense(2), tl.LogSoftmax())


def train_task(data, lr_=0.01, loss=None, **kwargs):
    return training.TrainTask(
        labeled_data=data,
        loss_layer=loss or tl.WeightedCategoryCrossEntropy(),
        optimizer=trax.optimizers.Adam(lr_), **kwargs)


def eval_task(data, n_eval_batches=1, metric_names=None):
    return training.EvalTask(
        labeled_data=data,
        metrics=[tl.WeightedCategoryCrossEntropy(),
                 tl.WeightedCategoryAccuracy()],
        metric_names=metric_names, n_eval_batches=n_eval_batches)


@contextlib.contextmanager
def captured():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        yield out


def flat(tree, path=()):
    """(index path "i/j", leaf) in Trax's flat (depth-first) order."""
    if isinstance(tree, (tuple, list)):
        for i, sub in enumerate(tree):
            yield from flat(sub, path + (str(i),))
    else:
        yield "/".join(path), np.asarray(tree)


def listed(tree):
    return [[path, list(a.shape), a.dtype.name] for path, a in flat(tree)]


def same(tree_a, tree_b):
    a, b = list(flat(tree_a)), list(flat(tree_b))
    return len(a) == len(b) and all(
        x.shape == y.shape and np.array_equal(x, y)
        for (_, x), (_, y) in zip(a, b))


def nested_history(history):
    """{mode: {metric: [[step, value], ...]}}, without steps per second."""
    return {mode: {metric: [[int(s), float(v)]
                            for s, v in history.get(mode, metric)]
                   for metric in history.metrics_for_mode(mode)
                   if metric != "training/steps per second"}
            for mode in history.modes}


def history_types(history):
    return {mode: {metric: sorted({type_name(v) for _, v in
                                   history.get(mode, metric)})
                   for metric in history.metrics_for_mode(mode)
                   if metric != "training/steps per second"}
            for mode in history.modes}


def output_dir_files(output_dir):
    """Relative paths; one placeholder per folder for the event files (their
    names hold a timestamp and host, and their number varies)."""
    names = set()
    for path in pathlib.Path(output_dir).rglob("*"):
        if path.is_file():
            rel = path.relative_to(output_dir)
            if rel.name.startswith("events.out.tfevents."):
                rel = rel.parent / EVENTS_NAME
            names.add(rel.as_posix())
    return sorted(names)


def read_pkl(path):
    with gzip.open(path, "rb") as f:
        return pickle.load(f)


def checkpoint_steps(output_dir):
    return {p.name: int(read_pkl(p)["step"])
            for p in sorted(pathlib.Path(output_dir).glob("*.pkl.gz"))}


def run_record(loop, stdout, output_dir, arrays, key):
    arrays.update({f"{key}/final_weights/{path}": a
                   for path, a in flat(loop.model.weights)})
    record = {"stdout": stdout, "final_step": int(loop.step),
              "history": nested_history(loop.history),
              "history_value_types": history_types(loop.history),
              "final_weights": listed(loop.model.weights)}
    if output_dir is not None:
        record["output_dir_files"] = output_dir_files(output_dir)
        record["checkpoint_steps"] = checkpoint_steps(output_dir)
    return record


def run_loop(streams, build, n_steps, output_dir, arrays, key):
    """Builds the Loop (capturing its stdout), runs it, records it."""
    with captured() as out:
        loop = build()
        streams.loop = loop
        loop.run(n_steps)
    return loop, {**run_record(loop, out.getvalue(), output_dir, arrays, key),
                  "consumption": streams.consumption}


def run_a(tmp, arrays):
    p = RUN_PARAMS["a"]
    s, output_dir = Streams(), tmp / "a"
    task = train_task(
        s("train"), lr_schedule=trax.lr.multifactor(
            constant=p["constant"],
            factors="constant * linear_warmup * rsqrt_decay",
            warmup_steps=p["warmup_steps"]),
        n_steps_per_checkpoint=p["n_steps_per_checkpoint"],
        n_steps_per_permanent_checkpoint=p[
            "n_steps_per_permanent_checkpoint"])
    evals = [eval_task(s("eval"), n_eval_batches=p["n_eval_batches"])]
    with captured() as out:
        loop = training.Loop(
            model(), task, eval_tasks=evals, output_dir=str(output_dir),
            checkpoint_high_metric="WeightedCategoryAccuracy",
            random_seed=LOOP_SEED)
        s.loop = loop
        init_weights = loop.model.weights
        loop.run(p["n_steps"])
    arrays.update({f"a/init_weights/{path}": a
                   for path, a in flat(init_weights)})
    record = run_record(loop, out.getvalue(), output_dir, arrays, "a")
    lrs = [task.learning_rate(step) for step in range(p["n_steps"] + 1)]
    pkl = read_pkl(output_dir / "model.pkl.gz")
    slots = tl.np_from_file(str(output_dir / "model.opt_slots0.npy.gz"),
                            compresslevel=pkl["slots_per_task"])
    arrays.update({f"a/model.opt_slots0/{i}": a for i, a in enumerate(slots)})
    return {**record, "init_weights": listed(init_weights),
            "weights_typed": oc.tree_typed(init_weights),
            "consumption": s.consumption,
            "learning_rate_by_step": [[i, float(v)]
                                      for i, v in enumerate(lrs)],
            "learning_rate_by_step_types": sorted(
                {type(v).__name__ for v in lrs}),
            "history_in_model_pkl": nested_history(
                trax_history.History.from_dict(pkl["history"])),
            "model_pkl_step": int(pkl["step"]),
            "opt_slots0_file": [[list(a.shape), a.dtype.name]
                                for a in slots]}


def run_b(tmp, arrays, key, which_task, eval1_names):
    p = RUN_PARAMS["b"]
    s, output_dir = Streams(), tmp / key

    def build():
        t0 = train_task(s("train"), p["lr0"],
                        n_steps_per_checkpoint=p["n_steps_per_checkpoint"])
        t1 = train_task(s("train2"), p["lr1"], loss=tl.CrossEntropyLoss(),
                        n_steps_per_checkpoint=p["n_steps_per_checkpoint"])
        e0 = eval_task(s("eval"))
        e1 = eval_task(s("eval2"), metric_names=eval1_names)
        return training.Loop(
            model(), [t0, t1], eval_tasks=[e0, e1],
            output_dir=str(output_dir),
            which_task=None if which_task is None else eval(which_task),  # pylint: disable=eval-used
            random_seed=LOOP_SEED)

    _, record = run_loop(s, build, p["n_steps"], output_dir, arrays, key)
    if which_task is not None:
        record.update({"which_task": which_task,
                       "eval_task_1_metric_names": eval1_names})
    return record


def run_c(tmp, arrays):
    p = RUN_PARAMS["c"]
    s, output_dir = Streams(), tmp / "c"
    events = []
    recording_callback = oc.recording_callback(
        callbacks.TrainingStepCallback, eval(CALL_AT), events)  # pylint: disable=eval-used

    def build():
        task = train_task(s("train"),
                          n_steps_per_checkpoint=p["n_steps_per_checkpoint"])
        return training.Loop(model(), task, eval_tasks=[eval_task(s("eval"))],
                             output_dir=str(output_dir),
                             callbacks=[recording_callback],
                             random_seed=LOOP_SEED)

    _, record = run_loop(s, build, p["n_steps"], output_dir, arrays, "c")
    consumption = record.pop("consumption")
    return {**record, "events": events, "call_at": CALL_AT,
            "consumption": consumption}


def d_loop(s, output_dir):
    task = train_task(
        s("train"), n_steps_per_checkpoint=RUN_PARAMS["d"][
            "n_steps_per_checkpoint"])
    return training.Loop(model(), task, eval_tasks=[eval_task(s("eval"))],
                         output_dir=str(output_dir), random_seed=LOOP_SEED)


def run_d(tmp, arrays):
    p = RUN_PARAMS["d"]
    output_dir = tmp / "d"
    s1 = Streams()
    loop1, first = run_loop(s1, lambda: d_loop(s1, output_dir),
                            p["n_steps_first"], output_dir, arrays, "d/first")
    pkl = read_pkl(output_dir / "model.pkl.gz")
    on_disk = tl.np_from_file(str(output_dir / "model.weights.npy.gz"),
                              compresslevel=pkl["flat_weights"])
    s2 = Streams()
    with captured() as out:
        loop2 = d_loop(s2, output_dir)  # restores model.pkl.gz
    s2.loop = loop2
    after_constructor = loop2.model.weights
    arrays.update({f"d/second/weights_after_constructor/{path}": a
                   for path, a in flat(after_constructor)})
    extra = {
        "stdout_constructor": out.getvalue(),
        "step_after_constructor": int(loop2.step),
        "model_pkl_step_on_disk": int(pkl["step"]),
        "history_after_constructor": nested_history(loop2.history),
        "weights_after_constructor_equal_checkpoint_file": same(
            [a for _, a in flat(after_constructor)], on_disk),
        "weights_after_constructor_equal_first_loop_final_weights": same(
            after_constructor, loop1.model.weights)}
    with captured() as out:
        loop2.run(p["n_steps_second"])
    second = {**run_record(loop2, out.getvalue(), output_dir, arrays,
                           "d/second"),
              "consumption": s2.consumption, **extra}
    return {"first": first, "second": second}


def run_e(tmp, arrays):
    s, output_dir = Streams(), tmp / "e"

    def build():
        return training.Loop(
            model(), train_task(s("train")), eval_tasks=[eval_task(s("eval"))],
            output_dir=str(output_dir),
            eval_at=eval(EVAL_AT), checkpoint_at=eval(CHECKPOINT_AT),  # pylint: disable=eval-used
            checkpoint_low_metric="WeightedCategoryCrossEntropy",
            random_seed=LOOP_SEED)

    _, record = run_loop(s, build, RUN_PARAMS["e"]["n_steps"], output_dir,
                         arrays, "e")
    return {**record, "eval_at": EVAL_AT, "checkpoint_at": CHECKPOINT_AT}


def run_g(tmp, arrays):
    p = RUN_PARAMS["g"]
    output_dir = tmp / "g"

    def build(s, directory):
        task = train_task(s("train"),
                          n_steps_per_checkpoint=p["n_steps_per_checkpoint"])
        return training.Loop(model(), task, eval_tasks=[eval_task(s("eval"))],
                             output_dir=directory, random_seed=LOOP_SEED)

    s1 = Streams()
    with captured() as out:
        loop1 = build(s1, str(output_dir))
        s1.loop = loop1
        loop1.run(p["n_steps"])
        loop1.save_checkpoint("custom")
    first = {**run_record(loop1, out.getvalue(), output_dir, arrays,
                          "g/first"), "consumption": s1.consumption}
    saved_slots = tl.np_from_file(str(output_dir / "custom.opt_slots0.npy.gz"),
                                  compresslevel=2)
    s2 = Streams()
    with captured() as out:
        loop2 = build(s2, None)
    s2.loop = loop2
    record = {"first": first, "stdout_loop2_constructor": out.getvalue(),
              "step_loop2_after_constructor": int(loop2.step),
              "load_attempts": []}
    for filename in ("custom.pkl.gz", "custom"):
        error = None
        with captured() as out:
            try:
                loop2.load_checkpoint(directory=str(output_dir),
                                      filename=filename)
            except Exception as e:  # pylint: disable=broad-except
                error = f"{type(e).__name__}: {e}"
        slots = [a for _, a in flat(loop2._trainer_per_task[0].slots)]  # pylint: disable=protected-access
        record["load_attempts"].append({
            "call": f"loop2.load_checkpoint(directory=<output_dir of loop 1>,"
                    f" filename={filename!r})",
            "stdout": out.getvalue(), "error": error,
            "step_after": int(loop2.step),
            "weights_equal_loop1": same(loop2.model.weights,
                                        loop1.model.weights),
            "eval_model_weights_equal_loop1": same(
                loop2.eval_model.weights, loop1.model.weights),
            "opt_slots_equal_loop1": same(slots, saved_slots),
            "history_equal_loop1": nested_history(loop2.history) ==
                                   nested_history(loop1.history)})
    with captured() as out:
        loop2.run(p["n_steps_after"])
    record["second_run_after_load"] = {
        **run_record(loop2, out.getvalue(), None, arrays, "g/second"),
        "consumption": s2.consumption}
    record["files_after_save"] = first["output_dir_files"]
    return record


def training_api(tmp):
    """The JSON object and the npz arrays (in the order they are saved)."""
    arrays = {}
    for name, (seed, batch_size, w_true) in STREAMS.items():
        stream = make_stream(seed, batch_size, w_true)
        batches = [next(stream) for _ in range(N_STORED)]
        for i, part in enumerate(("inputs", "labels", "weights")):
            arrays[f"data/{name}/{part}"] = np.stack([b[i] for b in batches])
    runs = {"a_lr_schedule": run_a(tmp, arrays),
            "b1_default_which_task": run_b(tmp, arrays, "b1", None, None),
            "b2_which_task_lambda": run_b(
                tmp, arrays, "b2", WHICH_TASK,
                ["CrossEntropy_2", "Accuracy_2"]),
            "c_callbacks": run_c(tmp, arrays),
            "d_resume": run_d(tmp, arrays),
            "e_eval_at_checkpoint_at": run_e(tmp, arrays),
            "g_save_load_checkpoint": run_g(tmp, arrays)}
    return {
        "description": "Real trax.supervised.training behaviour; see "
                       "README.md.",
        "env": oc.env("generate_training_api.py", with_tensorflow=True,
                      set="dev"),
        "params": {**RUN_PARAMS, "f": PARAMS},
        "data_streams": {name: {"seed": seed, "batch_size": batch_size,
                                "w_true": w_true, "n_stored": N_STORED}
                         for name, (seed, batch_size, w_true)
                         in STREAMS.items()},
        "runs": runs,
    }, arrays


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=pathlib.Path,
                        help="output folder: files go to OUT/trax_oracle/...")
    args = parser.parse_args(argv)
    folder = args.out / "trax_oracle" / "training_api"
    oc.write_json(folder / "lr_schedules.json", lr_schedules())
    with tempfile.TemporaryDirectory() as tmp:
        record, arrays = training_api(pathlib.Path(tmp))
    oc.write_json(folder / "training_api.json", record)
    np.savez_compressed(folder / "training_api.npz", **arrays)
    return 0


if __name__ == "__main__":
    sys.exit(main())
