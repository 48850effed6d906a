"""trax_compat's objects are registered with gin under Trax's gin names, so
Trax's configs bind them; without gin nothing happens."""

import os
import subprocess
import sys
import textwrap

import pytest

gin = pytest.importorskip("gin")

import trax_compat as trax  # noqa: E402
from trax_compat import gin_registry  # noqa: E402
from trax_compat import layers as tl  # noqa: E402
from trax_compat import optimizers  # noqa: E402
import trax_compat.data  # noqa: E402,F401
import trax_compat.models  # noqa: E402,F401
import trax_compat.supervised  # noqa: E402,F401

from conftest import REPO  # noqa: E402


@pytest.fixture(autouse=True)
def _clear_gin():
    gin.clear_config()
    yield
    gin.clear_config()


def test_every_trax_configurable_we_have_is_registered_under_its_selector():
    have = [e for e in gin_registry.trax_configurables()
            if gin_registry.ours(e["trax"]) is not None]
    # Layers, optimizers, schedules, TrainTask/EvalTask, fastmath.backend.
    assert len(have) >= 45
    wrappers = {}  # id(our object) -> its wrappers, one per Trax selector
    for entry in have:
        selector = f"{entry['module']}.{entry['name']}"
        wrapper = gin.get_configurable(selector)
        assert wrapper is gin_registry.registered(selector), selector
        wrappers.setdefault(id(gin_registry.ours(entry["trax"])), []).append(
            wrapper)
    # An object Trax registers twice (trax.models.BERTClassifierHead and
    # trax.models.research.bert.BERTClassifierHead) has a wrapper for each
    # name; configurable() gives one of them.
    for entry in have:
        obj = gin_registry.ours(entry["trax"])
        assert gin_registry.configurable(obj) in wrappers[id(obj)], entry


def test_bindings_apply_through_the_registered_configurable():
    gin.parse_config(textwrap.dedent("""
        LayerNorm.epsilon = 0.25
        Adam.b1 = 0.5
        trax.optimizers.Adam.weight_decay_rate = 0.0
        multifactor.constant = 0.125
        multifactor.factors = 'constant * linear_warmup'
        multifactor.warmup_steps = 4
    """))
    norm = gin.get_configurable("trax.layers.LayerNorm")()
    assert isinstance(norm, tl.LayerNorm)
    assert norm._epsilon == 0.25  # pylint: disable=protected-access
    assert str(norm) == "LayerNorm"
    adam = gin.get_configurable("Adam")(0.01)
    assert isinstance(adam, optimizers.Adam)
    assert float(adam.opt_params["b1"]) == 0.5
    assert float(adam.opt_params["weight_decay_rate"]) == 0.0
    # What Trax's own code gets by calling its decorated lr.multifactor.
    schedule = gin_registry.configurable(trax.lr.multifactor)()
    assert schedule(2) == pytest.approx(0.125 * 2 / 4)
    # The objects themselves are untouched: no bindings outside gin.
    assert trax.lr.multifactor()(2) != schedule(2)


def test_denylisted_arguments_cannot_be_bound():
    # Trax registers CausalAttention with denylist=['mode'].
    with pytest.raises(ValueError, match="mode"):
        gin.parse_config("CausalAttention.mode = 'predict'")


def test_a_missing_trax_configurable_is_named():
    name = gin_registry.missing_configurable("trax.models.NeuralGPU")
    assert name == "trax.models.NeuralGPU"
    assert gin_registry.missing_configurable("NeuralGPU") == name
    assert gin_registry.missing_configurable("LayerNorm") is None
    assert gin_registry.missing_configurable("NoSuchThing") is None


def test_without_gin_nothing_is_registered_and_everything_imports():
    code = textwrap.dedent("""
        import sys
        sys.modules['gin'] = None  # as if gin-config were not installed
        import trax_compat.layers, trax_compat.optimizers, trax_compat.supervised
        from trax_compat import gin_registry
        print(len(gin_registry._REGISTERED), trax_compat.layers.LayerNorm().name)
    """)
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "LayerNorm"]
