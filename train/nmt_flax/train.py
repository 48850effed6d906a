"""Training and evaluation loop of the NMT Transformer, native Flax.

``train_and_evaluate(config, workdir)`` trains a ``TrainState`` with a
jitted step (one compile per bucket shape), logs through CLU's metric
writers, reports progress with CLU's periodic actions and checkpoints with
Orbax's ``CheckpointManager``, on the schedule of Trax's ``Loop``: as the
Transformer LM program (``train/transformer_lm_flax``), whose loss,
metrics, metric collections and loop helpers it shares.
"""

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from flax.training import train_state

from models import transformer
from train.nmt_flax import input_pipeline
from train.nmt_flax import models
from train.trax_adam import trax_adam
from train.transformer_lm_flax.train import EvalMetrics
from train.transformer_lm_flax.train import Result
from train.transformer_lm_flax.train import TrainMetrics
from train.transformer_lm_flax.train import _eval_at
from train.transformer_lm_flax.train import _History
from train.transformer_lm_flax.train import _on_device
from train.transformer_lm_flax.train import _skip_consumed_batches
from train.transformer_lm_flax.train import _tensorboard_available
from train.transformer_lm_flax.train import metric_writers
from train.transformer_lm_flax.train import periodic_actions
from train.transformer_lm_flax.train import weighted_accuracy
from train.transformer_lm_flax.train import weighted_cross_entropy
from train.transformer_lm_flax.vocab import EOS_ID


def warmup_and_rsqrt_decay(n_warmup_steps, max_value):
    """Trax's ``warmup_and_rsqrt_decay`` as an optax schedule: a linear
    rise to ``max_value`` at step ``t0 = n_warmup_steps + 1``, then
    ``max_value * sqrt(t0 / step)``. optax counts updates from 0; Trax's
    Loop numbers its first step 1 and asks the schedule for that step."""
    t0 = float(n_warmup_steps + 1)

    def schedule(count):
        step = (count + 1).astype(jnp.float32)
        return jnp.where(step < t0, step / t0 * max_value,
                         max_value * (np.sqrt(t0) / jnp.sqrt(step)))
    return schedule


def _logits(state, params, batch, **kwargs):
    # The decoder reads the targets shifted right: teacher forcing.
    return state.apply_fn({"params": params}, batch["inputs"],
                          batch["targets"], **kwargs)


@functools.partial(jax.jit, donate_argnums=0)
def train_step(state, batch, dropout_key):
    key = jax.random.fold_in(dropout_key, state.step)

    def loss_fn(params):
        logits = _logits(state, params, batch, deterministic=False,
                         rngs={"dropout": key})
        return weighted_cross_entropy(logits, batch["targets"],
                                      batch["weights"])
    loss, grads = jax.value_and_grad(loss_fn)(state.params)
    state = state.apply_gradients(grads=grads)
    return state, TrainMetrics.single_from_model_output(loss=loss)


@jax.jit
def eval_step(state, batch):
    args = (_logits(state, state.params, batch), batch["targets"],
            batch["weights"])
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


def translate(result, sentence, max_length):
    """Greedy decoding (temperature 0) of ``sentence`` with the model's
    decode mode and key/value cache: the sentence's ids plus the end id in,
    ``(ids, text)`` out, the end id and what follows it dropped."""
    ids = result.vocab.encode(sentence) + [EOS_ID]
    tokens = transformer.decode_transformer(
        result.model, {"params": result.state.params}, np.array([ids]),
        max_length=max_length, temperature=0.0)
    out = tokens[0].tolist()
    out = out[:out.index(EOS_ID)] if EOS_ID in out else out
    return tokens, result.vocab.decode(out)


@functools.lru_cache(maxsize=None)
def _optimizer(learning_rate, warmup_steps, weight_decay_rate):
    # Part of the jitted steps' cache key, as the model: one per setting.
    return trax_adam(warmup_and_rsqrt_decay(warmup_steps, learning_rate),
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


def train_and_evaluate(config, workdir, initial_params=None):
    """Trains for ``config.num_train_steps`` steps (resuming from the newest
    checkpoint in ``workdir``); returns a ``Result`` (state, model, history
    ``{step: {name: value}}``, vocabulary).

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
