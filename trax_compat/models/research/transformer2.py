"""The layers of Trax's ``trax.models.research.transformer2`` that join an
encoder's and a decoder's sequences into one (the Terraformer's decoder
runs over both): each example's encoder positions without their padding,
then its decoder positions, then zeros; and the inverse, which takes the
decoder positions back out. In 'predict' mode only the first call joins:
later calls carry one decoder position and pass it through (the state
records that the first call happened by growing from shape () to (1,))."""

import jax
import jax.numpy as jnp

from trax_compat.layers import base
from trax_compat.layers import reversible


def _check_shape(what, shape, expected):
    if tuple(shape) != tuple(expected):
        raise ValueError(f"Shape of {what}, {tuple(shape)}, does not equal "
                         f"{tuple(expected)}.")


def concat_with_padding(vec_e, vec_d, mask_e):
    """(B, L1, H) encoder and (B, L2, H) decoder vectors -> (B, L1 + L2, H):
    per example the decoder vectors start right after its last unmasked
    encoder position."""
    batch, len_e, depth = vec_e.shape
    _check_shape("decoder vector", vec_d.shape,
                 (batch, vec_d.shape[1], depth))
    _check_shape("encoder mask", mask_e.shape, (batch, len_e))

    def one_row(row_e, row_d, row_mask):
        joined = jnp.concatenate([row_e, jnp.zeros_like(row_d)], axis=0)
        start = jnp.sum(row_mask, dtype=jnp.int32)
        return jax.lax.dynamic_update_slice(
            joined, row_d, (start, jnp.zeros((), start.dtype)))
    return jax.lax.map(lambda rows: one_row(*rows), (vec_e, vec_d, mask_e))


def strip_from_concatenate_with_padding(vec_ed, tok_e, tok_d):
    """The decoder part (B, L2, H) of joined vectors (B, L1 + L2, H), found
    from the encoder tokens' padding (token 0)."""
    batch, length, depth = vec_ed.shape
    len_e, len_d = tok_e.shape[1], tok_d.shape[1]
    if length != len_e + len_d:
        raise ValueError(
            f"Length from encoder-decoder vectors ({length}) does not equal "
            f"sum of lengths from encoder ({len_e}) and decoder ({len_d}).")
    _check_shape("encoder tokens", tok_e.shape, (batch, len_e))
    _check_shape("decoder tokens", tok_d.shape, (batch, len_d))

    def one_row(row_ed, row_e):
        start = jnp.sum(row_e != 0, dtype=jnp.int32)
        return jax.lax.dynamic_slice(
            row_ed, (start, jnp.zeros((), start.dtype)), (len_d, depth))
    return jax.lax.map(lambda rows: one_row(*rows), (vec_ed, tok_e))


def _first_call(mode, state):
    return mode != "predict" or not state.shape


class StripFromConcatenateWithPadding(base.Layer):
    """(joined vectors, encoder tokens, decoder tokens) -> the decoder
    vectors."""

    def __init__(self, mode="train"):
        super().__init__(n_in=3, n_out=1)
        self._mode = mode

    def init_weights_and_state(self, input_signature):
        del input_signature
        self.state = jnp.array(0, dtype=jnp.int32)

    def forward(self, inputs):
        vec_ed, tok_e, tok_d = inputs
        if _first_call(self._mode, self.state):
            self.state = self.state.reshape((1,))
            return strip_from_concatenate_with_padding(vec_ed, tok_e, tok_d)
        return vec_ed  # later predict calls: only the decoder vector


class ConcatWithPadding(reversible.ReversibleLayer):
    """(encoder vectors, decoder vectors, encoder mask, encoder tokens,
    decoder tokens) -> (joined vectors, encoder tokens, decoder tokens)."""

    def __init__(self, mode="train"):
        super().__init__(n_in=5, n_out=3)
        self._mode = mode

    def init_weights_and_state(self, input_signature):
        del input_signature
        self.state = jnp.array(0, dtype=jnp.int32)

    def forward(self, inputs):
        vec_e, vec_d, mask_e, tok_e, tok_d = inputs
        if _first_call(self._mode, self.state):
            self.state = self.state.reshape((1,))
            return concat_with_padding(vec_e, vec_d, mask_e), tok_e, tok_d
        return vec_d, tok_e, tok_d  # later predict calls

    def reverse(self, output, weights=(), state=(), new_state=(), rng=None):
        del weights, state, new_state, rng
        if self._mode == "predict":
            raise ValueError("ConcatWithPadding cannot reverse in predict "
                             "mode.")
        vec_ed, tok_e, tok_d = output
        vec_d = strip_from_concatenate_with_padding(vec_ed, tok_e, tok_d)
        mask_e = tok_e != 0
        vec_e = vec_ed[:, :tok_e.shape[1], :] * mask_e.astype(
            jnp.float32)[:, :, None]
        return vec_e, vec_d, mask_e, tok_e, tok_d
