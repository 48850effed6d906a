"""The model cells of Trax's WideResnet and Fashion-MNIST tutorials, as
Trax wrote them (``import trax``; trax_scripts/wideresnet_cells.py and
fashion_mnist_cells.py), run by ``trax-compat run`` on fake batches of the
tutorials' shapes: each model builds, initialises and gives outputs of the
right shape, after the cells chose Trax's 'tensorflow-numpy' backend (no
TensorFlow is needed for that)."""

import os
import subprocess
import sys

from conftest import REPO
from conftest import TESTDATA

SCRIPTS = TESTDATA / "trax_scripts"


def _run(script, tmp_path):
    env = dict(os.environ, JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-m", "trax_compat", "run", str(SCRIPTS / script)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return [line for line in result.stdout.splitlines() if line]


def test_wideresnet_tutorial_model_cells(tmp_path):
    assert _run("wideresnet_cells.py", tmp_path) == [
        "backend: tensorflow-numpy",
        "thin output shape: (2, 10)", "thin rows sum to 1: True",
        # WRN-20 (n_blocks=3) at widths 16/32/64 and 32/64/128: the counts
        # real Trax gives these two models.
        "thin weights: 295866",
        "wide output shape: (2, 10)", "wide rows sum to 1: True",
        "wide weights: 1167242",
    ]


def test_fashion_mnist_tutorial_model_cells(tmp_path):
    assert _run("fashion_mnist_cells.py", tmp_path) == [
        "tensorflow-numpy",
        "cnn output shape: (8, 10)",
        # Real Trax's Resnet50(d_hidden=2, n_output_classes=10): a Serial,
        # 1 input, 1 output, 40 top-level layers. Its weights and outputs
        # are checked against Trax's in test_models_small.py.
        "resnet50 layers: Serial 1 1 40",
    ]
