"""Training loop of the early-stopping tutorial, native Flax.

``train_and_evaluate(config, workdir)`` trains with SGD until
``flax.training.early_stopping.EarlyStopping`` says stop, then restores the
best checkpoint, which Orbax's ``CheckpointManager`` keeps by its eval loss
(``best_fn``). Trax's schedule is kept: evaluation at step 1 and every
``eval_every_steps``; the train loss logged is the mean since the last
report; evaluation reads ``num_eval_batches`` batches from the training
stream itself.
"""

import dataclasses
import os
from typing import Any

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
from clu import metrics
from flax.training import early_stopping
from flax.training import train_state

from train.earlystopping_flax import input_pipeline
from train.earlystopping_flax import models

try:
    # CLU's writers import TensorFlow (for its TensorBoard writer).
    from clu import metric_writers
except ImportError as e:
    raise ImportError(
        f"This program logs through CLU's metric_writers, which need "
        f"TensorFlow ({e}): pip install tensorflow-cpu (or the project's "
        f"[tfds] extra).") from e


def l2_loss(predictions, targets, weights):
    """Trax's ``L2Loss``: the weighted mean of squared errors."""
    return jnp.sum(weights * (predictions - targets) ** 2) / jnp.sum(weights)


@flax.struct.dataclass
class Metrics(metrics.Collection):
    loss: metrics.Average.from_output("loss")


@jax.jit
def train_step(state, batch):
    def loss_fn(params):
        predictions = state.apply_fn({"params": params}, batch["inputs"])
        return l2_loss(predictions, batch["targets"], batch["weights"])
    loss, grads = jax.value_and_grad(loss_fn)(state.params)
    return (state.apply_gradients(grads=grads),
            Metrics.single_from_model_output(loss=loss))


@jax.jit
def eval_step(state, batch):
    predictions = state.apply_fn({"params": state.params}, batch["inputs"])
    return Metrics.single_from_model_output(
        loss=l2_loss(predictions, batch["targets"], batch["weights"]))


@jax.jit
def predict(state, inputs):
    return state.apply_fn({"params": state.params}, inputs)


def evaluate(state, batches, num_batches):
    merged = None
    for _ in range(num_batches):
        m = eval_step(state, next(batches))
        merged = m if merged is None else merged.merge(m)
    return merged.compute()


def create_train_state(config):
    return train_state.TrainState.create(
        apply_fn=models.LinearModel().apply,
        params=models.initial_params(config),
        tx=optax.sgd(config.learning_rate))


@dataclasses.dataclass
class Result:
    state: Any        # the best checkpoint's, after an early stop
    history: dict     # {step: {name: value}}
    stopped_step: Any  # None when training ran to the end
    best_step: int


class _History(metric_writers.MetricWriter):
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


def train_and_evaluate(config, workdir):
    import importlib.util  # pylint: disable=g-import-not-at-top
    workdir = os.path.abspath(workdir)
    history = _History()
    writer = metric_writers.MultiWriter([
        metric_writers.create_default_writer(
            workdir, asynchronous=False, just_logging=not (
                config.tensorboard
                and importlib.util.find_spec("tensorflow"))),
        history])
    state = create_train_state(config)
    # Trax's Loop seeds NumPy when it is built: the batches start here.
    np.random.seed(config.seed)
    batches = input_pipeline.linear_batches(config.batch_size)
    # Only the best checkpoint is kept, chosen by its eval loss.
    checkpoints = ocp.CheckpointManager(
        os.path.join(workdir, "checkpoints"),
        options=ocp.CheckpointManagerOptions(
            max_to_keep=1, best_fn=lambda m: m["eval_loss"], best_mode="min",
            create=True))
    # Trax's callback stops when `patience` evals in a row did not improve
    # (0 counts as 1); Flax's when more than `patience` did not.
    stopper = early_stopping.EarlyStopping(
        min_delta=config.min_delta, patience=max(config.patience, 1) - 1)
    train_metrics, stopped_step = None, None
    for step in range(1, config.num_train_steps + 1):
        state, m = train_step(state, next(batches))
        train_metrics = m if train_metrics is None else train_metrics.merge(m)
        if step != 1 and step % config.eval_every_steps:
            continue
        writer.write_scalars(step, {
            "train_loss": train_metrics.compute()["loss"]})
        train_metrics = None
        eval_loss = float(evaluate(state, batches,
                                   config.num_eval_batches)["loss"])
        writer.write_scalars(step, {"eval_loss": eval_loss})
        stopper = stopper.update(eval_loss)
        if stopper.has_improved:
            checkpoints.save(step, args=ocp.args.StandardSave(state),
                             metrics={"eval_loss": eval_loss})
        if stopper.should_stop:
            stopped_step = step
            break
    checkpoints.wait_until_finished()
    best_step = checkpoints.best_step()
    if stopped_step is not None:
        state = checkpoints.restore(best_step,
                                    args=ocp.args.StandardRestore(state))
    checkpoints.close()
    writer.flush()
    return Result(state=state, history=history.scalars,
                  stopped_step=stopped_step, best_step=best_step)
