"""Loss and metric layers (weightless ``Fn`` layers and small Serials)."""

import jax.numpy as jnp

from trax_compat.layers import combinators as cb
from trax_compat.layers import core
from trax_compat.layers.functional import Fn


def _check_targets_fit(name, model_output, targets):
    # Ours, not Trax's: Trax would silently broadcast mismatched targets;
    # the Loop relies on this error to report a model/loss mismatch early.
    expected = tuple(model_output.shape[:-1])
    if tuple(targets.shape) != expected:
        raise ValueError(
            f"{name}: model output of shape {tuple(model_output.shape)} does "
            f"not fit targets of shape {tuple(targets.shape)}; the targets "
            f"must have the model output's shape without its last (category) "
            f"axis, i.e. {expected}.")


def _category_cross_entropy(model_output, targets, label_smoothing, cutoff):
    n_categories = model_output.shape[-1]
    target_distributions = core.one_hot(targets, n_categories)
    if label_smoothing:
        if label_smoothing < 0.0 or label_smoothing > 1.0:
            raise ValueError(
                f"Arg label_smoothing ({label_smoothing}) must be between 0 "
                f"and 1.")
        target_distributions = target_distributions * (1.0 - label_smoothing)
        target_distributions = target_distributions + (
            label_smoothing / n_categories)
    log_probs = core.log_softmax(model_output)
    cross_entropies = -jnp.sum(target_distributions * log_probs, axis=-1)
    if cutoff is not None:
        # Only the part of each item's loss above the cutoff counts.
        cross_entropies = jnp.where(cross_entropies > cutoff,
                                    cross_entropies - cutoff, 0.0)
    return cross_entropies


def WeightedCategoryCrossEntropy(label_smoothing=None, cutoff=None):  # pylint: disable=invalid-name
    """Weighted mean cross-entropy of softmax(model output) vs int targets."""
    def f(model_output, targets, weights):
        _check_targets_fit("WeightedCategoryCrossEntropy", model_output,
                           targets)
        cross_entropies = _category_cross_entropy(
            model_output, targets, label_smoothing, cutoff)
        return jnp.sum(cross_entropies * weights) / jnp.sum(weights)
    return Fn("WeightedCategoryCrossEntropy", f)


def CategoryCrossEntropy(label_smoothing=None, cutoff=None):  # pylint: disable=invalid-name
    """Mean cross-entropy of softmax(model output) vs int targets."""
    def f(model_output, targets):
        _check_targets_fit("CategoryCrossEntropy", model_output, targets)
        return jnp.average(_category_cross_entropy(
            model_output, targets, label_smoothing, cutoff))
    return Fn("CategoryCrossEntropy", f)


def _assert_same_shape(name, a, b):
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(
            f"{name}: arrays of different shapes {tuple(a.shape)} and "
            f"{tuple(b.shape)}.")


def WeightedCategoryAccuracy():  # pylint: disable=invalid-name
    """Weighted fraction of argmax predictions equal to the targets."""
    def f(model_output, targets, weights):
        predictions = jnp.argmax(model_output, axis=-1)
        _assert_same_shape("WeightedCategoryAccuracy", predictions, targets)
        correct = jnp.equal(predictions, targets)
        return jnp.sum(correct * weights) / jnp.sum(weights)
    return Fn("WeightedCategoryAccuracy", f)


def CategoryAccuracy():  # pylint: disable=invalid-name
    """Fraction of argmax predictions equal to the targets."""
    def f(model_output, targets):
        predictions = jnp.argmax(model_output, axis=-1)
        _assert_same_shape("CategoryAccuracy", predictions, targets)
        return jnp.sum(jnp.equal(predictions, targets)) / predictions.size
    return Fn("CategoryAccuracy", f)


def _WeightedMean():  # pylint: disable=invalid-name
    return Fn("_WeightedMean",
              lambda values, weights: jnp.sum(values * weights)
              / jnp.sum(weights))


def _Accuracy():  # pylint: disable=invalid-name
    return Fn("_Accuracy", lambda predicted, target: jnp.equal(
        predicted, target).astype(jnp.float32))


def _CrossEntropy():  # pylint: disable=invalid-name
    def f(model_output, target_category):
        target = core.one_hot(target_category, model_output.shape[-1])
        return -1.0 * jnp.sum(model_output * target, axis=-1)
    return Fn("_CrossEntropy", f)


def CrossEntropyLoss():  # pylint: disable=invalid-name
    """Weighted mean of ``-sum(model_output * one_hot(targets))``: expects
    log-probabilities (it does not normalise; Trax's deprecated loss)."""
    return cb.Serial(_CrossEntropy(), _WeightedMean(),
                     name="CrossEntropyLoss", sublayers_to_print=[])


def Accuracy(classifier=None):  # pylint: disable=invalid-name
    """Weighted mean accuracy of ``classifier(model_output)`` (default
    ArgMax) against the targets (Trax's deprecated metric)."""
    classifier = core.ArgMax() if classifier is None else classifier
    return cb.Serial(classifier, _Accuracy(), _WeightedMean(),
                     name="Accuracy", sublayers_to_print=[])


def L2Loss():  # pylint: disable=invalid-name
    """Weighted mean of squared errors; all three inputs of one shape."""
    def f(model_output, targets, weights):
        _assert_same_shape("L2Loss", model_output, targets)
        _assert_same_shape("L2Loss", model_output, weights)
        weighted_sse = weights * (model_output - targets)**2
        return jnp.sum(weighted_sse) / jnp.sum(weights)
    return Fn("L2Loss", f)
