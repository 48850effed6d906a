"""A layers-only Trax script, written for Trax (not one line changed for
trax_compat): builds a small model, runs it, prints what it computed."""

import sys

import numpy as np
import trax
import trax.fastmath.numpy as jnp
import trax.layers.core
from trax import fastmath
from trax import layers as tl
from trax import shapes


def tanh_layer():
  return tl.Fn('MyTanh', lambda x: jnp.tanh(x))


def main(argv):
  n_units = int(argv[1]) if len(argv) > 1 else 3
  model = tl.Serial(
      tl.Dense(n_units),
      tanh_layer(),
      tl.Branch(tl.Relu(), None),
      tl.Add(),
  )
  x = np.arange(8, dtype=np.float32).reshape(2, 4) / 8.0
  model.init(shapes.signature(x), rng=fastmath.random.get_prng(0))
  y = model(x)
  print('argv:', argv[1:])
  print('name:', __name__)
  print('output shape:', tuple(y.shape))
  print('sublayers:', [layer.name for layer in model.sublayers])
  print('dense module:', type(model.sublayers[0]).__module__)
  print('core is tl.core:', trax.layers.core is tl.core)
  print('fastmath backend:', fastmath.backend_name())


if __name__ == '__main__':
  main(sys.argv)
