"""Renders a :class:`~trax_compat.logs.compare.Comparison` as text,
markdown, CSV or JSON."""

import csv
import io
import json
import math

FORMATS = ("text", "markdown", "csv", "json")

_METRIC_HEADERS = ("step", "mode", "metric", "A", "B", "abs diff",
                   "rel diff", "note")
_TIMING_HEADERS = ("step", "A steps", "A secs", "A steps/s", "B steps",
                   "B secs", "B steps/s", "speed B/A")


def render(comparison, fmt="text"):
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {FORMATS}")
    return {"text": render_text, "markdown": render_markdown,
            "csv": render_csv, "json": render_json}[fmt](comparison)


# -- numbers -------------------------------------------------------------------

def _value(x):
    if x is None:
        return "-"
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return "%.8f" % x  # Trax's own precision


def _diff(x):
    if x is None:
        return "-"
    if x == 0:
        return "0"
    if math.isnan(x) or math.isinf(x):
        return _value(x)
    return "%.3e" % x


def _rate(x):
    if x is None:
        return "-"
    if math.isnan(x) or math.isinf(x):
        return _value(x)
    return "%.2f" % x


def _tol(x):
    return "%g" % x


def _steps(steps, limit=12):
    if not steps:
        return "none"
    text = ", ".join(str(s) for s in steps[:limit])
    return text + (f", ... ({len(steps)} in all)" if len(steps) > limit
                   else "")


# -- lines shared by text and markdown -----------------------------------------

def _note(row, comparison):
    if not row.shared:
        return row.where
    if row.within is False:
        return "OUTSIDE TOLERANCE"
    return ""


def _metric_cells(comparison):
    return [(str(r.step), r.mode, r.name, _value(r.a), _value(r.b),
             _diff(r.abs_diff), _diff(r.rel_diff), _note(r, comparison))
            for r in comparison.rows]


def _timing_cells(comparison):
    cells = []
    for t in comparison.timings:
        a, b = t.a, t.b
        cells.append((
            str(t.step),
            "-" if a is None else str(a.n_steps),
            "-" if a is None else "%.2f" % a.secs,
            "-" if a is None else _rate(a.steps_per_sec),
            "-" if b is None else str(b.n_steps),
            "-" if b is None else "%.2f" % b.secs,
            "-" if b is None else _rate(b.steps_per_sec),
            "-" if t.speed_ratio is None else _rate(t.speed_ratio) + "x"))
    return cells


def describe(log):
    """``"step log, 4 steps, 12 values"``."""
    n_values = sum(len(s) for s in log.values.values())
    n_steps = len(log.steps)
    parts = [log.kind, f"{n_steps} step{'s' * (n_steps != 1)}",
             f"{n_values} value{'s' * (n_values != 1)}"]
    if log.n_weights is not None:
        parts.append(f"{log.n_weights} trainable weights")
    return ", ".join(parts)


def header_lines(comparison):
    c = comparison
    lines = []
    for name, label, log in (("A", c.label_a, c.log_a),
                             ("B", c.label_b, c.log_b)):
        # The label is shown only when it says more than the path does.
        shown = "" if label and label in log.source else f" ({label})"
        lines.append(f"{name}{shown}: {log.source} [{describe(log)}]")
    return lines


def speed_line(comparison):
    s = comparison.speed
    if s is None:
        return "Speed: not compared (a log has no 'Ran N train steps' lines)"
    note = ("; first block left out, it includes JIT compilation"
            if s.skipped_first else
            "; first blocks included, a log has only one timed block")
    return (f"Speed: B ran at {_rate(s.ratio)}x A's speed "
            f"(A {_rate(s.a)} steps/s, B {_rate(s.b)} steps/s{note})")


def summary_line(comparison):
    """One line: the largest difference and where, plus what is missing."""
    c = comparison
    shared = c.shared_rows
    if not shared:
        head = "no metric value is in both logs"
    else:
        big = c.largest
        if big.abs_diff == 0:
            head = (f"largest difference 0: all {len(shared)} shared values "
                    f"are identical")
        else:
            head = (f"largest difference {_diff(big.abs_diff)} (rel "
                    f"{_diff(big.rel_diff)}) at step {big.step}, "
                    f"{big.metric}: A {_value(big.a)}, B {_value(big.b)}; "
                    f"{len(shared)} shared values")
    return (f"Summary: {head}; steps only in A: {_steps(c.steps_only_a)}; "
            f"only in B: {_steps(c.steps_only_b)}")


def verdict_line(comparison):
    """``PASS``/``FAIL`` line of the check, or None without a check."""
    c = comparison
    if not c.checked:
        return None
    tol = f"atol={_tol(c.atol)}, rtol={_tol(c.rtol)}"
    shared = c.shared_rows
    if not shared:
        return "FAIL: nothing to check, the logs share no metric values"
    outside = [r for r in c.rows if r.within is False]
    missing = [r for r in c.rows if not r.shared]
    if not c.failures:
        return f"PASS: all {len(shared)} shared values within {tol}"
    parts = []
    if outside:
        worst = max(outside, key=lambda r: (
            math.inf if math.isnan(r.abs_diff) else r.abs_diff))
        parts.append(
            f"{len(outside)} of {len(shared)} shared values outside {tol} "
            f"(worst: step {worst.step}, {worst.metric}: A {_value(worst.a)}"
            f", B {_value(worst.b)})")
    if c.require_same_steps and missing:
        parts.append(f"{len(missing)} values logged in only one log")
    return "FAIL: " + "; ".join(parts)


def note_lines(comparison):
    c = comparison
    notes = []
    for label, keys in (("A", c.metrics_only_a), ("B", c.metrics_only_b)):
        if keys:
            names = ", ".join(f"{m} {n}".strip() for m, n in keys)
            notes.append(f"Metrics only in {label} (not compared): {names}")
    if c.mixed_precision:
        notes.append(
            "Note: one log is a text step log (8 decimals), the other float32 "
            "event files; differences up to ~1e-7 relative come from that "
            "alone (use --rtol 1e-6 or more)")
    for label, log in (("A", c.log_a), ("B", c.log_b)):
        if log.n_replaced:
            notes.append(f"Note: {label} logs {log.n_replaced} values more "
                         f"than once (a resumed run?); the last ones are used")
    return notes


# -- text ----------------------------------------------------------------------

def _text_table(headers, cells, left=()):
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(x)) for w, x in zip(widths, row)]

    def line(row):
        out = [x.ljust(w) if i in left else x.rjust(w)
               for i, (x, w) in enumerate(zip(row, widths))]
        return "  ".join(out).rstrip()

    return [line(headers)] + [line(row) for row in cells]


def render_text(comparison):
    lines = header_lines(comparison) + [""]
    if comparison.rows:
        lines += _text_table(_METRIC_HEADERS, _metric_cells(comparison),
                             left={1, 2, 7})
    else:
        lines.append("(no metric logged by both)")
    if comparison.timings:
        lines += ["", "Timings ('Ran N train steps in X secs'):"]
        lines += _text_table(_TIMING_HEADERS, _timing_cells(comparison))
    lines += [""] + note_lines(comparison)
    lines += [speed_line(comparison), summary_line(comparison)]
    verdict = verdict_line(comparison)
    if verdict:
        lines.append(verdict)
    return "\n".join(lines) + "\n"


# -- markdown ------------------------------------------------------------------

def _md_escape(text):
    return text.replace("|", "\\|")


def _md_table(headers, cells):
    out = ["| " + " | ".join(headers) + " |",
           "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(_md_escape(x) for x in row) + " |"
            for row in cells]
    return out


def render_markdown(comparison):
    lines = ["## Training log comparison", ""]
    lines += [f"* {_md_escape(x)}" for x in header_lines(comparison)]
    lines += ["", "### Metrics", ""]
    if comparison.rows:
        lines += _md_table(_METRIC_HEADERS, _metric_cells(comparison))
    else:
        lines.append("No metric is logged by both.")
    if comparison.timings:
        lines += ["", "### Timings", ""]
        lines += _md_table(_TIMING_HEADERS, _timing_cells(comparison))
    lines += ["", "### Summary", ""]
    extra = note_lines(comparison) + [speed_line(comparison),
                                      summary_line(comparison)]
    verdict = verdict_line(comparison)
    if verdict:
        extra.append(f"**{verdict}**")
    lines += [f"* {x}" for x in extra]
    return "\n".join(lines) + "\n"


# -- csv -----------------------------------------------------------------------

def _raw(x):
    if x is None:
        return ""
    return repr(float(x))


def render_csv(comparison):
    """One row per (step, metric), full-precision values."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["step", "mode", "metric", "a", "b", "abs_diff",
                     "rel_diff", "where", "within_tolerance"])
    for r in comparison.rows:
        writer.writerow([r.step, r.mode, r.name, _raw(r.a), _raw(r.b),
                         _raw(r.abs_diff), _raw(r.rel_diff), r.where,
                         "" if r.within is None else str(r.within).lower()])
    return out.getvalue()


# -- json ----------------------------------------------------------------------

def _json_number(x):
    """Floats as JSON numbers; NaN/inf as strings (JSON has none)."""
    if x is None:
        return None
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def _timing_json(t):
    if t is None:
        return None
    return {"n_steps": t.n_steps, "secs": _json_number(t.secs),
            "steps_per_sec": _json_number(t.steps_per_sec)}


def to_dict(comparison):
    c = comparison
    largest = c.largest
    speed = c.speed
    return {
        "a": {"label": c.label_a, "source": c.log_a.source,
              "kind": c.log_a.kind, "n_weights": c.log_a.n_weights},
        "b": {"label": c.label_b, "source": c.log_b.source,
              "kind": c.log_b.kind, "n_weights": c.log_b.n_weights},
        "rows": [{"step": r.step, "mode": r.mode, "metric": r.name,
                  "a": _json_number(r.a), "b": _json_number(r.b),
                  "abs_diff": _json_number(r.abs_diff),
                  "rel_diff": _json_number(r.rel_diff), "where": r.where,
                  "within_tolerance": r.within} for r in c.rows],
        "timings": [{"step": t.step, "a": _timing_json(t.a),
                     "b": _timing_json(t.b),
                     "speed_ratio": _json_number(t.speed_ratio)}
                    for t in c.timings],
        "speed": None if speed is None else {
            "a_steps_per_sec": _json_number(speed.a),
            "b_steps_per_sec": _json_number(speed.b),
            "ratio": _json_number(speed.ratio),
            "first_block_skipped": speed.skipped_first},
        "largest_difference": None if largest is None else {
            "step": largest.step, "mode": largest.mode,
            "metric": largest.name, "a": _json_number(largest.a),
            "b": _json_number(largest.b),
            "abs_diff": _json_number(largest.abs_diff),
            "rel_diff": _json_number(largest.rel_diff)},
        "n_shared_values": len(c.shared_rows),
        "steps_only_in_a": c.steps_only_a,
        "steps_only_in_b": c.steps_only_b,
        "metrics_only_in_a": [list(k) for k in c.metrics_only_a],
        "metrics_only_in_b": [list(k) for k in c.metrics_only_b],
        "notes": note_lines(c),
        "summary": summary_line(c),
        "check": None if not c.checked else {
            "atol": c.atol, "rtol": c.rtol,
            "require_same_steps": c.require_same_steps,
            "passed": c.passed, "verdict": verdict_line(c),
            "n_failures": len(c.failures)},
    }


def render_json(comparison):
    return json.dumps(to_dict(comparison), indent=2, allow_nan=False) + "\n"
