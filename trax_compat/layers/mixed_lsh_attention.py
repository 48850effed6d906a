"""Trax's ``MixedLSHSelfAttention``, exported from
``trax_compat.layers.efficient_attention`` as Trax has it: a weightless
attention that takes ``PureLSHSelfAttention``'s inputs (queries/keys and
values split into heads, an optional mask) and runs LSH attention on
sequences longer than ``std_length``, plain dot-product attention on the
others (queries doubling as keys).

The state is the two parts' states, ``(lsh_state, std_state)``; there are
no weights, as in Trax. The choice is made from the input's static length,
so a model decodes one token at a time through the dot-product part once
``std_length`` is at least 1, with that part's own cache.
"""

import jax
import jax.numpy as jnp

from trax_compat.fastmath import random as trax_random
from trax_compat.layers import attention
from trax_compat.layers import base
from trax_compat.layers import combinators as cb
from trax_compat.layers import core
from trax_compat.layers.pure_lsh_attention import PureLSHSelfAttention


def _heads_mask(n_heads):
    """(batch, length) mask -> (batch * n_heads, 1, length), one row per
    (example, head), as dot-product attention takes it."""

    def expand(mask):
        batch, length = mask.shape
        mask = jnp.broadcast_to(mask[:, None, :], (batch, n_heads, length))
        return jnp.reshape(mask, (-1, 1, length))
    return expand


def _prefixed(prefix, names):
    if isinstance(names, str):
        return prefix + names
    return tuple(_prefixed(prefix, n) for n in names)


class MixedLSHSelfAttention(base.Layer):
    """LSH attention for inputs longer than ``std_length`` (always, with
    ``std_length=None``), dot-product attention up to it: ``(qk, v) ->
    output`` when causal, ``(qk, v, mask) -> output`` when masked (the
    dot-product part needs exactly one of the two). Other keyword arguments
    go to ``PureLSHSelfAttention``; ``force_no_dropout`` turns both
    dropouts off."""

    def __init__(self, n_heads=1, d_qk=64, d_v=64, causal=False, masked=False,
                 std_length=None, mode="train", output_dropout=0.0,
                 attention_dropout=0.0, force_no_dropout=False,
                 **pure_lsh_implementation_kwargs):
        if force_no_dropout:
            attention_dropout = output_dropout = 0.0
        lsh = PureLSHSelfAttention(
            n_heads=n_heads, d_qk=d_qk, d_v=d_v, causal=causal,
            masked=masked, mode=mode, output_dropout=output_dropout,
            attention_dropout=attention_dropout,
            **pure_lsh_implementation_kwargs)
        if causal:
            std = cb.Serial(
                core.Fn("dup_shared_qk", lambda qk, v: (qk, qk, v), n_out=3),
                attention.DotProductCausalAttention(dropout=attention_dropout,
                                                    mode=mode))
        else:
            add_heads = _heads_mask(n_heads)
            std = cb.Serial(
                core.Fn("dup_shared_qk_and_make_mask",
                        lambda qk, v, m: (qk, qk, v, add_heads(m)), n_out=4),
                attention.DotProductAttention(dropout=attention_dropout,
                                              mode=mode))
        if std.n_in != lsh.n_in:
            raise ValueError(
                f"MixedLSHSelfAttention(causal={causal}, masked={masked}): "
                f"its dot-product part takes {std.n_in} inputs and its LSH "
                f"part {lsh.n_in}; use causal=True with masked=False, or "
                f"causal=False with masked=True.")
        super().__init__(n_in=std.n_in, n_out=std.n_out)
        # Not sublayers, as in Trax: the layer prints alone, its key is not
        # split among them, and each part's state comes from that part's
        # own key (drawn from Python's generator when it was made).
        self._lsha = lsh
        self._stda = std
        self._std_length = std_length

    weight_names = ()

    @property
    def state_names(self):
        std_names = ("std_" + self._stda.sublayers[0].state_names,
                     _prefixed("std_", self._stda.sublayers[1].state_names))
        return (_prefixed("lsh_", self._lsha.state_names), std_names)

    def state_from_flax_state(self, flax_state):
        lsh_state, std_state = super().state_from_flax_state(flax_state)
        if base.is_empty(std_state):
            # Empty states take no Flax entry: the part's own empty tree
            # (one () per sublayer) comes back from the part.
            std_state = self._stda.state
        return (lsh_state, std_state)

    def init_weights_and_state(self, input_signature):
        states = []
        for part in (self._lsha, self._stda):
            _, state = part.init(input_signature)
            states.append(state)
        self.state = tuple(states)
        self.weights = ()

    def _uses_lsh(self, inputs):
        length = (inputs[0] if isinstance(inputs, (tuple, list))
                  else inputs).shape[1]
        return self._std_length is None or length > self._std_length

    def forward(self, inputs):
        lsh_rng, std_rng = trax_random.split(self.rng, 2)
        lsh_state, std_state = self.state
        if self._uses_lsh(inputs):
            outputs, lsh_state = self._lsha.pure_fn(inputs, (), lsh_state,
                                                    lsh_rng)
        else:
            outputs, std_state = self._stda.pure_fn(inputs, ((), ()),
                                                    std_state, std_rng)
        self.state = (lsh_state, std_state)
        return outputs

    def forward_and_or_backward(self, inputs, weights, state, rng,
                                output_grad=None, compute_output=True,
                                update_state=True):
        """For the reversible layers' backward pass: the LSH part reuses the
        buckets kept in ``state`` (those of the forward pass); the
        dot-product part is differentiated as it is. Returns ``(output,
        new_state, inputs_grad, weights_grad)``, each None where not asked
        for (no new state: Trax's backward pass does not advance it)."""
        del weights, update_state
        lsh_rng, std_rng = trax_random.split(rng, 2)
        if self._uses_lsh(inputs):
            output, _, inputs_grad, _ = self._lsha.forward_and_or_backward(
                inputs, (), state[0], lsh_rng, output_grad=output_grad,
                update_state=False)
        else:
            def run(xs):
                return self._stda.pure_fn(xs, ((), ()), state[1], std_rng)[0]
            output, vjp_fn = jax.vjp(run, inputs)
            inputs_grad = None
            if output_grad is not None:
                (inputs_grad,) = vjp_fn(output_grad)
        weights_grad = None if output_grad is None else ()
        return (output if compute_output else None, None, inputs_grad,
                weights_grad)
