"""Runs Loops on 1, 2, 4 and 8 simulated CPU devices and prints what they
logged, as JSON (``tests/test_multi_device.py`` runs it in one subprocess:
the device count is fixed when JAX starts).

Usage: python -m tests.multi_device_script OUTPUT_DIR
"""

import contextlib
import io
import json
import os
import re
import sys
import time

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_force_host_platform_device_count=8")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

import trax_compat as trax  # pylint: disable=g-import-not-at-top,wrong-import-position
from trax_compat import layers as tl  # pylint: disable=g-import-not-at-top,wrong-import-position
from trax_compat import models  # pylint: disable=g-import-not-at-top,wrong-import-position
from trax_compat.supervised import training  # pylint: disable=g-import-not-at-top,wrong-import-position

VALUE = re.compile(r"^Step +(\d+): (train|eval) +(\S+) \| +(\S+)$")
VOCAB = 64


def classify_batches(seed, sizes):
    """(tokens, label, weight) batches of the given sizes, in turn."""
    rng = np.random.RandomState(seed)
    i = 0
    while True:
        size = sizes[i % len(sizes)]
        i += 1
        yield (rng.randint(1, VOCAB, size=(size, 10)).astype(np.int32),
               rng.randint(0, 2, size=(size,)).astype(np.int32),
               np.ones((size,), np.float32))


def lm_batches(seed, size):
    """Language-model batches: (tokens, tokens, mask)."""
    rng = np.random.RandomState(seed)
    while True:
        tokens = rng.randint(1, VOCAB, size=(size, 8)).astype(np.int32)
        yield tokens, tokens, np.ones(tokens.shape, np.float32)


def seed_model():
    """The tutorial's sentiment model, smaller."""
    return tl.Serial(tl.Embedding(vocab_size=VOCAB, d_feature=16),
                     tl.Mean(axis=1), tl.Dense(2), tl.LogSoftmax())


def tiny_lm():
    return models.TransformerLM(VOCAB, d_model=16, d_ff=32, n_layers=1,
                                n_heads=2, max_len=16, dropout=0.1)


def make_loop(kind, n_devices, output_dir=None, sizes=(8,),
              pad_batches=False, every=1):
    if kind == "seed":
        model = seed_model()
        train = classify_batches(0, sizes)
        evals = classify_batches(1, sizes)
    else:
        model = tiny_lm()
        train, evals = lm_batches(0, sizes[0]), lm_batches(1, sizes[0])
    # SGD for the language model: Adam would blow float noise in gradients
    # that are zero in exact arithmetic up to steps of its learning rate.
    optimizer = (trax.optimizers.Adam(0.01) if kind == "seed"
                 else trax.optimizers.SGD(0.1))
    train_task = training.TrainTask(
        train, tl.WeightedCategoryCrossEntropy(), optimizer,
        n_steps_per_checkpoint=every)
    # The language model is trained only: compiling its eval step too
    # would double the test's time.
    eval_tasks = None if kind == "lm" else [training.EvalTask(
        evals, [tl.WeightedCategoryCrossEntropy(),
                tl.WeightedCategoryAccuracy()])]
    return training.Loop(model, train_task, eval_tasks=eval_tasks,
                         output_dir=output_dir, n_devices=n_devices,
                         random_seed=0, pad_batches=pad_batches,
                         resume_streams="replay")


def logged(fn):
    """Runs ``fn``; returns {"step kind name": value} of its step log."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        fn()
    values = {}
    for line in out.getvalue().splitlines():
        m = VALUE.match(line)
        if m:
            values[" ".join(m.groups()[:3])] = float(m.group(4))
    return values


def train(kind, n_devices, steps=2, **kwargs):
    def go():
        loop = make_loop(kind, n_devices, **kwargs)
        loop.run(steps)
        loop.close()
        trained.append(loop.train_state.params)
    trained = []
    values = logged(go)
    if kind == "lm":  # It logs nothing without evals: its weights, then.
        leaves = jax.tree_util.tree_leaves(jax.device_get(trained[0]))
        values = {f"weights {i}": [float(np.sum(x)), float(np.sum(abs(x)))]
                  for i, x in enumerate(leaves)}
    return values


def error_of(fn):
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            fn()
    except Exception as e:  # pylint: disable=broad-except
        return f"{type(e).__name__}: {e}"
    return None


def main(output_dir):
    # Identical programs (the resumed Loops') compile once.
    jax.config.update("jax_compilation_cache_dir",
                      os.path.join(output_dir, "jax_cache"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    result = {"device_count": jax.local_device_count(), "cpu_seconds": {}}
    clock = [time.process_time()]

    def timed(name):
        now = time.process_time()
        result["cpu_seconds"][name] = round(now - clock[0], 2)
        clock[0] = now

    timed("import")
    with contextlib.redirect_stdout(io.StringIO()):
        result["n_devices"] = {str(n): make_loop("seed", n).n_devices
                               for n in (None, 1, 3)}
    result["seed"] = {n: train("seed", n) for n in (1, 2, 4, 8)}
    timed("seed")
    # 2 and 4 devices: the seed model's runs (each costs seconds here).
    result["lm"] = {n: train("lm", n) for n in (1, 8)}
    timed("lm")
    # The tutorial's bucket sizes, padded with zero-weight rows.
    result["padded"] = {n: train("seed", n, steps=3, sizes=(1, 5, 10),
                                 pad_batches=True) for n in (1, 4)}
    timed("padded")

    # Checkpoints across device counts: 2 devices to step 1, then 4.
    resumed_dir = os.path.join(output_dir, "resumed")

    def first_part():
        loop = make_loop("seed", 2, output_dir=resumed_dir)
        loop.run(1)
        loop.close()

    def second_part():
        loop = make_loop("seed", 4, output_dir=resumed_dir)
        result["resumed_at"] = loop.step
        loop.run(1)
        loop.close()
    result["resume_2_then_4"] = dict(logged(first_part),
                                     **logged(second_part))
    timed("resume")

    result["errors"] = {
        "indivisible": error_of(lambda: train("seed", 4, steps=1,
                                              sizes=(6,))),
        "too_many": error_of(lambda: make_loop("seed", 9)),
        "pad_without_weights": error_of(lambda: training.Loop(
            seed_model(), training.TrainTask(
                ((x, y) for x, y, _ in classify_batches(0, (5,))),
                tl.CategoryCrossEntropy(), trax.optimizers.Adam(0.01)),
            n_devices=4, pad_batches=True).run(1)),
    }
    timed("errors")
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1])
