"""Multilayer perceptrons, as Trax's ``trax.models.mlp``."""

from trax_compat import layers as tl


def MLP(layer_widths=(128, 64), activation_fn=tl.Relu,  # pylint: disable=invalid-name
        out_activation=False, flatten=True, mode="train"):
    """Fully connected layers of the given widths, ``activation_fn()``
    between them (and after the last one if ``out_activation``); with
    ``flatten`` the input is first flattened to (batch, -1). ``mode`` is
    accepted for a uniform model signature and has no effect."""
    del mode
    body = []
    for width in layer_widths:
        body += [tl.Dense(width), activation_fn()]
    if body and not out_activation:
        body.pop()  # the output layer is linear
    return tl.Serial([tl.Flatten()] if flatten else [], body)
