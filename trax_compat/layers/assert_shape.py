"""Shape asserts with einsum-like specs, as in Trax.

``AssertShape('ab,b')`` returns its inputs unchanged after checking that
there are two, of ranks 2 and 1, whose sizes agree letter by letter (a digit
is that size; ``...`` any number of axes, the same axes wherever it occurs).
``AssertFunction('ab->a', layer)`` and the ``assert_shape`` decorator check
a layer's inputs and outputs, with letters linked between the two: in
``'ab->ba'`` the output's first axis must be the input's second.

Trax wraps some layers (Relu, ShiftRight, ...) as ``Serial[AssertShape,
layer, AssertShape]``; the asserts print as nothing and have no weights, so
``Relu()`` prints ``Serial[Relu]`` and has weights ``((), (), ())``.
"""

import functools
import inspect
import string
import sys

from trax_compat.layers import base
from trax_compat.layers import combinators

_SPEC_CHARACTERS = string.ascii_letters + string.digits + ".,"


def _defined_at(depth=2):
    """'Defined at FILE:LINE' for the caller ``depth`` frames up (cheaper
    than inspect.stack(), which reads every frame's source)."""
    frame = sys._getframe(depth)  # pylint: disable=protected-access
    return f"Defined at {frame.f_code.co_filename}:{frame.f_lineno}"


class AssertShape(base.Layer):
    """Checks the shapes of its inputs against ``spec`` and returns them
    unchanged (the same objects)."""

    def __init__(self, spec, message=None, visible_layer=False):
        super().__init__(name="AssertShape" if visible_layer else "")
        spec = spec.replace("...", ".")
        bad = sorted(set(spec) - set(_SPEC_CHARACTERS))
        if bad:
            raise ValueError(
                f"AssertShape: invalid character(s) {bad} in spec {spec!r}; "
                f"use letters, digits, '...' and ','.")
        self._specs = spec.split(",")
        self._n_in = self._n_out = len(self._specs)
        # Letter -> size; digits stand for themselves. An AssertFunction's
        # output assert shares its input assert's dict (``_create_link``).
        self._defined_shapes = {str(i): i for i in range(10)}
        self._linked = False
        self._message = _defined_at() if message is None else message

    def _create_link(self, other):
        """Shares ``other``'s letter sizes: checked after it, this assert
        sees the sizes ``other`` found in the same call."""
        self._linked = True
        self._defined_shapes = other._defined_shapes  # pylint: disable=protected-access

    def forward(self, xs):
        # Shapes are static: the checks run in Python, while tracing.
        defined = self._defined_shapes
        if not self._linked:  # a new call: forget the letters' sizes
            for key in [k for k in defined if not k.isdigit()]:
                del defined[key]
        items = xs if isinstance(xs, (list, tuple)) else [xs]

        def fail():
            letters = {k: v for k, v in defined.items() if not k.isdigit()}
            raise ValueError(
                f"AssertShape Error. Expected {self._specs}, got "
                f"{[x.shape for x in items]} with dict {letters}. "
                f"{self._message}")

        def check_axes(shape, letters):
            if len(shape) != len(letters):
                fail()
            for size, letter in zip(shape, letters):
                if defined.setdefault(letter, size) != size:
                    fail()

        def check_ellipsis(axes):
            if defined.setdefault(".", tuple(axes)) != tuple(axes):
                fail()

        if len(items) != len(self._specs):
            fail()
        for x, spec in zip(items, self._specs):
            shape = tuple(x.shape)
            if "." not in spec:
                check_axes(shape, spec)
                continue
            if len(shape) < len(spec) - 1:
                fail()
            parts = spec.split(".")
            if len(parts) != 2:  # two ellipses, or a '..' typo
                raise ValueError(
                    f"AssertShape: spec {spec.replace('.', '...')!r} has "
                    f"more than one '...'; use at most one per input.")
            before, after = parts
            end = len(shape) - len(after)
            check_axes(shape[:len(before)], before)
            check_axes(shape[end:], after)
            check_ellipsis(shape[len(before):end])
        return xs


def AssertFunction(specification, layer, message=None):  # pylint: disable=invalid-name
    """``layer`` between asserts on its inputs and outputs, given as
    ``'inputs->outputs'`` specs; a letter on both sides is the same size."""
    if message is None:
        message = _defined_at()
    if specification.count("->") != 1:
        raise ValueError(
            f"AssertFunction: specification {specification!r} needs exactly "
            f"one '->' between the input and output specs, e.g. 'ab->ba'.")
    before_spec, after_spec = specification.split("->")
    before = AssertShape(before_spec, message=message + " function input")
    after = AssertShape(after_spec, message=message + " function output")
    after._create_link(before)  # pylint: disable=protected-access
    return combinators.Serial(before, layer, after)


def assert_shape(specification):
    """Decorator checking ``'inputs->outputs'`` shapes of a layer class
    (around its ``forward``) or of a function returning a layer (wrapped in
    ``AssertFunction``)."""
    message = _defined_at()

    def wrap_class(cls):
        init, forward = cls.__init__, cls.forward
        before_spec, after_spec = specification.split("->")

        @functools.wraps(init)
        def checked_init(self, *args, **kwargs):
            before = AssertShape(before_spec,
                                 message=message + " function input")
            after = AssertShape(after_spec,
                                message=message + " function output")
            after._create_link(before)  # pylint: disable=protected-access
            out = init(self, *args, **kwargs)
            self._before_assert_fun = before  # pylint: disable=protected-access
            self._after_assert_fun = after  # pylint: disable=protected-access
            return out

        @functools.wraps(forward)
        def checked_forward(self, x, *args, **kwargs):
            x = self._before_assert_fun.forward(x)  # pylint: disable=protected-access
            y = forward(self, x, *args, **kwargs)
            return self._after_assert_fun.forward(y)  # pylint: disable=protected-access

        cls.__init__, cls.forward = checked_init, checked_forward
        return cls

    def wrap_function(fn):
        @functools.wraps(fn)
        def checked(*args, **kwargs):
            return AssertFunction(specification, fn(*args, **kwargs), message)
        return checked

    def wrap(fn_or_cls):
        if inspect.isclass(fn_or_cls):
            return wrap_class(fn_or_cls)
        return wrap_function(fn_or_cls)

    return wrap
