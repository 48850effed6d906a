"""``compare-logs --plot`` without matplotlib (the optional ``plot`` extra):
one line saying what to install, exit status 2, no traceback."""

import os
import subprocess
import sys

import pytest

from tests.conftest import ORACLE
from tests.conftest import REPO
from trax_compat import cli
from trax_compat import logs
from trax_compat.logs import compare
from trax_compat.logs import plot

STDOUT = ORACLE / "trax_run_dev" / "stdout.txt"
HINT = 'pip install "trax-compat[plot]"'


def _hide_matplotlib(monkeypatch):
    for name in [m for m in sys.modules
                 if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)


def test_plot_without_matplotlib_says_what_to_install(
        tmp_path, monkeypatch, capsys):
    _hide_matplotlib(monkeypatch)
    out = tmp_path / "curves.png"
    status = cli.main(["compare-logs", str(STDOUT), str(STDOUT),
                       "--plot", str(out)])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""  # nothing printed before the error
    [line] = captured.err.splitlines()
    assert line.startswith("trax-compat compare-logs: error: ")
    assert "matplotlib" in line and line.endswith(HINT)
    assert not out.exists()


def test_plot_comparison_without_matplotlib_raises_log_error(
        tmp_path, monkeypatch):
    _hide_matplotlib(monkeypatch)
    log = logs.parse_step_log("Step 1: train Loss |  1.0\n")
    with pytest.raises(logs.LogError, match=HINT.replace("[", r"\[")):
        plot.plot_comparison(compare.compare(log, log), tmp_path / "p.png")


def test_command_line_without_matplotlib_exits_2_without_traceback(
        tmp_path):
    # A sitecustomize that makes matplotlib unimportable in the child.
    (tmp_path / "sitecustomize.py").write_text(
        "import sys\nsys.modules['matplotlib'] = None\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(tmp_path), str(REPO)]))
    out = tmp_path / "curves.png"
    proc = subprocess.run(
        [sys.executable, "-m", "trax_compat", "compare-logs", str(STDOUT),
         str(STDOUT), "--plot", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    [line] = proc.stderr.splitlines()
    assert line.endswith(HINT)
    assert not out.exists()
