"""Trax's weightless LSH attention (``PureLSHSelfAttention``) and the layer
that projects its inputs (``PureLSHSelfAttentionWrapper``), both exported
from ``trax_compat.layers.efficient_attention`` as Trax has them.

``PureLSHSelfAttention`` takes queries/keys and values already projected
and split into heads, shaped (batch * n_heads, length, d_head), and an
optional mask (batch, length). Each of the batch * n_heads rows is one
attention "head" with its own hash key in the state; hashing, sorting,
chunked attention and the 'predict' memory are those of
``LSHSelfAttention``, without the projections.
"""

import functools

import jax
import jax.numpy as jnp

from trax_compat.layers import attention
from trax_compat.layers import combinators as cb
from trax_compat.layers import core
from trax_compat.layers import efficient_attention as ea
from trax_compat.layers.research import rotary_positional_embedding as rotary


class PureLSHSelfAttention(ea._EfficientAttention):  # pylint: disable=protected-access
    """LSH self-attention without weights: ``(qk, v[, mask]) -> output``,
    qk and v (batch * n_heads, length, d_head), the mask (batch, length)
    True at valid tokens. The output keeps v's shape (heads unmerged)."""

    weight_names = ()

    def __init__(self, n_heads=2, d_qk=64, d_v=64, share_qk="unused",
                 causal=False, masked=False, chunk_len=128, n_chunks_before=1,
                 n_chunks_after=0, n_hashes=1, n_buckets=None, mode="train",
                 predict_mem_len=2048, predict_drop_len=256,
                 attention_dropout=0.0, output_dropout=0.0,
                 max_length_for_buckets=None, bias=False, n_parallel_heads=1,
                 use_python_loop=False, use_reference_code=False):
        # The projections (and so bias) live outside this layer; as in Trax,
        # output_dropout is accepted and not applied.
        del share_qk, bias, use_python_loop
        if use_reference_code:
            raise NotImplementedError(
                "PureLSHSelfAttention(use_reference_code=True): Trax has no "
                "reference code for this layer either; leave it False.")
        super().__init__(n_heads, 3 if masked else 2, d_qk, d_v, mode,
                         attention_dropout, output_dropout, n_parallel_heads)
        self._set_predict_memory(mode, causal, chunk_len, n_chunks_before,
                                 predict_mem_len, predict_drop_len)
        if self._incremental and masked:
            raise ValueError(
                "PureLSHSelfAttention(mode='predict') takes no mask: fast "
                "inference is causal decoding; use masked=False.")
        if n_buckets is not None:
            ea._bucket_factors(n_buckets)  # pylint: disable=protected-access
        self._causal = causal
        self._masked = masked
        self._chunk_len = chunk_len
        self._n_chunks_before = n_chunks_before
        self._n_chunks_after = n_chunks_after
        self._n_hashes = n_hashes
        self._n_buckets = n_buckets
        self._max_length_for_buckets = max_length_for_buckets

    @property
    def state_names(self):
        if not self._incremental:
            return ("buckets", "hash_rng")
        return ("mem_end", ("mem_qk", "mem_v"),
                ("buckets", "buckets_index", "hash_rng"))

    def init_weights_and_state(self, input_signature):
        n_expected = 3 if self._masked else 2
        if not (isinstance(input_signature, (tuple, list))
                and len(input_signature) == n_expected):
            raise ValueError(
                f"PureLSHSelfAttention(masked={self._masked}) takes "
                f"{n_expected} inputs (qk, v{', mask' if self._masked else ''}"
                f"); got the input signature {input_signature!r}.")
        qk_sig, v_sig = input_signature[0], input_signature[1]
        batch_x_heads = int(qk_sig.shape[0])
        if batch_x_heads % self._n_heads:
            raise ValueError(
                f"PureLSHSelfAttention: the inputs' first axis (batch * "
                f"n_heads = {batch_x_heads}) must be a multiple of n_heads "
                f"({self._n_heads}); split the heads into the batch axis "
                f"first (SplitIntoHeads).")
        length = int(qk_sig.shape[1])
        rngs = jax.random.split(self.rng, batch_x_heads)
        if self._incremental:
            n = self._n_hashes * self._predict_mem_len
            heads = (jnp.zeros((batch_x_heads, n), jnp.int32),
                     jnp.zeros((batch_x_heads,), jnp.int32), rngs)
            mem = tuple(jnp.zeros((batch_x_heads, self._predict_mem_len)
                                  + tuple(s.shape[2:]), dtype=s.dtype)
                        for s in (qk_sig, v_sig))
            self.state = (jnp.zeros((), jnp.int32), mem, heads)
        else:
            n = self._n_hashes * (self._max_length_for_buckets or length)
            self.state = (jnp.zeros((batch_x_heads, n), jnp.int32), rngs)
        self.weights = ()

    def hash_vectors(self, vecs, rng, mask=None):
        """Bucket ids of ``vecs`` (length, d) for every hash round, offset
        per round: shape (n_hashes * length,)."""
        return ea._lsh_buckets(vecs, rng, self._n_buckets, self._chunk_len,  # pylint: disable=protected-access
                               self._n_hashes, mask)

    def _forward_unbatched(self, qk, v, mask=None, *, state, rng,
                           update_state):
        attend_rng, _ = jax.random.split(rng)
        return ea.lsh_attend_unbatched(self, qk, v, mask, state=state,
                                       rng=attend_rng,
                                       update_state=update_state)

    def _incremental_forward_unbatched(self, qk, v, *, q_start, q_len, state,
                                       rng, update_state):
        if not update_state:
            raise NotImplementedError(
                "PureLSHSelfAttention has no backward pass in 'predict' mode "
                "(neither has Trax's).")
        n_hashes = self._n_hashes
        buckets, buckets_idx, hash_rng = state
        if q_len > 1:
            # A prefix at the start of a sequence: the full pass, hashed
            # with the state's key unchanged.
            if qk.shape[0] % self._chunk_len:
                pad = self._chunk_len - qk.shape[0] % self._chunk_len
                qk = jnp.pad(qk, ((0, pad), (0, 0)))
                v = jnp.pad(v, ((0, pad), (0, 0)))
            new_buckets = self.hash_vectors(qk, hash_rng)
            out, _ = self._forward_unbatched(
                qk, v, state=(new_buckets, hash_rng), rng=rng,
                update_state=False)
            new_buckets = jnp.reshape(new_buckets, (n_hashes, -1))[:, :q_len]
            if q_len > self._predict_mem_len:
                new_buckets = new_buckets[:, -self._predict_mem_len:]
            table = jax.lax.dynamic_update_slice_in_dim(
                jnp.reshape(buckets, (n_hashes, -1)), new_buckets, q_start,
                axis=1)
            return out[:q_len], (jnp.reshape(table, (-1,)),
                                 buckets_idx + q_len, hash_rng)

        def roll_buckets(b):
            b = jnp.reshape(b, (n_hashes, -1))
            widened = jnp.concatenate(
                [b, jnp.zeros((n_hashes, self._predict_drop_len), b.dtype)],
                axis=1)
            return jnp.reshape(jax.lax.dynamic_slice_in_dim(
                widened, buckets_idx - q_start, b.shape[-1], axis=1), (-1,))
        buckets = jnp.where(buckets_idx > q_start, roll_buckets(buckets),
                            buckets)

        attend_rng, _ = jax.random.split(rng)
        q_range = q_start + jnp.arange(q_len, dtype=jnp.int32)
        # The query twice, as Trax hashes it (a batch of one differs by
        # float rounding on some backends).
        q = jnp.concatenate([qk[q_range]] * 2, 0)
        q_buckets = jnp.reshape(self.hash_vectors(q, hash_rng),
                                (n_hashes, 2))[:, :q_len]
        table = jax.lax.dynamic_update_slice_in_dim(
            jnp.reshape(buckets, (n_hashes, -1)), q_buckets, q_start, axis=1)
        is_valid_target = jnp.any(table == q_buckets, axis=0)

        kv_indices = ea.predict_kv_indices(self, is_valid_target, q_start,
                                           q_len, qk.shape[0])
        k = ea.length_normalized(qk[kv_indices])
        mask_fn = functools.partial(ea.mask_self_attention, causal=True,
                                    masked=True, exclude_self=True)
        o, _ = ea.attend(q, k, v[kv_indices], mask_fn=mask_fn,
                         q_info=q_range, kv_info=kv_indices.astype(jnp.int32),
                         dropout=self._attention_dropout, rng=attend_rng)
        return o[:1], (jnp.reshape(table, (-1,)),
                       (q_start + q_len).astype(buckets_idx.dtype), hash_rng)

    def _run(self, inputs, weights, state, rng, update_state, q_start=None,
             q_len=None):
        """Every (example, head) row on its own: the outputs and the new
        per-row state."""
        del weights
        inputs = tuple(inputs)
        if self._masked and q_start is None:
            # One mask row per example, shared by its heads.
            qk, v, mask = inputs
            inputs = (qk, v, jnp.repeat(mask, self._n_heads, axis=0))
        else:
            inputs = inputs[:2]

        def one_row(x, s):
            if q_start is not None:
                return self._incremental_forward_unbatched(
                    *x, q_start=q_start, q_len=q_len, state=s, rng=rng,
                    update_state=update_state)
            return self._forward_unbatched(*x, state=s, rng=rng,
                                           update_state=update_state)

        out, new_state = jax.vmap(one_row)(inputs, tuple(state))
        return out.astype(inputs[1].dtype), tuple(new_state)


def _project_and_split_heads(d_model, n_heads, use_bias, num_weights,
                             weights_format, rotary_position_emb):
    """The wrapper's input projections: ``x -> (qk, v)`` with heads split
    into the batch axis. Three projections (q, k, v) average q and k."""
    if weights_format != "model":
        raise NotImplementedError(
            f"PureLSHSelfAttentionWrapper(weights_format={weights_format!r}) "
            f"is not available in trax_compat yet (its sparse layers are "
            f"not built); use weights_format='model'.")
    if num_weights == 3:
        return cb.Serial(
            cb.Branch(core.Dense(d_model, use_bias=use_bias),
                      core.Dense(d_model, use_bias=use_bias),
                      core.Dense(d_model, use_bias=use_bias)),
            # Rotary positions turn q and k (before they are averaged).
            cb.Parallel(rotary.Rotate(), rotary.Rotate(), None)
            if rotary_position_emb else [],
            core.Fn("QKAvg", lambda x, y: (x + y) / 2.0, n_out=1),
            cb.Parallel(attention.SplitIntoHeads(n_heads),
                        attention.SplitIntoHeads(n_heads)))
    if num_weights == 2:
        # Without rotary positions an empty list stands there, as in Trax
        # (it shows in the layer's repr).
        return cb.Branch(
            [core.Dense(d_model, use_bias=use_bias),
             rotary.Rotate() if rotary_position_emb else [],
             attention.SplitIntoHeads(n_heads)],
            [core.Dense(d_model, use_bias=use_bias),
             attention.SplitIntoHeads(n_heads)])
    raise ValueError(
        f"PureLSHSelfAttentionWrapper(num_weights={num_weights!r}): use 2 "
        f"(qk and v projections) or 3 (q, k and v, q and k averaged).")


class PureLSHSelfAttentionWrapper(cb.Serial):
    """``PureLSHSelfAttention`` (or the ``pure_lsh_implementation`` given)
    between its projections: x -> q/k, v projections (Dense, d_model =
    d_qk * n_heads), heads split into the batch, attention, heads merged,
    an output Dense. Other keyword arguments go to the attention layer."""

    def __init__(self, n_heads=1, d_qk=64, d_v=64, causal=False, masked=False,
                 output_dropout=0.0, attention_dropout=0.0,
                 pure_lsh_implementation=None, bias=True, mode="train",
                 num_weights=3, sparsity=16, weights_format="model",
                 rotary_position_emb=False,
                 **pure_lsh_implementation_kwargs):
        del sparsity  # only the sparse weights_format, not built, reads it
        if pure_lsh_implementation is None:
            pure_lsh_implementation = PureLSHSelfAttention
        d_model = d_qk * n_heads
        self._qkv = _project_and_split_heads(
            d_model, n_heads, bias, num_weights, weights_format,
            rotary_position_emb)
        self._attn = pure_lsh_implementation(
            n_heads=n_heads, d_qk=d_qk, d_v=d_v, causal=causal, masked=masked,
            mode=mode, output_dropout=output_dropout,
            attention_dropout=attention_dropout,
            **pure_lsh_implementation_kwargs)
        self._merge = attention.MergeHeads(n_heads)
        self._dense = core.Dense(d_model, use_bias=bias)
        super().__init__(self._qkv, self._attn, self._merge, self._dense)

    def forward_and_or_backward(self, inputs, weights, state, rng,
                                output_grad=None, compute_output=True,
                                update_state=True):
        """For the reversible layers' backward pass: the output and
        gradients with the attention's buckets taken from ``state`` (those
        of the forward pass), not hashed again."""
        del update_state  # the state is read, never advanced, here
        rngs = cb._split_keys(rng, len(self.sublayers))  # pylint: disable=protected-access

        def run(xs, ws):
            stack = xs
            for layer, w, s, r in zip(self.sublayers, ws, state, rngs):
                layer_inputs = cb.inputs_from_stack(stack, layer.n_in)
                if layer is self._attn:
                    outputs = layer.forward_and_or_backward(
                        layer_inputs, w, s, r, update_state=False)[0]
                else:
                    outputs, _ = layer.pure_fn(layer_inputs, w, s, r)
                stack = cb.outputs_onto_stack(outputs, stack, layer.n_in)
            return stack

        if output_grad is None:
            return (run(inputs, weights) if compute_output else None, None,
                    None, None)
        output, vjp_fn = jax.vjp(run, inputs, weights)
        inputs_grad, weights_grad = vjp_fn(output_grad)
        return (output if compute_output else None, None, inputs_grad,
                weights_grad)
