"""``trax-compat inspect CKPT`` and ``trax-compat convert SRC DST``.

``inspect`` prints a checkpoint's format, step, weight shapes, optimizer
slots and a history summary: a Trax file (any format, read safely) or one of
our Loop's Orbax checkpoints (an output_dir, its ``checkpoints`` folder or
one step's folder).

``convert`` writes:

* ``DST.pkl.gz`` from a Trax file of any format: Trax's current Loop format
  (what current Trax and trax_compat read), arrays bit for bit;
* ``DST.pkl.gz`` from our Orbax checkpoint (``--model`` needed): the weights
  and state in Trax's format;
* ``DST.msgpack`` from either (``--model`` needed): the params of the Flax
  Linen module of ``model.to_flax()``, as Flax's msgpack, and ``DST.py``, a
  readable module defining that Linen model with jax and flax alone
  (``flax_export``; for models of the layers it knows, else it says which
  layer it cannot write).

``--model`` is the Python expression building the model, as in the
training script, with ``tl`` (``trax_compat.layers``) and ``trax`` in scope,
e.g. ``"tl.Serial(tl.Dense(16), tl.Relu(), tl.Dense(2), tl.LogSoftmax())"``.
"""

import os

import numpy as np

from trax_compat import command_errors

_PKL = ".pkl.gz"


def add_arguments(parser):
    if parser.prog.endswith("inspect"):
        parser.add_argument("checkpoint", help="a Trax .pkl.gz file or one "
                            "of our Loop's output_dir / checkpoint folders")
        parser.set_defaults(_action=inspect)
        return
    parser.add_argument("src", help="a Trax .pkl.gz file or one of our "
                        "Loop's output_dir / checkpoint folders")
    parser.add_argument("dst", help="DST.pkl.gz (Trax's format), "
                        "DST.msgpack (Flax params) or a folder (our Loop's "
                        "output_dir)")
    parser.add_argument("--model", default=None,
                        help="Python expression building the model "
                        "(tl = trax_compat.layers)")
    parser.add_argument("--input-shape", default=None,
                        help="shape of one model input, e.g. 8,8 (needed "
                        "when the checkpoint has no input signature)")
    parser.add_argument("--input-dtype", default="float32")
    parser.add_argument("--optimizer", default=None,
                        help="Python expression building the optimizer, "
                        "e.g. \"trax.optimizers.Adam(0.01)\" (needed to "
                        "write or read our Loop's checkpoint with its "
                        "optimizer state)")
    parser.set_defaults(_action=convert)


def run(args):
    return args._action(args)  # pylint: disable=protected-access


def _is_trax_file(path):
    from trax_compat.supervised import trax_checkpoint  # pylint: disable=g-import-not-at-top
    return trax_checkpoint.is_trax_checkpoint_file(path)


def _trax_file_in_dir(path):
    """A Trax ``model.pkl.gz`` in ``path`` when it is a directory without
    checkpoints of ours."""
    candidate = os.path.join(path, "model" + _PKL)
    if os.path.isdir(path) and os.path.isfile(candidate) and not os.path.isdir(
            os.path.join(path, "checkpoints")):
        return candidate
    return None


def _existing(path):
    if not os.path.exists(path):
        raise command_errors.UsageError(
            f"{path} does not exist; give a Trax .pkl.gz file or a Loop "
            f"output_dir.")
    return _trax_file_in_dir(path) or path


# -- inspect -----------------------------------------------------------------------

def inspect(args):
    from trax_compat.supervised import trax_checkpoint  # pylint: disable=g-import-not-at-top
    path = _existing(args.checkpoint)
    if _is_trax_file(path):
        print(_read_trax(path).summary())
        return 0
    if os.path.isfile(path):
        raise command_errors.UsageError(
            f"{path} is neither a Trax checkpoint (gzipped pickle) nor one of "
            f"our checkpoint folders.")
    print(_orbax_summary(path))
    del trax_checkpoint
    return 0


def _read_trax(path):
    from trax_compat.supervised import trax_checkpoint  # pylint: disable=g-import-not-at-top
    try:
        return trax_checkpoint.read(path)
    except trax_checkpoint.TraxCheckpointError as e:
        raise command_errors.UsageError(str(e)) from e


def _orbax_summary(path):
    import jax  # pylint: disable=g-import-not-at-top
    from trax_compat.supervised import checkpoints  # pylint: disable=g-import-not-at-top
    directory = (path if checkpoints.committed_steps(path)
                 else checkpoints.checkpoint_dir(path))
    if checkpoints.committed_steps(directory):
        restored = checkpoints.restore_latest_intact(directory, None)
        tree, meta, step = restored.state, restored.meta, restored.step
        where = restored.path
    else:  # One step's folder.
        restored = checkpoints.restore_named(path, None)
        tree, meta, step, where = (restored.state, restored.meta,
                                   restored.step, path)
    flat = jax.tree_util.tree_flatten_with_path(tree["params"])[0]
    lines = [f"{where}: trax_compat checkpoint (Orbax)", f"step: {step}",
             f"weights: {len(flat)} arrays, "
             f"{sum(int(np.size(a)) for _, a in flat)} values"]
    lines += [f"  {jax.tree_util.keystr(p)}: {tuple(np.shape(a))} "
              f"{np.asarray(a).dtype}" for p, a in flat]
    if tree.get("model_state"):
        lines.append(f"state: {len(jax.tree_util.tree_leaves(tree['model_state']))}"
                     f" arrays")
    if "opt_state" in tree:
        lines.append(f"optimizer state: "
                     f"{len(jax.tree_util.tree_leaves(tree['opt_state']))} "
                     f"arrays")
    for key, pairs in sorted((meta or {}).get("history", {}).items()):
        if pairs:
            lines.append(f"history {key}: {len(pairs)} values, last "
                         f"{pairs[-1][1]!r} at step {pairs[-1][0]}")
    return "\n".join(lines)


# -- convert -----------------------------------------------------------------------

def _eval_arg(args, flag, value):
    import trax_compat as trax  # pylint: disable=g-import-not-at-top
    from trax_compat import layers as tl  # pylint: disable=g-import-not-at-top
    try:
        return eval(value, {"trax": trax, "tl": tl, "np": np})  # pylint: disable=eval-used
    except Exception as e:  # pylint: disable=broad-except
        raise command_errors.UsageError(
            f"{flag} {value!r} does not build a {flag[2:]} "
            f"({type(e).__name__}: {e}).") from e


def _optimizer(args):
    if not args.optimizer:
        raise command_errors.UsageError(
            "our Loop's checkpoints hold the optimizer's state: pass "
            "--optimizer \"trax.optimizers.Adam(0.01)\" (the optimizer of "
            "the TrainTask).")
    return _eval_arg(args, "--optimizer", args.optimizer)


def _model(args):
    if not args.model:
        raise command_errors.UsageError(
            "this conversion needs the model: pass --model \"tl.Serial(...)\" "
            "(the expression that builds it).")
    return _eval_arg(args, "--model", args.model)


def _signature(args):
    if args.input_shape is None:
        return None
    from trax_compat import shapes  # pylint: disable=g-import-not-at-top
    try:
        shape = tuple(int(d) for d in args.input_shape.split(",") if d)
        return shapes.ShapeDtype(shape, np.dtype(args.input_dtype))
    except (ValueError, TypeError) as e:
        raise command_errors.UsageError(
            f"--input-shape {args.input_shape!r} / --input-dtype "
            f"{args.input_dtype!r}: give e.g. --input-shape 8,8 "
            f"--input-dtype float32.") from e


def convert(args):
    from trax_compat.supervised import trax_checkpoint  # pylint: disable=g-import-not-at-top
    src = _existing(args.src)
    if args.dst.endswith((".gz", ".pkl")) and not args.dst.endswith(_PKL):
        raise command_errors.UsageError(
            f"{args.dst}: a Trax checkpoint's name ends in .pkl.gz.")
    if "." in os.path.basename(args.dst) and not args.dst.endswith(
            (_PKL, ".msgpack")):
        raise command_errors.UsageError(
            f"{args.dst}: the destination must end in .pkl.gz (Trax's "
            f"format) or .msgpack (Flax params), or be a folder (our "
            f"Loop's output_dir).")
    if not args.dst.endswith((_PKL, ".msgpack")):
        return _to_ours(args, src)
    if args.dst.endswith(_PKL) and not _is_trax_file(src) and args.optimizer:
        return _ours_to_trax(args, src)
    if args.dst.endswith(_PKL) and _is_trax_file(src):
        ckpt = _read_trax(src)
        trax_checkpoint.write(ckpt, args.dst)
        print(f"Wrote {args.dst} (Trax's Loop format, step {ckpt.step}, "
              f"{len(ckpt.flat_weights)} weight arrays) from {src} "
              f"({ckpt.format}).")
        return 0
    model = _model(args)
    signature = _signature(args)
    from trax_compat.layers import weights_io  # pylint: disable=g-import-not-at-top
    try:
        # Shapes must match: a conversion must not carry misfit arrays on.
        weights_io.init_from_file(model, src, weights_only=False,
                                  input_signature=signature,
                                  strict_shapes=True)
    except KeyError:
        weights_io.init_from_file(model, src, weights_only=True,
                                  input_signature=signature,
                                  strict_shapes=True)
    except (trax_checkpoint.TraxCheckpointError, IndexError) as e:
        raise command_errors.UsageError(str(e)) from e
    if args.dst.endswith(".msgpack"):
        from flax import serialization  # pylint: disable=g-import-not-at-top
        _, variables = model.to_flax()
        with open(args.dst, "wb") as f:
            f.write(serialization.msgpack_serialize(
                {"params": _host(variables["params"])}))
        print(f"Wrote {args.dst} (Flax params of model.to_flax()) from "
              f"{src}.")
        _write_module(model, args.dst[:-len(".msgpack")] + ".py")
        return 0
    if signature is None and _is_trax_file(src):
        signature = trax_checkpoint.read(src).input_signature
    model.save_to_file(args.dst, input_signature=signature)
    print(f"Wrote {args.dst} (Trax's save_to_file format) from {src}.")
    return 0


class _TrainState:
    """What the Loop's checkpoint tree is made of (params, per-task optax
    states, layer state), outside a Loop."""

    def __init__(self, params, opt_state, model_state):
        self.params, self.opt_state = params, opt_state
        self.model_state = model_state

    def replace(self, **changes):
        new = _TrainState(self.params, self.opt_state, self.model_state)
        for name, value in changes.items():
            if name != "step":
                setattr(new, name, value)
        return new


def _fresh_state(args, signature):
    import jax  # pylint: disable=g-import-not-at-top
    import types  # pylint: disable=g-import-not-at-top
    model, optimizer = _model(args), _optimizer(args)
    if signature is None:
        raise command_errors.UsageError(
            "the model's input shape is needed: pass --input-shape (e.g. "
            "8,8) and --input-dtype.")
    model.init(signature)
    params = model.params
    model_state = model.flax_state_from_state(model.state)
    state = _TrainState(params, (optimizer.init(params),), model_state)
    del jax
    return model, [types.SimpleNamespace(optimizer=optimizer)], state


def _loop_tree(state, step):
    from trax_compat.supervised import steps  # pylint: disable=g-import-not-at-top
    totals = steps.Totals.zeros()
    tree = {"params": state.params, "opt_state": state.opt_state[0],
            "step": np.asarray(step, np.int64),
            "totals": {f: getattr(totals, f)
                       for f in steps.Totals.__dataclass_fields__}}
    if state.model_state:
        tree["model_state"] = state.model_state
    return tree


def _to_ours(args, src):
    """A Trax checkpoint -> a Loop output_dir a Loop resumes from."""
    from trax_compat.supervised import checkpoints  # pylint: disable=g-import-not-at-top
    from trax_compat.supervised import trax_resume  # pylint: disable=g-import-not-at-top
    if not _is_trax_file(src):
        raise command_errors.UsageError(
            f"{src} is not a Trax checkpoint; a folder destination (our "
            f"Loop's format) is written from Trax files.")
    ckpt = _read_trax(src)
    signature = _signature(args) or ckpt.input_signature
    if isinstance(signature, (tuple, list)) and len(signature) == 1:
        signature = signature[0]
    model, tasks, state = _fresh_state(args, signature)
    try:
        state, step, history = trax_resume.train_state_from_trax(
            state, model, tasks, ckpt, print)
    except IndexError as e:
        raise command_errors.UsageError(str(e)) from e
    meta = {"pulls": [], "log_offset": None,
            "history": history.to_dict() if history else {}}
    writer = checkpoints.CheckpointWriter(args.dst, asynchronous=False)
    try:
        writer.save(step, _loop_tree(state, step), meta, wait=True)
    finally:
        writer.close()
    print(f"Wrote {checkpoints.checkpoint_dir(args.dst)}/{step} (a Loop "
          f"with this model and optimizer resumes from it) from {src}.")
    return 0


def _ours_to_trax(args, src):
    """Our Loop's newest checkpoint -> Trax's Loop format, slots included."""
    from trax_compat.supervised import checkpoints  # pylint: disable=g-import-not-at-top
    from trax_compat.supervised import history as history_lib  # pylint: disable=g-import-not-at-top
    from trax_compat.supervised import trax_checkpoint  # pylint: disable=g-import-not-at-top
    from trax_compat.supervised import trax_resume  # pylint: disable=g-import-not-at-top
    signature = _signature(args)
    model, tasks, state = _fresh_state(args, signature)
    directory = (src if checkpoints.committed_steps(src)
                 else checkpoints.checkpoint_dir(src))
    restored = checkpoints.restore_latest_intact(directory,
                                                 _loop_tree(state, 0))
    if restored is None:
        raise command_errors.UsageError(f"No checkpoint of ours in {src}.")
    tree = restored.state
    state = _TrainState(tree["params"], (tree["opt_state"],),
                        tree.get("model_state", state.model_state))
    history = history_lib.History.from_dict(restored.meta.get("history", {}))
    pickled, flat_weights, slots = trax_resume.trax_checkpoint_from_loop(
        state, model, tasks, restored.step, history, (signature,))
    ckpt = trax_checkpoint.TraxCheckpoint(
        path=args.dst, format="loop", flat_weights=flat_weights,
        flat_state=pickled["flat_state"], slots_per_task=slots,
        step=restored.step, history=history, input_signature=(signature,))
    trax_checkpoint.write(ckpt, args.dst)
    print(f"Wrote {args.dst} (Trax's Loop format, step {restored.step}, "
          f"optimizer slots included) from {restored.path}.")
    return 0


def _write_module(model, path):
    """The standalone Linen module for the params, or why there is none."""
    from trax_compat.supervised import flax_export  # pylint: disable=g-import-not-at-top
    try:
        source = flax_export.module_source(model)
    except flax_export.NotExportableError as e:
        print(f"No Python module written: {e}")
        return
    with open(path, "w", encoding="utf-8") as f:
        f.write(source)
    print(f"Wrote {path}: class Model, the Flax Linen model for those "
          f"params (needs jax and flax only).")


def _host(tree):
    import jax  # pylint: disable=g-import-not-at-top
    return jax.tree_util.tree_map(np.asarray, tree)
