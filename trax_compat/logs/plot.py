"""Draws both runs' curves, one panel per metric, into a PNG (matplotlib).

matplotlib is an optional dependency (the ``plot`` extra). It is imported
only here, with the non-interactive Agg backend, so the command works
without a display.
"""

import math
import os

from trax_compat.logs import parse

INSTALL_HINT = 'pip install "trax-compat[plot]"'


class PlotUnavailableError(parse.LogError):
    """matplotlib cannot be imported."""


def load_pyplot():
    """Returns ``matplotlib.pyplot`` on the Agg backend; raises
    PlotUnavailableError (telling how to install it) without matplotlib."""
    try:
        import matplotlib  # pylint: disable=g-import-not-at-top
        matplotlib.use("Agg", force=True)
        from matplotlib import pyplot  # pylint: disable=g-import-not-at-top
    except ImportError as e:
        why = ("is not installed" if e.name == "matplotlib"
               else f"does not import ({e})")
        raise PlotUnavailableError(
            f"--plot needs matplotlib, which {why}: {INSTALL_HINT}") from None
    return pyplot


# Distinct colours and line styles, readable in greyscale too.
STYLE_A = {"color": "#1f77b4", "linestyle": "-", "marker": "o"}
STYLE_B = {"color": "#ff7f0e", "linestyle": "--", "marker": "x"}


def _panel_keys(comparison):
    """Shared metrics first, then those of only one log."""
    c = comparison
    shared = [k for k in c.log_a.values if k in c.log_b.values]
    return shared + list(c.metrics_only_a) + list(c.metrics_only_b)


def _series(log, key):
    points = sorted((s, v) for s, v in log.values.get(key, {}).items()
                    if not math.isnan(v))
    return [s for s, _ in points], [v for _, v in points]


def _title(comparison, key):
    title = f"{key[0]} {key[1]}".strip()
    if key in comparison.metrics_only_a:
        return title + " (only in A)"
    if key in comparison.metrics_only_b:
        return title + " (only in B)"
    diffs = [r.abs_diff for r in comparison.shared_rows
             if (r.mode, r.name) == key]
    if diffs:
        worst = max(diffs, key=lambda d: math.inf if math.isnan(d) else d)
        title += f"\nmax |B - A| = {worst:.3g}"
    return title


def plot_comparison(comparison, path, dpi=100):
    """Writes the plot to ``path`` (format from its extension, e.g. .png);
    returns the number of panels. Raises LogError when nothing can be
    drawn or the file cannot be written, PlotUnavailableError (a LogError)
    without matplotlib."""
    plt = load_pyplot()
    keys = _panel_keys(comparison)
    if not keys:
        raise parse.LogError("nothing to plot: no metric in either log")
    n_cols = 1 if len(keys) == 1 else 2
    n_rows = math.ceil(len(keys) / n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, squeeze=False,
                             figsize=(6.4 * n_cols, 3.8 * n_rows))
    label_a = f"A: {comparison.label_a}"
    label_b = f"B: {comparison.label_b}"
    try:
        for ax, key in zip(axes.flat, keys):
            mode, name = key
            for log, label, style in ((comparison.log_a, label_a, STYLE_A),
                                      (comparison.log_b, label_b, STYLE_B)):
                steps, values = _series(log, key)
                if steps:
                    ax.plot(steps, values, label=label, linewidth=2,
                            markersize=6, **style)
            ax.set_title(_title(comparison, key), fontsize=11)
            ax.set_xlabel("step")
            ax.set_ylabel("value")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=9, loc="best")
        for ax in list(axes.flat)[len(keys):]:
            ax.set_visible(False)
        fig.suptitle(f"{comparison.label_a} vs {comparison.label_b}",
                     fontsize=13)
        fig.tight_layout()
        try:
            fig.savefig(os.fspath(path), dpi=dpi)
        except (OSError, ValueError) as e:
            raise parse.LogError(f"cannot write the plot {path}: {e}") from None
    finally:
        plt.close(fig)
    return len(keys)
