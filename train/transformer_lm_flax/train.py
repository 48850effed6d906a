"""Training and evaluation loop of the Transformer LM, native Flax.

``train_and_evaluate(config, workdir)`` trains a ``TrainState`` with a
jitted step, logs through CLU's metric writers, reports progress with CLU's
periodic actions and checkpoints with Orbax's ``CheckpointManager``, as the
Flax examples do, on the schedule of Trax's ``Loop``: evaluation at step 1
and every ``eval_every_steps``, the train loss logged there being the mean
over the steps since the last report, each eval metric the mean over
``num_eval_batches`` batches.
"""

import dataclasses
import functools
import os
from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax
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

from models import transformer
from train.trax_adam import trax_adam
from train.transformer_lm_flax import input_pipeline
from train.transformer_lm_flax import models


def weighted_cross_entropy(logits, targets, weights):
    """Trax's ``WeightedCategoryCrossEntropy``: the weighted mean of the
    targets' negative log-probs. The targets' log-probs are picked by index,
    not by a one-hot over the vocabulary: the same numbers, one pass less
    over the ``(batch, length, vocab)`` logits (and their gradient)."""
    cross_entropies = optax.softmax_cross_entropy_with_integer_labels(
        logits, targets)
    return jnp.sum(cross_entropies * weights) / jnp.sum(weights)


def weighted_accuracy(logits, targets, weights):
    correct = jnp.argmax(logits, axis=-1) == targets
    return jnp.sum(correct * weights) / jnp.sum(weights)


@flax.struct.dataclass
class TrainMetrics(metrics.Collection):
    loss: metrics.Average.from_output("loss")


@flax.struct.dataclass
class EvalMetrics(metrics.Collection):
    loss: metrics.Average.from_output("loss")
    accuracy: metrics.Average.from_output("accuracy")


def multifactor_schedule(constant, warmup_steps):
    """Trax's ``multifactor`` (``constant * linear_warmup * rsqrt_decay``)
    as an optax schedule. optax counts updates from 0; Trax's Loop numbers
    its first step 1 and asks the schedule for that step's rate."""
    def schedule(count):
        step = (count + 1).astype(jnp.float32)
        warmup = jnp.minimum(1.0, step / warmup_steps)
        return constant * warmup * jax.lax.rsqrt(
            jnp.maximum(step, float(warmup_steps)))
    return schedule


@functools.partial(jax.jit, donate_argnums=0)
def train_step(state, batch, dropout_key):
    key = jax.random.fold_in(dropout_key, state.step)

    def loss_fn(params):
        logits = state.apply_fn({"params": params}, batch["inputs"],
                                deterministic=False, rngs={"dropout": key})
        return weighted_cross_entropy(logits, batch["targets"],
                                      batch["weights"])
    loss, grads = jax.value_and_grad(loss_fn)(state.params)
    state = state.apply_gradients(grads=grads)
    return state, TrainMetrics.single_from_model_output(loss=loss)


@jax.jit
def eval_step(state, batch):
    logits = state.apply_fn({"params": state.params}, batch["inputs"])
    args = (logits, batch["targets"], batch["weights"])
    return EvalMetrics.single_from_model_output(
        loss=weighted_cross_entropy(*args),
        accuracy=weighted_accuracy(*args))


def evaluate(state, eval_iter, num_batches):
    eval_metrics = None
    for _ in range(num_batches):
        batch_metrics = eval_step(state, next(eval_iter))
        eval_metrics = (batch_metrics if eval_metrics is None
                        else eval_metrics.merge(batch_metrics))
    return eval_metrics.compute()


def sample(model, params, length, prompt=None):
    """Greedy decoding (temperature 0) from the start id, optionally after a
    ``(batch, n)`` prompt, with the model's one-position-per-call decode
    mode and its key/value cache."""
    return transformer.decode_lm(model, {"params": params}, prompt,
                                 max_length=length, temperature=0.0)


@functools.lru_cache(maxsize=None)
def _optimizer(learning_rate, warmup_steps, weight_decay_rate):
    # Part of the jitted steps' cache key, as the model: one per setting.
    return trax_adam(multifactor_schedule(learning_rate, warmup_steps),
                     weight_decay_rate=weight_decay_rate)


def create_train_state(config, params=None):
    model = models.create_model(config)
    if params is None:
        params = models.initial_params(model, config)
    else:  # a copy: the train step donates the state's buffers
        params = jax.tree_util.tree_map(jnp.array, params)
    tx = _optimizer(config.learning_rate, config.warmup_steps,
                    config.weight_decay_rate)
    state = train_state.TrainState.create(apply_fn=model.apply,
                                          params=params, tx=tx)
    return _on_device(state)


def _on_device(state):
    """The state's arrays committed to one device, the step a (non-weak)
    int32: as a restored checkpoint has them, so that a fresh and a resumed
    run share one compiled ``train_step``."""
    state = state.replace(step=jnp.asarray(state.step, jnp.int32))
    return jax.device_put(state, jax.devices()[0])


def _eval_at(step, config):
    return step == 1 or step % config.eval_every_steps == 0


def _skip_consumed_batches(train_iter, eval_iter, last_step, config):
    """On resume: reads the batches the steps up to ``last_step`` read, so
    the run continues on the batches an uninterrupted run would see."""
    for step in range(1, last_step + 1):
        next(train_iter)
        if _eval_at(step, config):
            for _ in range(config.num_eval_batches):
                next(eval_iter)


@dataclasses.dataclass
class Result:
    state: Any
    model: Any
    # {step: {name: value}} of every scalar written (train_loss, eval_loss,
    # eval_accuracy, steps_per_sec).
    history: dict
    vocab: Any


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


def train_and_evaluate(config, workdir, initial_params=None):
    """Trains for ``config.num_train_steps`` steps (resuming from the newest
    checkpoint in ``workdir``); returns a :class:`Result`.

    ``initial_params``: where a fresh run starts (default: Flax's init),
    e.g. a Trax model's weights converted by ``models.convert_transformer``.
    """
    workdir = os.path.abspath(workdir)
    os.makedirs(workdir, exist_ok=True)
    history = _History()
    writer = metric_writers.MultiWriter([
        metric_writers.create_default_writer(
            workdir, just_logging=not (config.tensorboard
                                       and _tensorboard_available()),
            asynchronous=False),
        history])

    train_iter, eval_iter, vocab = input_pipeline.create_datasets(
        config, workdir)
    dropout_key = jax.random.PRNGKey(config.seed)

    checkpoints = ocp.CheckpointManager(
        os.path.join(workdir, "checkpoints"),
        options=ocp.CheckpointManagerOptions(
            max_to_keep=config.max_checkpoints_to_keep, create=True))
    initial_step = checkpoints.latest_step() or 0
    if initial_step:
        # Restored into the state's shapes alone: nothing to initialize.
        abstract = jax.eval_shape(lambda: create_train_state(config))
        state = _on_device(checkpoints.restore(
            initial_step, args=ocp.args.StandardRestore(abstract)))
        _skip_consumed_batches(train_iter, eval_iter, initial_step, config)
    else:
        state = create_train_state(config, initial_params)
        n_params = sum(p.size for p in jax.tree_util.tree_leaves(
            state.params))
        writer.write_hparams(dict(config.to_dict(), n_params=n_params))

    report_progress = periodic_actions.ReportProgress(
        num_train_steps=config.num_train_steps, writer=writer,
        every_steps=config.eval_every_steps)
    train_metrics = None
    for step in range(initial_step + 1, config.num_train_steps + 1):
        with jax.profiler.StepTraceAnnotation("train", step_num=step):
            state, step_metrics = train_step(state, next(train_iter),
                                             dropout_key)
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
    return Result(state=state, model=models.create_model(config),
                  history=history.scalars, vocab=vocab)
