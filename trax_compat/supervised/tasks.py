"""``TrainTask`` and ``EvalTask``: what to train on and what to measure.

As in Trax, each task draws one "sample batch" from its stream when
constructed (it fixes the shapes the model is initialized for) and never
trains or evaluates on it.
"""

from trax_compat.fastmath import backend_state as fastmath_backend


class StreamExhaustedError(RuntimeError):
    """A task's data stream ended before the requested steps were done."""


def stream_next(stream, what, step, n_taken):
    """``next(stream)``, with an error that says what ran out, and when."""
    try:
        return next(stream)
    except StopIteration:
        raise StreamExhaustedError(
            f"The {what} stream ran out at step {step} after yielding "
            f"{n_taken} batches. Trax's Loop needs streams that never end: "
            f"build the pipeline over a repeating source, e.g. "
            f"data_pipeline(itertools.cycle(examples)) or a generator with "
            f"'while True:', or run fewer steps.") from None


class _Task:
    """A stream that counts what it yields, plus its sample batch."""

    _what = "data"

    def __init__(self, labeled_data, sample_batch, export_prefix):
        self._labeled_data = iter(labeled_data)
        self._export_prefix = export_prefix
        self._n_taken = 0
        if sample_batch is None:
            sample_batch = self.next_batch("construction (sample batch)")
        self._sample_batch = sample_batch

    @property
    def labeled_data(self):
        return self._labeled_data

    @property
    def sample_batch(self):
        return self._sample_batch

    @property
    def export_prefix(self):
        """Names the task's TensorBoard folder when a Loop has several."""
        return self._export_prefix

    def next_batch(self, step=None):
        batch = stream_next(self._labeled_data, self._what, step,
                            self._n_taken)
        self._n_taken += 1
        return batch


class TrainTask(_Task):
    """Labeled data, a loss layer and an optimizer for training.

    ``lr_schedule`` (a function of Trax's 1-based step, e.g. from
    ``trax_compat.lr``) sets the optimizer's learning rate at every step;
    without it the optimizer's own rate (or schedule) applies.
    """

    _what = "training"

    def __init__(self, labeled_data, loss_layer, optimizer, lr_schedule=None,
                 n_steps_per_checkpoint=100,
                 n_steps_per_permanent_checkpoint=None, loss_name=None,
                 sample_batch=None, export_prefix=None):
        self._loss_layer = loss_layer
        self._optimizer = optimizer
        self._lr_schedule = lr_schedule
        self._n_steps_per_checkpoint = n_steps_per_checkpoint
        self._n_steps_per_permanent_checkpoint = (
            n_steps_per_permanent_checkpoint)
        self._loss_name = loss_name or loss_layer.name
        super().__init__(labeled_data, sample_batch, export_prefix)

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
        """The rate the Loop applies at ``step``.

        Schedules are evaluated under the NumPy backend, as Trax does (so
        they give Python/NumPy floats); without one, the optimizer's own
        schedule or rate. None for an optax transformation whose rate is
        not visible from outside (the Loop then reads it from the state).
        """
        schedule = self._lr_schedule or getattr(
            self._optimizer, "learning_rate_schedule", None)
        if schedule is not None:
            with fastmath_backend.use_backend(fastmath_backend.Backend.NUMPY):
                return schedule(step)
        opt_params = getattr(self._optimizer, "opt_params", None) or {}
        return opt_params.get("learning_rate")


class EvalTask(_Task):
    """Labeled data and metric layers, averaged over ``n_eval_batches``."""

    _what = "evaluation"

    def __init__(self, labeled_data, metrics, metric_names=None,
                 n_eval_batches=1, sample_batch=None, export_prefix=None):
        self._metrics = list(metrics)
        self._metric_names = list(metric_names or
                                  [m.name for m in self._metrics])
        self._n_eval_batches = n_eval_batches
        if len(self._metrics) != len(self._metric_names):
            raise ValueError(
                f"Number of metrics ({len(self._metrics)}) does not equal "
                f"number of metric names ({len(self._metric_names)}).")
        super().__init__(labeled_data, sample_batch, export_prefix)

    @property
    def metrics(self):
        return self._metrics

    @property
    def metric_names(self):
        return self._metric_names

    @property
    def n_eval_batches(self):
        return self._n_eval_batches
