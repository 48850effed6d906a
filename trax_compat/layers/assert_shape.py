"""Shape-asserting wrappers: Trax wraps some layers (Relu, ShiftRight, ...)
as ``Serial[AssertShape, layer, AssertShape]``; the asserts print as
nothing and have no weights, so ``Relu()`` prints ``Serial[Relu]`` and has
weights ``((), (), ())`` as in Trax."""

import string

from trax_compat.layers import base
from trax_compat.layers import combinators


def _check(specs, xs):
    """Checks array shapes against einsum-like specs ('...' = any axes)."""
    dims = {}
    ellipsis = []

    def fail():
        raise ValueError(
            f"AssertShape Error. Expected {list(specs)}, got "
            f"{[tuple(x.shape) for x in xs]}.")

    def same(letter, size):
        if letter.isdigit():
            if int(letter) != size:
                fail()
        elif dims.setdefault(letter, size) != size:
            fail()

    if len(xs) != len(specs):
        fail()
    for x, spec in zip(xs, specs):
        shape = tuple(x.shape)
        if "." in spec:
            before, after = spec.split(".")
            if len(shape) < len(before) + len(after):
                fail()
            middle = shape[len(before):len(shape) - len(after)]
            for letter, size in zip(before, shape[:len(before)]):
                same(letter, size)
            for letter, size in zip(after, shape[len(shape) - len(after):]):
                same(letter, size)
            if ellipsis and ellipsis[0] != middle:
                fail()
            ellipsis.append(middle)
        else:
            if len(shape) != len(spec):
                fail()
            for letter, size in zip(spec, shape):
                same(letter, size)


class AssertShape(base.Layer):
    """Returns its inputs unchanged after checking their shapes."""

    def __init__(self, spec, visible_layer=False):
        super().__init__(name="AssertShape" if visible_layer else "")
        spec = spec.replace("...", ".")
        for letter in spec:
            if letter not in string.ascii_letters + string.digits + ".,":
                raise ValueError(f"Invalid shape spec {spec!r}.")
        self._specs = tuple(spec.split(","))
        self._n_in = self._n_out = len(self._specs)

    def forward(self, inputs):
        # Shapes are static: the check runs once, while tracing.
        _check(self._specs, self._pack_inputs(inputs))
        return inputs


def AssertFunction(specification, layer):  # pylint: disable=invalid-name
    """``layer`` between shape asserts for its inputs and outputs.

    Unlike Trax, the input and output asserts are checked separately (a
    letter shared between input and output spec is not linked).
    """
    before, after = specification.split("->")
    return combinators.Serial(AssertShape(before), layer, AssertShape(after))
