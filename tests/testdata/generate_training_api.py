"""Records real Trax's learning-rate schedules (``trax.lr``).

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_training_api.py OUT

It writes ``OUT/trax_oracle/training_api/lr_schedules.json``
(``make_testdata.py`` gzips it; README.md describes the fields): every
public ``trax.lr`` schedule (the ``SCHEDULES`` constructors, evaluated with
``lr = trax.lr``) at steps 0..200, under Trax's NumPy backend (as
``TrainTask.learning_rate`` evaluates it) and under the default JAX
backend, with the Python type of every value; an unknown factor's error;
and ``TrainTask.learning_rate`` without a schedule.
"""

import argparse
import sys

import numpy as np

import trax
from trax import layers as tl
from trax import lr  # pylint: disable=unused-import  (the constructors' name)
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=oc.pathlib.Path,
                        help="output folder: files go to OUT/trax_oracle/...")
    args = parser.parse_args(argv)
    folder = args.out / "trax_oracle" / "training_api"
    oc.write_json(folder / "lr_schedules.json", lr_schedules())
    return 0


if __name__ == "__main__":
    sys.exit(main())
