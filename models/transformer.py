"""Flax Linen Transformer models that compute Trax's ``TransformerLM`` and
``Transformer``.

These are plain Linen modules, written the way Flax's own ``lm1b``/``wmt``
examples are: a config dataclass, ``nn.compact`` blocks, ``nn.Embed``,
``nn.MultiHeadDotProductAttention``, ``nn.LayerNorm``, and a decode cache in
Flax's ``cache`` collection. With weights converted from Trax
(``models.convert_transformer``) they give Trax's outputs. What makes the
function Trax's:

* pre-LayerNorm residual blocks ``x + Dropout(f(LayerNorm(x)))``, LayerNorm
  with epsilon 1e-6 and the two-pass variance ``mean((x - mean)**2)``;
* the feed-forward block ``Dense(d_ff) -> ReLU -> Dropout -> Dense(d_model)``;
* dropout computed as Trax does, ``x * keep / (1 - rate)`` (:class:`Dropout`);
* token ids clipped into ``[0, vocab_size)`` before the lookup (Trax's
  ``jnp.take(mode='clip')``);
* positional encodings are a *trainable* ``(max_len, d_model)`` table,
  initialised to Trax's sinusoids (sin in even columns, cos in odd ones);
* attention: ``softmax(q k^T / sqrt(d_head))`` with masked scores replaced by
  a large negative number (Trax uses -1e9, Flax the dtype's minimum: the
  softmax is the same), dropout on the attention weights, one mask draw per
  batch element and head (``broadcast_dropout=False``). The decoder
  self-attention of the encoder-decoder ``Transformer`` has no attention
  dropout, as in Trax;
* the LM shifts its input right by one (a 0 in front) and attends causally,
  with no padding mask; the encoder masks padding (id 0) keys, the decoder
  attends causally to itself and to the encoder's non-padding positions;
* the output is the final Dense's logits (no log-softmax), as Trax's models
  return.

For fast decoding, ``config.replace(decode=True)`` gives a model that takes
one position per call and keeps keys, values and the position counter in the
``cache`` collection; :func:`decode_lm` and :func:`decode_transformer` run
one jitted step per token (greedy at temperature 0, else Gumbel sampling).
"""

import dataclasses
import functools
from typing import Optional, Tuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

# Trax's default initializers, so that a model trained from scratch in Flax
# starts from the same distributions as Trax's (the draws differ).
dense_kernel_init = nn.initializers.variance_scaling(
    1.0, "fan_avg", "uniform")  # Glorot uniform, Trax's Dense default


def dense_bias_init(key, shape, dtype=jnp.float32):
    """Trax's Dense bias default: ``1e-6 * N(0, 1)``."""
    return (1e-6 * jax.random.normal(key, shape)).astype(dtype)


def embedding_init(key, shape, dtype=jnp.float32):
    """Trax's Embedding default: uniform in ``+-sqrt(3 / d_feature)``."""
    limit = np.sqrt(3.0 / shape[-1])
    return jax.random.uniform(key, shape, dtype, -limit, limit)


def sinusoidal_table(max_len, d_feature):
    """Trax's positional-encoding table, ``(max_len, d_feature)`` float32.

    Computed in float64 by NumPy and stored as float32, as Trax does.
    """
    if d_feature % 2:
        raise ValueError(
            f"d_model must be even for sinusoidal positional encodings, got "
            f"{d_feature}")
    table = np.zeros((max_len, d_feature), np.float32)
    position = np.arange(max_len)[:, None]
    rates = np.exp(np.arange(0, d_feature, 2) * -(np.log(10000.0) / d_feature))
    table[:, 0::2] = np.sin(position * rates)
    table[:, 1::2] = np.cos(position * rates)
    return table


@dataclasses.dataclass(frozen=True)
class TransformerConfig:
    """Hyperparameters, named and defaulted as Trax's constructors name them.

    ``n_layers`` is the LM's depth; the encoder-decoder uses
    ``n_encoder_layers``/``n_decoder_layers`` (``None``: ``n_layers``).
    ``output_vocab_size=None`` shares one embedding between the encoder and
    the decoder, as Trax's ``Transformer`` does. ``decode=True`` builds the
    one-position-per-call model used for fast autoregressive decoding.
    """

    vocab_size: int
    output_vocab_size: Optional[int] = None
    d_model: int = 512
    d_ff: int = 2048
    n_layers: int = 6
    n_encoder_layers: Optional[int] = None
    n_decoder_layers: Optional[int] = None
    n_heads: int = 8
    max_len: int = 2048
    dropout: float = 0.1
    dropout_shared_axes: Optional[Tuple[int, ...]] = None
    decode: bool = False

    def __post_init__(self):
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model ({self.d_model}) must be a multiple of n_heads "
                f"({self.n_heads})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.dropout_shared_axes is not None:
            object.__setattr__(self, "dropout_shared_axes",
                               tuple(self.dropout_shared_axes))

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    @property
    def encoder_layers(self):
        return (self.n_layers if self.n_encoder_layers is None
                else self.n_encoder_layers)

    @property
    def decoder_layers(self):
        return (self.n_layers if self.n_decoder_layers is None
                else self.n_decoder_layers)

    @property
    def target_vocab_size(self):
        return (self.vocab_size if self.output_vocab_size is None
                else self.output_vocab_size)


class Dropout(nn.Module):
    """Trax's dropout: ``x * keep / (1 - rate)``, ``keep`` a Bernoulli mask
    (one draw per element, shared along ``broadcast_dims``).

    The mask is ``nn.Dropout``'s (same key, same draw); the output differs
    from ``nn.Dropout``'s ``select(keep, x / (1 - rate), 0)`` by rounding
    alone. The product is also cheaper in a train step on the CPU: with
    ``select``, XLA rebuilds the mask from its random bits in more of the
    fusions that read it (forward and backward), see benchmarks/README.md.
    """

    rate: float
    broadcast_dims: Tuple[int, ...] = ()

    @nn.compact
    def __call__(self, x, deterministic=True):
        if deterministic or self.rate == 0.0:
            return x
        keep_prob = 1.0 - self.rate
        shape = list(x.shape)
        for axis in self.broadcast_dims:
            shape[axis] = 1
        keep = jax.random.bernoulli(self.make_rng("dropout"), keep_prob,
                                    shape)
        return x * (keep.astype(x.dtype) / keep_prob)


def _dropout(config):
    return Dropout(rate=config.dropout,
                   broadcast_dims=config.dropout_shared_axes or ())


def _layer_norm(name):
    return nn.LayerNorm(epsilon=1e-6, use_fast_variance=False, name=name)


def shift_right(ids):
    """A 0 in front of every row, the last position dropped."""
    return jnp.pad(ids, ((0, 0), (1, 0)))[:, :-1]


def padding_mask(ids):
    """``(batch, 1, 1, length)``: True where ``ids`` is not padding (0)."""
    return (ids != 0)[:, None, None, :]


def _check_ids(ids, vocab_size, what):
    ids = jnp.asarray(ids)
    if ids.ndim != 2 or not jnp.issubdtype(ids.dtype, jnp.integer):
        raise ValueError(
            f"{what} must be integer token ids of shape (batch, length), got "
            f"shape {tuple(ids.shape)} and dtype {ids.dtype}")
    # Trax looks ids up with mode='clip'; nn.Embed would return NaN rows.
    return jnp.clip(ids, 0, vocab_size - 1)


class AddPositionEmbs(nn.Module):
    """Adds Trax's trainable positional-encoding table.

    In decode mode the next position to use lives in the ``cache``
    collection and advances by the length of each call's input.
    """

    config: TransformerConfig

    @nn.compact
    def __call__(self, x):
        cfg = self.config
        table = self.param(
            "pos_embedding",
            lambda key, shape: jnp.asarray(sinusoidal_table(*shape)),
            (cfg.max_len, x.shape[-1]))
        length = x.shape[1]
        if not cfg.decode:
            if length > cfg.max_len:
                raise ValueError(
                    f"sequence length {length} exceeds max_len {cfg.max_len}")
            return x + table[None, :length]
        initialized = self.has_variable("cache", "cache_index")
        index = self.variable("cache", "cache_index",
                              lambda: jnp.zeros((), jnp.int32))
        if not initialized:  # the call that creates the cache
            return x + table[None, :length]
        start = index.value
        index.value = start + length
        return x + jax.lax.dynamic_slice_in_dim(table, start, length)[None]


class MlpBlock(nn.Module):
    """Dense(d_ff) -> ReLU -> Dropout -> Dense(d_model)."""

    config: TransformerConfig

    @nn.compact
    def __call__(self, x, deterministic=True):
        cfg = self.config
        x = nn.Dense(cfg.d_ff, kernel_init=dense_kernel_init,
                     bias_init=dense_bias_init, name="dense_in")(x)
        x = nn.relu(x)
        x = _dropout(cfg)(x, deterministic=deterministic)
        return nn.Dense(cfg.d_model, kernel_init=dense_kernel_init,
                        bias_init=dense_bias_init, name="dense_out")(x)


def _attention(config, dropout, decode, name):
    return nn.MultiHeadDotProductAttention(
        num_heads=config.n_heads, qkv_features=config.d_model,
        out_features=config.d_model, dropout_rate=dropout,
        broadcast_dropout=False, kernel_init=dense_kernel_init,
        bias_init=dense_bias_init, decode=decode, name=name)


class EncoderBlock(nn.Module):
    """Self-attention over non-padding keys, then the MLP; pre-LayerNorm."""

    config: TransformerConfig

    @nn.compact
    def __call__(self, x, mask, deterministic=True):
        cfg = self.config
        y = _layer_norm("attention_norm")(x)
        y = _attention(cfg, cfg.dropout, False, "attention")(
            y, mask=mask, deterministic=deterministic)
        x = x + _dropout(cfg)(y, deterministic=deterministic)
        y = _layer_norm("mlp_norm")(x)
        y = MlpBlock(cfg, name="mlp")(y, deterministic=deterministic)
        return x + _dropout(cfg)(y, deterministic=deterministic)


class DecoderBlock(nn.Module):
    """The LM's block: causal self-attention, then the MLP."""

    config: TransformerConfig

    @nn.compact
    def __call__(self, x, deterministic=True):
        cfg = self.config
        # In decode mode the attention's cache supplies the causal mask.
        mask = None if cfg.decode else nn.make_causal_mask(x[..., 0])
        y = _layer_norm("attention_norm")(x)
        y = _attention(cfg, cfg.dropout, cfg.decode, "attention")(
            y, mask=mask, deterministic=deterministic)
        x = x + _dropout(cfg)(y, deterministic=deterministic)
        y = _layer_norm("mlp_norm")(x)
        y = MlpBlock(cfg, name="mlp")(y, deterministic=deterministic)
        return x + _dropout(cfg)(y, deterministic=deterministic)


class EncoderDecoderBlock(nn.Module):
    """Causal self-attention, attention to the encoding, then the MLP."""

    config: TransformerConfig

    @nn.compact
    def __call__(self, x, encoded, encoder_mask, deterministic=True):
        cfg = self.config
        mask = None if cfg.decode else nn.make_causal_mask(x[..., 0])
        y = _layer_norm("self_attention_norm")(x)
        # Trax builds this attention without dropout.
        y = _attention(cfg, 0.0, cfg.decode, "self_attention")(
            y, mask=mask, deterministic=deterministic)
        x = x + _dropout(cfg)(y, deterministic=deterministic)
        y = _layer_norm("cross_attention_norm")(x)
        y = _attention(cfg, cfg.dropout, False, "cross_attention")(
            y, encoded, mask=encoder_mask, deterministic=deterministic)
        x = x + _dropout(cfg)(y, deterministic=deterministic)
        y = _layer_norm("mlp_norm")(x)
        y = MlpBlock(cfg, name="mlp")(y, deterministic=deterministic)
        return x + _dropout(cfg)(y, deterministic=deterministic)


def _embed(vocab_size, config, name):
    return nn.Embed(num_embeddings=vocab_size, features=config.d_model,
                    embedding_init=embedding_init, name=name)


def _logits(vocab_size, name="logits"):
    return nn.Dense(vocab_size, kernel_init=dense_kernel_init,
                    bias_init=dense_bias_init, name=name)


class TransformerLM(nn.Module):
    """Decoder-only language model: ids ``(batch, length)`` -> logits
    ``(batch, length, vocab_size)``; position t sees ids before t.

    With ``config.decode`` it takes the *unshifted* next ids (the first call
    gets the start id 0) one or more positions per call and returns their
    logits, keeping its state in the ``cache`` collection.
    """

    config: TransformerConfig

    @nn.compact
    def __call__(self, ids, *, deterministic=True):
        cfg = self.config
        ids = _check_ids(ids, cfg.vocab_size, "ids")
        if not cfg.decode:
            ids = shift_right(ids)
        x = _embed(cfg.vocab_size, cfg, "embed")(ids)
        x = _dropout(cfg)(x, deterministic=deterministic)
        x = AddPositionEmbs(cfg, name="pos_embed")(x)
        for i in range(cfg.n_layers):
            x = DecoderBlock(cfg, name=f"block_{i}")(
                x, deterministic=deterministic)
        x = _layer_norm("final_norm")(x)
        return _logits(cfg.vocab_size)(x)


class Encoder(nn.Module):
    """Embedding, positional encoding, encoder blocks, final LayerNorm."""

    config: TransformerConfig
    embed: nn.Module

    @nn.compact
    def __call__(self, ids, deterministic=True):
        cfg = self.config
        # The encoder always sees whole inputs, also when decoding.
        cfg = cfg.replace(decode=False)
        mask = padding_mask(ids)
        x = self.embed(_check_ids(ids, cfg.vocab_size, "inputs"))
        x = _dropout(cfg)(x, deterministic=deterministic)
        x = AddPositionEmbs(cfg, name="pos_embed")(x)
        for i in range(cfg.encoder_layers):
            x = EncoderBlock(cfg, name=f"block_{i}")(
                x, mask, deterministic=deterministic)
        return _layer_norm("final_norm")(x)


class Decoder(nn.Module):
    """Target embedding, positional encoding, encoder-decoder blocks, final
    LayerNorm and the Dense to the target vocabulary."""

    config: TransformerConfig
    embed: nn.Module

    @nn.compact
    def __call__(self, encoded, inputs, targets, deterministic=True):
        cfg = self.config
        targets = _check_ids(targets, cfg.target_vocab_size, "targets")
        if not cfg.decode:
            targets = shift_right(targets)
        encoder_mask = padding_mask(jnp.asarray(inputs))
        x = self.embed(targets)
        x = _dropout(cfg)(x, deterministic=deterministic)
        x = AddPositionEmbs(cfg, name="pos_embed")(x)
        for i in range(cfg.decoder_layers):
            x = EncoderDecoderBlock(cfg, name=f"block_{i}")(
                x, encoded, encoder_mask, deterministic=deterministic)
        x = _layer_norm("final_norm")(x)
        return _logits(cfg.target_vocab_size)(x)


class Transformer(nn.Module):
    """Encoder-decoder: ``(inputs, targets)`` -> logits
    ``(batch, target_length, target_vocab_size)``, where target position t
    sees the whole of ``inputs`` (less padding) and targets before t.

    Trax's model also returns ``targets`` as a second output (for its loss
    layers); this one returns the logits alone. ``encode`` and ``decode``
    run the halves separately; with ``config.decode``, ``decode`` takes the
    next target ids one position per call (the first call gets 0).
    """

    config: TransformerConfig

    def setup(self):
        cfg = self.config
        if cfg.output_vocab_size is None:
            self.shared_embed = _embed(cfg.vocab_size, cfg, None)
            encoder_embed = decoder_embed = self.shared_embed
        else:
            self.input_embed = _embed(cfg.vocab_size, cfg, None)
            self.output_embed = _embed(cfg.output_vocab_size, cfg, None)
            encoder_embed, decoder_embed = self.input_embed, self.output_embed
        self.encoder = Encoder(cfg, embed=encoder_embed)
        self.decoder = Decoder(cfg, embed=decoder_embed)

    def encode(self, inputs, *, deterministic=True):
        return self.encoder(inputs, deterministic=deterministic)

    def decode(self, encoded, inputs, targets, *, deterministic=True):
        return self.decoder(encoded, inputs, targets,
                            deterministic=deterministic)

    def __call__(self, inputs, targets, *, deterministic=True):
        encoded = self.encode(inputs, deterministic=deterministic)
        return self.decode(encoded, inputs, targets,
                           deterministic=deterministic)


# --------------------------------------------------------------------------
# Fast autoregressive decoding.


def _check_decode_length(config, needed):
    if needed > config.max_len:
        raise ValueError(
            f"decoding needs {needed} positions but the model's max_len is "
            f"{config.max_len}: lower max_length (or the prompt length)")


def init_cache(model, batch_size, length, input_length=None):
    """An all-zero ``cache`` collection for ``length`` decoding positions.

    ``model`` is a :class:`TransformerLM` or :class:`Transformer` whose
    config has ``decode=True``; ``input_length`` is the encoder input length
    (``Transformer`` only). Nothing is computed: the shapes come from
    ``jax.eval_shape``.
    """
    if not model.config.decode:
        raise ValueError("init_cache needs a model built with "
                         "config.replace(decode=True)")
    ids = jnp.zeros((batch_size, length), jnp.int32)
    if isinstance(model, Transformer):
        if input_length is None:
            raise ValueError("init_cache for a Transformer needs input_length")
        args = (jnp.zeros((batch_size, input_length), jnp.int32), ids)
    else:
        args = (ids,)
    shapes = jax.eval_shape(
        lambda: model.init(jax.random.PRNGKey(0), *args))["cache"]
    return jax.tree_util.tree_map(
        lambda s: jnp.zeros(s.shape, s.dtype), shapes)


def sample_logits(logits, temperature, key):
    """Trax's ``logsoftmax_sample``: ``argmax(log_softmax(logits) + T * g)``
    with Gumbel noise ``g``; temperature 0 is the argmax."""
    log_probs = jax.nn.log_softmax(logits, axis=-1)
    noise = jax.random.gumbel(key, log_probs.shape, log_probs.dtype)
    return jnp.argmax(log_probs + temperature * noise, axis=-1).astype(
        jnp.int32)


def _sample(logits, temperature, noise):
    # noise: {'key': a JAX key} (Gumbel noise drawn here), or {'scaled':
    # T * g already drawn on the host, as Trax draws it}.
    if "key" in noise:
        return sample_logits(logits, temperature, noise["key"])
    log_probs = jax.nn.log_softmax(logits, axis=-1)
    return jnp.argmax(log_probs + noise["scaled"], axis=-1).astype(jnp.int32)


@functools.lru_cache(maxsize=None)
def _lm_step(model):
    """One jitted step of a decode-mode LM: (params, cache, ids (b, 1),
    noise, temperature) -> (next ids (b,), logits (b, vocab), cache)."""

    def step(params, cache, ids, noise, temperature):
        logits, mutated = model.apply(
            {"params": params, "cache": cache}, ids, mutable=["cache"])
        logits = logits[:, -1]
        return (_sample(logits, temperature, noise), logits,
                mutated["cache"])

    return jax.jit(step, donate_argnums=(1,))


@functools.lru_cache(maxsize=None)
def _transformer_step(model):
    def step(params, cache, encoded, inputs, ids, noise, temperature):
        logits, mutated = model.apply(
            {"params": params, "cache": cache}, encoded, inputs, ids,
            mutable=["cache"], method="decode")
        logits = logits[:, -1]
        return (_sample(logits, temperature, noise), logits,
                mutated["cache"])

    return jax.jit(step, donate_argnums=(1,))


@functools.lru_cache(maxsize=None)
def _encode(model):
    return jax.jit(lambda params, inputs: model.apply(
        {"params": params}, inputs, method="encode"))


def _params(variables):
    return variables["params"] if "params" in variables else variables


class _Noise:
    """Per-token sampling noise: from a JAX key, or, given a NumPy
    generator (``np.random`` or a ``RandomState``), drawn as Trax's
    ``logsoftmax_sample`` draws it: ``u = uniform(1e-6, 1 - 1e-6, (batch,
    vocab))``, ``g = -log(-log(u))``, ``T * g`` in float64, then float32."""

    def __init__(self, rng, temperature, batch_size, vocab_size):
        self.numpy = hasattr(rng, "uniform") and not isinstance(
            rng, jax.Array)
        self.rng = jax.random.PRNGKey(0) if rng is None else rng
        self.temperature = temperature
        self.shape = (batch_size, vocab_size)

    def unused(self):  # for positions whose output is not sampled
        if self.numpy:
            return {"scaled": np.zeros(self.shape, np.float32)}
        return {"key": self.rng}

    def next(self):
        if self.numpy:
            u = self.rng.uniform(low=1e-6, high=1.0 - 1e-6, size=self.shape)
            return {"scaled": (-np.log(-np.log(u)) * self.temperature)
                    .astype(np.float32)}
        self.rng, key = jax.random.split(self.rng)
        return {"key": key}


def _decode_loop(step, batch_size, vocab_size, forced, max_length,
                 temperature, rng, start_id, eos_id):
    """Feeds ``start_id``, then the ``forced`` columns, then each sampled
    token; returns the sampled tokens. Trax's stopping rule: ``max_length``
    tokens, or once every row has produced ``eos_id`` at least once."""
    if max_length < 1:
        raise ValueError(f"max_length must be >= 1, got {max_length}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    noise = _Noise(rng, temperature, batch_size, vocab_size)
    temperature = jnp.float32(temperature)
    ids = jnp.full((batch_size, 1), start_id, jnp.int32)
    for column in forced:
        step(ids, noise.unused(), temperature)
        ids = jnp.asarray(column, jnp.int32)[:, None]
    out, seen = [], np.zeros(batch_size, bool)
    while True:
        ids = step(ids, noise.next(), temperature)[:, None]
        token = np.asarray(ids)[:, 0]
        out.append(token)
        seen |= token == eos_id
        if len(out) >= max_length or seen.all():
            return np.stack(out, axis=1)


def decode_lm(model, variables, prompt=None, *, batch_size=None,
              max_length=100, temperature=0.0, rng=None, start_id=0,
              eos_id=1):
    """Autoregressive decoding of a :class:`TransformerLM`, as Trax's
    ``decoding.autoregressive_sample`` does it.

    The model first reads ``start_id`` and then ``prompt`` (``(batch, n)``
    ids, optional), then each token it produces. Returns an int32 array
    ``(batch, <= max_length)`` of produced tokens, stopping early once every
    row has produced ``eos_id``. ``temperature=0`` is greedy; above 0,
    tokens are sampled with Gumbel noise drawn from ``rng``: a JAX key, or
    a NumPy generator (``np.random`` itself or a ``np.random.RandomState``)
    from which the noise is drawn exactly as Trax draws it from NumPy's
    global generator, one ``(batch, vocab)`` draw per produced token (at
    any temperature, as Trax): after ``np.random.seed(s)``, ``rng=np.random``
    samples Trax's tokens.
    ``model`` may be built with or without ``decode=True``; ``variables``
    are its params (``{'params': ...}`` or the bare dict). Each position is
    one call of a single jitted step, compiled once per shape.
    """
    cfg = model.config
    prompt = None if prompt is None else np.asarray(prompt)
    if prompt is not None and prompt.ndim != 2:
        raise ValueError(
            f"prompt must have shape (batch, length), got {prompt.shape}")
    if batch_size is None:
        batch_size = 1 if prompt is None else prompt.shape[0]
    elif prompt is not None and prompt.shape[0] != batch_size:
        raise ValueError(f"prompt has batch {prompt.shape[0]} but batch_size "
                         f"is {batch_size}")
    n_forced = 0 if prompt is None else prompt.shape[1]
    length = 1 + n_forced + max_length - 1
    _check_decode_length(cfg, length)
    decoder = TransformerLM(cfg.replace(decode=True))
    params = _params(variables)
    state = {"cache": init_cache(decoder, batch_size, length)}
    jitted = _lm_step(decoder)

    def step(ids, noise, temperature):
        token, _, state["cache"] = jitted(params, state["cache"], ids, noise,
                                          temperature)
        return token

    forced = [] if prompt is None else list(prompt.T)
    return _decode_loop(step, batch_size, cfg.vocab_size, forced, max_length,
                        temperature, rng, start_id, eos_id)


def decode_transformer(model, variables, inputs, *, max_length=100,
                       temperature=0.0, rng=None, start_id=0, eos_id=1):
    """Autoregressive decoding of a :class:`Transformer` given encoder
    ``inputs`` ``(batch, length)``, as Trax's ``autoregressive_sample`` does:
    the encoder runs once, the decoder reads ``start_id`` and then each
    token it produces. Arguments and result as :func:`decode_lm`."""
    cfg = model.config
    inputs = np.asarray(inputs)
    if inputs.ndim != 2:
        raise ValueError(
            f"inputs must have shape (batch, length), got {inputs.shape}")
    _check_decode_length(cfg, max_length)
    _check_decode_length(cfg, inputs.shape[1])
    decoder = Transformer(cfg.replace(decode=True))
    params = _params(variables)
    inputs = jnp.asarray(inputs, jnp.int32)
    encoded = _encode(decoder)(params, inputs)
    batch_size = inputs.shape[0]
    state = {"cache": init_cache(decoder, batch_size, max_length,
                                 inputs.shape[1])}
    jitted = _transformer_step(decoder)

    def step(ids, noise, temperature):
        token, _, state["cache"] = jitted(params, state["cache"], encoded,
                                          inputs, ids, noise, temperature)
        return token

    return _decode_loop(step, batch_size, cfg.target_vocab_size, [],
                        max_length, temperature, rng, start_id, eos_id)
