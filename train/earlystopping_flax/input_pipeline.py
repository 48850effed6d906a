"""The tutorial's data: endless batches of ``(x, 2x - 1)`` for integer ``x``
in ``[1, 9]``, one stream shared by training and evaluation (as in the
tutorial). Plain NumPy: each ``x`` is one draw from NumPy's global generator,
as the tutorial's generator draws it, so after the same seed the batches
are the Trax run's."""

import numpy as np


def linear_batches(batch_size):
    while True:
        x = np.array([[np.random.randint(low=1, high=10) * 1.0]
                      for _ in range(batch_size)])
        y = x * 2.0 - 1
        yield {"inputs": x, "targets": y,
               "weights": np.ones_like(y, np.float32)}
