"""Importing trax_compat's step log leaves ``clu.metric_writers`` as it is
for other code: ``import clu.metric_writers.interface`` behaves exactly as
in a process without trax_compat, with and without TensorFlow."""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import REPO
from trax_compat.supervised import step_log

TF_INSTALLED = importlib.util.find_spec("tensorflow") is not None
NO_TF_REASON = ('TensorFlow is not installed (it comes with the [tfds] '
                'extra: pip install "trax-compat[tfds]")')

# What `import clu.metric_writers.interface` does, printed as JSON.
_IMPORT_CLU = textwrap.dedent("""
    before = sorted(m for m in sys.modules if m.startswith("clu."))
    try:
        import clu.metric_writers.interface
        outcome = {"ok": clu.metric_writers.interface.__name__,
                   "has_writer": hasattr(clu.metric_writers.interface,
                                         "MetricWriter")}
    except Exception as e:
        outcome = {"error": type(e).__name__, "message": str(e)}
    outcome["clu_modules_before"] = before
""")


def _probe(setup="", check="", first_on_path=None, hide_tensorflow=False):
    """Runs ``setup``, then the import of CLU's interface, then ``check``
    (which may add to ``outcome``) in a fresh interpreter."""
    lines = ["import json, sys"]
    if hide_tensorflow:
        lines.append('sys.modules["tensorflow"] = None')
    lines += [setup, _IMPORT_CLU, check,
              'print("RESULT " + json.dumps(outcome))']
    path = [str(REPO)]
    if first_on_path is not None:
        path.insert(0, str(first_on_path))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
    proc = subprocess.run([sys.executable, "-c", "\n".join(lines)],
                          cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    assert result, proc.stdout + proc.stderr
    return json.loads(result[-1][len("RESULT "):])


IMPORT_STEP_LOG = "from trax_compat.supervised import step_log, summaries"


def test_without_tensorflow_clu_import_fails_as_without_trax_compat():
    # Where TensorFlow is installed it is hidden, as in the lean install.
    plain = _probe(hide_tensorflow=TF_INSTALLED)
    ours = _probe(IMPORT_STEP_LOG, hide_tensorflow=TF_INSTALLED)
    assert "error" in plain, plain
    assert ours["error"] == plain["error"]
    assert ours["message"] == plain["message"]
    # trax_compat put nothing under clu.* (its copy of CLU's interface is
    # private).
    assert ours["clu_modules_before"] == []


def test_with_a_broken_tensorflow_clu_import_fails_as_without_trax_compat(
        tmp_path):
    # A "tensorflow" that is found but does not import.
    (tmp_path / "tensorflow").mkdir()
    (tmp_path / "tensorflow" / "__init__.py").write_text(
        'raise ImportError("this TensorFlow build is broken")\n')
    plain = _probe(first_on_path=tmp_path)
    ours = _probe(IMPORT_STEP_LOG, first_on_path=tmp_path,
                  check='outcome["ours"] = step_log.interface.__name__')
    assert plain["error"] == ours["error"] == "ImportError"
    assert ours["message"] == plain["message"] == (
        "this TensorFlow build is broken")
    assert ours["ours"] == step_log._PRIVATE_INTERFACE_NAME  # pylint: disable=protected-access


@pytest.mark.skipif(not TF_INSTALLED, reason=NO_TF_REASON)
def test_with_tensorflow_our_writers_are_clus_metric_writers(tmp_path):
    check = textwrap.dedent(f"""
        import clu.metric_writers as mw
        outcome["same_module"] = step_log.interface is mw.interface
        outcome["isinstance"] = [
            isinstance(step_log.TraxStepLogWriter(), mw.MetricWriter),
            isinstance(summaries.BackgroundSummaryWriter({str(tmp_path)!r}),
                       mw.MetricWriter)]
    """)
    plain = _probe()
    ours = _probe(IMPORT_STEP_LOG, check=check)
    assert plain["ok"] == ours["ok"] == "clu.metric_writers.interface"
    assert plain["has_writer"] and ours["has_writer"]
    # Our writers subclass a private copy of CLU's interface (importing
    # clu.metric_writers would import TensorFlow); once other code imports
    # CLU's, they are registered as its subclasses.
    assert ours["same_module"] is False
    assert ours["isinstance"] == [True, True]


@pytest.mark.skipif(not TF_INSTALLED, reason=NO_TF_REASON)
def test_training_modules_import_neither_clu_writers_nor_tensorflow():
    setup = IMPORT_STEP_LOG + "\nfrom trax_compat.supervised import training"
    lines = ["import json, sys", setup,
             'print("RESULT " + json.dumps({"tf": "tensorflow" in sys.modules,'
             ' "clu": sorted(m for m in sys.modules'
             ' if m.startswith("clu.metric_writers"))}))']
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", "\n".join(lines)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.split("RESULT ")[-1])
    assert result == {"tf": False, "clu": []}


def test_clu_imported_first_is_used_directly():
    if not TF_INSTALLED:
        pytest.skip(NO_TF_REASON)
    ours = _probe("import clu.metric_writers\n" + IMPORT_STEP_LOG,
                  check='outcome["same"] = step_log.interface is '
                        'clu.metric_writers.interface')
    assert ours["same"] is True


def test_private_copy_is_not_registered_anywhere():
    assert step_log._PRIVATE_INTERFACE_NAME not in sys.modules  # pylint: disable=protected-access
    name = step_log.interface.__name__
    if name == "clu.metric_writers.interface":
        # Another test module imported CLU's writers before ours: used as is.
        assert sys.modules[name] is step_log.interface
    else:
        assert name == step_log._PRIVATE_INTERFACE_NAME  # pylint: disable=protected-access
        # (Other tests' failed imports of clu.metric_writers may have left
        # CLU's own modules behind; none of them is our copy.)
        assert not [m for m, module in sys.modules.items()
                    if module is step_log.interface]
