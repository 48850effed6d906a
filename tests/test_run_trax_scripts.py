"""Unmodified Trax scripts (``import trax``) run on trax_compat:
``trax-compat run``, ``python -m trax_compat.run`` and, for notebooks,
``trax_compat.install_as_trax()``. Each runs in a fresh Python."""

import os
import subprocess
import sys
import textwrap

from conftest import REPO
from conftest import TESTDATA

SCRIPTS = TESTDATA / "trax_scripts"


def _python(*args, cwd=None, env_extra=None):
    env = dict(os.environ, JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TRAX_COMPAT_DEBUG", None)
    env.update(env_extra or {})
    # Our checkout first on the path, as an installed trax_compat would be.
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO)] + [p for p in [env_extra and env_extra.get("PYTHONPATH")]
                       if p])
    return subprocess.run([sys.executable, *args], cwd=cwd or REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def _lines(out):
    return dict(line.split(": ", 1) for line in out.splitlines()
                if ": " in line)


def test_layers_script_runs_as_main_with_its_own_argv(tmp_path):
    # Through the `trax-compat` command; `--debug` after the script is its.
    result = _python("-m", "trax_compat", "run",
                     str(SCRIPTS / "layers_only.py"), "5", "--debug",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    got = _lines(result.stdout)
    assert got["argv"] == "['5', '--debug']"
    assert got["name"] == "__main__"
    assert got["output shape"] == "(2, 5)"
    assert got["sublayers"] == "['Dense_5', 'MyTanh', 'Branch', 'Add']"
    assert got["dense module"] == "trax_compat.layers.core"
    assert got["core is tl.core"] == "True"


def test_sentiment_loop_script_trains(tmp_path):
    out_dir = tmp_path / "model"
    result = _python("-m", "trax_compat.run",
                     str(SCRIPTS / "sentiment_loop.py"), str(out_dir), "10")
    assert result.returncode == 0, result.stderr
    got = _lines(result.stdout)
    assert got["trained steps"] == "10"
    assert got["loop module"] == "trax_compat.supervised.training"
    assert "Step     10: eval      WeightedCategoryAccuracy" in result.stdout
    assert any(out_dir.iterdir())  # its checkpoint at step 10


def test_error_in_script_shows_the_scripts_traceback():
    result = _python("-m", "trax_compat", "run", str(SCRIPTS / "fails.py"))
    assert result.returncode == 1
    err = result.stderr[result.stderr.index("Traceback"):]
    frames = [line.strip() for line in err.splitlines()
              if line.strip().startswith("File ")]
    assert len(frames) == 2, err
    assert all(str(SCRIPTS / "fails.py") in frame for frame in frames)
    assert err.rstrip().endswith("ValueError: the script itself is wrong")


def test_command_line_mistakes_are_one_line(tmp_path):
    missing = tmp_path / "nope.py"
    for args, prog in ((["-m", "trax_compat", "run"], "trax-compat run"),
                       (["-m", "trax_compat.run"], "python -m trax_compat.run")):
        result = _python(*args, str(missing))
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [
            f"{prog}: error: cannot run {str(missing)!r}: no such file"]


def _fake_real_trax(tmp_path):
    site = tmp_path / "site"
    (site / "trax").mkdir(parents=True)
    (site / "trax" / "__init__.py").write_text("REAL = True\n")
    return str(site)


def test_a_real_trax_is_not_hidden_unless_asked(tmp_path):
    site = _fake_real_trax(tmp_path)
    script = tmp_path / "which.py"
    script.write_text("import trax\nprint('trax is', trax.__name__)\n")
    refused = _python("-m", "trax_compat", "run", str(script),
                      env_extra={"PYTHONPATH": site})
    assert refused.returncode == 2
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith("trax-compat run: error: a real 'trax' package "
                           "is importable")
    assert site in line and "--shadow-trax" in line
    shadowed = _python("-m", "trax_compat", "run", "--shadow-trax",
                       str(script), env_extra={"PYTHONPATH": site})
    assert shadowed.returncode == 0, shadowed.stderr
    assert shadowed.stdout == "trax is trax_compat\n"


def test_install_as_trax_gives_the_same_module_objects():
    code = textwrap.dedent("""
        import importlib.util, sys
        import trax_compat
        assert importlib.util.find_spec('trax') is None  # no trax installed
        trax_compat.install_as_trax()
        trax_compat.install_as_trax()  # a second call changes nothing
        import trax
        from trax import layers as tl
        import trax.fastmath.numpy as jnp
        from trax.supervised import training
        import trax.layers.core
        from trax.data import inputs
        import trax_compat.layers.core
        assert trax is trax_compat
        assert tl is trax_compat.layers and tl is sys.modules['trax.layers']
        assert trax.layers.core is trax_compat.layers.core
        assert sys.modules['trax.layers.core'] is trax_compat.layers.core
        assert jnp is trax_compat.fastmath.numpy
        assert training is sys.modules['trax_compat.supervised.training']
        assert inputs is sys.modules['trax_compat.data.inputs']
        assert trax.data.inputs is inputs
        # One class, whichever name made it; module state is shared.
        assert isinstance(tl.Dense(2), trax_compat.layers.core.Dense)
        with trax.fastmath.use_backend('numpy'):
            assert trax_compat.fastmath.backend_name() == 'numpy'
        # The modules keep their own names and specs.
        assert tl.__name__ == tl.__spec__.name == 'trax_compat.layers'
        try:
            import trax.no_such_module
        except ModuleNotFoundError as e:
            assert e.name == 'trax.no_such_module', e.name
            assert str(e) == "No module named 'trax.no_such_module'", str(e)
        else:
            raise AssertionError('imported trax.no_such_module')
        print('ok')
    """)
    result = _python("-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"


def test_install_as_trax_refuses_after_a_real_trax_was_imported(tmp_path):
    site = _fake_real_trax(tmp_path)
    code = textwrap.dedent("""
        import trax, trax_compat
        try:
            trax_compat.install_as_trax(shadow=True)
        except ImportError as e:
            print(type(e).__name__, e)
        import trax
        print(trax.REAL)
    """)
    result = _python("-c", code, env_extra={"PYTHONPATH": site})
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    assert first.startswith("RealTraxError a module named 'trax' is already "
                            "imported")
    assert second == "True"
