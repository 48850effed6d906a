"""Trax's sparse feed-forward blocks (``trax.layers.research.sparsity``):
``SparseFF`` (one active unit in each block of ``n_elements_in_block``,
picked by a low-rank controller), ``BlockSparseFF`` and ``SwitchSparseFF``
(one active expert out of ``n_experts``), with Trax's weights, state and
random draws, so that a key gives Trax's outputs.

Training uses a straight-through Gumbel-softmax: the forward pass runs on
the discrete choice (or, for some batches, on the soft one), the backward
pass sees the softmax (https://arxiv.org/abs/1801.09797, section 2.1).

Inside a reversible block the backward pass recomputes the block from its
inputs; ``_RememberInReverse`` and ``_RecallQuantMaskInReverse`` make that
recomputation reuse the discrete choices of the forward pass (the
reversible layer marks the remembered state with ``running_second_time_yes``).
"""

import jax.numpy as jnp
import numpy as np

from trax_compat import fastmath
from trax_compat.layers import base
from trax_compat.layers import combinators as cb
from trax_compat.layers import core
from trax_compat.layers import initializers as init

# The state flags Trax's reversible layers read and set.
_FIRST_PASS = "running_second_time"
_SECOND_PASS = "running_second_time_yes"


def _check_divides(what, d_ff, n):
    if n < 1 or d_ff % n:
        raise ValueError(
            f"d_ff={d_ff} must be a multiple of {what}={n}; choose {what} "
            f"among the divisors of d_ff.")


def _relu(x):
    # Trax writes ReLU as a where(), whose gradient at 0 is 0.
    return jnp.where(x <= 0, jnp.zeros_like(x), x)


def _gumbel_argmax(rng, log_probs, temperature):
    """argmax of ``log_probs`` plus ``temperature`` times Gumbel noise drawn
    from ``rng`` as Trax draws it."""
    u = fastmath.random.uniform(rng, log_probs.shape, jnp.float32,
                                1e-6, 1.0 - 1e-6)
    return jnp.argmax(log_probs - temperature * jnp.log(-jnp.log(u)),
                      axis=-1)


def _softmax_and_log(logits):
    log_p = logits - fastmath.logsumexp(logits, axis=-1, keepdims=True)
    return jnp.exp(log_p), log_p


def _straight_through(hard_choice, n, soft):
    """One-hot ``hard_choice`` in the forward pass, ``soft``'s gradient."""
    hard = fastmath.stop_gradient(core.one_hot(hard_choice, n))
    return hard + (soft - fastmath.stop_gradient(soft))


class _RememberInReverse(base.Layer):
    """Passes its input (or, with ``output=False``, consumes it) and keeps
    it as state. When a reversible layer recomputes it in its backward pass
    (the state flagged ``running_second_time_yes``), it gives the kept
    input instead of the new one."""

    def __init__(self, output=True):
        super().__init__(name="_RememberInReverse", n_out=1 if output else 0)
        self._output = output

    def forward(self, x):
        kept, flags = self.state
        result = kept if _SECOND_PASS in flags else x
        self.state = (x, {_FIRST_PASS: ()})
        return result if self._output else ()

    def init_weights_and_state(self, input_signature):
        if isinstance(input_signature, (list, tuple)):
            input_signature = input_signature[0]
        self.state = (jnp.zeros(input_signature.shape, jnp.int32),
                      {_FIRST_PASS: ()})


class _RecallQuantMaskInReverse(base.Layer):
    """Returns its input and a quantisation mask: all -1 (compute a new
    one) in a forward pass, the one ``remember_layer`` kept when a
    reversible layer recomputes the block for its gradients."""

    def __init__(self, remember_layer, elements):
        super().__init__(name="_RecallQuantMaskInReverse", n_in=1, n_out=2)
        self._remember_layer = remember_layer
        self._elements = elements

    def forward(self, x):
        remembered = self._remember_layer.state
        if remembered and _SECOND_PASS in remembered[1]:
            return x, remembered[0]
        return x, -jnp.ones((x.shape[0], self._elements), jnp.int32)


class _SparseFFController(base.Layer):
    """The low-rank controller of ``SparseFF``: from ``(x, recalled_mask)``
    the chosen unit of each block (and, when asked, the softmax over each
    block). Weights: ``m1`` [d_model, d_lowrank], ``m2`` [d_lowrank,
    d_ff/n, n] and the bias ``mb`` [d_ff/n, n]."""

    weight_names = ("m1", "m2", "mb")

    def __init__(self, d_ff, n_elements_in_block, d_lowrank, temperature,
                 use_bfloat16, mode, kernel_initializer, bias_initializer,
                 also_return_nondiscrete_output):
        super().__init__(name=f"_SparseFFController_{d_ff}", n_in=2,
                         n_out=2 if also_return_nondiscrete_output else 1)
        _check_divides("n_elements_in_block", d_ff, n_elements_in_block)
        self._d_ff = d_ff
        self._n_blocks = d_ff // n_elements_in_block
        self._block = n_elements_in_block
        self._d_lowrank = d_lowrank
        # The Gumbel noise is a training device only.
        self._temperature = temperature if mode == "train" else 0.0
        self._use_bfloat16 = use_bfloat16
        self._mode = mode
        self._kernel_initializer = kernel_initializer
        self._bias_initializer = bias_initializer
        self._with_soft = also_return_nondiscrete_output

    def forward(self, inputs):
        x, recalled = inputs
        m1, m2, mb = self.weights
        x = jnp.reshape(x, (-1, x.shape[-1]))
        logits = jnp.einsum("bd,dl,lxy->bxy", x, m1, m2) + mb
        if self._with_soft:
            soft, log_soft = _softmax_and_log(logits)
            if self._temperature == 0.0:
                choice = jnp.argmax(log_soft, axis=-1)
            else:
                choice = _gumbel_argmax(self.rng, log_soft, self._temperature)
        else:
            choice = jnp.argmax(logits, axis=-1)
        if self._mode == "train":
            # -1: no mask recalled from a forward pass, use the new one.
            choice = jnp.where(recalled == -1, choice, recalled)
        return (choice, soft) if self._with_soft else choice

    def init_weights_and_state(self, input_signature):
        d_model = input_signature[0].shape[-1]
        keys = fastmath.random.split(self.rng, 3)
        m1 = self._kernel_initializer((d_model, self._d_lowrank), keys[0])
        m2 = self._kernel_initializer((self._d_lowrank, self._d_ff), keys[1])
        mb = self._bias_initializer((self._d_ff,), keys[2])
        if self._use_bfloat16:
            m1, m2, mb = (w.astype(jnp.bfloat16) for w in (m1, m2, mb))
        blocks = (self._n_blocks, self._block)
        self.weights = (m1, jnp.reshape(m2, (self._d_lowrank,) + blocks),
                        jnp.reshape(mb, blocks))


class _SparseFFMain(base.Layer):
    """The feed-forward part of ``SparseFF``: from ``(choice, [soft,] x)``
    returns ``(choice, y)``. Weights: ``w1`` [d_model, d_ff/n, n], ``w2``
    [n, d_ff/n, d_model] and ``b2`` [d_model]."""

    weight_names = ("w1", "w2", "b2")

    def __init__(self, d_ff, n_elements_in_block, d_lowrank, quant_prob,
                 use_bfloat16, big_weights_in_bfloat16, mode,
                 kernel_initializer, bias_initializer,
                 multiply_by_controller_output, kernel_scaling):
        with_soft = mode == "train" or multiply_by_controller_output
        super().__init__(name=f"_SparseFFMain_{d_ff}",
                         n_in=3 if with_soft else 2, n_out=2)
        _check_divides("n_elements_in_block", d_ff, n_elements_in_block)
        del d_lowrank  # The controller's.
        self._d_ff = d_ff
        self._n_blocks = d_ff // n_elements_in_block
        self._block = n_elements_in_block
        self._quant_prob = quant_prob
        self._use_bfloat16 = use_bfloat16
        self._big_weights_in_bfloat16 = big_weights_in_bfloat16
        self._mode = mode
        self._kernel_initializer = kernel_initializer
        self._bias_initializer = bias_initializer
        self._multiply = multiply_by_controller_output
        self._kernel_scaling = kernel_scaling
        self._with_soft = with_soft

    def forward(self, inputs):
        if self._with_soft:
            choice, soft, x = inputs
        else:
            (choice, x), soft = inputs, None
        w1, w2, b2 = self.weights
        shape = x.shape
        x = jnp.reshape(x, (-1, shape[-1]))
        if self._mode == "predict":
            y = self._gathered(x, choice, soft, w1, w2, b2)
        else:
            y = self._dense(x, choice, soft, w1, w2, b2)
        return choice, jnp.reshape(y, shape)

    def _dense(self, x, choice, soft, w1, w2, b2):
        """All units computed, the unchosen ones masked out."""
        if self._mode == "train":
            mask = _straight_through(choice, self._block, soft)
            # Some batches (quant_prob of them) use the hard mask, the
            # others the soft one.
            draw = fastmath.random.uniform(self.rng, (), jnp.float32,
                                           0.0, 1.0)
            use_hard = draw < self._quant_prob
            mask = jnp.where(use_hard, mask, soft)
        else:
            mask = core.one_hot(choice, self._block)
        hidden = _relu(jnp.einsum("bd,dxy->bxy", x, w1) * mask)
        if self._multiply:
            if self._mode == "train":
                # The soft batches are scaled already; no second gradient
                # path through the scale.
                hidden = hidden * fastmath.stop_gradient(
                    jnp.where(use_hard, soft, jnp.ones_like(soft)))
            else:
                hidden = hidden * soft
        return jnp.einsum("bxy,yxd->bd", hidden, w2) + b2

    def _gathered(self, x, choice, soft, w1, w2, b2):
        """Only the chosen unit of each block fetched: as inference would."""
        w1 = jnp.transpose(w1, (1, 2, 0))  # [blocks, n, d_model]
        w2 = jnp.transpose(w2, (1, 0, 2))  # [blocks, n, d_model]
        batch = choice.shape[0]
        blocks = jnp.tile(jnp.arange(self._n_blocks), batch)
        units = jnp.reshape(choice, (-1,))
        w_in = jnp.reshape(w1[blocks, units, :], (batch, self._n_blocks, -1))
        hidden = _relu(jnp.einsum("ai,aji->aj", x, w_in))
        if self._multiply:
            hidden = hidden * jnp.take_along_axis(
                soft, choice[..., None], -1)[..., 0]
        w_out = jnp.reshape(w2[blocks, units, :], (batch, self._n_blocks, -1))
        return jnp.einsum("ai,aij->aj", hidden, w_out) + b2

    def init_weights_and_state(self, input_signature):
        d_model = input_signature[-1].shape[-1]
        keys = fastmath.random.split(self.rng, 3)
        w1 = self._kernel_initializer((d_model, self._d_ff), keys[0])
        w2 = self._kernel_initializer((self._d_ff, d_model), keys[1])
        b2 = self._bias_initializer((d_model,), keys[2])
        if self._use_bfloat16:
            b2 = b2.astype(jnp.bfloat16)
        if self._use_bfloat16 or self._big_weights_in_bfloat16:
            w1, w2 = w1.astype(jnp.bfloat16), w2.astype(jnp.bfloat16)
        w1 = jnp.reshape(w1, (-1, self._n_blocks, self._block))
        w2 = jnp.reshape(w2, (self._block, self._n_blocks, -1))
        if self._kernel_scaling:
            # Output variance independent of the block size.
            w2 = w2 * (self._block ** 0.5)
        self.weights = (w1, w2, b2)


def SparseFF(d_ff, n_elements_in_block=32, d_lowrank=64, temperature=0.1,  # pylint: disable=invalid-name
             quant_prob=0.3, use_bfloat16=False,
             big_weights_in_bfloat16=False, mode="train",
             kernel_initializer=init.GlorotUniformInitializer(),
             bias_initializer=init.RandomNormalInitializer(1e-6),
             dropout_rate=0.0, dropout_shared_axes=None, ff_chunk_size=0,
             multiply_by_controller_output=False, kernel_scaling=False):
    """A Dense(d_ff)-ReLU-Dense block in which each block of
    ``n_elements_in_block`` hidden units has one active unit, chosen by a
    rank-``d_lowrank`` controller (trained by straight-through Gumbel
    softmax at ``temperature``; ``quant_prob`` of the training batches use
    the discrete choice, the rest the softmax). Dropout
    (``dropout_rate``, ``dropout_shared_axes``) follows the block;
    ``ff_chunk_size`` > 0 runs it that many positions at a time; any
    number of leading axes is accepted. In 'predict' mode only the chosen
    units' weights are read."""
    _check_divides("n_elements_in_block", d_ff, n_elements_in_block)
    with_soft = mode == "train" or multiply_by_controller_output
    controller = _SparseFFController(
        d_ff=d_ff, n_elements_in_block=n_elements_in_block,
        d_lowrank=d_lowrank, temperature=temperature,
        use_bfloat16=use_bfloat16, mode=mode,
        kernel_initializer=kernel_initializer,
        bias_initializer=bias_initializer,
        also_return_nondiscrete_output=with_soft)
    main = _SparseFFMain(
        d_ff=d_ff, n_elements_in_block=n_elements_in_block,
        d_lowrank=d_lowrank, quant_prob=quant_prob,
        use_bfloat16=use_bfloat16,
        big_weights_in_bfloat16=big_weights_in_bfloat16, mode=mode,
        kernel_initializer=kernel_initializer,
        bias_initializer=bias_initializer,
        multiply_by_controller_output=multiply_by_controller_output,
        kernel_scaling=kernel_scaling)
    # The mask is kept after chunking and recalled before it, so that a
    # reversible backward pass sees the same mask chunk by chunk.
    remember = _RememberInReverse(output=False)
    recall = _RecallQuantMaskInReverse(
        remember_layer=remember, elements=d_ff // n_elements_in_block)
    block = cb.Serial(
        cb.Select((0, 1, 0)),         # x, recalled, x
        controller,                   # choice, [soft,] x
        main,                         # choice, y
        cb.Select([1, 0]),            # y, choice
        core.Dropout(rate=dropout_rate, shared_axes=dropout_shared_axes,
                     mode=mode),
        cb.Select([1, 0]))            # choice, y
    return cb.BatchLeadingAxes(cb.Serial(
        recall, cb.Chunk(chunk_size=ff_chunk_size, layer=block), remember))


class _ExpertsFF(base.Layer):
    """What ``BlockSparseFF`` and ``SwitchSparseFF`` share: a router ``m1``
    [d_model, n_experts] choosing one block (expert) of ``d_ff/n_experts``
    hidden units of ``w1`` [d_model, d_ff], ``w2`` [d_ff, d_model] and
    ``b2``."""

    weight_names = ("m1", "w1", "w2", "b2")

    def __init__(self, d_ff, n_experts, temperature, mode,
                 kernel_initializer, bias_initializer):
        super().__init__(name=f"{type(self).__name__}_{d_ff}")
        _check_divides("n_experts", d_ff, n_experts)
        self._d_ff = d_ff
        self._n_experts = n_experts
        self._expert_size = d_ff // n_experts
        self._temperature = temperature if mode == "train" else 0.0
        self._mode = mode
        self._kernel_initializer = kernel_initializer
        self._bias_initializer = bias_initializer

    def _route(self, x, m1):
        """(softmax over the experts, chosen expert, key for the rest)."""
        soft, log_soft = _softmax_and_log(jnp.dot(x, m1))
        gumbel_key, other_key = fastmath.random.split(self.rng, 2)
        chosen = _gumbel_argmax(gumbel_key, log_soft, self._temperature)
        return soft, chosen, other_key

    def _expert_weights(self, expert, w1, w2):
        start = expert * self._expert_size
        w_in = fastmath.dynamic_slice(w1, [0, start],
                                      [w1.shape[0], self._expert_size])
        w_out = fastmath.dynamic_slice(w2, [start, 0],
                                       [self._expert_size, w2.shape[-1]])
        return w_in, w_out

    def _masked(self, x, mask, w1, w2, b2):
        """All experts computed, each scaled by its entry of ``mask``."""
        unit_mask = jnp.repeat(mask, self._expert_size, axis=-1)
        return jnp.dot(_relu(jnp.dot(x, w1) * unit_mask), w2) + b2

    def init_weights_and_state(self, input_signature):
        d_model = input_signature.shape[-1]
        keys = fastmath.random.split(self.rng, 4)
        self.weights = (
            self._kernel_initializer((d_model, self._n_experts), keys[0]),
            self._kernel_initializer((d_model, self._d_ff), keys[1]),
            self._kernel_initializer((self._d_ff, d_model), keys[2]),
            self._bias_initializer((d_model,), keys[3]))


class BlockSparseFF(_ExpertsFF):
    """A Dense(d_ff)-ReLU-Dense block split into ``n_experts`` blocks of
    hidden units, one of them active per position: chosen by a router
    trained with straight-through Gumbel softmax at ``temperature`` (half of
    the training batches use the softmax instead). In 'predict' mode with
    one position only the chosen block's weights are read."""

    def __init__(self, d_ff, n_experts=64, temperature=0.7, mode="train",
                 kernel_initializer=init.GlorotUniformInitializer(),
                 bias_initializer=init.RandomNormalInitializer(1e-6)):
        super().__init__(d_ff, n_experts, temperature, mode,
                         kernel_initializer, bias_initializer)

    def forward(self, x):
        m1, w1, w2, b2 = self.weights
        shape = x.shape
        x = jnp.reshape(x, (-1, shape[-1]))
        soft, chosen, select_key = self._route(x, m1)
        if self._mode == "train":
            mask = _straight_through(chosen, self._n_experts, soft)
            draw = fastmath.random.uniform(select_key, (), jnp.float32,
                                           -1.0, 1.0)
            mask = jnp.where(draw > 0.0, mask, soft)
        else:
            mask = core.one_hot(chosen, self._n_experts)
        if self._mode == "predict" and x.shape[0] == 1:
            w_in, w_out = self._expert_weights(chosen[0], w1, w2)
            y = jnp.dot(_relu(jnp.dot(x, w_in)), w_out) + b2
        else:
            y = self._masked(x, mask, w1, w2, b2)
        return jnp.reshape(y, shape)


class SwitchSparseFF(_ExpertsFF):
    """As ``BlockSparseFF``, trained as the Switch Transformer is: the
    chosen expert's output is scaled by its router probability (the
    gradient reaches the router through that scale)."""

    def __init__(self, d_ff, n_experts=64, temperature=0.1, mode="train",
                 kernel_initializer=init.GlorotUniformInitializer(),
                 bias_initializer=init.RandomNormalInitializer(1e-6)):
        super().__init__(d_ff, n_experts, temperature, mode,
                         kernel_initializer, bias_initializer)

    def forward(self, x):
        m1, w1, w2, b2 = self.weights
        shape = x.shape
        x = jnp.reshape(x, (-1, shape[-1]))
        soft, chosen, _ = self._route(x, m1)
        if self._mode == "predict" and x.shape[0] == 1:
            prob = soft[np.arange(1), chosen]
            w_in, w_out = self._expert_weights(chosen[0], w1, w2)
            hidden = jnp.dot(x, w_in) * prob[:, None]
            y = jnp.dot(_relu(hidden), w_out) + b2
        else:
            hard = fastmath.stop_gradient(
                core.one_hot(chosen, self._n_experts))
            y = self._masked(x, hard * soft, w1, w2, b2)
        return jnp.reshape(y, shape)
