"""Trax's loss and metric layers: weightless ``Fn`` layers and small Serials
taking (model output, targets[, weights]) and giving a scalar.

Means weighted by ``weights`` divide by their sum (over all devices' share
inside ``pmap``, as Trax does); the F-scores take no weights.
"""

import jax.numpy as jnp

from trax_compat import fastmath
from trax_compat import shapes
from trax_compat.layers import combinators as cb
from trax_compat.layers import core
from trax_compat.layers.functional import Fn


# -- shape checks ---------------------------------------------------------------

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


def _assert_same_shape(name, what, a, b):
    """Trax's AssertionError and message, then which inputs and the fix."""
    try:
        shapes.assert_same_shape(a, b)
    except AssertionError as e:
        raise AssertionError(
            f"{e} ({name}: {what} must have the same shape.)") from None


# -- per-item values and their reductions ---------------------------------------

def _weights_sum(weights):
    """``sum(weights)``; inside ``pmap`` over axis 'batch', the mean over
    devices of each one's sum, so every weighted item counts alike."""
    total = jnp.sum(weights)
    if fastmath.global_device_count() < 2:
        return total
    try:
        return (fastmath.psum(total, "batch") / fastmath.psum(1, "batch"))
    except (NameError, ValueError):  # not inside pmap (e.g. at init)
        return total


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
    if cutoff > 0.0:
        # Only the part of each item's loss above the cutoff counts
        # (jnp.maximum: at a tie the gradient is split as in Trax).
        return jnp.maximum(cross_entropies, cutoff) - cutoff
    return cross_entropies


def _non_nan(x):
    # A category never predicted (or never a target) scores 0, not NaN.
    return jnp.where(jnp.isnan(x), 0.0, x)


def _f_scores(model_output, targets, beta, first_category):
    """Per category from ``first_category`` on: the F-score of the argmax
    predictions and the number of targets of that category."""
    predictions = jnp.argmax(model_output, axis=-1)
    categories = jnp.arange(first_category, model_output.shape[-1])
    # Counts over the first (batch) axis, one column per category.
    predicted = predictions[..., None] == categories
    actual = targets[..., None] == categories
    n_correct = jnp.sum(predicted & actual, axis=0)
    n_actual = jnp.sum(actual, axis=0)
    precision = _non_nan(n_correct / jnp.sum(predicted, axis=0))
    recall = _non_nan(n_correct / n_actual)
    beta2 = beta**2
    f_scores = _non_nan((beta2 + 1) * (precision * recall)
                        / ((beta2 * precision) + recall))
    return f_scores.astype(jnp.float32).ravel(), n_actual.ravel()


def _CrossEntropy():  # pylint: disable=invalid-name
    def f(model_output, target_category):
        target = core.one_hot(target_category, model_output.shape[-1])
        return -1.0 * jnp.sum(model_output * target, axis=-1)
    return Fn("_CrossEntropy", f)


def _BinaryCrossEntropy():  # pylint: disable=invalid-name
    def f(model_output, target_category):
        _assert_same_shape("_BinaryCrossEntropy", "model output and targets",
                           model_output, target_category)
        # A (1, 1) matrix product for (batch, 1) inputs, as in Trax.
        j = jnp.dot(jnp.transpose(target_category), jnp.log(model_output))
        j += jnp.dot(jnp.transpose(1 - target_category),
                     jnp.log(1 - model_output))
        return -1.0 / model_output.shape[0] * jnp.squeeze(j)
    return Fn("_BinaryCrossEntropy", f)


def _Accuracy():  # pylint: disable=invalid-name
    return Fn("_Accuracy", lambda predicted, target: jnp.equal(
        predicted, target).astype(jnp.float32))


def _WeightedMean():  # pylint: disable=invalid-name
    return Fn("_WeightedMean",
              lambda values, weights: jnp.sum(values * weights)
              / _weights_sum(weights))


def _WeightedSequenceMean():  # pylint: disable=invalid-name
    def f(values, weights):
        # With 0/1 weights: a sequence is right when no weighted position
        # is wrong.
        not_correct = (1.0 - values) * weights
        n_wrong = jnp.sum(not_correct, axis=tuple(range(1, not_correct.ndim)))
        return jnp.mean(1.0 - jnp.minimum(1.0, n_wrong))
    return Fn("_WeightedSequenceMean", f)


# -- categories -----------------------------------------------------------------

def CategoryAccuracy():  # pylint: disable=invalid-name
    """Fraction of argmax predictions equal to the int targets."""
    def f(model_output, targets):
        predictions = jnp.argmax(model_output, axis=-1)
        _assert_same_shape("CategoryAccuracy",
                           "argmax(model output) and targets", predictions,
                           targets)
        return jnp.sum(jnp.equal(predictions, targets)) / predictions.size
    return Fn("CategoryAccuracy", f)


def WeightedCategoryAccuracy():  # pylint: disable=invalid-name
    """Weighted fraction of argmax predictions equal to the int targets."""
    def f(model_output, targets, weights):
        predictions = jnp.argmax(model_output, axis=-1)
        _assert_same_shape("WeightedCategoryAccuracy",
                           "argmax(model output) and targets", predictions,
                           targets)
        correct = jnp.equal(predictions, targets)
        return jnp.sum(correct * weights) / _weights_sum(weights)
    return Fn("WeightedCategoryAccuracy", f)


def CategoryCrossEntropy(label_smoothing=None):  # pylint: disable=invalid-name
    """Mean cross-entropy of softmax(model output) against int targets,
    optionally label-smoothed (``label_smoothing`` in [0, 1])."""
    def f(model_output, targets):
        _check_targets_fit("CategoryCrossEntropy", model_output, targets)
        return jnp.average(_category_cross_entropy(
            model_output, targets, label_smoothing, 0.0))
    return Fn("CategoryCrossEntropy", f)


def WeightedCategoryCrossEntropy(label_smoothing=None, cutoff=0.0):  # pylint: disable=invalid-name
    """``CategoryCrossEntropy`` weighted by a third input; with ``cutoff`` >
    0 each item's loss counts only above the cutoff."""
    def f(model_output, targets, weights):
        _check_targets_fit("WeightedCategoryCrossEntropy", model_output,
                           targets)
        cross_entropies = _category_cross_entropy(
            model_output, targets, label_smoothing, cutoff)
        return jnp.sum(cross_entropies * weights) / _weights_sum(weights)
    return Fn("WeightedCategoryCrossEntropy", f)


def MaskedSequenceAccuracy():  # pylint: disable=invalid-name
    """Fraction of sequences whose argmax predictions equal the targets at
    every position of non-zero weight."""
    def f(model_output, targets, weights):
        predictions = jnp.argmax(model_output, axis=-1)
        _assert_same_shape("MaskedSequenceAccuracy",
                           "argmax(model output) and targets", predictions,
                           targets)
        right = jnp.equal(predictions, targets) | jnp.equal(weights, 0)
        return jnp.average(jnp.all(right, axis=-1))
    return Fn("MaskedSequenceAccuracy", f)


def MacroAveragedFScore(beta=1., initial_category_index=0):  # pylint: disable=invalid-name
    """Mean over categories (from ``initial_category_index``, e.g. 1 to skip
    padding) of the F-beta score of the argmax predictions."""
    def f(model_output, targets):
        f_scores, _ = _f_scores(model_output, targets, beta,
                                initial_category_index)
        return jnp.mean(f_scores)
    return Fn("MacroAveragedFScore", f)


def WeightedFScore(beta=1., initial_category_index=0):  # pylint: disable=invalid-name
    """Like ``MacroAveragedFScore``, each category weighted by its number of
    targets."""
    def f(model_output, targets):
        f_scores, n_targets = _f_scores(model_output, targets, beta,
                                        initial_category_index)
        return jnp.average(f_scores, weights=n_targets.astype(jnp.float32))
    return Fn("WeightedFScore", f)


# -- binary ---------------------------------------------------------------------

def BinaryCrossEntropy():  # pylint: disable=invalid-name
    """Mean cross-entropy of sigmoid(model output) against 0/1 targets."""
    def f(model_output, targets):
        probabilities = fastmath.expit(model_output)
        # Trax's formula (not log-sigmoid), so large |x| behave the same.
        entropies = -(targets * jnp.log(probabilities)
                      + (1 - targets) * jnp.log(1 - probabilities))
        return jnp.average(entropies)
    return Fn("BinaryCrossEntropy", f)


def BinaryCrossEntropyLoss():  # pylint: disable=invalid-name
    """Trax's deprecated binary loss: ``-(t.log(p) + (1-t).log(1-p)) /
    batch`` on probabilities, then a weighted mean."""
    return cb.Serial(_BinaryCrossEntropy(), _WeightedMean(),
                     name="BinaryCrossEntropyLoss", sublayers_to_print=[])


def BinaryCrossEntropySum():  # pylint: disable=invalid-name
    """``BinaryCrossEntropyLoss`` with a weighted sum instead of a mean."""
    return cb.Serial(_BinaryCrossEntropy(), WeightedSum(),
                     name="BinaryCrossEntropySum", sublayers_to_print=[])


# -- deprecated Trax losses and metrics -----------------------------------------

def CrossEntropyLoss():  # pylint: disable=invalid-name
    """Weighted mean of ``-sum(model_output * one_hot(targets))``: expects
    log-probabilities (it does not normalise; Trax's deprecated loss)."""
    return cb.Serial(_CrossEntropy(), _WeightedMean(),
                     name="CrossEntropyLoss", sublayers_to_print=[])


def CrossEntropyLossWithLogSoftmax():  # pylint: disable=invalid-name
    """``CrossEntropyLoss`` after a ``LogSoftmax``: takes raw activations."""
    return cb.Serial(core.LogSoftmax(), _CrossEntropy(), _WeightedMean(),
                     name="CrossEntropyLossWithLogSoftmax",
                     sublayers_to_print=[])


def CrossEntropySum():  # pylint: disable=invalid-name
    """``CrossEntropyLoss`` with a weighted sum instead of a mean."""
    return cb.Serial(_CrossEntropy(), WeightedSum(), name="CrossEntropySum",
                     sublayers_to_print=[])


# Trax's default classifier: one ArgMax instance for every call (weightless,
# so sharing it is harmless), which keeps Trax's signature.
def Accuracy(classifier=core.ArgMax()):  # pylint: disable=invalid-name,dangerous-default-value
    """Weighted mean accuracy of ``classifier(model_output)`` against the
    targets (Trax's deprecated metric)."""
    return cb.Serial(classifier, _Accuracy(), _WeightedMean(),
                     name="Accuracy", sublayers_to_print=[])


def SequenceAccuracy(classifier=core.ArgMax()):  # pylint: disable=invalid-name,dangerous-default-value
    """Fraction of sequences whose ``classifier(model_output)`` equals the
    targets at every position of weight 1 (Trax's deprecated metric)."""
    return cb.Serial(classifier, _Accuracy(), _WeightedSequenceMean(),
                     name="SequenceAccuracy", sublayers_to_print=[])


# -- regression and sums ---------------------------------------------------------

def L2Loss():  # pylint: disable=invalid-name
    """Weighted mean of squared errors; all three inputs of one shape."""
    def f(model_output, targets, weights):
        _assert_same_shape("L2Loss", "model output and targets",
                           model_output, targets)
        _assert_same_shape("L2Loss", "model output and weights",
                           model_output, weights)
        weighted_sse = weights * (model_output - targets)**2
        return jnp.sum(weighted_sse) / jnp.sum(weights)
    return Fn("L2Loss", f)


def SmoothL1Loss():  # pylint: disable=invalid-name
    """Weighted mean of the Huber loss (``d**2 / 2`` below 1, else ``d -
    1/2``, ``d = |output - target|``); all three inputs of one shape."""
    def f(model_output, targets, weights):
        _assert_same_shape("SmoothL1Loss", "model output and targets",
                           model_output, targets)
        _assert_same_shape("SmoothL1Loss", "model output and weights",
                           model_output, weights)
        l1 = jnp.abs(model_output - targets)
        smooth = jnp.where(l1 < 1, 0.5 * l1**2, l1 - 0.5)
        return jnp.sum(weights * smooth) / jnp.sum(weights)
    return Fn("SmoothL1Loss", f)


def WeightedSum():  # pylint: disable=invalid-name
    """``sum(values * weights)``."""
    return Fn("WeightedSum",
              lambda values, weights: jnp.sum(values * weights))
