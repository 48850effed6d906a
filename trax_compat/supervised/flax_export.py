"""A standalone Python module defining a model's Flax Linen twin.

``module_source(model)`` writes the source of a Linen module that needs
only jax and flax (never trax_compat) and takes exactly the params of
``model.to_flax()`` (same names: ``layers_<i>`` for a ``Serial``'s
sublayers with weights, ``kernel``/``bias``, ``embedding``). Layers it can
write: ``Serial`` chains of one-input layers, ``Dense``, ``Embedding``,
``Relu``, ``Tanh``, ``Sigmoid``, ``LogSoftmax``, ``Softmax``, ``Mean``,
``Sum`` and ``Dropout`` (the identity, as at inference). Anything else
raises :class:`NotExportableError` naming the layer.
"""

import inspect

from trax_compat.layers import combinators
from trax_compat.layers import core
from trax_compat.layers import functional
# The package exports a function of the module's name; import the class.
from trax_compat.layers.assert_shape import AssertShape

_HEADER = '''"""Flax Linen model exported by trax-compat (needs jax and flax only).

Trax model:
{model}

Use: params = flax.serialization.msgpack_restore(open(PARAMS, "rb").read())
     log_probs = Model().apply(params, x)
"""

import flax.linen as nn
import jax
import jax.numpy as jnp


class Dense(nn.Module):
    features: int
    use_bias: bool = True

    @nn.compact
    def __call__(self, x):
        kernel = self.param("kernel", nn.initializers.lecun_normal(),
                            (x.shape[-1], self.features))
        if not self.use_bias:
            return jnp.dot(x, kernel)
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        return jnp.dot(x, kernel) + bias


class Embedding(nn.Module):
    num_embeddings: int
    features: int

    @nn.compact
    def __call__(self, x):
        table = self.param("embedding", nn.initializers.normal(1.0),
                           (self.num_embeddings, self.features))
        return jnp.take(table, x, axis=0, mode="clip")


def log_softmax(x, axis):
    return x - jax.scipy.special.logsumexp(x, axis=axis, keepdims=True)
'''

SUPPORTED = ("Serial", "Dense", "Embedding", "Relu", "Tanh", "Sigmoid",
             "LogSoftmax", "Softmax", "Mean", "Sum", "Dropout")


_SERIAL_COUNT = [0]  # numbers the nested Serial classes of one export


class NotExportableError(ValueError):
    """A layer the exporter cannot write as standalone Flax code."""


def _closure(layer):
    """The arguments a ``Fn`` layer's function closed over (axis, ...)."""
    outer = inspect.getclosurevars(layer._forward_fn).nonlocals  # pylint: disable=protected-access
    f = outer.get("f")
    return inspect.getclosurevars(f).nonlocals if f is not None else {}


def _expression(layer, index):
    """The line computing ``x`` for ``layer`` (the ``index``-th sublayer of
    a Serial), and the classes it needs."""
    name = layer.name
    if isinstance(layer, core.Dense):
        if layer._use_bfloat16:  # pylint: disable=protected-access
            raise NotExportableError(f"layer {name}: bfloat16 Dense")
        return (f"x = Dense({layer._n_units}, "  # pylint: disable=protected-access
                f"use_bias={layer._use_bias}, name='layers_{index}')(x)"), []  # pylint: disable=protected-access
    if isinstance(layer, core.Embedding):
        return (f"x = Embedding({layer._vocab_size}, {layer._d_feature}, "  # pylint: disable=protected-access
                f"name='layers_{index}')(x)"), []
    if isinstance(layer, core.Dropout):
        return "# Dropout: the identity at inference", []
    if isinstance(layer, AssertShape):
        return None, []  # a shape check, nothing to compute
    if isinstance(layer, combinators.Serial) and not _has_params(layer):
        # Weightless (Relu is Serial(AssertShape, Fn, AssertShape)): no
        # entry in the params, so its lines go inline.
        lines = []
        for sub in layer.sublayers:
            line, _ = _expression(sub, None)
            if line:
                lines.append(line)
        return "\n        ".join(lines), []
    if isinstance(layer, combinators.Serial):
        _SERIAL_COUNT[0] += 1
        cls = f"Serial{_SERIAL_COUNT[0]}"
        return f"x = {cls}(name='layers_{index}')(x)", [(cls, layer)]
    if isinstance(layer, functional.PureLayer) and layer.n_in == 1:
        args = _closure(layer)
        if name == "Relu":
            return "x = jnp.where(x <= 0, jnp.zeros_like(x), x)", []
        if name == "Tanh":
            return "x = jnp.tanh(x)", []
        if name == "Sigmoid":
            return "x = jax.scipy.special.expit(x)", []
        if name == "LogSoftmax":
            return f"x = log_softmax(x, axis={args['axis']!r})", []
        if name == "Softmax":
            return f"x = jnp.exp(log_softmax(x, axis={args['axis']!r}))", []
        if name in ("Mean", "Sum"):
            return (f"x = jnp.{name.lower()}(x, axis={args['axis']!r}, "
                    f"keepdims={args['keepdims']!r})"), []
    raise NotExportableError(
        f"layer {name} ({type(layer).__name__}) cannot be exported as "
        f"standalone Flax code; the exporter writes {', '.join(SUPPORTED)}. "
        f"Its params are still in the converted file, for model.to_flax().")


def _has_params(layer):
    return isinstance(layer, (core.Dense, core.Embedding)) or any(
        _has_params(sub) for sub in layer.sublayers)


def _class_source(cls_name, serial):
    lines = [f"class {cls_name}(nn.Module):", "", "    @nn.compact",
             "    def __call__(self, x):"]
    nested = []
    for i, layer in enumerate(serial.sublayers):
        if layer.n_in != 1 or layer.n_out != 1:
            raise NotExportableError(
                f"layer {layer.name} takes {layer.n_in} inputs and gives "
                f"{layer.n_out} outputs; the exporter writes one-input "
                f"chains only.")
        line, more = _expression(layer, i)
        if line:
            lines.append(f"        {line}")
        nested += more
    lines.append("        return x")
    return "\n".join(lines), nested


def module_source(model):
    """The source of a module defining ``Model``, the Linen twin of
    ``model`` (a ``Serial``)."""
    if not isinstance(model, combinators.Serial):
        raise NotExportableError(
            f"the model is a {type(model).__name__}, not a Serial; the "
            f"exporter writes Serial models (wrap it: tl.Serial(model)).")
    _SERIAL_COUNT[0] = 0
    classes, pending = [], [("Model", model)]
    while pending:
        cls_name, serial = pending.pop()
        source, nested = _class_source(cls_name, serial)
        classes.append(source)
        pending += nested
    body = "\n\n\n".join(reversed(classes))
    model_text = "\n".join("    " + line for line in str(model).splitlines())
    return _HEADER.format(model=model_text) + "\n\n" + body + "\n"
