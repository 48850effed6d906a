"""Trax-layout Transformer weights <-> params of ``models.transformer``.

Trax keeps a model's weights as nested tuples mirroring its layer tree
(``model.weights``; a trax_compat model's ``weights`` have the same
structure); a Trax checkpoint holds the same arrays as one flat, depth-first
list. Both flatten to the same sequence of arrays, so the conversion works on
that sequence: empty tuples (weightless layers) and Trax's marker for a
shared layer's second use (the decoder's embedding when the vocabulary is
shared) hold no arrays. This is also why a ``Transformer`` in Trax's
'predict' mode, whose tree nests some layers differently, converts the same.

Per Trax layer, in that order:

* ``Embedding``: ``(vocab, d_model)`` -> ``nn.Embed`` ``embedding``;
* ``PositionalEncoding``: ``(max_len, d_model)`` -> ``pos_embedding``;
* ``LayerNorm``: ``scale``, ``bias`` -> ``nn.LayerNorm`` ``scale``, ``bias``;
* an attention layer's four ``Dense(d_model)`` (queries, keys, values, then
  the output): ``w (d, d)``, ``b (d,)`` -> ``query``/``key``/``value``
  ``kernel (d, heads, d_head)``, ``bias (heads, d_head)``, and ``out``
  ``kernel (heads, d_head, d)``, ``bias (d,)``: a reshape, since Trax splits
  the features into heads as ``(heads, d_head)`` in that order;
* feed-forward ``Dense``: ``w``, ``b`` -> ``kernel``, ``bias`` unchanged.

Arrays are reshaped, never changed, so converted models compute exactly
what the Trax weights define.
"""

import gzip
import os

import jax
import numpy as np

from models.transformer import Transformer, TransformerConfig, TransformerLM

_MARKERS = ({"__marker_for_cached_weights_": ()},)


def _leaves(weights):
    """Trax's flat weight order: depth-first arrays, skipping empty tuples
    and shared-layer markers."""
    if isinstance(weights, dict):
        if weights in _MARKERS or not weights:
            return []
        raise ValueError(
            "Trax weights may hold tuples, lists and arrays (and the "
            f"shared-layer marker), got a dict with keys {sorted(weights)}")
    if isinstance(weights, (tuple, list)):
        return [leaf for w in weights for leaf in _leaves(w)]
    if weights is None:
        return []
    return [weights]


def read_trax_weights(path):
    """The flat weight list of a Trax checkpoint's ``model.weights.npy.gz``
    (arrays written one after another with ``np.save`` into a gzip file),
    read with NumPy alone."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no Trax weights file at {path}")
    arrays = []
    with gzip.open(path, "rb") as f:
        while f.peek(1):
            arrays.append(np.load(f, allow_pickle=False))
    return arrays


def _dense(path):
    return [(path + ("kernel",), "dense"), (path + ("bias",), "vector")]


def _norm(path):
    return [(path + ("scale",), "vector"), (path + ("bias",), "vector")]


def _attention(path):
    spec = []
    for name in ("query", "key", "value"):
        spec += [(path + (name, "kernel"), "heads_in"),
                 (path + (name, "bias"), "heads_bias")]
    return spec + [(path + ("out", "kernel"), "heads_out"),
                   (path + ("out", "bias"), "vector")]


def _mlp(path):
    return _dense(path + ("dense_in",)) + _dense(path + ("dense_out",))


def _block(path, attentions):
    spec = []
    for name in attentions:
        spec += _norm(path + (name + "_norm",)) + _attention(path + (name,))
    return spec + _norm(path + ("mlp_norm",)) + _mlp(path + ("mlp",))


def lm_spec(config):
    """``TransformerLM`` params in Trax's flat order: ``(path, kind)``."""
    spec = [(("embed", "embedding"), "embedding"),
            (("pos_embed", "pos_embedding"), "positions")]
    for i in range(config.n_layers):
        spec += _block((f"block_{i}",), ["attention"])
    return spec + _norm(("final_norm",)) + _dense(("logits",))


def transformer_spec(config):
    """``Transformer`` params in Trax's flat order: ``(path, kind)``."""
    shared = config.output_vocab_size is None
    spec = [(("shared_embed" if shared else "input_embed", "embedding"),
             "embedding"),
            (("encoder", "pos_embed", "pos_embedding"), "positions")]
    for i in range(config.encoder_layers):
        spec += _block(("encoder", f"block_{i}"), ["attention"])
    spec += _norm(("encoder", "final_norm"))
    if not shared:
        spec.append((("output_embed", "embedding"), "embedding"))
    spec.append((("decoder", "pos_embed", "pos_embedding"), "positions"))
    for i in range(config.decoder_layers):
        spec += _block(("decoder", f"block_{i}"),
                       ["self_attention", "cross_attention"])
    return spec + _norm(("decoder", "final_norm")) + _dense(
        ("decoder", "logits"))


def _spec(model_or_config, kind):
    if isinstance(model_or_config, (TransformerLM, Transformer)):
        return _spec(model_or_config.config,
                     "lm" if isinstance(model_or_config, TransformerLM)
                     else "encdec")
    if not isinstance(model_or_config, TransformerConfig):
        raise TypeError(
            "expected a TransformerLM or Transformer module, or a "
            "TransformerConfig with kind='lm' or 'encdec', got "
            f"{type(model_or_config).__name__}")
    if kind == "lm":
        return model_or_config, lm_spec(model_or_config)
    if kind == "encdec":
        return model_or_config, transformer_spec(model_or_config)
    raise ValueError(f"kind must be 'lm' or 'encdec', got {kind!r}")


def _trax_shape(kind, flax_shape):
    if kind == "heads_in":  # (d, h, dh) <- (d, h * dh)
        return (flax_shape[0], flax_shape[1] * flax_shape[2])
    if kind == "heads_bias":
        return (flax_shape[0] * flax_shape[1],)
    if kind == "heads_out":  # (h, dh, d) <- (h * dh, d)
        return (flax_shape[0] * flax_shape[1], flax_shape[2])
    return tuple(flax_shape)


def _flax_shapes(config, kind):
    h, d = config.n_heads, config.d_model
    shapes = {"heads_in": (d, h, d // h), "heads_bias": (h, d // h),
              "heads_out": (h, d // h, d), "positions": (config.max_len, d),
              "vector": None, "dense": None, "embedding": None}
    return shapes[kind]


def params_from_trax_weights(weights, model, kind=None):
    """Trax-layout weights -> ``{'params': ...}`` for ``model``.

    ``weights``: Trax's nested weights tuple of the matching
    ``trax.models.TransformerLM``/``Transformer`` (train, eval or predict
    mode), or the flat list of a Trax checkpoint. ``model``: the
    :class:`~models.transformer.TransformerLM` or
    :class:`~models.transformer.Transformer` to load into (or its config,
    with ``kind='lm'`` or ``'encdec'``). Shapes are checked against the
    config; arrays are reshaped, not copied or cast.
    """
    config, spec = _spec(model, kind)
    leaves = _leaves(weights)
    if len(leaves) != len(spec):
        raise ValueError(
            f"expected {len(spec)} weight arrays for this configuration "
            f"(d_model={config.d_model}, layers="
            f"{config.n_layers, config.encoder_layers, config.decoder_layers}"
            f"), got {len(leaves)}: the Trax model was built with other "
            "layer counts, or these weights are not a Transformer's")
    params = {}
    for (path, kind_), leaf in zip(spec, leaves):
        target = _flax_shapes(config, kind_)
        shape = tuple(np.shape(leaf))
        if target is not None:
            if shape != _trax_shape(kind_, target):
                raise ValueError(
                    f"Trax weight for {'/'.join(path)} has shape {shape}, "
                    f"expected {_trax_shape(kind_, target)} for this config "
                    f"(d_model={config.d_model}, n_heads={config.n_heads}, "
                    f"max_len={config.max_len})")
            leaf = leaf.reshape(target)
        node = params
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = leaf
    _check_params_shapes(model, kind, config, params)
    return {"params": params}


def _check_params_shapes(model, kind, config, params):
    """The remaining shapes (vocab, d_ff) against an abstract init."""
    expected = _abstract_params(config, "lm" if (
        isinstance(model, TransformerLM) or kind == "lm") else "encdec")
    for path, want in jax.tree_util.tree_flatten_with_path(expected)[0]:
        names = [k.key for k in path]
        node = params
        for name in names:
            node = node[name]
        if tuple(np.shape(node)) != tuple(want.shape):
            raise ValueError(
                f"Trax weight for {'/'.join(names)} has shape "
                f"{tuple(np.shape(node))}, expected {tuple(want.shape)} for "
                f"this config (vocab_size={config.vocab_size}, "
                f"output_vocab_size={config.output_vocab_size}, "
                f"d_ff={config.d_ff})")


def _abstract_params(config, kind):
    import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
    config = config.replace(decode=False)
    ids = jnp.zeros((1, 1), jnp.int32)
    if kind == "lm":
        fn = lambda: TransformerLM(config).init(jax.random.PRNGKey(0), ids)
    else:
        fn = lambda: Transformer(config).init(jax.random.PRNGKey(0), ids, ids)
    return jax.eval_shape(fn)["params"]


def trax_flat_weights_from_params(variables, model, kind=None):
    """Params -> the flat list of arrays in Trax's order (a Trax
    checkpoint's weight list); inverse of :func:`params_from_trax_weights`."""
    config, spec = _spec(model, kind)
    params = variables["params"] if "params" in variables else variables
    flat = []
    for path, kind_ in spec:
        node = params
        try:
            for key in path:
                node = node[key]
        except (KeyError, TypeError) as e:
            raise ValueError(f"params have no {'/'.join(path)}") from e
        flat.append(node.reshape(_trax_shape(kind_, node.shape)))
    return flat


def trax_weights_from_params(variables, model, like, kind=None):
    """Params -> Trax-layout weights with the nested structure of ``like``
    (e.g. the ``model.weights`` of a Trax or trax_compat model built with
    the same configuration, in any mode)."""
    flat = trax_flat_weights_from_params(variables, model, kind)
    slots = _leaves(like)
    if len(slots) != len(flat):
        raise ValueError(
            f"'like' holds {len(slots)} arrays, these params {len(flat)}: "
            "build it with the same configuration")
    it = iter(flat)

    def fill(tree):
        if isinstance(tree, dict) or tree is None:
            return tree
        if isinstance(tree, (tuple, list)):
            return type(tree)(fill(t) for t in tree)
        return next(it)

    return fill(like)
