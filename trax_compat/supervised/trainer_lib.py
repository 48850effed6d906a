"""Trax's ``trainer_lib``: ``train(...)``, the entry point of Trax's gin
configs (``train.model = @trax.models.TransformerLM``, ``train.steps = ...``),
run on our ``training.Loop`` as Trax runs it with ``use_loop=True`` (its
default).

Arguments are Trax's. Defaults that Trax's configs bind through gin
(``inputs``, ``optimizer``, ``lr_schedule_fn``) are called through their gin
wrappers when gin is installed, so ``multifactor.constant = 0.001`` in a
config reaches the schedule as it does in Trax.
"""

import collections
import itertools
import logging
import sys

from trax_compat import fastmath
from trax_compat import gin_registry
from trax_compat import layers as tl
from trax_compat import optimizers as trax_opt
from trax_compat.supervised import lr_schedules as lr
from trax_compat.supervised import training


def _default_metrics():
    """Trax's default eval metrics, by name (fresh layers each call)."""
    return {
        "loss": tl.WeightedCategoryCrossEntropy(),
        "accuracy": tl.WeightedCategoryAccuracy(),
        "sequence_accuracy": tl.MaskedSequenceAccuracy(),
        "neg_log_perplexity": tl.Serial(tl.WeightedCategoryCrossEntropy(),
                                        tl.Negate()),
        "weights_per_batch_per_core": tl.Serial(tl.Drop(), tl.Drop(),
                                                tl.Sum()),
    }


NamedStream = collections.namedtuple("NamedStream", ["name", "stream"])


def named_stream(name=None, stream=None):
    """A named extra eval stream, for ``additional_eval_streams``."""
    if name is None or stream is None:
        raise ValueError("named_stream needs both a name and a stream.")
    return NamedStream(name=name, stream=stream)


def num_devices(value=None):
    """How many devices to train on (None: every local device). Set it in a
    config with ``num_devices.value = 1``."""
    return value


def log(s, stdout=True):
    logging.info(s)
    if stdout:
        print(s)
        sys.stdout.flush()


def epochs(total_steps, steps_to_skip, epoch_steps):
    """The steps of each epoch still to run, up to ``total_steps``, after
    ``steps_to_skip`` already done (a restart) -- Trax's helper."""
    steps_to_go = total_steps - steps_to_skip
    epoch_steps = iter(epoch_steps)
    for n in epoch_steps:
        if n > steps_to_skip:
            # The epoch the restart falls in: only its remainder is left.
            epoch_steps = itertools.chain([n - steps_to_skip], epoch_steps)
        if n >= steps_to_skip:
            break
        steps_to_skip -= n
    for n in epoch_steps:
        if steps_to_go <= 0:
            break
        n = min(n, steps_to_go)
        yield n
        steps_to_go -= n


def _default_inputs():
    from trax_compat.data import inputs as trax_inputs  # pylint: disable=g-import-not-at-top
    batcher = getattr(trax_inputs, "batcher", None)
    if batcher is None:
        raise ValueError("train() needs `inputs` (e.g. `train.inputs = "
                         "@trax.data.inputs.batcher` in a gin config).")
    return batcher


def train(output_dir, model=None, loss_fn=None, inputs=None,
          optimizer=trax_opt.Adafactor, lr_schedule_fn=lr.multifactor,
          trainer_class=None, steps=1000, checkpoints_at=None,
          permanent_checkpoints_at=None, eval_steps=10, eval_frequency=100,
          permanent_checkpoint_frequency=None, random_seed=None,
          save_graphs=True, metrics=None, checkpoint_highest=None,
          checkpoint_lowest=None, use_loop=True, loss_chunk_size=0,
          use_memory_efficient_trainer=False, adasum=False,
          init_checkpoint=None, callbacks=None, n_weights_shards=1,
          additional_train_tasks=None, additional_eval_tasks=None,
          additional_eval_streams=None):
    """Trains ``model`` (a function of ``mode``) on ``inputs`` (a
    ``trax.data.Inputs`` or a function returning one) for ``steps`` steps in
    ``output_dir``; returns the ``training.Loop``. A run resumed in the same
    ``output_dir`` continues from its last checkpoint."""
    del save_graphs  # Trax's old Trainer only.
    if model is None:
        raise ValueError("train() needs a model (e.g. `train.model = "
                         "@trax.models.TransformerLM` in a gin config).")
    if not use_loop or trainer_class is not None:
        raise NotImplementedError(
            "train(use_loop=False) and trainer_class run Trax's old Trainer, "
            "not in this version; leave use_loop at True (the training.Loop "
            "path, Trax's default).")
    if n_weights_shards != 1:
        raise NotImplementedError(
            f"train(n_weights_shards={n_weights_shards}) is not in this "
            f"version; leave it at 1.")
    if (permanent_checkpoint_frequency is not None
            and permanent_checkpoints_at is not None):
        raise ValueError("Only one of permanent_checkpoint_frequency and "
                         "permanent_checkpoints_at may be set.")
    n_devices = (gin_registry.configurable(num_devices)()
                 or fastmath.local_device_count())

    if inputs is None:
        inputs = _default_inputs()
    if callable(inputs):
        inputs = gin_registry.configurable(inputs)()
    if loss_fn is None:
        loss_fn = tl.WeightedCategoryCrossEntropy()
    opt = gin_registry.configurable(optimizer)()
    train_task = training.TrainTask(
        inputs.train_stream(n_devices), loss_layer=loss_fn, optimizer=opt,
        lr_schedule=gin_registry.configurable(lr_schedule_fn)(),
        n_steps_per_checkpoint=eval_frequency,
        n_steps_per_permanent_checkpoint=permanent_checkpoint_frequency)

    metrics_dict = metrics if metrics is not None else _default_metrics()
    names, metric_layers = zip(*metrics_dict.items())
    eval_tasks = [training.EvalTask(inputs.eval_stream(n_devices),
                                    metric_layers, metric_names=names,
                                    n_eval_batches=eval_steps)]
    eval_tasks += list(additional_eval_tasks or [])
    for stream in additional_eval_streams or []:
        eval_tasks.append(training.EvalTask(
            stream.stream, metric_layers, metric_names=names,
            n_eval_batches=eval_steps, export_prefix=stream.name))

    checkpoint_at = None
    if checkpoints_at is not None:
        checkpoint_at = lambda step: step in checkpoints_at  # noqa: E731
    permanent_checkpoint_at = None
    if permanent_checkpoints_at is not None:
        permanent_checkpoint_at = (
            lambda step: step in permanent_checkpoints_at)  # noqa: E731

    model = gin_registry.configurable(model)
    model_train = model(mode="train")
    model_eval = model(mode="eval")
    if init_checkpoint:
        model_train.init_from_file(init_checkpoint, weights_only=True)
        model_eval.init_from_file(init_checkpoint, weights_only=True)
    loop = training.Loop(
        model_train, [train_task] + list(additional_train_tasks or []),
        eval_model=model_eval, eval_tasks=eval_tasks, output_dir=output_dir,
        checkpoint_at=checkpoint_at, checkpoint_low_metric=checkpoint_lowest,
        checkpoint_high_metric=checkpoint_highest,
        permanent_checkpoint_at=permanent_checkpoint_at,
        n_devices=n_devices, loss_chunk_size=loss_chunk_size,
        use_memory_efficient_trainer=use_memory_efficient_trainer,
        adasum=adasum, random_seed=random_seed, callbacks=callbacks)
    steps_to_go = steps - loop.step
    if steps_to_go <= 0:
        log(f"Stop training, already reached the total training steps "
            f"{steps}")
        return loop
    loop.run(steps_to_go)
    return loop


# Trax's gin names for this module (a no-op without gin).
gin_registry.register("trax.supervised.trainer_lib")
