"""Callbacks around the Loop's training steps (Trax's protocol), and
``EarlyStopping``.

A callback is passed to ``Loop(callbacks=[...])`` as a class (or any
callable taking the loop); the Loop constructs it with itself at the end of
its constructor. At every step, ``call_at(step)`` decides whether
``on_step_begin(step)`` runs before the step's batch is pulled, and again
whether ``on_step_end(step)`` runs after the update, before that step's
evals and checkpoints. ``step`` is the step being trained (1-based).

Ours on top of Trax's: ``on_eval_end(step, metrics)`` runs after each
step's evals with their values (``loop.last_eval`` has them too), and
``loop.request_stop(reason)`` ends ``run`` cleanly after the current step,
its evals and its checkpoint.
"""


class TrainingStepCallback:
    """Base class of Loop callbacks (Trax's protocol)."""

    def __init__(self, loop):
        self._loop = loop

    def call_at(self, step):
        """Whether to call the step hooks at ``step``."""
        raise NotImplementedError

    def on_step_begin(self, step):
        """Runs before step ``step`` when ``call_at(step)``."""
        raise NotImplementedError

    def on_step_end(self, step):
        """Runs after step ``step``'s update when ``call_at(step)``."""
        raise NotImplementedError

    def on_eval_end(self, step, metrics):
        """Runs after the evals of ``step``; ``metrics`` maps metric names
        to their values. Not part of Trax's protocol: a no-op here."""
        del step, metrics


class EarlyStopping(TrainingStepCallback):
    """Stops training when an eval metric has stopped improving.

    Pass the configured object itself, ``Loop(callbacks=[EarlyStopping(
    'WeightedCategoryAccuracy', mode='max', patience=3)])``: the Loop calls
    it with itself, like a callback class.

    Args:
      metric: an eval metric name of the Loop's eval tasks.
      mode: ``'min'``, ``'max'``, or ``'auto'`` (``'max'`` for names
        containing "Accuracy", else ``'min'``).
      patience: how many evals in a row may fail to improve before
        training stops (0: stop at the first one).
      min_delta: the least change that counts as an improvement.

    After a stop, ``stopped_step``, ``best`` and ``best_step`` tell what
    happened. A Loop resumed from a checkpoint rebuilds this state from its
    history, so patience carries over.
    """

    def __init__(self, metric, mode="auto", patience=0, min_delta=0.0):
        super().__init__(None)
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping mode must be 'auto', 'min' or "
                             f"'max', got {mode!r}.")
        if mode == "auto":
            mode = "max" if "accuracy" in metric.lower() else "min"
        if patience < 0 or min_delta < 0:
            raise ValueError("EarlyStopping patience and min_delta must be "
                             ">= 0.")
        self.metric = metric
        self.mode = mode
        self.patience = patience
        self.min_delta = min_delta
        self.best = None
        self.best_step = None
        self.stopped_step = None
        self._n_worse = 0

    def __call__(self, loop):
        names = [name for task in loop.eval_tasks
                 for name in task.metric_names]
        if self.metric not in names:
            raise ValueError(
                f"EarlyStopping metric {self.metric!r} is not a metric of "
                f"the Loop's eval tasks; choose one of {sorted(set(names))}.")
        self._loop = loop
        for step, value in loop.history.get("eval", f"metrics/{self.metric}"):
            self._observe(step, float(value))
        return self

    def _improves(self, value):
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def _observe(self, step, value):
        """Takes one eval value; True when patience has run out."""
        if self._improves(value):
            self.best, self.best_step, self._n_worse = value, step, 0
            return False
        self._n_worse += 1
        return self._n_worse > self.patience

    def call_at(self, step):
        del step
        return False  # It acts on evals only (on_eval_end).

    def on_step_begin(self, step):
        del step

    def on_step_end(self, step):
        del step

    def on_eval_end(self, step, metrics):
        if self.metric not in metrics:
            return
        if self._observe(step, metrics[self.metric]):
            self.stopped_step = step
            self._loop.request_stop(
                f"early stopping: {self.metric} has not improved on "
                f"{self.best:.8f} (step {self.best_step}) for "
                f"{self._n_worse} evals.")
