"""Loss and metric layers (weightless ``Fn`` layers)."""

import jax.numpy as jnp

from trax_compat.layers import core
from trax_compat.layers.functional import Fn


def _check_targets_fit(name, model_output, targets):
    expected = tuple(model_output.shape[:-1])
    if tuple(targets.shape) != expected:
        raise ValueError(
            f"{name}: model output of shape {tuple(model_output.shape)} does "
            f"not fit targets of shape {tuple(targets.shape)}; the targets "
            f"must have the model output's shape without its last (category) "
            f"axis, i.e. {expected}.")


def _category_cross_entropy(model_output, targets, label_smoothing):
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
    return -jnp.sum(target_distributions * log_probs, axis=-1)


def WeightedCategoryCrossEntropy(label_smoothing=None):
    """Weighted mean cross-entropy of softmax(model output) vs int targets."""
    def f(model_output, targets, weights):
        _check_targets_fit("WeightedCategoryCrossEntropy", model_output,
                           targets)
        cross_entropies = _category_cross_entropy(model_output, targets,
                                                  label_smoothing)
        return jnp.sum(cross_entropies * weights) / jnp.sum(weights)
    return Fn("WeightedCategoryCrossEntropy", f)


def WeightedCategoryAccuracy():
    """Weighted fraction of argmax predictions equal to the targets."""
    def f(model_output, targets, weights):
        _check_targets_fit("WeightedCategoryAccuracy", model_output, targets)
        predictions = jnp.argmax(model_output, axis=-1)
        correct = jnp.equal(predictions, targets)
        return jnp.sum(correct * weights) / jnp.sum(weights)
    return Fn("WeightedCategoryAccuracy", f)


def CategoryCrossEntropy(label_smoothing=None):
    """Mean cross-entropy of softmax(model output) vs int targets."""
    def f(model_output, targets):
        _check_targets_fit("CategoryCrossEntropy", model_output, targets)
        return jnp.average(_category_cross_entropy(model_output, targets,
                                                   label_smoothing))
    return Fn("CategoryCrossEntropy", f)


def CategoryAccuracy():
    """Fraction of argmax predictions equal to the targets."""
    def f(model_output, targets):
        _check_targets_fit("CategoryAccuracy", model_output, targets)
        predictions = jnp.argmax(model_output, axis=-1)
        return jnp.sum(jnp.equal(predictions, targets)) / predictions.size
    return Fn("CategoryAccuracy", f)
