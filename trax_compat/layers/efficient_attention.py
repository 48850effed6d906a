"""Reformer's memory-efficient attention layers, as Trax defines them in
``trax.layers.research.efficient_attention``: ``SelfAttention`` (optionally
chunked), ``LSHSelfAttention`` (locality-sensitive-hashing attention) and
``EncDecAttention``; ``PureLSHSelfAttention`` and its wrapper come from
``pure_lsh_attention``, ``MixedLSHSelfAttention`` from
``mixed_lsh_attention``.

Each layer keeps one set of projection weights per head, stacked on a
leading head axis (Trax's layout), and computes one example and one head at a
time in ``_forward_unbatched``; ``forward_and_or_backward`` maps that over
heads and examples and sums the heads' outputs. The key the layer gets is
shared by every example and head, so dropout masks are broadcast as in Trax;
LSH draws its random rotations from a per-(example, head) key in its state,
advanced on every forward pass.

Masks and positions follow Trax exactly, quirks included: positions are
counted from 1 inside ``attend``, so a padding token at position 0 of a
masked ``SelfAttention`` is not masked, and a masked ``EncDecAttention``
shifts every logit by -1e9 (valid) or -2e9 (padding).
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from trax_compat.layers import base

__all__ = ["length_normalized", "hash_vecs", "look_adjacent",
           "mask_self_attention", "attend", "apply_broadcasted_dropout",
           "SelfAttention", "LSHSelfAttention", "EncDecAttention",
           "PureLSHSelfAttention", "PureLSHSelfAttentionWrapper"]


# -- functions ------------------------------------------------------------------

def length_normalized(x, epsilon=1e-6):
    """``x`` divided by the root mean square of its last axis."""
    variance = jnp.mean(x**2, axis=-1, keepdims=True)
    return x / jnp.sqrt(variance + epsilon)


def _bucket_factors(n_buckets):
    """(rotation size, total buckets) for an int or a list of even factors."""
    factors = [n_buckets] if isinstance(n_buckets, int) else list(n_buckets)
    for factor in factors:
        if factor % 2:
            raise ValueError(
                f"n_buckets must be even (or a list of even factors); got "
                f"{n_buckets!r}.")
    return sum(factors), int(np.prod(factors)), factors


def hash_vecs(vecs, n_buckets_in, n_hashes, rng):
    """Angular LSH of ``vecs`` (length, depth): ``(buckets, n_buckets)`` with
    buckets of shape (n_hashes, length). One random rotation per hash round,
    drawn from ``rng`` as one normal array (depth, n_hashes, rot_size / 2)."""
    rot_size, n_buckets, factors = _bucket_factors(n_buckets_in)
    rotations = jax.random.normal(
        rng, (vecs.shape[-1], n_hashes, rot_size // 2)).astype(jnp.float32)
    rotated = jnp.einsum("tf,fhb->htb", vecs, rotations)
    # A bucket is the argmax over the rotated vector and its negation; a
    # list of factors hashes each factor's slice and combines the digits.
    buckets, start, place = None, 0, 1
    for factor in factors:
        part = rotated[..., start:start + factor // 2]
        start += factor // 2
        digit = jnp.argmax(jnp.concatenate([part, -part], axis=-1),
                           axis=-1).astype(jnp.int32)
        buckets = digit if buckets is None else buckets + place * digit
        place *= factor
    return buckets, n_buckets


def look_adjacent(x, n_chunks_before, n_chunks_after):
    """Each chunk of ``x`` (n_chunks, chunk_len, ...) joined with its
    neighbours along axis 1 (wrapping around at the ends)."""
    if n_chunks_before == 0 and n_chunks_after == 0:
        return x
    parts = [x if i == 0 else jnp.concatenate([x[i:], x[:i]], axis=0)
             for i in range(-n_chunks_before, n_chunks_after + 1)]
    return jnp.concatenate(parts, axis=1)


def mask_self_attention(dots, q_info, kv_info, causal=True, exclude_self=True,
                        masked=False):
    """Self-attention masking from positions: future keys (-1e9), the query
    itself (-1e5), keys with a negative position, i.e. padding (-1e9)."""
    q_info = q_info.astype(jnp.float32)
    kv_info = kv_info.astype(jnp.float32)
    if causal:
        dots = dots - 1e9 * jnp.less(q_info, kv_info)
    if exclude_self:
        dots = dots - 1e5 * jnp.equal(q_info, kv_info)
    if masked:
        dots = dots - 1e9 * jnp.less(kv_info, 0.0).astype(jnp.float32)
    return dots


def _chunked(x, chunk_len):
    return jnp.reshape(x, (-1, chunk_len) + tuple(x.shape[1:]))


def attend(q, k=None, v=None, q_chunk_len=None, kv_chunk_len=None,
           n_chunks_before=0, n_chunks_after=0, mask_fn=None, q_info=None,
           kv_info=None, dropout=0.0, rng=None):
    """Dot-product attention of ``q`` (q_len, d) over ``k``/``v``, optionally
    chunked (each query chunk sees its own key chunk and its neighbours).
    With ``k`` None the keys are the length-normalized queries. Returns
    ``(output (q_len, d_v), logsumexp of the logits (q_len,))``."""
    if v is None:
        raise ValueError("attend needs values (v).")
    share_qk = k is None
    # Positions count from 1 here, so that position 0 can be masked too.
    q_info = (jnp.arange(1, q.shape[-2] + 1, dtype=jnp.int32)
              if q_info is None else q_info + 1)
    if kv_info is None and not share_qk:
        kv_info = jnp.arange(1, v.shape[-2] + 1, dtype=jnp.int32)
    elif kv_info is not None:
        kv_info = kv_info + 1

    if q_chunk_len is not None:
        q = _chunked(q, q_chunk_len)
        q_info = _chunked(q_info, q_chunk_len)
    if share_qk:
        if kv_chunk_len is not None and kv_chunk_len != q_chunk_len:
            raise ValueError("Shared queries and keys need one chunk length.")
        k, kv_chunk_len = q, q_chunk_len
        if kv_info is None:
            kv_info = q_info
        elif kv_chunk_len is not None:
            kv_info = _chunked(kv_info, kv_chunk_len)
    elif kv_chunk_len is not None:
        k = _chunked(k, kv_chunk_len)
        kv_info = _chunked(kv_info, kv_chunk_len)
    if kv_chunk_len is not None:
        v = _chunked(v, kv_chunk_len)
    if (q_chunk_len is None) != (kv_chunk_len is None):
        raise ValueError("Chunk both queries and keys, or neither.")
    if q_chunk_len is None and (n_chunks_before or n_chunks_after):
        raise ValueError("Adjacent chunks need a chunk length.")

    if share_qk:
        k = length_normalized(k)
    k = k / jnp.sqrt(k.shape[-1])
    k = look_adjacent(k, n_chunks_before, n_chunks_after)
    v = look_adjacent(v, n_chunks_before, n_chunks_after)
    kv_info = look_adjacent(kv_info, n_chunks_before, n_chunks_after)

    dots = jnp.matmul(q, jnp.swapaxes(k, -1, -2))
    if mask_fn is not None:
        dots = mask_fn(dots, q_info[..., :, None], kv_info[..., None, :])
    dots_logsumexp = jax.scipy.special.logsumexp(dots, axis=-1, keepdims=True)
    dots = jnp.exp(dots - dots_logsumexp)
    if dropout > 0.0:
        # One mask for the last two axes, shared by every chunk.
        keep_prob = 1.0 - dropout
        keep = jax.random.bernoulli(rng, keep_prob, dots.shape[-2:])
        dots = dots * (keep.astype(dots.dtype) / keep_prob)
    out = jnp.matmul(dots, v)
    return (jnp.reshape(out, (-1, out.shape[-1])),
            jnp.reshape(dots_logsumexp, (-1,)))


def apply_broadcasted_dropout(vecs, dropout_rate, rng):
    """Dropout with one mask over the last axis, shared by the others."""
    if dropout_rate <= 0.0:
        return vecs
    keep_prob = 1.0 - dropout_rate
    keep = jax.random.bernoulli(rng, keep_prob, (vecs.shape[-1],))
    return vecs * (keep.astype(vecs.dtype) / keep_prob)


def _lsh_buckets(vecs, rng, n_buckets, chunk_len, n_hashes, mask=None):
    """LSH bucket ids of ``vecs`` (length, d) for every hash round, offset
    per round so rounds never share a bucket: shape (n_hashes * length,).
    Without ``n_buckets``, 2 buckets per chunk (factored past 128); with a
    ``mask`` the padding gets a bucket of its own."""
    n_buckets_list = n_buckets
    if n_buckets_list is None:
        n_buckets = 2 * max(1, vecs.shape[0] // chunk_len)
        if n_buckets <= 128:
            n_buckets_list = n_buckets
        else:
            first = 2**math.ceil(math.log2(math.sqrt(n_buckets)))
            n_buckets_list = [first, 2 * (n_buckets // (2 * first))]
    buckets, n_buckets = hash_vecs(vecs, n_buckets_list, n_hashes, rng)
    if mask is not None:
        n_buckets += 1
        buckets = jnp.where(mask[None, :], buckets, n_buckets - 1)
    offsets = jnp.arange(n_hashes, dtype=jnp.int32) * n_buckets
    return jnp.reshape(buckets + offsets[:, None], (-1,))


# -- layers -----------------------------------------------------------------------

def _unbatched(signature):
    return jax.ShapeDtypeStruct(tuple(signature.shape[1:]), signature.dtype)


def _stack(trees):
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs, axis=0), *trees)


class _EfficientAttention(base.Layer):
    """What the three layers share: per-head weights stacked on axis 0,
    per-(example, head) state stacked on axis 0 (example-major), dropout
    only in train mode, and the batched forward (and backward) pass."""

    def __init__(self, n_heads, n_in, d_qk, d_v, mode, attention_dropout,
                 output_dropout, n_parallel_heads):
        super().__init__(n_in=n_in, n_out=1)
        if n_parallel_heads and (
                (n_parallel_heads > n_heads and n_parallel_heads % n_heads)
                or (n_parallel_heads < n_heads and n_heads % n_parallel_heads)):
            raise ValueError(
                "n_parallel_heads must be a multiple or fraction of n_heads; "
                f"got n_parallel_heads={n_parallel_heads}, n_heads={n_heads}.")
        self._n_heads = n_heads
        # Heads run in parallel here whatever n_parallel_heads asks (it only
        # trades memory for speed in Trax; the results are the same).
        self._n_parallel_heads = n_parallel_heads or None
        self._d_qk = d_qk
        self._d_v = d_v
        self._mode = mode
        train = mode == "train"
        self._attention_dropout = attention_dropout if train else 0.0
        self._output_dropout = output_dropout if train else 0.0
        self._incremental = False
        self._n_mem = 1

    def _set_predict_memory(self, mode, causal, chunk_len, n_chunks_before,
                            predict_mem_len, predict_drop_len):
        """In 'predict' mode the layer keeps the last ``predict_mem_len``
        inputs in its state and drops ``predict_drop_len`` when full
        (defaults from the chunking)."""
        self._incremental = mode == "predict"
        if not self._incremental:
            return
        name = type(self).__name__
        if not causal:
            raise ValueError(
                f"{name}(mode='predict') needs causal=True: only causal "
                f"attention supports fast inference.")
        if chunk_len is None and not (predict_mem_len and predict_drop_len):
            raise ValueError(
                f"{name}(mode='predict') needs chunk_len, or both "
                f"predict_mem_len and predict_drop_len.")
        predict_mem_len = predict_mem_len or chunk_len * (1 + n_chunks_before)
        predict_drop_len = predict_drop_len or chunk_len
        if not 0 < predict_drop_len <= predict_mem_len:
            raise ValueError(
                f"{name}: need 0 < predict_drop_len <= predict_mem_len; got "
                f"predict_mem_len={predict_mem_len}, "
                f"predict_drop_len={predict_drop_len}.")
        self._predict_mem_len = predict_mem_len
        self._predict_drop_len = predict_drop_len

    def _heads_state_names(self):
        return "heads_state"

    @property
    def state_names(self):
        heads = self._heads_state_names()
        if not self._incremental:
            return heads
        return ("mem_end", ("mem", "mem_mask", "mem_2")[:self._n_mem],
                heads)

    def _kernel_initializer(self, shape, rng):
        # Glorot-uniform over all heads' width together, one head at a time.
        lim = np.sqrt(6.0 / (shape[0] + shape[1] * self._n_heads))
        return jax.random.uniform(rng, shape, jnp.float32, -lim, lim)

    def _weight_signature(self, input_signature):
        return input_signature

    def _create_weights_unbatched(self, input_signature, rng):
        raise NotImplementedError

    def _create_state_unbatched(self, input_signature, rng):
        del input_signature, rng
        return ()

    def init_weights_and_state(self, input_signature):
        if not isinstance(input_signature, (tuple, list)):
            input_signature = (input_signature,)
        input_signature = tuple(self._weight_signature(tuple(input_signature)))
        unbatched = tuple(_unbatched(s) for s in input_signature)
        batch_size = int(input_signature[0].shape[0])
        weight_rngs = jax.random.split(self.rng, self._n_heads)
        weights = _stack([self._create_weights_unbatched(unbatched, r)
                          for r in weight_rngs])
        # Trax splits the same key again for the state.
        state_rngs = jax.random.split(self.rng, self._n_heads * batch_size)
        state = _stack([self._create_state_unbatched(unbatched, r)
                        for r in state_rngs])
        if self._incremental:
            mem = tuple(jnp.zeros((s.shape[0], self._predict_mem_len)
                                  + tuple(s.shape[2:]), dtype=s.dtype)
                        for s in input_signature)
            self._n_mem = len(mem)
            state = (jnp.zeros((), dtype=jnp.int32), mem, tuple(state))
        self.state = tuple(state)
        self.weights = tuple(weights)

    def _forward_unbatched(self, *inputs, weights, state, rng, update_state):
        """One example, one head: ``(output (length, d_model), new state)``."""
        raise NotImplementedError

    def _incremental_forward_unbatched(self, *inputs, q_start, q_len,
                                       weights, state, rng, update_state):
        """One example, one head in 'predict' mode: the inputs are the
        memory, the queries the ``q_len`` positions from ``q_start``."""
        raise NotImplementedError

    def _use_predict_mem(self, inputs, state):
        """Puts the new inputs into the memory. Returns (inputs to attend
        over, per-head state, first query position, new memory, its end)."""
        mem_end, mem, state = state
        seqlen = inputs[0].shape[-2]
        mem_len, drop_len = self._predict_mem_len, self._predict_drop_len
        if seqlen <= drop_len and seqlen < mem_len:
            # A few new positions (one, decoding): drop the oldest
            # drop_len when they do not fit, then write them at the end.
            def roll(buf):
                return jnp.concatenate(
                    [buf[:, drop_len:], jnp.zeros_like(buf[:, :drop_len])],
                    axis=1)
            do_roll = mem_end + seqlen > mem_len
            mem = tuple(jnp.where(do_roll, roll(m), m) for m in mem)
            mem_end = jnp.where(do_roll, mem_end - drop_len, mem_end)
            inputs = tuple(
                jax.lax.dynamic_update_slice_in_dim(m, x.astype(m.dtype),
                                                    mem_end, axis=1)
                for m, x in zip(mem, inputs))
            return inputs, state, mem_end, inputs, mem_end + seqlen
        # A long piece at once: only right at the start of a sequence (as
        # in Trax, a later one turns the floats into NaN).
        new_mem = []
        for x in inputs:
            if seqlen >= mem_len:
                new_mem.append(x[:, seqlen - mem_len:])
            else:
                pad = jnp.zeros(x.shape[:1] + (mem_len - seqlen,)
                                + x.shape[2:], dtype=x.dtype)
                new_mem.append(jnp.concatenate([x, pad], axis=1))
        at_start = jnp.equal(mem_end, 0)
        inputs = tuple(jnp.where(at_start, x, x * jnp.nan)
                       if x.dtype == jnp.float32 else x for x in inputs)
        return (inputs, state, jnp.zeros((), jnp.int32), tuple(new_mem),
                jnp.minimum(seqlen, mem_len).astype(jnp.int32))

    def _run(self, inputs, weights, state, rng, update_state, q_start=None,
             q_len=None):
        """All examples and heads: outputs summed over heads, and the new
        state in the layer's example-major layout. With ``q_start`` (predict
        mode) the queries are ``q_len`` positions of the memory."""
        batch_size = int(inputs[0].shape[0])
        n_heads = self._n_heads
        state_bh = jax.tree_util.tree_map(
            lambda s: jnp.reshape(s, (batch_size, n_heads) + s.shape[1:]),
            state)

        def one_head(x, w, s):
            if q_start is not None:
                return self._incremental_forward_unbatched(
                    *x, q_start=q_start, q_len=q_len, weights=w, state=s,
                    rng=rng, update_state=update_state)
            return self._forward_unbatched(*x, weights=w, state=s, rng=rng,
                                           update_state=update_state)

        def one_example(x, s):
            out, new_s = jax.vmap(one_head, in_axes=(None, 0, 0))(
                x, weights, s)
            return jnp.sum(out, axis=0), new_s

        out, new_state = jax.vmap(one_example)(tuple(inputs), state_bh)
        new_state = jax.tree_util.tree_map(
            lambda s: jnp.reshape(s, (batch_size * n_heads,) + s.shape[2:]),
            new_state)
        return out.astype(inputs[0].dtype), new_state

    def _compiled_run(self, update_state, q_len=None):
        """``_run`` compiled once per layer (and input shapes): called
        eagerly, the per-head, per-example work would otherwise dispatch
        hundreds of small operations; inside a jitted step it is inlined."""
        cache = self.__dict__.setdefault("_run_cache", {})
        key = (update_state, q_len)
        if key not in cache:
            cache[key] = jax.jit(functools.partial(
                self._run, update_state=update_state, q_len=q_len))
        return cache[key]

    def __getstate__(self):
        # A copy (deepcopy, pickle) compiles its own functions.
        state = self.__dict__.copy()
        state.pop("_run_cache", None)
        return state

    def forward_and_or_backward(self, inputs, weights, state, rng,
                                output_grad=None, compute_output=True,
                                update_state=True):
        """Trax's efficient-attention entry point (reversible layers call it
        in their backward pass with ``update_state=False``, which reuses the
        hashes kept in ``state``): ``(output, new_state, inputs_grad,
        weights_grad)``, each None where not asked for."""
        single = not isinstance(inputs, (tuple, list))
        inputs = (inputs,) if single else tuple(inputs)
        if self._incremental:
            return self._predict_forward(inputs, weights, state, rng,
                                         output_grad, compute_output,
                                         update_state, single)
        run_all = self._compiled_run(update_state)

        def run(xs, w):
            return run_all(xs, w, state, rng)

        if output_grad is None:
            output, new_state = run(inputs, weights)
            inputs_grad = weights_grad = None
        else:
            output, vjp_fn, new_state = jax.vjp(run, inputs, weights,
                                                has_aux=True)
            inputs_grad, weights_grad = vjp_fn(output_grad)
            if single:
                inputs_grad = inputs_grad[0]
        return (output if compute_output else None,
                tuple(new_state) if update_state else None,
                inputs_grad, weights_grad)

    def _predict_forward(self, inputs, weights, state, rng, output_grad,
                         compute_output, update_state, single):
        seqlen = inputs[0].shape[-2]
        if update_state:
            inputs, heads_state, q_start, new_mem, new_mem_end = (
                self._use_predict_mem(inputs, state))
        else:
            # The memory then holds all the inputs (no backprop past it).
            new_mem_end, inputs, heads_state = state
            q_start = new_mem_end - seqlen
        q_start = jax.lax.stop_gradient(jnp.asarray(q_start, jnp.int32))
        run_all = self._compiled_run(update_state, q_len=seqlen)

        def run(xs, w):
            return run_all(xs, w, heads_state, rng, q_start=q_start)

        if output_grad is None:
            output, new_heads_state = run(inputs, weights)
            inputs_grad = weights_grad = None
        else:
            output, vjp_fn, new_heads_state = jax.vjp(run, inputs, weights,
                                                      has_aux=True)
            inputs_grad, weights_grad = vjp_fn(output_grad)
            if single:
                inputs_grad = inputs_grad[0]
        new_state = None
        if update_state:
            new_state = (new_mem_end, tuple(new_mem), tuple(new_heads_state))
        return (output if compute_output else None, new_state, inputs_grad,
                weights_grad)

    def forward(self, inputs):
        inputs = inputs if isinstance(inputs, (tuple, list)) else (inputs,)
        output, new_state, _, _ = self.forward_and_or_backward(
            inputs, self.weights, self.state, self.rng)
        self.state = new_state
        return output


def _qkv_names(share_qk, bias):
    kernels = (("query", "value", "output") if share_qk
               else ("query", "key", "value", "output"))
    if not bias:
        return kernels
    biases = (("query_bias", "value_bias") if share_qk
              else ("query_bias", "key_bias", "value_bias"))
    return kernels + biases


class SelfAttention(_EfficientAttention):
    """Multi-head self-attention, optionally chunked along the sequence
    (``chunk_len``; each chunk attends to itself and ``n_chunks_before`` /
    ``n_chunks_after`` neighbouring chunks), causal and/or masked (a second
    input, True at valid tokens). ``share_qk`` uses the length-normalized
    queries as keys and keeps a token from attending to itself."""

    def __init__(self, n_heads=2, d_qk=64, d_v=64, share_qk=False,
                 causal=False, masked=False, chunk_len=None,
                 n_chunks_before=0, n_chunks_after=0, bias=False,
                 mode="train", predict_mem_len=None, predict_drop_len=None,
                 attention_dropout=0.0, output_dropout=0.0,
                 n_parallel_heads=None, use_python_loop=False,
                 use_reference_code=False):
        del use_python_loop, use_reference_code  # Same results either way.
        super().__init__(n_heads, 2 if masked else 1, d_qk, d_v, mode,
                         attention_dropout, output_dropout, n_parallel_heads)
        self._set_predict_memory(mode, causal, chunk_len, n_chunks_before,
                                 predict_mem_len, predict_drop_len)
        self._share_qk = share_qk
        self._causal = causal
        self._masked = masked
        self._chunk_len = chunk_len
        self._n_chunks_before = n_chunks_before
        self._n_chunks_after = n_chunks_after
        self._bias = bias

    @property
    def weight_names(self):
        return _qkv_names(self._share_qk, self._bias)

    def _weight_signature(self, input_signature):
        return input_signature[:1]  # the mask has no weights or state

    def _create_weights_unbatched(self, input_signature, rng):
        d_model = input_signature[0].shape[-1]
        rng_q, rng_k, rng_v, rng_o = jax.random.split(rng, 4)
        w_q = self._kernel_initializer((d_model, self._d_qk), rng_q)
        w_v = self._kernel_initializer((d_model, self._d_v), rng_v)
        w_o = jnp.transpose(self._kernel_initializer((d_model, self._d_v),
                                                     rng_o))
        kernels = (w_q, w_v, w_o) if self._share_qk else (
            w_q, self._kernel_initializer((d_model, self._d_qk), rng_k),
            w_v, w_o)
        if not self._bias:
            return kernels
        n_biases = 2 if self._share_qk else 3
        sizes = (self._d_qk, self._d_qk, self._d_v)[-n_biases:]
        return kernels + tuple(jnp.zeros(n) for n in sizes)

    def _projections(self, x, weights):
        """(q, k or None, v) of ``x``; k is None when shared with q."""
        n_kernels = 3 if self._share_qk else 4
        kernels, biases = weights[:n_kernels], weights[n_kernels:]
        w_q, w_v = kernels[0], kernels[-2]
        q, v = jnp.matmul(x, w_q), jnp.matmul(x, w_v)
        k = None if self._share_qk else jnp.matmul(x, kernels[1])
        if self._bias:
            q, v = q + biases[0], v + biases[-1]
            if not self._share_qk:
                k = k + biases[1]
        return q, k, v, kernels[-1]

    def _forward_unbatched(self, x, mask=None, *, weights, state, rng,
                           update_state):
        del update_state
        attend_rng, output_rng = jax.random.split(rng)
        q, k, v, w_o = self._projections(x, weights)
        mask_fn = functools.partial(
            mask_self_attention, causal=self._causal,
            exclude_self=self._share_qk, masked=self._masked)
        q_info = kv_info = jnp.arange(q.shape[-2], dtype=jnp.int32)
        if self._masked:
            # Padding gets a negative position (position 0 stays 0: Trax's).
            kv_info = kv_info * jnp.where(mask, 1, -1).astype(jnp.int32)
        o, _ = attend(q, k, v, q_chunk_len=self._chunk_len,
                      kv_chunk_len=self._chunk_len,
                      n_chunks_before=self._n_chunks_before,
                      n_chunks_after=self._n_chunks_after, mask_fn=mask_fn,
                      q_info=q_info, kv_info=kv_info,
                      dropout=self._attention_dropout, rng=attend_rng)
        out = jnp.matmul(o, w_o)
        return (apply_broadcasted_dropout(out, self._output_dropout,
                                          output_rng), state)

    def _incremental_forward_unbatched(self, x, mask=None, *, q_start, q_len,
                                       weights, state, rng, update_state):
        del update_state
        attend_rng, output_rng = jax.random.split(rng)
        if self._share_qk:
            w_q, w_v, w_o = weights[:3]
        else:
            w_q, w_k, w_v, w_o = weights[:4]
        q_range = q_start + jnp.arange(q_len, dtype=jnp.int32)
        # Trax projects a single query twice over and keeps the first row
        # (for equal rounding with the full-sequence pass on TPU).
        q_in = x[q_range]
        q = jnp.matmul(jnp.concatenate([q_in] * 2, 0) if q_len == 1 else q_in,
                       w_q)
        if self._share_qk:
            k = length_normalized(jnp.matmul(x, w_q))
        else:
            k = jnp.matmul(x, w_k)
        v = jnp.matmul(x, w_v)
        mask_fn = functools.partial(
            mask_self_attention, causal=self._causal,
            exclude_self=self._share_qk, masked=self._masked)
        kv_info = jnp.arange(k.shape[-2], dtype=jnp.int32)
        chunked = self._chunk_len is not None and q_len > self._chunk_len
        if chunked and q_len % self._chunk_len:
            raise ValueError(
                f"SelfAttention(mode='predict'): a piece longer than chunk_len"
                f" ({self._chunk_len}) must be a multiple of it; got {q_len} "
                f"positions.")
        o, _ = attend(
            q, k, v, q_chunk_len=self._chunk_len if chunked else None,
            kv_chunk_len=self._chunk_len if chunked else None,
            n_chunks_before=self._n_chunks_before if chunked else 0,
            n_chunks_after=self._n_chunks_after if chunked else 0,
            mask_fn=mask_fn, q_info=q_range, kv_info=kv_info,
            dropout=self._attention_dropout, rng=attend_rng)
        out = jnp.matmul(o, w_o)
        if q_len == 1:
            out = out[:1]
        return (apply_broadcasted_dropout(out, self._output_dropout,
                                          output_rng), state)


def lsh_attend_unbatched(layer, q, v, mask=None, *, state, rng,
                         update_state):
    """LSH attention of one example's shared queries/keys ``q`` and values
    ``v`` (length, d), the part ``LSHSelfAttention`` and
    ``PureLSHSelfAttention`` have in common: hashes ``q`` with the state's
    key (a backward pass reuses the forward pass's buckets), sorts positions
    by bucket, attends chunk by chunk, undoes the sort and combines the hash
    rounds. Returns (output, new state)."""
    # pylint: disable=protected-access
    seqlen = q.shape[0]
    n_hashes = layer._n_hashes
    if update_state:
        _, old_hash_rng = state
        hash_rng, hash_subrng = jax.random.split(old_hash_rng)
        buckets = layer.hash_vectors(q, hash_subrng, mask)
        kept = buckets
        if layer._max_length_for_buckets:
            room = n_hashes * layer._max_length_for_buckets
            if buckets.shape[0] < room:
                kept = jnp.concatenate([buckets, jnp.zeros(
                    room - buckets.shape[0], dtype=jnp.int32)])
        state = (kept, hash_rng)
    else:
        # The backward pass reuses the forward pass's buckets.
        buckets = state[0]
        if layer._max_length_for_buckets:
            buckets = buckets[:n_hashes * seqlen]
    if buckets.shape[0] != n_hashes * seqlen:
        raise ValueError(
            f"{type(layer).__name__}'s state holds buckets for "
            f"{buckets.shape[0] // n_hashes} positions but the input has "
            f"{seqlen}; initialize the layer for this length (or set "
            f"max_length_for_buckets).")

    # Sort positions by (bucket, position) within each hash round.
    ticker = jnp.arange(n_hashes * seqlen, dtype=jnp.int32)
    buckets_and_t = jax.lax.stop_gradient(
        seqlen * buckets + (ticker % seqlen))
    _, sticker = jax.lax.sort_key_val(buckets_and_t, ticker)
    _, undo_sort = jax.lax.sort_key_val(sticker, ticker)
    sticker = jax.lax.stop_gradient(sticker)
    undo_sort = jax.lax.stop_gradient(undo_sort)

    st = sticker % seqlen
    sq = jnp.take(q, st, axis=0)
    sv = jnp.take(v, st, axis=0)
    mask_fn = functools.partial(mask_self_attention, causal=layer._causal,
                                exclude_self=True, masked=layer._masked)
    q_info, kv_info = st, None
    if layer._masked:
        smask = jnp.take(mask, st, axis=0)
        kv_info = q_info * jnp.where(smask, 1, -1).astype(jnp.int32)
    so, slogits = attend(sq, k=None, v=sv, q_chunk_len=layer._chunk_len,
                         n_chunks_before=layer._n_chunks_before,
                         n_chunks_after=layer._n_chunks_after,
                         mask_fn=mask_fn, q_info=q_info, kv_info=kv_info,
                         dropout=layer._attention_dropout, rng=rng)
    o = jnp.take(so, undo_sort, axis=0)
    logits = jnp.take(slogits, undo_sort, axis=0)
    if n_hashes > 1:
        o = jnp.reshape(o, (n_hashes, seqlen, o.shape[-1]))
        logits = jnp.reshape(logits, (n_hashes, seqlen, 1))
        probs = jnp.exp(logits - jax.scipy.special.logsumexp(
            logits, axis=0, keepdims=True))
        o = jnp.sum(o * probs, axis=0)
    return o, state


def predict_kv_indices(layer, is_valid_target, q_start, q_len, length):
    """Positions a predict-mode LSH query attends to: the latest ones
    sharing a bucket with it (as many as its chunks would hold), then the
    latest others; positions after the query come last."""
    # pylint: disable=protected-access
    positions = jnp.arange(length, dtype=jnp.int32)
    priorities = jnp.where(positions > q_start + q_len,
                           -(length + positions), positions)
    priorities = priorities + length * is_valid_target.astype(jnp.int32)
    _, kv_indices = jax.lax.sort_key_val(priorities, positions)
    return kv_indices[
        -layer._n_hashes * layer._chunk_len * (1 + layer._n_chunks_before):]


class LSHSelfAttention(_EfficientAttention):
    """Reformer's LSH self-attention: queries double as keys; each hash
    round sorts the positions by (bucket, position), attends within chunks
    of ``chunk_len`` (and ``n_chunks_before`` / ``n_chunks_after``
    neighbours), and the rounds are combined by their softmax weights. The
    hash rotations come from a key per (example, head) kept in the state
    with the last buckets; each forward pass advances that key."""

    weight_names = ("query", "value", "output")

    def __init__(self, n_heads=2, d_qk=64, d_v=64, share_qk="unused",
                 causal=False, masked=False, chunk_len=128, n_chunks_before=1,
                 n_chunks_after=0, n_hashes=1, n_buckets=None, mode="train",
                 predict_mem_len=2048, predict_drop_len=256,
                 attention_dropout=0.0, output_dropout=0.0,
                 max_length_for_buckets=None, bias=False, n_parallel_heads=1,
                 use_python_loop=False, use_reference_code=False):
        del share_qk, use_python_loop, use_reference_code
        super().__init__(n_heads, 2 if masked else 1, d_qk, d_v, mode,
                         attention_dropout, output_dropout, n_parallel_heads)
        self._set_predict_memory(mode, causal, chunk_len, n_chunks_before,
                                 predict_mem_len, predict_drop_len)
        if bias:
            raise ValueError(
                "LSHSelfAttention(bias=True) is not supported (Trax's forward "
                "pass fails with it too); use bias=False.")
        if n_buckets is not None:
            _bucket_factors(n_buckets)  # even, or a clear error now
        self._causal = causal
        self._masked = masked
        self._chunk_len = chunk_len
        self._n_chunks_before = n_chunks_before
        self._n_chunks_after = n_chunks_after
        self._n_hashes = n_hashes
        self._n_buckets = n_buckets
        self._max_length_for_buckets = max_length_for_buckets

    def _create_weights_unbatched(self, input_signature, rng):
        d_model = input_signature[0].shape[-1]
        rng_q, _, rng_v, rng_o = jax.random.split(rng, 4)
        w_q = self._kernel_initializer((d_model, self._d_qk), rng_q)
        w_v = self._kernel_initializer((d_model, self._d_v), rng_v)
        w_o = jnp.transpose(self._kernel_initializer((d_model, self._d_v),
                                                     rng_o))
        return (w_q, w_v, w_o)

    def _heads_state_names(self):
        if self._incremental:
            return ("buckets", "buckets_index", "hash_rng")
        return ("buckets", "hash_rng")

    def _create_state_unbatched(self, input_signature, rng):
        # A key per example and head, for the hash rotations.
        if self._incremental:
            return (jnp.zeros(self._n_hashes * self._predict_mem_len,
                              dtype=jnp.int32),
                    jnp.zeros((), dtype=jnp.int32), rng)
        length = self._max_length_for_buckets or input_signature[0].shape[0]
        return (jnp.zeros(self._n_hashes * length, dtype=jnp.int32), rng)

    def hash_vectors(self, vecs, rng, mask=None):
        """Bucket ids of ``vecs`` (length, d) for every hash round, offset
        per round so rounds never share a bucket: shape (n_hashes * length,).
        Without ``n_buckets``, 2 buckets per chunk (factored past 128)."""
        return _lsh_buckets(vecs, rng, self._n_buckets, self._chunk_len,
                           self._n_hashes, mask)

    def _forward_unbatched(self, x, mask=None, *, weights, state, rng,
                           update_state):
        attend_rng, output_rng = jax.random.split(rng)
        w_q, w_v, w_o = weights
        q = jnp.matmul(x, w_q)
        v = jnp.matmul(x, w_v)
        o, state = lsh_attend_unbatched(self, q, v, mask, state=state,
                                        rng=attend_rng,
                                        update_state=update_state)
        out = jnp.matmul(o, w_o)
        return (apply_broadcasted_dropout(out, self._output_dropout,
                                          output_rng), state)


    def _incremental_forward_unbatched(self, x, *, q_start, q_len, weights,
                                       state, rng, update_state):
        if not update_state:
            raise NotImplementedError(
                "LSHSelfAttention has no backward pass in 'predict' mode "
                "(neither has Trax's).")
        n_hashes = self._n_hashes
        if q_len > 1:
            return self._incremental_prefix(x, q_start, q_len, weights, state,
                                            rng)
        buckets, buckets_idx, hash_rng = state

        def roll_buckets(b):
            b = jnp.reshape(b, (n_hashes, -1))
            widened = jnp.concatenate(
                [b, jnp.zeros((n_hashes, self._predict_drop_len), b.dtype)],
                axis=1)
            return jnp.reshape(jax.lax.dynamic_slice_in_dim(
                widened, buckets_idx - q_start, b.shape[-1], axis=1), (-1,))
        buckets = jnp.where(buckets_idx > q_start, roll_buckets(buckets),
                            buckets)

        attend_rng, output_rng = jax.random.split(rng)
        w_q, w_v, w_o = weights
        q_range = q_start + jnp.arange(q_len, dtype=jnp.int32)
        q = jnp.matmul(jnp.concatenate([x[q_range]] * 2, 0), w_q)
        q_buckets = jnp.reshape(self.hash_vectors(q, hash_rng),
                                (n_hashes, 2))[:, :q_len]
        table = jax.lax.dynamic_update_slice_in_dim(
            jnp.reshape(buckets, (n_hashes, -1)), q_buckets, q_start, axis=1)
        buckets = jnp.reshape(table, (-1,))
        is_valid_target = jnp.any(table == q_buckets, axis=0)

        kv_indices = predict_kv_indices(self, is_valid_target, q_start,
                                        q_len, x.shape[0])
        x_attend_to = x[kv_indices]
        k = length_normalized(jnp.matmul(x_attend_to, w_q))
        v = jnp.matmul(x_attend_to, w_v)
        mask_fn = functools.partial(mask_self_attention, causal=True,
                                    masked=True, exclude_self=True)
        o, _ = attend(q, k, v, mask_fn=mask_fn, q_info=q_range,
                      kv_info=kv_indices.astype(jnp.int32),
                      dropout=self._attention_dropout, rng=attend_rng)
        out = jnp.matmul(o, w_o)[:1]
        out = apply_broadcasted_dropout(out, self._output_dropout, output_rng)
        return out, (buckets, (q_start + q_len).astype(buckets_idx.dtype),
                     hash_rng)

    def _incremental_prefix(self, x, q_start, q_len, weights, state, rng):
        """Several positions at once (a prefix at the start of a sequence):
        the full-sequence pass, hashed with the state's key unchanged."""
        n_hashes = self._n_hashes
        if x.shape[0] % self._chunk_len:
            pad = self._chunk_len - x.shape[0] % self._chunk_len
            x = jnp.pad(x, ((0, pad), (0, 0)))
        buckets, buckets_idx, hash_rng = state
        new_buckets = self.hash_vectors(jnp.matmul(x, weights[0]), hash_rng)
        out, _ = self._forward_unbatched(
            x, weights=weights, state=(new_buckets, hash_rng), rng=rng,
            update_state=False)
        out = out[:q_len]
        new_buckets = jnp.reshape(new_buckets, (n_hashes, -1))[:, :q_len]
        if q_len > self._predict_mem_len:
            new_buckets = new_buckets[:, -self._predict_mem_len:]
        buckets = jax.lax.dynamic_update_slice_in_dim(
            jnp.reshape(buckets, (n_hashes, -1)), new_buckets, q_start,
            axis=1)
        return out, (jnp.reshape(buckets, (-1,)), buckets_idx + q_len,
                     hash_rng)


class EncDecAttention(_EfficientAttention):
    """Encoder-decoder attention: queries from the first input, keys and
    values from the second; ``masked`` takes a third input (True at valid
    encoder tokens)."""

    weight_names = ("query", "key", "value", "output")

    def __init__(self, n_heads=2, d_qk=64, d_v=64, masked=True, mode="train",
                 attention_dropout=0.0, output_dropout=0.0,
                 n_parallel_heads=None, use_python_loop=False,
                 use_reference_code=False):
        del use_python_loop, use_reference_code
        super().__init__(n_heads, 3 if masked else 2, d_qk, d_v, mode,
                         attention_dropout, output_dropout, n_parallel_heads)
        self._masked = masked

    def _create_weights_unbatched(self, input_signature, rng):
        d_model = input_signature[0].shape[-1]
        d_kv = input_signature[1].shape[-1]
        rng_q, rng_k, rng_v, rng_o = jax.random.split(rng, 4)
        w_q = self._kernel_initializer((d_model, self._d_qk), rng_q)
        w_k = self._kernel_initializer((d_kv, self._d_qk), rng_k)
        w_v = self._kernel_initializer((d_kv, self._d_v), rng_v)
        w_o = jnp.transpose(self._kernel_initializer((d_model, self._d_v),
                                                     rng_o))
        return (w_q, w_k, w_v, w_o)

    def _forward_unbatched(self, q_antecedent, kv_antecedent, mask=None, *,
                           weights, state, rng, update_state):
        del update_state
        attend_rng, output_rng = jax.random.split(rng)
        w_q, w_k, w_v, w_o = weights
        q = jnp.matmul(q_antecedent, w_q)
        k = jnp.matmul(kv_antecedent, w_k)
        v = jnp.matmul(kv_antecedent, w_v)
        q_info = kv_info = mask_fn = None
        if self._masked:
            # 1 at padding; attend adds 1, and the logits lose 1e9 per unit.
            kv_info = jnp.logical_not(mask).astype(jnp.int32)

            def mask_fn(dots, q_info, kv_info):
                del q_info
                return dots - 1e9 * kv_info.astype(jnp.float32)
        o, _ = attend(q, k, v, mask_fn=mask_fn, q_info=q_info,
                      kv_info=kv_info, dropout=self._attention_dropout,
                      rng=attend_rng)
        out = jnp.matmul(o, w_o)
        return (apply_broadcasted_dropout(out, self._output_dropout,
                                          output_rng), state)


# Trax keeps these in this module; they live in their own (which builds on
# this one) and are exported from here.
from trax_compat.layers.pure_lsh_attention import PureLSHSelfAttention  # noqa: E402,F401  pylint: disable=g-import-not-at-top,wrong-import-position
from trax_compat.layers.pure_lsh_attention import PureLSHSelfAttentionWrapper  # noqa: E402,F401  pylint: disable=g-import-not-at-top,wrong-import-position
from trax_compat.layers.mixed_lsh_attention import MixedLSHSelfAttention  # noqa: E402,F401  pylint: disable=g-import-not-at-top,wrong-import-position

_EXPORTS = ("PureLSHSelfAttention", "PureLSHSelfAttentionWrapper",
            "MixedLSHSelfAttention")
