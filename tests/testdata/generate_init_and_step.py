"""Records the tutorial model's initial weights and first training step in
real Trax, and standalone optimizer updates.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_init_and_step.py OUT [--corpus-dir D] [--vocab-dir D]

It writes ``OUT/trax_oracle/init_and_step.json`` and ``init_and_step.npz``
(``make_testdata.py`` gzips the JSON and replaces ``init.embedding`` by its
hash; README.md describes the fields). The Loop is built exactly as in
``generate_trax_run_dev.py`` (its ``build_loop``), in a fresh output folder;
its initial weights are read before ``run(1)``, and are checked bitwise
against the documented key derivation (``init_regeneration``). After
``run(1)``: Trax's stdout and history, the dense weights and the embedding
rows the step-1 batch touched, Adam's slots, the step-1 gradients (recomputed
with ``jax.value_and_grad`` through the model's and the loss layer's
``pure_fn``), SHA-256 of the full arrays. Then ``tree_init`` /
``tree_update`` of five optimizers for 3 steps on a small fixed tree.
"""

import argparse
import hashlib
import inspect
import pathlib
import sys
import tempfile

import numpy as np

import jax
import jax.numpy as jnp
import trax

import generate_trax_run_dev  # this folder
import oracle_common as oc  # this folder

DECAY = np.float32(1 - 1e-5)  # Adam's weight decay of a row without gradient
RECIPE = [
    "k0 = jax.random.PRNGKey(0)   # Loop(random_seed=0) -> "
    "fastmath.random.get_prng(0)",
    "_, model_key = jax.random.split(k0)   # Loop.new_rng(): model.rng = 2nd "
    "half of split",
    "sub = jax.random.split(model_key, 4)   # Serial: one key per sublayer "
    "(Embedding, Mean, Dense, LogSoftmax)",
    "embedding = jax.random.uniform(sub[0], (8192, 256), jnp.float32, "
    "-sqrt(3/256), sqrt(3/256))  # lim as float32 jnp.sqrt(3. * (1. / 256))",
    "rng_w, rng_b = jax.random.split(sub[2], 2)",
    "dense_w = jax.random.uniform(rng_w, (256, 2), jnp.float32, -lim, lim), "
    "lim = jnp.sqrt(3. * (1. / ((256 + 2) / 2)))",
    "dense_b = (1e-6 * jax.random.normal(rng_b, (2,))).astype('float32')",
]
EMBEDDING_NOTE = (
    "Only the touched rows of the after-step embedding and of its Adam m/v "
    "are stored in the npz (size limit). For all other rows: m = v = 0 "
    "exactly and after = np.float32(1 - 1e-5) * init computed in float32 "
    "(verified bitwise above), so the full arrays can be rebuilt exactly; "
    "their sha256 are given below.")
LOSS_NOTE = (
    "The reported train loss at step 1 is computed with the initial weights "
    "on the step-1 batch (the 2nd batch of the stream), before the update.")
GRAD_NOTE = (
    "Loop passes step=1 for the first update; Adam bias-corrects with "
    "(1 - b ** (step + 1)), i.e. b1**2 and b2**2 at the first step. Eager "
    "(un-jitted) evaluation of the same formula can differ from the jitted "
    "training step by 1 ulp.")
WEIGHTS_TREE = (
    "tuple (w: float32 (3,2), b: float32 (2,)); slots are a tuple over "
    "fastmath.tree_flatten(weights) leaves, i.e. (slot_w, slot_b)")
F32 = np.float32
OPT_WEIGHTS = (np.array([[0.5, -1.0], [1.5, 2.0], [-0.25, 0.75]], F32),
               np.array([0.1, -0.2], F32))
OPT_GRADS = {
    1: (np.array([[0.1, -0.2], [0.3, 0.0], [-0.5, 1.0]], F32),
        np.array([0.05, -0.05], F32)),
    2: (np.array([[-0.4, 0.2], [0.1, 0.6], [0.0, -0.3]], F32),
        np.array([-0.1, 0.2], F32)),
    3: (np.array([[2.0, -1.5], [0.0, 0.25], [1.0, -0.75]], F32),
        np.array([0.0, 1.0], F32)),
}
# (constructor, npz key) of the standalone runs.
OPTIMIZERS = [
    ("Adam(0.01)", "Adam_0p01"),
    ("SGD(0.1)", "SGD_0p1"),
    ("Momentum(0.1)", "Momentum_0p1"),
    ("Momentum(0.1, nesterov=False)", "Momentum_0p1_nesterovFalse"),
    ("Adam(0.01, clip_grad_norm=0.5)", "Adam_0p01_clip_grad_norm0p5"),
]
CLASS_DEFAULTS = [("Adam", trax.optimizers.Adam), ("SGD", trax.optimizers.SGD),
                  ("Momentum", trax.optimizers.Momentum),
                  ("Optimizer(base)", trax.optimizers.base.Optimizer)]


def sha256(a):
    return hashlib.sha256(
        np.ascontiguousarray(a, dtype=np.float32).tobytes()).hexdigest()


def dtype_data(a):
    a = np.asarray(a)
    return {"dtype": a.dtype.name, "data": a.tolist()}


def flat_arrays(prefix, tree, arrays):
    """``prefix.i[.j]`` for every array of a (possibly None) slot tree."""
    if tree is None:
        return
    if isinstance(tree, (tuple, list)):
        for i, sub in enumerate(tree):
            flat_arrays(f"{prefix}.{i}", sub, arrays)
    else:
        arrays[prefix] = np.asarray(tree)


def key_data(key):
    return np.asarray(key).tolist()


def init_regeneration(embedding, dense_w, dense_b):
    k0 = jax.random.PRNGKey(0)
    loop_rng, model_key = jax.random.split(k0)
    sub = jax.random.split(model_key, 4)
    lim = jnp.sqrt(3. * (1. / 256))
    rng_w, rng_b = jax.random.split(sub[2], 2)
    lim_w = jnp.sqrt(3. * (1. / ((256 + 2) / 2)))
    regenerated = {
        "embedding": jax.random.uniform(sub[0], (8192, 256), jnp.float32,
                                        -lim, lim),
        "dense_w": jax.random.uniform(rng_w, (256, 2), jnp.float32, -lim_w,
                                      lim_w),
        "dense_b": (1e-6 * jax.random.normal(rng_b, (2,))).astype("float32")}
    trax_values = {"embedding": embedding, "dense_w": dense_w,
                   "dense_b": dense_b}
    return {
        "verified_bitwise_equal": {
            name: bool(np.asarray(a).tobytes() ==
                       np.asarray(trax_values[name]).tobytes())
            for name, a in regenerated.items()},
        "recipe": RECIPE,
        "keys_uint32": {
            "PRNGKey(0)": key_data(k0), "model_key": key_data(model_key),
            "embedding_key": key_data(sub[0]), "dense_key": key_data(sub[2]),
            "dense_rng_w": key_data(rng_w), "dense_rng_b": key_data(rng_b),
            "loop_rng_after_model_key": key_data(loop_rng)},
        "embedding_lim_float32": float(lim),
        "dense_w_lim_float32": float(lim_w),
    }


def stats(a):
    a64 = np.asarray(a, dtype=np.float64)
    return {"sum": float(a64.sum()), "sum_sq": float((a64 * a64).sum()),
            "min": float(a.min()), "max": float(a.max())}


def step1_loss_and_grad(model, loss_layer, batch, weights):
    """The train loss of ``batch`` and its gradient w.r.t. ``weights``."""
    inputs, labels, loss_weights = batch
    state, rng = model.state, model.rng

    def loss(w):
        out, _ = model.pure_fn(inputs, w, state, rng)
        value, _ = loss_layer.pure_fn((out, labels, loss_weights), (), (),
                                      rng)
        return value

    return jax.value_and_grad(loss)(weights)


def optimizers_standalone(arrays):
    for i, w in enumerate(OPT_WEIGHTS):
        arrays[f"opt.init_weights.{i}"] = w
    for step, grads in OPT_GRADS.items():
        for i, g in enumerate(grads):
            arrays[f"opt.grads.step{step}.{i}"] = g
    class_defaults = {}
    for name, cls in CLASS_DEFAULTS:
        class_defaults[name] = {
            p.name: p.default
            for p in inspect.signature(cls.__init__).parameters.values()
            if p.default is not inspect.Parameter.empty}
    cases = []
    for constructor, key in OPTIMIZERS:
        opt = eval("trax.optimizers." + constructor)  # pylint: disable=eval-used
        slots, opt_params = opt.tree_init(OPT_WEIGHTS)
        flat_arrays(f"opt.{key}.init_slots", slots, arrays)
        case = {"optimizer": constructor,
                "opt_params": {k: float(v) for k, v in opt_params.items()},
                "opt_params_dtypes": {k: np.asarray(v).dtype.name
                                      for k, v in opt_params.items()},
                "slots_after_tree_init": oc.nested(slots, dtype_data),
                "steps": []}
        weights = OPT_WEIGHTS
        for step, grads in OPT_GRADS.items():
            weights, slots, metrics = opt.tree_update(step, grads, weights,
                                                      slots, opt_params)
            flat_arrays(f"opt.{key}.step{step}.weights", weights, arrays)
            flat_arrays(f"opt.{key}.step{step}.slots", slots, arrays)
            case["steps"].append({
                "step": step, "weights_after": oc.nested(weights, dtype_data),
                "slots_after": oc.nested(slots, dtype_data),
                "metrics": {k: float(v) for k, v in metrics.items()}})
        cases.append(case)
    return {"weights_tree": WEIGHTS_TREE,
            "init_weights": oc.nested(OPT_WEIGHTS, dtype_data),
            "grads": {str(s): oc.nested(g, dtype_data)
                      for s, g in OPT_GRADS.items()},
            "class_defaults": class_defaults, "cases": cases}


PARTS = ("inputs", "labels", "weights")


def init_and_step(args, output_dir):
    (model, loop, train_rec, eval_rec, train_task, _,
     _) = generate_trax_run_dev.build_loop(args.corpus_dir, args.vocab_dir,
                                           output_dir)
    init = model.weights
    embedding, dense_w, dense_b = (np.asarray(init[0]),
                                   np.asarray(init[2][0]),
                                   np.asarray(init[2][1]))
    record = {
        "description": "See README.md (init_and_step).",
        "env": oc.env("generate_init_and_step.py"),
        "model_repr": str(model),
        "weights_structure_before_run": oc.nested(init, oc.shape_dtype),
        "init_regeneration": init_regeneration(embedding, dense_w, dense_b),
    }
    with oc.tee_stdout() as tee:
        loop.run(1)
    record["run1_stdout"] = tee.getvalue()
    record["eval_batches_consumed_by_step1_eval"] = len(eval_rec.pulled) - 1

    slots = loop._trainer_per_task[0].slots  # pylint: disable=protected-access
    opt_params = train_task.optimizer.opt_params
    after = model.weights
    after_emb, after_w, after_b = (np.asarray(after[0]),
                                   np.asarray(after[2][0]),
                                   np.asarray(after[2][1]))
    (m_emb, v_emb), (m_w, v_w), (m_b, v_b) = [
        (np.asarray(m), np.asarray(v)) for m, v in slots]
    step1 = train_rec.pulled[1]
    touched = np.unique(step1[0])
    untouched = np.setdiff1d(np.arange(embedding.shape[0]), touched)
    rule = DECAY * embedding[untouched]
    record["adam_slots_structure"] = oc.nested(slots, oc.shape_dtype)
    record["adam_opt_params"] = {k: float(v) for k, v in opt_params.items()}
    record["embedding_after_step"] = {
        "touched_rows": touched.tolist(), "n_touched_rows": len(touched),
        "m_v_exactly_zero_on_untouched_rows": bool(
            np.all(m_emb[untouched] == 0) and np.all(v_emb[untouched] == 0)),
        "m_nonzero_on_all_touched_rows": bool(
            np.all(np.any(m_emb[touched] != 0, axis=1))),
        "untouched_rows_equal_float32(1-1e-5)*init_bitwise": bool(
            after_emb[untouched].tobytes() == rule.tobytes()),
        "untouched_rows_max_abs_diff_from_rule": float(
            np.max(np.abs(after_emb[untouched] - rule))),
        "note": EMBEDDING_NOTE,
    }
    record["sha256_float32_C_order"] = {
        "init.embedding": sha256(embedding), "init.dense_w": sha256(dense_w),
        "init.dense_b": sha256(dense_b),
        "after.embedding_full": sha256(after_emb),
        "after.dense_w": sha256(after_w), "after.dense_b": sha256(after_b),
        "adam.m.embedding_full": sha256(m_emb),
        "adam.v.embedding_full": sha256(v_emb)}
    # The full arrays again from the stored parts and the decay rule.
    rebuilt_after = DECAY * embedding
    rebuilt_after[touched] = after_emb[touched]
    rebuilt_m, rebuilt_v = np.zeros_like(m_emb), np.zeros_like(v_emb)
    rebuilt_m[touched], rebuilt_v[touched] = m_emb[touched], v_emb[touched]
    record["rebuilt_full_arrays_match"] = {
        "after.embedding": sha256(rebuilt_after) == sha256(after_emb),
        "adam.m.embedding": sha256(rebuilt_m) == sha256(m_emb),
        "adam.v.embedding": sha256(rebuilt_v) == sha256(v_emb)}
    record["summary_stats"] = {
        "init.embedding": stats(embedding),
        "after.embedding": stats(after_emb),
        "adam.m.embedding": stats(m_emb), "adam.v.embedding": stats(v_emb)}
    record["history_after_run1"] = oc.history(loop.history)

    loss_layer = train_task.loss_layer
    loss, grads = step1_loss_and_grad(model, loss_layer, step1, init)
    after_loss, _ = step1_loss_and_grad(model, loss_layer, step1, after)
    g_emb, g_w, g_b = (np.asarray(grads[0]), np.asarray(grads[2][0]),
                       np.asarray(grads[2][1]))
    record["loss"] = {
        "train_loss_step1_from_history": [
            [int(s), float(v)]
            for s, v in loop.history.get("train", "training/loss")],
        "loss_recomputed_with_init_weights_on_step1_batch": float(loss),
        "loss_with_after_step_weights_on_step1_batch": float(after_loss),
        "note": LOSS_NOTE}
    adam = trax.optimizers.Adam(0.01)
    zeros = (np.zeros_like(dense_w), np.zeros_like(dense_w))

    def adam_update(step, jit):
        update = jax.jit(adam.update) if jit else adam.update
        new_w, _ = update(step, g_w, dense_w, zeros, opt_params)
        return np.asarray(new_w)

    record["grad_check"] = {
        "grad_zero_on_untouched_rows": bool(np.all(g_emb[untouched] == 0)),
        # The key's "float32(0.1)" is Adam's 1 - b1, in float32.
        "m_equals_float32(0.1)*grad_max_abs_diff_dense_w": float(np.max(
            np.abs(m_w - (np.float32(1) - np.asarray(opt_params["b1"]))
                   * g_w))),
        "adam_step_number_used_by_loop_at_step1": 1,
        "check_jit(Adam.update)(step=1, grad)_bitwise_equals_after.dense_w":
            adam_update(1, True).tobytes() == after_w.tobytes(),
        "check_jit(Adam.update)(step=0, grad)_max_abs_diff_to_after.dense_w":
            float(np.max(np.abs(adam_update(0, True) - after_w))),
        "check_eager_Adam.update(step=1, grad)_max_abs_diff_to_after.dense_w":
            float(np.max(np.abs(adam_update(1, False) - after_w))),
        "note": GRAD_NOTE}

    arrays = {"init.embedding": embedding, "init.dense_w": dense_w,
              "init.dense_b": dense_b}
    for name, batch in (("train_sample_batch", train_rec.pulled[0]),
                        ("eval_sample_batch", eval_rec.pulled[0]),
                        ("step1_batch", step1)):
        arrays.update({f"{name}.{part}": np.asarray(a)
                       for part, a in zip(PARTS, batch)})
    arrays.update({
        "after.embedding_touched_rows": after_emb[touched],
        "after.embedding_touched_row_ids": touched,
        "after.dense_w": after_w, "after.dense_b": after_b,
        "adam.m.embedding_touched_rows": m_emb[touched],
        "adam.v.embedding_touched_rows": v_emb[touched],
        "adam.m.dense_w": m_w, "adam.v.dense_w": v_w,
        "adam.m.dense_b": m_b, "adam.v.dense_b": v_b,
        "grad.embedding_touched_rows": g_emb[touched],
        "grad.dense_w": g_w, "grad.dense_b": g_b})
    record["optimizers_standalone"] = optimizers_standalone(arrays)
    record["npz_arrays"] = {k: {"shape": list(a.shape), "dtype": a.dtype.name}
                            for k, a in arrays.items()}
    record["batches"] = {
        name: {part: arrays[f"{name}.{part}"].tolist() for part in PARTS}
        for name in ("train_sample_batch", "step1_batch",
                     "eval_sample_batch")}
    return record, arrays


def main(argv=None):
    args = oc.out_arg(argparse.ArgumentParser(
        description=__doc__.splitlines()[0])).parse_args(argv)
    folder = args.out / "trax_oracle"
    with tempfile.TemporaryDirectory() as tmp:
        record, arrays = init_and_step(
            args, pathlib.Path(tmp) / "init_and_step_outdir")
    oc.write_json(folder / "init_and_step.json", record)
    np.savez_compressed(folder / "init_and_step.npz", **arrays)
    return 0


if __name__ == "__main__":
    sys.exit(main())
