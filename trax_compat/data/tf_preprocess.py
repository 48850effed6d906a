"""Trax's ``tf.data`` preprocessing functions (``fn(dataset, training)``).

Each takes a ``tf.data.Dataset`` of Trax's ``(features, targets)`` pairs (or
of feature dicts, as named below) and returns the transformed dataset, with
the values Trax's functions give. TensorFlow is imported when one is called.
"""

import functools

from trax_compat import gin_registry
from trax_compat.data import t5_fallback
from trax_compat.data import tf_deps


def _tf():
    return tf_deps.tf("This preprocessing function")


def t5_data(what="This function"):
    """T5's ``t5.data`` module; without the ``t5`` package, the part of it
    Trax's configs use (``t5_fallback``), whose other names raise an error
    saying to install ``t5``."""
    if not t5_fallback.t5_installed():
        return t5_fallback.data
    return tf_deps.requires("t5.data", what, t5_fallback.T5_HINT)


def _gin_binding(selector):
    """The value gin binds to ``selector``, or None (no gin, or unbound)."""
    gin = gin_registry.gin_or_none()
    if gin is None:
        return None
    try:
        return gin.query_parameter(selector)
    except ValueError:
        return None


def no_preprocess(dataset, training):
    del training
    return dataset


def _scale_image(features, targets):
    tf = _tf()
    features["image"] = tf.cast(features["image"], tf.float32) / 255.0
    return features, targets


def _cifar_augment(image):
    # Pad to 40x40, crop a random 32x32 window, maybe mirror it
    # (arXiv:1608.06993, p. 5), as Trax does.
    tf = _tf()
    image = tf.image.resize_with_crop_or_pad(image, 40, 40)
    image = tf.image.random_crop(image, [32, 32, 3])
    return tf.image.random_flip_left_right(image)


def _augment_pair(features, targets):
    features["image"] = _cifar_augment(features["image"])
    return features, targets


def cifar10_no_augmentation_preprocess(dataset, training):
    """Images scaled to float32 in [0, 1]."""
    del training
    return dataset.map(_scale_image)


def cifar10_augmentation_preprocess(dataset, training):
    """Random crop and flip when training, then images scaled to [0, 1]."""
    if training:
        dataset = dataset.map(_augment_pair)
    return dataset.map(_scale_image)


def cifar10_augmentation_flatten_preprocess(dataset, training,
                                            predict_image_train_weight=0.01):
    """Augments (training), flattens each image and appends its label.

    Inputs and targets become the int64 pixels followed by the label; the
    mask weighs pixels ``predict_image_train_weight`` (0 in eval) and the
    label 1.
    """
    tf = _tf()
    pixel_weight = predict_image_train_weight if training else 0.0

    def flatten(features, targets):
        pixels = tf.cast(tf.reshape(features["image"], [-1]), tf.int64)
        label = tf.expand_dims(targets, axis=0)
        sequence = tf.concat([pixels, label], axis=0)
        mask = tf.concat([tf.cast(tf.ones_like(pixels), tf.float32)
                          * pixel_weight,
                          tf.cast(tf.ones_like(label), tf.float32)], axis=0)
        return {"image": sequence, "mask": mask}, sequence

    if training:
        dataset = dataset.map(_augment_pair)
    return dataset.map(flatten)


def downsampled_imagenet_flatten_bare_preprocess(dataset, training):
    """Feature dicts -> ``{'image': int64 pixels, flattened}``."""
    del training
    tf = _tf()
    return dataset.map(lambda features: {
            "image": tf.cast(tf.reshape(features["image"], [-1]), tf.int64)})


def concat_preprocess(dataset, training, pad_symbol=0):
    """Inputs and targets become ``[pad, inputs, pad, targets]`` (LM form)."""
    del training
    tf = _tf()

    def concat(features, targets):
        inputs = features["inputs"]
        pad = tf.expand_dims(tf.zeros_like(inputs[0]) + pad_symbol, axis=0)
        joined = tf.concat([pad, inputs, pad, targets], axis=0)
        features["inputs"] = joined
        return features, joined

    return dataset.map(concat)


def squeeze_targets_preprocess(dataset, training):
    """Drops a trailing targets axis of size 1."""
    del training
    tf = _tf()

    def squeeze(features, targets):
        if targets.shape[-1] == 1:
            targets = tf.squeeze(targets, axis=-1)
        return features, targets

    return dataset.map(squeeze)


def _shorter_than(limit, length_of):
    tf = _tf()
    return lambda features, targets: tf.less(length_of(features, targets),
                                             limit + 1)


def lm1b_preprocess(dataset, training, max_target_length=-1,
                    max_eval_target_length=-1):
    """Keeps examples whose targets are at most the (train/eval) max length."""
    tf = _tf()
    target_len = lambda _, targets: tf.shape(targets)[0]
    if training and max_target_length > 0:
        dataset = dataset.filter(_shorter_than(max_target_length, target_len))
    if not training and max_eval_target_length > 0:
        dataset = dataset.filter(_shorter_than(max_eval_target_length,
                                               target_len))
    return dataset


def wmt_preprocess(dataset, training, max_length=-1, max_eval_length=-1):
    """Keeps examples whose inputs and targets are at most the max length."""
    tf = _tf()
    longest = lambda features, targets: tf.maximum(
            tf.shape(features["inputs"])[0], tf.shape(targets)[0])
    if training and max_length > 0:
        dataset = dataset.filter(_shorter_than(max_length, longest))
    if not training and max_eval_length > 0:
        dataset = dataset.filter(_shorter_than(max_eval_length, longest))
    return dataset


def wmt_concat_preprocess(dataset, training, max_length=-1,
                          max_eval_length=-1):
    """wmt_preprocess, then ``inputs, 0, targets`` with a targets-only mask."""
    tf = _tf()
    dataset = wmt_preprocess(dataset, training, max_length, max_eval_length)

    def concat(features, targets):
        inputs = features["inputs"]
        zero = tf.expand_dims(tf.zeros_like(inputs[0]), axis=0)
        features["inputs"] = tf.concat([inputs, zero, targets], axis=0)
        features["mask"] = tf.concat(
                [tf.zeros_like(inputs), zero, tf.ones_like(targets)], axis=0)
        return features, features["inputs"]

    return dataset.map(concat)


def lm_token_preprocessing(dataset, training):
    """Feature dicts: inputs = targets = ``inputs, 0, targets``, with a mask."""
    del training
    tf = _tf()

    def concat(x):
        inputs, targets = x["inputs"], x["targets"]
        zero = tf.expand_dims(tf.zeros_like(inputs[0]), axis=0)
        joined = tf.concat([inputs, zero, targets], axis=0)
        x["inputs"] = x["targets"] = joined
        x["mask"] = tf.concat(
                [tf.zeros_like(inputs), zero, tf.ones_like(targets)], axis=0)
        return x

    return dataset.map(concat)


def bair_robot_pushing_hparams(hparams=None, video_num_input_frames=1,
                               video_num_target_frames=15):
    """Sets the frame counts on ``hparams``, or returns them without one."""
    if hparams is None:
        return video_num_input_frames, video_num_target_frames
    hparams.video_num_input_frames = video_num_input_frames
    hparams.video_num_target_frames = video_num_target_frames
    return None


def bair_robot_pushing_preprocess(dataset, training):
    """Input and target frames become one flat int32 sequence with a mask."""
    del training
    tf = _tf()

    def concat(features, targets):
        inputs = features["inputs"]
        joined = tf.cast(tf.reshape(tf.concat([inputs, targets], axis=0),
                                    (-1,)), tf.int32)
        mask = tf.cast(tf.reshape(tf.concat([tf.zeros_like(inputs),
                                             tf.ones_like(targets)], axis=0),
                                  (-1,)), tf.float32)
        features["inputs"] = features["targets"] = joined
        features["mask"] = mask
        return features, joined

    return dataset.map(concat)


def filter_dataset_on_len(dataset, training, len_map=None,
                          filter_on_eval=False):
    """Keeps feature dicts whose lengths lie within ``len_map``'s bounds.

    ``len_map``: {feature: (min_len, max_len)}, both inclusive. Eval data is
    filtered only with ``filter_on_eval``.
    """
    if len_map is None or (not training and not filter_on_eval):
        return dataset
    if not isinstance(len_map, dict):
        raise TypeError("len_map must be a dict {feature: (min, max)}, got %r"
                        % (len_map,))
    tf = _tf()
    for key, (low, high) in len_map.items():
        def within(x, key=key, low=low, high=high):
            size = tf.shape(x[key])[0]
            return tf.logical_and(low <= size, size <= high)
        dataset = dataset.filter(within)
    return dataset


def truncate_dataset_on_len(dataset, training, len_map=None,
                            truncate_on_eval=False):
    """Cuts features to ``len_map``'s lengths ({feature: max_len}).

    Eval data is cut only with ``truncate_on_eval``.
    """
    if len_map is None or (not training and not truncate_on_eval):
        return dataset
    if not isinstance(len_map, dict):
        raise TypeError("len_map must be a dict {feature: max_len}, got %r"
                        % (len_map,))

    def truncate(x):
        for key, max_len in len_map.items():
            x[key] = x[key][:max_len, ...]
        return x

    return dataset.map(truncate)


def pad_dataset_to_length(dataset, training, len_map=None):
    """Zero-pads features shorter than ``len_map``'s lengths at the end."""
    del training
    if len_map is None:
        return dataset
    tf = _tf()

    def pad(x):
        for key, length in len_map.items():
            short = tf.maximum(length - tf.shape(x[key])[0], 0)
            x[key] = tf.concat([x[key], tf.zeros([short], dtype=x[key].dtype)],
                               0)
        return x

    return dataset.map(pad)


def add_eos_to_output_features(dataset, training, output_features="targets",
                               eos=1):
    """Appends ``eos`` to each of ``output_features`` (a name or a list)."""
    del training
    tf = _tf()
    if not isinstance(output_features, (list, tuple)):
        output_features = [output_features]

    def add_eos(x):
        for key in output_features:
            x[key] = tf.concat([x[key], [eos]], axis=0)
        return x

    return dataset.map(add_eos)


def c4_preprocess(dataset, training, max_target_length=-1, tokenization=None,
                  spm_path=None):
    """C4 text -> inputs = targets = its Unicode code points (int64).

    ``tokenization='spc'`` uses a SentencePiece model (``spm_path``) instead;
    ``max_target_length`` > 0 drops longer examples.
    """
    del training
    tf = _tf()

    def code_points(features, targets):
        del targets
        chars = tf.cast(tf.strings.unicode_decode(features["text"], "UTF-8"),
                        tf.int64)
        features["targets"] = features["inputs"] = chars
        return features, chars

    if tokenization == "spc":
        tf_text = tf_deps.requires(
                "tensorflow_text", "c4_preprocess(tokenization='spc')",
                "pip install tensorflow-text (matching your TensorFlow)")
        spm_path = spm_path or t5_data("c4_preprocess").DEFAULT_SPM_PATH
        with tf.io.gfile.GFile(spm_path, "rb") as f:
            tokenizer = tf_text.SentencepieceTokenizer(model=f.read())

        def pieces(features, targets):
            del targets
            ids = tf.cast(tokenizer.tokenize(features["text"]), tf.int64)
            features["targets"] = features["inputs"] = ids
            return features, ids

        dataset = dataset.map(pieces)
    else:
        dataset = dataset.map(code_points)
    if max_target_length > 0:
        dataset = dataset.filter(_shorter_than(
                max_target_length, lambda _, targets: tf.shape(targets)[0]))
    return dataset


def c4_bare_preprocess_fn(dataset, training=True, spm_path=None,
                          copy_pretokenized=True, sequence_length=None):
    """Trax's C4 pretraining pipeline; it is built from T5's preprocessors."""
    t5 = t5_data("c4_bare_preprocess_fn")
    # With gin, the stand-in's unsupervised is gin's wrapper (c4.gin binds
    # its preprocessors), as T5's is.
    unsupervised = t5.preprocessors.unsupervised
    tf = _tf()
    dataset = t5.preprocessors.rekey(dataset,
                                     key_map={"targets": "text",
                                              "inputs": None})
    vocab = t5.SentencePieceVocabulary(
            sentencepiece_model_file=spm_path or t5.DEFAULT_SPM_PATH,
            extra_ids=0)
    feature = t5.Feature(vocab)
    output_features = {"targets": feature, "inputs": feature}

    def encode(features):
        out = {}
        for key, value in features.items():
            if key in output_features and value.dtype == tf.string:
                if copy_pretokenized:
                    out[key + "_pretokenized"] = value
                value = tf.cast(vocab.encode_tf(value), tf.int64)
            out[key] = value
        return out

    dataset = dataset.map(encode, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = unsupervised(
            dataset, sequence_length=sequence_length,
            output_features=output_features)
    dataset = add_eos_to_output_features(dataset, training)
    dataset = truncate_dataset_on_len(dataset, training, sequence_length, True)
    return pad_dataset_to_length(dataset, training, sequence_length)


def generic_text_dataset_preprocess_fn(dataset, training=True,
                                       text_preprocess_fns=None,
                                       token_preprocess_fns=None,
                                       spm_path=None, copy_pretokenized=False,
                                       debug_print_examples=False,
                                       debug_print_examples_rate=0.01):
    """Text preprocessors, T5 SentencePiece tokenization, token preprocessors."""
    del debug_print_examples, debug_print_examples_rate  # logging only
    t5 = t5_data("generic_text_dataset_preprocess_fn")
    for fn in text_preprocess_fns or ():
        dataset = fn(dataset, training)
    vocab = t5.SentencePieceVocabulary(
            sentencepiece_model_file=spm_path or t5.DEFAULT_SPM_PATH,
            extra_ids=0)
    feature = t5.Feature(vocab)
    dataset = t5.preprocessors.tokenize(
            dataset, {"targets": feature, "inputs": feature},
            copy_pretokenized=copy_pretokenized)
    for fn in token_preprocess_fns or ():
        dataset = fn(dataset, training)
    return dataset


def get_t5_preprocessor_by_name(name=None, fn_kwargs=None):
    """T5 preprocessor ``name`` (with ``fn_kwargs``) as ``fn(dataset, training)``.

    Arguments not given are read from gin bindings, as calling Trax's
    gin-configured function does.
    """
    if name is None:
        name = _gin_binding("get_t5_preprocessor_by_name.name")
        if fn_kwargs is None:
            fn_kwargs = _gin_binding("get_t5_preprocessor_by_name.fn_kwargs")
    if name is None:
        raise ValueError("get_t5_preprocessor_by_name needs the name of a T5 "
                         "preprocessor, e.g. name='rekey'")
    fn = getattr(t5_data("get_t5_preprocessor_by_name").preprocessors, name)
    if fn_kwargs is not None:
        fn = functools.partial(fn, **fn_kwargs)
    return lambda dataset, unused_training: fn(dataset)
