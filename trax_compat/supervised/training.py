"""``TrainTask``, ``EvalTask`` and ``Loop``: Trax's supervised training API
on a Flax ``TrainState`` with a jitted, buffer-donating train step.

What follows Trax exactly: the tasks draw a sample batch when constructed;
``Loop(random_seed=...)`` seeds Python's and NumPy's generators; evals and
checkpoints happen at step 1 and every ``n_steps_per_checkpoint`` steps;
``run(n)`` continues from the current step; the step log layout; the train
loss reported at a step is the mean of the per-step losses (each computed
before that step's update) since the previous report.

What is ours: checkpoints are Orbax directories under
``<output_dir>/checkpoints`` (written atomically; a Loop whose output_dir
holds one resumes from it); the per-step loss and optimizer metrics are
accumulated on the device and read only when logged; clear errors for a
stream that runs out, a model whose output does not fit the loss, and a
loss that turns NaN.
"""

import contextlib
import os
import random
import tempfile
import time
import weakref

import flax.struct
from flax.training import train_state as flax_train_state
import jax
import jax.numpy as jnp
import numpy as np
import optax

from trax_compat import shapes
from trax_compat.fastmath import random as trax_random
from trax_compat.layers import base as layers_base
from trax_compat.layers import flax_adapter
from trax_compat.optimizers import base as optimizers_base
from trax_compat.supervised import checkpoints
from trax_compat.supervised import history as history_lib
from trax_compat.supervised import interrupts
from trax_compat.supervised import output_lock
from trax_compat.supervised import prefetch
from trax_compat.supervised import step_log
from trax_compat.supervised import summaries


LOG_FILE_NAME = "log.txt"


class StreamExhaustedError(RuntimeError):
    """A task's data stream ended before the requested steps were done."""


class ModelLossMismatchError(ValueError):
    """The model's outputs cannot be fed to the loss or metric layer."""


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite."""


class OutputDirError(OSError):
    """The output_dir cannot be created or written."""


RESUME_STREAMS = ("restart", "replay")


def _stream_next(stream, what, step, n_taken):
    try:
        return next(stream)
    except StopIteration:
        raise StreamExhaustedError(
            f"The {what} stream ran out at step {step} after yielding "
            f"{n_taken} batches. Trax's Loop needs streams that never end: "
            f"build the pipeline over a repeating source, e.g. "
            f"data_pipeline(itertools.cycle(examples)) or a generator with "
            f"'while True:', or run fewer steps.") from None


# -- tasks ---------------------------------------------------------------------

class TrainTask:
    """Labeled data, a loss layer and an optimizer for training."""

    def __init__(self, labeled_data, loss_layer, optimizer, lr_schedule=None,
                 n_steps_per_checkpoint=100,
                 n_steps_per_permanent_checkpoint=None, loss_name=None,
                 sample_batch=None, export_prefix=None):
        self._labeled_data = iter(labeled_data)
        self._loss_layer = loss_layer
        self._optimizer = optimizer
        self._lr_schedule = lr_schedule
        self._n_steps_per_checkpoint = n_steps_per_checkpoint
        self._n_steps_per_permanent_checkpoint = (
            n_steps_per_permanent_checkpoint)
        self._loss_name = loss_name or loss_layer.name
        self._export_prefix = export_prefix
        self._n_taken = 0
        if sample_batch is None:
            sample_batch = _stream_next(self._labeled_data, "training",
                                        "construction (sample batch)", 0)
            self._n_taken += 1
        self._sample_batch = sample_batch

    @property
    def labeled_data(self):
        return self._labeled_data

    @property
    def sample_batch(self):
        return self._sample_batch

    def next_batch(self, step=None):
        batch = _stream_next(self._labeled_data, "training", step,
                             self._n_taken)
        self._n_taken += 1
        return batch

    @property
    def loss_layer(self):
        return self._loss_layer

    @property
    def loss_name(self):
        return self._loss_name

    @property
    def n_steps_per_checkpoint(self):
        return self._n_steps_per_checkpoint

    @property
    def n_steps_per_permanent_checkpoint(self):
        return self._n_steps_per_permanent_checkpoint

    @property
    def optimizer(self):
        return self._optimizer

    @property
    def lr_schedule(self):
        return self._lr_schedule

    def learning_rate(self, step):
        if self._lr_schedule is not None:
            return float(self._lr_schedule(step))
        opt_params = getattr(self._optimizer, "opt_params", None) or {}
        if "learning_rate" in opt_params:
            return float(opt_params["learning_rate"])
        return float("nan")  # A plain optax transformation hides its rate.


class EvalTask:
    """Labeled data and metric layers, averaged over ``n_eval_batches``."""

    def __init__(self, labeled_data, metrics, metric_names=None,
                 n_eval_batches=1, sample_batch=None, export_prefix=None):
        self._labeled_data = iter(labeled_data)
        self._metrics = list(metrics)
        self._metric_names = list(metric_names or
                                  [m.name for m in self._metrics])
        self._n_eval_batches = n_eval_batches
        self._export_prefix = export_prefix
        self._n_taken = 0
        if len(self._metrics) != len(self._metric_names):
            raise ValueError(
                f"Number of metrics ({len(self._metrics)}) does not equal "
                f"number of metric names ({len(self._metric_names)}).")
        if sample_batch is None:
            sample_batch = _stream_next(self._labeled_data, "evaluation",
                                        "construction (sample batch)", 0)
            self._n_taken += 1
        self._sample_batch = sample_batch

    @property
    def labeled_data(self):
        return self._labeled_data

    @property
    def sample_batch(self):
        return self._sample_batch

    def next_batch(self, step=None):
        batch = _stream_next(self._labeled_data, "evaluation", step,
                             self._n_taken)
        self._n_taken += 1
        return batch

    @property
    def metrics(self):
        return self._metrics

    @property
    def metric_names(self):
        return self._metric_names

    @property
    def n_eval_batches(self):
        return self._n_eval_batches


# -- pure functions over the stack ---------------------------------------------

def _as_tuple(outputs, n_out):
    return (outputs,) if n_out == 1 else tuple(outputs)


def _model_then(model_module, model_n_in, model_n_out, end_modules, params,
                batch, rng):
    """Runs the model on the first ``model_n_in`` batch items, then each end
    layer (loss or metric) on the resulting stack; returns their values."""
    stack = list(batch)
    outputs = model_module.apply({"params": params}, *stack[:model_n_in],
                                 rngs={"dropout": rng})
    stack = list(_as_tuple(outputs, model_n_out)) + stack[model_n_in:]
    return [module.apply({}, *stack[:n_in]) for module, n_in in end_modules]


class _Totals(flax.struct.PyTreeNode):
    """Device-side sums since the last report (read only when logging)."""
    loss: jax.Array
    gradients_l2: jax.Array
    weights_l2: jax.Array
    n_steps: jax.Array
    n_measured: jax.Array  # Steps whose norms are in the l2 sums.

    @classmethod
    def zeros(cls):
        # Separate buffers: the train step donates each of them.
        def z():
            return jnp.zeros((), jnp.float32)
        return cls(loss=z(), gradients_l2=z(), weights_l2=z(),
                   n_steps=jnp.zeros((), jnp.int32),
                   n_measured=jnp.zeros((), jnp.int32))


def _as_gradient_transformation(optimizer):
    # Our optimizers follow optax's protocol themselves; keeping the object
    # lets the train step write Trax's new weights directly (see
    # optimizers.apply_gradients) instead of params + updates.
    if isinstance(optimizer, (optax.GradientTransformation,
                              optimizers_base.Optimizer)):
        return optimizer
    if hasattr(optimizer, "init") and hasattr(optimizer, "update"):
        return optax.GradientTransformation(optimizer.init, optimizer.update)
    raise TypeError(
        f"Optimizer {optimizer!r} is neither a trax_compat optimizer nor an "
        f"optax GradientTransformation.")


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


def _init_random_number_generators(seed):
    """Seeds Python's and NumPy's global generators as Trax's Loop does."""
    random.seed(seed)
    if seed is None:
        seed = random.randint(0, 2**31 - 1)
    np.random.seed(seed)
    return trax_random.get_prng(seed)


def _at_step_1_and_every_nth_step(period):
    def at(step):
        return step == 1 or (step > 0 and period and step % period == 0)
    return at


def _never(step):
    del step
    return False


def _log(message):
    print(message, flush=True)


def _short_name(layer):
    return repr(layer).split("\n")[0].rstrip("[")


class _BatchWindows:
    """The training batches of ``loop.run``, one eval window at a time
    (a prefetcher never reads past the next eval)."""

    def __init__(self, loop, last):
        self._loop = loop
        self._last = last
        self._batches = None
        self.window_end = None

    def next(self):
        loop = self._loop
        if self._batches is None:
            window = loop._window(loop._step + 1, self._last)  # pylint: disable=protected-access
            self._batches = loop._batches(window)  # pylint: disable=protected-access
            self.window_end = window[-1]
        batch = self._batches.get()
        if loop._step + 1 == self.window_end:  # pylint: disable=protected-access
            self.close()
        return batch

    def close(self):
        if self._batches is not None:
            self._loop._data_wait_seconds += self._batches.wait_seconds  # pylint: disable=protected-access
            self._batches.close()
            self._batches = None


# -- the loop ------------------------------------------------------------------

class Loop:
    """Trains ``model`` on ``tasks``, with periodic evals and checkpoints.

    Arguments are Trax's, plus ``optimizer_metrics_every_step``: Trax
    averages ``training/gradients_l2`` and ``training/weights_l2`` (written
    to TensorBoard and ``history``, never to stdout) over every step. That
    costs two passes over all weights per step, so by default they are
    measured at the logged steps only; pass True for Trax's averages.
    ``prefetch_batches``: how many training batches a background thread may
    produce ahead (within one eval window, see ``prefetch``). The default 0
    pulls each batch in the training thread: JAX dispatches the train step
    asynchronously, so the pipeline already runs while the device computes,
    and on CPU a producer thread measured no faster. A thread helps streams
    that wait on I/O.

    ``resume_streams``: what a Loop that resumes from a checkpoint in
    ``output_dir`` does with its (freshly built) streams. ``"restart"``
    (Trax's behaviour) trains on from their first batch. ``"replay"`` first
    pulls and drops, in their original order, exactly the batches that were
    consumed before the checkpoint, so training continues as if never
    stopped: bitwise the same values, at the cost of running the pipeline
    over the skipped batches once.

    ``progress``: an object with ``update(step, next_eval, last)``,
    ``start(step)`` and ``clear()`` (see ``progress.TerminalProgress``)
    that shows live progress between log blocks.

    With an ``output_dir`` the Loop holds that directory's lock (see
    ``output_lock``) until :meth:`close`, the end of a ``with`` block, or
    the end of the process. Ctrl-C takes effect between steps: the train
    state stays whole and ``run`` can be called again; a second Ctrl-C
    stops a step that hangs in its input pipeline at once.
    """

    def __init__(self, model, tasks, eval_model=None, eval_tasks=None,
                 output_dir=None, checkpoint_at=None, eval_at=None,
                 which_task=None, n_devices=None, random_seed=None,
                 callbacks=None, optimizer_metrics_every_step=False,
                 prefetch_batches=0, resume_streams="restart", progress=None,
                 **unsupported):
        if unsupported:
            raise TypeError(
                f"Loop does not support the argument(s) "
                f"{sorted(unsupported)} yet.")
        del n_devices  # One device; JAX places arrays.
        if callbacks:
            raise NotImplementedError("Loop callbacks are not supported yet.")
        if resume_streams not in RESUME_STREAMS:
            raise ValueError(f"resume_streams must be one of "
                             f"{RESUME_STREAMS}, got {resume_streams!r}.")
        self._rng = _init_random_number_generators(random_seed)
        self._optimizer_metrics_every_step = optimizer_metrics_every_step
        self._prefetch_batches = prefetch_batches
        self._resume_streams = resume_streams
        self._progress = progress
        self._data_wait_seconds = 0.0
        self._replay_seconds = 0.0
        self._pulls = _PullLog()
        self._resumed_totals = None

        if not isinstance(tasks, (list, tuple)):
            tasks = [tasks]
        if not tasks:
            raise ValueError("Must provide at least one training task.")
        if len(tasks) > 1 or which_task is not None:
            raise NotImplementedError(
                "Multi-task training (several TrainTasks, which_task) is not "
                "supported yet; pass a single TrainTask.")
        if eval_tasks is None:
            eval_tasks = []
            eval_at = _never
        elif not isinstance(eval_tasks, (list, tuple)):
            eval_tasks = [eval_tasks]
        self._tasks = list(tasks)
        self._task = self._tasks[0]
        self._eval_tasks = list(eval_tasks)

        self._model = flax_adapter.as_layer(model)
        self._eval_model = (flax_adapter.as_layer(eval_model)
                            if eval_model is not None else self._model)
        self._output_dir = (writable_output_dir(output_dir)
                            if output_dir is not None else None)
        self._lock = None
        if self._output_dir is not None:
            # Before anything is written there: a second job stops here.
            self._lock = output_lock.OutputDirLock(self._output_dir,
                                                   say=_log)
            weakref.finalize(self, self._lock.release)

        default_at = _at_step_1_and_every_nth_step(
            self._task.n_steps_per_checkpoint)
        self._checkpoint_at = checkpoint_at or default_at
        self._eval_at = eval_at or default_at
        self._step = 0
        self._history = history_lib.History()

        # Initialize like Trax: the model's key is a fresh split of the
        # Loop's key, then Serial splits it among sublayers.
        self._batch_signature = shapes.signature(self._task.sample_batch)
        self._model.rng = self.new_rng()
        self._model.init(self._model_input_signature(self._batch_signature))
        if self._eval_model is not self._model:
            self._eval_model.rng = self.new_rng()
            self._eval_model.init(
                self._model_input_signature(self._batch_signature))
        self._check_end_layers([self._task.loss_layer],
                               self._batch_signature, "loss")
        for eval_task in self._eval_tasks:
            self._check_end_layers(eval_task.metrics,
                                   shapes.signature(eval_task.sample_batch),
                                   "metric")

        self._tx = _as_gradient_transformation(self._task.optimizer)
        # A private copy: the train step donates its buffers, and arrays the
        # user holds (e.g. model.weights before run) must stay valid.
        params = jax.tree_util.tree_map(jnp.array, self._model.params)
        self._state = flax_train_state.TrainState.create(
            apply_fn=self._model.module.apply, params=params, tx=self._tx)
        # An int32 array from the start: a Python int here would make the
        # second step's argument types differ and compile the step twice.
        self._state = self._state.replace(step=jnp.zeros((), jnp.int32))
        self._train_step = self._make_train_step()
        self._eval_fns = [self._make_eval_fn(t) for t in self._eval_tasks]

        self._checkpointer = None
        if self._output_dir is not None:
            self._checkpointer = checkpoints.CheckpointWriter(self._output_dir)
            weakref.finalize(self, self._checkpointer.close)
            self._resume_from_output_dir()

        loss_names = [task.loss_name for task in self._tasks]
        metric_names = [name for t in self._eval_tasks
                        for name in t.metric_names]
        self._rjust_len = max(map(len, loss_names + metric_names))
        self._log_writer = step_log.TraxStepLogWriter(self._rjust_len)
        if self._output_dir is None:
            _log("Will not write evaluation metrics, because output_dir is "
                 "None.")

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
    def train_state(self):
        """The ``flax.training.train_state.TrainState`` being trained."""
        return self._state

    @property
    def step_log_writer(self):
        """The ``clu.metric_writers.MetricWriter`` printing Trax's log."""
        return self._log_writer

    def new_rng(self):
        self._rng, rng = trax_random.split(self._rng)
        return rng

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
        stack = (list(_as_tuple(model_out, self._model.n_out))
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

    def _make_train_step(self):
        model_module = self._model.module
        n_in, n_out = self._model.n_in, self._model.n_out
        loss_layer = self._task.loss_layer
        end = [(loss_layer.module, loss_layer.n_in)]
        base_rng = self.new_rng()

        def loss_fn(params, batch, rng):
            (loss,) = _model_then(model_module, n_in, n_out, end, params,
                                  batch, rng)
            return loss

        def train_step(state, totals, batch, with_norms):
            rng = jax.random.fold_in(base_rng, state.step)
            loss, grads = jax.value_and_grad(loss_fn)(state.params, batch, rng)
            totals = totals.replace(loss=totals.loss + loss,
                                    n_steps=totals.n_steps + 1)
            if with_norms:
                # Two extra passes over every weight: about a third of the
                # step on CPU, hence only when asked for (see Loop docs).
                totals = totals.replace(
                    gradients_l2=totals.gradients_l2
                    + optimizers_base.l2_norm(grads),
                    weights_l2=totals.weights_l2
                    + optimizers_base.l2_norm(state.params),
                    n_measured=totals.n_measured + 1)
            new_state = optimizers_base.apply_gradients(state, grads)
            return new_state, totals

        return jax.jit(train_step, donate_argnums=(0, 1), static_argnums=3)

    def _make_eval_fn(self, eval_task):
        model_module = self._eval_model.module
        n_in, n_out = self._eval_model.n_in, self._eval_model.n_out
        end = [(m.module, m.n_in) for m in eval_task.metrics]
        base_rng = self.new_rng()

        def metrics_fn(params, batch, index):
            rng = jax.random.fold_in(base_rng, index)
            values = _model_then(model_module, n_in, n_out, end, params,
                                 batch, rng)
            return jnp.stack([jnp.asarray(v, jnp.float32) for v in values])

        return jax.jit(metrics_fn)

    # -- running ---------------------------------------------------------------

    def _window(self, first, last):
        """Steps ``first..w``: up to the next eval step (inclusive) or
        ``last``. Batches of one window may be produced ahead of time."""
        step = first
        while step < last and not self._eval_at(step):
            step += 1
        return range(first, step + 1)

    def _batches(self, steps):
        if self._prefetch_batches:
            return prefetch.WindowPrefetcher(self._task.next_batch, steps,
                                             depth=self._prefetch_batches)
        return prefetch.InlineBatches(self._task.next_batch, steps)

    def run(self, n_steps=1):
        """Runs ``n_steps`` more training steps (from the current step)."""
        last = self._step + n_steps
        with contextlib.ExitStack() as stack:
            # Callbacks run last-registered first: the weights are synced
            # and files closed even when a step fails, and the first error
            # is the one raised.
            train_writer, eval_writers = self._open_summary_writers(stack)
            self._open_log_file(stack)
            stack.callback(self._sync_model_weights)
            if self._checkpointer is not None:
                stack.callback(self._checkpointer.wait)
            if self._progress is not None:
                stack.callback(self._progress.clear)
                self._progress.start(self._step)
            guard = stack.enter_context(interrupts.DeferredInterrupts())
            batches = _BatchWindows(self, last)
            stack.callback(batches.close)
            totals = self._resumed_totals or _Totals.zeros()
            self._resumed_totals = None
            start_time = time.time()
            while self._step < last:
                # A whole step is atomic for Ctrl-C (it takes effect when
                # the step is done), its train-state swap strictly so.
                with guard.atomic():
                    batch = batches.next()
                    step = self._step + 1
                    save = self._checkpoint_at(step)
                    evaluate = self._eval_at(step)
                    with_norms = bool(self._optimizer_metrics_every_step
                                      or save or evaluate)
                    with guard.atomic(strict=True):
                        self._state, totals = self._train_step(
                            self._state, totals, batch, with_norms)
                        self._step = step
                        self._pulls.add("train/0")
                    if not (save or evaluate):
                        if self._progress is not None:
                            self._progress.update(step, batches.window_end,
                                                  last)
                        continue
                    if self._progress is not None:
                        self._progress.clear()
                    report = jax.device_get(totals)
                    if not np.isfinite(report.loss):
                        self._log_training_progress(
                            report, time.time() - start_time, train_writer)
                        raise NonFiniteLossError(
                            self._non_finite_message(report))
                    if save and self._checkpointer is None:
                        self.save_checkpoint()  # Trax's message, here.
                    if evaluate:
                        self._log_training_progress(
                            report, time.time() - start_time, train_writer)
                        self.run_evals(eval_writers)
                        totals = _Totals.zeros()
                        start_time = time.time()
                    if save and self._checkpointer is not None:
                        # After the step's evals: the checkpoint then holds
                        # everything up to the end of this step.
                        self._save(totals, wait=False)
                    if self._progress is not None:
                        self._progress.start(step)

    @property
    def data_wait_seconds(self):
        """Total time training waited for the next batch (all runs)."""
        return self._data_wait_seconds

    def _non_finite_message(self, report):
        n = int(report.n_steps)
        first = self._step - n + 1
        where = (f" The last good checkpoint is kept in "
                 f"{self._checkpointer.directory}." if self._checkpointer
                 else "")
        return (
            f"The training loss became {float(report.loss)} between steps "
            f"{first} and {self._step} (task loss {self._task.loss_name}); "
            f"no checkpoint was written for step {self._step}.{where} Lower "
            f"the learning rate, set clip_grad_norm on the optimizer, or look "
            f"for NaN/inf values or out-of-range labels in the batches.")

    def _log_training_progress(self, report, elapsed, train_writer):
        n = max(1, int(report.n_steps))
        measured = max(1, int(report.n_measured))
        loss = np.float32(report.loss) / np.float32(n)
        writer = self._log_writer
        if self._step == 1:
            writer.write_text_line(
                self._step, "Total number of trainable weights: %d"
                % layers_base.count_weights(self._state.params))
        writer.write_text_line(
            self._step, "Ran %d train steps in %0.2f secs" % (n, elapsed))
        name = self._task.loss_name
        writer.write_scalars(self._step, {f"train/{name}": loss})
        training = {
            "learning_rate": self._task.learning_rate(self._step),
            "steps per second": n / elapsed if elapsed > 0 else float("inf"),
            "gradients_l2": float(np.float32(report.gradients_l2) / measured),
            "weights_l2": float(np.float32(report.weights_l2) / measured),
            "loss": float(loss),
        }
        self._history.append("train", f"metrics/{name}", self._step,
                             float(loss))
        for key, value in training.items():
            if key != "steps per second":
                self._history.append("train", f"training/{key}", self._step,
                                     value)
        if train_writer is not None:
            scalars = {f"metrics/{name}": float(loss)}
            scalars.update({f"training/{k}": v for k, v in training.items()})
            train_writer.write_scalars(self._step, scalars)
            train_writer.flush()

    def run_evals(self, summary_writers=None):
        """Runs every eval task on the current weights and logs the means."""
        if summary_writers is None:
            summary_writers = [None] * len(self._eval_tasks)
        params = self._state.params
        for index, (eval_task, eval_fn, writer) in enumerate(zip(
                self._eval_tasks, self._eval_fns, summary_writers)):
            sums = np.zeros((len(eval_task.metrics),))
            for i in range(eval_task.n_eval_batches):
                batch = tuple(eval_task.next_batch(step=self._step))
                self._pulls.add(f"eval/{index}")
                sums += np.asarray(eval_fn(params, batch, i))
            averages = sums / eval_task.n_eval_batches
            values = dict(zip(eval_task.metric_names, map(float, averages)))
            self._log_writer.write_scalars(
                self._step, {f"eval/{k}": v for k, v in values.items()})
            for k, v in values.items():
                self._history.append("eval", f"metrics/{k}", self._step, v)
            if writer is not None:
                writer.write_scalars(
                    self._step, {f"metrics/{k}": v for k, v in values.items()})
                writer.flush()

    def _open_log_file(self, stack):
        """Appends the step log to ``output_dir/log.txt`` as well as stdout
        (``trax-compat compare-logs`` reads it) until ``stack`` closes."""
        if self._output_dir is None:
            return
        log_file = stack.enter_context(open(self._log_path(), "a",
                                            encoding="utf-8"))
        self._log_writer.streams = [step_log.STDOUT, log_file]
        stack.callback(setattr, self._log_writer, "streams", None)

    def _log_path(self):
        return os.path.join(self._output_dir, LOG_FILE_NAME)

    def _open_summary_writers(self, stack):
        if self._output_dir is None:
            return None, [None] * len(self._eval_tasks)
        train = summaries.BackgroundSummaryWriter(
            os.path.join(self._output_dir, "train"))
        stack.callback(train.close)
        evals = [summaries.BackgroundSummaryWriter(
            os.path.join(self._output_dir, "eval"))
                 for _ in self._eval_tasks[:1]]
        for writer in evals:
            stack.callback(writer.close)
        evals += evals * (len(self._eval_tasks) - 1)
        return train, evals

    def _sync_model_weights(self):
        """Points the Trax-style model at the trained params (so
        ``model(x)`` and ``model.weights`` reflect training)."""
        params = jax.tree_util.tree_map(jnp.array, self._state.params)
        self._model.weights = self._model.weights_from_params(params)
        if self._eval_model is not self._model:
            self._eval_model.weights = self._eval_model.weights_from_params(
                params)

    # -- checkpoints -----------------------------------------------------------

    def _checkpoint_tree(self, totals=None):
        totals = totals if totals is not None else _Totals.zeros()
        return {"params": self._state.params,
                "opt_state": self._state.opt_state,
                "step": np.asarray(self._step, np.int64),
                # Sums since the last report: a Loop resumed between two
                # reports still reports what an uninterrupted one does.
                "totals": {f: getattr(totals, f)
                           for f in _Totals.__dataclass_fields__}}

    def _checkpoint_meta(self):
        log_offset = None
        if self._output_dir is not None and os.path.exists(self._log_path()):
            for stream in self._log_writer.streams or []:
                stream.flush()
            log_offset = os.path.getsize(self._log_path())
        return {"pulls": self._pulls.to_list(), "log_offset": log_offset,
                "history": self._history.to_dict()}

    def _save(self, totals, wait):
        self._checkpointer.save(self._step, self._checkpoint_tree(totals),
                                self._checkpoint_meta(), wait=wait)

    def save_checkpoint(self, basename=None, wait=True):
        """Writes a checkpoint of the current step into ``output_dir``.

        A checkpoint already there for this step is replaced atomically (as
        Trax overwrites its file). Returns once the checkpoint is committed
        on disk; ``wait=False`` returns as soon as the arrays are copied
        (the Loop's own periodic saves do that).
        """
        del basename
        if self._checkpointer is None:
            _log("Did not save checkpoint as output_dir is None")
            return
        self._save(None, wait=wait)

    @property
    def last_checkpoint_step(self):
        """The newest committed checkpoint's step in ``output_dir``."""
        if self._checkpointer is None:
            return None
        self._checkpointer.wait()
        return self._checkpointer.latest_step()

    def _resume_from_output_dir(self):
        restored = self._checkpointer.restore_latest(self._checkpoint_tree())
        if restored is None:
            return
        if restored.skipped:
            _log(restored.fallback_message())
        self._apply_checkpoint(restored)
        meta = restored.meta
        self._truncate_log(meta.get("log_offset"), restored.step)
        if self._resume_streams == "replay":
            self._replay(meta.get("pulls", []), restored.step)

    def _apply_checkpoint(self, restored):
        tree = restored.state
        self._state = self._state.replace(
            params=tree["params"], opt_state=tree["opt_state"],
            step=jnp.asarray(int(tree["step"]), jnp.int32))
        self._step = int(tree["step"])
        if "totals" in tree:
            self._resumed_totals = _Totals(**{
                k: jnp.asarray(v) for k, v in tree["totals"].items()})
        if "history" in restored.meta:
            self._history = history_lib.History.from_dict(
                restored.meta["history"])
        self._sync_model_weights()

    def _truncate_log(self, offset, step):
        """Drops log lines written after the checkpoint: the resumed Loop
        redoes those steps and logs them again."""
        if offset is None or not os.path.exists(self._log_path()):
            return
        if os.path.getsize(self._log_path()) > offset:
            with open(self._log_path(), "r+b") as f:
                f.truncate(offset)
            _log(f"{self._log_path()}: dropped the lines logged after the "
                 f"checkpoint of step {step}; they are logged again as "
                 f"training redoes those steps.")

    def _replay(self, pulls, step):
        streams = {"train/0": self._task}
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

    @property
    def replay_seconds(self):
        """Time spent replaying streams when resuming (``"replay"``)."""
        return self._replay_seconds

    def load_checkpoint(self, directory=None, filename=None):
        """Loads the newest intact checkpoint of ``directory`` (a Loop
        output_dir or its ``checkpoints`` folder; default: this Loop's).
        Reads only: nothing is created or moved in ``directory``."""
        del filename
        if directory is None:
            if self._checkpointer is None:
                return
            directory = self._checkpointer.directory
        directory = os.path.abspath(os.path.expanduser(directory))
        if not checkpoints.committed_steps(directory):
            directory = checkpoints.checkpoint_dir(directory)
        restored = checkpoints.restore_latest_intact(
            directory, self._checkpoint_tree())
        if restored is None:
            return
        if restored.skipped:
            _log(restored.fallback_message())
        self._apply_checkpoint(restored)

    # -- lifetime --------------------------------------------------------------

    def close(self):
        """Waits for pending checkpoint writes and releases ``output_dir``."""
        try:
            if self._checkpointer is not None:
                self._checkpointer.close()
        finally:
            if self._lock is not None:
                self._lock.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
