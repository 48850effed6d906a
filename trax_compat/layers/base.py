"""The Trax layer object, computed by a Flax Linen module.

A ``Layer`` keeps what Trax users see (``n_in``/``n_out``, Trax-shaped
``weights`` as nested tuples, ``init``, ``print(model)``) and delegates the
computation to a ``flax.linen.Module`` from ``make_module()``. Weights are
converted to a Flax variables dict on the way in (``params_from_weights``)
and back (``weights_from_params``); both are pure restructurings with no
copies, so the same arrays serve both views.
"""

import inspect
import os
import secrets
import traceback

import jax
import jax.numpy as jnp
import numpy as np

from trax_compat import shapes
from trax_compat.fastmath import random as trax_random

EMPTY_WEIGHTS = ()
EMPTY_STATE = ()


class LayerError(Exception):
    """An error inside a layer, naming the layer, where it was created and
    the shapes it was given."""

    def __init__(self, layer_name, phase, caller, input_signature,
                 traceback_str=None):
        self.layer_name = layer_name
        self.phase = phase
        self.caller = caller
        self.input_signature = input_signature
        self.traceback_str = traceback_str
        super().__init__(self.message)

    @property
    def message(self):
        caller = self.caller or {}
        lines = [
            f"Exception passing through layer {self.layer_name} "
            f"(in {self.phase}):",
            f"  layer created in file {caller.get('filename', '?')}, "
            f"line {caller.get('lineno', '?')}",
            f"  layer input shapes: {self.input_signature}",
        ]
        if self.traceback_str:
            lines += ["", self.traceback_str.rstrip()]
        return "\n".join(lines)


def _caller_info():
    """Finds the first stack frame outside this package: where the user
    created the layer (reported in errors)."""
    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for frame in inspect.stack(context=0)[2:]:
        path = os.path.abspath(frame.filename)
        if not path.startswith(package_dir + os.sep):
            return {"filename": frame.filename, "lineno": frame.lineno}
    return {"filename": "?", "lineno": "?"}


def _short_traceback(exc):
    # Without the exception's __notes__: JAX appends a "For simplicity, JAX
    # has removed its internal frames..." note, and Trax's message ends with
    # the underlying error line.
    te = traceback.TracebackException(type(exc), exc, None)
    te.__notes__ = None
    return "".join(te.format_exception_only())


def _to_jax_struct(sig):
    dtype = jax.dtypes.canonicalize_dtype(np.dtype(sig.dtype))
    return jax.ShapeDtypeStruct(sig.shape, dtype)


def _from_jax_struct(struct):
    return shapes.ShapeDtype(struct.shape, struct.dtype)


def _input_signature(x):
    try:
        return shapes.signature(x)
    except Exception:  # pylint: disable=broad-except
        return repr(x)


class Layer:
    """Base class of Trax-style layers.

    Subclasses implement ``make_module()`` (the Flax module computing the
    layer) and, when they have weights, ``init_weights_and_state``,
    ``params_from_weights`` and ``weights_from_params``.
    """

    def __init__(self, n_in=1, n_out=1, name=None, sublayers_to_print=None):
        self._n_in = n_in
        self._n_out = n_out
        self._name = name or type(self).__name__
        self._sublayers = ()
        self._sublayers_to_print = sublayers_to_print
        self._weights = EMPTY_WEIGHTS
        self._state = EMPTY_STATE
        self._rng = None
        self._initialized = False
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
        if not objs:
            return name_str
        inner = "\n".join(
            "\n".join("  " + line for line in repr(obj).split("\n"))
            for obj in objs)
        return f"{name_str}[\n{inner}\n]"

    # -- weights, state, rng ------------------------------------------------

    @property
    def weights(self):
        if self._sublayers:
            return tuple(layer.weights for layer in self._sublayers)
        return self._weights

    @weights.setter
    def weights(self, weights):
        if self._sublayers:
            if isinstance(weights, dict) or weights is None:
                raise ValueError(
                    f"Layer {self._name} expects weights as a tuple with one "
                    f"entry per sublayer ({len(self._sublayers)}); got "
                    f"{type(weights).__name__}.")
            if len(weights) != len(self._sublayers):
                raise ValueError(
                    f"Layer {self._name} has {len(self._sublayers)} sublayers "
                    f"but was given weights for {len(weights)}.")
            for layer, w in zip(self._sublayers, weights):
                layer.weights = w
        else:
            self._weights = weights

    @property
    def state(self):
        if self._sublayers:
            return tuple(layer.state for layer in self._sublayers)
        return self._state

    @state.setter
    def state(self, state):
        if self._sublayers:
            for layer, s in zip(self._sublayers, state):
                layer.state = s
        else:
            self._state = state

    @property
    def rng(self):
        if self._rng is None:
            # Not NumPy's global generator: drawing from it would shift
            # Shuffle's stream, which Trax users rely on being seedable.
            self.rng = trax_random.get_prng(secrets.randbits(31))
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
        variables dict, computing the same function as this layer with
        ``module.apply(variables, *inputs)``."""
        return self.module, {"params": self.params}

    # -- init ---------------------------------------------------------------

    def init_weights_and_state(self, input_signature):
        """Sets ``self._weights``/``self._state`` for a leaf layer using
        ``self.rng``. Leaves without weights keep the empty defaults."""
        del input_signature

    def init(self, input_signature, rng=None, use_cache=False):
        """Initializes weights and state for inputs of ``input_signature``.

        Returns ``(weights, state)`` as Trax does.
        """
        if rng is not None:
            self.rng = rng
        if use_cache and self._initialized:
            return self.weights, self.state
        try:
            with trax_random.trax_key_semantics():
                self._init_recursive(input_signature)
        except LayerError:
            raise
        except Exception as e:  # pylint: disable=broad-except
            raise LayerError(self._name, "init", self._caller,
                             input_signature, _short_traceback(e)) from e
        return self.weights, self.state

    def _init_recursive(self, input_signature):
        self.rng  # pylint: disable=pointless-statement  (creates a key)
        self.init_weights_and_state(input_signature)
        self._initialized = True

    def init_from_file(self, file_name, weights_only=False, input_signature=None):
        """Loads weights (and state) from a checkpoint written by our Loop."""
        from trax_compat.supervised import checkpoints  # pylint: disable=g-import-not-at-top
        del input_signature
        params, state = checkpoints.load_model_params(file_name)
        self.weights = self.weights_from_params(params)
        if not weights_only and state is not None:
            self.state = state
        self._initialized = True

    # -- calling --------------------------------------------------------------

    def _pack_inputs(self, x):
        if self._n_in == 1:
            return (x,)
        if not isinstance(x, (tuple, list)):
            raise ValueError(
                f"Layer {self._name} takes {self._n_in} inputs; give them as "
                f"a tuple or list, got a single {type(x).__name__}.")
        if len(x) < self._n_in:
            raise ValueError(
                f"Number of inputs ({len(x)}) to {self._name} less than "
                f"n_in ({self._n_in}).")
        return tuple(x[:self._n_in])

    def _apply_fn(self):
        if self._jitted_apply is None:
            module = self.module

            def apply(params, inputs, rng):
                return module.apply({"params": params}, *inputs,
                                    rngs={"dropout": rng})
            self._jitted_apply = jax.jit(apply)
        return self._jitted_apply

    def pure_fn(self, x, weights, state, rng, use_cache=False):
        """Computes the layer on ``x`` with explicit weights; returns
        ``(outputs, state)``."""
        del use_cache
        try:
            inputs = self._pack_inputs(x)
            outputs = self._apply_fn()(self.params_from_weights(weights),
                                       tuple(jnp.asarray(a) for a in inputs),
                                       rng)
        except LayerError:
            raise
        except Exception as e:  # pylint: disable=broad-except
            raise LayerError(self._name, "pure_fn", self._caller,
                             _input_signature(x), _short_traceback(e)) from e
        return outputs, state

    def __call__(self, x, weights=None, state=None, rng=None):
        weights = self.weights if weights is None else weights
        state = self.state if state is None else state
        rng = self.rng if rng is None else rng
        outputs, new_state = self.pure_fn(x, weights, state, rng)
        if state is self.state:
            self.state = new_state
        return outputs

    def output_signature(self, input_signature):
        """Shapes and dtypes of the outputs for inputs of ``input_signature``."""
        module = self.module
        params = self.params_from_weights(self.weights)
        sigs = ((input_signature,) if self._n_in == 1
                else tuple(input_signature))
        structs = tuple(_to_jax_struct(s) for s in sigs)
        key = jax.ShapeDtypeStruct((2,), jnp.uint32)

        def apply(params, inputs, rng):
            return module.apply({"params": params}, *inputs,
                                rngs={"dropout": rng})
        out = jax.eval_shape(apply, params, structs, key)
        return jax.tree_util.tree_map(_from_jax_struct, out)


def count_weights(weights):
    """Total number of scalars in a nested weights structure."""
    return int(sum(np.prod(np.shape(w)) for w in jax.tree_util.tree_leaves(weights)))
