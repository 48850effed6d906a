"""Weights and state as flat lists and files, in Trax's layout.

Trax saves a layer as a gzipped pickle of ``{'flat_weights', 'flat_state',
'input_signature'}``: the array leaves in depth-first order, without the
empty tuples and cache markers, which the layer's own structure restores.
"""

import gzip
import os
import re

import jax
import numpy as np


def flatten_weights_and_state(weights, state):
    """The array leaves of ``weights`` and ``state`` as two lists (empty
    subtrees and cache markers hold none)."""
    return (jax.tree_util.tree_leaves(weights),
            jax.tree_util.tree_leaves(state))


def unflatten_weights_and_state(flat_weights, flat_state,
                                weights_and_state_signature,
                                weights_only=False):
    """Rebuilds ``(weights, state)`` from flat lists and the structures in
    ``weights_and_state_signature``; state is None with ``weights_only``."""
    weights_sig, state_sig = weights_and_state_signature
    weights = _unflatten(flat_weights, weights_sig, "weights")
    state = None if weights_only else _unflatten(flat_state, state_sig,
                                                 "state")
    return weights, state


def _unflatten(flat, signature, what):
    treedef = jax.tree_util.tree_structure(signature)
    if treedef.num_leaves != len(flat):
        raise ValueError(
            f"The file holds {len(flat)} {what} arrays but the layer has "
            f"{treedef.num_leaves}: it was saved from another model.")
    return jax.tree_util.tree_unflatten(treedef, list(flat))


def _write_atomically(file_path, write):
    tmp_path = file_path + "._tmp_"
    with open(tmp_path, "wb") as f:
        write(f)
    os.replace(tmp_path, file_path)


def np_to_file(list_of_nparrays, file_path, compresslevel):
    """Writes arrays one after another with ``np.save`` into a gzip file,
    replacing ``file_path`` atomically."""
    def write(f):
        with gzip.GzipFile(fileobj=f, mode="wb",
                           compresslevel=compresslevel) as gz:
            for x in list_of_nparrays:
                np.save(gz, np.asarray(x), allow_pickle=False)
    _write_atomically(file_path, write)


def np_from_file(file_path, compresslevel):
    """The arrays ``np_to_file`` wrote, in order (uint16 kept as is, as
    Trax's reader keeps it); a truncated or corrupt file is an error naming
    it, not fewer arrays."""
    del compresslevel  # Reading needs no level.
    from trax_compat.supervised import trax_checkpoint  # pylint: disable=g-import-not-at-top
    return trax_checkpoint.read_npy_stream(os.fspath(file_path),
                                           bits_to_bfloat16=False)


def save_to_file(layer, file_name, weights_only=False, input_signature=None):
    """Writes Trax's ``save_to_file`` pickle, readable by real Trax."""
    from trax_compat.supervised import trax_checkpoint  # pylint: disable=g-import-not-at-top
    flat_weights, flat_state = flatten_weights_and_state(layer.weights,
                                                         layer.state)
    dictionary = {"flat_weights": [np.asarray(w) for w in flat_weights]}
    if not weights_only:
        dictionary["flat_state"] = [np.asarray(s) for s in flat_state]
    if input_signature is not None:
        dictionary["input_signature"] = trax_checkpoint.trax_shape_dtypes(
            input_signature)
    trax_checkpoint.pickle_to_file(dictionary, os.fspath(file_name))


def init_from_file(layer, file_name, weights_only=False, input_signature=None,
                   strict_shapes=False):
    """Sets ``layer``'s weights (and state) from a Trax checkpoint file of
    any format (read safely) or from one of our Loop's checkpoint
    directories; returns ``(weights, state)``."""
    from trax_compat.supervised import trax_checkpoint  # pylint: disable=g-import-not-at-top
    file_name = os.fspath(file_name)
    if not trax_checkpoint.is_trax_checkpoint_file(file_name):
        return _init_from_checkpoint(layer, file_name, weights_only,
                                     input_signature)
    ckpt = trax_checkpoint.read(file_name)
    load_into(layer, ckpt, weights_only, input_signature,
              strict_shapes=strict_shapes)
    return layer.weights, layer.state


def load_into(layer, ckpt, weights_only=False, input_signature=None,
              log=None, strict_shapes=False):
    """Puts a :class:`TraxCheckpoint`'s weights (and state) into ``layer``
    with Trax's rules: the flat arrays fill the layer's tree in order; a
    checkpoint with fewer weights fills the first ones that fit by shape
    and leaves the rest as initialized."""
    from trax_compat.supervised import trax_checkpoint  # pylint: disable=g-import-not-at-top
    if input_signature is None:
        input_signature = ckpt.input_signature
    if input_signature is None:
        raise trax_checkpoint.MissingEntryError(
            f"{ckpt.path} has no input signature (it was saved without "
            f"one); pass input_signature=trax.shapes.signature(x) for an "
            f"input x of the model.")
    if not weights_only and ckpt.flat_state is None:
        raise trax_checkpoint.MissingEntryError(
            f"{ckpt.path} holds weights only (no flat_state); load it with "
            f"weights_only=True.")
    weights_sig, state_sig = layer.weights_and_state_signature(
        input_signature)
    exact_weights = _fits(ckpt.flat_weights, weights_sig, strict_shapes)
    exact_state = weights_only or _fits(ckpt.flat_state, state_sig)
    if weights_only or not (exact_weights and exact_state):
        layer.init(input_signature)
    if exact_weights:
        leaves = jax.tree_util.tree_leaves(weights_sig)
        flat_weights = [trax_checkpoint.match_dtype(a, s)
                        for a, s in zip(ckpt.flat_weights, leaves)]
        differ = [(i, tuple(np.shape(a)), tuple(s.shape))
                  for i, (a, s) in enumerate(zip(ckpt.flat_weights, leaves))
                  if tuple(np.shape(a)) != tuple(s.shape)]
        if differ:
            (log or _print_log)(
                f"{ckpt.path}: {len(differ)} weight(s) differ in shape from "
                f"the model's (index, checkpoint, model): "
                f"{differ[:5]}; loaded as they are, as Trax does.")
    else:
        flat_weights = trax_checkpoint.match_by_shape(
            jax.tree_util.tree_leaves(layer.weights), ckpt.flat_weights,
            log=log or _print_log)
    weights = _unflatten(flat_weights, weights_sig, "weights")
    if not weights_only:
        flat_state = (ckpt.flat_state if exact_state else
                      trax_checkpoint.match_by_shape(
                          jax.tree_util.tree_leaves(layer.state),
                          ckpt.flat_state, "state"))
        layer.state = _unflatten(flat_state, state_sig, "state")
    layer.weights = weights


def _fits(flat, signature, strict_shapes=False):
    """Whether ``flat`` fills ``signature``'s leaves in order: as many
    arrays as leaves. Shapes are compared only if ``strict_shapes``: Trax's
    ``init_from_file`` does not (a Transformer saved with another
    ``max_len`` loads its positional table as it is)."""
    leaves = jax.tree_util.tree_leaves(signature)
    return len(flat) == len(leaves) and (not strict_shapes or all(
        tuple(np.shape(a)) == tuple(s.shape) for a, s in zip(flat, leaves)))


def _print_log(message):
    print(message)


def _init_from_checkpoint(layer, path, weights_only, input_signature):
    from trax_compat.supervised import checkpoints  # pylint: disable=g-import-not-at-top
    if input_signature is not None:
        layer.init(input_signature)
    params, flax_state = checkpoints.load_model_params(path)
    if (not jax.tree_util.tree_leaves(layer.weights)
            or _same_tree(params, layer.params)):
        layer.weights = layer.weights_from_params(params)
    else:
        # Another mode of the same model (a predict-mode Transformer wraps
        # its encoder in Cache): Trax fills the layer's weights in order,
        # whatever their nesting; so do we, with names kept only for order.
        layer.weights = layer.weights_from_params(
            _fill_in_order(params, layer.params, path))
    if not weights_only and flax_state:
        layer.state = layer.state_from_flax_state(flax_state)
    return layer.weights, layer.state


def _same_tree(a, b):
    return (jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
            and all(np.shape(x) == np.shape(y) for x, y in zip(
                jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b))))


def _natural_key(name):
    """``layers_10`` after ``layers_2``: Flax child names in Trax's order."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.split(r"(\d+)", str(name))]


def _in_order(tree):
    """The leaves of a nested dict, depth first, keys in natural order."""
    if not isinstance(tree, dict):
        return [tree]
    return [leaf for key in sorted(tree, key=_natural_key)
            for leaf in _in_order(tree[key])]


def _rebuilt(tree, leaves):
    if not isinstance(tree, dict):
        return next(leaves)
    return {key: _rebuilt(tree[key], leaves)
            for key in sorted(tree, key=_natural_key)}


def _fill_in_order(saved, target, path):
    saved_leaves, target_leaves = _in_order(saved), _in_order(target)
    if len(saved_leaves) != len(target_leaves) or any(
            np.shape(a) != np.shape(b)
            for a, b in zip(saved_leaves, target_leaves)):
        raise ValueError(
            f"The checkpoint at {path} holds {len(saved_leaves)} weight "
            f"arrays of shapes {[np.shape(a) for a in saved_leaves][:6]}..., "
            f"the model {len(target_leaves)} of shapes "
            f"{[np.shape(b) for b in target_leaves][:6]}...: it was saved "
            f"from another model. Build the model with the same sizes as the "
            f"one trained (its mode may differ).")
    return _rebuilt(target, iter(saved_leaves))

