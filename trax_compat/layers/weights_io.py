"""Weights and state as flat lists and files, in Trax's layout.

Trax saves a layer as a gzipped pickle of ``{'flat_weights', 'flat_state',
'input_signature'}``: the array leaves in depth-first order, without the
empty tuples and cache markers, which the layer's own structure restores.
"""

import gzip
import os
import pickle

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
    """The arrays ``np_to_file`` wrote, in order."""
    del compresslevel  # Reading needs no level.
    if not os.path.exists(file_path):
        raise FileNotFoundError(file_path)
    arrays = []
    with gzip.open(file_path, "rb") as gz:
        while True:
            try:
                arrays.append(np.load(gz, allow_pickle=False))
            except (EOFError, ValueError, OSError):
                break
    return arrays


def save_to_file(layer, file_name, weights_only=False, input_signature=None):
    flat_weights, flat_state = flatten_weights_and_state(layer.weights,
                                                         layer.state)
    dictionary = {"flat_weights": [np.asarray(w) for w in flat_weights]}
    if not weights_only:
        dictionary["flat_state"] = [np.asarray(s) for s in flat_state]
    if input_signature is not None:
        dictionary["input_signature"] = input_signature

    def write(f):
        with gzip.GzipFile(fileobj=f, mode="wb", compresslevel=2) as gz:
            pickle.dump(dictionary, gz, protocol=pickle.HIGHEST_PROTOCOL)
    _write_atomically(file_name, write)


def _is_gzip_file(path):
    if not os.path.isfile(path):
        return False
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _load_trax_file(file_name):
    with gzip.open(file_name, "rb") as gz:
        dictionary = pickle.load(gz)
    if isinstance(dictionary.get("flat_weights"), int):
        # Newer Trax files keep the weights in a separate .npy.gz file.
        level = dictionary["flat_weights"]
        weights_path = (file_name[:-len(".pkl.gz")] + ".weights.npy.gz"
                        if file_name.endswith(".pkl.gz")
                        else file_name + ".npy")
        if not os.path.exists(weights_path):
            weights_path = file_name + ".npy"
        dictionary["flat_weights"] = np_from_file(weights_path, level)
    return dictionary


def init_from_file(layer, file_name, weights_only=False, input_signature=None):
    """Sets ``layer``'s weights (and state) from a ``save_to_file`` file or
    a Loop checkpoint; returns ``(weights, state)``."""
    if not _is_gzip_file(file_name):
        return _init_from_checkpoint(layer, file_name, weights_only,
                                     input_signature)
    dictionary = _load_trax_file(file_name)
    if input_signature is None:
        input_signature = dictionary.get("input_signature")
    if weights_only and input_signature is not None:
        layer.init(input_signature)
    signature = layer.weights_and_state_signature(input_signature)
    weights, state = unflatten_weights_and_state(
        dictionary["flat_weights"], dictionary.get("flat_state", []),
        signature, weights_only=weights_only)
    if not weights_only:
        layer.state = state
    layer.weights = weights
    return layer.weights, layer.state


def _init_from_checkpoint(layer, path, weights_only, input_signature):
    from trax_compat.supervised import checkpoints  # pylint: disable=g-import-not-at-top
    if input_signature is not None:
        layer.init(input_signature)
    params, flax_state = checkpoints.load_model_params(path)
    layer.weights = layer.weights_from_params(params)
    if not weights_only and flax_state:
        layer.state = layer.state_from_flax_state(flax_state)
    return layer.weights, layer.state

