"""Training checkpoints on Orbax.

A Loop's checkpoints live in ``<output_dir>/checkpoints/<step>/``. Orbax
writes each one into a temporary directory and renames it into place only
once complete, and deletes older checkpoints only after a newer one is
committed, so an interrupted save never destroys the last good checkpoint.
"""

import os

import jax
import numpy as np

CHECKPOINT_SUBDIR = "checkpoints"
MAX_TO_KEEP = 3


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be written or read back."""


def checkpoint_dir(output_dir):
    return os.path.join(output_dir, CHECKPOINT_SUBDIR)


def _ocp():
    import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
    return ocp


class CheckpointWriter:
    """Saves and restores ``{'params', 'opt_state', 'step'}`` pytrees."""

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
        return self._manager.latest_step()

    def all_steps(self):
        return list(self._manager.all_steps())

    def save(self, step, tree):
        ocp = _ocp()
        try:
            self._manager.save(int(step), args=ocp.args.StandardSave(tree),
                               force=True)
            if not self._asynchronous:
                self._manager.wait_until_finished()
        except Exception as e:  # pylint: disable=broad-except
            raise self._write_error(f"the checkpoint of step {step}", e) from e

    def wait(self):
        """Blocks until pending asynchronous saves are on disk."""
        try:
            self._manager.wait_until_finished()
        except Exception as e:  # pylint: disable=broad-except
            raise self._write_error("a checkpoint", e) from e

    def _write_error(self, what, error):
        return CheckpointError(
            f"Writing {what} into {self._directory} failed: {error}. Earlier "
            f"checkpoints in that directory are untouched; check free disk "
            f"space and permissions.")

    def restore(self, target, step=None):
        """Restores ``step`` (default: the latest) shaped like ``target``."""
        ocp = _ocp()
        self.wait()
        step = self.latest_step() if step is None else step
        if step is None:
            return None
        abstract = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct,
                                          target)
        try:
            return self._manager.restore(
                step, args=ocp.args.StandardRestore(abstract))
        except Exception as e:  # pylint: disable=broad-except
            others = [s for s in self.all_steps() if s != step]
            hint = (f"Move {os.path.join(self._directory, str(step))} away to "
                    f"resume from the previous checkpoint (step "
                    f"{max(others)})" if others else
                    "Move it away or use a fresh output_dir to start over")
            raise CheckpointError(
                f"The checkpoint of step {step} in {self._directory} cannot "
                f"be read ({type(e).__name__}: {e}). It does not match this "
                f"model and optimizer, or it is damaged. {hint}.") from e

    def close(self):
        self.wait()
        self._manager.close()


def load_model_params(path):
    """Returns ``(params, state)`` from a Loop output dir, its checkpoints
    dir, or one step's checkpoint dir (no target structure needed)."""
    ocp = _ocp()
    path = os.path.abspath(os.path.expanduser(path))
    candidates = [path, checkpoint_dir(path)]
    for directory in candidates:
        if not os.path.isdir(directory):
            continue
        steps = sorted(int(d) for d in os.listdir(directory) if d.isdigit())
        if steps:
            step_dir = os.path.join(directory, str(steps[-1]))
            break
        if os.path.isdir(os.path.join(directory, "default")):
            step_dir = directory
            break
    else:
        raise FileNotFoundError(
            f"No checkpoint found at {path}: expected a Loop output_dir "
            f"holding '{CHECKPOINT_SUBDIR}/<step>/' or a step directory.")
    with ocp.CheckpointManager(os.path.dirname(step_dir)) as manager:
        tree = manager.restore(int(os.path.basename(step_dir)),
                               args=ocp.args.StandardRestore())
    params = jax.tree_util.tree_map(np.asarray, tree["params"])
    return params, tree.get("state")
