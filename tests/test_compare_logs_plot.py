"""``compare-logs --plot``: the PNG holds both runs' curves."""

import numpy as np
import pytest

from tests.conftest import ORACLE
from trax_compat import cli
from trax_compat import logs
from trax_compat.logs import compare
from trax_compat.logs import plot

STDOUT = ORACLE / "trax_run_dev" / "stdout.txt"


def _colour_pixels(image, hex_colour, tol=0.08):
    rgb = np.array([int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    return int((np.abs(image[..., :3] - rgb).max(axis=-1) < tol).sum())


def test_plot_of_two_runs(tmp_path, capsys):
    text = STDOUT.read_text(encoding="utf-8")
    perturbed = tmp_path / "ours.txt"
    perturbed.write_text(text.replace("|  0.85500000", "|  0.80500000"),
                         encoding="utf-8")
    out = tmp_path / "curves.png"
    status = cli.main(["compare-logs", str(STDOUT), str(perturbed),
                       "--plot", str(out), "--labels", "trax", "ours"])
    assert status == 0
    assert f"Wrote {out} (3 panels)" in capsys.readouterr().err

    import matplotlib.image
    image = matplotlib.image.imread(str(out))
    # 3 panels on a 2 x 2 grid of 6.4 x 3.8 inch panels at 100 dpi
    assert image.shape[:2] == (760, 1280)
    assert image[..., :3].std() > 0.05  # not blank
    # both curves are drawn, in their own colours
    assert _colour_pixels(image, plot.STYLE_A["color"]) > 500
    assert _colour_pixels(image, plot.STYLE_B["color"]) > 500
    # the fourth grid cell stays empty (white)
    assert image[400:740, 660:1260, :3].min() > 0.99


def test_plot_panels_and_errors(tmp_path):
    a = logs.parse_step_log("Step 1: train Loss |  1.0\n"
                            "Step 2: train Loss |  0.5\n")
    b = logs.parse_step_log("Step 1: train Loss |  1.0\n"
                            "Step 1: eval Acc |  0.5\n")
    c = compare.compare(a, b)
    out = tmp_path / "p.png"
    assert plot.plot_comparison(c, out) == 2
    assert plot._title(c, ("eval", "Acc")) == "eval Acc (only in B)"
    assert plot._title(c, ("train", "Loss")).endswith("max |B - A| = 0")
    with pytest.raises(logs.LogError, match="cannot write the plot"):
        plot.plot_comparison(c, tmp_path / "missing" / "p.png")
