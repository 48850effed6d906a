"""When a Loop saves which checkpoint, with Trax's rules and names.

* ``model``: at ``checkpoint_at`` steps (default: step 1 and every
  ``n_steps_per_checkpoint`` of the first task); overwritten each time.
* ``model_<step>``: at ``permanent_checkpoint_at`` steps (default: step 1
  and every ``n_steps_per_permanent_checkpoint``; never without it); kept.
* ``lowest_<metric>`` / ``highest_<metric>``: at ``checkpoint_at`` steps,
  after the evals, when the last eval value of the metric is the lowest /
  highest so far (ties count). As in Trax the last value is the newest in
  the history, even when this step ran no eval.
"""

MODEL = "model"


def at_step_1_and_every_nth_step(period):
    """True at step 1 and at multiples of ``period``; never if None."""
    if period is None:
        return never

    def at(step):
        return step == 1 or (step > 0 and step % period == 0)
    return at


def never(step):
    del step
    return False


def permanent_basename(step):
    return f"{MODEL}_{step}"


class CheckpointPolicy:
    """Decides, per step, which checkpoints to write."""

    def __init__(self, first_task, checkpoint_at=None,
                 permanent_checkpoint_at=None, low_metric=None,
                 high_metric=None, metric_names=()):
        self.checkpoint_at = checkpoint_at or at_step_1_and_every_nth_step(
            first_task.n_steps_per_checkpoint)
        self.permanent_checkpoint_at = (
            permanent_checkpoint_at or at_step_1_and_every_nth_step(
                first_task.n_steps_per_permanent_checkpoint))
        for kind, name in (("checkpoint_low_metric", low_metric),
                           ("checkpoint_high_metric", high_metric)):
            if name is not None and name not in metric_names:
                raise ValueError(
                    f"{kind}={name!r} is not a metric of the eval tasks; "
                    f"choose one of {sorted(set(metric_names))}.")
        self.low_metric = low_metric
        self.high_metric = high_metric

    def periodic(self, step):
        """Basenames due at ``step``: ``model`` and the permanent
        ``model_<step>``."""
        names = []
        if self.checkpoint_at(step):
            names.append(MODEL)
        if self.permanent_checkpoint_at(step):
            names.append(permanent_basename(step))
        return names

    def best(self, step, history):
        """Basenames of the best-metric checkpoints due at ``step``, once
        its evals are in ``history``."""
        if not self.checkpoint_at(step):
            return []
        names = []
        if self.low_metric is not None and at_lowest(history,
                                                     self.low_metric):
            names.append(f"lowest_{self.low_metric}")
        if self.high_metric is not None and at_highest(history,
                                                       self.high_metric):
            names.append(f"highest_{self.high_metric}")
        return names


def _eval_values(history, metric):
    return [float(value) for _, value in
            history.get("eval", f"metrics/{metric}")]


def at_lowest(history, metric):
    """Whether the newest eval value of ``metric`` is its lowest so far
    (False before the first eval)."""
    values = _eval_values(history, metric)
    return bool(values) and values[-1] == min(values)


def at_highest(history, metric):
    values = _eval_values(history, metric)
    return bool(values) and values[-1] == max(values)
