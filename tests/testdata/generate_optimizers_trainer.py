"""Records real Trax's low-level ``trax.optimizers.Trainer``.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_optimizers_trainer.py tests/testdata

It writes ``OUT/trax_oracle/optimizers_trainer/trainer.json`` and
``trainer.npz`` (zip entries dated 1980-01-01, so a rerun gives the same
bytes). The script runs itself a second time in a child process with two
CPU devices (``--xla_force_host_platform_device_count=2``) for the cases
with ``n_devices=2``.

Each case of ``CASES`` is a model-with-loss expression, an optimizer
expression, a batch recipe (``batch()`` below) and a list of steps. For
each case, in this order:

    mwl = MODEL; mwl.init(signature(batch), rng=get_prng(INIT_SEED))
    opt = OPTIMIZER; opt.tree_init(mwl.weights)
    trainer = Trainer(mwl, opt, n_devices=N)
    for rng_seed, step, learning_rate in STEPS:
        loss, stats = trainer.one_step(batch, get_prng(rng_seed), step=step,
                                       learning_rate=learning_rate)
        -> loss, stats, mwl.weights, mwl.state, opt.slots (flat leaves)

The npz holds ``<case>/init/<i>`` (initial weight leaves) and, per step
``k`` (from 1), ``<case>/<k>/loss``, ``<case>/<k>/stats/<name>``,
``<case>/<k>/weights/<i>``, ``<case>/<k>/state/<i>`` and
``<case>/<k>/slots/<i>``: leaves depth first, as Trax flattens them.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys

import numpy as np

CASES = {
    # Adam with Trax's default step (0) and a rate given at step 2 that
    # stays for step 3.
    "dense_adam": dict(
        model="tl.Serial(tl.Dense(3), tl.Relu(), tl.Dense(2), "
              "tl.WeightedCategoryCrossEntropy())",
        optimizer="optimizers.Adam(0.01)", batch="classify5", n_devices=1,
        init_seed=0, steps=[(7, 0, None), (8, 1, 0.02), (9, 2, None)]),
    # Dropout keys, an odd batch, Momentum, step numbers from 5.
    "embedding_dropout_momentum": dict(
        model="tl.Serial(tl.Embedding(9, 4), tl.Dropout(0.5), "
              "tl.Mean(axis=1), tl.Dense(3), "
              "tl.WeightedCategoryCrossEntropy())",
        optimizer="optimizers.Momentum(0.05, mass=0.8)", batch="tokens3",
        n_devices=1, init_seed=12, steps=[(3, 5, None), (4, 6, None)]),
    # Model state (BatchNorm statistics) and global-norm clipping.
    "batchnorm_sgd_clipped": dict(
        model="tl.Serial(tl.Dense(4), tl.BatchNorm(axis=(0,)), tl.Relu(), "
              "tl.Dense(2), tl.L2Loss())",
        optimizer="optimizers.SGD(0.1, clip_grad_norm=0.5)",
        batch="regress6", n_devices=1, init_seed=1,
        steps=[(1, 1, None), (2, 2, None), (3, 3, 0.05)]),
    # Two devices: the batch split in two, gradients averaged.
    "dense_adam_2_devices": dict(
        model="tl.Serial(tl.Dense(3), tl.Relu(), tl.Dense(2), "
              "tl.WeightedCategoryCrossEntropy())",
        optimizer="optimizers.Adam(0.01)", batch="classify6", n_devices=2,
        init_seed=0, steps=[(7, 1, None), (8, 2, 0.02)]),
}


# ReversibleSerialTrainer: each case's SETUP (run with ``tl``,
# ``optimizers``, ``fastmath``, ``shapes`` and ``np`` in scope) defines
# ``blocks``, ``loss_layer``, ``data`` and ``optimizer_fn`` and initializes
# the layers; ``layers`` (the weight-carrying layers recorded) too.
_REV_BASIC = """
data = (np.arange(8).reshape((2, 4)), 2 * np.arange(8).reshape((2, 4)),
        np.ones((2, 4), np.int64))
first = tl.Serial(tl.Embedding(9, 4), tl.Dropout(0.5), tl.Dup())
rev = [tl.ReversibleHalfResidual(tl.Dense(4), tl.Dropout(0.2)),
       tl.ReversibleSwap(),
       tl.ReversibleHalfResidual(tl.Dropout(0.5), tl.Dense(4)),
       tl.ReversibleSwap()]
loss_layer = tl.Serial(tl.Concatenate(), tl.Dense(19), tl.Dropout(0.3),
                       tl.LogSoftmax(), tl.CrossEntropyLoss())
tl.Serial([first] + rev + [loss_layer]).init(
    data, rng=fastmath.random.get_prng(12))
blocks = [(first.sublayers, rev)]
layers = [first, rev[0], rev[2], loss_layer]
"""
REV_CASES = {
    # Trax's own test setup: dropout everywhere, Adam, a rate from step 2.
    "reversible_adam": dict(
        setup=_REV_BASIC + "optimizer_fn = optimizers.Adam\n", n_devices=1,
        steps=[(7, 0, None), (8, 1, 0.02), (9, 2, None)]),
    # Two blocks, Momentum. Trax's memoize_jit (on by default) would reuse
    # rev1[0]'s compiled step for rev2[0], whose repr is the same though
    # its dropout rate is not; Trax's own test turns it off too.
    "reversible_two_blocks_momentum": dict(memoize_jit=False, setup="""
data = (np.arange(12).reshape((3, 4)) % 9, np.arange(12).reshape((3, 4)) % 7,
        np.ones((3, 4), np.float32))
first = tl.Serial(tl.Embedding(9, 4), tl.Dropout(0.5), tl.Dup())
rev1 = [tl.ReversibleHalfResidual(tl.Dense(4), tl.Dropout(0.2)),
        tl.ReversibleSwap()]
mid = tl.Serial(tl.Add(), tl.Dense(4), tl.Dup())
rev2 = [tl.ReversibleHalfResidual(tl.Dense(4), tl.Dropout(0.3)),
        tl.ReversibleSwap()]
loss_layer = tl.Serial(tl.Concatenate(), tl.Dense(7), tl.LogSoftmax(),
                       tl.CrossEntropyLoss())
tl.Serial([first] + rev1 + [mid] + rev2 + [loss_layer]).init(
    data, rng=fastmath.random.get_prng(3))
blocks = [(first.sublayers, rev1), (mid.sublayers, rev2)]
layers = [first, rev1[0], mid, rev2[0], loss_layer]
optimizer_fn = lambda: optimizers.Momentum(0.1, mass=0.5)
""", n_devices=1, steps=[(1, 1, None), (2, 2, None), (3, 3, 0.05)]),
    # extract_reversible_blocks with a chunked loss, init_reversible_blocks.
    "reversible_extracted_chunked_loss": dict(setup="""
data = (np.arange(8).reshape((2, 4)) % 9, (3 * np.arange(8)).reshape((2, 4))
        % 9, np.ones((2, 4), np.float32))
model = tl.Serial(tl.Embedding(9, 6), tl.Dup(),
                  tl.ReversibleHalfResidual(tl.Dense(6)), tl.ReversibleSwap(),
                  tl.ReversibleHalfResidual(tl.Relu(), tl.Dense(6)),
                  tl.ReversibleSwap(), tl.Select([0], n_in=2, name="Select"),
                  tl.Dense(9),
                  tl.LogSoftmax())
loss = tl.CrossEntropyLoss()
blocks, loss_layer = optimizers.trainer.extract_reversible_blocks(
    [model, loss], loss_chunk_size=3)
optimizers.trainer.init_reversible_blocks(
    blocks, loss_layer, shapes.signature(data),
    fastmath.random.get_prng(5))
layers = [blocks[0][0][0], blocks[0][1][0], blocks[0][1][2], loss_layer]
optimizer_fn = optimizers.Adam
""", n_devices=1, steps=[(4, 1, None), (5, 2, None)]),
    # Two devices.
    "reversible_adam_2_devices": dict(
        setup=_REV_BASIC.replace("np.arange(8).reshape((2, 4))",
                                 "np.arange(16).reshape((4, 4)) % 9")
        .replace("np.ones((2, 4)", "np.ones((4, 4)")
        + "optimizer_fn = optimizers.Adam\n",
        n_devices=2, steps=[(7, 1, None), (8, 2, 0.02)]),
}


def rev_setup(code):
    """The names a REV_CASES setup defines."""
    from trax import fastmath  # pylint: disable=import-outside-toplevel
    from trax import layers as tl  # pylint: disable=import-outside-toplevel
    from trax import optimizers  # pylint: disable=import-outside-toplevel
    from trax import shapes  # pylint: disable=import-outside-toplevel
    import trax.optimizers.trainer  # pylint: disable=import-outside-toplevel,unused-import
    scope = dict(tl=tl, optimizers=optimizers, fastmath=fastmath,
                 shapes=shapes, np=np)
    exec(code, scope)  # pylint: disable=exec-used
    return scope


def run_rev_case(name, case, arrays, setup=rev_setup):
    from trax import fastmath  # pylint: disable=import-outside-toplevel
    from trax import optimizers  # pylint: disable=import-outside-toplevel
    scope = setup(case["setup"])
    layers = scope["layers"]
    for i, a in enumerate(leaves([layer.weights for layer in layers])):
        arrays[f"{name}/init/{i}"] = a
    trainer = optimizers.ReversibleSerialTrainer(
        scope["blocks"], scope["loss_layer"], scope["optimizer_fn"],
        n_devices=case["n_devices"],
        memoize_jit=case.get("memoize_jit", True))
    record = {"step_outputs": [], "n_layers": len(trainer.all_layers)}
    for k, (seed, step, lr) in enumerate(case["steps"], 1):
        loss, stats = trainer.one_step(scope["data"],
                                       fastmath.random.get_prng(seed),
                                       step=step, learning_rate=lr)
        arrays[f"{name}/{k}/loss"] = np.asarray(loss)
        for key, value in stats.items():
            arrays[f"{name}/{k}/stats/{key}"] = np.asarray(value)
        for i, a in enumerate(leaves([layer.weights for layer in layers])):
            arrays[f"{name}/{k}/weights/{i}"] = a
        for i, a in enumerate(leaves(trainer.slots)):
            arrays[f"{name}/{k}/slots/{i}"] = a
        record["step_outputs"].append({"stats": sorted(stats),
                                       "loss_shape": list(np.shape(loss))})
    record["slots_structure"] = str(
        fastmath.nested_map(lambda x: "a", trainer.slots))
    return record


def batch(name):
    """The batch recipes (NumPy's legacy RandomState: version-stable)."""
    rs = np.random.RandomState({"classify5": 1, "classify6": 2,
                                "tokens3": 3, "regress6": 4}[name])
    if name.startswith("classify"):
        n = int(name[-1])
        x = rs.randn(n, 4).astype(np.float32)
        y = rs.randint(0, 2, size=(n,)).astype(np.int32)
        w = np.ones((n,), np.float32)
        w[0] = 0.5
        return x, y, w
    if name == "tokens3":
        x = rs.randint(1, 9, size=(3, 5)).astype(np.int32)
        y = rs.randint(0, 3, size=(3,)).astype(np.int32)
        return x, y, np.ones((3,), np.float32)
    x = rs.randn(6, 3).astype(np.float32)
    y = rs.randn(6, 2).astype(np.float32)
    return x, y, np.ones((6, 2), np.float32)


def leaves(tree):
    import jax  # pylint: disable=import-outside-toplevel
    return [np.asarray(a) for a in jax.tree_util.tree_leaves(tree)]


def run_case(name, case, arrays):
    from trax import fastmath  # pylint: disable=import-outside-toplevel
    from trax import layers as tl  # pylint: disable=import-outside-toplevel,unused-import
    from trax import optimizers  # pylint: disable=import-outside-toplevel
    from trax import shapes  # pylint: disable=import-outside-toplevel
    data = batch(case["batch"])
    mwl = eval(case["model"])  # pylint: disable=eval-used
    mwl.init(shapes.signature(data),
             rng=fastmath.random.get_prng(case["init_seed"]))
    for i, a in enumerate(leaves(mwl.weights)):
        arrays[f"{name}/init/{i}"] = a
    opt = eval(case["optimizer"])  # pylint: disable=eval-used
    opt.tree_init(mwl.weights)
    trainer = optimizers.Trainer(mwl, opt, n_devices=case["n_devices"])
    record = {"step_outputs": []}
    for k, (seed, step, lr) in enumerate(case["steps"], 1):
        loss, stats = trainer.one_step(data, fastmath.random.get_prng(seed),
                                       step=step, learning_rate=lr)
        arrays[f"{name}/{k}/loss"] = np.asarray(loss)
        for key, value in stats.items():
            arrays[f"{name}/{k}/stats/{key}"] = np.asarray(value)
        for kind, tree in (("weights", mwl.weights), ("state", mwl.state),
                           ("slots", opt.slots)):
            for i, a in enumerate(leaves(tree)):
                arrays[f"{name}/{k}/{kind}/{i}"] = a
        record["step_outputs"].append({"stats": sorted(stats),
                                "loss_shape": list(np.shape(loss))})
    # The slots setter: a round trip leaves them as they were.
    trainer.slots = trainer.slots
    record["n_weight_leaves"] = len(leaves(mwl.weights))
    return record


def run_cases(n_devices, out_npz):
    from make_testdata import write_npz  # pylint: disable=import-outside-toplevel
    arrays, records = {}, {}
    for name, case in CASES.items():
        if case["n_devices"] == n_devices:
            print(f"[generate_optimizers_trainer] {name}", file=sys.stderr)
            records[name] = run_case(name, case, arrays)
    for name, case in REV_CASES.items():
        if case["n_devices"] == n_devices:
            print(f"[generate_optimizers_trainer] {name}", file=sys.stderr)
            records[name] = run_rev_case(name, case, arrays)
    write_npz(out_npz, dict(sorted(arrays.items())))
    return records


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=pathlib.Path)
    parser.add_argument("--child", metavar="NPZ",
                        help="(internal) run the 2-device cases into NPZ")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_cases(2, args.child)))
        return
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    import oracle_common  # pylint: disable=import-outside-toplevel
    folder = args.out / "trax_oracle" / "optimizers_trainer"
    folder.mkdir(parents=True, exist_ok=True)
    child_npz = folder / "child.npz"
    env = dict(os.environ, JAX_PLATFORMS="cpu",
               XLA_FLAGS="--xla_force_host_platform_device_count=2")
    child = subprocess.run(
        [sys.executable, __file__, str(args.out), "--child", str(child_npz)],
        env=env, capture_output=True, text=True, check=True)
    records = json.loads(child.stdout.strip().splitlines()[-1])
    with np.load(child_npz) as z:
        arrays_2 = {k: z[k] for k in z.files}
    child_npz.unlink()
    records.update(run_cases(1, folder / "trainer.npz"))
    with np.load(folder / "trainer.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays.update(arrays_2)
    from make_testdata import write_npz  # pylint: disable=import-outside-toplevel
    write_npz(folder / "trainer.npz", dict(sorted(arrays.items())))
    oracle_common.write_json(folder / "trainer.json", {
        "env": oracle_common.env("generate_optimizers_trainer.py"),
        "cases": {name: {**CASES[name], **records[name]} for name in CASES},
        "reversible_cases": {name: {**REV_CASES[name], **records[name]}
                             for name in REV_CASES}})


if __name__ == "__main__":
    main()
