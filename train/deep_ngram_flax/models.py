"""The tutorial's language models, ``tl.Serial(tl.ShiftRight(),
tl.Embedding(256, d_model), [tl.GRU(d_model) or tl.LSTM(d_model)] * n,
tl.Dense(256), tl.LogSoftmax())``, as Flax Linen modules.

The cells are written here, not taken from ``flax.linen``: Flax's
``GRUCell`` applies the reset gate after the hidden state's matrix product
(Trax's before it), so it computes other numbers; its ``LSTMCell`` computes
Trax's equations, but with eight matrices where Trax has one. These cells
keep Trax's equations and weight layout (one kernel over ``[x, h]`` per
transform), so a Trax model's weights load as they are
(``params_from_trax_weights``).
"""

import functools

import jax
import jax.numpy as jnp
from flax import linen as nn


def _uniform(limit):
    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -limit, limit)
    return init


def _normal_plus(stddev, offset=0.0):
    def init(key, shape, dtype=jnp.float32):
        return jax.random.normal(key, shape, dtype) * stddev + offset
    return init


class GRUCell(nn.RNNCellBase):
    """Trax's GRU step: gates ``u, r = sigmoid([x, h] @ Wg + bg)``,
    candidate ``c = tanh([x, r * h] @ Wc + bc)``, new state
    ``u * h + (1 - u) * c``."""

    features: int

    @nn.compact
    def __call__(self, h, x):
        n = self.features
        d_in = x.shape[-1] + n
        kernel_gates = self.param("kernel_gates", _uniform(0.01), (d_in, 2 * n))
        bias_gates = self.param("bias_gates", _normal_plus(1e-6), (2 * n,))
        kernel_candidate = self.param("kernel_candidate", _uniform(0.01),
                                      (d_in, n))
        bias_candidate = self.param("bias_candidate", _normal_plus(1e-6), (n,))
        gates = jax.nn.sigmoid(
            jnp.concatenate([x, h], axis=-1) @ kernel_gates + bias_gates)
        u, r = jnp.split(gates, 2, axis=-1)
        c = jnp.tanh(jnp.concatenate([x, r * h], axis=-1) @ kernel_candidate
                     + bias_candidate)
        h = u * h + (1 - u) * c
        return h, h

    @nn.nowrap
    def initialize_carry(self, rng, input_shape):
        return jnp.zeros(input_shape[:-1] + (self.features,), jnp.float32)

    @property
    def num_feature_axes(self):
        return 1


class LSTMCell(nn.RNNCellBase):
    """Trax's LSTM step: ``i, j, f, o`` from one ``[x, h] @ W + b`` (b
    starts at 1, Trax's forget bias added to the whole vector);
    ``c' = c * sigmoid(f) + sigmoid(i) * tanh(j)``,
    ``h' = tanh(c') * sigmoid(o)``. The carry is ``(c, h)``."""

    features: int

    @nn.compact
    def __call__(self, carry, x):
        c, h = carry
        n = self.features
        kernel = self.param("kernel", nn.initializers.xavier_uniform(),
                            (x.shape[-1] + n, 4 * n))
        bias = self.param("bias", _normal_plus(1e-6, 1.0), (4 * n,))
        y = jnp.concatenate([x, h], axis=-1) @ kernel + bias
        i, j, f, o = jnp.split(y, 4, axis=-1)
        c = c * jax.nn.sigmoid(f) + jax.nn.sigmoid(i) * jnp.tanh(j)
        h = jnp.tanh(c) * jax.nn.sigmoid(o)
        return (c, h), h

    @nn.nowrap
    def initialize_carry(self, rng, input_shape):
        zeros = jnp.zeros(input_shape[:-1] + (self.features,), jnp.float32)
        return zeros, zeros

    @property
    def num_feature_axes(self):
        return 1


CELLS = {"gru": GRUCell, "lstm": LSTMCell}


class RNNLM(nn.Module):
    """Character ids ``(batch, length)`` -> log-probabilities of each
    position's character ``(batch, length, vocab_size)``, each predicted
    from the characters before it."""

    cell: str = "gru"
    vocab_size: int = 256
    d_model: int = 512
    n_layers: int = 2

    @nn.compact
    def __call__(self, ids):
        # ShiftRight: position t sees ids[:, :t] only.
        ids = jnp.pad(ids, ((0, 0), (1, 0)))[:, :-1]
        # Trax's Embedding clips out-of-range ids; nn.Embed would give NaN.
        ids = jnp.clip(ids, 0, self.vocab_size - 1)
        x = nn.Embed(self.vocab_size, self.d_model,
                     embedding_init=nn.initializers.variance_scaling(
                         1.0, "fan_out", "truncated_normal"),
                     name="embed")(ids)
        for i in range(self.n_layers):
            x = nn.RNN(CELLS[self.cell](self.d_model,
                                        name=f"{self.cell}_{i}"))(x)
        x = nn.Dense(self.vocab_size,
                     kernel_init=nn.initializers.xavier_uniform(),
                     bias_init=_normal_plus(1e-6), name="dense")(x)
        return jax.nn.log_softmax(x, axis=-1)


def create_model(config):
    if config.cell not in CELLS:
        raise ValueError(f"config.cell={config.cell!r}: use one of "
                         f"{sorted(CELLS)}.")
    return _model(config.cell, config.vocab_size, config.d_model,
                  config.n_layers)


@functools.lru_cache(maxsize=None)
def _model(cell, vocab_size, d_model, n_layers):
    # One module per shape: the TrainState carries `model.apply`, which is
    # part of the jitted steps' cache key, so runs in one process reuse the
    # compiled steps.
    return RNNLM(cell=cell, vocab_size=vocab_size, d_model=d_model,
                 n_layers=n_layers)


def initial_params(config):
    """Fresh parameters, drawn from Trax's distributions (not its numbers;
    for those, convert a Trax model's weights)."""
    model = create_model(config)
    ids = jnp.zeros((1, config.max_length), jnp.int32)
    # Jitted: run op by op, the scans' init takes seconds.
    return jax.jit(model.init)(jax.random.PRNGKey(config.seed), ids)["params"]


_CELL_WEIGHTS = {"gru": ("kernel_gates", "bias_gates", "kernel_candidate",
                         "bias_candidate"),
                 "lstm": ("kernel", "bias")}


def params_from_trax_weights(weights, config):
    """A Trax model's weights (nested tuples of arrays, as ``model.weights``
    gives them) as this module's params.

    Trax's weight leaves come in layer order: the embedding, each recurrent
    layer's cell weights (for a GRU ``w_gates, b_gates, w_candidate,
    b_candidate``; for an LSTM ``w, b``), the Dense kernel and bias;
    ShiftRight, the zero states, Select and LogSoftmax have none."""
    leaves = [jnp.asarray(w) for w in jax.tree_util.tree_leaves(weights)]
    names = _CELL_WEIGHTS[config.cell]
    expected = 3 + len(names) * config.n_layers
    if len(leaves) != expected:
        raise ValueError(
            f"The Trax weights hold {len(leaves)} arrays; a {config.cell} LM "
            f"with n_layers={config.n_layers} has {expected}: check "
            f"config.cell and config.n_layers against the Trax model.")
    params = {"embed": {"embedding": leaves[0]},
              "dense": {"kernel": leaves[-2], "bias": leaves[-1]}}
    for i in range(config.n_layers):
        start = 1 + i * len(names)
        params[f"{config.cell}_{i}"] = dict(
            zip(names, leaves[start:start + len(names)]))
    # Shapes must be this model's (a wrong d_model fails here, not later).
    want = jax.eval_shape(lambda: initial_params(config))
    got = jax.tree_util.tree_map(lambda x: x.shape, params)
    if got != jax.tree_util.tree_map(lambda x: x.shape, want):
        raise ValueError(f"The Trax weights' shapes {got} are not those of "
                         f"this config's model: check config.d_model and "
                         f"config.vocab_size.")
    return params
