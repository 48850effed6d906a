"""Recurrent layers (LSTM, GRU, SRU) built as Trax builds them: a Serial of
a zero state, a Scan over a cell, and a Select dropping the final state;
and Trax's GRU cells made of other layers (``GeneralGRUCell``)."""

import jax
import jax.numpy as jnp

from trax_compat.layers import activation_fns
from trax_compat.layers import base
from trax_compat.layers import combinators as cb
from trax_compat.layers import convolution
from trax_compat.layers import core
from trax_compat.layers import initializers as init
from trax_compat.layers.functional import Fn


class LSTMCell(base.Layer):
    """LSTM cell; weights ``(w, b)``. As in Trax, ``forget_bias`` is added
    to the whole bias vector at init."""

    def __init__(self, n_units, forget_bias=1.0,
                 kernel_initializer=init.GlorotUniformInitializer(),
                 bias_initializer=init.RandomNormalInitializer(1e-6)):
        super().__init__(n_in=2, n_out=2)
        self._n_units = n_units
        self._forget_bias = forget_bias
        self._kernel_initializer = kernel_initializer
        self._bias_initializer = bias_initializer

    weight_names = ("kernel", "bias")

    def forward(self, inputs):
        """One step on ``(x, concat(c, h))`` with Trax's gate order
        (i, j, f, o)."""
        x, lstm_state = inputs
        w, b = self.weights
        c, h = jnp.split(lstm_state, 2, axis=-1)
        y = jnp.dot(jnp.concatenate([x, h], axis=-1), w) + b
        i, j, f, o = jnp.split(y, 4, axis=-1)
        new_c = c * jax.nn.sigmoid(f) + jax.nn.sigmoid(i) * jnp.tanh(j)
        new_h = jnp.tanh(new_c) * jax.nn.sigmoid(o)
        return new_h, jnp.concatenate([new_c, new_h], axis=-1)

    def init_weights_and_state(self, input_signature):
        if input_signature[1].shape[-1] != 2 * self._n_units:
            raise ValueError(
                f"Last dimension of state (shape: "
                f"{input_signature[1].shape}) must be equal to 2*n_units "
                f"({2 * self._n_units})")
        d_in = input_signature[0].shape[-1] + self._n_units
        rng1, rng2 = jax.random.split(self.rng, 2)
        w = self._kernel_initializer((d_in, 4 * self._n_units), rng1)
        b = (self._bias_initializer((4 * self._n_units,), rng2)
             + self._forget_bias)
        self._weights = (w, b)



class GRUCell(base.Layer):
    """GRU cell; weights ``(w_gates, b_gates, w_candidate, b_candidate)``."""

    def __init__(self, n_units, forget_bias=0.0,
                 kernel_initializer=init.RandomUniformInitializer(0.01),
                 bias_initializer=init.RandomNormalInitializer(1e-6)):
        super().__init__(n_in=2, n_out=2)
        self._n_units = n_units
        self._forget_bias = forget_bias
        self._kernel_initializer = kernel_initializer
        self._bias_initializer = bias_initializer

    weight_names = ("kernel_gates", "bias_gates", "kernel_candidate",
                    "bias_candidate")

    def forward(self, inputs):
        """One step on ``(x, h)`` with Trax's gates (update, reset)."""
        x, gru_state = inputs
        w1, b1, w2, b2 = self.weights
        y = jnp.dot(jnp.concatenate([x, gru_state], axis=-1), w1) + b1
        u, r = jnp.split(jax.nn.sigmoid(y), 2, axis=-1)
        c = jnp.dot(jnp.concatenate([x, r * gru_state], axis=-1), w2) + b2
        new_state = u * gru_state + (1 - u) * jnp.tanh(c)
        return new_state, new_state

    def init_weights_and_state(self, input_signature):
        if input_signature[1].shape[-1] != self._n_units:
            raise ValueError(
                f"Second argument in input signature should have a final "
                f"dimension of {self._n_units}; instead got "
                f"{input_signature[1].shape[-1]}.")
        d_in = input_signature[0].shape[-1] + self._n_units
        n = self._n_units
        rng1, rng2, rng3, rng4 = jax.random.split(self.rng, 4)
        self._weights = (
            self._kernel_initializer((d_in, 2 * n), rng1),
            self._bias_initializer((2 * n,), rng2) + self._forget_bias,
            self._kernel_initializer((d_in, n), rng3),
            self._bias_initializer((n,), rng4))



def MakeZeroState(depth_multiplier=1):  # pylint: disable=invalid-name
    """Zeros of shape ``(batch, depth_multiplier * depth)`` for a rank-3
    input."""
    def f(x):
        if len(x.shape) != 3:
            raise ValueError(
                f"Layer input should be a rank 3 tensor representing "
                f"(batch_size, sequence_length, feature_depth); instead got "
                f"shape {x.shape}.")
        return jnp.zeros((x.shape[0], depth_multiplier * x.shape[-1]),
                         dtype=jnp.float32)
    return Fn("MakeZeroState", f)


def LSTM(n_units, mode="train", return_state=False, initial_state=False):  # pylint: disable=invalid-name
    """LSTM over axis 1 of ``(batch, length, depth)`` inputs."""
    layers = []
    if not initial_state:
        layers.append(cb.Branch([], MakeZeroState(depth_multiplier=2)))
    layers.append(cb.Scan(LSTMCell(n_units=n_units), axis=1, mode=mode))
    if not return_state:
        layers.append(cb.Select([0], n_in=2))
    return cb.Serial(*layers, name=f"LSTM_{n_units}", sublayers_to_print=[])


def GRU(n_units, mode="train"):  # pylint: disable=invalid-name
    """GRU over axis 1 of ``(batch, length, depth)`` inputs."""
    return cb.Serial(
        cb.Branch([], MakeZeroState()),
        cb.Scan(GRUCell(n_units=n_units), axis=1, mode=mode),
        cb.Select([0], n_in=2),
        name=f"GRU_{n_units}", sublayers_to_print=[])


def ConvGRUCell(n_units, kernel_size=(3, 3)):  # pylint: disable=invalid-name
    """Convolutional GRU (arXiv:1511.06432): ``GeneralGRUCell`` with
    ``Conv(n_units, kernel_size, padding='SAME')`` transforms."""

    def conv():
        return convolution.Conv(filters=n_units, kernel_size=kernel_size,
                                padding="SAME")

    return GeneralGRUCell(candidate_transform=conv, memory_transform_fn=None,
                          gate_nonlinearity=activation_fns.Sigmoid,
                          candidate_nonlinearity=activation_fns.Tanh)


def GeneralGRUCell(candidate_transform, memory_transform_fn=None,  # pylint: disable=invalid-name
                   gate_nonlinearity=activation_fns.Sigmoid,
                   candidate_nonlinearity=activation_fns.Tanh,
                   dropout_rate_c=0.1, sigmoid_bias=0.5):
    """A one-input GRU cell on the state ``s`` built from layer factories:
    ``u * s + (1 - u) * c`` with gate ``u = gate(T(s) + sigmoid_bias)`` and
    candidate ``c = Dropout(cand(T(r * s)))``, ``r`` a second gate like
    ``u``; each ``T`` is a fresh ``candidate_transform()``."""
    def gate_block():
        return [candidate_transform(), _AddSigmoidBias(sigmoid_bias),
                gate_nonlinearity()]

    update_gate = gate_block()
    candidate_block = [cb.Dup(), gate_block(), cb.Multiply(),
                       candidate_transform(), candidate_nonlinearity(),
                       core.Dropout(rate=dropout_rate_c)]
    memory = memory_transform_fn() if memory_transform_fn else []
    return cb.Serial(cb.Branch(memory, update_gate, candidate_block),
                     cb.Gate())


def _AddSigmoidBias(sigmoid_bias):  # pylint: disable=invalid-name
    # The name is not formatted in Trax either: reprs show the braces.
    return Fn("AddSigmoidBias({sigmoid_bias})", lambda x: x + sigmoid_bias)


def InnerSRUCell():  # pylint: disable=invalid-name
    """One SRU step on ``(x * (1 - f), f, c)``: the new ``c``, twice."""
    def f(cur_x_times_one_minus_f, cur_f, cur_state):
        res = cur_f * cur_state + cur_x_times_one_minus_f
        return res, res
    return Fn("InnerSRUCell", f, n_out=2)


def ScanSRUCell(mode, monkey_patched_mask=None):  # pylint: disable=invalid-name
    """``InnerSRUCell`` scanned over axis 1. With ``monkey_patched_mask`` (an
    object whose ``get_layer()`` pushes a mask; predict mode only, as in
    Trax's Terraformer) masked positions keep the previous state."""
    if monkey_patched_mask is None:
        return cb.Scan(InnerSRUCell(), axis=1, mode=mode)
    if mode != "predict":
        raise ValueError(
            f"ScanSRUCell: monkey_patched_mask is only supported with "
            f"mode='predict'; got mode={mode!r}.")

    def update_mask(mask, x_times_one_minus_f):
        ones = jnp.ones(x_times_one_minus_f.shape[:2], dtype=jnp.float32)
        if ones.shape[1] > 1:
            # The mask covers the first positions; later ones are kept.
            mask = jax.lax.dynamic_update_slice_in_dim(
                ones != 0, mask != 0, 1, axis=1)
        else:
            mask = ones
        return mask, x_times_one_minus_f

    def masked_cell(cur_mask, cur_x_times_one_minus_f, cur_f, cur_state):
        res = ((cur_f * cur_state + cur_x_times_one_minus_f) * cur_mask
               + (1 - cur_mask) * cur_state)
        return res, res

    return cb.Serial(
        monkey_patched_mask.get_layer(),
        Fn("update_mask", update_mask, n_out=2),
        cb.Scan(Fn("MaskedInnerSRUCell", masked_cell, n_out=2), axis=1,
                mode=mode))


def SRU(n_units, activation=None, mode="train"):  # pylint: disable=invalid-name
    """Simple Recurrent Unit (arXiv:1709.02755) over axis 1, composed as in
    Trax (one Dense for r, f, y; a Scan for the recurrence)."""
    sigmoid = activation_fns.Sigmoid()
    return cb.Serial(
        cb.Branch(core.Dense(3 * n_units), []),
        cb.Split(n_items=3),
        cb.Parallel(sigmoid, sigmoid),
        Fn("", lambda r, f, y: (y * (1.0 - f), f, r), n_out=3),
        cb.Parallel([], [], cb.Branch(MakeZeroState(), [])),
        ScanSRUCell(mode=mode),
        cb.Select([0], n_in=2),
        activation if activation is not None else [],
        Fn("FinalSRUGate", lambda c, r, x: c * r + x * (1 - r) * (3**0.5)),
        name=f"SRU_{n_units}", sublayers_to_print=[])
