"""Reading Trax's checkpoint files, safely, in every format Trax wrote.

Trax pickles its checkpoints. A pickle may name any importable callable, so
loading one with plain ``pickle.load`` runs whatever the file asks for. The
unpickler here resolves only the handful of names Trax's files use (NumPy's
array reconstruction, JAX's, Trax's ``ShapeDtype`` and ``History``,
``collections``) onto our own types and refuses every other name, naming it.

Formats (newest first), all read into one :class:`TraxCheckpoint`:

* ``loop``: ``<base>.pkl.gz`` whose ``flat_weights`` / ``slots_per_task`` hold
  an int (the gzip level, meaning "the arrays are in the side files"
  ``<base>.weights.npy.gz`` and ``<base>.opt_slots<i>.npy.gz``, consecutive
  ``np.save`` records; bfloat16 arrays stored as their uint16 bits);
* ``loop_sharded``: the same int counting ``<file>.shard<i>`` pickles, each a
  list of weight arrays (Trax's memory-efficient trainer, late 2020);
* ``layer``: ``Layer.save_to_file``: ``flat_weights`` / ``flat_state`` lists;
* ``trainer_lib``: ``flat_weights`` list plus ``slots`` and ``opt_params``;
* ``trainer_dict``: the oldest dict, ``weights`` / ``slots`` as nested tuples
  (an uncompressed ``model.pkl``);
* ``trainer_tuple``: the oldest of all, ``(opt_state, step, history,
  model_state)`` with ``opt_state = (weights, slots, opt_params)``.
"""

import collections
import copyreg
import dataclasses
import gzip
import io
import os
import pickle
import types
import zlib

import numpy as np

from trax_compat import shapes
from trax_compat.supervised import history as history_lib

GZIP_MAGIC = b"\x1f\x8b"
# Trax writes side files at this gzip level and stores it as the marker.
DEFAULT_COMPRESSLEVEL = 2


class TraxCheckpointError(ValueError):
    """A Trax checkpoint file that cannot be read."""


class UnsafeCheckpointError(TraxCheckpointError):
    """A pickle naming a class or function a Trax checkpoint never needs."""


# -- the restricted unpickler ----------------------------------------------------

class _PickledHistory:
    """Stands in for Trax's ``History`` while unpickling (attributes only)."""

    def __setstate__(self, state):
        if isinstance(state, tuple):  # (dict state, slot state)
            state = state[0] or {}
        self.__dict__.update(state)


def _reconstruct_jax_array(fun, args, arr_state, aval_state):
    # JAX pickles an Array as a NumPy array rebuilt by `fun(*args)` plus its
    # `__setstate__`; NumPy's array is all we keep.
    del aval_state
    if fun is not _numpy_multiarray()._reconstruct:
        raise UnsafeCheckpointError(
            f"JAX array rebuilt by {fun!r}, not by NumPy's _reconstruct")
    array = fun(*args)
    array.__setstate__(arr_state)
    return array


def _numpy_multiarray():
    try:
        from numpy._core import multiarray  # pylint: disable=g-import-not-at-top
    except ImportError:  # NumPy 1.x
        from numpy.core import multiarray  # pylint: disable=g-import-not-at-top
    return multiarray


def _numpy_frombuffer():
    try:
        from numpy._core.numeric import _frombuffer  # pylint: disable=g-import-not-at-top
    except ImportError:  # NumPy 1.x
        from numpy.core.numeric import _frombuffer  # pylint: disable=g-import-not-at-top
    return _frombuffer


def _allowed_globals():
    multiarray = _numpy_multiarray()
    allowed = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("collections", "defaultdict"): collections.defaultdict,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("builtins", "list"): list,
        ("builtins", "tuple"): tuple,
        ("builtins", "dict"): dict,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("builtins", "complex"): complex,
        ("builtins", "bytearray"): bytearray,
        ("copyreg", "_reconstructor"): copyreg._reconstructor,  # pylint: disable=protected-access
        ("jax._src.array", "_reconstruct_array"): _reconstruct_jax_array,
        ("trax.shapes", "ShapeDtype"): shapes.ShapeDtype,
        ("trax.supervised.history", "History"): _PickledHistory,
        ("trax.history", "History"): _PickledHistory,
    }
    # Scalar types (a ShapeDtype's dtype may be pickled as one).
    for name in ("bool_", "int8", "int16", "int32", "int64", "uint8",
                 "uint16", "uint32", "uint64", "float16", "float32",
                 "float64", "complex64", "complex128"):
        allowed[("numpy", name)] = getattr(np, name)
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = multiarray._reconstruct  # pylint: disable=protected-access
        allowed[(module, "scalar")] = multiarray.scalar
    for module in ("numpy.core.numeric", "numpy._core.numeric"):
        allowed[(module, "_frombuffer")] = _numpy_frombuffer()
    return allowed


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the names in ``_allowed_globals``."""

    def __init__(self, file, source):
        super().__init__(file)
        self._source = source
        self._allowed = _allowed_globals()

    def find_class(self, module, name):
        found = self._allowed.get((module, name))
        if found is None:
            raise UnsafeCheckpointError(
                f"{self._source} asks to load {module}.{name}, which a Trax "
                f"checkpoint never needs; refusing to load it. Only open "
                f"checkpoints from sources you trust.")
        return found

    def persistent_load(self, pid):
        raise UnsafeCheckpointError(
            f"{self._source} uses a persistent id ({pid!r}); Trax "
            f"checkpoints have none.")


def safe_unpickle(data, source):
    """Unpickles ``data`` (bytes) with the restricted unpickler."""
    try:
        return _RestrictedUnpickler(io.BytesIO(data), source).load()
    except TraxCheckpointError:
        raise
    except Exception as e:  # pylint: disable=broad-except
        raise TraxCheckpointError(
            f"{source} is not a readable Trax checkpoint pickle "
            f"({type(e).__name__}: {e}); the file is truncated or "
            f"corrupt.") from e


# -- writing pickles Trax can read ---------------------------------------------

class _TraxNamesPickler(pickle._Pickler):  # pylint: disable=protected-access
    """Pickles our ``ShapeDtype`` under Trax's name, so that real Trax (and
    our reader) can load the file. Pure-Python pickler: it alone lets a
    class be written under another module's name."""

    def save_global(self, obj, name=None):
        if obj is shapes.ShapeDtype:
            return self._write_global(obj, "trax.shapes", "ShapeDtype")
        name = name or getattr(obj, "__qualname__", None)
        module = pickle.whichmodule(obj, name) if name else None
        if module and module.startswith("numpy._core"):
            # NumPy 2's module names; NumPy 1 (Trax's) knows numpy.core.
            return self._write_global(
                obj, "numpy.core" + module[len("numpy._core"):], name)
        return super().save_global(obj, name)

    def _write_global(self, obj, module, name):
        self.save(module)
        self.save(name)
        self.write(pickle.STACK_GLOBAL)
        self.memoize(obj)

    # Functions reach save_global through the class's dispatch table.
    dispatch = dict(pickle._Pickler.dispatch)  # pylint: disable=protected-access
    dispatch[types.FunctionType] = save_global
    dispatch[types.BuiltinFunctionType] = save_global


def trax_shape_dtypes(tree):
    # np.dtype objects, as Trax pickles them (not scalar types).
    if isinstance(tree, shapes.ShapeDtype):
        return shapes.ShapeDtype(tree.shape, np.dtype(tree.dtype))
    if isinstance(tree, (list, tuple)):
        return type(tree)(trax_shape_dtypes(t) for t in tree)
    return tree


def pickle_to_file(obj, path, use_gzip=True):
    """Pickles ``obj`` as Trax does (protocol 5, gzip level 2), with our
    ``ShapeDtype`` under Trax's name; replaces ``path`` atomically."""
    buffer = io.BytesIO()
    _TraxNamesPickler(buffer, protocol=5).dump(obj)
    data = buffer.getvalue()
    tmp = path + "._tmp_"
    with open(tmp, "wb") as f:
        if use_gzip:
            with gzip.GzipFile(fileobj=f, mode="wb",
                               compresslevel=DEFAULT_COMPRESSLEVEL) as gz:
                gz.write(data)
        else:
            f.write(data)
    os.replace(tmp, path)


# -- raw file reading --------------------------------------------------------------

def _read_bytes(path, what="checkpoint"):
    """The file's content, gunzipped when it is gzip; clear errors when it is
    missing, truncated or corrupt."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"Trax {what} file {path} does not exist.") from None
    if raw[:2] != GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as e:
        raise TraxCheckpointError(
            f"Trax {what} file {path} is truncated or corrupt "
            f"({type(e).__name__}: {e}).") from e


def unpickle_file(path, what="checkpoint"):
    """The object pickled (gzipped or not) in ``path``, read safely."""
    return safe_unpickle(_read_bytes(path, what), path)


class _TraxNamesUnpickler(pickle.Unpickler):
    """Any pickle, with Trax's classes read as ours (a trusted file)."""

    def find_class(self, module, name):
        if module == "trax" or module.startswith("trax."):
            found = _allowed_globals().get((module, name))
            if found is not None:
                return found
            module = "trax_compat" + module[len("trax"):]
        elif module.startswith("numpy.core") and hasattr(np, "_core"):
            # NumPy 1's module names (Trax's), NumPy 2's home for them.
            module = "numpy._core" + module[len("numpy.core"):]
        return super().find_class(module, name)


def unpickle_trusted(path):
    """What Trax's ``unpickle_from_file`` returns: ``pickle.load`` of the
    file (gunzipped if it is gzip), for files the user trusts."""
    return _TraxNamesUnpickler(io.BytesIO(_read_bytes(path, "pickle"))).load()


def read_npy_stream(path, bits_to_bfloat16=True):
    """The arrays of a Trax ``.npy.gz`` side file (consecutive ``np.save``
    records in one gzip stream), in order.

    Trax stores bfloat16 arrays as their uint16 bits (and nothing else as
    uint16); ``bits_to_bfloat16`` views them as bfloat16 again.
    """
    # A bytearray: the arrays are views onto it, writable as np.load's are.
    data = bytearray(_read_bytes(path, "array"))
    view = memoryview(data)
    arrays, offset = [], 0
    while offset < len(data):
        stream = io.BytesIO(view[offset:])
        try:
            version = np.lib.format.read_magic(stream)
            read_header = (np.lib.format.read_array_header_1_0
                           if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read_header(stream)
        except Exception as e:  # pylint: disable=broad-except
            raise TraxCheckpointError(
                f"Trax array file {path} is corrupt: record {len(arrays)} "
                f"at byte {offset} is not an .npy record ({e}).") from e
        if dtype.hasobject:
            raise UnsafeCheckpointError(
                f"Trax array file {path} holds an object array (record "
                f"{len(arrays)}); Trax never writes those.")
        start = offset + stream.tell()
        n_bytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if start + n_bytes > len(data):
            raise TraxCheckpointError(
                f"Trax array file {path} is truncated: record {len(arrays)} "
                f"needs {n_bytes} bytes, {len(data) - start} are left.")
        count = int(np.prod(shape, dtype=np.int64))
        array = np.frombuffer(data, dtype=dtype, count=count, offset=start)
        array = array.reshape(shape, order="F" if fortran else "C")
        if bits_to_bfloat16 and array.dtype == np.uint16:
            array = array.view(bfloat16())
        arrays.append(array)
        offset = start + n_bytes
    return arrays


def write_npy_stream(arrays, path, compresslevel=DEFAULT_COMPRESSLEVEL):
    """Writes ``arrays`` as Trax's side file does (bfloat16 as uint16 bits),
    atomically."""
    tmp = path + "._tmp_"
    with open(tmp, "wb") as f:
        with gzip.GzipFile(fileobj=f, mode="wb",
                           compresslevel=compresslevel) as gz:
            for array in arrays:
                array = np.asarray(array)
                if array.dtype == bfloat16():
                    array = array.view(np.uint16)
                np.save(gz, array, allow_pickle=False)
    os.replace(tmp, path)


def bfloat16():
    import ml_dtypes  # pylint: disable=g-import-not-at-top
    return np.dtype(ml_dtypes.bfloat16)


# -- trees -----------------------------------------------------------------------

def flatten(tree):
    """Trax's flat list of a weight/state/slot tree: array leaves depth first
    (dict values in order), without empty tuples, Nones and cache markers."""
    if isinstance(tree, (list, tuple)):
        return [leaf for sub in tree for leaf in flatten(sub)]
    if isinstance(tree, dict):
        return [leaf for sub in tree.values() for leaf in flatten(sub)]
    if tree is None:
        return []
    return [np.asarray(tree)]


def _plain_value(value):
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value[()]  # A 0-d array (JAX scalar) as its NumPy scalar.
    return value


def history_from_pickled(pickled):
    """Our :class:`History` from Trax's pickled one (an object or its
    ``__dict__``), keeping value types (NumPy scalars for JAX's)."""
    if pickled is None:
        return None
    values = pickled.__dict__ if isinstance(pickled, _PickledHistory) else \
        pickled
    values = values.get("_values", {}) if isinstance(values, dict) else {}
    history = history_lib.History()
    for mode, metrics in values.items():
        for metric, pairs in metrics.items():
            for step, value in pairs:
                history.append(mode, metric, int(step), _plain_value(value))
    return history


def history_to_pickled(history):
    """Trax's ``History.to_dict()`` layout for our :class:`History`."""
    values = {}
    for mode in history.modes:
        metrics = collections.defaultdict(list)
        for metric in history.metrics_for_mode(mode):
            metrics[metric] = [(int(s), v) for s, v in history.get(mode,
                                                                   metric)]
        values[mode] = metrics
    return {"_values": values}


# -- the checkpoint --------------------------------------------------------------

@dataclasses.dataclass
class TraxCheckpoint:
    """What a Trax checkpoint holds, whatever its format. Flat lists are in
    Trax's order (depth first, empty subtrees left out)."""
    path: str
    format: str
    flat_weights: list
    flat_state: list = None         # None: the file has none
    flat_eval_state: list = None
    slots_per_task: list = None     # [flat slots of task i]
    opt_params: dict = None
    step: int = None
    history: object = None          # our History
    input_signature: object = None
    version_timestamp: str = None

    def summary(self):
        """A few lines for ``inspect``: format, step, shapes, optimizer."""
        lines = [f"{self.path}: Trax checkpoint, format {self.format}"
                 + (f" ({self.version_timestamp})"
                    if self.version_timestamp else ""),
                 f"step: {self.step}",
                 f"weights: {len(self.flat_weights)} arrays, "
                 f"{sum(int(np.size(w)) for w in self.flat_weights)} values"]
        lines += [f"  {i}: {tuple(w.shape)} {w.dtype}"
                  for i, w in enumerate(self.flat_weights)]
        if self.flat_state:
            lines.append(f"state: {[tuple(np.shape(s)) for s in self.flat_state]}")
        if self.slots_per_task is not None:
            for i, slots in enumerate(self.slots_per_task):
                per = len(slots) / max(len(self.flat_weights), 1)
                lines.append(f"optimizer slots (task {i}): {len(slots)} arrays"
                             f" ({per:g} per weight)")
        if self.opt_params:
            lines.append("optimizer params: " + ", ".join(
                f"{k}={float(np.asarray(v)):g}"
                for k, v in self.opt_params.items()))
        if self.input_signature is not None:
            lines.append(f"input signature: {self.input_signature}")
        if self.history is not None:
            for mode in self.history.modes:
                for metric in self.history.metrics_for_mode(mode):
                    pairs = self.history.get(mode, metric)
                    lines.append(
                        f"history {mode}/{metric}: {len(pairs)} values, "
                        f"last {pairs[-1][1]!r} at step {pairs[-1][0]}")
        return "\n".join(lines)


def _side_base(path):
    return path[:-len(".pkl.gz")] if path.endswith(".pkl.gz") else None


def _weights_from_side_files(path, marker):
    """The weights an int ``marker`` points to: Trax's ``.weights.npy.gz``
    (or its older ``<file>.npy``), else ``<file>.shard<i>`` pickles."""
    base = _side_base(path)
    candidates = ([base + ".weights.npy.gz"] if base else []) + [path + ".npy"]
    for candidate in candidates:
        if os.path.exists(candidate):
            return read_npy_stream(candidate), "loop"
    if os.path.exists(path + ".shard0"):
        weights = []
        for i in range(marker):
            shard = unpickle_file(f"{path}.shard{i}", "weight shard")
            if not isinstance(shard, list):
                raise TraxCheckpointError(
                    f"{path}.shard{i} holds a {type(shard).__name__}, not a "
                    f"list of weights.")
            weights.extend(_bits_to_bfloat16(np.asarray(w)) for w in shard)
        return weights, "loop_sharded"
    raise FileNotFoundError(
        f"{path} keeps its weights in a side file, but "
        f"{' and '.join(candidates)} do not exist. Copy the "
        f"'.weights.npy.gz' file written with it next to it.")


def _bits_to_bfloat16(array):
    return array.view(bfloat16()) if array.dtype == np.uint16 else array


def _slots_from_side_files(path, n_tasks=None):
    base = _side_base(path) or path
    slots, i = [], 0
    while os.path.exists(f"{base}.opt_slots{i}.npy.gz") and (
            n_tasks is None or i < n_tasks):
        slots.append(read_npy_stream(f"{base}.opt_slots{i}.npy.gz"))
        i += 1
    return slots or None


def _from_dict(path, d):
    if "flat_weights" in d:
        weights = d["flat_weights"]
        fmt = "layer"
        if isinstance(weights, int):
            weights, fmt = _weights_from_side_files(path, weights)
        else:
            weights = flatten(weights)
        slots = None
        if "slots" in d:
            fmt = "trainer_lib" if fmt == "layer" else fmt
            slots = [flatten(d["slots"])]
        elif isinstance(d.get("slots_per_task"), int):
            slots = _slots_from_side_files(path)
        elif d.get("slots_per_task") is not None:
            slots = [flatten(s) for s in d["slots_per_task"]]
        return TraxCheckpoint(
            path=path, format=fmt, flat_weights=weights,
            flat_state=(flatten(d["flat_state"]) if "flat_state" in d
                        else None),
            flat_eval_state=(flatten(d["flat_eval_state"])
                             if "flat_eval_state" in d else None),
            slots_per_task=slots, opt_params=d.get("opt_params"),
            step=d.get("step"), history=history_from_pickled(d.get("history")),
            input_signature=d.get("input_signature"),
            version_timestamp=d.get("version_timestamp"))
    if "weights" in d:  # The oldest dict: nested trees.
        state = d["model_state"] if "model_state" in d else d.get("state")
        return TraxCheckpoint(
            path=path, format="trainer_dict", flat_weights=flatten(
                d["weights"]), flat_state=flatten(state),
            slots_per_task=([flatten(d["slots"])] if "slots" in d else None),
            opt_params=d.get("opt_params"), step=d.get("step"),
            history=history_from_pickled(d.get("history")))
    raise TraxCheckpointError(
        f"{path} is a pickled dict with keys {sorted(map(str, d))}, none of "
        f"which a Trax checkpoint uses ('flat_weights' or 'weights').")


def read(path):
    """Reads the Trax checkpoint ``path`` (any format) as a
    :class:`TraxCheckpoint`. Raises FileNotFoundError, or
    :class:`TraxCheckpointError` naming the file when it is not one."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise TraxCheckpointError(
            f"{path} is a directory; give the checkpoint's .pkl.gz file "
            f"(e.g. {os.path.join(path, 'model.pkl.gz')}).")
    obj = unpickle_file(path)
    if isinstance(obj, dict):
        return _from_dict(path, obj)
    if isinstance(obj, tuple) and len(obj) == 4 and isinstance(
            obj[0], tuple) and len(obj[0]) == 3:
        (weights, slots, opt_params), step, history, model_state = obj
        return TraxCheckpoint(
            path=path, format="trainer_tuple", flat_weights=flatten(weights),
            flat_state=flatten(model_state), slots_per_task=[flatten(slots)],
            opt_params=opt_params, step=step,
            history=history_from_pickled(history))
    raise TraxCheckpointError(
        f"{path} holds a pickled {type(obj).__name__}, not a Trax checkpoint "
        f"(a dict with 'flat_weights', or Trax's oldest 4-tuple).")


def is_trax_checkpoint_file(path):
    """Whether ``path`` is a file that may be a Trax pickle (gzip or a raw
    pickle), as opposed to one of our Orbax directories."""
    if not os.path.isfile(path):
        return False
    with open(path, "rb") as f:
        head = f.read(2)
    return head == GZIP_MAGIC or head[:1] == b"\x80"


# -- placing flat arrays into a model ----------------------------------------------

class MissingEntryError(TraxCheckpointError, KeyError):
    """A checkpoint without an entry the load needs (a KeyError, as Trax
    raises there)."""

    def __str__(self):
        return ValueError.__str__(self)


class ShapeMismatchError(TraxCheckpointError, IndexError):
    """Checkpoint arrays that fit no weight of the model (an IndexError, as
    Trax raises there)."""


def match_by_shape(model_flat, ckpt_flat, what="weights", log=None):
    """Trax's rule for putting a checkpoint's flat arrays into a model's:
    walk the model's, taking the next checkpoint array whenever its shape
    matches; model arrays left over keep their values. Returns the list;
    raises :class:`ShapeMismatchError` if checkpoint arrays remain."""
    result, used = [], 0
    for current in model_flat:
        if used < len(ckpt_flat) and np.shape(current) == np.shape(
                ckpt_flat[used]):
            result.append(match_dtype(ckpt_flat[used], current))
            used += 1
        else:
            result.append(current)
    if used < len(ckpt_flat):
        placed = ", ".join(str(tuple(np.shape(a))) for a in ckpt_flat[:used])
        left = ", ".join(str(tuple(np.shape(a))) for a in ckpt_flat[used:])
        raise ShapeMismatchError(
            f"The checkpoint's {what} do not fit the model: placed "
            f"[{placed}], could not place [{left}] (model {what}: "
            f"{[tuple(np.shape(a)) for a in model_flat]}). Load it into the "
            f"model that wrote it.")
    if log is not None and len(ckpt_flat) < len(model_flat):
        log(f"Checkpoint has less {what} than the model, loading first ones.")
    return result


def match_dtype(array, like):
    """A checkpoint array in the model's dtype when only the storage differs
    (bfloat16 bits kept as uint16)."""
    array = np.asarray(array)
    like_dtype = getattr(like, "dtype", None)
    if like_dtype is not None and array.dtype == np.uint16 and np.dtype(
            like_dtype) == bfloat16():
        return array.view(bfloat16())
    return array


# -- writing ---------------------------------------------------------------------

def write(ckpt, path):
    """Writes ``ckpt`` as Trax's current Loop checkpoint: ``path``
    (``<base>.pkl.gz``) plus ``<base>.weights.npy.gz`` and one
    ``<base>.opt_slots<i>.npy.gz`` per task; the pickle last."""
    path = os.fspath(path)
    if not path.endswith(".pkl.gz"):
        raise ValueError(f"{path}: a Trax checkpoint's name ends in .pkl.gz.")
    base = _side_base(path)
    level = DEFAULT_COMPRESSLEVEL
    for i, slots in enumerate(ckpt.slots_per_task or []):
        write_npy_stream(slots, f"{base}.opt_slots{i}.npy.gz", level)
    write_npy_stream(ckpt.flat_weights, f"{base}.weights.npy.gz", level)
    history = ckpt.history or history_lib.History()
    pickled = {
        "step": int(ckpt.step or 0),
        "flat_weights": level,
        "flat_state": list(ckpt.flat_state or []),
        "flat_eval_state": list(ckpt.flat_eval_state
                                if ckpt.flat_eval_state is not None
                                else ckpt.flat_state or []),
        "history": history_to_pickled(history),
        # No slots: an empty list, which Trax's Loop skips.
        "slots_per_task": level if ckpt.slots_per_task else [],
        "input_signature": trax_shape_dtypes(ckpt.input_signature),
        "version_timestamp": "Mar-10-2021",
    }
    pickle_to_file(pickled, path)
