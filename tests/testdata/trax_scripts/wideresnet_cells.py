"""The model cells of Trax's tutorial ``illustrated_wideresnet.ipynb``
(code cells 24 and 33, verbatim; written for Trax, not one line changed
for trax_compat), then each model initialised and run once on a fake
CIFAR-10-shaped batch (no dataset is downloaded)."""

import numpy as np

# -- cell 24 ------------------------------------------------------------------
import trax
from trax import layers as tl
from trax.supervised import training

# Trax offers the WideResnet architecture in it's models module
from trax.models.resnet import WideResnet

trax.fastmath.set_backend('tensorflow-numpy')

# -- cell 33 ------------------------------------------------------------------
thin_model = tl.Serial(
    WideResnet(widen_factor = 1),
    tl.LogSoftmax()
)

wide_model = tl.Serial(
    WideResnet(widen_factor = 2),
    tl.LogSoftmax()
)

# -- a fake batch: 2 CIFAR-10 images (uint8, 32x32x3) ---------------------------
# The layers compute with JAX: trax_compat's TensorFlow backend has no
# random numbers (and the core install no TensorFlow).
print('backend:', trax.fastmath.backend_name())
images = np.random.default_rng(0).integers(0, 256, size=(2, 32, 32, 3),
                                           dtype=np.uint8)
with trax.fastmath.use_backend('jax'):
  for name, model in (('thin', thin_model), ('wide', wide_model)):
    model.init(trax.shapes.signature(images),
               rng=trax.fastmath.random.get_prng(0))
    log_probs = model(images)
    n_weights = sum(w.size for w in trax.fastmath.tree_flatten(model.weights))
    print(f'{name} output shape:', tuple(log_probs.shape))
    print(f'{name} rows sum to 1:', bool(np.allclose(
        np.exp(np.asarray(log_probs)).sum(-1), 1, atol=1e-5)))
    print(f'{name} weights:', n_weights)
