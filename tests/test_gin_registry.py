"""trax_compat's objects are registered with gin under Trax's gin names, so
Trax's configs bind them; without gin nothing happens."""

import collections
import itertools
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
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
    wrappers = {}  # id(our plain object) -> its wrappers, one per selector
    for entry in have:
        selector = f"{entry['module']}.{entry['name']}"
        wrapper = gin.get_configurable(selector)
        assert wrapper is gin_registry.registered(selector), selector
        plain = gin_registry.unwrapped(gin_registry.ours(entry["trax"]))
        wrappers.setdefault(id(plain), []).append(wrapper)
    # What a Trax name holds now applies one of its object's wrappers (an
    # object Trax registers twice, trax.models.BERTClassifierHead and
    # trax.models.research.bert.BERTClassifierHead, has one per name).
    for entry in have:
        obj = gin_registry.ours(entry["trax"])
        plain = gin_registry.unwrapped(obj)
        assert gin_registry.configurable(obj) in wrappers[id(plain)], entry


def test_short_names_unique_in_trax_stay_unambiguous():
    # Trax's gin files bind short names (`backend.name = 'numpy'`); a second
    # registration of ours under another module would make gin refuse them.
    entries = gin_registry.trax_configurables()
    counts = collections.Counter(e["name"] for e in entries)
    checked = 0
    for entry in entries:
        if counts[entry["name"]] == 1 and gin_registry.ours(entry["trax"]):
            # gin's own names (gin.constant) clash in Trax too.
            matches = [m for m in gin.config._REGISTRY.matching_selectors(  # pylint: disable=protected-access
                entry["name"]) if not m.startswith("gin.")]
            assert matches == [f"{entry['module']}.{entry['name']}"], matches
            checked += 1
    assert checked >= 45


def test_gin_chooses_the_fastmath_backend_by_its_short_name():
    from trax_compat import fastmath  # pylint: disable=g-import-not-at-top
    # (conftest resets set_backend() between files: it outranks gin's.)
    assert fastmath.backend_name() == "jax"
    gin.parse_config("backend.name = 'numpy'")
    assert fastmath.backend_name() == "numpy"
    assert fastmath.backend()["np"] is np
    gin.clear_config()
    gin.parse_config("trax.fastmath.ops.backend.name = 'numpy'")
    assert fastmath.backend_name() == "numpy"
    gin.clear_config()
    assert fastmath.backend_name() == "jax"


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
    # Trax's multifactor is decorated where it is defined: a direct call
    # honours the bindings too, under every name it is reached by.
    assert trax.lr.multifactor()(2) == pytest.approx(schedule(2))
    assert trax.supervised.lr_schedules.multifactor is trax.lr.multifactor


def test_direct_calls_of_trax_names_honour_bindings_as_in_trax():
    # Real Trax (checked once by hand): after ``LayerNorm.epsilon = 0.5``,
    # ``tl.LayerNorm()._epsilon`` is 0.5 but
    # ``tl.normalization.LayerNorm()._epsilon`` stays 1e-06, because only
    # the package's name is gin's wrapper (``layer_configure``).
    from trax_compat.layers import normalization
    gin.parse_config(textwrap.dedent("""
        LayerNorm.epsilon = 0.5
        Adam.b1 = 0.25
        TransformerLM.d_model = 8
        TransformerLM.d_ff = 16
        TransformerLM.n_layers = 1
        TransformerLM.n_heads = 2
    """))
    # pylint: disable=protected-access
    assert tl.LayerNorm()._epsilon == 0.5
    assert normalization.LayerNorm()._epsilon == 1e-6
    assert float(optimizers.Adam(0.1).opt_params["b1"]) == 0.25
    assert float(optimizers.adam.Adam(0.1).opt_params["b1"]) == \
        pytest.approx(0.9)
    def embedding_shape(model):
        weights, _ = model.init(trax.shapes.ShapeDtype((1, 4), "int32"))
        return next(w.shape for w in jax.tree_util.tree_leaves(weights)
                    if w.shape[0] == 11)

    assert embedding_shape(trax.models.TransformerLM(vocab_size=11)) == (
        11, 8)  # the bound d_model
    plain = trax.models.transformer.TransformerLM(vocab_size=11, n_layers=0)
    assert embedding_shape(plain) == (11, 512)


def test_exported_classes_still_answer_isinstance_and_can_be_subclassed():
    from trax_compat.layers import normalization
    norm = tl.LayerNorm()
    assert type(norm) is normalization.LayerNorm  # as gin builds it in Trax
    assert isinstance(norm, tl.LayerNorm)  # gin's own wrapper says False
    assert issubclass(normalization.LayerNorm, tl.LayerNorm)
    assert not isinstance(tl.Dense(2), tl.LayerNorm)
    assert isinstance(optimizers.Adam(), optimizers.Adam)

    class Scaled(tl.LayerNorm):  # a user's subclass: an ordinary class
        def forward(self, x):
            return 2 * super().forward(x)

    gin.parse_config("LayerNorm.epsilon = 0.5")
    layer = Scaled()
    assert type(layer) is Scaled and isinstance(layer, tl.LayerNorm)
    assert layer._epsilon == 1e-6  # pylint: disable=protected-access


def test_decorated_trax_classes_apply_bindings_wherever_they_are_built():
    # Trax decorates TrainTask with @gin.configurable where it is defined.
    from trax_compat.supervised import training
    gin.parse_config("TrainTask.n_steps_per_checkpoint = 7")
    stream = itertools.repeat((np.zeros((2, 3), np.float32),
                               np.zeros((2,), np.int32)))
    task = training.TrainTask(stream, tl.CategoryCrossEntropy(),
                              optimizers.SGD(0.1))
    assert task.n_steps_per_checkpoint == 7


def test_denylisted_arguments_cannot_be_bound():
    # Trax registers CausalAttention with denylist=['mode'].
    with pytest.raises(ValueError, match="mode"):
        gin.parse_config("CausalAttention.mode = 'predict'")


def test_a_missing_trax_configurable_is_named():
    name = gin_registry.missing_configurable("trax.models.Policy")
    assert name == "trax.models.Policy"
    assert gin_registry.missing_configurable("Policy") == name
    assert gin_registry.missing_configurable("LayerNorm") is None
    assert gin_registry.missing_configurable("NoSuchThing") is None


def test_users_register_their_models_and_optimizers_under_trax_names():
    def UserWideDense(width=2, mode="train"):  # pylint: disable=invalid-name
        del mode
        return tl.Dense(width)

    def user_sgd(rate=0.1):
        return trax.optimizers.SGD(rate)

    model = trax.models.model_configure(UserWideDense)
    optimizer = trax.optimizers.opt_configure(user_sgd)
    gin.parse_config("trax.models.UserWideDense.width = 7\n"
                     "trax.optimizers.user_sgd.rate = 0.5")
    assert "Dense_7" in str(model())
    assert float(optimizer().opt_params["learning_rate"]) == 0.5
    # As in Trax, optimizers.SGD is gin's wrapper of base.SGD.
    from trax_compat.optimizers import base
    assert gin_registry.unwrapped(trax.optimizers.SGD) is base.SGD


def test_without_gin_nothing_is_registered_and_everything_imports():
    code = textwrap.dedent("""
        import sys
        sys.modules['gin'] = None  # as if gin-config were not installed
        import trax_compat.layers, trax_compat.optimizers, trax_compat.supervised
        from trax_compat import gin_registry
        print(len(gin_registry._REGISTERED), trax_compat.layers.LayerNorm().name)
        try:
            trax_compat.optimizers.opt_configure(print)
        except ImportError as e:
            print(e)
    """)
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "0 LayerNorm", "Registering with gin under trax.optimizers needs "
        "gin-config: pip install 'trax-compat[gin]'."]
