"""The TensorFlow-NumPy backend (``'tensorflow-numpy'``), loaded on first use.

A small table over ``tf.experimental.numpy`` and TensorFlow's own ops:
``np``, ``jit`` (``tf.function``), ``fori_loop`` (``tf.while_loop``),
``cond``, ``stop_gradient``, ``logsumexp``, ``expit``, ``erf``, ``lt`` and
the device counts, plus JAX's random numbers (below). Trax's other
TF-backend entries (gradients, pooling, ...) came from its own TF-NumPy
extension library and are not provided; use the JAX backend for them.

Random numbers: trax_compat's layers compute with JAX under every backend
(their weights are initialised and their dropout drawn inside JAX
transformations, where TensorFlow ops cannot run), so ``fastmath.random``
keeps JAX's keys and numbers here. Trax drew them with TensorFlow's
stateless ops from int64 keys instead: the same calls work, the numbers
differ from Trax's under this backend. TensorFlow is not a dependency
of the core install (``pip install "trax-compat[tfds]"``); selecting the
backend and reading its name work without it.
"""

import collections.abc

__all__ = ["TF_BACKEND", "LazyBackend"]

NAME = "tensorflow-numpy"


class LazyBackend(collections.abc.Mapping):
    """A backend table built by ``build()`` the first time an entry other
    than ``'name'`` is read."""

    def __init__(self, name, build):
        self._name = name
        self._build = build
        self._table = None

    def _entries(self):
        if self._table is None:
            self._table = {**self._build(), "name": self._name}
        return self._table

    def __getitem__(self, key):
        if key == "name":
            return self._name
        return self._entries()[key]

    def __iter__(self):
        return iter(self._entries())

    def __len__(self):
        return len(self._entries())

    def __repr__(self):
        state = "loaded" if self._table is not None else "not loaded yet"
        return f"<fastmath backend {self._name!r} ({state})>"


def _build():
    try:
        import tensorflow as tf  # pylint: disable=g-import-not-at-top
        import tensorflow.experimental.numpy as tnp  # pylint: disable=g-import-not-at-top
    except ImportError as e:
        raise ImportError(
            f"The {NAME!r} fastmath backend needs TensorFlow, which is not "
            f"installed (pip install 'trax-compat[tfds]'), or use the 'jax' "
            f"backend.") from e

    def fori_loop(lower, upper, body_fn, init_val):
        _, val = tf.while_loop(lambda i, _: i < upper,
                               lambda i, v: (i + 1, body_fn(i, v)),
                               (lower, init_val))
        return val

    def logsumexp(x, axis=None, keepdims=False):
        return tf.math.reduce_logsumexp(x, axis=axis, keepdims=keepdims)

    def device_count():
        accelerators = [d for d in tf.config.list_logical_devices()
                        if d.device_type in ("GPU", "TPU")]
        return max(len(accelerators), 1)

    from trax_compat.fastmath.jax_backend import JAX_BACKEND  # pylint: disable=g-import-not-at-top

    def with_jax_arguments(op):
        # Bounds computed with this backend's NumPy (an initializer's
        # sqrt(3 * variance)) arrive as TensorFlow tensors.
        def run(*args, **kwargs):
            convert = lambda a: a.numpy() if isinstance(a, tf.Tensor) else a
            return op(*map(convert, args),
                      **{k: convert(v) for k, v in kwargs.items()})
        return run

    random_ops = {name: with_jax_arguments(op)
                  for name, op in JAX_BACKEND.items()
                  if name.startswith("random_")}
    return {
        **random_ops,
        "np": tnp,
        "cond": lambda pred, true_fun, false_fun, *operands: tf.cond(
            pred, lambda: true_fun(*operands), lambda: false_fun(*operands)),
        "erf": tf.math.erf,
        "expit": tf.math.sigmoid,
        "fori_loop": fori_loop,
        "global_device_count": device_count,
        "jit": lambda f, **unused_jax_options: tf.function(f),
        "local_device_count": device_count,
        "logsumexp": logsumexp,
        "lt": tf.math.less,
        "stop_gradient": tf.stop_gradient,
    }


TF_BACKEND = LazyBackend(NAME, _build)
