"""Trax's layer protocol: the one definition of every layer.

A ``Layer`` computes in ``forward`` with ``self.weights``, ``self.state``
and ``self.rng``, and makes its weights and state in
``init_weights_and_state``; around these it keeps what Trax users see
(``n_in``/``n_out`` over a data stack, Trax-shaped ``weights`` and ``state``
as nested tuples, ``init``, ``pure_fn``, ``print(model)``, ``LayerError``).

Flax, optax and Orbax see the weights as a named dict tree
(``params_from_weights`` / ``weights_from_params``, one rule for every
layer in ``flax_names``; the arrays are shared, not copied), and Flax code
runs any layer through one generic module, ``ForwardModule(layer)``
(``layer.to_flax()``).

Randomness: combinators split their key among sublayers exactly as Trax
does, so dropout masks match Trax's.
"""

import os
import random
import sys
import traceback

import jax
import jax.numpy as jnp
import numpy as np

from trax_compat import shapes
from trax_compat.fastmath import nested
from trax_compat.fastmath import random as trax_random
from trax_compat.layers import weights_io
# Trax has these in its base module.
from trax_compat.layers.weights_io import flatten_weights_and_state  # pylint: disable=unused-import
from trax_compat.layers.weights_io import np_from_file  # pylint: disable=unused-import
from trax_compat.layers.weights_io import np_to_file  # pylint: disable=unused-import
from trax_compat.layers.weights_io import unflatten_weights_and_state  # pylint: disable=unused-import

EMPTY_WEIGHTS = ()
EMPTY_STATE = ()

# Exported by the layers package besides the functions and classes defined
# here (see trax_compat.missing._public_names).
_EXPORTS = ("EMPTY_WEIGHTS", "EMPTY_STATE", "GET_WEIGHTS_FROM_CACHE",
            "GET_STATE_FROM_CACHE", "flatten_weights_and_state",
            "unflatten_weights_and_state", "np_to_file", "np_from_file",
            "N_WEIGHTS_SHARDS", "Fn", "PureLayer")

# Trax's global number of weight shards (1: weights are not sharded).
N_WEIGHTS_SHARDS = 1

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class LayerError(Exception):
    """An error inside a layer, naming the layer, where it was created and
    the shapes it was given (Trax's message layout)."""

    def __init__(self, layer_name, function_name, caller, input_signature,
                 traceback_string=""):
        self._layer_name = layer_name
        self._function_name = function_name
        self._caller = caller
        self._input_signature = input_signature
        self._traceback = traceback_string
        super().__init__(self.message)

    @property
    def layer_name(self):
        return self._layer_name

    @property
    def message(self):
        caller = self._caller or {"filename": "?", "lineno": 0}
        # Trax shortens the path to its last three parts.
        short_path = "[...]/" + "/".join(
            str(caller["filename"]).replace(os.sep, "/").split("/")[-3:])
        return (f"Exception passing through layer {self._layer_name} "
                f"(in {self._function_name}):\n"
                f"  layer created in file {short_path}, line "
                f"{caller['lineno']}\n"
                f"  layer input shapes: {self._input_signature}\n\n"
                f"{self._traceback}")


def _caller_info():
    """The first frame outside this package: where the user created the
    layer (Trax skips its own layers directory the same way)."""
    frame = sys._getframe(1)  # pylint: disable=protected-access
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not path.startswith(_PACKAGE_DIR + os.sep):
            return {"filename": frame.f_code.co_filename,
                    "lineno": int(frame.f_lineno)}
        frame = frame.f_back
    return {"filename": "?", "lineno": 0}


def _short_traceback(exc):
    """The underlying error as Trax's message ends: ``Type: message``.

    A nested LayerError keeps its whole text; JAX's "removed internal
    frames" note is dropped.
    """
    if isinstance(exc, LayerError):
        return "LayerError: " + exc.message
    te = traceback.TracebackException(type(exc), exc, None)
    te.__notes__ = None
    return "".join(te.format_exception_only()).rstrip("\n")


def _to_jax_struct(sig):
    dtype = jax.dtypes.canonicalize_dtype(np.dtype(sig.dtype))
    return jax.ShapeDtypeStruct(tuple(sig.shape), dtype)


def _from_jax_struct(struct):
    return shapes.ShapeDtype(struct.shape, np.dtype(struct.dtype))


def _signature_or_repr(x):
    try:
        return shapes.signature(x)
    except Exception:  # pylint: disable=broad-except
        return repr(x)


# Trax's markers for a shared layer's second and later occurrences: its
# weights and state live at its first occurrence.
GET_WEIGHTS_FROM_CACHE = {"__marker_for_cached_weights_": ()}
GET_STATE_FROM_CACHE = {"__marker_for_cached_state_": ()}


def is_weights_marker(x):
    return isinstance(x, dict) and x == GET_WEIGHTS_FROM_CACHE


def is_state_marker(x):
    return isinstance(x, dict) and x == GET_STATE_FROM_CACHE


def is_empty(tree):
    return isinstance(tree, (tuple, list)) and not tree


class Layer:
    """Base class of Trax-style layers, with Trax's subclassing protocol.

    A subclass implements ``forward(self, inputs)`` using ``self.weights``,
    ``self.state`` and ``self.rng``, and ``init_weights_and_state(self,
    input_signature)`` when it has weights or state; ``has_backward`` and
    ``backward`` give it custom gradients. Built-in and user layers alike run
    in Flax through one generic module (``forward_module.ForwardModule``).
    """

    # The Flax names of this layer's own weights and state (see
    # ``flax_names``): a string for the whole tree, or a (nested) tuple of
    # strings matching the Trax tuple, e.g. ``("kernel", "bias")``.
    weight_names = "weights"
    state_names = "state"

    def __init__(self, n_in=1, n_out=1, name=None, sublayers_to_print=None):
        self._n_in = n_in
        self._n_out = n_out
        self._name = type(self).__name__ if name is None else name
        self._sublayers = ()
        self._sublayers_to_print = sublayers_to_print
        self._weights = EMPTY_WEIGHTS
        self._state = EMPTY_STATE
        # Per sublayer: True where it is a repeat of a layer seen earlier in
        # the network (its weights/state are then Trax's cache markers).
        self._cached_weights = None
        self._cached_state = None
        self._init_cached = False
        # As Trax: a seed from Python's generator now, the key on first use.
        self._rng = None
        self._rng_seed_int = random.randint(0, 2**31 - 1)
        self._caller = _caller_info()
        self._module = None

    # -- attribute typo guard ---------------------------------------------------

    def _settable_attrs(self):
        """Public attributes a layer may set; others are taken for typos."""
        return ("weights", "state", "rng")

    def __setattr__(self, attr, value):
        if not attr.startswith("_") and attr not in self._settable_attrs():
            raise ValueError(
                f"Trax layers only allow to set {self._settable_attrs()} as "
                f"public attributes, not {attr!r} (a typo? private "
                f"attributes start with '_').")
        super().__setattr__(attr, value)

    # -- Trax-visible attributes -------------------------------------------

    @property
    def n_in(self):
        return self._n_in

    @property
    def n_out(self):
        return self._n_out

    @property
    def name(self):
        return self._name

    @property
    def sublayers(self):
        return self._sublayers

    @property
    def has_backward(self):
        """True for a layer whose ``backward`` gives its gradients."""
        return False

    def backward(self, inputs, output, grad, weights, state, new_state, rng):
        """Custom gradients: returns the gradients for ``(inputs, weights)``
        given ``grad``, the gradient of ``output``."""
        raise NotImplementedError

    def __repr__(self):
        name_str = self._name
        if self._n_in != 1:
            name_str += f"_in{self._n_in}"
        if self._n_out != 1:
            name_str += f"_out{self._n_out}"
        objs = (self._sublayers if self._sublayers_to_print is None
                else self._sublayers_to_print)
        # Layers printing as '' (AssertShape) are hidden, as in Trax.
        strs = [str(obj) for obj in objs if str(obj)]
        if not strs:
            return name_str
        inner = "\n".join("  " + s.replace("\n", "\n  ") for s in strs)
        return f"{name_str}[\n{inner}\n]"

    # -- weights, state, rng ------------------------------------------------

    def _get_tree(self, own, cached, marker, attr):
        if not self._sublayers:
            return own
        cached = cached or (False,) * len(self._sublayers)
        return tuple(marker if c else getattr(layer, attr)
                     for layer, c in zip(self._sublayers, cached))

    def _set_tree(self, tree, marker, attr):
        """Sets this layer's weights or state; with sublayers, one entry
        each, markers recorded and not passed down. Returns the marks."""
        if not isinstance(tree, (tuple, list)):
            raise ValueError(
                f"Layer {self._name} expects {attr} as a tuple with one entry "
                f"per sublayer ({len(self._sublayers)}); got "
                f"{type(tree).__name__}.")
        if len(tree) != len(self._sublayers):
            raise ValueError(
                f"Number of {attr[:-1] if attr == 'weights' else attr} "
                f"elements ({len(tree)}) does not equal the number of "
                f"sublayers ({len(self._sublayers)}) in: {self}.")
        marks = tuple(isinstance(t, dict) and t == marker for t in tree)
        for layer, t, m in zip(self._sublayers, tree, marks):
            if not m:
                setattr(layer, attr, t)
        return marks

    @property
    def weights(self):
        return self._get_tree(self._weights, self._cached_weights,
                              GET_WEIGHTS_FROM_CACHE, "weights")

    @weights.setter
    def weights(self, weights):
        if is_weights_marker(weights):
            return
        if not self._sublayers:
            self._weights = weights
            return
        self._cached_weights = self._set_tree(weights, GET_WEIGHTS_FROM_CACHE,
                                              "weights")

    @property
    def state(self):
        return self._get_tree(self._state, self._cached_state,
                              GET_STATE_FROM_CACHE, "state")

    @state.setter
    def state(self, state):
        if is_state_marker(state):
            return
        if not self._sublayers:
            self._state = state
            return
        self._cached_state = self._set_tree(state, GET_STATE_FROM_CACHE,
                                            "state")

    @property
    def rng(self):
        if self._rng is None:
            self._rng = trax_random.get_prng(self._rng_seed_int)
        return self._rng

    @rng.setter
    def rng(self, rng):
        # Trax gives each sublayer one key of an n-way split of the parent's.
        self._rng = rng
        if self._sublayers:
            keys = trax_random.split(rng, len(self._sublayers))
            for layer, key in zip(self._sublayers, keys):
                layer.rng = key

    # -- Flax side ------------------------------------------------------------

    @property
    def module(self):
        """The Flax Linen module computing this layer (the generic host)."""
        if self._module is None:
            from trax_compat.layers import forward_module  # pylint: disable=g-import-not-at-top
            self._module = forward_module.ForwardModule(layer=self)
        return self._module

    def flax_child_names(self):
        """Flax names of the sublayers' modules in this layer's module."""
        return tuple(f"layers_{i}" for i in range(len(self._sublayers)))

    def params_from_weights(self, weights):
        """Trax-shaped weights -> this layer's Flax ``params`` subtree."""
        from trax_compat.layers import flax_names  # pylint: disable=g-import-not-at-top
        return flax_names.to_flax(self, weights, "weights")

    def weights_from_params(self, params):
        """This layer's Flax ``params`` subtree -> Trax-shaped weights."""
        from trax_compat.layers import flax_names  # pylint: disable=g-import-not-at-top
        return flax_names.from_flax(self, params, "weights")

    def flax_state_from_state(self, state):
        """Trax-shaped state -> this layer's Flax ``state`` collection."""
        from trax_compat.layers import flax_names  # pylint: disable=g-import-not-at-top
        return flax_names.to_flax(self, state, "state")

    def state_from_flax_state(self, flax_state):
        """This layer's Flax ``state`` collection -> Trax-shaped state."""
        from trax_compat.layers import flax_names  # pylint: disable=g-import-not-at-top
        return flax_names.from_flax(self, flax_state, "state")

    @property
    def params(self):
        """The current weights as a Flax ``params`` dict."""
        return self.params_from_weights(self.weights)

    @property
    def variables(self):
        """The Flax variables: ``params``, and ``state`` when there is any."""
        variables = {"params": self.params}
        state = self.flax_state_from_state(self.state)
        if state:
            variables["state"] = state
        return variables

    def to_flax(self):
        """Returns ``(module, variables)``: a plain Flax Linen module and its
        variables dict computing this layer with
        ``module.apply(variables, *inputs, rngs={'dropout': key})`` (add
        ``mutable=['state']`` to get a stateful layer's new state)."""
        return self.module, self.variables

    # -- init ---------------------------------------------------------------

    def init_weights_and_state(self, input_signature):
        """Sets this layer's weights and state for inputs of
        ``input_signature`` (using ``self.rng``). Default: none."""
        del input_signature

    def init(self, input_signature, rng=None, use_cache=False):
        """Initializes weights and state for inputs of ``input_signature``;
        returns ``(weights, state)``. With ``use_cache`` (combinators), a
        layer already initialized elsewhere in the network returns the
        cache markers instead: that is how layers share weights."""
        try:
            if self._init_cached and use_cache:
                return GET_WEIGHTS_FROM_CACHE, GET_STATE_FROM_CACHE
            if rng is not None:
                self.rng = rng
            with trax_random.trax_key_semantics():
                self.init_weights_and_state(input_signature)
            if use_cache:
                self._init_cached = True
            else:
                self._clear_init_cache()
            return self.weights, self.state
        except Exception as e:  # pylint: disable=broad-except
            raise LayerError(self._name, "init", self._caller,
                             input_signature, _short_traceback(e)) from e

    def _clear_init_cache(self):
        self._init_cached = False
        for layer in self._sublayers:
            layer._clear_init_cache()  # pylint: disable=protected-access

    def weights_and_state_signature(self, input_signature, unsafe=False):
        """Shapes and dtypes of the weights and state ``init`` would make,
        computed abstractly; the layer keeps its own unless ``unsafe``."""
        rng, weights, state = self.rng, self.weights, self.state
        sig = jax.eval_shape(lambda: self.init(input_signature))
        sig = jax.tree_util.tree_map(_from_jax_struct, sig)
        self.rng = rng
        if not unsafe:
            self.state, self.weights = state, weights
        return sig

    def init_from_file(self, file_name, weights_only=False,
                       input_signature=None):
        """Loads weights (and state) from a file written by ``save_to_file``
        or from a checkpoint written by our Loop."""
        return weights_io.init_from_file(self, file_name, weights_only,
                                         input_signature)

    def save_to_file(self, file_name, weights_only=False,
                     input_signature=None):
        """Writes weights and state in Trax's gzipped-pickle layout."""
        weights_io.save_to_file(self, file_name, weights_only,
                                input_signature)

    # -- calling --------------------------------------------------------------

    def _pack_inputs(self, x):
        """Trax's input packaging: one input bare, several as a tuple or
        list. Returns the module's positional inputs."""
        if self._n_in == 1:
            return (x,)
        if not isinstance(x, (tuple, list)):
            raise TypeError(
                f"Expected input to be a tuple or list; instead got "
                f"{type(x)}.")
        if len(x) != self._n_in:
            raise ValueError(
                f"Input tuple length ({len(x)}) does not equal required "
                f"number of inputs ({self._n_in}).")
        return tuple(x)

    def forward(self, inputs):
        """Computes the outputs from ``inputs`` with ``self.weights``,
        ``self.state`` and ``self.rng`` (and may set ``self.state``)."""
        raise NotImplementedError(
            f"{type(self).__name__} does not define forward().")

    def pure_fn(self, x, weights, state, rng, use_cache=False):
        """Computes the layer on ``x`` with explicit weights, state and key;
        returns ``(outputs, new_state)``. With ``use_cache`` (combinators)
        the weights and state stay in the layer, so a later occurrence of
        the same layer, given the cache markers, computes with them."""
        old_weights, old_state, old_rng = self.weights, self.state, self._rng
        keep = False
        try:
            self._rng = rng
            was_cached = is_weights_marker(weights) and is_state_marker(state)
            if not was_cached:
                self.weights, self.state = weights, state
            with trax_random.trax_key_semantics():
                if self.has_backward:
                    outputs, new_state = self._forward_with_custom_gradients(x)
                    self.state = new_state
                else:
                    outputs = self.forward(x)
                    new_state = self.state
            # With use_cache the (possibly traced) weights and state stay,
            # for a later occurrence of this layer in the same network.
            keep = use_cache
            if was_cached:
                new_state = GET_STATE_FROM_CACHE
            return outputs, new_state
        except Exception as e:  # pylint: disable=broad-except
            raise LayerError(self._name, "pure_fn", self._caller,
                             _signature_or_repr(x),
                             _short_traceback(e)) from e
        finally:
            # Tracers must not outlive the trace in the layer's attributes.
            self._rng = old_rng
            if not keep:
                self.weights, self.state = old_weights, old_state

    def _forward_with_custom_gradients(self, x):
        """``forward`` whose gradients come from ``backward``."""
        state, rng = self.state, self._rng

        def run(y, weights):
            saved = self.weights, self.state, self._rng
            self.weights, self.state, self._rng = weights, state, rng
            try:
                return self.forward(y), self.state
            finally:
                self.weights, self.state, self._rng = saved

        @jax.custom_vjp
        def f(y, weights):
            return run(y, weights)

        def f_fwd(y, weights):
            output, new_state = run(y, weights)
            return (output, new_state), (y, output, weights, new_state)

        def f_bwd(residual, grads):
            y, output, weights, new_state = residual
            return tuple(self.backward(y, output, grads[0], weights, state,
                                       new_state, rng))

        f.defvjp(f_fwd, f_bwd)
        return f(x, self.weights)

    def __call__(self, x, weights=None, state=None, rng=None):
        weights = self.weights if weights is None else weights
        rng = self.rng if rng is None else rng
        if state is not None:
            self.state = state
        outputs, new_state = self.pure_fn(x, weights, self.state, rng)
        self.state = new_state
        return outputs

    def output_signature(self, input_signature):
        """Shapes and dtypes of the outputs for inputs of ``input_signature``."""
        return self._forward_abstract(input_signature)[0]

    def _forward_abstract(self, input_signature):
        try:
            sigs = jax.tree_util.tree_map(
                _to_jax_struct, input_signature,
                is_leaf=lambda s: isinstance(s, shapes.ShapeDtype))
            weights = jax.tree_util.tree_map(_struct_of, self.weights)
            state = jax.tree_util.tree_map(_struct_of, self.state)
            key = jax.eval_shape(lambda: trax_random.get_prng(0))
            out = jax.eval_shape(self.pure_fn, sigs, weights, state, key)
        except Exception as e:  # pylint: disable=broad-except
            raise LayerError(self._name, "_forward_abstract", self._caller,
                             input_signature, _short_traceback(e)) from e
        return jax.tree_util.tree_map(_from_jax_struct, out)


def _struct_of(x):
    return jax.ShapeDtypeStruct(np.shape(x), jnp.result_type(x))


def layers_in_order(layer):
    """Every layer of the network in depth-first order, repeats included."""
    yield layer
    for sub in layer.sublayers:
        yield from layers_in_order(sub)


def to_list(outputs):
    """Layer outputs as nested Python lists, for plain equality checks."""
    if isinstance(outputs, (list, tuple)):
        return [np.asarray(y).tolist() for y in outputs]
    return np.asarray(outputs).tolist()


def count_weights(weights):
    """Total number of scalars in a nested weights structure."""
    return int(sum(np.prod(np.shape(w))
                   for w in jax.tree_util.tree_leaves(weights)))


# -- weight sharding (Trax's helpers for weights split across devices) ------------

def _shard_axis(shape):
    # Trax's heuristic: the last axis of arrays of rank 3 or more, else the
    # first.
    return 0 if len(shape) < 3 else -1


def shard(tensors, n_shards=None):
    """Splits each array into ``n_shards`` along its shard axis and stacks,
    for each local device d, piece ``d % n_shards``: arrays with a leading
    device axis, ready for ``pmap``."""
    n_shards = N_WEIGHTS_SHARDS if n_shards is None else n_shards
    first = jax.process_index() * jax.local_device_count()
    devices = range(first, first + jax.local_device_count())

    def shard_one(x):
        axis = _shard_axis(x.shape)
        if int(x.shape[axis]) % n_shards != 0:
            raise ValueError(
                f"Cannot split an array of shape {tuple(x.shape)} into "
                f"{n_shards} shards along axis {axis}; use a size divisible "
                f"by {n_shards}.")
        pieces = jnp.split(x, n_shards, axis=axis)
        return np.stack([pieces[d % n_shards] for d in devices], axis=0)
    return nested.nested_map(shard_one, tensors)


def unshard_in_pmap(tensors, n_shards):
    """Inside ``pmap`` over the axis 'batch': joins each device group's
    shards again; returns ``(tensors, True)``, or ``(tensors, False)``
    unchanged outside ``pmap`` (e.g. during init)."""
    groups = [[n_shards * i + d for d in range(n_shards)]
              for i in range(jax.device_count() // n_shards)]

    def unshard_one(x):
        gathered = jax.lax.all_gather(x, "batch", axis_index_groups=groups)
        pieces = [jnp.squeeze(p, axis=0)
                  for p in jnp.split(gathered, n_shards, axis=0)]
        return jnp.concatenate(pieces, axis=_shard_axis(pieces[0].shape))
    try:
        jax.lax.axis_index("batch")  # Fails outside pmap.
    except NameError:
        return tensors, False
    return nested.nested_map(unshard_one, tensors), True


def unshard(tensors, n_shards=None):
    """The inverse of ``shard`` outside ``pmap``, in host (NumPy) memory:
    joins the first ``n_shards`` entries of each array's device axis."""
    n_shards = N_WEIGHTS_SHARDS if n_shards is None else n_shards

    def unshard_one(x):
        pieces = [np.squeeze(p, axis=0)
                  for p in np.split(np.asarray(x), n_shards, axis=0)]
        return np.concatenate(pieces, axis=_shard_axis(pieces[0].shape))
    return nested.nested_map(unshard_one, tensors)


# Trax defines these in its base module; ours live in functional (which
# needs Layer from here).
from trax_compat.layers.functional import Fn  # pylint: disable=g-import-not-at-top,wrong-import-position
from trax_compat.layers.functional import PureLayer  # pylint: disable=g-import-not-at-top,wrong-import-position
