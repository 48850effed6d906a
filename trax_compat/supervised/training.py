"""Trax's ``Loop`` on a Flax ``TrainState``: it wires the tasks
(``tasks``), the jitted steps (``steps``), reporting (``reporting``) and
checkpoint policy (``checkpoint_policy``) together.

What follows Trax exactly: ``Loop(random_seed=...)`` seeds Python's and
NumPy's generators; steps are 1-based and ``run(n)`` continues from the
current step; several ``TrainTask``s take turns as ``which_task`` says
(round robin by default), each with its own optimizer state and sharing the
model; evals and checkpoints happen at step 1 and every
``n_steps_per_checkpoint`` of the first task (or as ``eval_at`` /
``checkpoint_at`` / ``permanent_checkpoint_at`` say), with Trax's checkpoint
names (``model``, ``model_<step>``, ``lowest_<metric>``,
``highest_<metric>``); callbacks are classes constructed with the Loop; the
step log and TensorBoard layout; the train loss reported at a step is the
mean of the per-step losses since the previous report.

What is ours: checkpoints are verified Orbax directories under
``<output_dir>/checkpoints`` (``<step>/`` for the rolling ``model`` series,
``<basename>/`` for the others), written after the step's evals so they
hold the step's history too; the per-step loss and optimizer metrics stay
on the device until logged; a callback can stop ``run`` cleanly
(``request_stop``); clear errors for a stream that runs out, a model whose
output does not fit the loss, and a loss that turns NaN.
"""

import collections
import contextlib
import logging
import os
import random
import tempfile
import time
import weakref

import jax
import jax.numpy as jnp
import numpy as np

from trax_compat import gin_registry
from trax_compat import shapes
from trax_compat.fastmath import random as trax_random
from trax_compat.layers import base as layers_base
from trax_compat.layers import flax_adapter
from trax_compat.optimizers import base as optimizers_base
from trax_compat.supervised import background_compile as background_compile_lib
from trax_compat.supervised import checkpoint_policy
from trax_compat.supervised import checkpoints
from trax_compat.supervised import compile_cache
from trax_compat.supervised import history as history_lib
from trax_compat.supervised import interrupts
from trax_compat.supervised import memory_efficient
from trax_compat.supervised import output_lock
from trax_compat.supervised import prefetch
from trax_compat.supervised import reporting
from trax_compat.supervised import sharding
from trax_compat.supervised import step_log
from trax_compat.supervised import steps
from trax_compat.supervised import summaries
from trax_compat.supervised import trax_checkpoint
from trax_compat.supervised import trax_resume
from trax_compat.supervised.tasks import EvalTask  # pylint: disable=unused-import
from trax_compat.supervised.tasks import StreamExhaustedError  # pylint: disable=unused-import
from trax_compat.supervised.tasks import TrainTask  # pylint: disable=unused-import


LOG_FILE_NAME = "log.txt"
RESUME_STREAMS = ("restart", "replay")
_PKL_SUFFIX = ".pkl.gz"
CHECKPOINT_FORMATS = ("orbax", "trax")


# How far run_evals reads an eval stream ahead when compiling in the
# background (to start compiling for the shapes it meets).
EVAL_LOOKAHEAD_BATCHES = 32
EVAL_LOOKAHEAD_BYTES = 64 << 20


class ModelLossMismatchError(ValueError):
    """The model's outputs cannot be fed to the loss or metric layer."""


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite."""


class OutputDirError(OSError):
    """The output_dir cannot be created or written."""


def writable_output_dir(path):
    """Creates ``path`` if needed and checks a file can be written there."""
    path = os.path.abspath(os.path.expanduser(path))
    if os.path.exists(path) and not os.path.isdir(path):
        raise OutputDirError(
            f"output_dir {path} exists and is not a directory. Trax's "
            f"output_dir is a directory (even when named like "
            f"'output_file.txt'); choose another path.")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise OutputDirError(
            f"Cannot create output_dir {path}: {e.strerror or e}. Pass an "
            f"output_dir in a location you can write to (or output_dir=None "
            f"to skip checkpoints and TensorBoard files).") from e
    try:  # Permissions alone do not tell (root, read-only mounts).
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise OutputDirError(
            f"output_dir {path} is not writable ({e.strerror or e}). Pass an "
            f"output_dir you can write to, or output_dir=None.") from e
    return path


class _PullLog:
    """The order in which the Loop consumed batches, run-length encoded:
    ``[["train/0", 100], ["eval/0", 20], ...]``. Replaying it on fresh
    streams reproduces their state, including draws that Trax-style
    pipelines make from NumPy's global generator."""

    def __init__(self, runs=()):
        self._runs = [[str(name), int(n)] for name, n in runs]

    def add(self, name, n=1):
        if self._runs and self._runs[-1][0] == name:
            self._runs[-1][1] += n
        else:
            self._runs.append([name, n])

    def to_list(self):
        return [list(run) for run in self._runs]

    def total(self):
        return sum(n for _, n in self._runs)


def _is_uninitialized(model):
    """Trax's check: no weights anywhere in ``model`` (empty tuples,
    dicts or Nones only)."""
    return not jax.tree_util.tree_leaves(model.weights)


def _init_random_number_generators(seed):
    """Seeds Python's and NumPy's global generators as Trax's Loop does."""
    random.seed(seed)
    if seed is None:
        seed = random.randint(0, 2**31 - 1)
    np.random.seed(seed)
    return trax_random.get_prng(seed)


def init_host_and_devices(n_devices=None, random_seed=None):
    """Trax's helper: ``(is_chief, host_count, n_devices, rng)``, seeding
    Python's and NumPy's generators from ``random_seed`` as the Loop does
    (with several hosts and no seed, each host draws its own from the
    time). ``n_devices`` must be every local device, as in Trax on JAX."""
    host_id, host_count = jax.process_index(), jax.process_count()
    device_count = jax.local_device_count()
    n_devices = n_devices or device_count
    if n_devices != device_count:
        raise ValueError(f"JAX cannot work yet with n_devices != all "
                         f"devices: {n_devices} != {device_count}")
    if random_seed is None and host_count > 1:
        random_seed = int(1e6 * (host_id + time.time())) % 2**31
    return (host_id == 0, host_count, n_devices,
            _init_random_number_generators(random_seed))


def pickle_to_file(obj, file_path, gzip=False):
    """Trax's helper: pickles ``obj`` to ``file_path`` (gzipped with
    ``gzip``), through a temporary file so a crash leaves no partial file."""
    trax_checkpoint.pickle_to_file(obj, file_path, use_gzip=gzip)


def unpickle_from_file(file_path, gzip=False):
    """Trax's helper: the object pickled in ``file_path`` (by
    ``pickle_to_file``, here or in Trax). Like Trax it loads any pickle, so
    only open files you trust; Trax's own classes in it load as
    trax_compat's. A gzipped file is recognized whatever ``gzip`` says."""
    del gzip
    return trax_checkpoint.unpickle_trusted(file_path)


def _draw_as_trax_loop_layers(tasks, eval_tasks):
    """Advances Python's global generator as Trax's Loop does after seeding
    it: every Trax layer draws ``random.randint`` when constructed, and
    Trax's Loop then builds, per train task, ``Serial(model, loss)`` and an
    ``Accelerate``, and per eval task ``Serial(model, Branch(*metrics))``
    (a Branch of several layers is a Serial of a Select and a Parallel).
    Data streams that draw from ``random`` (Trax's copy and addition
    inputs) then get Trax's batches."""
    n = 2 * len(tasks)
    for task in eval_tasks:
        n += 4 if len(task.metrics) > 1 else 1
    for _ in range(n):
        random.randint(0, 2**31 - 1)


def _copy(x):
    """A new buffer holding ``x`` (``jnp.array(x)``), without compiling a
    copy program per shape for arrays already on a device."""
    if isinstance(x, jax.Array):
        return jax.device_put(x, may_alias=False)
    return jnp.array(x)


def _log(message):
    print(message, flush=True)


class _Discard:
    """The step log's stream on processes other than process 0."""

    def write(self, text):
        return len(text)

    def flush(self):
        pass


def _short_name(layer):
    return repr(layer).split("\n")[0].rstrip("[")


def _cleanup(fn):
    """An ExitStack exit callback running ``fn`` that never hides an error
    already on its way out: a failing cleanup then only adds a note to it,
    so the first error is the one raised and every later cleanup runs."""
    def exit_callback(exc_type, exc, tb):
        del tb
        try:
            fn()
        except Exception as e:  # pylint: disable=broad-except
            if exc_type is None:
                raise
            exc.add_note(f"While cleaning up, {type(e).__name__}: {e}")
        return False
    return exit_callback


def _policy_attribute(name):
    """A Loop attribute that reads and sets ``loop._policy.<name>``."""
    return property(lambda loop: getattr(loop._policy, name),  # pylint: disable=protected-access
                    lambda loop, value: setattr(loop._policy, name, value))  # pylint: disable=protected-access


class _BatchWindows:
    """The training batches of ``loop.run``, one eval window at a time
    (a prefetcher never reads past the next eval)."""

    def __init__(self, loop, last):
        self._loop = loop
        self._last = last
        self._batches = None
        self.window_end = None

    def next(self, step):
        loop = self._loop
        if self._batches is None:
            window = loop._window(step, self._last)  # pylint: disable=protected-access
            self._batches = loop._batches(window)  # pylint: disable=protected-access
            self.window_end = window[-1]
        batch = self._batches.get()
        if step == self.window_end:
            self.close()
        return batch

    def close(self):
        if self._batches is not None:
            self._loop._data_wait_seconds += self._batches.wait_seconds  # pylint: disable=protected-access
            self._batches.close()
            self._batches = None


class Loop:
    """Trains ``model`` on ``tasks``, with periodic evals and checkpoints.

    Arguments are Trax's (``adasum`` only at its default;
    ``use_memory_efficient_trainer`` and ``loss_chunk_size`` as described
    in ``memory_efficient.py``), plus:

    ``optimizer_metrics_every_step``: Trax averages ``training/gradients_l2``
    and ``training/weights_l2`` (TensorBoard and ``history``, never stdout)
    over every step. They cost passes over all weights, so by default they
    are measured at logged and checkpointed steps only (by the same
    compiled step as the others); pass True for Trax's averages (a
    subclass with its own ``run`` gets them).

    ``prefetch_batches``: how many training batches a background thread may
    produce ahead (within one eval window, see ``prefetch``). The default 0
    pulls each batch in the training thread: JAX dispatches the train step
    asynchronously, so the pipeline already runs while the device computes.

    ``resume_streams``: what a Loop that resumes from a checkpoint in
    ``output_dir`` does with its (freshly built) streams. ``"restart"``
    (Trax's behaviour) trains on from their first batch. ``"replay"`` first
    pulls and drops, in their original order, exactly the batches consumed
    before the checkpoint, so training continues as if never stopped.

    ``checkpoint_format``: ``"orbax"`` (ours, verified, under
    ``output_dir/checkpoints``) or ``"trax"``: Trax's own files
    (``<name>.pkl.gz``, ``<name>.weights.npy.gz``, ``<name>.opt_slots<i>.npy.gz``
    in ``output_dir``), which real Trax's ``init_from_file`` and
    ``Loop.load_checkpoint`` read. Either way, a Loop resumes from Trax's
    ``model.pkl.gz`` when ``output_dir`` has no checkpoint of ours.

    ``n_devices``: None (Trax's default) trains on every local device, ``k``
    on the first ``k``: each batch is split over them along its leading axis
    (see ``sharding`` and docs/scaling.md). ``pad_batches=True`` pads a
    batch whose size the device count does not divide with zero-weight
    rows instead of stopping with an error.

    ``progress``: an object with ``update(step, next_eval, last)``,
    ``start(step)`` and ``clear()`` (see ``progress.TerminalProgress``).

    Callbacks (``callbacks.TrainingStepCallback`` subclasses, passed as
    classes) run around every step where their ``call_at`` is true, and
    may call :meth:`request_stop`: ``run`` then returns after the step,
    its evals and its checkpoint (one is written if the step had none).

    With an ``output_dir`` the Loop holds that directory's lock (see
    ``output_lock``) until :meth:`close`, the end of a ``with`` block, or
    the end of the process. Ctrl-C takes effect between steps.

    ``background_compile``: compile the eval function (and train steps for
    batch shapes first seen in evals) in a background thread as soon as
    their arguments are known (see ``background_compile``); None (the
    default) means on unless ``$TRAX_COMPAT_BACKGROUND_COMPILE`` is ``0``.
    One device only; results are the same either way.
    """

    def __init__(self, model, tasks, eval_model=None, eval_tasks=None,
                 output_dir=None, checkpoint_at=None,
                 checkpoint_low_metric=None, checkpoint_high_metric=None,
                 permanent_checkpoint_at=None, eval_at=None, which_task=None,
                 n_devices=None, random_seed=None, loss_chunk_size=0,
                 use_memory_efficient_trainer=False, adasum=False,
                 callbacks=None, *, optimizer_metrics_every_step=False,
                 prefetch_batches=0, resume_streams="restart", progress=None,
                 checkpoint_format="orbax", pad_batches=False,
                 background_compile=None):
        if adasum:
            raise NotImplementedError(
                f"Loop(adasum={adasum!r}) is not supported; leave it at its "
                f"default (gradients are averaged over the devices).")
        if checkpoint_format not in CHECKPOINT_FORMATS:
            raise ValueError(
                f"checkpoint_format must be one of {CHECKPOINT_FORMATS}, got "
                f"{checkpoint_format!r}.")
        self._checkpoint_format = checkpoint_format
        if resume_streams not in RESUME_STREAMS:
            raise ValueError(f"resume_streams must be one of "
                             f"{RESUME_STREAMS}, got {resume_streams!r}.")
        # Before the first program is compiled (see compile_cache).
        compile_cache.enable_default()
        self._parallel = sharding.DataParallel.for_loop(n_devices,
                                                        pad_batches)
        self._n_devices = (self._parallel.n_local if self._parallel
                           else 1)
        # With several processes, process 0 alone logs and holds the lock.
        self._is_chief = sharding.is_chief()
        # Trax's memory-efficient trainer: see memory_efficient.py (Trax
        # uses loss_chunk_size there alone).
        self._use_memory_efficient_trainer = use_memory_efficient_trainer
        self._rng = _init_random_number_generators(random_seed)
        self._norms_every_step = (optimizer_metrics_every_step
                                  or type(self).run is not Loop.run)
        self._prefetch_batches = prefetch_batches
        self._resume_streams = resume_streams
        self._progress = progress
        self._data_wait_seconds = 0.0
        self._replay_seconds = 0.0
        self._pulls = _PullLog()
        self._resumed_totals = None
        self._totals = steps.Totals.zeros()
        self._guard = None
        self._windows = None
        self._stop_reason = None
        self._last_eval = (None, {})
        self._evals_ahead = False
        self._run_last = None
        self._weights_l2_compiled = False

        if not isinstance(tasks, (list, tuple)):
            tasks = [tasks]
        if not tasks:
            raise ValueError("Must provide at least one training task.")
        if eval_tasks is None:
            eval_tasks = []
            eval_at = checkpoint_policy.never
        elif not isinstance(eval_tasks, (list, tuple)):
            eval_tasks = [eval_tasks]
        self._tasks = list(tasks)
        self._eval_tasks = list(eval_tasks)
        if use_memory_efficient_trainer:
            memory_efficient.prepare_tasks(self._tasks)
        _draw_as_trax_loop_layers(self._tasks, self._eval_tasks)
        if which_task is None:
            n_tasks = len(self._tasks)
            which_task = lambda step: step % n_tasks  # Trax's round robin.
        self._which_task = which_task

        self._model = flax_adapter.as_layer(model)
        self._eval_model = (flax_adapter.as_layer(eval_model)
                            if eval_model is not None
                            and not use_memory_efficient_trainer
                            else self._model)
        self._output_dir = (writable_output_dir(output_dir)
                            if output_dir is not None else None)
        self._lock = None
        if self._output_dir is not None and self._is_chief:
            # Before anything is written there: a second job stops here.
            self._lock = output_lock.OutputDirLock(self._output_dir,
                                                   say=_log)
            weakref.finalize(self, self._lock.release)

        metric_names = [name for t in self._eval_tasks
                        for name in t.metric_names]
        self._policy = checkpoint_policy.CheckpointPolicy(
            self._tasks[0], checkpoint_at, permanent_checkpoint_at,
            checkpoint_low_metric, checkpoint_high_metric, metric_names)
        self._checkpoint_low_metric = checkpoint_low_metric
        self._checkpoint_high_metric = checkpoint_high_metric
        self._eval_at = eval_at or checkpoint_policy.at_step_1_and_every_nth_step(
            self._tasks[0].n_steps_per_checkpoint)
        self._step = 0  # The one step counter; the train step receives it.
        self._history = history_lib.History()

        # Initialize like Trax: the model's key is a fresh split of the
        # Loop's key, then Serial splits it among sublayers. A model that
        # already has weights (e.g. model.init was called) keeps them.
        self._batch_signature = shapes.signature(self._tasks[0].sample_batch)
        self._model.rng = self.new_rng()
        if _is_uninitialized(self._model) and use_memory_efficient_trainer:
            memory_efficient.init_model(
                self._model, self._tasks[0].loss_layer,
                self._batch_signature, self._model.rng, loss_chunk_size)
        elif _is_uninitialized(self._model):
            self._model.init(
                self._model_input_signature(self._batch_signature))
        if self._eval_model is not self._model:
            self._eval_model.rng = self.new_rng()
            if _is_uninitialized(self._eval_model):
                self._eval_model.init(
                    self._model_input_signature(self._batch_signature))

        self._txs = tuple(steps.as_gradient_transformation(task.optimizer)
                          for task in self._tasks)
        # A private copy: the train step donates its buffers, and arrays the
        # user holds (e.g. model.weights before run) must stay valid.
        params = jax.tree_util.tree_map(_copy, self._model.params)
        # One optimizer state per task, all over the shared params. The step
        # is an int32 array from the start: a Python int would make the
        # second step's argument types differ and compile the step twice.
        model_state = jax.tree_util.tree_map(
            _copy, self._model.flax_state_from_state(self._model.state))
        # In its post-step shapes, so the train step compiles once.
        model_state = steps.settled_model_state(
            self._model, params, model_state,
            tuple(jax.ShapeDtypeStruct(tuple(s.shape), s.dtype)
                  for s in self._batch_signature),
            jax.ShapeDtypeStruct(np.shape(self._rng), self._rng.dtype))
        self._state = self._replicate(steps.TrainState(
            step=jnp.zeros((), jnp.int32), apply_fn=self._model.module.apply,
            params=params, tx=self._txs,
            opt_state=tuple(tx.init(params) for tx in self._txs),
            model_state=model_state))
        self._check_learning_rates()
        self._train_steps = [
            steps.make_train_step(self._model, task.loss_layer, tx, i,
                                  self._parallel)
            for i, (task, tx) in enumerate(zip(self._tasks, self._txs))]
        self._train_step = self._train_steps[0]
        self._add_weights_l2 = steps.make_add_weights_l2(self._parallel)
        self._eval_fns = [
            steps.make_eval_step(self._eval_model, t.metrics, self._parallel)
            for t in self._eval_tasks]
        self._compiler = None
        if self._parallel is None and background_compile_lib.enabled(
                os.environ, background_compile):
            self._compiler = background_compile_lib.BackgroundCompiler()
            weakref.finalize(self, self._compiler.close)
        # Batch shapes each program was called with (see _new_shape).
        self._train_shapes = [set() for _ in self._tasks]
        self._eval_shapes = [set() for _ in self._eval_tasks]

        self._output_dir_per_train_task = self._task_output_dirs(self._tasks)
        self._output_dir_per_eval_task = self._task_output_dirs(
            self._eval_tasks)
        self._checkpointer = None
        if self._output_dir is not None:
            self._checkpointer = checkpoints.CheckpointWriter(self._output_dir)
            weakref.finalize(self, self._checkpointer.close)
            # Before the loss/metric fit check: a checkpoint of another
            # model is an IndexError, as in Trax.
            self._resume_from_output_dir()
        for task in self._tasks:
            self._check_end_layers([task.loss_layer],
                                   shapes.signature(task.sample_batch), "loss")
        for eval_task in self._eval_tasks:
            self._check_end_layers(eval_task.metrics,
                                   shapes.signature(eval_task.sample_batch),
                                   "metric")

        loss_names = [task.loss_name for task in self._tasks]
        self._rjust_len = max(map(len, loss_names + metric_names))
        self._log_writer = step_log.TraxStepLogWriter(
            self._rjust_len, None if self._is_chief else [_Discard()])
        if self._output_dir is None:
            _log("Will not write evaluation metrics, because output_dir is "
                 "None.")
        self._callbacks = []
        for callback_class in callbacks or []:
            if not callable(callback_class):
                raise TypeError(
                    f"callbacks takes classes (the Loop constructs each with "
                    f"itself), got the instance {callback_class!r}; pass "
                    f"{type(callback_class).__name__} instead.")
            self._callbacks.append(callback_class(self))

    # -- properties ------------------------------------------------------------

    @property
    def step(self):
        return self._step

    @property
    def model(self):
        return self._model

    @property
    def eval_model(self):
        return self._eval_model

    @property
    def tasks(self):
        return self._tasks

    @property
    def eval_tasks(self):
        return self._eval_tasks

    @property
    def output_dir(self):
        return self._output_dir

    @property
    def history(self):
        return self._history

    @property
    def n_devices(self):
        return self._n_devices

    @property
    def is_chief(self):
        """Whether this is process 0, the one that logs (Trax's name)."""
        return self._is_chief

    @property
    def train_state(self):
        """The ``flax.training.train_state.TrainState`` being trained. With
        one task it is a plain one (its ``tx`` and ``opt_state``); with
        several, ``tx`` and ``opt_state`` are tuples, one entry per task."""
        if len(self._tasks) == 1:
            return self._state.replace(tx=self._txs[0],
                                       opt_state=self._state.opt_state[0])
        return self._state

    @property
    def step_log_writer(self):
        """The ``clu.metric_writers.MetricWriter`` printing Trax's log."""
        return self._log_writer

    @property
    def last_eval(self):
        """``(step, {metric name: value})`` of the latest evals (all eval
        tasks), ``(None, {})`` before the first."""
        step, values = self._last_eval
        return step, dict(values)

    @property
    def data_wait_seconds(self):
        """Total time training waited for the next batch (all runs)."""
        return self._data_wait_seconds

    @property
    def replay_seconds(self):
        """Time spent replaying streams when resuming (``"replay"``)."""
        return self._replay_seconds

    def new_rng(self):
        self._rng, rng = trax_random.split(self._rng)
        return rng

    # Trax code reads and sets these; the policy is their one home.
    _checkpoint_at = _policy_attribute("checkpoint_at")
    _permanent_checkpoint_at = _policy_attribute("permanent_checkpoint_at")

    def request_stop(self, reason=None):
        """Asks ``run`` to return after the current step (its evals and a
        checkpoint included). Callbacks call it, e.g. ``EarlyStopping``."""
        self._stop_reason = reason or "stop requested"

    # -- devices ---------------------------------------------------------------

    def _replicate(self, tree):
        """``tree`` on every device of the Loop's mesh (as is: one device)."""
        if self._parallel is None:
            return tree
        return self._parallel.replicate(tree)

    def _device_batch(self, batch, what):
        """A batch as the steps take it: split over the mesh's devices
        (checked or padded there), or as is on one device."""
        if self._parallel is None:
            return tuple(batch)
        return self._parallel.shard_batch(batch, self._model.n_in, what)

    # -- construction helpers ----------------------------------------------------

    def _model_input_signature(self, batch_signature):
        n_in = self._model.n_in
        if n_in == 1:
            return batch_signature[0]
        return tuple(batch_signature[:n_in])

    def _check_end_layers(self, end_layers, batch_signature, kind):
        """Fails early, with both layers and the shapes, when the model's
        output cannot feed a loss/metric layer."""
        model_in = self._model_input_signature(batch_signature)
        model_out = self._model.output_signature(model_in)
        stack = (list(steps.as_tuple(model_out, self._model.n_out))
                 + list(batch_signature[self._model.n_in:]))
        for layer in end_layers:
            inputs = stack[:layer.n_in]
            described = ", ".join(f"{tuple(s.shape)} {np.dtype(s.dtype).name}"
                                  for s in inputs)
            if len(inputs) < layer.n_in:
                raise ModelLossMismatchError(
                    f"The {kind} layer {layer.name} takes {layer.n_in} inputs "
                    f"but the model {_short_name(self._model)} and the batch "
                    f"leave only {len(inputs)} ({described}).")
            try:
                layer.output_signature(
                    inputs[0] if layer.n_in == 1 else tuple(inputs))
            except Exception as e:  # pylint: disable=broad-except
                cause = str(e).strip().splitlines()[-1] if str(e) else repr(e)
                raise ModelLossMismatchError(
                    f"The output of model {_short_name(self._model)} does not "
                    f"fit the {kind} layer {layer.name}: the {kind} was given "
                    f"({described}) = model output(s) followed by the batch's "
                    f"targets/weights. Cause: {cause}. Make the model's last "
                    f"layer produce what {layer.name} expects (e.g. "
                    f"Dense(n_classes) + LogSoftmax() for integer class "
                    f"targets of shape batch_shape).") from e

    def _check_learning_rates(self):
        """A TrainTask schedule must reach an optax optimizer's rate."""
        for i, (task, tx) in enumerate(zip(self._tasks, self._txs)):
            if task.lr_schedule is None or isinstance(
                    tx, optimizers_base.Optimizer):
                continue
            opt_state = self._state.opt_state[i]
            if steps.optax_learning_rate(opt_state) is None:
                raise ValueError(
                    f"TrainTask {i} has an lr_schedule, but its optax "
                    f"optimizer has no learning_rate hyperparameter to set. "
                    f"Build it with optax.inject_hyperparams, e.g. "
                    f"optax.inject_hyperparams(optax.adam)(learning_rate="
                    f"0.001), or give the schedule to the optimizer itself.")
            if steps.optax_schedules_learning_rate(opt_state):
                raise ValueError(
                    f"TrainTask {i} has an lr_schedule, and its optax "
                    f"optimizer computes its learning rate from a schedule "
                    f"of its own; keep one of the two (e.g. a number as "
                    f"inject_hyperparams' learning_rate).")

    def _task_output_dirs(self, tasks):
        """TensorBoard folders: the output_dir itself for one task, else
        ``<output_dir>/<export_prefix or index>`` per task (Trax's)."""
        if self._output_dir is None:
            return [None] * len(tasks)
        if len(tasks) < 2:
            return [self._output_dir] * len(tasks)
        return [os.path.join(self._output_dir, task.export_prefix or str(i))
                for i, task in enumerate(tasks)]

    # -- one step ----------------------------------------------------------------

    @contextlib.contextmanager
    def _atomic(self, strict=False):
        if self._guard is None:
            yield
        else:
            with self._guard.atomic(strict=strict):
                yield

    def _sends_learning_rate(self, task_index):
        task = self._tasks[task_index]
        return task.lr_schedule is not None or getattr(
            task.optimizer, "learning_rate_schedule", None) is not None

    def _learning_rate_argument(self, task_index, step):
        """The rate the host hands to the train step, or None when the
        optimizer's own fixed rate applies (nothing to send per step)."""
        if not self._sends_learning_rate(task_index):
            return None
        return np.float32(self._tasks[task_index].learning_rate(step))

    # -- compiling ahead (see background_compile) ----------------------------

    def _new_shape(self, kind, index, batch):
        """Before a call of a train step (``kind`` "train") or eval
        function ("eval") on ``batch``: None if it had batches of these
        shapes before, else their signature, once any background
        compilation for them is settled."""
        if self._compiler is None:
            return None
        sig = background_compile_lib.signature(batch)
        seen = (self._train_shapes if kind == "train"
                else self._eval_shapes)[index]
        if sig in seen:
            return None
        self._compiler.wait_for((kind, index, sig))
        seen.add(sig)
        return sig

    @staticmethod
    def _fits(batch, sample_batch):
        """Whether ``batch`` has ``sample_batch``'s structure and dtypes
        (then a program for one may be compiled from the other's shapes)."""
        a = jax.tree_util.tree_leaves(batch)
        b = jax.tree_util.tree_leaves(sample_batch)
        return len(a) == len(b) and all(
            np.ndim(x) == np.ndim(y) and background_compile_lib.signature(
                [x])[0][1] == background_compile_lib.signature([y])[0][1]
            for x, y in zip(a, b))

    def _compile_train_ahead(self, task_index, batch):
        sig = background_compile_lib.signature(batch)
        if (self._compiler is None or sig in self._train_shapes[task_index]
                or not self._fits(batch, self._tasks[task_index].sample_batch)):
            return
        learning_rate = (np.float32(0) if self._sends_learning_rate(task_index)
                         else None)
        self._compiler.submit(
            ("train", task_index, sig),
            f"the train step of task {task_index} for batch shapes {sig}",
            self._train_steps[task_index],
            (self._state, self._totals, tuple(batch), np.int32(0),
             learning_rate, self._rng, np.bool_(False)))

    def _compile_eval_ahead(self, batch):
        """Eval functions for ``batch``'s shapes, for eval tasks whose
        batches it fits."""
        if self._compiler is None or not self._evals_ahead:
            return
        for index in range(len(self._eval_tasks)):
            self._submit_eval(index, batch)

    def _submit_eval(self, index, batch):
        sig = background_compile_lib.signature(batch)
        if (sig in self._eval_shapes[index]
                or not self._fits(batch, self._eval_tasks[index].sample_batch)):
            return
        self._compiler.submit(
            ("eval", index, sig),
            f"the eval function of eval task {index} for batch shapes {sig}",
            self._eval_fns[index],
            (self._state.params, self._eval_model_state(), tuple(batch),
             self._rng))

    def _start_compiling_ahead(self, last):
        """At the start of ``run``: the first step's train step for its
        task's sample batch, and, if this run evaluates, the eval functions
        for the eval and train sample batches."""
        self._evals_ahead = False
        if self._compiler is None or self._step >= last:
            return
        first = self._step + 1
        task_index = self._which_task(first)
        self._compile_train_ahead(task_index,
                                  self._tasks[task_index].sample_batch)
        if not self._weights_l2_compiled:
            self._compiler.submit(("weights_l2", 0, ()),
                                  "the weights' norm", self._add_weights_l2,
                                  (self._totals, self._state.params))
        self._evals_ahead = bool(self._eval_tasks) and bool(
            self._eval_at(self._window(first, last)[-1]))
        for eval_task in self._eval_tasks:
            self._compile_eval_ahead(eval_task.sample_batch)
        self._compile_eval_ahead(self._tasks[task_index].sample_batch)

    def _next_batch(self, task_index, step):
        if self._windows is not None:
            return self._windows.next(step)
        return self._tasks[task_index].next_batch(step=step)

    def _run_one_step(self, task_index, task_changed):
        """Trains one step (``self.step``, already advanced) on task
        ``task_index``; returns ``(loss, optimizer_metrics)``, device
        scalars. Callbacks run around it, as in Trax."""
        step = self._step
        self._call_step_hooks("on_step_begin", step)
        learning_rate = self._learning_rate_argument(task_index, step)
        batch = self._device_batch(self._next_batch(task_index, step),
                                   f"training batch of step {step}")
        new_shape = self._new_shape("train", task_index, batch)
        with_norms = bool(self._norms_every_step or self._eval_at(step)
                          or self._checkpoint_at(step))
        if task_changed:
            self._totals = self._totals.restart_loss()
        with self._atomic(strict=True):
            norms = {}
            if with_norms:
                if not self._weights_l2_compiled:
                    self._weights_l2_compiled = True
                    if self._compiler is not None:
                        self._compiler.wait_for(("weights_l2", 0, ()))
                self._totals, norms["weights_l2"] = self._add_weights_l2(
                    self._totals, self._state.params)
            (self._state, self._totals, loss, gradients_l2,
             self._rng) = self._train_steps[task_index](
                 self._state, self._totals, batch, np.int32(step),
                 learning_rate, self._rng, np.bool_(with_norms))
            if with_norms:
                norms["gradients_l2"] = gradients_l2
            self._pulls.add(f"train/{task_index}")
        if new_shape is not None:  # While the device runs the step.
            self._compile_eval_ahead(batch)
        self._call_step_hooks("on_step_end", step)
        return loss, dict(norms, loss=loss)

    def _call_step_hooks(self, hook, step):
        """Trax's order: each callback's ``call_at``, then its hook. The
        model's weights are brought up to date once, for the first hook."""
        synced = False
        for callback in self._callbacks:
            if callback.call_at(step):
                if not synced:
                    self._sync_model_weights()  # Callbacks read loop.model.
                    synced = True
                getattr(callback, hook)(step)

    # -- running ---------------------------------------------------------------

    def _window(self, first, last):
        """Steps ``first..w``: up to the next eval step (inclusive) or
        ``last``. Batches of one window may be produced ahead of time."""
        step = first
        while step < last and not self._eval_at(step):
            step += 1
        return range(first, step + 1)

    def _batches(self, window):
        def next_batch(step):
            return self._tasks[self._which_task(step)].next_batch(step=step)
        if self._prefetch_batches:
            return prefetch.WindowPrefetcher(next_batch, window,
                                             depth=self._prefetch_batches)
        return prefetch.InlineBatches(next_batch, window)

    def run(self, n_steps=1):
        """Runs ``n_steps`` more training steps (from the current step)."""
        last = self._step + n_steps
        self._stop_reason = None
        with contextlib.ExitStack() as stack:
            train_writers, eval_writers = stack.enter_context(
                self._open_summary_writers())
            if self._checkpointer is not None:
                stack.push(_cleanup(self._checkpointer.wait))
            if self._progress is not None:
                stack.push(_cleanup(self._progress.clear))
                self._progress.start(self._step)
            self._guard = stack.enter_context(interrupts.DeferredInterrupts())
            stack.callback(setattr, self, "_guard", None)
            self._windows = _BatchWindows(self, last)
            stack.push(_cleanup(self._windows.close))
            stack.callback(setattr, self, "_windows", None)
            self._totals = self._replicate(self._resumed_totals
                                           or steps.Totals.zeros())
            self._resumed_totals = None
            self._start_compiling_ahead(last)
            stack.callback(setattr, self, "_evals_ahead", False)
            self._run_last = last
            stack.callback(setattr, self, "_run_last", None)
            start_time = time.time()
            while self._step < last and self._stop_reason is None:
                # A whole step is atomic for Ctrl-C (it takes effect when
                # the step is done), its train-state swap strictly so.
                with self._guard.atomic():
                    task_index = self._advance_and_train()
                    step = self._step
                    names = self._policy.periodic(step)
                    evaluate = self._eval_at(step)
                    if not (names or evaluate or self._stop_reason):
                        if self._progress is not None:
                            self._progress.update(
                                step, self._windows.window_end, last)
                        continue
                    if self._progress is not None:
                        self._progress.clear()
                    report = jax.device_get(self._totals)
                    if not np.isfinite(report.loss):
                        self._report_totals(task_index, report,
                                            time.time() - start_time,
                                            train_writers[task_index])
                        raise NonFiniteLossError(
                            self._non_finite_message(task_index, report))
                    if self._checkpointer is None:
                        for name in names:  # Trax's message, in its place.
                            self.save_checkpoint(name)
                        names = []
                    if evaluate:
                        self._report_totals(task_index, report,
                                            time.time() - start_time,
                                            train_writers[task_index])
                        self.run_evals(eval_writers)
                        self._totals = steps.Totals.zeros()
                        start_time = time.time()
                    names += self._policy.best(step, self._history)
                    if self._stop_reason is not None and (
                            self._checkpointer is not None) and (
                            checkpoint_policy.MODEL not in names):
                        names.append(checkpoint_policy.MODEL)
                    for name in names:
                        # After the step's evals: a checkpoint then holds
                        # everything up to the end of this step.
                        self._save_checkpoint_in_run(name)
                    if self._stop_reason is not None:
                        self._log_step(f"Stopping: {self._stop_reason}")
                    elif self._progress is not None:
                        self._progress.start(step)

    def _advance_and_train(self):
        """Advances the step and trains it; the step is taken back if the
        step fails before its train state is in place."""
        previous_task = self._which_task(self._step)
        self._step += 1
        task_index = self._which_task(self._step)
        try:
            self._run_one_step(task_index, task_index != previous_task)
        except BaseException:
            self._step = int(self._state.step)
            raise
        return task_index

    def _non_finite_message(self, task_index, report):
        n = int(report.n_steps)
        first = self._step - n + 1
        where = (f" The last good checkpoint is kept in "
                 f"{self._checkpointer.directory}." if self._checkpointer
                 else "")
        return (
            f"The training loss became {float(report.loss)} between steps "
            f"{first} and {self._step} (task loss "
            f"{self._tasks[task_index].loss_name}); no checkpoint was written "
            f"for step {self._step}.{where} Lower the learning rate, set "
            f"clip_grad_norm on the optimizer, or look for NaN/inf values or "
            f"out-of-range labels in the batches.")

    # -- reporting ---------------------------------------------------------------

    def _log_step(self, message, stdout=True):
        """Logs ``message`` labeled with the current step (Trax's format);
        ``stdout=False`` sends it to Python logging only."""
        if stdout:
            self._log_writer.write_text_line(self._step, message)
        else:
            logging.info("Step % 6d: %s", self._step, message)

    def _report_totals(self, task_index, report, elapsed, summary_writer):
        n = max(1, int(report.n_steps))
        # Trax averages the norms over the task's steps; measured only at
        # some steps, they are averaged over those.
        measured = n if self._norms_every_step else max(
            1, int(report.n_measured))
        optimizer_means = {
            "gradients_l2": np.float32(report.gradients_l2) / measured,
            "weights_l2": np.float32(report.weights_l2) / measured}
        loss = np.float32(report.loss) / np.float32(n)
        optimizer_means["loss"] = np.float32(report.all_losses) / np.float32(n)
        self._report_training(self._tasks[task_index], loss, n, elapsed,
                              optimizer_means, summary_writer)

    def _log_training_progress(self, task, total_loss, n_steps, elapsed_time,
                               optimizer_metrics, summary_writer):
        """Trax's hook: logs the mean of ``total_loss`` and of the summed
        ``optimizer_metrics`` over ``n_steps``, the learning rate and the
        speed (to the step log, history and ``summary_writer``)."""
        n_steps = max(1, n_steps)
        loss = np.float32(total_loss) / np.float32(n_steps)
        means = {k: np.float32(v) / np.float32(n_steps)
                 for k, v in optimizer_metrics.items()}
        self._report_training(task, loss, n_steps, elapsed_time, means,
                              summary_writer)

    def _report_training(self, task, loss, n_steps, elapsed, optimizer_means,
                         summary_writer):
        step = self._step
        if step == 1:
            self._log_step("Total number of trainable weights: %d"
                           % layers_base.count_weights(self._state.params))
        self._log_step("Ran %d train steps in %0.2f secs" % (n_steps, elapsed))
        if step == 1:
            self._save_gin()
        writer = reporting.task_writer(self._log_writer, self._history,
                                       "train", summary_writer)
        writer.write_scalars(step, {f"metrics/{task.loss_name}": float(loss)})
        training = {}
        learning_rate = self._logged_learning_rate(task)
        if learning_rate is not None:
            training["learning_rate"] = float(learning_rate)
        training["steps per second"] = (n_steps / elapsed if elapsed > 0
                                        else float("inf"))
        training.update({k: float(v) for k, v in optimizer_means.items()})
        writer.write_scalars(step, {f"training/{k}": v
                                    for k, v in training.items()})
        writer.flush()

    def _save_gin(self):
        """Writes the operative gin config to ``config.gin``, as Trax's Loop
        does after its first step (empty when gin configured nothing)."""
        if self._output_dir is None or not self._is_chief:
            return
        path = os.path.join(self._output_dir, "config.gin")
        fd, tmp = tempfile.mkstemp(dir=self._output_dir, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(gin_registry.operative_config())
        os.replace(tmp, path)

    def _logged_learning_rate(self, task):
        """The rate applied at the current step: the task's (schedule or
        optimizer rate), else an optax state's injected hyperparameter."""
        rate = task.learning_rate(self._step)
        if rate is None:
            index = self._tasks.index(task)
            rate = steps.optax_learning_rate(self._state.opt_state[index])
        return rate

    def run_evals(self, summary_writers=None):
        """Runs every eval task on the current weights and logs the means."""
        if summary_writers is None:
            summary_writers = [None] * len(self._eval_tasks)
        params = self._state.params
        model_state = self._eval_model_state()
        step = self._step
        latest = {}
        for index, (eval_task, eval_fn, summary_writer) in enumerate(zip(
                self._eval_tasks, self._eval_fns, summary_writers)):
            # Each batch's values stay on the device until all are
            # dispatched (no wait per batch); they are summed on the host
            # in float64, in batch order, as Trax sums them.
            per_batch = []
            for batch in self._eval_batches(index, step):
                self._new_shape("eval", index, batch)
                values, self._rng = eval_fn(params, model_state, batch,
                                            self._rng)
                per_batch.append(values)
            sums = np.zeros((len(eval_task.metrics),))
            for values in per_batch:
                sums += np.asarray(values)
            averages = sums / eval_task.n_eval_batches
            values = dict(zip(eval_task.metric_names, map(float, averages)))
            latest.update(values)
            writer = reporting.task_writer(self._log_writer, self._history,
                                           "eval", summary_writer)
            writer.write_scalars(step, {f"metrics/{k}": v
                                        for k, v in values.items()})
            writer.flush()
        if self._eval_tasks:
            self._last_eval = (step, latest)
            if self._callbacks:
                self._sync_model_weights()
            for callback in self._callbacks:
                hook = getattr(callback, "on_eval_end", None)
                if hook is not None:
                    hook(step, dict(latest))

    def _eval_batches(self, index, step):
        """Eval task ``index``'s batches at ``step``, pulled in order.
        Compiling in the background, the stream is read ahead (up to
        ``EVAL_LOOKAHEAD_BATCHES`` batches and ``EVAL_LOOKAHEAD_BYTES``;
        the same pulls in the same order, only earlier): the eval function
        for each new shape met there, then the train step for it, start
        compiling beside the one the training thread compiles."""
        eval_task = self._eval_tasks[index]
        n = eval_task.n_eval_batches

        def pull():
            batch = self._device_batch(
                eval_task.next_batch(step=step),
                f"eval batch of task {index} at step {step}")
            self._pulls.add(f"eval/{index}")
            return batch

        if self._compiler is None:
            for _ in range(n):
                yield pull()
            return
        ahead = collections.deque()
        pulled = buffered_bytes = 0
        while pulled < n or ahead:
            new = []
            while pulled < n and (not ahead or (
                    len(ahead) < EVAL_LOOKAHEAD_BATCHES
                    and buffered_bytes < EVAL_LOOKAHEAD_BYTES)):
                batch = pull()
                pulled += 1
                size = sum(getattr(x, "nbytes", 0)
                           for x in jax.tree_util.tree_leaves(batch))
                ahead.append((batch, size))
                buffered_bytes += size
                if (background_compile_lib.signature(batch)
                        not in self._eval_shapes[index]):
                    new.append(batch)
            for batch in new:  # The evals first: they are needed first.
                self._submit_eval(index, batch)
            for batch in new:
                self._compile_train_for_eval_shape(batch)
            batch, size = ahead.popleft()
            buffered_bytes -= size
            yield batch

    def _compile_train_for_eval_shape(self, batch):
        """An eval batch of shapes training has not had yet: with one
        train task and training to come in this run, its train step for
        those shapes, in the background while the eval goes on."""
        last = getattr(self, "_run_last", None)
        if len(self._tasks) == 1 and last is not None and self._step < last:
            self._compile_train_ahead(0, batch)

    def _at_lowest(self):
        return checkpoint_policy.at_lowest(self._history,
                                           self._checkpoint_low_metric)

    def _at_highest(self):
        return checkpoint_policy.at_highest(self._history,
                                            self._checkpoint_high_metric)

    @contextlib.contextmanager
    def _open_summary_writers(self):
        """Trax's context manager yielding ``(train_writers, eval_writers)``
        (one TensorBoard ``MetricWriter`` per task, None without an
        output_dir). It also appends the step log to ``output_dir/log.txt``
        and, on exit, points the model at the trained weights."""
        with contextlib.ExitStack() as stack:
            stack.push(_cleanup(self._sync_model_weights))
            if self._output_dir is None or not self._is_chief:
                yield ([None] * len(self._tasks),
                       [None] * len(self._eval_tasks))
                return
            self._open_log_file(stack)
            writers = []
            for directories, kind in ((self._output_dir_per_train_task,
                                       "train"),
                                      (self._output_dir_per_eval_task,
                                       "eval")):
                opened = []
                for directory in directories:
                    writer = summaries.BackgroundSummaryWriter(
                        os.path.join(directory, kind))
                    stack.push(_cleanup(writer.close))
                    opened.append(writer)
                writers.append(opened)
            yield tuple(writers)

    def _open_log_file(self, stack):
        """Appends the step log to ``output_dir/log.txt`` as well as stdout
        (``trax-compat compare-logs`` reads it) until ``stack`` closes."""
        log_file = stack.enter_context(open(self._log_path(), "a",
                                            encoding="utf-8"))
        self._log_writer.streams = [step_log.STDOUT, log_file]
        stack.callback(setattr, self._log_writer, "streams", None)

    def _log_path(self):
        return os.path.join(self._output_dir, LOG_FILE_NAME)

    def _eval_model_state(self):
        """The trained model's layer state, in the eval model's layout."""
        if self._eval_model is self._model:
            return self._state.model_state
        trax_state = self._model.state_from_flax_state(
            self._state.model_state)
        return self._eval_model.flax_state_from_state(trax_state)

    def _sync_model_weights(self):
        """Points the Trax-style model at the trained params and layer
        state (so ``model(x)``, ``model.weights`` and ``model.state``
        reflect training)."""
        local = (self._parallel.local_copy if self._parallel is not None
                 else lambda tree: tree)
        params = jax.tree_util.tree_map(_copy, local(self._state.params))
        model_state = jax.tree_util.tree_map(
            _copy, local(self._state.model_state))
        self._model.weights = self._model.weights_from_params(params)
        if model_state:
            self._model.state = self._model.state_from_flax_state(model_state)
        if self._eval_model is not self._model:
            self._eval_model.weights = self._eval_model.weights_from_params(
                params)
            if model_state:
                self._eval_model.state = self._model.state

    # -- checkpoints -----------------------------------------------------------

    def _checkpoint_tree(self, totals=None):
        totals = totals if totals is not None else steps.Totals.zeros()
        opt_state = self._state.opt_state
        tree = {"params": self._state.params,
                # One task: its state alone (the layout of earlier versions).
                "opt_state": (opt_state[0] if len(opt_state) == 1
                              else list(opt_state)),
                "step": np.asarray(self._step, np.int64),
                # Sums since the last report: a Loop resumed between two
                # reports still reports what an uninterrupted one does.
                # On the mesh: several processes save it collectively.
                "totals": self._replicate({
                    f: getattr(totals, f)
                    for f in steps.Totals.__dataclass_fields__})}
        if self._state.model_state:  # layer state, for models that have it
            tree["model_state"] = self._state.model_state
        return tree

    def _checkpoint_meta(self):
        log_offset = None
        if self._output_dir is not None and os.path.exists(self._log_path()):
            for stream in self._log_writer.streams or []:
                stream.flush()
            log_offset = os.path.getsize(self._log_path())
        # The key chain, so that a resumed run draws the keys (dropout) an
        # uninterrupted one does.
        rng = np.asarray(self._rng)  # Trax's raw uint32 key
        return {"pulls": self._pulls.to_list(), "log_offset": log_offset,
                "history": self._history.to_dict(),
                "rng": [int(v) for v in rng.ravel()]}

    def save_checkpoint(self, basename="model", wait=True):
        """Writes a checkpoint of the current step as ``basename``.

        ``"model"`` (the default) is the rolling checkpoint a Loop resumes
        from: ``checkpoints/<step>/`` (the newest few are kept). Any other
        name (``model_10``, ``highest_Accuracy``, ``custom``...) is
        ``checkpoints/<basename>/``, replaced atomically when saved again,
        as Trax overwrites ``<basename>.pkl.gz``. Returns once the
        checkpoint is committed; ``wait=False`` lets a rolling one finish
        in the background.
        """
        if self._checkpointer is None:
            _log("Did not save checkpoint as output_dir is None")
            return
        basename = basename or checkpoint_policy.MODEL
        if self._writes_trax_format():
            self._save_trax_checkpoint(basename)
            return
        tree = self._checkpoint_tree(self._totals)
        if basename == checkpoint_policy.MODEL:
            self._checkpointer.save(self._step, tree, self._checkpoint_meta(),
                                    wait=wait)
        else:
            self._checkpointer.save_named(basename, tree,
                                          dict(self._checkpoint_meta(),
                                               step=self._step))

    def _save_checkpoint_in_run(self, basename):
        """``run``'s save: ours lets a rolling checkpoint finish in the
        background; a ``save_checkpoint`` replaced on the instance or
        overridden in a subclass is called as Trax calls it, with the
        basename alone."""
        if ("save_checkpoint" in vars(self)
                or type(self).save_checkpoint is not Loop.save_checkpoint):
            self.save_checkpoint(basename)
        else:
            self.save_checkpoint(basename, wait=False)

    @property
    def last_checkpoint_step(self):
        """The newest committed rolling checkpoint's step in output_dir."""
        if self._checkpointer is None:
            return None
        self._checkpointer.wait()
        return self._checkpointer.latest_step()

    def _resume_from_output_dir(self):
        if self._writes_trax_format():
            self._resume_from_trax_checkpoint()
            return
        restored = self._checkpointer.restore_latest(self._checkpoint_tree())
        if restored is None:
            self._resume_from_trax_checkpoint()
            return
        if restored.skipped:
            _log(restored.fallback_message())
        self._apply_checkpoint(restored)
        meta = restored.meta
        self._truncate_log(meta.get("log_offset"), restored.step)
        if self._resume_streams == "replay":
            self._replay(meta.get("pulls", []), restored.step)

    def _resume_from_trax_checkpoint(self):
        """Resumes from a checkpoint real Trax left in output_dir
        (``model.pkl.gz`` and its side files): weights, state, optimizer
        slots, step and history. Our own checkpoints follow from then on."""
        path = os.path.join(self._output_dir, "model" + _PKL_SUFFIX)
        if not os.path.isfile(path):
            return
        self._load_trax_checkpoint(path)
        if not self._writes_trax_format():
            _log(f"Converted the Trax checkpoint {path} (step {self._step}); "
                 f"checkpoints are written to {self._checkpointer.directory} "
                 f"from now on.")

    def _writes_trax_format(self):
        return getattr(self, "_checkpoint_format", "orbax") == "trax"

    def _save_trax_checkpoint(self, basename):
        """Writes Trax's checkpoint files for ``basename`` into output_dir:
        the side files first, the pickle (what a reader opens) last."""
        signature = shapes.signature(self._tasks[0].sample_batch)
        pickled, flat_weights, slots = trax_resume.trax_checkpoint_from_loop(
            self._state, self._model, self._tasks, self._step,
            self._history, tuple(signature)[:self._model.n_in])
        base = os.path.join(self._output_dir, basename)
        for i, task_slots in enumerate(slots):
            trax_checkpoint.write_npy_stream(task_slots,
                                             f"{base}.opt_slots{i}.npy.gz")
        trax_checkpoint.write_npy_stream(flat_weights,
                                         f"{base}.weights.npy.gz")
        trax_checkpoint.pickle_to_file(pickled, base + _PKL_SUFFIX)

    def _load_trax_checkpoint(self, path):
        """Loads Trax's ``<name>.pkl.gz`` (and side files) into this Loop."""
        ckpt = trax_checkpoint.read(path)
        state, self._step, history = trax_resume.train_state_from_trax(
            self._state, self._model, self._tasks, ckpt, _log)
        self._state = self._replicate(state)
        if history is not None:
            self._history = history
        self._sync_model_weights()

    def _apply_checkpoint(self, restored, with_totals=True):
        tree = restored.state
        opt_state = tree["opt_state"]
        opt_state = (tuple(opt_state) if len(self._tasks) > 1
                     else (opt_state,))
        self._state = self._replicate(self._state.replace(
            params=tree["params"], opt_state=opt_state,
            model_state=tree.get("model_state", self._state.model_state),
            step=jnp.asarray(int(tree["step"]), jnp.int32)))
        self._step = int(tree["step"])
        if with_totals and "totals" in tree:
            self._resumed_totals = steps.Totals(**{
                k: jnp.asarray(v) for k, v in tree["totals"].items()})
        if "history" in restored.meta:
            self._history = history_lib.History.from_dict(
                restored.meta["history"])
        if restored.meta.get("rng") is not None:
            self._rng = jnp.asarray(restored.meta["rng"], jnp.uint32)
        self._sync_model_weights()

    def _truncate_log(self, offset, step):
        """Drops log lines written after the checkpoint: the resumed Loop
        redoes those steps and logs them again."""
        if (offset is None or not self._is_chief
                or not os.path.exists(self._log_path())):
            return
        if os.path.getsize(self._log_path()) > offset:
            with open(self._log_path(), "r+b") as f:
                f.truncate(offset)
            logging.info("%s: dropped the lines logged after the "
                         "checkpoint of step %d; they are logged again as "
                         "training redoes those steps.", self._log_path(),
                         step)

    def _replay(self, pulls, step):
        streams = {f"train/{i}": t for i, t in enumerate(self._tasks)}
        streams.update({f"eval/{i}": t for i, t in
                        enumerate(self._eval_tasks)})
        start = time.perf_counter()
        for name, count in pulls:
            task = streams.get(name)
            if task is None:
                raise checkpoints.CheckpointError(
                    f"The checkpoint of step {step} in "
                    f"{self._checkpointer.directory} was written by a Loop "
                    f"with a stream {name!r} that this Loop does not have; "
                    f"resume it with the same tasks, or with "
                    f"resume_streams='restart'.")
            for _ in range(count):
                task.next_batch(step=f"resume (replaying the batches "
                                     f"consumed up to step {step})")
        self._pulls = _PullLog(pulls)
        self._replay_seconds = time.perf_counter() - start

    def load_checkpoint(self, directory=None, filename=None):
        """Loads a checkpoint: weights, optimizer states, step and history.

        ``directory``: a Loop output_dir (default: this Loop's) or its
        ``checkpoints`` folder. ``filename``: the basename given to
        :meth:`save_checkpoint`; by default (or ``"model"``) the newest
        intact rolling checkpoint. A Trax-style ``<name>.pkl.gz`` (as
        ``filename``, or as the end of ``directory``) means ``<name>``.
        Trax's own ``<name>.pkl.gz`` files (with their side files) in
        ``directory`` are read when it holds no checkpoint of ours, or when
        this Loop writes ``checkpoint_format='trax'``.
        Reads only: nothing is created or moved. A checkpoint that is not
        there is skipped with a warning, as Trax skips it.
        """
        if directory is None:
            if self._output_dir is None:
                return
            directory = self._output_dir
        directory = os.path.abspath(os.path.expanduser(directory))
        if filename is None and directory.endswith(_PKL_SUFFIX):
            directory, filename = os.path.split(directory)
        if filename is not None and filename.endswith(_PKL_SUFFIX):
            filename = filename[:-len(_PKL_SUFFIX)]
        trax_file = os.path.join(directory, (filename or "model") + _PKL_SUFFIX)
        if os.path.isfile(trax_file) and (
                self._writes_trax_format()
                or not checkpoints.committed_steps(
                    checkpoints.checkpoint_dir(directory))):
            self._load_trax_checkpoint(trax_file)
            return
        series = (directory if checkpoints.committed_steps(directory)
                  or os.path.basename(directory)
                  == checkpoints.CHECKPOINT_SUBDIR
                  else checkpoints.checkpoint_dir(directory))
        target = self._checkpoint_tree()
        if filename in (None, checkpoint_policy.MODEL):
            restored = checkpoints.restore_latest_intact(series, target)
            if restored is None:
                logging.warning("No checkpoint to load in %s.", series)
                return
            if restored.skipped:
                _log(restored.fallback_message())
        else:
            path = os.path.join(series, filename)
            if not os.path.isdir(path):
                logging.warning("Not loading: no checkpoint %r in %s.",
                                filename, series)
                return
            restored = checkpoints.restore_named(path, target)
        # As in Trax, the next run starts its loss average afresh.
        self._apply_checkpoint(restored, with_totals=False)

    # -- lifetime --------------------------------------------------------------

    def close(self):
        """Waits for pending checkpoint writes and releases ``output_dir``."""
        try:
            if getattr(self, "_compiler", None) is not None:
                self._compiler.close()
            if self._checkpointer is not None:
                self._checkpointer.close()
        finally:
            if self._lock is not None:
                self._lock.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
