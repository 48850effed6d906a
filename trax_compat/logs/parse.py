"""Reads Trax step logs (``Step      N: ...`` lines) out of noisy text.

Trax prints its training log as lines such as::

    Step      1: Total number of trainable weights: 2097666
    Step      1: Ran 1 train steps in 0.58 secs
    Step      1: train WeightedCategoryCrossEntropy |  0.72056681
    Step      1: eval      WeightedCategoryAccuracy |  0.47500001

Captured stdout usually holds more than that: warnings, absl-prefixed log
lines, progress bars redrawn with ``\\r``, the user's own prints, Windows line
endings. The parser looks for ``Step N:`` anywhere in a line (after splitting
on ``\\n``, ``\\r\\n`` and ``\\r``) and ignores every line it cannot read.
"""

import dataclasses
import math
import re

# "Step" + the step number, anywhere in the line (absl prefixes etc. before).
_STEP_RE = re.compile(r"Step\s+(\d+):\s(.*)$")
# "<mode> <name> | <value>": Trax formats the value with "% .8f".
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)"
# Text glued on after the value by an interleaved write (a progress bar
# without a newline) is ignored when a blank separates it.
_SCALAR_RE = re.compile(r"^(.*?)\s\|\s*(" + _NUMBER + r")(?:\s.*)?$",
                        re.IGNORECASE)
_RAN_RE = re.compile(
    r"^Ran\s+(\d+)\s+train\s+steps\s+in\s+(" + _NUMBER + r")\s+secs\b",
    re.IGNORECASE)
_WEIGHTS_RE = re.compile(r"^Total number of trainable weights:\s*(\d+)\s*$")

# Text logs print values with "% .8f": they are known to 8 decimals.
TEXT_PRECISION = "8 decimals"
EVENT_PRECISION = "float32"


class LogError(ValueError):
    """The input cannot be used as a training log (unreadable, no entries)."""


@dataclasses.dataclass(frozen=True)
class Timing:
    """One ``Ran N train steps in X secs`` line."""
    n_steps: int
    secs: float

    @property
    def steps_per_sec(self):
        if self.secs > 0:
            return self.n_steps / self.secs
        return math.inf if self.n_steps else math.nan


@dataclasses.dataclass
class RunLog:
    """What one training log says.

    Attributes:
      source: where it was read from (path or description).
      kind: ``"step log"``, ``"event files"`` or both joined by ``" + "``.
      values: ``(mode, name) -> {step: value}``; keys in first-seen order.
      timings: ``step -> Timing``.
      n_weights: from ``Total number of trainable weights``, if printed.
      precision: ``(mode, name) -> TEXT_PRECISION | EVENT_PRECISION``.
      n_lines: number of step-log lines read (0 for event files).
      n_replaced: values overwritten by a later block of the same step (a
        resumed run appending to the same log).
    """
    source: str
    kind: str = "step log"
    values: dict = dataclasses.field(default_factory=dict)
    timings: dict = dataclasses.field(default_factory=dict)
    n_weights: int = None
    precision: dict = dataclasses.field(default_factory=dict)
    n_lines: int = 0
    n_replaced: int = 0

    def add(self, step, mode, name, value, precision):
        series = self.values.setdefault((mode, name), {})
        if step in series:
            self.n_replaced += 1
        series[step] = value
        self.precision[(mode, name)] = precision

    @property
    def steps(self):
        steps = set(self.timings)
        for series in self.values.values():
            steps.update(series)
        return sorted(steps)

    def is_empty(self):
        return not self.values and not self.timings


def parse_number(text):
    return float(text)  # float() reads "nan", "inf", "-inf" too.


def _split_scalar(body):
    """``"eval      WeightedCategoryAccuracy"`` -> ``("eval", "Weighted...")``.

    Trax writes ``mode.ljust(5) + " " + name.rjust(width)``; an empty mode
    leaves the line starting with blanks.
    """
    if not body.strip():
        return None
    if body[:1].isspace():
        return "", body.strip()
    mode, _, name = body.partition(" ")
    name = name.strip()
    if not name:  # "Step 1: | 0.5"-like lines carry no metric name.
        return None
    return mode, name


def parse_step_log(text, source="<text>"):
    """Parses every readable Trax step-log line of ``text`` into a RunLog.

    Lines of one step's block that repeat a ``(mode, name)`` (two eval tasks
    with the same metric names) get a `` #2``, `` #3``... suffix; a later
    block of the same step (a resumed run appending) replaces the values.
    """
    log = RunLog(source=source, kind="step log")
    block_step, block_keys = None, {}
    for line in text.splitlines():
        match = _STEP_RE.search(line)
        if not match:
            continue
        step, rest = int(match.group(1)), match.group(2).rstrip()
        if step != block_step:
            block_step, block_keys = step, {}
        ran = _RAN_RE.match(rest)
        if ran:
            log.timings[step] = Timing(int(ran.group(1)),
                                       parse_number(ran.group(2)))
            log.n_lines += 1
            continue
        weights = _WEIGHTS_RE.match(rest)
        if weights:
            log.n_weights = int(weights.group(1))
            log.n_lines += 1
            continue
        scalar = _SCALAR_RE.match(rest)
        if not scalar:
            continue
        key = _split_scalar(scalar.group(1))
        if key is None:
            continue
        count = block_keys.get(key, 0) + 1
        block_keys[key] = count
        mode, name = key
        if count > 1:
            name = f"{name} #{count}"
        log.add(step, mode, name, parse_number(scalar.group(2)),
                TEXT_PRECISION)
        log.n_lines += 1
    return log


def read_step_log(path):
    """Reads a text file holding a Trax step log (or a capture with one)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise LogError(f"cannot read {path}: {e.strerror or e}") from None
    # Captures may hold stray bytes (progress bars, other encodings).
    text = raw.decode("utf-8", errors="replace").lstrip("\ufeff")
    log = parse_step_log(text, source=str(path))
    if log.is_empty():
        what = "empty" if not raw.strip() else "not a Trax step log"
        raise LogError(
            f"{path}: no Trax step log lines found ({what}); expected lines "
            f"like 'Step      1: train WeightedCategoryCrossEntropy |  "
            f"0.72056681'")
    return log
