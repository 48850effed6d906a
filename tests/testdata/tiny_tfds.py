"""Tiny TFDS datasets prepared from fake examples into a local dir (no network).

Used by the tests and by generate_data_tfds.py (run with real Trax), so both
read the same records. Each builder writes ordinary TFDS files; the two
stand-ins write under the names Trax's tutorials load (``imdb_reviews``,
``fashion_mnist``) with the same features and versions, so TFDS's own
builders for those names read them from the data dir.

Requires tensorflow_datasets; import it only where that is installed.
"""

import numpy as np
import tensorflow_datasets as tfds

# Split sizes: odd on purpose (host slices and holdouts round).
TEXT_SPLITS = {"train": 23, "test": 5}
TRIPLE_SPLITS = {"train": 17, "validation": 4, "test": 3}
IMDB_SPLITS = {"train": 40, "test": 12, "unsupervised": 2}
FASHION_SPLITS = {"train": 64, "test": 16}
CIFAR10_SPLITS = {"train": 12, "test": 5}

_WORDS = ("good bad film plot actor great boring music scene story long "
          "short fun dull the a of and").split()


def text_of(i, n_words):
    return " ".join(_WORDS[(i * 7 + 3 * j) % len(_WORDS)]
                    for j in range(n_words))


class TinyText(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Texts and binary labels; train and test only (eval falls to test)."""
    name = "tiny_text"
    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(
                builder=self,
                features=tfds.features.FeaturesDict({
                        "text": tfds.features.Text(),
                        "label": tfds.features.ClassLabel(num_classes=2)}),
                supervised_keys=("text", "label"))

    def _split_generators(self, dl_manager):
        del dl_manager
        return {name: self._generate_examples(name, n)
                for name, n in TEXT_SPLITS.items()}

    def _generate_examples(self, split, n):
        offset = 1000 if split == "test" else 0
        for i in range(n):
            yield i, {"text": "%s %d: %s" % (split, i, text_of(i, 2 + i % 5)),
                      "label": (i + offset) % 2}


class TinyTriple(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Int sequences: train, validation and test; 'inputs'/'targets'/'id'."""
    name = "tiny_triple"
    VERSION = tfds.core.Version("2.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(
                builder=self,
                features=tfds.features.FeaturesDict({
                        "inputs": tfds.features.Tensor(shape=(None,),
                                                       dtype=np.int64),
                        "targets": tfds.features.Tensor(shape=(None,),
                                                        dtype=np.int64),
                        "id": np.int32}),
                supervised_keys=("inputs", "targets"))

    def _split_generators(self, dl_manager):
        del dl_manager
        return {name: self._generate_examples(name, n)
                for name, n in TRIPLE_SPLITS.items()}

    def _generate_examples(self, split, n):
        base = {"train": 0, "validation": 100, "test": 200}[split]
        for i in range(n):
            k = base + i
            yield i, {"inputs": np.arange(1, 2 + i % 4, dtype=np.int64) + k,
                      "targets": np.arange(1, 3 + i % 3, dtype=np.int64) * 2,
                      "id": np.int32(k)}


class ImdbReviewsStandIn(tfds.core.GeneratorBasedBuilder,
                         skip_registration=True):
    """imdb_reviews/plain_text 1.0.0's features, with made-up reviews."""
    name = "imdb_reviews"
    BUILDER_CONFIGS = [tfds.core.BuilderConfig(
            name="plain_text", version=tfds.core.Version("1.0.0"))]

    def _info(self):
        return tfds.core.DatasetInfo(
                builder=self,
                features=tfds.features.FeaturesDict({
                        "text": tfds.features.Text(),
                        "label": tfds.features.ClassLabel(
                                names=["neg", "pos"])}),
                supervised_keys=("text", "label"))

    def _split_generators(self, dl_manager):
        del dl_manager
        return {name: self._generate_examples(name, n)
                for name, n in IMDB_SPLITS.items()}

    def _generate_examples(self, split, n):
        for i in range(n):
            # Lengths spread over the tutorial's buckets (32/128/512 tokens).
            n_words = (3, 20, 90, 300)[i % 4] + i
            label = -1 if split == "unsupervised" else i % 2
            yield i, {"text": "%s review %d. %s." % (split, i,
                                                     text_of(i, n_words)),
                      "label": label}


class FashionMnistStandIn(tfds.core.GeneratorBasedBuilder,
                          skip_registration=True):
    """fashion_mnist 3.0.1's features: 28x28x1 uint8 images, 10 labels."""
    name = "fashion_mnist"
    VERSION = tfds.core.Version("3.0.1")

    def _info(self):
        return tfds.core.DatasetInfo(
                builder=self,
                features=tfds.features.FeaturesDict({
                        "image": tfds.features.Image(shape=(28, 28, 1)),
                        "label": tfds.features.ClassLabel(num_classes=10)}),
                supervised_keys=("image", "label"))

    def _split_generators(self, dl_manager):
        del dl_manager
        return {name: self._generate_examples(name, n)
                for name, n in FASHION_SPLITS.items()}

    def _generate_examples(self, split, n):
        rng = np.random.RandomState(0 if split == "train" else 1)
        for i in range(n):
            label = i % 10
            # A learnable picture: a bright bar whose row says the label.
            image = rng.randint(0, 40, size=(28, 28, 1)).astype(np.uint8)
            image[2 + 2 * label:4 + 2 * label, 4:24, 0] = 200 + label
            yield i, {"image": image, "label": label}


class MnistStandIn(FashionMnistStandIn, skip_registration=True):
    """mnist 3.0.1's features (those of fashion_mnist), same pictures."""
    name = "mnist"


class Cifar10StandIn(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """cifar10 3.0.2's features: 32x32x3 uint8 images, 10 labels, an id."""
    name = "cifar10"
    VERSION = tfds.core.Version("3.0.2")

    def _info(self):
        return tfds.core.DatasetInfo(
                builder=self,
                features=tfds.features.FeaturesDict({
                        "id": tfds.features.Text(),
                        "image": tfds.features.Image(shape=(32, 32, 3)),
                        "label": tfds.features.ClassLabel(num_classes=10)}),
                supervised_keys=("image", "label"))

    def _split_generators(self, dl_manager):
        del dl_manager
        return {name: self._generate_examples(name, n)
                for name, n in CIFAR10_SPLITS.items()}

    def _generate_examples(self, split, n):
        rng = np.random.RandomState(2 if split == "train" else 3)
        for i in range(n):
            image = rng.randint(0, 256, size=(32, 32, 3)).astype(np.uint8)
            yield i, {"id": "%s_%05d" % (split, i), "image": image,
                      "label": i % 10}


def _drop_builder():
    from tensorflow_datasets.text.drop import drop  # pylint: disable=g-import-not-at-top
    return drop.Drop


class DropStandIn(_drop_builder(), skip_registration=True):
    """drop 2.0.0 (TFDS's own features): made-up passages, some numeric and
    some empty answers (CreateDropInputs skips those)."""
    name = "drop"

    def _split_generators(self, dl_manager):
        del dl_manager
        return {"train": self._fake_examples("train", 6),
                "dev": self._fake_examples("dev", 3)}

    def _fake_examples(self, split, n):
        for i in range(n):
            answer = ("" if i == 2 else str(3 + i) if i % 2 == 0
                      else text_of(i, 2))
            key = "%s_%d" % (split, i)
            yield key, {"passage": "%s passage %d: %s." % (split, i,
                                                          text_of(i, 8)),
                        "question": "how many %s?" % text_of(i, 1),
                        "answer": answer, "validated_answers": [answer],
                        "query_id": key}


def _glue_builder():
    from tensorflow_datasets.text import glue  # pylint: disable=g-import-not-at-top
    return glue.Glue


class GlueStandIn(_glue_builder(), skip_registration=True):
    """glue 2.0.0, every config with TFDS's own features (text features,
    label, idx), and a few made-up examples in each split."""
    name = "glue"

    def _split_generators(self, dl_manager):
        del dl_manager
        config = self.builder_config
        if config.name.startswith("mnli"):
            names = ["validation_matched", "validation_mismatched",
                     "test_matched", "test_mismatched"]
            if config.name == "mnli":
                names.insert(0, "train")
        else:
            names = ["train", "validation", "test"]
        return {name: self._fake_examples(name) for name in names}

    def _fake_examples(self, split):
        config = self.builder_config
        n_labels = len(config.label_classes or ()) or None
        for i in range(GLUE_SPLIT_SIZE):
            example = {key: "%s %s %d: %s" % (split, key, i,
                                              text_of(i + len(key), 3 + i))
                       for key in config.text_features}
            if n_labels:
                example["label"] = -1 if split.startswith("test") else (
                    i % n_labels)
            else:
                example["label"] = float(i % 5)
            example["idx"] = i
            yield i, example


GLUE_SPLIT_SIZE = 4


def stand_ins(names):
    """The builders of TFDS names (``"drop"``, ``"glue/mnli"``) for
    :func:`prepare`."""
    return tuple((GlueStandIn, n.split("/", 1)[1]) if n.startswith("glue/")
                 else {"drop": DropStandIn, "cifar10": Cifar10StandIn,
                       "mnist": MnistStandIn}[n] for n in names)


ALL = (TinyText, TinyTriple, ImdbReviewsStandIn, FashionMnistStandIn)


def prepare(data_dir, builders=ALL):
    """Writes the datasets into ``data_dir`` (quietly); returns ``data_dir``.
    A builder with configs is given as ``(GlueStandIn, "mnli")``."""
    tfds.disable_progress_bar()
    for cls in builders:
        # (builder, config name) for a builder with configs (GlueStandIn).
        cls, kwargs = (cls if isinstance(cls, tuple)
                       else (cls, None)), {"data_dir": str(data_dir)}
        if cls[1]:
            kwargs["config"] = cls[1]
        b = cls[0](**kwargs)
        if not b.data_path.exists() or not (b.data_path
                                            / "dataset_info.json").exists():
            b.download_and_prepare(
                    download_config=tfds.download.DownloadConfig(
                            verify_ssl=False))
    return str(data_dir)


# --- Shared by the generator and the tests (TensorFlow needed to call). ---

def count_and_keep_odd(dataset):
    """A ``tfds_preprocess_fn``: keeps odd ids, adds 'n' = len(inputs)."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    dataset = dataset.filter(lambda x: tf.equal(x["id"] % 2, 1))

    def add_n(x):
        x = dict(x)
        x["n"] = tf.size(x["inputs"])
        return x
    return dataset.map(add_n)


def int_sequences(lengths, dtype=np.int64, start=1):
    """Lists of increasing ints of the given lengths (distinct values)."""
    out, k = [], start
    for n in lengths:
        out.append(np.arange(k, k + n, dtype=dtype))
        k += n
    return out


def pairs_dataset(input_lengths, target_lengths, target_trailing_1=False):
    """tf.data of Trax's (features {'inputs'}, targets) int64 pairs."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    inputs = int_sequences(input_lengths)
    targets = int_sequences(target_lengths, start=100)
    if target_trailing_1:
        targets = [t[:, None] for t in targets]
    shape = [None, 1] if target_trailing_1 else [None]

    def gen():
        for i, t in zip(inputs, targets):
            yield {"inputs": i}, t
    return tf.data.Dataset.from_generator(
            gen, output_signature=(
                    {"inputs": tf.TensorSpec([None], tf.int64)},
                    tf.TensorSpec(shape, tf.int64)))


def dicts_dataset(input_lengths, target_lengths):
    """tf.data of {'inputs', 'targets'} int64 dicts."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    inputs = int_sequences(input_lengths)
    targets = int_sequences(target_lengths, start=100)

    def gen():
        for i, t in zip(inputs, targets):
            yield {"inputs": i, "targets": t}
    spec = tf.TensorSpec([None], tf.int64)
    return tf.data.Dataset.from_generator(
            gen, output_signature={"inputs": spec, "targets": spec})


def images_dataset(n, shape=(4, 4, 3), with_targets=True):
    """tf.data of uint8 images ({'image'}, label) pairs, or bare dicts."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    rng = np.random.RandomState(5)
    images = rng.randint(0, 256, size=(n,) + tuple(shape)).astype(np.uint8)
    labels = np.arange(n, dtype=np.int64) % 10
    if with_targets:
        return tf.data.Dataset.from_tensor_slices(({"image": images}, labels))
    return tf.data.Dataset.from_tensor_slices({"image": images})


def texts_dataset(texts):
    """tf.data of ({'text'}, dummy target) pairs, as c4_preprocess takes."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    return tf.data.Dataset.from_tensor_slices(
            ({"text": list(texts)}, np.zeros(len(texts), np.int64)))


def encode(value):
    """A JSON form of a NumPy value / bytes / nested tuple or dict."""
    if isinstance(value, dict):
        return {"dict": {k: encode(v) for k, v in sorted(value.items())}}
    if isinstance(value, (tuple, list)):
        return {"tuple": [encode(v) for v in value]}
    if isinstance(value, bytes):
        return {"bytes": value.decode("latin-1")}
    if isinstance(value, str):
        return {"str": value}
    if isinstance(value, (bool, np.bool_)):
        return {"bool": bool(value)}
    arr = np.asarray(value)
    out = {"dtype": str(arr.dtype), "shape": list(arr.shape),
           "type": "ndarray" if isinstance(value, np.ndarray) else "scalar"}
    if arr.size > 64:
        import hashlib  # pylint: disable=g-import-not-at-top
        out["sha256"] = hashlib.sha256(np.ascontiguousarray(arr).tobytes()
                                       ).hexdigest()
        out["sum"] = float(arr.astype(np.float64).sum())
    else:
        out["values"] = arr.tolist()
    return out
