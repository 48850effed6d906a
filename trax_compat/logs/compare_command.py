"""``trax-compat compare-logs A B``: two training logs side by side.

Exit status: 0 when the comparison was made (and, with ``--atol``/``--rtol``,
every shared value is within tolerance); 1 when the check fails; 2 when an
input is unusable (missing, unreadable, no Trax log in it).
"""

import argparse
import os
import sys

from trax_compat import logs
from trax_compat.logs import compare
from trax_compat.logs import render

EXIT_OK, EXIT_DIFFERENT, EXIT_UNUSABLE = 0, 1, 2

_EPILOG = """\
A and B are each one of: a Trax step log (captured stdout, noise is
ignored), a log.txt the Loop writes, a TensorBoard event file, or an
output_dir (ours or real Trax's; read from its train/ and eval/ event files
and its log.txt). A is the reference: rel diff = |B - A| / |A|, and a value
is within tolerance when |B - A| <= atol + rtol * |A|.

exit status: 0 compared (and within tolerance when --atol/--rtol is given),
1 outside tolerance, 2 unusable input.
"""


def _tolerance(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:  # also rejects nan
        raise argparse.ArgumentTypeError(f"must be >= 0: {text!r}")
    return value


def add_arguments(parser):
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _EPILOG
    parser.add_argument("a", metavar="A",
                        help="reference log (e.g. the Trax run)")
    parser.add_argument("b", metavar="B", help="log compared to A")
    parser.add_argument("--atol", type=_tolerance,
                        help="absolute tolerance; turns on the check")
    parser.add_argument("--rtol", type=_tolerance,
                        help="relative tolerance (to |A|); turns on the "
                        "check")
    parser.add_argument("--require-same-steps", action="store_true",
                        help="with --atol/--rtol: a value logged in only one "
                        "log also fails the check")
    parser.add_argument("--format", choices=render.FORMATS, default="text",
                        help="output format (default text)")
    parser.add_argument("--plot", metavar="FILE.png",
                        help="draw both runs' curves, one panel per metric")
    parser.add_argument("--labels", nargs=2, metavar=("LABEL_A", "LABEL_B"),
                        help="names of the runs in the output (default: the "
                        "file or folder names)")


def default_label(path):
    name = os.path.basename(os.path.normpath(os.fspath(path)))
    return name or os.fspath(path)


def _error(message):
    print(f"trax-compat compare-logs: error: {message}", file=sys.stderr)
    return EXIT_UNUSABLE


def exit_status(comparison):
    """0, 1 or 2 (check asked for but nothing to check)."""
    if not comparison.checked:
        return EXIT_OK
    if not comparison.shared_rows:
        return EXIT_UNUSABLE
    return EXIT_OK if comparison.passed else EXIT_DIFFERENT


def run(args):
    if args.plot:
        # Before any output: without matplotlib, one line says what to
        # install.
        from trax_compat.logs import plot  # pylint: disable=g-import-not-at-top
        try:
            plot.load_pyplot()
        except plot.PlotUnavailableError as e:
            return _error(str(e))
    try:
        log_a = logs.load_log(args.a)
        log_b = logs.load_log(args.b)
    except logs.LogError as e:
        return _error(str(e))
    label_a, label_b = args.labels or (default_label(args.a),
                                       default_label(args.b))
    comparison = compare.compare(log_a, log_b, label_a, label_b,
                                 atol=args.atol, rtol=args.rtol,
                                 require_same_steps=args.require_same_steps)
    sys.stdout.write(render.render(comparison, args.format))
    sys.stdout.flush()
    if args.plot:
        from trax_compat.logs import plot  # pylint: disable=g-import-not-at-top
        try:
            n = plot.plot_comparison(comparison, args.plot)
        except logs.LogError as e:
            return _error(str(e))
        # Keep machine-readable formats clean: report on stderr.
        print(f"Wrote {args.plot} ({n} panels)", file=sys.stderr)
    status = exit_status(comparison)
    if status == EXIT_UNUSABLE:
        return _error(f"{args.a} and {args.b} share no metric values; "
                      f"nothing to check (metrics of A: "
                      f"{_names(log_a)}; of B: {_names(log_b)})")
    return status


def _names(log):
    return ", ".join(f"{m} {n}".strip() for m, n in log.values) or "none"


def compare_with_step_log(reference_path, step_log_text, label_b="this run",
                          stream=None):
    """Prints ``reference_path`` (A) compared with a captured step log (B);
    what ``python -m train.sentiment --compare-with`` does. Returns the
    Comparison, or None (after printing why) when a log is unusable."""
    stream = stream or sys.stdout
    try:
        log_a = logs.load_log(reference_path)
        log_b = logs.parse_step_log(step_log_text, source=label_b)
        if log_b.is_empty():
            raise logs.LogError("this run printed no Trax step log lines")
    except logs.LogError as e:
        print(f"Cannot compare with {reference_path}: {e}", file=stream)
        return None
    comparison = compare.compare(log_a, log_b,
                                 default_label(reference_path), label_b)
    print(f"\nComparison with {reference_path}:", file=stream)
    stream.write(render.render_text(comparison))
    stream.flush()
    return comparison
