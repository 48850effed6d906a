"""Trax's research BERT (``trax.models.research.bert``): the encoder, its
task heads, the pre-training loss, and ``PretrainedBERT``, which fills the
encoder's weights from Google's original TensorFlow BERT checkpoint.

The layer stacks, weight trees and initializers are Trax's, so ``init``
with the same key gives Trax's weights. Reading a checkpoint needs
TensorFlow (the ``[tfds]`` extra), imported only when one is read.

Differences from Trax, on purpose: a model name (``'bert-base-uncased'``)
is resolved, and downloaded if need be, when the weights are initialized
rather than when the model is built, so building a model (as gin configs
do) stays offline; the checkpoint's layer count and head size are taken
from the model instead of being fixed at BERT-base's 12 and 64; the
position table is taken in the model's own (max_len, d_model) shape (Trax's
loader hands it over as (1, max_len, d_model), which its own shape check
then refuses, so Trax cannot load any checkpoint); and a checkpoint that
does not fit the model says which tensor does not fit.
"""

import os
import pathlib
import urllib.error
import urllib.request
import zipfile

import jax
import jax.numpy as jnp
import numpy as np

from trax_compat import gin_registry
from trax_compat import layers as tl

# pylint: disable=invalid-name

_MODEL_LINKS = {
    "bert-base-uncased":
        "https://storage.googleapis.com/bert_models/2018_10_18/"
        "uncased_L-12_H-768_A-12.zip",
}


_TRAX_MODULE = "trax." + __name__.split(".", 1)[1]


def _configured(fn):
    """``fn`` with its gin bindings under this module's Trax name, as a call
    inside Trax's module gets them."""
    return gin_registry.registered(f"{_TRAX_MODULE}.{fn.__name__}", fn)


class AddBias(tl.Layer):
    """Adds a trainable vector (zeros at init) along the last axis."""

    weight_names = "bias"

    def forward(self, inputs):
        return inputs + self.weights

    def init_weights_and_state(self, input_signature):
        self.weights = jnp.zeros(input_signature.shape[-1])


def _head_dense(n_units):
    return tl.Dense(n_units,
                    kernel_initializer=tl.RandomNormalInitializer(0.02),
                    bias_initializer=tl.RandomNormalInitializer(1e-6))


def BERTClassifierHead(n_classes):
    """Logits over ``n_classes`` from the pooled first-token output."""
    return tl.Serial([tl.Select([0], n_in=2), _head_dense(n_classes)])


def BERTRegressionHead():
    """One number per example from the pooled first-token output."""
    return tl.Serial([
        tl.Select([0], n_in=2),
        _head_dense(1),
        tl.Fn("RemoveAxis", lambda x: jnp.squeeze(x, axis=1)),
    ])


def BERTMLMHead(vocab_size=30522):
    """Token logits at every position (masked-language-model head)."""
    return tl.Serial([tl.Select([1], n_in=2), _head_dense(vocab_size)])


def BERTPretrainingLoss():
    """(nsp logits, mlm logits, nsp targets, nsp weights, mlm targets, mlm
    weights) -> the sum of the two weighted cross-entropies."""
    nsp = [tl.Select([0, 2, 3], n_in=6), tl.WeightedCategoryCrossEntropy()]
    mlm = [tl.Select([1, 4, 5], n_in=6), tl.WeightedCategoryCrossEntropy()]
    return tl.Serial(tl.Branch(nsp, mlm), tl.Add())


def BERTPretrainingHead(n_classes):
    """Both pre-training heads side by side. As in Trax, the result is a
    one-element tuple holding the Branch (``Serial`` flattens it)."""
    return (tl.Branch(_configured(BERTClassifierHead)(n_classes),
                      _configured(BERTMLMHead)()),)


def _squeeze_12(x):
    return jnp.squeeze(x, (1, 2))


def _first_token_and_all(x):
    return x[:, 0, :], x


def BERT(d_model=768, vocab_size=30522, max_len=512, type_vocab_size=2,
         n_heads=12, d_ff=3072, n_layers=12, head=None, init_checkpoint=None,
         mode="eval"):
    """BERT's encoder (defaults: bert-base-uncased) on (token ids, token
    type ids, an ignored index input), giving (pooled first token, all
    positions), then ``head()`` if given. ``init_checkpoint`` (a path, or a
    model name from ``_MODEL_LINKS``) is read in 'train' mode only."""
    epsilon = 1e-12
    d_head = d_model // n_heads

    embeddings = [
        tl.Select([0, 1, 0], n_in=3),  # the third input is not used
        tl.Parallel(
            tl.Embedding(vocab_size, d_model),
            tl.Embedding(type_vocab_size, d_model),
            [tl.PaddingMask(), tl.Fn("Squeeze", _squeeze_12, n_out=1)]),
        tl.Add(),
        tl.PositionalEncoding(max_len, mode=mode),
        tl.LayerNorm(epsilon=epsilon),
    ]

    encoder = []
    for _ in range(n_layers):
        attention = tl.SelfAttention(n_heads=n_heads, d_qk=d_head, d_v=d_head,
                                     bias=True, masked=True, mode=mode)
        encoder += [
            tl.Select([0, 1, 1]),  # the mask again, for the next layer
            tl.Residual(attention, AddBias()),
            tl.LayerNorm(epsilon=epsilon),
            tl.Residual(tl.Dense(d_ff), tl.Gelu(), tl.Dense(d_model)),
            tl.LayerNorm(epsilon=epsilon),
        ]
    encoder.append(tl.Select([0], n_in=2))  # only activations to the pooler

    pooler = [tl.Fn("", _first_token_and_all, n_out=2), tl.Dense(d_model),
              tl.Tanh()]

    bert = PretrainedBERT(
        embeddings + encoder + pooler,
        init_checkpoint=init_checkpoint if mode == "train" else None)
    if head is not None:
        bert = tl.Serial(bert, head())
    return bert


def _find_ckpt(folder):
    """The checkpoint prefix (``.../name.ckpt``) of a file in ``folder``."""
    for name in sorted(os.listdir(folder)):
        if ".ckpt" in name:
            return name.split(".ckpt")[0] + ".ckpt"
    raise FileNotFoundError(
        f"No BERT checkpoint (a file named *.ckpt*) in {folder}: unzip the "
        f"model's archive there, or pass init_checkpoint='/path/to/"
        f"bert_model.ckpt'.")


def _descend(folder):
    """Goes into single nested folders, as the archives unpack."""
    while True:
        entries = os.listdir(folder)
        inner = os.path.join(folder, entries[0]) if len(entries) == 1 else None
        if inner is None or not os.path.isdir(inner):
            return folder
        folder = inner


class PretrainedBERT(tl.Serial):
    """A ``Serial`` whose weights, after the usual initialization, are
    replaced by those of a TensorFlow BERT checkpoint when
    ``init_checkpoint`` is set: a checkpoint path (with a path separator)
    or a model name from ``_MODEL_LINKS``, looked up in ``~/trax/<name>``
    and downloaded there if absent."""

    def __init__(self, *sublayers, init_checkpoint=None):
        super().__init__(*sublayers)
        self.init_checkpoint = init_checkpoint

    def _settable_attrs(self):
        return (*super()._settable_attrs(), "init_checkpoint")

    @classmethod
    def download_model(cls, model_name):
        """``(folder, checkpoint file name)`` of ``model_name``, downloading
        and unzipping it into ``~/trax/<model_name>`` unless it is there."""
        if model_name not in _MODEL_LINKS:
            raise KeyError(
                f"Unknown BERT model name {model_name!r}; known names: "
                f"{sorted(_MODEL_LINKS)}. A checkpoint path must contain "
                f"{os.path.sep!r}.")
        link = _MODEL_LINKS[model_name]
        folder = os.path.expanduser(os.path.join("~", "trax", model_name))
        if os.path.isdir(folder) and os.listdir(folder):
            folder = _descend(folder)
            return folder, _find_ckpt(folder)
        pathlib.Path(folder).mkdir(parents=True, exist_ok=True)
        archive = os.path.join(folder, "model_temp")
        print(f"Downloading model from {link} to {folder}")
        try:
            urllib.request.urlretrieve(link, archive)
        except (urllib.error.URLError, OSError) as e:
            if os.path.exists(archive):  # a partial download
                os.remove(archive)
            raise OSError(
                f"Could not download BERT model {model_name!r} from {link} "
                f"into {folder} ({e}). Offline, download and unzip that "
                f"archive into {folder} on a machine with network access, "
                f"or pass init_checkpoint='/path/to/bert_model.ckpt'.") from e
        if not zipfile.is_zipfile(archive):
            raise NotImplementedError(
                f"{link} did not give a zip archive; only zipped models can "
                f"be downloaded.")
        with zipfile.ZipFile(archive) as z:
            z.extractall(folder)
        os.remove(archive)
        folder = _descend(folder)
        return folder, _find_ckpt(folder)

    def checkpoint_path(self):
        """The checkpoint prefix to read, or None: a model name is resolved
        (and downloaded if need be) here."""
        name = self.init_checkpoint
        if name is None or os.path.sep in name:
            return name
        return os.path.join(*self.download_model(name))

    def init_weights_and_state(self, input_signature):
        super().init_weights_and_state(input_signature)
        path = self.checkpoint_path()
        if path is None:
            return
        print("Loading pre-trained weights from", path)
        leaves, treedef = jax.tree_util.tree_flatten(self.weights)
        loaded = _read_checkpoint(path, leaves)
        self.weights = jax.tree_util.tree_unflatten(
            treedef, [jnp.asarray(x) for x in loaded])


def _checkpoint_names(n_layers):
    """The TF checkpoint's tensor names in the order of the encoder's
    weight leaves, each with how it is reshaped ('qkv', 'o', 'b' or None)."""
    names = [("bert/embeddings/word_embeddings", None),
             ("bert/embeddings/token_type_embeddings", None),
             ("bert/embeddings/position_embeddings", None),
             ("bert/embeddings/LayerNorm/gamma", None),
             ("bert/embeddings/LayerNorm/beta", None)]
    for i in range(n_layers):
        layer = f"bert/encoder/layer_{i}"
        attention = f"{layer}/attention"
        names += [(f"{attention}/self/{p}/kernel", "qkv")
                  for p in ("query", "key", "value")]
        names.append((f"{attention}/output/dense/kernel", "o"))
        names += [(f"{attention}/self/{p}/bias", "b")
                  for p in ("query", "key", "value")]
        names += [(f"{attention}/output/dense/bias", None),
                  (f"{attention}/output/LayerNorm/gamma", None),
                  (f"{attention}/output/LayerNorm/beta", None),
                  (f"{layer}/intermediate/dense/kernel", None),
                  (f"{layer}/intermediate/dense/bias", None),
                  (f"{layer}/output/dense/kernel", None),
                  (f"{layer}/output/dense/bias", None),
                  (f"{layer}/output/LayerNorm/gamma", None),
                  (f"{layer}/output/LayerNorm/beta", None)]
    return names + [("bert/pooler/dense/kernel", None),
                    ("bert/pooler/dense/bias", None)]


def _fit(x, how, d_head):
    """A checkpoint tensor in Trax's per-head layout."""
    if how == "qkv":  # (d_model, heads * d_head) -> (heads, d_model, d_head)
        return x.reshape((x.shape[0], -1, d_head)).swapaxes(0, 1)
    if how == "o":  # (heads * d_head, d_model) -> (heads, d_head, d_model)
        return x.reshape((-1, d_head, x.shape[-1]))
    if how == "b":  # (heads * d_head,) -> (heads, d_head)
        return x.reshape((-1, d_head))
    return x


def _read_checkpoint(path, leaves):
    """The checkpoint's tensors for the encoder's weight ``leaves``."""
    n_layers, rest = divmod(len(leaves) - 7, 16)
    if rest or n_layers < 0:
        raise ValueError(
            f"PretrainedBERT expects BERT's encoder weights (5 embedding "
            f"weights, 16 per layer, 2 pooler weights); got {len(leaves)} "
            f"weight arrays.")
    d_head = leaves[5].shape[-1] if n_layers else None
    if not (os.path.exists(path + ".index") or os.path.isdir(path)):
        raise FileNotFoundError(
            f"No TensorFlow checkpoint at {path!r} (expected {path}.index "
            f"and its data files): pass init_checkpoint as the checkpoint's "
            f"prefix, e.g. '/path/to/bert_model.ckpt', or a known model "
            f"name such as 'bert-base-uncased'.")
    # Not at import: trax_compat.models need not load the data package.
    from trax_compat.data import tf_deps  # pylint: disable=g-import-not-at-top
    tf = tf_deps.tf("Loading a pre-trained BERT checkpoint")
    reader = tf.train.load_checkpoint(path)
    loaded = []
    for leaf, (name, how) in zip(leaves, _checkpoint_names(n_layers)):
        if not reader.has_tensor(name):
            raise ValueError(f"BERT checkpoint {path} has no tensor {name!r}.")
        x = _fit(np.asarray(reader.get_tensor(name)), how, d_head)
        if x.shape != leaf.shape and x.size == leaf.size and (
                x.squeeze().shape == np.shape(leaf)):
            x = x.reshape(leaf.shape)  # e.g. a table stored as (1, max_len, d)
        if x.shape != leaf.shape:
            raise ValueError(
                f"BERT checkpoint tensor {name!r} has shape {x.shape} in "
                f"Trax's layout; the model's weight has shape {leaf.shape}. "
                f"Build BERT with the checkpoint's sizes.")
        loaded.append(x.astype(np.asarray(leaf).dtype))
    return loaded


# Trax's gin names for this module's configurables (a no-op without gin).
gin_registry.register(_TRAX_MODULE)
