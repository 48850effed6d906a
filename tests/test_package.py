"""The package surface: Trax's module names, and imports that stay light."""

import subprocess
import sys

import trax_compat as trax

from tests.conftest import REPO


def test_trax_module_names_are_exposed():
    from trax_compat import layers as tl
    from trax_compat.supervised import training
    assert trax.data.Serial is not None and callable(trax.data.Tokenize)
    assert issubclass(trax.layers.Serial, trax.layers.Layer)
    assert tl is trax.layers
    assert training.Loop is trax.supervised.training.Loop
    assert trax.shapes.ShapeDtype((2, 3)).shape == (2, 3)
    assert trax.fastmath.numpy.ones(2).shape == (2,)
    assert callable(trax.optimizers.Adam)
    assert sorted(set(trax.__all__)) == sorted(
        ["data", "layers", "models", "optimizers", "supervised", "shapes",
         "fastmath"])


def _modules_after(statement):
    code = (f"import sys; {statement}; "
            "print(','.join(m for m in ('jax', 'tensorflow', 'flax', "
            "'orbax', 'clu.metric_writers', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO,
                         capture_output=True, text=True, check=True,
                         timeout=120).stdout.strip()
    return set(filter(None, out.split(",")))


def test_import_trax_compat_pulls_in_nothing_heavy():
    assert _modules_after("import trax_compat") == set()


def test_training_imports_no_tensorflow():
    loaded = _modules_after("from trax_compat.supervised import training")
    assert "jax" in loaded and "flax" in loaded
    # Installed or not, TensorFlow is not imported: CLU's MetricWriter
    # interface is loaded privately (see docs/design.md).
    assert "tensorflow" not in loaded and "clu.metric_writers" not in loaded
    assert "orbax" not in loaded


def test_tutorial_imports_leave_scipy_to_the_numpy_backend():
    # SciPy costs about 80 ms to import; only the NumPy backend uses it.
    statement = ("import trax_compat; from trax_compat.supervised import "
                 "training; from trax_compat import layers, data, optimizers")
    assert "scipy" not in _modules_after(statement)
    assert "scipy" in _modules_after(
        statement + "; from trax_compat import fastmath; import numpy; "
        "fastmath.set_backend('numpy'); "
        "assert fastmath.logsumexp(numpy.zeros(2)) == numpy.log(2)")
