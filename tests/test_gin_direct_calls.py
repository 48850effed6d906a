"""Calling Trax's names directly after parsing a gin config applies the
bindings exactly as in real Trax: the models Trax's decoding tests build
with ``models.ConfigurableTerraformer(mode='predict')`` after
``gin.parse_config_file``, and the layers, optimizers and schedules reached
through their package or their defining module
(``tests/testdata/generate_gin_direct_calls.py``)."""

import json

import jax
import numpy as np
import pytest

gin = pytest.importorskip("gin")

import trax_compat as trax  # noqa: E402
from trax_compat import layers as tl  # noqa: E402
from trax_compat import shapes  # noqa: E402
from trax_compat.fastmath import random as trax_random  # noqa: E402
from trax_compat.supervised import decoding  # noqa: E402

from conftest import TESTDATA  # noqa: E402

ORACLE = json.loads((TESTDATA / "trax_oracle" / "gin_direct_calls"
                     / "gin_direct_calls.json").read_text())
CONFIGS = TESTDATA / "trax_oracle" / "gin_trainer"


@pytest.fixture(autouse=True)
def _clear_gin(trax_alias):  # pylint: disable=unused-argument
    # The configs' ``import trax.data`` lines need the alias.
    gin.clear_config()
    yield
    gin.clear_config()


def assert_weights_match(weights, expected):
    leaves = [np.asarray(w, np.float64)
              for w in jax.tree_util.tree_leaves(weights)]
    assert [list(w.shape) for w in leaves] == [e["shape"] for e in expected]
    for leaf, want in zip(leaves, expected):
        np.testing.assert_allclose(
            [leaf.sum(), np.abs(leaf).sum()], [want["sum"], want["abs_sum"]],
            rtol=1e-5, atol=1e-9)
        np.testing.assert_allclose(leaf.ravel()[:4], want["first"],
                                   rtol=1e-5, atol=1e-12)


@pytest.mark.parametrize("case", ORACLE["model_cases"],
                         ids=lambda c: c["name"])
def test_a_model_called_directly_after_parsing_a_config_is_trax_s(case):
    expected = ORACLE["models"][case["name"]]
    gin.add_config_file_search_path(str(CONFIGS))
    gin.parse_config_file(case["config"])
    gin.parse_config(case["bindings"])
    model = getattr(trax.models, case["model"])(mode="predict")
    signature = tuple(shapes.ShapeDtype(tuple(s), np.int32)
                      for s in case["signature"])
    model.init(signature if len(signature) > 1 else signature[0],
               rng=trax_random.get_prng(0))
    # The bound sizes (d_model 32, not the config's 256) built the model,
    # with Trax's initial weights.
    assert_weights_match(model.weights, expected["weights"])
    inputs = (None if expected["inputs"] is None
              else np.array(expected["inputs"], np.int32))
    sample = decoding.autoregressive_sample(
        model, inputs=inputs, eos_id=-1, max_length=case["max_length"],
        temperature=0.0)
    assert np.asarray(sample).tolist() == expected["sample"]


def test_layers_optimizers_and_schedules_called_directly_are_trax_s():
    expected = ORACLE["small"]
    gin.parse_config(ORACLE["small_bindings"])
    x = np.arange(8, dtype=np.float32).reshape(2, 4) / 3.0
    outputs = {}
    for name, layer in (("package", tl.LayerNorm()),
                        ("module", tl.normalization.LayerNorm())):
        layer.init(shapes.signature(x))
        outputs[name] = np.asarray(layer(x))
        np.testing.assert_allclose(outputs[name],
                                   expected[f"layer_norm_{name}"], atol=1e-6)
    # Only the package's name is gin's wrapper: the epsilon differs.
    assert np.abs(outputs["package"] - outputs["module"]).max() > 0.1
    for name, cls in (("package", trax.optimizers.Adam),
                      ("module", trax.optimizers.adam.Adam)):
        params = {k: float(v) for k, v in
                  sorted(cls(0.01).opt_params.items())}
        assert params == pytest.approx(expected[f"adam_{name}"])
    assert expected["adam_package"] != expected["adam_module"]
    schedule = trax.lr.multifactor()
    assert [float(schedule(s)) for s in (1, 2, 3, 8)] == pytest.approx(
        expected["multifactor"])
