"""Training and evaluation loop of the Deep N-Gram tutorial, native Flax.

``train_and_evaluate(config, workdir)`` trains a ``TrainState`` with a jitted
step, logs through CLU's metric writers, reports progress with CLU's
periodic actions and checkpoints with Orbax's ``CheckpointManager``, as the
Flax examples do. It keeps the schedule of the tutorial's Trax ``Loop``:
evaluation at step 1 and every ``eval_every_steps``, where the train loss
logged is the mean over the steps since the last report and each eval
metric the mean over ``num_eval_batches`` batches.
"""

import dataclasses
import functools
import os
from typing import Any

import flax
import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp
from clu import metrics
from flax.training import train_state

try:
    # CLU's writers and periodic actions import TensorFlow (for its
    # TensorBoard writer) whether or not it is used.
    from clu import metric_writers
    from clu import periodic_actions
except ImportError as e:
    raise ImportError(
        f"This program logs through CLU's metric_writers, which need "
        f"TensorFlow ({e}): pip install tensorflow-cpu (or the project's "
        f"[tfds] extra).") from e

from train.deep_ngram_flax import input_pipeline
from train.deep_ngram_flax import models
from train.trax_adam import trax_adam


def cross_entropy(log_probs, targets, weights):
    """Trax's ``CrossEntropyLoss``: the weighted mean of the targets'
    negative log-probabilities (the model already ends in a log-softmax)."""
    one_hot = jax.nn.one_hot(targets, log_probs.shape[-1])
    cross_entropies = -jnp.sum(log_probs * one_hot, axis=-1)
    return jnp.sum(cross_entropies * weights) / jnp.sum(weights)


def accuracy(log_probs, targets, weights):
    """Trax's ``Accuracy``: the weighted share of positions whose most
    likely character is the target (padding has weight 0)."""
    correct = jnp.argmax(log_probs, axis=-1) == targets
    return jnp.sum(correct * weights) / jnp.sum(weights)


@flax.struct.dataclass
class TrainMetrics(metrics.Collection):
    loss: metrics.Average.from_output("loss")


@flax.struct.dataclass
class EvalMetrics(metrics.Collection):
    loss: metrics.Average.from_output("loss")
    accuracy: metrics.Average.from_output("accuracy")


@functools.partial(jax.jit, donate_argnums=0)
def train_step(state, batch):
    def loss_fn(params):
        log_probs = state.apply_fn({"params": params}, batch["inputs"])
        return cross_entropy(log_probs, batch["targets"], batch["weights"])
    loss, grads = jax.value_and_grad(loss_fn)(state.params)
    state = state.apply_gradients(grads=grads)
    return state, TrainMetrics.single_from_model_output(loss=loss)


@jax.jit
def eval_step(state, batch):
    log_probs = state.apply_fn({"params": state.params}, batch["inputs"])
    args = (log_probs, batch["targets"], batch["weights"])
    return EvalMetrics.single_from_model_output(loss=cross_entropy(*args),
                                                accuracy=accuracy(*args))


def evaluate(state, eval_iter, num_batches):
    eval_metrics = None
    for _ in range(num_batches):
        batch_metrics = eval_step(state, next(eval_iter))
        eval_metrics = (batch_metrics if eval_metrics is None
                        else eval_metrics.merge(batch_metrics))
    return eval_metrics.compute()


def sample(state, prefix, length, rng, temperature=1.0):
    """Continues the text ``prefix`` by up to ``length`` characters drawn
    from the model's next-character distribution (greedy at
    ``temperature=0``), stopping at the end-of-sequence id. The tutorial
    stops after training; this is how its model is used."""
    ids = input_pipeline.line_to_ids(prefix)[:-1]
    # One fixed-size buffer (one compile): the model is causal, so the
    # zeros after position t do not change its output there.
    buffer = jnp.zeros((1, len(ids) + length), jnp.int32)
    buffer = buffer.at[0, :len(ids)].set(jnp.asarray(ids, jnp.int32))
    for position in range(len(ids), len(ids) + length):
        rng, key = jax.random.split(rng)
        next_id = int(_next_id(state, buffer, position, key, temperature))
        if next_id == input_pipeline.EOS_ID:
            break
        ids.append(next_id)
        buffer = buffer.at[0, position].set(next_id)
    return "".join(chr(i) for i in ids)


@jax.jit
def _next_id(state, ids, position, key, temperature):
    # The model shifts right: its output at `position` is the distribution
    # of the character there given those before it.
    log_probs = state.apply_fn({"params": state.params}, ids)[0, position]
    return jnp.where(temperature > 0,
                     jax.random.categorical(key, log_probs / jnp.maximum(
                         temperature, 1e-6)),
                     jnp.argmax(log_probs))


@functools.lru_cache(maxsize=None)
def _optimizer(learning_rate, weight_decay_rate):
    # Like the model, the optimizer is part of the jitted steps' cache key:
    # one per setting lets later runs in the process reuse the compiled steps.
    return trax_adam(learning_rate, weight_decay_rate=weight_decay_rate)


def create_train_state(config, params=None):
    """A fresh ``TrainState``; ``params`` (e.g. converted from a Trax model
    with ``models.params_from_trax_weights``) replaces the random ones."""
    model = models.create_model(config)
    tx = _optimizer(config.learning_rate, config.weight_decay_rate)
    if params is None:
        params = models.initial_params(config)
    else:
        # Copies: the train step donates the state's buffers.
        params = jax.tree_util.tree_map(jnp.array, params)
    return train_state.TrainState.create(apply_fn=model.apply, params=params,
                                         tx=tx)


def _eval_at(step, config):
    return step == 1 or step % config.eval_every_steps == 0


def _skip_consumed_batches(train_iter, eval_iter, last_step, config):
    """On resume: reads the batches the steps up to ``last_step`` read, in
    their order (the shuffles draw from one shared generator), so the run
    continues on the batches an uninterrupted run would see."""
    for step in range(1, last_step + 1):
        next(train_iter)
        if _eval_at(step, config):
            for _ in range(config.num_eval_batches):
                next(eval_iter)


@dataclasses.dataclass
class Result:
    state: Any
    # {step: {name: value}} of every scalar written (train_loss, eval_loss,
    # eval_accuracy, steps_per_sec).
    history: dict
    eval_iter: Any  # the eval stream, where training left it


class _History(metric_writers.MetricWriter):
    """Keeps the scalars written, for the caller (and the tests)."""

    def __init__(self):
        self.scalars = {}

    def write_scalars(self, step, scalars):
        self.scalars.setdefault(int(step), {}).update(
            {k: float(v) for k, v in scalars.items()})

    def write_summaries(self, *a, **k): pass
    def write_images(self, *a, **k): pass
    def write_videos(self, *a, **k): pass
    def write_audios(self, *a, **k): pass
    def write_texts(self, *a, **k): pass
    def write_histograms(self, *a, **k): pass
    def write_hparams(self, *a, **k): pass
    def flush(self): pass
    def close(self): pass


def _tensorboard_available():
    import importlib.util  # pylint: disable=g-import-not-at-top
    return importlib.util.find_spec("tensorflow") is not None


def train_and_evaluate(config, workdir, initial_params=None, lines=None):
    """Trains up to step ``config.num_train_steps`` (resuming from the newest
    checkpoint in ``workdir``); returns a :class:`Result`.

    ``initial_params`` starts a fresh run from given weights; ``lines``
    replaces the text of ``config.data_dir``."""
    workdir = os.path.abspath(workdir)
    os.makedirs(workdir, exist_ok=True)
    history = _History()
    writer = metric_writers.MultiWriter([
        metric_writers.create_default_writer(
            workdir, just_logging=not (config.tensorboard
                                       and _tensorboard_available()),
            asynchronous=False),
        history])

    train_iter, eval_iter = input_pipeline.create_datasets(config, lines)
    state = create_train_state(config, initial_params)

    checkpoints = ocp.CheckpointManager(
        os.path.join(workdir, "checkpoints"),
        options=ocp.CheckpointManagerOptions(
            max_to_keep=config.max_checkpoints_to_keep, create=True))
    initial_step = checkpoints.latest_step() or 0
    if initial_step:
        state = checkpoints.restore(initial_step,
                                    args=ocp.args.StandardRestore(state))
        _skip_consumed_batches(train_iter, eval_iter, initial_step, config)
    else:
        n_params = sum(p.size for p in jax.tree_util.tree_leaves(
            state.params))
        writer.write_hparams(dict(config.to_dict(), n_params=n_params))

    report_progress = periodic_actions.ReportProgress(
        num_train_steps=config.num_train_steps, writer=writer,
        every_steps=config.eval_every_steps)
    train_metrics = None
    for step in range(initial_step + 1, config.num_train_steps + 1):
        with jax.profiler.StepTraceAnnotation("train", step_num=step):
            state, step_metrics = train_step(state, next(train_iter))
        train_metrics = (step_metrics if train_metrics is None
                         else train_metrics.merge(step_metrics))
        report_progress(step)
        if _eval_at(step, config):
            writer.write_scalars(step, {
                f"train_{k}": v for k, v in train_metrics.compute().items()})
            train_metrics = None
            with report_progress.timed("eval"):
                eval_values = evaluate(state, eval_iter,
                                       config.num_eval_batches)
            writer.write_scalars(step, {f"eval_{k}": v
                                        for k, v in eval_values.items()})
        if (step % config.checkpoint_every_steps == 0
                or step == config.num_train_steps):
            checkpoints.save(step, args=ocp.args.StandardSave(state))
    checkpoints.wait_until_finished()
    checkpoints.close()
    writer.flush()
    return Result(state=state, history=history.scalars, eval_iter=eval_iter)
