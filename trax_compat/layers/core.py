"""Core layers (Dense, Embedding, Dropout, Mean, ...) and the functions of
Trax's ``layers.core``."""

import inspect
import logging

import jax
import jax.numpy as jnp
import numpy as np

from trax_compat.layers import base
from trax_compat.layers import flax_names
from trax_compat.fastmath import random as trax_random
from trax_compat.layers import initializers as init
from trax_compat.layers.assert_shape import AssertFunction
from trax_compat.layers.functional import Fn
from trax_compat.layers.functional import PureLayer


def log_softmax(x, axis=-1):
    """``x - logsumexp(x)``, as Trax computes log-softmax."""
    return x - jax.scipy.special.logsumexp(x, axis=axis, keepdims=True)


def one_hot(x, n_categories, dtype=jnp.float32):
    """One-hot vectors along a new last axis."""
    return jnp.asarray(x[..., jnp.newaxis] == jnp.arange(n_categories), dtype)


# -- Dense ---------------------------------------------------------------------

class Dense(base.Layer):
    """A fully connected layer: ``y = x @ w + b``; weights ``(w, b)`` (or
    ``w`` alone with ``use_bias=False``)."""

    def __init__(self, n_units, kernel_initializer=None, bias_initializer=None,
                 use_bias=True, use_bfloat16=False):
        super().__init__(name=f"Dense_{n_units}")
        self._n_units = n_units
        self._kernel_initializer, self._bias_initializer = (
            _default_initializers(kernel_initializer, bias_initializer))
        self._use_bias = use_bias
        self._use_bfloat16 = use_bfloat16

    @property
    def weight_names(self):
        return flax_names.kernel_and_bias(self._use_bias)

    def forward(self, x):
        if self._use_bias:
            w, b = _weight_and_bias(self.weights)
            return jnp.dot(x, w) + b
        return jnp.dot(x, self.weights)

    def init_weights_and_state(self, input_signature):
        shape_w = (input_signature.shape[-1], self._n_units)
        rng_w, rng_b = jax.random.split(self.rng, 2)
        w = self._kernel_initializer(shape_w, rng_w)
        if self._use_bfloat16:
            w = w.astype(jnp.bfloat16)
        if self._use_bias:
            b = self._bias_initializer((self._n_units,), rng_b)
            if self._use_bfloat16:
                b = b.astype(jnp.bfloat16)
            self._weights = (w, b)
        else:
            self._weights = w



def _default_initializers(kernel_initializer, bias_initializer):
    """Trax's defaults for a kernel and a bias: Glorot uniform, and normal
    with standard deviation 1e-6."""
    return (kernel_initializer or init.GlorotUniformInitializer(),
            bias_initializer or init.RandomNormalInitializer(1e-6))


def _weight_and_bias(weights):
    if not isinstance(weights, (tuple, list)):
        raise ValueError(f"Weights should be a (w, b) tuple or list; "
                         f"instead got: {weights}")
    return weights


# -- Embedding -----------------------------------------------------------------

class Embedding(base.Layer):
    """Trainable embeddings: int ids -> vectors of size ``d_feature``; ids
    outside ``[0, vocab_size)`` are clipped."""
    weight_names = "embedding"

    def __init__(self, vocab_size, d_feature, use_bfloat16=False,
                 kernel_initializer=None):
        super().__init__(name=f"Embedding_{vocab_size}_{d_feature}")
        self._vocab_size = vocab_size
        self._d_feature = d_feature
        self._use_bfloat16 = use_bfloat16
        self._kernel_initializer = kernel_initializer or init.ScaledInitializer(
            out_dim=-1, in_dim=-2, scale=1.0, mode="fan_out",
            distribution="uniform")

    def forward(self, x):
        embedded = jnp.take(self.weights, x, axis=0, mode="clip")
        if self._use_bfloat16:  # float32 activations from bfloat16 weights
            embedded = embedded.astype(jnp.float32)
        return embedded

    def init_weights_and_state(self, input_signature):
        del input_signature
        w = self._kernel_initializer((self._vocab_size, self._d_feature),
                                     self.rng)
        if self._use_bfloat16:
            w = w.astype(jnp.bfloat16)
        self._weights = w



# -- Dropout -------------------------------------------------------------------

class Dropout(base.Layer):
    """Randomly zeroes a fraction ``rate`` of the inputs in train mode; its
    state is the rate, as in Trax."""

    def __init__(self, rate=0.0, shared_axes=None, mode="train"):
        super().__init__()
        self._initial_rate = rate
        self._shared_axes = tuple(shared_axes or ())
        self._mode = mode

    def forward(self, x):
        """Trax's dropout: keep with probability ``1 - rate`` and scale the
        survivors by ``1 / (1 - rate)``; a no-op unless in train mode."""
        if self._mode != "train":
            return x
        rate = self._initial_rate
        # As in Trax, a dict state may carry the rate under the layer's name.
        if isinstance(self.state, dict) and self._name in self.state:
            rate = self.state[self._name]
        if not isinstance(rate, jax.Array) and rate == 0.0:
            return x
        mask_shape = list(x.shape)
        for axis in self._shared_axes:
            mask_shape[axis] = 1
        keep_prob = 1.0 - rate
        keep = jax.random.bernoulli(self.rng, keep_prob, tuple(mask_shape))
        return x * (keep.astype(x.dtype) / keep_prob)

    def init_weights_and_state(self, input_signature):
        del input_signature
        self._state = jnp.array(self._initial_rate)


# -- weightless functions --------------------------------------------------------

def Mean(axis=-1, keepdims=False):  # pylint: disable=invalid-name
    """Mean along ``axis`` (padding positions included, as in Trax)."""
    return Fn("Mean", lambda x: jnp.mean(x, axis=axis, keepdims=keepdims))


def Sum(axis=None, keepdims=False):  # pylint: disable=invalid-name
    return Fn("Sum", lambda x: jnp.sum(x, axis=axis, keepdims=keepdims))


def Min(axis=-1, keepdims=False):  # pylint: disable=invalid-name
    return Fn("Min", lambda x: jnp.min(x, axis, keepdims=keepdims))


def Max(axis=-1, keepdims=False):  # pylint: disable=invalid-name
    return Fn("Max", lambda x: jnp.max(x, axis, keepdims=keepdims))


def LogSoftmax(axis=-1):  # pylint: disable=invalid-name
    """Log of the softmax along ``axis`` (``x - logsumexp(x)``)."""
    return Fn("LogSoftmax", lambda x: log_softmax(x, axis=axis))


def Softmax(axis=-1):  # pylint: disable=invalid-name
    return Fn("Softmax", lambda x: jnp.exp(log_softmax(x, axis=axis)))


def LogSumExp(axis=-1):  # pylint: disable=invalid-name
    return Fn("LogSumExp", lambda x: jax.scipy.special.logsumexp(
        x, axis=axis, keepdims=True))


def ToFloat():  # pylint: disable=invalid-name
    """Casts to float32."""
    return Fn("ToFloat", lambda x: x.astype(np.float32))


def Flatten(n_axes_to_keep=1):  # pylint: disable=invalid-name
    """Collapses all axes after the first ``n_axes_to_keep`` into one."""
    def f(x):
        rank = len(x.shape)
        if rank <= n_axes_to_keep:
            raise ValueError(
                f"Input rank ({rank}) must exceed the number of axes to keep "
                f"({n_axes_to_keep}) after flattening.")
        return jnp.reshape(x, tuple(x.shape[:n_axes_to_keep]) + (-1,))
    return Fn(f"Flatten_keep{n_axes_to_keep}", f)


def ArgMax(axis=-1):  # pylint: disable=invalid-name
    """Index of the largest value along ``axis`` (ties: first index)."""
    return Fn("ArgMax", lambda x: jnp.argmax(x, axis=axis))


def ThresholdToBinary(threshold=.5):  # pylint: disable=invalid-name
    """1 (int32) where the input exceeds ``threshold``, else 0."""
    return Fn("ThresholdToBinary",
              lambda x: (x > threshold).astype(jnp.int32))


def Negate():  # pylint: disable=invalid-name
    """``-x``."""
    return AssertFunction("...->...", Fn("Negate", lambda x: -x))


def StopGradient():  # pylint: disable=invalid-name
    """The identity, through which no gradient flows."""
    return AssertFunction("...->...", Fn(
        "StopGradient", lambda x: jax.lax.stop_gradient(x)))  # pylint: disable=unnecessary-lambda


def PrintShape(n_in=1, msg=""):  # pylint: disable=invalid-name
    """Passes ``n_in`` inputs through, printing (and logging) their shapes
    and dtypes. Under ``jit`` this happens when the step is traced."""
    def describe(x):
        return f"{x.shape}[{x.dtype}]"

    def forward(xs):
        items = xs if n_in > 1 else (xs,)
        info = (f"PrintShape: {msg}: "
                f"[{', '.join(describe(x) for x in items)}]")
        print(info)
        logging.getLogger(__name__).info(info)
        return xs
    return PureLayer(forward, n_in=n_in, n_out=n_in, name=f"PrintShape_{n_in}")


# -- layers without inputs ----------------------------------------------------

class Weights(base.Layer):
    """No input; returns its one trainable array, of ``shape``, made by
    ``initializer(shape, rng)``."""

    def __init__(self, initializer, shape=tuple(), use_bfloat16=False):
        super().__init__(name=f"Weights_{shape}", n_in=0, n_out=1)
        self._shape = shape
        self._initializer = initializer
        self._use_bfloat16 = use_bfloat16

    def forward(self, x):
        del x  # No inputs.
        return self.weights

    def init_weights_and_state(self, input_signature):
        del input_signature
        w = self._initializer(self._shape, self.rng)
        self.weights = w.astype(jnp.bfloat16) if self._use_bfloat16 else w


class RandomUniform(base.Layer):
    """No input; returns fresh uniform samples in ``[min_val, max_val)``
    from the layer's key on each call. With ``sync`` and several devices,
    the keys are summed across the ``'batch'`` axis so that all devices
    draw the same numbers."""

    def __init__(self, min_val=0.0, max_val=1.0, shape=(), dtype=jnp.float32,
                 sync=False):
        super().__init__(n_in=0, n_out=1)
        self._min_val = min_val
        self._max_val = max_val
        self._shape = shape
        self._dtype = dtype
        self._sync = sync

    def forward(self, xs):
        del xs  # No inputs.
        rng = self.rng
        if self._sync and jax.device_count() > 1:
            rng = jax.lax.psum(rng, "batch")
        return trax_random.uniform(rng, self._shape, self._dtype,
                                   self._min_val, self._max_val)


# -- summaries through state --------------------------------------------------

class SummaryScalar(base.Layer):
    """The identity; its state is ``{'summary_<name>':
    aggregation_fun(x)}``, a value to report (e.g. on TensorBoard)."""

    def __init__(self, name, aggregation_fun=jnp.mean):
        super().__init__(name="summary_" + name)
        self._aggregation_fun = aggregation_fun

    def forward(self, x):
        self.state = {self._name: self._aggregation_fun(x)}
        return x

    def init_weights_and_state(self, input_signature):
        del input_signature
        self.state = {self._name: jnp.array(0.)}


class SummaryImage(base.Layer):
    """Passes ``n_in`` inputs through; its state holds, for each of the
    first ``num_summaries`` batch items ``s``, ``'summary_<name><s>'``: the
    inputs' item ``s`` (through ``recover_fn``) joined along their first
    axis, an image to report.

    As in Trax, it is meant for ``n_in > 1``: with one input it indexes the
    array itself as the tuple of inputs (so its first row is the "input")
    and returns ``x[:1]``.
    """

    def __init__(self, name, n_in, num_summaries=5, recover_fn=None):
        super().__init__(name="summary_" + name, n_in=n_in, n_out=n_in)
        self._num_summaries = num_summaries
        self._recover_fn = recover_fn

    def forward(self, x):
        recover = self._recover_fn or (lambda image: image)
        n_images = min(self._num_summaries, x[0].shape[0])
        self.state = {
            f"{self._name}{s}": jnp.concatenate(
                [recover(x[i][s]) for i in range(self._n_in)], axis=0)
            for s in range(n_images)}
        return x[:self._n_in]

    def init_weights_and_state(self, input_signature):
        del input_signature
        self.state = {self._name: jnp.array(0.)}


# -- LocallyConnected1d -------------------------------------------------------

_PADDINGS = ("VALID", "SAME", "WRAP")


def _accepts(f, keyword):
    try:
        params = inspect.signature(f).parameters
    except (TypeError, ValueError):
        return False
    return keyword in params or any(
        p.kind == inspect.Parameter.VAR_KEYWORD for p in params.values())


class LocallyConnected1d(base.Layer):
    """Like a 1-d convolution over ``(..., length, depth)`` inputs, stride
    1, but with separate filters at each position, so the length is fixed at
    init. Output length: ``length`` for ``'SAME'`` (zeros outside) and
    ``'WRAP'`` (circular), ``length - kernel_size + 1`` for ``'VALID'``."""

    def __init__(self, filters, kernel_size, kernel_initializer=None,
                 bias_initializer=None, use_bias=True, padding="VALID"):
        super().__init__(name=f"LocallyConnected1d_{filters}_{kernel_size}")
        if kernel_size % 2 != 1:
            raise ValueError(
                f"LocallyConnected1d needs an odd kernel_size (its window is "
                f"centred on each position); got {kernel_size}.")
        self._filters = filters
        self._kernel_size = kernel_size
        self._kernel_initializer, self._bias_initializer = (
            _default_initializers(kernel_initializer, bias_initializer))
        self._use_bias = use_bias
        self._padding = padding

    @property
    def weight_names(self):
        return flax_names.kernel_and_bias(self._use_bias)

    def _shifted(self, r, i):
        """Kernel offset ``i``'s results ``r`` (length on axis -3), moved to
        the output positions they contribute to (Trax's pad-and-cut)."""
        k = self._kernel_size
        if self._padding == "VALID":
            return r[..., k - 1 - i:r.shape[-3] - i, :, :]
        if self._padding not in _PADDINGS:
            raise ValueError(
                f"Invalid padding {self._padding}; LocallyConnected1d takes "
                f"one of {', '.join(_PADDINGS)}.")
        pads = [(0, 0)] * r.ndim
        pads[-3] = (k - 1 - i, i)
        mode = "wrap" if self._padding == "WRAP" else "constant"
        half = (k - 1) // 2
        return jnp.pad(r, pads, mode=mode)[..., half:-half, :, :]

    def forward(self, x):
        if self._use_bias:
            w, b = _weight_and_bias(self.weights)
        else:
            w = self.weights
        # Every position's result for every kernel offset, then each offset
        # shifted into place and the offsets summed.
        per_offset = jnp.einsum("...lp,lkpd->...lkd", x, w)
        if self._kernel_size == 1:
            y = jnp.squeeze(per_offset, axis=-2)
        else:
            parts = jnp.split(per_offset, self._kernel_size, axis=-2)
            y = jnp.sum(jnp.concatenate(
                [self._shifted(r, i) for i, r in enumerate(parts)], axis=-2),
                axis=-2)
        return y + b if self._use_bias else y

    def init_weights_and_state(self, input_signature):
        length, depth = input_signature.shape[-2:]
        shape_w = (length, self._kernel_size, depth, self._filters)
        out_length = (length - self._kernel_size + 1
                      if self._padding == "VALID" else length)
        rng_w, rng_b = jax.random.split(self.rng, 2)
        # Trax passes nonreceptive_dims=[0] (the length axis); its fans do
        # not depend on it, and a plain (shape, rng) initializer is welcome.
        if _accepts(self._kernel_initializer, "nonreceptive_dims"):
            w = self._kernel_initializer(shape_w, rng_w, nonreceptive_dims=[0])
        else:
            w = self._kernel_initializer(shape_w, rng_w)
        if self._use_bias:
            self.weights = (w, self._bias_initializer(
                (out_length, self._filters), rng_b))
        else:
            self.weights = w


# -- functions ----------------------------------------------------------------

def log_gaussian_pdf(x, mu, sigma):
    """``log N(x | mu, sigma)`` for a full covariance ``sigma`` (batched
    over leading axes)."""
    a = mu.shape[-1] * jnp.log(2 * jnp.pi)
    _, b = jnp.linalg.slogdet(sigma)
    y = jnp.linalg.solve(sigma, (x - mu)[..., None])
    c = jnp.matmul(jnp.expand_dims(x - mu, axis=-2), y)
    return -0.5 * (a + b + c[..., 0, 0])


def log_gaussian_diag_pdf(x, mu, diag_sigma):
    """Trax's ``log N(x | mu, diag(diag_sigma))``.

    Its quadratic term is ``(x - mu) . (x - mu / diag_sigma)``, not
    ``(x - mu) . ((x - mu) / diag_sigma)``: kept so that values match Trax's
    (they agree where ``mu`` is 0 or ``diag_sigma`` is 1).
    """
    a = mu.shape[-1] * jnp.log(2 * jnp.pi)
    b = jnp.sum(jnp.log(diag_sigma), axis=-1)
    y = jnp.expand_dims(x - mu / diag_sigma, axis=-1)
    c = jnp.matmul(jnp.expand_dims(x - mu, axis=-2), y)
    return -0.5 * (a + b + c[..., 0, 0])


def multigaussian_loss(preds, targets, ngauss=1):
    """Log-likelihood of ``targets`` under a mixture of ``ngauss`` diagonal
    Gaussians: ``preds`` holds, per row, the mixture logits, the means and
    the scales (squared plus 1e-6 to give variances).

    Trax's version fails on every call (a ``TypeError`` from a missing
    ``*``), so no working Trax code depends on it; this computes what it
    describes, with Trax's ``log_gaussian_diag_pdf``.
    """
    ndims = targets.shape[-1]
    if preds.shape[-1] != ngauss * (1 + 2 * ndims):
        raise ValueError(
            f"multigaussian_loss: preds has {preds.shape[-1]} columns; with "
            f"ngauss={ngauss} and {ndims}-dimensional targets it needs "
            f"ngauss * (1 + 2 * ndims) = {ngauss * (1 + 2 * ndims)} (logits, "
            f"means, scales).")
    logits = preds[:, :ngauss]
    mus = preds[:, ngauss:ngauss * (ndims + 1)]
    sigmas = preds[:, ngauss * (ndims + 1):]
    sigmas = sigmas * sigmas + 1e-6
    loglogits = logits - jax.scipy.special.logsumexp(logits, axis=-1,
                                                     keepdims=True)
    mus = jnp.reshape(mus, [-1, ngauss, ndims])
    sigmas = jnp.reshape(sigmas, [-1, ngauss, ndims])
    targets = jnp.reshape(targets, [-1, 1, ndims])
    glogprobs = log_gaussian_diag_pdf(targets, mus, sigmas)
    return jax.scipy.special.logsumexp(loglogits + glogprobs, axis=-1)


def logsoftmax_sample(log_probs, temperature=1.0):
    """Samples indices from log-probabilities ``log_probs`` (last axis) with
    ``temperature`` (0 picks the argmax), by the Gumbel-max trick.

    The noise comes from NumPy's global generator, as in Trax, so
    ``np.random.seed`` makes it reproducible (and gives Trax's samples).
    """
    u = np.random.uniform(low=1e-6, high=1.0 - 1e-6, size=log_probs.shape)
    gumbel = -np.log(-np.log(u))
    return np.argmax(log_probs + gumbel * temperature, axis=-1)
