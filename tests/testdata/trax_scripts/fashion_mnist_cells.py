"""The model cells of Trax's tutorial ``Fashion_MNIST_with_Trax.ipynb``
(code cells 2 and 6 verbatim, and cell 8's ``model = get_model()``;
written for Trax, not one line changed for trax_compat), then the model
initialised and run once on a fake Fashion-MNIST-shaped batch (no dataset
is downloaded). The ``Resnet50`` that cell 6 imports (and never uses) is
built at a tiny width (its top-level layers as real Trax counts them); its
weights and
outputs are checked against real Trax's in tests/test_models_small.py
(initialising it here, eagerly at the 193x193 its 7x7 final pool needs,
took ~17 CPU-seconds)."""

import numpy as np

# -- cell 2 -------------------------------------------------------------------
import trax
# Use the tensorflow-numpy backend.
trax.fastmath.set_backend('tensorflow-numpy')
print(trax.fastmath.backend_name())

# -- cell 6 -------------------------------------------------------------------
from trax import layers as tl
from trax.models.resnet import Resnet50

def get_model(n_output_classes=10):
  model = tl.Serial(
      tl.ToFloat(),

      tl.Conv(32, (3, 3), (1, 1), 'SAME'),
      tl.LayerNorm(),
      tl.Relu(),
      tl.MaxPool(),

      tl.Conv(64, (3, 3), (1, 1), 'SAME'),
      tl.LayerNorm(),
      tl.Relu(),
      tl.MaxPool(),

      tl.Flatten(),
      tl.Dense(n_output_classes),
  )
  return model

# -- cell 8 (the model only) ----------------------------------------------------
model = get_model()

# -- a fake batch: 8 Fashion-MNIST images (uint8, 28x28x1), as cell 5 shows --------
# The layers compute with JAX: trax_compat's TensorFlow backend has no
# random numbers (and the core install no TensorFlow).
images = np.random.default_rng(0).integers(0, 256, size=(8, 28, 28, 1),
                                           dtype=np.uint8)
with trax.fastmath.use_backend('jax'):
  model.init(trax.shapes.signature(images),
             rng=trax.fastmath.random.get_prng(0))
  print('cnn output shape:', tuple(model(images).shape))

resnet = Resnet50(d_hidden=2, n_output_classes=10, mode='eval')
print('resnet50 layers:', resnet.name, resnet.n_in, resnet.n_out,
      len(resnet.sublayers))
