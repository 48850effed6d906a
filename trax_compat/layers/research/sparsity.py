"""Trax's research sparsity layers (``trax.layers.research.sparsity``):
Dense replacements with fewer weights (locally connected, convolutional,
low-rank, factored/multiplicative), causal attentions built from them,
FAVOR+ linear attention (bidirectional and causal) and two reversible
permutations of the feature axis.

The sparse feed-forward blocks of Trax's module (``SparseFF``,
``BlockSparseFF``, ``SwitchSparseFF``) live in ``sparse_ff``.

Weights, their order and initializers, layer names and random draws follow
Trax's, so a model built here initialises to Trax's numbers for a given key.
"""

import functools
import math
import random as pyrandom

import jax
import jax.numpy as jnp

from trax_compat.fastmath import random as trax_random
from trax_compat.layers import attention
from trax_compat.layers import base
from trax_compat.layers import combinators as cb
from trax_compat.layers import convolution
from trax_compat.layers import core
from trax_compat.layers import initializers as init
from trax_compat.layers import reversible
from trax_compat.layers.assert_shape import assert_shape
from trax_compat.layers.functional import Fn

# pylint: disable=invalid-name


# -- reversible permutations of the last axis ----------------------------------

@assert_shape("...->...")
class ReversibleReshapePermute(reversible.ReversibleLayer):
    """Permutes the last axis (a power of 2) by viewing it as a matrix and
    transposing; the same fixed permutation for every vector."""

    def forward(self, x):
        shape = x.shape
        rows = self._factor(shape[-1])
        x = jnp.reshape(x, shape[:-1] + (-1, rows))
        return jnp.reshape(jnp.swapaxes(x, -1, -2), shape)

    def reverse(self, x, weights=(), state=(), new_state=(), rng=None):
        del weights, state, new_state, rng
        shape = x.shape
        rows = self._factor(shape[-1])
        x = jnp.reshape(x, shape[:-1] + (rows, -1))
        return jnp.reshape(jnp.swapaxes(x, -1, -2), shape)

    @staticmethod
    def _factor(size):
        """2**e for the largest e <= log2(size) / 2 that does not divide
        log2(size): then repeating the permutation cycles through log2(size)
        different permutations, the most a transpose of this kind gives."""
        log2 = int(math.log(size, 2))
        if 2 ** log2 != size:
            raise ValueError(
                f"ReversibleReshapePermute needs a last axis whose size is a "
                f"power of 2; got {size}. Pad or project the features to a "
                f"power of 2.")
        exponent = next((e for e in range(log2 // 2, 0, -1) if log2 % e), 1)
        return 2 ** exponent


@assert_shape("...->...")
class ReversibleRandomPermute(reversible.ReversibleLayer):
    """Permutes the last axis by a fixed pseudo-random permutation (Python's
    generator seeded with 42, as in Trax), the same for every vector."""

    def forward(self, x):
        order, _ = self._orders(x.shape[-1])
        return x[..., order]

    def reverse(self, x, weights=(), state=(), new_state=(), rng=None):
        del weights, state, new_state, rng
        _, inverse = self._orders(x.shape[-1])
        return x[..., inverse]

    @staticmethod
    def _orders(size):
        order = list(range(size))
        pyrandom.Random(42).shuffle(order)
        inverse = [0] * size
        for position, source in enumerate(order):
            inverse[source] = position
        return order, inverse


# -- reshapes ------------------------------------------------------------------

@assert_shape("...a->...bc")
def SplitLastAxis(num_splits):
    """``(..., d) -> (..., num_splits, d / num_splits)``."""
    return Fn(f"SplitLastAxis_{num_splits}",
              lambda x: jnp.reshape(x, x.shape[:-1] + (num_splits, -1)))


@assert_shape("...ab->...c")
def MergeLastTwoAxes():
    """``(..., a, b) -> (..., a * b)``."""
    return Fn("MergeLastTwoAxes",
              lambda x: jnp.reshape(x, x.shape[:-2] + (-1,)))


# -- Dense replacements ----------------------------------------------------------

@assert_shape("...a->...b")
def LocallyConnectedDense(n_modules, n_units, kernel_size=1,
                          kernel_initializer=init.GlorotUniformInitializer(),
                          bias_initializer=init.RandomNormalInitializer(1e-6),
                          use_bias=True):
    """A Dense-like layer: the features split into ``n_modules`` modules,
    each mapped to ``n_units`` outputs from itself and its ``kernel_size -
    1`` neighbours (wrapping around), by a ``LocallyConnected1d``; the
    outputs concatenated. One module is a plain ``Dense(n_units)``."""
    if n_modules == 1:
        return core.Dense(n_units, kernel_initializer=kernel_initializer,
                          bias_initializer=bias_initializer,
                          use_bias=use_bias)
    return cb.Serial(
        SplitLastAxis(n_modules),
        core.LocallyConnected1d(
            n_units, kernel_size, kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer, use_bias=use_bias,
            padding="WRAP"),
        MergeLastTwoAxes())


class _RememberPad(base.Layer):
    """Pads axis 1 in front with ``n_items_to_remember`` positions: zeros,
    or in 'predict' mode the last positions of the previous call (its
    state), so that a causal convolution over the length sees the same
    neighbours piece by piece as over the whole sequence."""

    def __init__(self, n_items_to_remember, mode):
        super().__init__(name="_RememberPad")
        self._n_items_to_remember = n_items_to_remember
        self._mode = mode
        # Trax's hook through which the Terraformer lends its padding mask
        # (a PortalValue-like object with get_value()) in 'predict' mode.
        self._portal_mask = self.monkey_patched_mask()  # pylint: disable=assignment-from-none

    def monkey_patched_mask(self):
        return None

    def forward(self, x):
        n = self._n_items_to_remember
        if n == 0:
            return x
        if self._mode != "predict":
            widths = [(0, 0)] * x.ndim
            widths[1] = (n, 0)
            return jnp.pad(x, widths, mode="constant")
        x = jnp.concatenate([self.state[0], x], axis=1)
        if self._portal_mask is not None and "init" in self.state[1]:
            # The first call holds the (padded) prompt: remember the
            # positions just before its padding. Batch size 1, as in Trax.
            if x.shape[0] != 1:
                raise ValueError(
                    f"_RememberPad with a portal mask needs batch size 1 in "
                    f"'predict' mode; got {x.shape[0]}.")
            mask = self._portal_mask.get_value()
            n_padding = jnp.sum(mask == 0, dtype=jnp.int32)
            start = x.shape[1] - (n + n_padding)
            kept = jax.lax.dynamic_slice_in_dim(x, start, n, axis=1)
        else:
            kept = x[:, -n:, ...]
        self.state = (kept, {"forward": ()})
        return x

    def init_weights_and_state(self, input_signature):
        if isinstance(input_signature, (list, tuple)):
            input_signature = input_signature[0]
        if self._mode == "predict":
            shape = list(input_signature.shape)
            shape[1] = self._n_items_to_remember
            self.state = (jnp.zeros(shape, dtype=jnp.float32), {"init": ()})


@assert_shape("...a->...b")
def LocallyConvDense(n_modules, n_units, mode, kernel_size=1,
                     length_kernel_size=1):
    """Like ``LocallyConnectedDense`` but one kernel shared by all modules
    (a convolution over the module axis, zero-padded, odd ``kernel_size``);
    with ``length_kernel_size > 1`` the convolution also looks causally at
    that many positions along axis 1 (remembered across calls in 'predict'
    mode)."""
    if n_modules == 1:
        return core.Dense(n_units)
    if kernel_size % 2 != 1:
        raise ValueError(
            f"LocallyConvDense needs an odd kernel_size (its window is "
            f"centred on each module); got {kernel_size}.")
    half = (kernel_size - 1) // 2
    widths = [(0, 0), (0, 0), (half, half), (0, 0)]
    return cb.Serial(
        SplitLastAxis(n_modules),
        Fn("Pad", lambda x: jnp.pad(x, widths, mode="constant")),
        _RememberPad(length_kernel_size - 1, mode=mode),
        convolution.Conv(n_units, kernel_size=(length_kernel_size,
                                               kernel_size)),
        MergeLastTwoAxes())


@assert_shape("...a->...b")
def LowRankDense(n_units, d_lowrank):
    """Dense through a ``d_lowrank`` bottleneck: two Dense layers."""
    return cb.Serial(core.Dense(d_lowrank), core.Dense(n_units))


@assert_shape("...a->...b")
def EinsumDense(d_input, d_output, use_bias):
    """Dense written as an einsum with a ``(d_output, d_input)`` kernel
    (Trax found it faster in decoding)."""
    layers = [
        core.Weights(init.GlorotUniformInitializer(), [d_output, d_input]),
        Fn("EinsumDense",
           lambda kernel, x: jnp.einsum("od,...d->...o", kernel, x)),
    ]
    if use_bias:
        layers += [core.Weights(init.RandomNormalInitializer(1e-6),
                                [d_output]),
                   cb.Add()]
    return cb.Serial(layers)


def _factored_project():
    # One einsum for gating and projection: the gated copies of x
    # (n_modules of them) are never materialised. Weights arrive on the
    # stack last-made first.
    return Fn("_GateAndProject",
              lambda projection, gates, x: jnp.einsum(
                  "...d,nd,dm->...nm", x, gates, projection))


@assert_shape("...a->...b")
def FactoredDense(n_modules, d_in, d_out, use_bias=True, use_bfloat16=False):
    """A Dense-like map with about ``1/n_modules`` of Dense's weights: the
    input is multiplied elementwise by each of ``n_modules`` trainable gate
    vectors, each product projected by one shared ``(d_in, d_out /
    n_modules)`` matrix, and the results concatenated (plus a bias)."""
    if d_out % n_modules != 0:
        raise ValueError(
            f"FactoredDense: d_out ({d_out}) must be a multiple of n_modules "
            f"({n_modules}); pick n_modules among the divisors of d_out.")
    d_module = d_out // n_modules
    layers = [
        core.Weights(init.RandomNormalInitializer(stddev=0.5),
                     shape=[n_modules, d_in], use_bfloat16=use_bfloat16),
        core.Weights(init.GlorotUniformInitializer(), shape=[d_in, d_module],
                     use_bfloat16=use_bfloat16),
        _factored_project(),
        MergeLastTwoAxes(),
    ]
    if use_bias:
        layers += [core.Weights(init.RandomNormalInitializer(1e-6),
                                shape=[d_out], use_bfloat16=use_bfloat16),
                   cb.Add()]
    return cb.Serial(layers)


@assert_shape("...a->...a")
def MultiplicativeModularSparseDense(sparsity, d_feature):
    """``FactoredDense`` followed, in the same einsum, by a separate
    ``(d_module, d_module)`` kernel per module, then a bias; ``d_feature``
    in and out."""
    if d_feature % sparsity != 0:
        raise ValueError(
            f"MultiplicativeModularSparseDense: d_feature ({d_feature}) must "
            f"be a multiple of sparsity ({sparsity}).")
    d_module = d_feature // sparsity
    per_module_init = functools.partial(init.GlorotUniformInitializer(),
                                        nonreceptive_dims=[0])
    return cb.Serial(
        core.Weights(init.RandomNormalInitializer(stddev=0.5),
                     shape=[sparsity, d_feature]),
        core.Weights(init.GlorotUniformInitializer(), [d_feature, d_module]),
        core.Weights(per_module_init, [sparsity, d_module, d_module]),
        Fn("SparseDenseEinsum",
           lambda modular, shared, gates, x: jnp.einsum(
               "nio,di,nd,...d->...no", modular, shared, gates, x)),
        MergeLastTwoAxes(),
        core.Weights(init.RandomNormalInitializer(1e-6), [d_feature]),
        cb.Add())


def RandomLayer(layer_a, layer_b, prob_a):
    """Runs ``layer_a`` with probability ``prob_a`` (a fresh uniform draw
    from the layer's key on each call), otherwise ``layer_b``."""
    coin = cb.Serial(core.RandomUniform(),
                     Fn("SmallerThan", lambda u: u < prob_a))
    return cb.Cond(coin, layer_a, layer_b)


_SPARSITY_TYPES = ("None", "mult", "lowrank", "einsum", "local", "local3")


@assert_shape("...a->...b")
def SparseDenseWithOptions(n_units, d_input=None, sparsity_type=None,
                           sparsity=0, d_lowrank=None, prob_sparse=None,
                           mode=None, use_bias=True, use_bfloat16=False):
    """Dense or one of its sparse replacements, by ``sparsity_type``:
    None/'None' (or ``sparsity=0``) Dense, 'mult' FactoredDense, 'lowrank'
    LowRankDense, 'einsum' EinsumDense, 'local'/'local3'
    LocallyConnectedDense (kernel 1/3). With ``prob_sparse``, training runs
    the sparse layer with that probability and Dense otherwise (both with
    their own weights); other modes always run the sparse one."""
    if prob_sparse is not None:
        if mode is not None and mode != "train":
            prob_sparse = 1.0
        return RandomLayer(
            SparseDenseWithOptions(n_units, d_input, sparsity_type, sparsity,
                                   d_lowrank, use_bias=use_bias,
                                   use_bfloat16=use_bfloat16),
            core.Dense(n_units, use_bias=use_bias, use_bfloat16=use_bfloat16),
            prob_sparse)
    if sparsity_type is None or sparsity_type == "None" or sparsity == 0:
        return core.Dense(n_units, use_bias=use_bias,
                          use_bfloat16=use_bfloat16)
    if sparsity_type == "mult":
        return FactoredDense(sparsity, d_input, n_units, use_bias=use_bias,
                             use_bfloat16=use_bfloat16)
    if sparsity_type not in _SPARSITY_TYPES:
        raise ValueError(f"Unknown sparsity type: {sparsity_type}; use one "
                         f"of None, {', '.join(_SPARSITY_TYPES)}.")
    if use_bfloat16:
        raise ValueError(
            f"SparseDenseWithOptions(sparsity_type={sparsity_type!r}) has no "
            f"bfloat16 variant; use_bfloat16=True needs sparsity_type None "
            f"or 'mult'.")
    if sparsity_type == "einsum":
        return EinsumDense(d_input, n_units, use_bias=use_bias)
    if not use_bias:
        raise ValueError(
            f"SparseDenseWithOptions(sparsity_type={sparsity_type!r}) always "
            f"has a bias; use_bias=False needs sparsity_type None, 'mult' or "
            f"'einsum'.")
    if sparsity_type == "lowrank":
        return LowRankDense(n_units, d_lowrank)
    if n_units % sparsity != 0:
        raise ValueError(
            f"SparseDenseWithOptions: n_units ({n_units}) must be a multiple "
            f"of sparsity ({sparsity}) for sparsity_type {sparsity_type!r}.")
    # Trax passes the module width as a float (n_units / sparsity).
    return LocallyConnectedDense(
        sparsity, n_units / sparsity,
        kernel_size=3 if sparsity_type == "local3" else 1)


# -- causal attentions built from them --------------------------------------------

def _causal_core(dropout, max_inference_length, mode):
    return attention.DotProductCausalAttention(
        dropout=dropout, max_inference_length=max_inference_length, mode=mode)


def _attention_from(make_dense, n_heads, dropout, max_inference_length,
                    mode):
    """ConfigurableAttention whose Q, K, V and output layers are four
    ``make_dense()``, with causal dot-product attention."""
    return attention.ConfigurableAttention(
        make_dense(), make_dense(), make_dense(), make_dense(),
        n_heads=n_heads,
        qkv_attention_layer=_causal_core(dropout, max_inference_length, mode))


def _modules(d_feature, n_modules, what):
    if d_feature % n_modules != 0:
        raise ValueError(
            f"{what}: d_feature ({d_feature}) must be a multiple of the "
            f"number of modules ({n_modules}, sparsity or else n_heads).")
    return d_feature // n_modules


@assert_shape("bld->bld")
def ModularCausalAttention(d_feature, n_heads=1, sparsity=None, dropout=0.0,
                           max_inference_length=2048, kernel_size=1,
                           mode="train"):
    """Causal attention whose Q/K/V/output layers are
    ``LocallyConnectedDense`` with ``sparsity`` (default ``n_heads``)
    modules."""
    n_modules = n_heads if sparsity is None else sparsity
    d_module = _modules(d_feature, n_modules, "ModularCausalAttention")

    @assert_shape("...a->...b")
    def processing():
        return LocallyConnectedDense(n_modules, d_module,
                                     kernel_size=kernel_size)
    return _attention_from(processing, n_heads, dropout,
                           max_inference_length, mode)


@assert_shape("bld->bld")
def ConvCausalAttention(d_feature, n_heads=1, sparsity=None, dropout=0.0,
                        max_inference_length=2048, kernel_size=1,
                        mode="train"):
    """Causal attention whose Q/K/V/output layers are ``LocallyConvDense``
    with ``sparsity`` (default ``n_heads``) modules."""
    n_modules = n_heads if sparsity is None else sparsity
    d_module = _modules(d_feature, n_modules, "ConvCausalAttention")

    @assert_shape("...a->...b")
    def processing():
        return LocallyConvDense(n_modules, d_module, mode=mode,
                                kernel_size=kernel_size)
    return _attention_from(processing, n_heads, dropout,
                           max_inference_length, mode)


@assert_shape("bld->bld")
def LowRankCausalAttention(d_feature, n_heads=1, dropout=0.0,
                           max_inference_length=2048, lowrank=64,
                           mode="train"):
    """Causal attention whose Q/K/V/output layers are rank-``lowrank``
    ``LowRankDense``."""
    return _attention_from(lambda: LowRankDense(d_feature, lowrank), n_heads,
                           dropout, max_inference_length, mode)


@assert_shape("bld->bld")
def MultiplicativeCausalAttention(d_feature, n_heads=1, sparsity=None,
                                  dropout=0.0, max_inference_length=2048,
                                  mode="train"):
    """Causal attention whose Q/K/V/output layers are ``FactoredDense``
    with ``sparsity`` (default ``n_heads``) modules."""
    sparsity = n_heads if sparsity is None else sparsity
    return _attention_from(
        lambda: FactoredDense(sparsity, d_feature, d_feature), n_heads,
        dropout, max_inference_length, mode)


@assert_shape("bld->bld")
def MultiplicativeModularCausalAttention(
        d_feature, n_heads=1, sparsity=None, dropout=0.0,
        max_inference_length=2048, mode="train"):
    """Causal attention whose Q/K/V/output layers are
    ``MultiplicativeModularSparseDense`` with ``sparsity`` (default
    ``n_heads``) modules."""
    sparsity = n_heads if sparsity is None else sparsity
    return _attention_from(
        lambda: MultiplicativeModularSparseDense(sparsity, d_feature),
        n_heads, dropout, max_inference_length, mode)


_OUTPUT_LAYER_TYPES = ("none", "mult", "conv", "multconv")
_V_CONCAT_TYPES = ("original", "fixed", "none")


def _choice(value, allowed, what):
    if value not in allowed:
        raise ValueError(
            f"MultiplicativeConvCausalAttention: {what} must be one of "
            f"{', '.join(map(repr, allowed))}; got {value!r}.")


@assert_shape("bld->bld")
def MultiplicativeConvCausalAttention(
        d_feature, n_heads=1, sparsity=None, length_kernel_size=3,
        dropout=0.0, force_no_dropout=False, max_inference_length=2048,
        share_qk=False, output_layer_type="none", v_concat_type="none",
        mode="train"):
    """Causal attention where one shared ``FactoredDense`` feeds
    ``LocallyConvDense`` layers (kernel 3 over modules, causal
    ``length_kernel_size`` over positions) that make Q and K (one for both
    with ``share_qk``) and V (kernel 1; its input is the shared output
    alone for ``v_concat_type='none'``, or concatenated with the layer's
    input: per module for 'fixed', whole vectors for 'original').
    ``output_layer_type`` adds FactoredDense ('mult'), LocallyConvDense
    ('conv') or both after the attention."""
    _choice(output_layer_type, _OUTPUT_LAYER_TYPES, "output_layer_type")
    _choice(v_concat_type, _V_CONCAT_TYPES, "v_concat_type")
    if force_no_dropout:
        dropout = 0.0
    sparsity = n_heads if sparsity is None else sparsity
    d_module = d_feature // sparsity

    def conv(kernel_size):
        return LocallyConvDense(sparsity, d_module, mode=mode,
                                kernel_size=kernel_size,
                                length_kernel_size=length_kernel_size)

    output_layers = []
    if "mult" in output_layer_type:
        output_layers.append(FactoredDense(sparsity, d_feature, d_feature))
    if "conv" in output_layer_type:
        output_layers.append(conv(3))

    if v_concat_type == "original":
        v_inputs = [cb.Concatenate()]
    elif v_concat_type == "fixed":
        def per_module(name):
            return Fn(name, lambda x: jnp.reshape(
                x, (x.shape[0], x.shape[1], sparsity, d_module)))
        v_inputs = [
            cb.Parallel(per_module("Reshape1"), per_module("Reshape2")),
            cb.Concatenate(),
            Fn("Reshape3", lambda x: jnp.reshape(
                x, (x.shape[0], x.shape[1], 2 * d_feature))),
        ]
    else:
        v_inputs = [cb.Select([0], n_in=2)]

    def v_branch():
        return [v_inputs, conv(1), attention.SplitIntoHeads(n_heads)]

    def qk_branch():
        return [conv(3), attention.SplitIntoHeads(n_heads)]

    core_layers = [
        _causal_core(dropout, max_inference_length, mode),
        attention.MergeHeads(n_heads),
        output_layers,
    ]
    if share_qk:
        return cb.Serial(
            cb.Select([0, 0]),  # shared input, input for V
            FactoredDense(sparsity, d_feature, d_feature),
            cb.Select([0, 0]),  # for Q=K, for V, input for V
            qk_branch(),
            cb.Select([0, 0]),  # Q, K
            cb.Parallel([], [], v_branch()),
            *core_layers)
    return cb.Serial(
        cb.Select([0, 0]),
        FactoredDense(sparsity, d_feature, d_feature),
        cb.Select([0, 0, 0]),  # for Q, K, V; the input for V below them
        cb.Parallel(qk_branch(), qk_branch(), v_branch()),
        *core_layers)


# -- FAVOR+ attention ----------------------------------------------------------

def _relu(x):
    return jnp.where(x <= 0, jnp.zeros_like(x), x)


class FavorAttention(base.Layer):
    """FAVOR+ linear attention (https://arxiv.org/abs/2006.03555):
    ``(Q, K, V, mask) -> (activations, mask)`` over heads merged into the
    batch. Features: ReLU plus ``numerical_stabilizer``, or with
    ``use_approximate_softmax`` positive random features of the softmax
    kernel, from an orthogonal matrix drawn once at construction from key
    0 (as in Trax: the same matrix for every layer)."""

    def __init__(self, d_feature=4, n_heads=1, n_random_features=256,
                 numerical_stabilizer=0.001, use_approximate_softmax=False,
                 scale_by_norm=True, normalize_data=False, epsilon=0.0001,
                 mode="train"):
        super().__init__(n_in=4, n_out=2)
        self._d_feature = d_feature
        self._n_heads = n_heads
        self._n_random_features = n_random_features
        self._numerical_stabilizer = numerical_stabilizer
        self._mode = mode
        self._use_approximate_softmax = use_approximate_softmax
        self._normalize_data = normalize_data
        self._epsilon = epsilon
        self._projection_matrix = None
        if use_approximate_softmax:
            self._projection_matrix = self.get_2d_array(
                rng=trax_random.get_prng(0), n_rows=n_random_features,
                n_columns=d_feature // n_heads, scale_by_norm=scale_by_norm,
                normalize_data=normalize_data, epsilon=epsilon)

    @staticmethod
    def get_2d_array(rng, n_rows=256, n_columns=0, scale_by_norm=True,
                     normalize_data=False, epsilon=0.0001):
        """``n_rows`` random orthogonal rows of length ``n_columns`` (square
        blocks, each the Q of a Gaussian matrix, transposed; the last block
        cut), each scaled by the norm of a Gaussian vector (or by
        sqrt(n_columns) without ``scale_by_norm``)."""
        del normalize_data, epsilon  # Trax takes and ignores them too.
        norm_key = rng
        blocks = []
        n_full = int(n_rows / n_columns)
        remaining = n_rows - n_full * n_columns
        for i in range(n_full + (1 if remaining > 0 else 0)):
            rng, block_key = trax_random.split(rng)
            gaussian = trax_random.normal(block_key, (n_columns, n_columns))
            q = jnp.transpose(jnp.linalg.qr(gaussian)[0])
            blocks.append(q if i < n_full else q[:remaining])
        matrix = jnp.vstack(blocks)
        if scale_by_norm:
            scale = jnp.linalg.norm(
                trax_random.normal(norm_key, (n_rows, n_columns)), axis=1)
        else:
            scale = jnp.sqrt(float(n_columns)) * jnp.ones((n_rows,))
        return jnp.matmul(jnp.diag(scale), matrix)

    def nonnegative_softmax_kernel_feature_creator(self, x, is_query):
        """Positive random features of ``x`` (batch, length, d): exp of the
        projections minus |x|^2/2, stabilised by subtracting the max (per
        position for queries, per batch item for keys)."""
        normalizer = (1.0 / jnp.sqrt(jnp.sqrt(x.shape[-1]))
                      if self._normalize_data else 1.0)
        projection = self._projection_matrix
        ratio = 1.0 / jnp.sqrt(projection.shape[0])
        projected = jnp.einsum("bld,md->blm", normalizer * x, projection)
        half_norm = jnp.sum(jnp.square(x), axis=-1, keepdims=True)
        half_norm = (half_norm / 2.0) * normalizer * normalizer
        max_axes = (-1,) if is_query else (-1, 1)
        stabiliser = jnp.max(projected, axis=max_axes, keepdims=True)
        return ratio * (jnp.exp(projected - half_norm - stabiliser)
                        + self._epsilon)

    @staticmethod
    def bidirectional_numerator(query_prime, key_prime, value):
        """Length-first ``(l, b, m)``, ``(l, b, d)``: Q'(K'^T V)."""
        kvs = jnp.einsum("lbm,lbd->bmd", key_prime, value)
        return jnp.einsum("lbm,bmd->lbd", query_prime, kvs)

    @staticmethod
    def bidirectional_denominator(query_prime, key_prime):
        """Length-first: Q' times the sum of K' over the length."""
        return jnp.einsum("lbm,bm->lb", query_prime,
                          jnp.sum(key_prime, axis=0))

    @staticmethod
    def relu(x):
        return _relu(x)

    def forward(self, inputs):
        query, key, value, mask = inputs
        if self._use_approximate_softmax:
            query_prime = self.nonnegative_softmax_kernel_feature_creator(
                query, True)
            key_prime = self.nonnegative_softmax_kernel_feature_creator(
                key, False)
        else:
            query_prime = _relu(query) + self._numerical_stabilizer
            key_prime = _relu(key) + self._numerical_stabilizer
        # The mask (batch, ..., length) per batch item, repeated per head.
        batch_heads, length = key.shape[0], key.shape[1]
        per_item = jnp.reshape(mask, (batch_heads // self._n_heads, 1,
                                      length)).astype(jnp.float32)
        per_head = per_item + jnp.zeros((1, self._n_heads, 1))
        key_prime = key_prime * jnp.reshape(per_head,
                                            (batch_heads, length, 1))
        q_lb = jnp.moveaxis(query_prime, 1, 0)
        k_lb = jnp.moveaxis(key_prime, 1, 0)
        numerator = jnp.moveaxis(self.bidirectional_numerator(
            q_lb, k_lb, jnp.moveaxis(value, 1, 0)), 0, 1)
        denominator = jnp.moveaxis(self.bidirectional_denominator(
            q_lb, k_lb), 0, 1)
        return numerator * jnp.reciprocal(denominator)[..., None], mask


def Favor(d_feature, n_heads=1, n_random_features=256, dropout=0.0,
          numerical_stabilizer=0.001, use_approximate_softmax=False,
          scale_by_norm=0, normalize_data=False, epsilon=0.0001, mode="train"):
    """``(x, mask) -> (new_x, mask)``: multi-head FAVOR+ attention with
    Dense Q/K/V/output layers. ``dropout`` is accepted and unused, as in
    Trax."""
    del dropout
    return attention.ConfigurableAttention(
        core.Dense(d_feature), core.Dense(d_feature), core.Dense(d_feature),
        core.Dense(d_feature),
        FavorAttention(d_feature, n_heads, n_random_features,
                       numerical_stabilizer, use_approximate_softmax,
                       scale_by_norm, normalize_data, epsilon, mode),
        n_heads=n_heads)


# Causal FAVOR: prefix sums over the length (axis 0 here) by a scan, with a
# hand-written backward scan that rebuilds the prefix sums in reverse from
# the final one instead of storing one per position (Trax's memory saving).

@jax.custom_vjp
def _causal_numerator(queries, keys, values):
    return _causal_numerator_fwd(queries, keys, values)[0]


def _causal_numerator_fwd(queries, keys, values):
    def step(prefix, qkv):
        q, k, v = qkv
        prefix = prefix + jnp.einsum("...m,...d->...md", k, v)
        return prefix, jnp.einsum("...m,...md->...d", q, prefix)
    start = jnp.zeros(keys.shape[1:] + values.shape[-1:], dtype=values.dtype)
    final, out = jax.lax.scan(step, start, (queries, keys, values))
    return out, (final, queries, keys, values)


def _causal_numerator_bwd(saved, out_ct):
    final, queries, keys, values = saved

    def step(carry, qkv_ct):
        prefix, prefix_ct = carry
        q, k, v, ct = qkv_ct
        q_ct = jnp.einsum("...d,...md->...m", ct, prefix)
        prefix_ct = prefix_ct + jnp.einsum("...d,...m->...md", ct, q)
        k_ct = jnp.einsum("...md,...d->...m", prefix_ct, v)
        v_ct = jnp.einsum("...md,...m->...d", prefix_ct, k)
        prefix = prefix - jnp.einsum("...m,...d->...md", k, v)
        return (prefix, prefix_ct), (q_ct, k_ct, v_ct)
    _, cts = jax.lax.scan(step, (final, jnp.zeros_like(final)),
                          (queries, keys, values, out_ct), reverse=True)
    return cts


_causal_numerator.defvjp(_causal_numerator_fwd, _causal_numerator_bwd)


@jax.custom_vjp
def _causal_denominator(queries, keys):
    return _causal_denominator_fwd(queries, keys)[0]


def _causal_denominator_fwd(queries, keys):
    def step(prefix, qk):
        q, k = qk
        prefix = prefix + k
        return prefix, jnp.einsum("...m,...m->...", q, prefix)
    final, out = jax.lax.scan(step, jnp.zeros(keys.shape[1:], keys.dtype),
                              (queries, keys))
    return out, (final, queries, keys)


def _causal_denominator_bwd(saved, out_ct):
    final, queries, keys = saved

    def step(carry, qk_ct):
        prefix, prefix_ct = carry
        q, k, ct = qk_ct
        q_ct = jnp.einsum("...,...m->...m", ct, prefix)
        prefix_ct = prefix_ct + jnp.einsum("...,...m->...m", ct, q)
        return (prefix - k, prefix_ct), (q_ct, prefix_ct)
    _, cts = jax.lax.scan(step, (final, jnp.zeros_like(final)),
                          (queries, keys, out_ct), reverse=True)
    return cts


_causal_denominator.defvjp(_causal_denominator_fwd, _causal_denominator_bwd)


class CausalFavorAttention(base.Layer):
    """Causal FAVOR attention (https://arxiv.org/abs/2006.03555) with ReLU
    features: ``(Q, K, V) -> activations``, heads merged into the batch;
    linear in the length, with Trax's custom backward pass."""

    def __init__(self, numerical_stabilizer=0.001, mode="train"):
        super().__init__(n_in=3, n_out=1)
        self._numerical_stabilizer = numerical_stabilizer
        self._mode = mode

    def forward(self, inputs):
        query, key, value = inputs
        q_lb = jnp.moveaxis(_relu(query) + self._numerical_stabilizer, 1, 0)
        k_lb = jnp.moveaxis(_relu(key) + self._numerical_stabilizer, 1, 0)
        numerator = _causal_numerator(q_lb, k_lb, jnp.moveaxis(value, 1, 0))
        denominator = _causal_denominator(q_lb, k_lb)
        numerator = jnp.moveaxis(numerator, 0, 1)
        denominator = jnp.moveaxis(denominator, 0, 1)
        return numerator * jnp.reciprocal(denominator)[..., None]


def CausalFavor(d_feature, n_heads=1, dropout=0.0, numerical_stabilizer=0.001,
                mode="train"):
    """Multi-head causal FAVOR attention with Dense Q/K/V/output layers;
    ``dropout`` is accepted and unused, as in Trax."""
    del dropout
    return attention.ConfigurableAttention(
        core.Dense(d_feature), core.Dense(d_feature), core.Dense(d_feature),
        core.Dense(d_feature), n_heads=n_heads,
        qkv_attention_layer=CausalFavorAttention(numerical_stabilizer, mode))


# Trax defines its sparse feed-forward blocks in this module too; ours live
# in sparse_ff, and are reachable here under Trax's module path.
from trax_compat.layers.research.sparse_ff import (  # noqa: E402,F401  pylint: disable=g-import-not-at-top,unused-import
    BlockSparseFF, SparseFF, SwitchSparseFF, _RecallQuantMaskInReverse,
    _RememberInReverse, _SparseFFController, _SparseFFMain)
