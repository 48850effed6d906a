"""Running layers on accelerators, as Trax does: ``Accelerate`` (a layer
jitted on one device, data-parallel with ``pmap`` on several) and the device
helpers training code calls directly.

With ``n_devices`` > 1, arrays replicated or split for the devices carry a
leading device axis (``for_n_devices``, ``reshape_by_device``), as in Trax.
"""

import jax
import numpy as np

from trax_compat import fastmath
from trax_compat.fastmath import numpy as fnp
from trax_compat.layers import base


class Accelerate(base.Layer):
    """``layer`` jit-compiled, and on several devices run data-parallel: the
    batch (axis 0 of every input) is split across ``n_devices`` (default:
    all local devices), padded with zeros when it does not divide evenly
    (the padding is cut from the outputs).

    Its weights and state are the sublayer's, replicated per device when
    ``n_devices`` > 1. An already initialized ``layer`` needs no ``init``;
    to set new weights use ``replicate_weights``.
    """

    def __init__(self, layer, n_devices=None):
        super().__init__(n_in=layer.n_in, n_out=layer.n_out)
        self._sublayers = [layer]
        self._n_devices = n_devices or fastmath.local_device_count()
        self._jit_pure_fn = jit_forward(layer.pure_fn, self._n_devices,
                                        do_mean=False)

    @property
    def sublayer(self):
        """The accelerated layer."""
        return self._sublayers[0]

    def pure_fn(self, x, weights, state, rng, use_cache=False):
        """The sublayer's ``pure_fn``, accelerated."""
        del use_cache
        batch = (x[0] if isinstance(x, (list, tuple)) else x).shape[0]
        remainder = batch % self._n_devices
        if remainder == 0:
            return self._jit_pure_fn(x, weights, state, rng)
        n_pad = self._n_devices - remainder

        def pad(z):
            widths = [(0, n_pad)] + [(0, 0)] * (len(z.shape) - 1)
            return fnp.pad(z, widths, mode="constant",
                           constant_values=z.dtype.type(0))

        if isinstance(x, (list, tuple)):
            padded = [pad(z) for z in x]
        else:
            padded = pad(x)
        padded_y, state = self._jit_pure_fn(padded, weights, state, rng)
        if isinstance(x, (list, tuple)):
            y = tuple(py[:z.shape[0]] for py, z in zip(padded_y, x))
            y = list(y) if isinstance(x, list) else y
        else:
            y = padded_y[:batch]
        return y, state

    def init(self, input_signature, rng=None, use_cache=False):
        """Initializes the sublayer and replicates its weights and state."""
        del use_cache
        if rng is not None:
            self.rng = rng
        weights, state = self.sublayer.init(input_signature, use_cache=True)
        self._weights = for_n_devices(weights, self._n_devices)
        self._state = for_n_devices(state, self._n_devices)
        return self.weights, self.state

    def replicate_weights(self, weights):
        """Sets the sublayer's weights, and this layer's replicated copy."""
        self.sublayer.weights = weights
        self._weights = for_n_devices(weights, self._n_devices)

    def replicate_state(self, state):
        """Sets the sublayer's state, and this layer's replicated copy."""
        self.sublayer.state = state
        self._state = for_n_devices(state, self._n_devices)

    def _unreplicate(self, tree):
        if self._n_devices < 2:
            return tree
        return fastmath.nested_map(lambda y: y[0], tree)

    # Weights and state are the sublayer's (replicated), not a tuple with
    # one entry per sublayer; read lazily so an initialized sublayer needs
    # no init here.
    @property
    def weights(self):
        if self._weights is base.EMPTY_WEIGHTS:
            self._weights = for_n_devices(self.sublayer.weights,
                                          self._n_devices)
        return self._weights

    @weights.setter
    def weights(self, weights):
        self._weights = weights
        self.sublayer.weights = self._unreplicate(weights)

    @property
    def state(self):
        if self._state is base.EMPTY_STATE:
            self._state = for_n_devices(self.sublayer.state, self._n_devices)
        return self._state

    @state.setter
    def state(self, state):
        self._state = state
        self.sublayer.state = self._unreplicate(state)

    # In Flax, the sublayer's names (one device's copy).
    def params_from_weights(self, weights):
        return self.sublayer.params_from_weights(self._unreplicate(weights))

    def weights_from_params(self, params):
        return for_n_devices(self.sublayer.weights_from_params(params),
                             self._n_devices)

    def flax_state_from_state(self, state):
        return self.sublayer.flax_state_from_state(self._unreplicate(state))

    def state_from_flax_state(self, flax_state):
        return for_n_devices(self.sublayer.state_from_flax_state(flax_state),
                             self._n_devices)


def mean_or_pmean(n_devices, x, axis=None):
    """The mean of ``x`` over ``axis`` (0 or None), ``x`` being per-device
    values or a local array: on JAX, as in Trax, a plain mean."""
    del n_devices
    return fnp.mean(x, axis=axis)


def jit_forward(forward, n_devices, do_mean=True):
    """``forward(x, weights, state, rng)`` compiled for ``n_devices``: 0 on
    the CPU, 1 jitted, more with ``pmap`` over the batch split per device
    (weights and state replicated, see ``for_n_devices``); then the outputs
    are joined into one batch, or with ``do_mean`` averaged over it."""
    accelerated = _accelerate(forward, n_devices)
    if n_devices < 2:
        return accelerated

    def parallel_forward(x, weights, state, rng):
        keys = fnp.stack(fastmath.random.split(rng, n_devices))
        res, state = accelerated(reshape_by_device(x, n_devices), weights,
                                 state, keys)
        res = _combine_devices(res)
        if do_mean:
            res = fastmath.nested_map(
                lambda y: mean_or_pmean(n_devices, y, axis=0), res)
        return res, state

    return parallel_forward


def _combine_devices(tree):
    """Per-device batches ``(n_devices, batch, ...)`` joined into one."""
    def join(x):
        if len(x.shape) < 2:
            return x  # one value per device: the devices are the batch
        return fnp.reshape(x, (x.shape[0] * x.shape[1],) + tuple(x.shape[2:]))
    return fastmath.nested_map(join, tree)


def _accelerate(f, n_devices):
    if n_devices == 0:  # no accelerator: compile for and run on the CPU
        cpu = jax.local_devices(backend="cpu")[0]
        jitted = jax.jit(f)

        def on_cpu_device(*args):
            return jitted(*jax.device_put(args, cpu))
        return on_cpu_device
    if n_devices == 1:
        return jax.jit(f)
    return jax.pmap(f, axis_name="batch")


def reshape_by_device(x, n_devices, pure_np=False):
    """Each array of (nested) ``x`` with its batch axis split as
    ``(n_devices, batch // n_devices, ...)``."""
    reshape = np.reshape if pure_np else fnp.reshape

    def split_batch(a):
        shape = list(a.shape)
        per_device = shape[0] // n_devices
        if per_device * n_devices != shape[0]:
            raise ValueError(
                f"Number of devices ({n_devices}) does not evenly divide "
                f"batch size ({shape[0]}).")
        return reshape(a, [n_devices, per_device] + shape[1:])

    return fastmath.nested_map(split_batch, x)


def for_n_devices(x, n_devices):
    """Each array of (nested) ``x`` replicated ``n_devices`` times along a
    new leading axis (on the first ``n_devices`` local devices under JAX);
    unchanged for one device."""
    def replicate(a):
        if n_devices < 2:
            return a
        a = fnp.asarray(a)
        stacked = fnp.broadcast_to(a, (n_devices,) + a.shape)
        if not fastmath.is_backend(fastmath.Backend.JAX):
            return stacked
        mesh = jax.sharding.Mesh(np.array(jax.local_devices()[:n_devices]),
                                 ("devices",))
        return jax.device_put(stacked, jax.sharding.NamedSharding(
            mesh, jax.sharding.PartitionSpec("devices")))
    return fastmath.nested_map(replicate, x)


def on_cpu(x):
    """``x`` in CPU memory (under JAX; other backends: unchanged)."""
    if fastmath.is_backend(fastmath.Backend.JAX):
        return jax.device_put(x, jax.local_devices(backend="cpu")[0])
    return x


def on_accelerator(x):
    """``x`` on the accelerator when there is exactly one GPU or TPU;
    otherwise unchanged."""
    devices = []
    for platform in ("gpu", "tpu"):
        try:
            devices = jax.devices(platform)
            break
        except RuntimeError:
            continue
    if len(devices) != 1:
        return x
    return jax.device_put(x, devices[0])
