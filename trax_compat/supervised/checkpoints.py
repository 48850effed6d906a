"""Training checkpoints on Orbax, verified when read back.

A Loop's checkpoints live in ``<output_dir>/checkpoints/<step>/``, each an
Orbax composite of two items:

* ``state``: the pytree (params, optimizer state, step, ...);
* ``meta``: JSON with the SHA-256 of every array of ``state`` and whatever
  the Loop needs to resume exactly (stream positions, history, ...).

Orbax writes a checkpoint into a temporary directory and renames it into
place once complete, so an interrupted save never destroys an earlier one.
Reading one back recomputes every array's checksum: a checkpoint with flipped
bytes, a truncated file or unreadable metadata is *damaged*, and restoring
falls back to the newest intact checkpoint, saying so. Nothing is deleted: a
Loop that resumes past a damaged checkpoint moves it aside to
``<step>.damaged`` so training can write that step again. Checkpoints of
the earlier layout (``<step>/default/``, no checksums) are verified as far
as they can be and fall back the same way.

Saving at a step that already has a checkpoint replaces it the way Trax
overwrites ``model.pkl.gz``: the new one is written completely next to the
old one, then swapped in with two renames; a crash between them leaves
``<step>.replaced``, which the next writer puts back.
"""

import contextlib
import dataclasses
import gc
import hashlib
import logging
import os
import shutil
import sys
import time

import jax
import numpy as np

CHECKPOINT_SUBDIR = "checkpoints"
MAX_TO_KEEP = 3
FORMAT_VERSION = 2
DAMAGED_SUFFIX = ".damaged"
_NEW_SUFFIX = ".new"
_REPLACED_SUFFIX = ".replaced"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be written or read back."""


class DamagedCheckpointError(CheckpointError):
    """Every checkpoint in a directory is damaged."""


class CheckpointMismatchError(CheckpointError, IndexError):
    """A checkpoint's weights have other names or shapes than the model's.
    Also an IndexError, which Trax's Loop raises there."""


class NoMatchingCheckpointError(DamagedCheckpointError, IndexError):
    """Every checkpoint in a directory holds another model's weights."""


def checkpoint_dir(output_dir):
    return os.path.join(output_dir, CHECKPOINT_SUBDIR)


def _ocp():
    import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
    return ocp


# -- checksums -------------------------------------------------------------------

def _array_digest(value):
    array = np.ascontiguousarray(np.asarray(value))
    digest = hashlib.sha256()
    digest.update(f"{array.dtype.str}{array.shape}".encode())
    digest.update(array.tobytes())
    return digest.hexdigest()


def _path_name(path):
    # One spelling for a field whether it comes back as an attribute (a
    # NamedTuple restored onto its target) or a dict key (restored bare).
    parts = []
    for key in path:
        for attr in ("key", "name", "idx"):
            if hasattr(key, attr):
                parts.append(str(getattr(key, attr)))
                break
        else:
            parts.append(str(key))
    return "/".join(parts)


def checksums(tree):
    """``{"a/b/c": sha256}`` over every leaf of ``tree`` (host copies)."""
    host = jax.device_get(tree)
    flat = jax.tree_util.tree_flatten_with_path(host)[0]
    return {_path_name(path): _array_digest(leaf) for path, leaf in flat}


def _mismatches(tree, expected):
    actual = checksums(tree)
    return sorted(k for k in set(actual) | set(expected)
                  if actual.get(k) != expected.get(k))


# -- finding checkpoints ---------------------------------------------------------

def committed_steps(directory):
    """Steps with a committed checkpoint in ``directory``, oldest first."""
    if not os.path.isdir(directory):
        return []
    return sorted(int(name) for name in os.listdir(directory)
                  if name.isdigit()
                  and os.path.isdir(os.path.join(directory, name)))


@dataclasses.dataclass
class Restored:
    """A verified checkpoint: its step, ``state`` pytree and ``meta`` dict,
    and the damaged newer checkpoints skipped to reach it."""
    step: int
    state: object
    meta: dict
    skipped: list  # [(step, reason)]
    path: str

    def fallback_message(self):
        if not self.skipped:
            return None
        skipped = "; ".join(f"step {s}: {reason}" for s, reason in self.skipped)
        return (f"Skipped damaged checkpoint(s) ({skipped}); resumed from the "
                f"newest intact one, step {self.step}, in "
                f"{os.path.dirname(self.path)}.")


def _abstract(target):
    ocp = _ocp()
    return jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, target)


def _is_read_noise(unraisable):
    # Event loops closed under storage threads, and the abandoned read
    # coroutines of the failed restore collected afterwards.
    value, obj = unraisable.exc_value, unraisable.object
    return ((isinstance(value, RuntimeError)
             and str(value) == "Event loop is closed")
            or "orbax" in getattr(getattr(obj, "cr_code", None),
                                  "co_filename", ""))


@contextlib.contextmanager
def _quiet_read_errors():
    """Orbax and its asyncio tasks log a damaged file's error themselves,
    some from storage threads that finish after the failed restore has
    closed its event loop; we report the error once, in our own words."""
    loggers = [logging.getLogger(name) for name in ("absl", "asyncio")]
    levels = [logger.level for logger in loggers]
    previous_hook = sys.unraisablehook

    def hook(unraisable):
        if not _is_read_noise(unraisable):
            previous_hook(unraisable)

    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    sys.unraisablehook = hook
    failed = False
    try:
        yield
    except BaseException:
        failed = True
        raise
    finally:
        if failed:
            time.sleep(0.2)  # Reads still in flight land here, not later.
        gc.collect()
        sys.unraisablehook = previous_hook
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _read_step(step_dir, target):
    """Restores and verifies one step directory; raises on any damage."""
    with _quiet_read_errors():
        return _restore_and_verify(step_dir, target)


def _restore_and_verify(step_dir, target):
    ocp = _ocp()
    checkpointer = ocp.Checkpointer(ocp.CompositeCheckpointHandler())
    try:
        items = set(os.listdir(step_dir))
        if "state" not in items and "default" in items:
            # Written by trax_compat 0.1: the state alone, without "totals"
            # (a Loop resumed from it starts them at zero) or checksums.
            if isinstance(target, dict):
                target = {k: v for k, v in target.items() if k != "totals"}
            restored = {"state": checkpointer.restore(
                step_dir, args=ocp.args.Composite(
                    default=ocp.args.StandardRestore(
                        None if target is None else _abstract(target))))[
                            "default"], "meta": None}
        else:
            restored = checkpointer.restore(step_dir, args=ocp.args.Composite(
                state=ocp.args.StandardRestore(
                    None if target is None else _abstract(target)),
                meta=ocp.args.JsonRestore()))
    except Exception as e:  # pylint: disable=broad-except
        mismatch = _params_mismatch(step_dir, target)
        if mismatch:
            raise CheckpointMismatchError(
                f"its weights do not fit the model ({mismatch})") from e
        message = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise CheckpointError(
            f"unreadable ({type(e).__name__}: {message[:120]})") from e
    finally:
        checkpointer.close()
    state, meta = restored["state"], restored["meta"]
    if meta is None:
        return state, _verify_unsummed(step_dir, state)
    if not isinstance(meta, dict) or "checksums" not in meta:
        raise CheckpointError("its metadata has no checksums")
    bad = _mismatches(state, meta["checksums"])
    if bad:
        raise CheckpointError(
            f"checksum mismatch in {', '.join(bad[:3])}"
            + (f" and {len(bad) - 3} more" if len(bad) > 3 else ""))
    return state, meta


def _verify_unsummed(step_dir, state):
    """Verifies a 0.1 checkpoint as far as one without checksums can be:
    Orbax has read every file back (damaged ones fail as DATA_LOSS), and
    the step stored inside must be its directory's, which a checkpoint
    holding another step's files is not."""
    name = os.path.basename(os.path.normpath(step_dir))
    stored = state.get("step") if isinstance(state, dict) else None
    if stored is None or np.ndim(stored) != 0:
        raise CheckpointError("it has no step to verify it by")
    if name.isdigit() and int(stored) != int(name):
        raise CheckpointError(
            f"it holds the state of step {int(stored)}, not {name}")
    return {"format": 1}


def _params_mismatch(step_dir, target):
    """How the ``params`` stored in ``step_dir`` differ in names or shapes
    from ``target``'s, or None (the same, or not known)."""
    if not isinstance(target, dict) or "params" not in target:
        return None
    try:
        item = next(os.path.join(step_dir, name) for name in ("state",
                                                               "default")
                    if os.path.isdir(os.path.join(step_dir, name)))
        with _ocp().StandardCheckpointer() as reader:
            metadata = reader.metadata(item)
        metadata = getattr(metadata, "item_metadata", metadata)
        stored = getattr(metadata, "tree", metadata)["params"]
        have = {jax.tree_util.keystr(path): tuple(leaf.shape) for path, leaf
                in jax.tree_util.tree_leaves_with_path(stored)}
    except Exception:  # pylint: disable=broad-except
        return None
    want = {jax.tree_util.keystr(path): tuple(np.shape(leaf)) for path, leaf
            in jax.tree_util.tree_leaves_with_path(target["params"])}
    if have == want:
        return None
    for name in sorted(set(have) | set(want)):
        if have.get(name) != want.get(name):
            return (f"params{name}: checkpoint {have.get(name, 'none')}, "
                    f"model {want.get(name, 'none')}")
    return None


def restore_latest_intact(directory, target, move_damaged=False):
    """Returns the newest checkpoint in ``directory`` that verifies, as a
    :class:`Restored`, or None when there is none at all.

    Damaged newer checkpoints are skipped (and, with ``move_damaged``,
    renamed to ``<step>.damaged``; nothing is deleted).

    Raises:
      DamagedCheckpointError: there are checkpoints but none is intact.
      NoMatchingCheckpointError: (a DamagedCheckpointError and IndexError)
        every one holds weights of other names or shapes than ``target``.
    """
    skipped = []
    mismatched = []
    for step in reversed(committed_steps(directory)):
        step_dir = os.path.join(directory, str(step))
        try:
            state, meta = _read_step(step_dir, target)
        except CheckpointError as e:
            skipped.append((step, str(e)))
            mismatched.append(isinstance(e, CheckpointMismatchError))
            continue
        if move_damaged:
            for bad_step, _ in skipped:
                _move_aside(os.path.join(directory, str(bad_step)))
        return Restored(step, state, meta, skipped, step_dir)
    if skipped:
        listed = "; ".join(f"step {s}: {reason}" for s, reason in skipped)
        if all(mismatched):
            raise NoMatchingCheckpointError(
                f"The checkpoints in {directory} hold another model's "
                f"weights ({listed}). Resume with the model that wrote them, "
                f"or use a fresh output_dir.")
        raise DamagedCheckpointError(
            f"No intact checkpoint in {directory} ({listed}). They do not "
            f"match this model and optimizer, or they are damaged. Move them "
            f"away (or use a fresh output_dir) to start over.")
    return None


def _move_aside(step_dir):
    dest = step_dir + DAMAGED_SUFFIX
    n = 1
    while os.path.exists(dest):
        n += 1
        dest = f"{step_dir}{DAMAGED_SUFFIX}{n}"
    os.rename(step_dir, dest)


# -- writing -------------------------------------------------------------------

def write_replacing(path, args):
    """Writes a composite checkpoint at ``path``, replacing one already
    there the way Trax overwrites ``model.pkl.gz``: the new one is written
    completely next to it, then swapped in with two renames (a crash
    between them leaves ``<path>.replaced``, which the next writer puts
    back)."""
    ocp = _ocp()
    new_dir = path + _NEW_SUFFIX
    # With several processes the save is collective, and process 0 alone
    # moves directories (the others wait for it).
    moves = jax.process_index() == 0
    if moves and os.path.exists(new_dir):  # Left by a crash before the swap.
        shutil.rmtree(new_dir)
    _sync_processes("checkpoint-replace-start")
    with ocp.Checkpointer(ocp.CompositeCheckpointHandler()) as writer:
        writer.save(new_dir, args=args)
    if moves:
        if os.path.isdir(path):
            os.rename(path, path + _REPLACED_SUFFIX)
            os.rename(new_dir, path)
            shutil.rmtree(path + _REPLACED_SUFFIX)
        else:
            os.rename(new_dir, path)
    _sync_processes("checkpoint-replace-end")


def _sync_processes(name):
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
        multihost_utils.sync_global_devices(name)


def restore_named(path, target):
    """Reads and verifies one checkpoint directory (a numbered step or a
    named one) as a :class:`Restored`; raises CheckpointError if damaged."""
    state, meta = _read_step(path, target)
    step = meta.get("step")
    if step is None and isinstance(state, dict) and "step" in state:
        step = int(state["step"])
    return Restored(step, state, meta, [], path)


class CheckpointWriter:
    """Saves ``(state pytree, meta dict)`` checkpoints into
    ``<output_dir>/checkpoints``, keeping the newest ``max_to_keep``."""

    def __init__(self, output_dir, max_to_keep=MAX_TO_KEEP,
                 asynchronous=True):
        ocp = _ocp()
        self._directory = os.path.abspath(checkpoint_dir(output_dir))
        try:
            os.makedirs(self._directory, exist_ok=True)
        except OSError as e:
            raise CheckpointError(
                f"Cannot create the checkpoint directory {self._directory}: "
                f"{e}. Give the Loop an output_dir you can write to.") from e
        self._recover_interrupted_replacements()
        # Asynchronous: save() returns once the arrays are copied off the
        # train state (which the next step donates); files are written in
        # the background, still into a temporary directory renamed at the end.
        self._asynchronous = asynchronous
        options = ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep, create=True,
            enable_async_checkpointing=asynchronous)
        self._manager = ocp.CheckpointManager(self._directory, options=options)

    @property
    def directory(self):
        return self._directory

    def latest_step(self):
        steps = committed_steps(self._directory)
        return steps[-1] if steps else None

    def all_steps(self):
        return committed_steps(self._directory)

    def _recover_interrupted_replacements(self):
        """Finishes or undoes a replacement a crash interrupted."""
        for name in os.listdir(self._directory):
            path = os.path.join(self._directory, name)
            if name.endswith(_REPLACED_SUFFIX):
                step_dir = path[:-len(_REPLACED_SUFFIX)]
                if os.path.isdir(step_dir):  # The new one made it in.
                    shutil.rmtree(path)
                else:
                    os.rename(path, step_dir)

    def save(self, step, state, meta=None, wait=False):
        """Writes the checkpoint of ``step``; replaces one already there.

        Returns once the arrays are copied; with ``wait`` (or for a
        replacement), once the checkpoint is committed on disk.
        """
        ocp = _ocp()
        step = int(step)
        meta = dict(meta or {}, format=FORMAT_VERSION, step=step,
                    checksums=checksums(state))
        args = ocp.args.Composite(state=ocp.args.StandardSave(state),
                                  meta=ocp.args.JsonSave(meta))
        try:
            self.wait()
            if os.path.isdir(os.path.join(self._directory, str(step))):
                self._replace(step, args)
                return
            self._manager.save(step, args=args, force=True)
            if wait or not self._asynchronous:
                self._manager.wait_until_finished()
        except CheckpointError:
            raise
        except Exception as e:  # pylint: disable=broad-except
            raise self._write_error(f"the checkpoint of step {step}", e) from e

    def _replace(self, step, args):
        write_replacing(os.path.join(self._directory, str(step)), args)
        self._manager.reload()

    def save_named(self, basename, state, meta=None):
        """Writes (or atomically replaces) the checkpoint ``basename``
        (``model_10``, ``highest_Accuracy``, ...) next to the numbered
        ones; returns once it is committed."""
        if not basename or basename.isdigit() or os.sep in basename:
            raise ValueError(
                f"Checkpoint basename {basename!r}: use a name such as "
                f"'custom' or 'model_10' (not a number, no '{os.sep}').")
        ocp = _ocp()
        meta = dict(meta or {}, format=FORMAT_VERSION,
                    checksums=checksums(state))
        args = ocp.args.Composite(state=ocp.args.StandardSave(state),
                                  meta=ocp.args.JsonSave(meta))
        path = os.path.join(self._directory, basename)
        try:
            self.wait()
            write_replacing(path, args)
        except CheckpointError:
            raise
        except Exception as e:  # pylint: disable=broad-except
            raise self._write_error(f"the checkpoint {basename!r}", e) from e

    def wait(self):
        """Blocks until pending asynchronous saves are on disk."""
        if self._manager is None:  # Closed: nothing can be pending.
            return
        try:
            self._manager.wait_until_finished()
        except Exception as e:  # pylint: disable=broad-except
            raise self._write_error("a checkpoint", e) from e

    def _write_error(self, what, error):
        return CheckpointError(
            f"Writing {what} into {self._directory} failed: "
            f"{type(error).__name__}: {error}. Earlier checkpoints in that "
            f"directory are untouched; check free disk space and "
            f"permissions.")

    def restore_latest(self, target):
        """The newest intact checkpoint (damaged newer ones moved aside)."""
        self.wait()
        restored = restore_latest_intact(self._directory, target,
                                         move_damaged=True)
        if restored is not None and restored.skipped:
            self._manager.reload()
        return restored

    def close(self):
        if self._manager is None:
            return
        try:
            self.wait()
        finally:
            self._manager.close()
            self._manager = None


def load_model_params(path):
    """Returns ``(params, state)`` from a Loop output dir, its checkpoints
    dir, or one step's checkpoint dir (no target structure needed). Reads
    only; damaged checkpoints are skipped."""
    path = os.path.abspath(os.path.expanduser(path))
    if os.path.isdir(os.path.join(path, "state")) or os.path.isdir(
            os.path.join(path, "default")):
        state, _ = _read_step(path, None)
    else:
        for directory in (checkpoint_dir(path), path):
            if committed_steps(directory):
                restored = restore_latest_intact(directory, None)
                state = restored.state
                break
        else:
            raise FileNotFoundError(
                f"No checkpoint found at {path}: expected a Loop output_dir "
                f"holding '{CHECKPOINT_SUBDIR}/<step>/' or a step directory.")
    params = jax.tree_util.tree_map(np.asarray, state["params"])
    return params, state.get("model_state")

