"""Data parallelism for the Loop, on ``jax.sharding``.

Trax replicates its step with ``pmap`` and reshapes each batch to
``(n_devices, batch // n_devices, ...)``. Here the step stays one jitted
program over *global* arrays: a one-axis ``Mesh`` (``'data'``) holds the
devices, each batch is split along its leading axis over that axis
(``NamedSharding(mesh, P('data'))``), and the weights, optimizer slots,
layer state and the Loop's sums are replicated (``P()``). XLA inserts the
gradient all-reduce itself. Since the loss is computed on the global batch,
its value is the one a single device gets on the same batch (up to the
order of float additions).

A Loop on one device uses none of this (its step is compiled exactly as
before); see ``DataParallel.for_loop``.

Several processes (``jax.distributed.initialize()``): the mesh holds every
process's devices, and each process passes its own share of the global
batch, which ``make_array_from_process_local_data`` assembles.
"""

import dataclasses

import jax
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec
import numpy as np

DATA_AXIS = "data"


class BatchSizeError(ValueError):
    """A batch's leading size does not divide over the devices."""


def resolve_n_devices(n_devices, available=None):
    """The number of local devices a Loop uses for ``n_devices``.

    ``None``: every local device (Trax's default). ``k`` with
    ``1 <= k <= available``: the first ``k`` local devices (Trax refuses
    anything but all; fewer is ours, so that ``n_devices=1`` keeps meaning
    one device on a machine with several). More than there are is Trax's
    error.
    """
    available = jax.local_device_count() if available is None else available
    if n_devices is None:
        return available
    if isinstance(n_devices, bool) or not isinstance(
            n_devices, (int, np.integer)) or n_devices < 1:
        raise ValueError(
            f"n_devices must be a positive int or None (every local "
            f"device), got {n_devices!r}.")
    if n_devices > available:
        raise ValueError(
            f"JAX cannot work yet with n_devices != all devices: "
            f"{n_devices} != {available}. n_devices={n_devices}, but this "
            f"host has {available} device(s); pass n_devices=None to use "
            f"all of them, or a number up to {available} to use the first "
            f"ones.")
    return int(n_devices)


def is_chief():
    """Whether this is process 0: the one that prints the step log, writes
    ``log.txt``, TensorBoard files and ``config.gin``, and holds the
    output-dir lock (every process trains and saves checkpoints)."""
    return jax.process_index() == 0


def mesh_devices(n_local):
    """The devices of the mesh: the first ``n_local`` local devices of
    every process, process by process (each process then feeds the rows of
    the global batch that sit on its devices)."""
    if jax.process_count() == 1:
        return jax.local_devices()[:n_local]
    by_process = {}
    for device in jax.devices():
        by_process.setdefault(device.process_index, []).append(device)
    return [d for p in sorted(by_process)
            for d in sorted(by_process[p], key=lambda d: d.id)[:n_local]]


def _rows(x):
    shape = np.shape(x)
    return shape[0] if shape else None


def describe_shapes(batch):
    return ", ".join(str(tuple(np.shape(x))) for x in batch)


def check_divisible(batch, n_local, what="batch"):
    """Fails, naming the shapes, the device count and the fixes, when a
    batch item's leading size is not a multiple of ``n_local``."""
    for x in batch:
        rows = _rows(x)
        if rows is None or rows % n_local:
            raise BatchSizeError(
                f"Number of devices ({n_local}) does not evenly divide "
                f"batch size ({rows}): the {what} has items of shapes "
                f"[{describe_shapes(batch)}], and the Loop splits each along "
                f"its leading axis over the devices. Use batch sizes "
                f"that are multiples of {n_local} (e.g. in bucket_by_length's "
                f"batch_sizes), pass Loop(pad_batches=True) to pad batches "
                f"with zero-weight examples, or Loop(n_devices=k) with a k "
                f"that divides every batch size.")


def pad_rows(batch, n_local, n_model_inputs):
    """``batch`` with zero rows appended to every item, up to the next
    multiple of ``n_local``. The last item must be the loss weights: the
    added rows get weight 0, so a weighted loss or metric
    (``sum(w * l) / sum(w)``) is unchanged."""
    batch = tuple(batch)
    if len(batch) < n_model_inputs + 2:
        raise BatchSizeError(
            f"pad_batches=True pads with zero-weight examples, but the batch "
            f"[{describe_shapes(batch)}] has no weights item after the "
            f"model's {n_model_inputs} input(s) and the targets. Add weights "
            f"(e.g. trax.data.AddLossWeights()) and use a weighted loss, or "
            f"use batch sizes that divide the device count.")
    rows = {_rows(x) for x in batch}
    if len(rows) != 1 or None in rows:
        raise BatchSizeError(
            f"pad_batches=True needs batch items with the same leading size; "
            f"got shapes [{describe_shapes(batch)}].")
    (n,) = rows
    missing = -n % n_local
    if not missing:
        return batch

    def pad(x):
        x = np.asarray(x)
        return np.concatenate(
            [x, np.zeros((missing,) + x.shape[1:], x.dtype)], axis=0)
    return tuple(pad(x) for x in batch)


@dataclasses.dataclass(frozen=True)
class DataParallel:
    """The mesh of a Loop and how its arrays are placed on it."""
    mesh: Mesh
    n_local: int  # Devices of this process in the mesh.
    pad_batches: bool = False

    @classmethod
    def for_loop(cls, n_devices, pad_batches=False):
        """None when the Loop runs on one device in one process: its step
        is then compiled as it always was (no mesh, no shardings)."""
        n_local = resolve_n_devices(n_devices)
        if n_local == 1 and jax.process_count() == 1:
            return None
        devices = np.array(mesh_devices(n_local))
        return cls(Mesh(devices, (DATA_AXIS,)), n_local, pad_batches)

    @property
    def n_devices(self):
        """Devices in the mesh (every process's)."""
        return self.mesh.devices.size

    @property
    def replicated(self):
        return NamedSharding(self.mesh, PartitionSpec())

    @property
    def batch_sharding(self):
        return NamedSharding(self.mesh, PartitionSpec(DATA_AXIS))

    def replicate(self, tree):
        """Every array of ``tree`` as a copy on each device of the mesh."""
        return jax.device_put(tree, self.replicated)

    def shard_batch(self, batch, n_model_inputs, what="batch"):
        """This process's rows of a global batch, padded if asked, as
        global arrays split along their leading axis."""
        batch = tuple(batch)
        if self.pad_batches:
            batch = pad_rows(batch, self.n_local, n_model_inputs)
        else:
            check_divisible(batch, self.n_local, what)
        sharding = self.batch_sharding
        return tuple(jax.make_array_from_process_local_data(
            sharding, np.asarray(x)) for x in batch)

    def local_copy(self, tree):
        """A replicated tree as single-device arrays (this process's copy),
        for use outside the jitted steps (``model(x)``, callbacks)."""
        def local(x):
            if isinstance(x, jax.Array) and len(x.sharding.device_set) > 1:
                return x.addressable_data(0)
            return x
        return jax.tree_util.tree_map(local, tree)


def jit_kwargs(data_parallel, batch_argnum, n_args):
    """``jax.jit`` sharding arguments for a step whose positional argument
    ``batch_argnum`` is the batch and the others are replicated (static
    arguments excluded from ``n_args``); every output is replicated."""
    if data_parallel is None:
        return {}
    replicated = data_parallel.replicated
    in_shardings = [replicated] * n_args
    in_shardings[batch_argnum] = data_parallel.batch_sharding
    return {"in_shardings": tuple(in_shardings), "out_shardings": replicated}
