"""Flax Linen version of the Trax sentiment tutorial model.

The Trax tutorial builds::

    tl.Serial(
        tl.Embedding(vocab_size=8192, d_feature=256),
        tl.Mean(axis=1),
        tl.Dense(2),
        tl.LogSoftmax(),
    )

:class:`SentimentClassifier` computes the same function with Flax modules:

* ``tl.Embedding`` -> ``nn.Embed`` (submodule ``embed``, param ``embedding`` of
  shape ``(vocab_size, d_feature)``). Trax looks ids up with
  ``jnp.take(..., mode='clip')``, so ids are clipped to ``[0, vocab_size - 1]``
  before the lookup (``nn.Embed`` itself does not clip).
* ``tl.Mean(axis=1)`` -> ``jnp.mean(x, axis=1)`` over *all* positions, padding
  (id 0) included: the tutorial model has no padding mask.
* ``tl.Dense(2)`` -> ``nn.Dense`` (submodule ``dense``; ``kernel`` of shape
  ``(d_feature, n_classes)`` and ``bias``), i.e. ``x @ w + b`` like Trax.
* ``tl.LogSoftmax()`` -> ``jax.nn.log_softmax`` over the last axis.

Initializers follow Trax's defaults (same distributions; the random draws
differ because Flax derives per-parameter keys differently, see
:func:`trax_initial_weights` for bit-exact Trax draws):

* embedding: uniform in ``±sqrt(3 / d_feature)`` (Trax's ``ScaledInitializer``
  with ``mode='fan_out'``, ``distribution='uniform'``);
* dense kernel: Glorot uniform, ``±sqrt(3 / ((fan_in + fan_out) / 2))``;
* dense bias: ``1e-6 * N(0, 1)``.

Trax keeps weights as the nested tuple ``(embedding, (), (w, b), ())`` (one
entry per layer of the ``Serial``; ``Mean`` and ``LogSoftmax`` have no
weights). :func:`params_from_trax_weights` and :func:`trax_weights_from_params`
convert between that tuple and Flax's variables dict.
"""

from typing import Any, Mapping

import jax
import jax.numpy as jnp
from flax import linen as nn


def _trax_uniform(limit):
    # Same call as Trax (uniform with explicit bounds), so equal keys give
    # bit-equal draws.
    return lambda key, shape, dtype=jnp.float32: jax.random.uniform(
        key, shape, dtype, -limit, limit)


def embedding_init(key, shape, dtype=jnp.float32):
    """Trax's Embedding default: uniform in ``±sqrt(3 / d_feature)``."""
    fan_out = shape[-1]
    return _trax_uniform(jnp.sqrt(3.0 * (1.0 / fan_out)))(key, shape, dtype)


def glorot_uniform_init(key, shape, dtype=jnp.float32):
    """Trax's Dense kernel default: ``±sqrt(3 / ((fan_in + fan_out) / 2))``."""
    fan_in, fan_out = shape[-2], shape[-1]
    limit = jnp.sqrt(3.0 * (1.0 / max(1.0, (fan_in + fan_out) / 2.0)))
    return _trax_uniform(limit)(key, shape, dtype)


def bias_init(key, shape, dtype=jnp.float32):
    """Trax's Dense bias default: ``1e-6 * N(0, 1)`` cast to float32."""
    return (1e-6 * jax.random.normal(key, shape)).astype(dtype)


class SentimentClassifier(nn.Module):
    """Embedding -> mean over positions -> Dense -> log-softmax.

    Input: integer ids of shape ``(batch, length)``; output: log-probabilities
    of shape ``(batch, n_classes)``. Equivalent to the Trax tutorial model
    (see the module docstring).
    """

    vocab_size: int = 8192
    d_feature: int = 256
    n_classes: int = 2

    @nn.compact
    def __call__(self, ids):
        ids = jnp.asarray(ids)
        if not jnp.issubdtype(ids.dtype, jnp.integer):
            raise TypeError(
                f"SentimentClassifier expects integer token ids, got dtype "
                f"{ids.dtype}")
        # Trax's Embedding uses jnp.take(mode='clip'); nn.Embed would fill
        # out-of-range ids with NaN instead.
        ids = jnp.clip(ids, 0, self.vocab_size - 1)
        x = nn.Embed(
            num_embeddings=self.vocab_size,
            features=self.d_feature,
            embedding_init=embedding_init,
            name="embed",
        )(ids)
        x = jnp.mean(x, axis=1)  # padding positions count, as in tl.Mean
        x = nn.Dense(
            self.n_classes,
            kernel_init=glorot_uniform_init,
            bias_init=bias_init,
            name="dense",
        )(x)
        return jax.nn.log_softmax(x, axis=-1)


def _check_empty(part, what):
    if not (isinstance(part, (tuple, list)) and len(part) == 0):
        raise ValueError(
            f"expected no weights for {what}, i.e. (), got {part!r:.80}")


def params_from_trax_weights(weights) -> dict:
    """Trax weights ``(embedding, (), (w, b), ())`` -> Flax variables.

    Returns ``{'params': {'embed': {'embedding': embedding},
    'dense': {'kernel': w, 'bias': b}}}``, usable as
    ``SentimentClassifier().apply(variables, ids)``. The arrays are passed
    through unchanged (no copy, no dtype change), so the conversion is exact.
    Lists are accepted in place of tuples (e.g. weights loaded from pickles).
    """
    if not isinstance(weights, (tuple, list)) or len(weights) != 4:
        raise ValueError(
            "expected Trax weights of the tutorial model: a 4-tuple "
            "(embedding, (), (w, b), ()), got "
            f"{type(weights).__name__} of length "
            f"{len(weights) if hasattr(weights, '__len__') else '?'}")
    embedding, mean_w, dense_w, softmax_w = weights
    _check_empty(mean_w, "Mean (weights[1])")
    _check_empty(softmax_w, "LogSoftmax (weights[3])")
    if not isinstance(dense_w, (tuple, list)) or len(dense_w) != 2:
        raise ValueError(
            "expected Dense weights (w, b) at weights[2], got "
            f"{dense_w!r:.80}")
    w, b = dense_w
    if getattr(embedding, "ndim", None) != 2 or getattr(w, "ndim", None) != 2:
        raise ValueError(
            "embedding and Dense kernel must be 2-D arrays, got shapes "
            f"{getattr(embedding, 'shape', None)} and "
            f"{getattr(w, 'shape', None)}")
    if embedding.shape[1] != w.shape[0] or tuple(b.shape) != (w.shape[1],):
        raise ValueError(
            "inconsistent shapes: embedding "
            f"{tuple(embedding.shape)}, kernel {tuple(w.shape)}, "
            f"bias {tuple(b.shape)}")
    return {"params": {"embed": {"embedding": embedding},
                       "dense": {"kernel": w, "bias": b}}}


def trax_weights_from_params(variables: Mapping[str, Any]) -> tuple:
    """Flax variables -> Trax weights ``(embedding, (), (w, b), ())``.

    Inverse of :func:`params_from_trax_weights`. Accepts either the full
    variables dict (``{'params': ...}``) or the bare params dict. Arrays are
    passed through unchanged.
    """
    params = variables["params"] if "params" in variables else variables
    try:
        embedding = params["embed"]["embedding"]
        w = params["dense"]["kernel"]
        b = params["dense"]["bias"]
    except (KeyError, TypeError) as e:
        raise ValueError(
            "expected SentimentClassifier params with 'embed/embedding', "
            f"'dense/kernel' and 'dense/bias'; missing {e}") from e
    return (embedding, (), (w, b), ())


def trax_initial_weights(rng, vocab_size=8192, d_feature=256, n_classes=2):
    """Draws initial weights exactly as Trax's ``Serial.init(rng=rng)`` would.

    Trax's ``Serial`` splits ``rng`` into one key per sublayer; the Embedding
    (sublayer 0) draws from its key and Dense (sublayer 2) splits its key into
    kernel and bias keys. Returns the Trax-shaped tuple
    ``(embedding, (), (w, b), ())``; convert with
    :func:`params_from_trax_weights`.

    Note: ``training.Loop(random_seed=0)`` passes the model the *second* half
    of ``jax.random.split(PRNGKey(0))``, and the draws equal Trax's only under
    the ``jax_threefry_partitionable`` setting Trax ran with (``False`` in
    jax 0.4.x; newer jax defaults to ``True``).
    """
    sub = jax.random.split(rng, 4)
    embedding = embedding_init(sub[0], (vocab_size, d_feature))
    rng_w, rng_b = jax.random.split(sub[2], 2)
    w = glorot_uniform_init(rng_w, (d_feature, n_classes))
    b = bias_init(rng_b, (n_classes,))
    return (embedding, (), (w, b), ())
