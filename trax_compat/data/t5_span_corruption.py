"""T5's span-corruption preprocessors, for machines without the ``t5``
package: what ``c4.gin`` (and so every ``t5_*.gin`` config of Trax) binds
under ``t5.data.preprocessors`` and what Trax's ``c4_bare_preprocess_fn``
runs through ``unsupervised``.

The names, arguments and results are T5 0.9.4's. The random ones draw
their per-example seeds as seqio 0.0.19 does: each preprocessor that needs
randomness takes two consecutive op seeds from a counter that
:func:`map_seed_manager` sets (unseeded when it is not set), one per
``tf.data`` random stream, and every per-example seed pair feeds stateless
TensorFlow ops. So under ``map_seed_manager(n)`` a pipeline gives the same
examples as T5's under ``seqio.map_seed_manager(n)``.

TensorFlow is imported only when a preprocessor runs (the ``[tfds]``
extra). The gin names are registered by :func:`register_with_gin`, which
``t5_fallback.install_import_alias`` calls only when the real ``t5`` is
not importable.
"""

import contextlib
import functools
import logging
import math
import numbers

from trax_compat.data import tf_deps

GIN_MODULE = "t5.data.preprocessors"

# The op seed the next seeded preprocessor starts from (seqio's counter).
_next_map_seed = None

# gin's wrappers, by name, once registered: calls made from inside this
# module (random_spans_tokens_length -> random_spans_helper, the sentinel
# id) go through them, so a config's bindings reach those functions too.
_configured = {}


# Cached: the helpers below call it inside traced functions, where
# autograph would otherwise walk into the import machinery.
@functools.lru_cache(maxsize=None)
def _tf():
    return tf_deps.tf("T5's span-corruption preprocessors")


def _fn(name):
    return _configured.get(name) or globals()[name]


@contextlib.contextmanager
def map_seed_manager(initial_seed=None):
    """Seeds the preprocessors built inside the block: each one that draws
    random numbers takes the next two op seeds from ``initial_seed`` on
    (seqio's ``map_seed_manager``)."""
    global _next_map_seed
    saved = _next_map_seed
    _next_map_seed = initial_seed
    try:
        yield
    finally:
        _next_map_seed = saved


def _map_with_seed(dataset, fn):
    """``dataset.map(fn(example, seed))``, ``seed`` an int64 pair drawn per
    example from two ``tf.data`` random streams (seqio's ``num_seeds=1``)."""
    global _next_map_seed
    tf = _tf()
    if _next_map_seed is None:
        op_seeds = (None, None)
    else:
        op_seeds = (_next_map_seed, _next_map_seed + 1)
        _next_map_seed += 2
    streams = tuple(tf.data.Dataset.random(seed=s) for s in op_seeds)
    return tf.data.Dataset.zip((dataset, streams)).map(
        lambda example, pair: fn(example, tf.stack(pair)),
        num_parallel_calls=tf.data.AUTOTUNE)


def _drop_empty(dataset, feature_key):
    tf = _tf()
    return dataset.filter(lambda x: tf.size(x[feature_key]) > 0)


def _positive_int(value, what, fix):
    if (isinstance(value, bool) or not isinstance(value, numbers.Integral)
            or value < 1):
        raise ValueError("%s must be a positive integer, got %r; %s"
                         % (what, value, fix))
    return int(value)


def _check_overlap(keys, passthrough_feature_keys, fn_name):
    overlap = set(keys) & set(passthrough_feature_keys or ())
    if overlap:
        raise ValueError("%s: the features %s are both split and passed "
                         "through; drop them from passthrough_feature_keys"
                         % (fn_name, sorted(overlap)))


def _same_length(x, key, other, fn_name):
    tf = _tf()
    return tf.debugging.assert_equal(
        tf.shape(x[key])[0], tf.shape(x[other])[0],
        message="%s: feature %r must be as long as %r" % (fn_name, other,
                                                          key))


# ----------------------------------------------------------------------------
# The unsupervised pipeline and its chunking steps.


def unsupervised(dataset, preprocessors=None, output_features=None,
                 sequence_length=None):
    """Applies each of ``preprocessors`` in turn, handing them
    ``output_features`` and ``sequence_length`` when given (T5's
    ``unsupervised``; ``c4.gin`` binds the list). With no preprocessors the
    dataset is returned as it is, with a warning, as in T5."""
    if preprocessors is None:
        logging.warning("unsupervised: no preprocessors given (bind "
                        "unsupervised.preprocessors); the dataset is "
                        "returned unchanged")
        return dataset
    kwargs = {}
    if output_features:
        kwargs["output_features"] = output_features
    if sequence_length:
        kwargs["sequence_length"] = sequence_length
    for preprocessor in preprocessors:
        dataset = preprocessor(dataset, **kwargs)
    return dataset


def select_random_chunk(dataset, output_features=None, max_length=None,
                        feature_key="targets", additional_feature_keys=None,
                        passthrough_feature_keys=None, sequence_length=None,
                        uniform_random_start=False, min_length=None,
                        **unused_kwargs):
    """One random window of at most ``max_length`` tokens of each non-empty
    example's ``feature_key`` (the whole sequence when shorter).

    Without ``max_length`` the window is ``sequence_length[feature_key]``,
    less one when that output feature gets an EOS. By default the window is
    one of the ``max_length``-aligned chunks; ``uniform_random_start`` starts
    it anywhere (clipped to the sequence); ``min_length`` draws its length
    from ``[min_length, max_length)``. ``additional_feature_keys`` are cut
    at the same place; ``passthrough_feature_keys`` are kept whole; other
    features are dropped.
    """
    del unused_kwargs
    _check_overlap([feature_key] + list(additional_feature_keys or ()),
                   passthrough_feature_keys, "select_random_chunk")
    if max_length is None and sequence_length is not None:
        if feature_key not in sequence_length:
            raise ValueError("select_random_chunk: sequence_length has no "
                             "%r; give max_length or a length for it"
                             % feature_key)
        max_length = sequence_length[feature_key]
        if output_features and output_features[feature_key].add_eos:
            max_length -= 1  # room for the EOS added later
    if max_length is None:
        raise ValueError("select_random_chunk needs max_length or "
                         "sequence_length (bind select_random_chunk."
                         "max_length)")
    max_length = _positive_int(max_length, "select_random_chunk's max_length",
                               "give the chunk's length in tokens")
    tf = _tf()

    def chunk(x, seed):
        pair = tf.random.experimental.stateless_split(seed)
        tokens = x[feature_key]
        n_tokens = tf.shape(tokens)[0]
        length = max_length
        if min_length is not None:
            length = tf.random.stateless_uniform(
                [], minval=min_length, maxval=max_length, dtype=tf.int32,
                seed=pair[0])
        if uniform_random_start:
            start = tf.random.stateless_uniform(
                [], minval=1 - length, maxval=n_tokens, dtype=tf.int32,
                seed=pair[1])
            end = tf.minimum(start + length, n_tokens)
            start = tf.maximum(start, 0)
        else:
            n_chunks = tf.cast(tf.math.ceil(
                tf.cast(n_tokens, tf.float32) / tf.cast(length, tf.float32)),
                tf.int32)
            start = length * tf.random.stateless_uniform(
                [], maxval=n_chunks, dtype=tf.int32, seed=pair[1])
            end = tf.minimum(start + length, n_tokens)
        out = {feature_key: tokens[start:end]}
        for key in additional_feature_keys or ():
            with tf.control_dependencies([
                    _same_length(x, feature_key, key, "select_random_chunk")]):
                out[key] = tf.identity(x[key][start:end])
        for key in passthrough_feature_keys or ():
            out[key] = x[key]
        return out

    return _map_with_seed(_drop_empty(dataset, feature_key), chunk)


def reduce_concat_tokens(dataset, feature_key="targets", batch_size=128,
                         **unused_kwargs):
    """Joins each ``batch_size`` consecutive examples' ``feature_key`` into
    one sequence (their zero tokens dropped); other features are dropped."""
    del unused_kwargs
    batch_size = _positive_int(batch_size, "reduce_concat_tokens' batch_size",
                               "give how many examples to join")
    tf = _tf()
    dataset = dataset.map(lambda x: {feature_key: x[feature_key]},
                          num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.padded_batch(batch_size,
                                   padded_shapes={feature_key: [-1]})

    def join(x):
        tokens = tf.reshape(x[feature_key], [-1])
        # The batch's padding is zeros, and so are any zeros of the text.
        return {feature_key: tf.boolean_mask(tokens, tf.not_equal(tokens, 0))}

    return dataset.map(join, num_parallel_calls=tf.data.AUTOTUNE)


def split_tokens(dataset, min_tokens_per_segment=None,
                 max_tokens_per_segment=None, feature_key="targets",
                 additional_feature_keys=None, passthrough_feature_keys=None,
                 **unused_kwargs):
    """Cuts each non-empty example's ``feature_key`` into consecutive
    segments of ``max_tokens_per_segment`` tokens (the last one shorter),
    one example each. With ``min_tokens_per_segment`` the segment length is
    drawn per example, log-uniformly between the two.
    ``additional_feature_keys`` are cut alike, ``passthrough_feature_keys``
    copied into every segment, other features dropped."""
    del unused_kwargs
    if max_tokens_per_segment is None:
        raise ValueError("split_tokens needs max_tokens_per_segment (c4.gin "
                         "binds split_tokens.max_tokens_per_segment = "
                         "@preprocessors.random_spans_tokens_length())")
    max_tokens_per_segment = _positive_int(
        max_tokens_per_segment, "split_tokens' max_tokens_per_segment",
        "give the segments' length in tokens")
    if min_tokens_per_segment is not None:
        min_tokens_per_segment = _positive_int(
            min_tokens_per_segment, "split_tokens' min_tokens_per_segment",
            "give the shortest segment length, or None for fixed lengths")
    split_keys = [feature_key] + list(additional_feature_keys or ())
    _check_overlap(split_keys, passthrough_feature_keys, "split_tokens")
    tf = _tf()

    def segments(x, seed):
        tokens = x[feature_key]
        n_tokens = tf.shape(tokens)[0]
        if min_tokens_per_segment is None:
            length = tf.constant(max_tokens_per_segment, tf.int32)
        else:
            length = tf.cast(tf.exp(tf.random.stateless_uniform(
                [], minval=math.log(min_tokens_per_segment),
                maxval=math.log(max_tokens_per_segment), seed=seed)),
                tf.int32)
        n_segments = tf.cast(tf.math.ceil(
            tf.cast(n_tokens, tf.float32) / tf.cast(length, tf.float32)),
            tf.int32)
        checks = [_same_length(x, feature_key, k, "split_tokens")
                  for k in split_keys[1:]]
        with tf.control_dependencies(checks):
            whole = {k: tf.identity(x[k]) for k in split_keys}
        kept = {k: x[k] for k in passthrough_feature_keys or ()}

        def segment(i):
            start = tf.cast(i, tf.int32) * length
            out = {k: v[start:start + length] for k, v in whole.items()}
            out.update(kept)
            return out

        return tf.data.Dataset.range(tf.cast(n_segments, tf.int64)).map(
            segment)

    seeded = _map_with_seed(_drop_empty(dataset, feature_key),
                            lambda x, seed: (x, seed))
    return seeded.flat_map(segments)


def split_tokens_to_inputs_length(dataset, sequence_length, output_features,
                                  **kwargs):
    """:func:`split_tokens` into segments of ``sequence_length['inputs']``
    tokens, less one when the inputs feature gets an EOS."""
    length = sequence_length["inputs"]
    if output_features["inputs"].add_eos:
        length -= 1
    return split_tokens(dataset, max_tokens_per_segment=length, **kwargs)


def split_tokens_to_targets_length(dataset, sequence_length, output_features,
                                   **kwargs):
    """As :func:`split_tokens_to_inputs_length`, for ``targets``."""
    length = sequence_length["targets"]
    if output_features["targets"].add_eos:
        length -= 1
    return split_tokens(dataset, max_tokens_per_segment=length, **kwargs)


# ----------------------------------------------------------------------------
# Sizing the raw segments so the corrupted inputs fit without padding.


def random_spans_helper(inputs_length=None, noise_density=None,
                        mean_noise_span_length=None,
                        extra_tokens_per_span_inputs=None,
                        extra_tokens_per_span_targets=None, verbose=False):
    """``(tokens_length, targets_length)``: the most raw tokens whose
    span-corrupted inputs (kept tokens, ``extra_tokens_per_span_inputs``
    per noise span, one EOS) fit in ``inputs_length``, and the length of the
    targets they give (noise tokens, ``extra_tokens_per_span_targets`` per
    span, one EOS). For ``noise_density`` 0.5, a targets length one over the
    inputs length is brought down to it."""
    given = dict(inputs_length=inputs_length, noise_density=noise_density,
                 mean_noise_span_length=mean_noise_span_length,
                 extra_tokens_per_span_inputs=extra_tokens_per_span_inputs,
                 extra_tokens_per_span_targets=extra_tokens_per_span_targets)
    unset = [k for k, v in given.items() if v is None]
    if unset:
        raise ValueError("random_spans_helper needs %s (c4.gin binds them "
                         "as random_spans_helper.<name>)" % ", ".join(unset))
    inputs_length = _positive_int(inputs_length,
                                  "random_spans_helper's inputs_length",
                                  "give the inputs' length in tokens")
    _check_density(noise_density, "random_spans_helper")
    _check_span_length(mean_noise_span_length, "random_spans_helper")
    for key in ("extra_tokens_per_span_inputs",
                "extra_tokens_per_span_targets"):
        if given[key] < 0:
            raise ValueError("random_spans_helper's %s must be >= 0, got %r"
                             % (key, given[key]))

    def lengths(n_tokens):
        noise = int(round(n_tokens * noise_density))
        spans = int(round(noise / mean_noise_span_length))
        return (n_tokens - noise + spans * extra_tokens_per_span_inputs + 1,
                noise + spans * extra_tokens_per_span_targets + 1)

    tokens_length = inputs_length - 1
    while lengths(tokens_length + 1)[0] <= inputs_length:
        tokens_length += 1
    fitted_inputs, targets_length = lengths(tokens_length)
    if noise_density == 0.5 and targets_length > fitted_inputs:
        tokens_length -= 1
        targets_length -= 1
    if verbose:
        logging.info("random_spans_helper: tokens_length=%d inputs_length=%d "
                     "targets_length=%d (noise_density=%s, mean span %s)",
                     tokens_length, fitted_inputs, targets_length,
                     noise_density, mean_noise_span_length)
    return tokens_length, targets_length


def random_spans_tokens_length():
    """:func:`random_spans_helper`'s tokens length, from its gin bindings
    (``split_tokens.max_tokens_per_segment`` in ``c4.gin``)."""
    return _fn("random_spans_helper")()[0]


def random_spans_targets_length():
    """:func:`random_spans_helper`'s targets length, from its gin bindings."""
    return _fn("random_spans_helper")()[1]


def _check_density(noise_density, fn_name):
    if (isinstance(noise_density, bool)
            or not isinstance(noise_density, numbers.Real)
            or not 0 <= noise_density <= 1):
        raise ValueError("%s: noise_density is the fraction of tokens to "
                         "corrupt, between 0 and 1 (T5 uses 0.15); got %r"
                         % (fn_name, noise_density))


def _check_span_length(mean_noise_span_length, fn_name):
    if (isinstance(mean_noise_span_length, bool)
            or not isinstance(mean_noise_span_length, numbers.Real)
            or not mean_noise_span_length > 0):
        raise ValueError("%s: mean_noise_span_length must be a positive "
                         "number of tokens (T5 uses 3.0); got %r"
                         % (fn_name, mean_noise_span_length))


# ----------------------------------------------------------------------------
# denoise and its noise masks.


def denoise(dataset, output_features=None, noise_density=None,
            noise_mask_fn=None, inputs_fn=None, targets_fn=None,
            passthrough_feature_keys=None, input_feature_key="inputs",
            **unused_kwargs):
    """Corrupts each example's ``targets``: ``noise_mask_fn(length,
    noise_density, seeds)`` picks the noise tokens, ``inputs_fn`` and
    ``targets_fn`` (``(tokens, noise_mask, vocabulary, seeds)``) make the
    new ``input_feature_key`` and ``targets`` (``targets`` stays whole
    without ``targets_fn``). ``passthrough_feature_keys`` are kept; the
    rest is dropped."""
    del unused_kwargs
    _check_density(noise_density, "denoise")
    for name, fn in (("noise_mask_fn", noise_mask_fn),
                     ("inputs_fn", inputs_fn)):
        if not callable(fn):
            raise ValueError("denoise needs %s, a function (c4.gin binds "
                             "denoise.%s); got %r" % (name, name, fn))
    if not output_features or "targets" not in output_features:
        raise ValueError("denoise needs output_features with 'targets' (its "
                         "vocabulary gives the sentinels); got %r"
                         % (output_features,))
    passthrough = tuple(passthrough_feature_keys or ())
    if input_feature_key in passthrough or "targets" in passthrough:
        raise ValueError("denoise: passthrough_feature_keys cannot include "
                         "%r or 'targets', which denoise writes"
                         % input_feature_key)
    vocabulary = output_features["targets"].vocabulary
    if (input_feature_key in output_features and
            output_features[input_feature_key].vocabulary != vocabulary):
        raise ValueError("denoise makes %r from the targets' tokens, so both "
                         "features need the same vocabulary"
                         % input_feature_key)
    tf = _tf()

    def corrupt(x, seed):
        seeds = tf.unstack(tf.random.experimental.stateless_split(seed, 6))
        tokens = x["targets"]
        mask = noise_mask_fn(tf.size(tokens), noise_density, seeds=seeds[:2])
        out = {input_feature_key: inputs_fn(tokens, mask, vocabulary,
                                            seeds=seeds[2:4])}
        out["targets"] = (targets_fn(tokens, mask, vocabulary,
                                     seeds=seeds[4:6])
                          if targets_fn else tokens)
        out.update({k: x[k] for k in passthrough if k in x})
        return out

    return _map_with_seed(dataset, corrupt)


def iid_noise_mask(length, noise_density, seeds):
    """Each token is noise with probability ``noise_density``."""
    tf = _tf()
    return tf.random.stateless_uniform([length], seed=seeds[0]) < noise_density


def _random_partition(n_items, n_parts, seed):
    """Lengths of ``n_parts`` non-empty runs splitting ``n_items`` items,
    every split equally likely: ``n_parts - 1`` of the ``n_items - 1`` gaps
    are cut, chosen by a stateless shuffle."""
    tf = _tf()
    cuts = tf.cast(tf.range(n_items - 1) < n_parts - 1, tf.int32)
    order = tf.argsort(tf.random.stateless_uniform(tf.shape(cuts), seed=seed))
    cuts = tf.gather(cuts, order)
    part = tf.cumsum(tf.concat([[0], cuts], axis=0))
    return tf.math.bincount(part, minlength=n_parts, dtype=tf.int32)


def random_spans_noise_mask(length, noise_density, seeds,
                            mean_noise_span_length=3.0, random_roll=False):
    """A mask of ``round(length * noise_density)`` noise tokens (at least
    one, and one short of ``length`` at most) in about
    ``noise tokens / mean_noise_span_length`` spans, alternating with as
    many non-noise spans and starting with one; all such masks are equally
    likely. ``random_roll`` rotates it by a random offset."""
    _check_density(noise_density, "random_spans_noise_mask")
    _check_span_length(mean_noise_span_length, "random_spans_noise_mask")
    tf = _tf()
    if noise_density == 0:
        return tf.zeros(length, tf.bool)
    given_length = length
    length = tf.maximum(length, 2)  # a 0 or 1 token sequence still splits
    n_noise = tf.cast(tf.round(tf.cast(length, tf.float32) * noise_density),
                      tf.int32)
    n_noise = tf.minimum(tf.maximum(n_noise, 1), length - 1)
    n_spans = tf.cast(tf.round(tf.cast(n_noise, tf.float32) /
                               mean_noise_span_length), tf.int32)
    n_spans = tf.maximum(n_spans, 1)
    noise_lengths = _random_partition(n_noise, n_spans, seeds[0])
    kept_lengths = _random_partition(length - n_noise, n_spans, seeds[1])
    run_lengths = tf.reshape(tf.stack([kept_lengths, noise_lengths], axis=1),
                             [-1])
    is_noise_run = tf.tile([False, True], [n_spans])
    mask = tf.repeat(is_noise_run, run_lengths)[:given_length]
    if random_roll:
        roll_seed = (seeds[0][0] + seeds[1][1], seeds[0][1] - seeds[1][0])
        shift = tf.random.stateless_uniform(
            [1], seed=roll_seed, dtype=tf.int32, minval=0, maxval=length)[0]
        mask = tf.roll(mask, shift=shift, axis=0)
    return mask


# ----------------------------------------------------------------------------
# Turning tokens and a noise mask into inputs and targets.


def sentinel_id(vocabulary, return_value=None):
    """The sentinel token: ``return_value`` if given, else the
    vocabulary's last id."""
    if return_value is not None:
        return return_value
    return vocabulary.vocab_size - 1


def _after(mask):
    """Whether the previous token is noise (False for the first)."""
    tf = _tf()
    return tf.concat([[False], mask], axis=0)[:-1]


def noise_token_to_sentinel(tokens, noise_mask, vocabulary, seeds):
    """Every noise token becomes the sentinel."""
    del seeds
    tf = _tf()
    return tf.where(noise_mask,
                    tf.cast(_fn("sentinel_id")(vocabulary), tokens.dtype),
                    tokens)


def noise_span_to_sentinel(tokens, noise_mask, vocabulary, seeds):
    """Every run of noise tokens becomes one sentinel."""
    tf = _tf()
    tokens = noise_token_to_sentinel(tokens, noise_mask, vocabulary, seeds)
    repeat = tf.logical_and(noise_mask, _after(noise_mask))
    return tf.boolean_mask(tokens, tf.logical_not(repeat))


def nonnoise_span_to_sentinel(tokens, noise_mask, vocabulary, seeds):
    """Every run of non-noise tokens becomes one sentinel."""
    tf = _tf()
    return noise_span_to_sentinel(tokens, tf.logical_not(noise_mask),
                                  vocabulary, seeds)


def noise_span_to_unique_sentinel(tokens, noise_mask, vocabulary, seeds):
    """Every run of noise tokens becomes one sentinel, a different one per
    run: the vocabulary's last id for the first run, counting down."""
    del seeds
    tf = _tf()
    previous = _after(noise_mask)
    starts = tf.logical_and(noise_mask, tf.logical_not(previous))
    repeat = tf.logical_and(noise_mask, previous)
    top = tf.cast(_fn("sentinel_id")(vocabulary), tokens.dtype)
    sentinels = top + 1 - tf.cumsum(tf.cast(starts, tokens.dtype))
    return tf.boolean_mask(tf.where(starts, sentinels, tokens),
                           tf.logical_not(repeat))


def nonnoise_span_to_unique_sentinel(tokens, noise_mask, vocabulary, seeds):
    """As :func:`noise_span_to_unique_sentinel`, for the non-noise runs: the
    targets matching its inputs."""
    tf = _tf()
    return noise_span_to_unique_sentinel(tokens, tf.logical_not(noise_mask),
                                         vocabulary, seeds)


def drop_noise_tokens(tokens, noise_mask, vocabulary, seeds):
    """The non-noise tokens."""
    del vocabulary, seeds
    tf = _tf()
    return tf.boolean_mask(tokens, tf.logical_not(noise_mask))


def drop_nonnoise_tokens(tokens, noise_mask, vocabulary, seeds):
    """The noise tokens."""
    del vocabulary, seeds
    return _tf().boolean_mask(tokens, noise_mask)


# T5's gin configurables this module provides, under t5.data.preprocessors.
NAMES = ("unsupervised", "select_random_chunk", "reduce_concat_tokens",
         "split_tokens", "split_tokens_to_inputs_length",
         "split_tokens_to_targets_length", "random_spans_helper",
         "random_spans_tokens_length", "random_spans_targets_length",
         "denoise", "iid_noise_mask", "random_spans_noise_mask",
         "sentinel_id", "noise_token_to_sentinel", "noise_span_to_sentinel",
         "nonnoise_span_to_sentinel", "noise_span_to_unique_sentinel",
         "nonnoise_span_to_unique_sentinel", "drop_noise_tokens",
         "drop_nonnoise_tokens")


def functions():
    """``{name: function}`` for :data:`NAMES`: gin's wrappers once
    registered, else the plain functions."""
    return {name: _fn(name) for name in NAMES}


def register_with_gin(gin):
    """Registers :data:`NAMES` with ``gin`` as T5 does
    (``t5.data.preprocessors.<name>``), once; returns :func:`functions`."""
    if not _configured:
        for name in NAMES:
            _configured[name] = gin.external_configurable(
                globals()[name], name=name, module=GIN_MODULE)
    return functions()
