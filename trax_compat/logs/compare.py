"""Lines two training logs up: per step and metric, timings, a verdict.

Log A is the reference (typically the Trax run), B the run compared to it:

* ``abs_diff = |b - a|``; ``rel_diff = |b - a| / |a|`` (``inf`` when a = 0
  and b differs);
* two NaNs count as equal, as do two infinities of the same sign;
* a value is within tolerance when ``abs_diff <= atol + rtol * |a|``
  (numpy.isclose's rule with A as the reference).
"""

import dataclasses
import math

from trax_compat.logs import parse


@dataclasses.dataclass
class Row:
    """One (step, metric) of the table; ``a``/``b`` are None when absent."""
    step: int
    mode: str
    name: str
    a: float = None
    b: float = None
    abs_diff: float = None
    rel_diff: float = None
    within: bool = None  # None: no check asked for, or a value is missing

    @property
    def shared(self):
        return self.a is not None and self.b is not None

    @property
    def where(self):
        return "only in A" if self.b is None else (
            "only in B" if self.a is None else "both")

    @property
    def metric(self):
        return f"{self.mode} {self.name}".strip()


@dataclasses.dataclass
class TimingRow:
    step: int
    a: parse.Timing = None
    b: parse.Timing = None

    @property
    def speed_ratio(self):
        """B's steps per second over A's (> 1: B is faster)."""
        if self.a is None or self.b is None:
            return None
        return _ratio(self.b.steps_per_sec, self.a.steps_per_sec)


@dataclasses.dataclass
class Speed:
    """Overall steps per second of each log and their ratio (B / A)."""
    a: float
    b: float
    ratio: float
    skipped_first: bool  # the first block (with JIT compilation) left out
    # (on both sides; only when both logs have more than one block)


@dataclasses.dataclass
class Comparison:
    log_a: parse.RunLog
    log_b: parse.RunLog
    label_a: str
    label_b: str
    rows: list
    timings: list
    speed: Speed
    metrics_only_a: list
    metrics_only_b: list
    atol: float = None
    rtol: float = None
    require_same_steps: bool = False

    @property
    def checked(self):
        return self.atol is not None or self.rtol is not None

    @property
    def shared_rows(self):
        return [r for r in self.rows if r.shared]

    @property
    def steps_only_a(self):
        return _steps_only(self.rows, "only in A")

    @property
    def steps_only_b(self):
        return _steps_only(self.rows, "only in B")

    @property
    def largest(self):
        """The shared row with the largest absolute difference (NaN against
        a number counts as the largest), or None."""
        shared = self.shared_rows
        if not shared:
            return None
        return max(shared, key=lambda r: (_sort_key(r.abs_diff),
                                          _sort_key(r.rel_diff)))

    @property
    def failures(self):
        """Rows that fail the check (empty when no check was asked for)."""
        if not self.checked:
            return []
        failed = [r for r in self.rows if r.within is False]
        if self.require_same_steps:
            failed += [r for r in self.rows if not r.shared]
        return failed

    @property
    def passed(self):
        return self.checked and bool(self.shared_rows) and not self.failures

    @property
    def mixed_precision(self):
        """True when shared series come from a text log on one side and
        float32 event files on the other (differences ~1e-8 are expected)."""
        keys = set(self.log_a.values) & set(self.log_b.values)
        return any(self.log_a.precision.get(k) != self.log_b.precision.get(k)
                   for k in keys)


def _steps_only(rows, where):
    return sorted({r.step for r in rows if r.where == where})


def _sort_key(value):
    if value is None:
        return -1.0
    return math.inf if math.isnan(value) else value


def _ratio(numerator, denominator):
    if denominator == 0 or math.isnan(denominator) or math.isnan(numerator):
        return math.nan
    if math.isinf(denominator):
        return math.nan if math.isinf(numerator) else 0.0
    return numerator / denominator


def _same(a, b):
    return a == b or (math.isnan(a) and math.isnan(b))


def differences(a, b):
    """``(abs_diff, rel_diff)`` of B against the reference A."""
    if _same(a, b):
        return 0.0, 0.0
    if math.isnan(a) or math.isnan(b):
        return math.nan, math.nan
    abs_diff = abs(b - a)  # inf when either is infinite (equal infs: above)
    if a == 0 or math.isinf(a):
        return abs_diff, math.inf
    return abs_diff, abs_diff / abs(a)


def within_tolerance(a, b, atol=0.0, rtol=0.0):
    if _same(a, b):
        return True
    abs_diff, _ = differences(a, b)
    if not math.isfinite(abs_diff):
        return False
    return abs_diff <= atol + rtol * abs(a)


def _metric_keys(log_a, log_b):
    """Metric keys in first-seen order: A's, then B's new ones."""
    keys = list(log_a.values)
    keys += [k for k in log_b.values if k not in log_a.values]
    return keys


def _overall_speed(log, skip_first):
    """Steps per second over the timed blocks, optionally without the first
    (which holds JIT compilation)."""
    blocks = [log.timings[s] for s in sorted(log.timings)]
    if skip_first:
        blocks = blocks[1:]
    if not blocks:
        return None
    steps = sum(t.n_steps for t in blocks)
    secs = sum(t.secs for t in blocks)
    if secs <= 0:
        return math.inf if steps else math.nan
    return steps / secs


def compare(log_a, log_b, label_a="A", label_b="B", atol=None, rtol=None,
            require_same_steps=False):
    """Compares two RunLogs; ``atol``/``rtol`` (either one) turn on the check
    (the other defaults to 0)."""
    checked = atol is not None or rtol is not None
    atol_, rtol_ = atol or 0.0, rtol or 0.0
    rows = []
    keys = _metric_keys(log_a, log_b)
    shared_keys = [k for k in keys if k in log_a.values and k in log_b.values]
    for step in sorted(set(log_a.steps) | set(log_b.steps)):
        for key in shared_keys:
            a = log_a.values[key].get(step)
            b = log_b.values[key].get(step)
            if a is None and b is None:
                continue
            row = Row(step, key[0], key[1], a, b)
            if row.shared:
                row.abs_diff, row.rel_diff = differences(a, b)
                if checked:
                    row.within = within_tolerance(a, b, atol_, rtol_)
            rows.append(row)
    timings = [TimingRow(step, log_a.timings.get(step),
                         log_b.timings.get(step))
               for step in sorted(set(log_a.timings) | set(log_b.timings))]
    # Leave the first block out on both sides, or on neither.
    skip = len(log_a.timings) > 1 and len(log_b.timings) > 1
    speed_a = _overall_speed(log_a, skip)
    speed_b = _overall_speed(log_b, skip)
    speed = None
    if speed_a is not None and speed_b is not None:
        speed = Speed(speed_a, speed_b, _ratio(speed_b, speed_a), skip)
    return Comparison(
        log_a=log_a, log_b=log_b, label_a=label_a, label_b=label_b,
        rows=rows, timings=timings, speed=speed,
        metrics_only_a=[k for k in keys if k not in log_b.values],
        metrics_only_b=[k for k in keys if k not in log_a.values],
        atol=(atol_ if checked else None), rtol=(rtol_ if checked else None),
        require_same_steps=require_same_steps)
