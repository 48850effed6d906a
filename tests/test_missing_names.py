"""A Trax name trax_compat lacks raises one clear error, and the coverage
page (docs/coverage.md) is what the code generates."""

import importlib
import os
import subprocess
import sys
import textwrap

import pytest

import trax_compat as trax
from trax_compat import coverage
from trax_compat import layers as tl
from trax_compat import missing

from conftest import REPO


def _check(error, trax_name, out_of_scope=None):
    text = str(error)
    assert isinstance(error, missing.NotAvailableError)
    assert error.trax_name == trax_name
    assert text.startswith(f"{trax_name} is not available in trax_compat "
                           f"{trax.__version__}")
    assert "docs/coverage.md" in text
    if out_of_scope:
        assert f"({out_of_scope} is out of scope)" in text


def test_missing_attributes_name_the_trax_name():
    for owner, name, trax_name in (
            (trax, "AsKeras", "trax.AsKeras"),
            (trax.models, "Policy", "trax.models.Policy"),
            (trax.supervised, "pretrain_finetune",
             "trax.supervised.pretrain_finetune")):
        with pytest.raises(AttributeError) as caught:
            getattr(owner, name)
        _check(caught.value, trax_name)
        assert not hasattr(owner, name)
    with pytest.raises(AttributeError) as caught:
        tl.LSHFF  # pylint: disable=pointless-statement
    _check(caught.value, "trax.layers.LSHFF",
           "Trax's research code")


def test_missing_layers_are_found_from_what_the_modules_have():
    # Whatever in-scope Trax layer is still absent says so, through tl and
    # its own module alike; once a module has it, it is simply there.
    absent = [(m, n) for m, exists, _, names in coverage.module_rows()
              if m.startswith("trax.layers.") and exists for n in names]
    for module, name in absent[:3]:
        ours = importlib.import_module("trax_compat" + module[4:])
        with pytest.raises(AttributeError) as caught:
            getattr(ours, name)
        _check(caught.value, f"{module}.{name}")


def test_a_layer_added_to_its_module_is_found_without_edits(monkeypatch):
    from trax_compat.layers import core
    monkeypatch.setattr(core, "LocallyConnected1d", "new layer", raising=False)
    rows = {r[0]: r for r in coverage.module_rows()}
    assert "LocallyConnected1d" in rows["trax.layers.core"][2]
    assert core.LocallyConnected1d == "new layer"


def test_missing_modules_raise_import_errors():
    with pytest.raises(ImportError) as caught:
        from trax_compat.supervised import pretrain_finetune  # noqa: F401
    _check(caught.value, "trax.supervised.pretrain_finetune")
    with pytest.raises(ModuleNotFoundError) as caught:
        importlib.import_module("trax_compat.rl")
    _check(caught.value, "trax.rl", "Trax's reinforcement-learning code")


def test_names_trax_never_had_get_the_usual_errors():
    with pytest.raises(AttributeError) as caught:
        tl.NoSuchLayer  # pylint: disable=pointless-statement
    assert not isinstance(caught.value, missing.NotAvailableError)
    assert str(caught.value) == (
        "module 'trax_compat.layers' has no attribute 'NoSuchLayer'")
    with pytest.raises(ModuleNotFoundError) as caught:
        importlib.import_module("trax_compat.no_such_module")
    assert not isinstance(caught.value, missing.NotAvailableError)


def test_under_the_trax_name_too():
    code = textwrap.dedent("""
        import trax_compat
        trax_compat.install_as_trax()
        import trax
        for stmt in ('import trax.trax2keras',
                     "from trax.supervised import pretrain_finetune",
                     'from trax import rl', 'trax.AsKeras',
                     'trax.models.Policy'):
            try:
                exec(stmt)
            except ImportError as e:
                print('ImportError', e.trax_name)
            except AttributeError as e:
                print('AttributeError', e.trax_name)
    """)
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "ImportError trax.trax2keras",
        "ImportError trax.supervised.pretrain_finetune",
        "ImportError trax.rl", "AttributeError trax.AsKeras",
        "AttributeError trax.models.Policy"]


def test_trax_names_cover_the_public_api():
    modules = missing.trax_modules()
    assert "Dense" in modules["trax.layers.core"]["names"]
    assert "trax.layers.core" in modules["trax.layers"]["star"]
    assert missing.public_names("trax.layers")["Relu"] == (
        "trax.layers.activation_fns")
    assert modules["trax.data"]["names"]["TFDS"] == "trax.data.tf_inputs"
    assert not any(m.endswith("_test") or m.endswith("test_utils")
                   for m in modules)


def test_coverage_page_is_fresh():
    page = (REPO / "docs" / "coverage.md").read_text(encoding="utf-8")
    assert page == coverage.render(), (
        f"docs/coverage.md is stale; refresh it with: {coverage.REFRESH}")
