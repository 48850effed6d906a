"""The Trax layer object, computed by a Flax Linen module.

A ``Layer`` keeps what Trax users see (``n_in``/``n_out`` over a data stack,
Trax-shaped ``weights`` and ``state`` as nested tuples, ``init``, ``rng``,
``print(model)``, ``LayerError``) and delegates the computation to a
``flax.linen.Module`` from ``make_module()``. Weights are turned into a Flax
variables dict on the way in (``params_from_weights``) and back
(``weights_from_params``); both only restructure, the arrays are shared.

Randomness: each of our modules takes an optional ``rng`` keyword. Given one
(``layer(x)``, ``pure_fn``), combinators split it among sublayers exactly as
Trax does, so dropout masks match Trax's. Without one (the Loop and plain
Flax use ``rngs={'dropout': key}``), modules draw with ``make_rng('dropout')``.
"""

import os
import random
import sys
import traceback

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from trax_compat import shapes
from trax_compat.fastmath import random as trax_random

EMPTY_WEIGHTS = ()
EMPTY_STATE = ()

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


def _as_array(x):
    return x if isinstance(x, jax.Array) else jnp.asarray(x)


class TraxModule(nn.Module):
    """Base of the Flax modules computing our layers.

    ``__call__(*inputs, rng=None)``: the inputs are the layer's stack items;
    ``rng`` (optional) is the layer's Trax key.
    """


def takes_rng(module):
    return isinstance(module, TraxModule)


def call_module(module, inputs, rng):
    """Calls a child module, passing the Trax key only to our modules."""
    if rng is not None and takes_rng(module):
        return module(*inputs, rng=rng)
    return module(*inputs)


def split_rngs(rng, n):
    """One key per sublayer, as Trax's combinators split them."""
    if rng is None or n == 0:
        return (None,) * n
    return tuple(jax.random.split(rng, n))


def as_stack(outputs, n_out):
    """A layer's packaged outputs as a tuple of ``n_out`` stack items."""
    if n_out == 1:
        return (outputs,)
    return tuple(outputs)


def pack(items):
    """Trax's output packaging: one item bare, else a tuple."""
    items = tuple(items)
    return items[0] if len(items) == 1 else items


def _make_apply(module):
    """``apply(params, inputs, rng)``: the Trax key goes to our modules as
    ``rng`` and to any module as the 'dropout' stream."""
    def apply(params, inputs, rng):
        if rng is None:  # e.g. pure_fn(x, w, s, rng=None)
            return module.apply({"params": params}, *inputs)
        kwargs = {"rng": rng} if takes_rng(module) else {}
        return module.apply({"params": params}, *inputs,
                            rngs={"dropout": rng}, **kwargs)
    return apply


class Layer:
    """Base class of Trax-style layers.

    Subclasses implement ``make_module()`` (the Flax module computing the
    layer) and, when they have weights, ``init_weights_and_state``,
    ``params_from_weights`` and ``weights_from_params``.
    """

    def __init__(self, n_in=1, n_out=1, name=None, sublayers_to_print=None):
        self._n_in = n_in
        self._n_out = n_out
        self._name = type(self).__name__ if name is None else name
        self._sublayers = ()
        self._sublayers_to_print = sublayers_to_print
        self._weights = EMPTY_WEIGHTS
        self._state = EMPTY_STATE
        # As Trax: a seed from Python's generator now, the key on first use.
        self._rng = None
        self._rng_seed_int = random.randint(0, 2**31 - 1)
        self._caller = _caller_info()
        self._module = None
        self._jitted_apply = None

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
        return False

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

    @property
    def weights(self):
        if self._sublayers:
            return tuple(layer.weights for layer in self._sublayers)
        return self._weights

    @weights.setter
    def weights(self, weights):
        if not self._sublayers:
            self._weights = weights
            return
        if not isinstance(weights, (tuple, list)):
            raise ValueError(
                f"Layer {self._name} expects weights as a tuple with one "
                f"entry per sublayer ({len(self._sublayers)}); got "
                f"{type(weights).__name__}.")
        if len(weights) != len(self._sublayers):
            raise ValueError(
                f"Number of weight elements ({len(weights)}) does not equal "
                f"the number of sublayers ({len(self._sublayers)}) in: "
                f"{self}.")
        for layer, w in zip(self._sublayers, weights):
            layer.weights = w

    @property
    def state(self):
        if self._sublayers:
            return tuple(layer.state for layer in self._sublayers)
        return self._state

    @state.setter
    def state(self, state):
        if not self._sublayers:
            self._state = state
            return
        if len(state) != len(self._sublayers):
            raise ValueError(
                f"Number of state elements ({len(state)}) does not equal "
                f"the number of sublayers ({len(self._sublayers)}) in: "
                f"{self}.")
        for layer, s in zip(self._sublayers, state):
            layer.state = s

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

    def make_module(self):
        """Returns the ``flax.linen.Module`` computing this layer."""
        raise NotImplementedError(
            f"{type(self).__name__} does not define make_module().")

    @property
    def module(self):
        if self._module is None:
            self._module = self.make_module()
        return self._module

    def params_from_weights(self, weights):
        """Trax-shaped weights -> this layer's Flax ``params`` subtree."""
        if self._sublayers:
            params = {}
            for i, (layer, w) in enumerate(zip(self._sublayers, weights)):
                sub = layer.params_from_weights(w)
                if sub:
                    params[f"layers_{i}"] = sub
            return params
        return {}

    def weights_from_params(self, params):
        """This layer's Flax ``params`` subtree -> Trax-shaped weights."""
        if self._sublayers:
            return tuple(
                layer.weights_from_params(params.get(f"layers_{i}", {}))
                for i, layer in enumerate(self._sublayers))
        return EMPTY_WEIGHTS

    @property
    def params(self):
        """The current weights as a Flax ``params`` dict."""
        return self.params_from_weights(self.weights)

    def to_flax(self):
        """Returns ``(module, variables)``: a plain Flax Linen module and its
        variables dict computing this layer with
        ``module.apply(variables, *inputs, rngs={'dropout': key})``."""
        return self.module, {"params": self.params}

    # -- init ---------------------------------------------------------------

    def init_weights_and_state(self, input_signature):
        """Sets this layer's weights and state for inputs of
        ``input_signature`` (using ``self.rng``). Default: none."""
        del input_signature

    def init(self, input_signature, rng=None, use_cache=False):
        """Initializes weights and state for inputs of ``input_signature``;
        returns ``(weights, state)`` as Trax does."""
        del use_cache  # Layer sharing is not supported (see docs).
        try:
            if rng is not None:
                self.rng = rng
            with trax_random.trax_key_semantics():
                self.init_weights_and_state(input_signature)
            return self.weights, self.state
        except Exception as e:  # pylint: disable=broad-except
            raise LayerError(self._name, "init", self._caller,
                             input_signature, _short_traceback(e)) from e

    def init_from_file(self, file_name, weights_only=False,
                       input_signature=None):
        """Loads weights (and state) from a checkpoint written by our Loop."""
        from trax_compat.supervised import checkpoints  # pylint: disable=g-import-not-at-top
        if input_signature is not None:
            self.init(input_signature)
        params, state = checkpoints.load_model_params(file_name)
        self.weights = self.weights_from_params(params)
        if not weights_only and state is not None:
            self.state = state
        return self.weights, self.state

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

    def _apply_fn(self):
        if self._jitted_apply is None:
            module = self.module

            self._jitted_apply = jax.jit(_make_apply(module))
        return self._jitted_apply

    def pure_fn(self, x, weights, state, rng, use_cache=False):
        """Computes the layer on ``x`` with explicit weights, state and key;
        returns ``(outputs, state)``."""
        del use_cache
        try:
            inputs = jax.tree_util.tree_map(_as_array, self._pack_inputs(x))
            params = self.params_from_weights(weights)
            with trax_random.trax_key_semantics():
                outputs = self._apply_fn()(params, inputs, rng)
        except Exception as e:  # pylint: disable=broad-except
            raise LayerError(self._name, "pure_fn", self._caller,
                             _signature_or_repr(x),
                             _short_traceback(e)) from e
        # No layer here updates its state during a forward pass.
        return outputs, state

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
        module = self.module
        params = self.params_from_weights(self.weights)
        sigs = ((input_signature,) if self._n_in == 1
                else tuple(input_signature))
        structs = tuple(_to_jax_struct(s) for s in sigs)
        with trax_random.trax_key_semantics():
            key = jax.eval_shape(lambda: trax_random.get_prng(0))

            out = jax.eval_shape(_make_apply(module), params, structs, key)
        return jax.tree_util.tree_map(_from_jax_struct, out)


def count_weights(weights):
    """Total number of scalars in a nested weights structure."""
    return int(sum(np.prod(np.shape(w))
                   for w in jax.tree_util.tree_leaves(weights)))


class KernelBiasWeights:
    """Mixin for layers whose Trax weights are ``(kernel, bias)``, or a bare
    ``kernel`` when ``self._use_bias`` is False (Dense, Conv): the Flax
    params are ``{'kernel', 'bias'}``."""

    def params_from_weights(self, weights):
        if isinstance(weights, tuple) and not weights:
            return {}
        if self._use_bias:
            return {"kernel": weights[0], "bias": weights[1]}
        return {"kernel": weights}

    def weights_from_params(self, params):
        if not params:
            return EMPTY_WEIGHTS
        if self._use_bias:
            return (params["kernel"], params["bias"])
        return params["kernel"]
