"""Trax's Adam as a plain optax ``GradientTransformation``.

``optax.adamw`` differs from the Adam that Trax trained its tutorials with
in four ways, each of which changes the numbers a migrated run logs:

* ``eps`` is added outside the square root, to ``sqrt(v_hat)``;
* the default ``eps`` is ``1e-5`` and the default weight decay ``1e-5``;
* weight decay multiplies the weight by ``1 - weight_decay`` and is not
  scaled by the learning rate;
* the bias correction of the ``n``-th update (``n`` = 1, 2, ...) divides by
  ``1 - b ** (n + 1)``: Trax's Loop numbers its first step 1, and its Adam
  raises ``b`` to ``step + 1``.

This module only needs jax and optax; use it as any optax optimizer
(``TrainState.create(..., tx=trax_adam(0.01))``). ``learning_rate`` may be a
number or an optax schedule (called with the update count, from 0).
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax


class TraxAdamState(NamedTuple):
    count: jax.Array  # updates applied so far
    mu: Any
    nu: Any


def trax_adam(learning_rate=0.0001, weight_decay_rate=1e-5, b1=0.9,
              b2=0.999, eps=1e-5) -> optax.GradientTransformation:
    """Adam with Trax's update rule (see the module docstring)."""

    def init_fn(params):
        zeros = lambda p: jnp.zeros_like(p)
        return TraxAdamState(count=jnp.zeros([], jnp.int32),
                             mu=jax.tree_util.tree_map(zeros, params),
                             nu=jax.tree_util.tree_map(zeros, params))

    def update_fn(grads, state, params):
        if params is None:
            raise ValueError("trax_adam applies weight decay: pass params to "
                             "update(grads, state, params).")
        lr = (learning_rate(state.count) if callable(learning_rate)
              else learning_rate)
        # Trax's step number of this update is count + 1; its bias
        # correction uses one power more.
        power = (state.count + 2).astype(jnp.float32)
        mu = jax.tree_util.tree_map(lambda g, m: (1 - b1) * g + b1 * m,
                                    grads, state.mu)
        nu = jax.tree_util.tree_map(lambda g, v: (1 - b2) * g ** 2 + b2 * v,
                                    grads, state.nu)
        c1 = 1 - b1 ** power
        c2 = 1 - b2 ** power

        def update(m, v, w):
            delta = lr * (m / c1) / (jnp.sqrt(v / c2) + eps)
            # new weight = (1 - wd) * w - delta, as an additive update.
            return (-weight_decay_rate * w - delta).astype(w.dtype)

        updates = jax.tree_util.tree_map(update, mu, nu, params)
        return updates, TraxAdamState(
            count=optax.safe_int32_increment(state.count), mu=mu, nu=nu)

    return optax.GradientTransformation(init_fn, update_fn)
