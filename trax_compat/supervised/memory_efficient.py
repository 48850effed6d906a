"""``Loop(use_memory_efficient_trainer=True)``: what it changes here.

Trax's memory-efficient trainer (``optimizers.ReversibleSerialTrainer``)
keeps weights on the host and runs the layers one at a time. Its updates
are those of the standard trainer, one optimizer per layer, so the Loop
keeps its one compiled step and takes from the memory-efficient path what
changes the numbers:

* the model is initialized as Trax does it there: ``[model, loss]`` split
  into reversible blocks (``loss_chunk_size`` > 0 chunks the loss), each
  layer with its own key (``init_reversible_blocks``), which gives other
  initial weights than ``model.init``;
* evaluation uses the training model (Trax ignores ``eval_model`` there);
* the task's optimizer may be a class or factory such as
  ``optimizers.Adam``: Trax calls it once per layer, with its defaults.

Per-layer optimizers update as one whole-model optimizer does, except for
global-norm gradient clipping, which Trax applies per layer: a clipping
optimizer is refused. The optimizer metrics are the whole model's
(``training/gradients_l2`` ...), not Trax's per-layer
``training/layer<i>/...``.
"""

import optax

from trax_compat.optimizers import base as optimizers_base
from trax_compat.optimizers import trainer as optimizers_trainer


def prepare_tasks(tasks):
    """Checks the tasks for the memory-efficient trainer and turns an
    optimizer class into the optimizer it makes."""
    if len(tasks) != 1:
        raise ValueError(
            f"Loop(use_memory_efficient_trainer=True) trains one task, as "
            f"in Trax; got {len(tasks)} tasks.")
    task = tasks[0]
    optimizer = task.optimizer
    if callable(optimizer) and not isinstance(
            optimizer, (optimizers_base.Optimizer,
                        optax.GradientTransformation)):
        optimizer = optimizer()
        task._optimizer = optimizer  # pylint: disable=protected-access
    if getattr(optimizer, "_clip_grad_norm", None) is not None:
        raise NotImplementedError(
            "Loop(use_memory_efficient_trainer=True) with clip_grad_norm is "
            "not supported: Trax clips each layer's gradients on their own "
            "there. Drop clip_grad_norm or the memory-efficient trainer.")


def init_model(model, loss_layer, batch_signature, rng, loss_chunk_size):
    """Initializes ``model`` (and ``loss_layer``) as Trax's memory-efficient
    trainer does, from ``rng`` (the model's key)."""
    blocks, loss = optimizers_trainer.extract_reversible_blocks(
        [model, loss_layer], loss_chunk_size=loss_chunk_size)
    optimizers_trainer.init_reversible_blocks(blocks, loss, batch_signature,
                                              rng)
