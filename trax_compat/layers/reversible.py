"""Reversible layers: layers whose inputs can be recomputed from their
outputs, so that backpropagation need not keep activations (RevNet,
Reformer). As in Trax, a ``ReversibleLayer`` gets its gradients from
``reverse_and_grad`` (through ``base.Layer.backward``), and a
``ReversibleSerial`` reconstructs each sublayer's inputs on the way back.
"""

import jax
import jax.numpy as jnp

from trax_compat.layers import base
from trax_compat.layers import combinators as cb

_split_keys = cb._split_keys  # pylint: disable=protected-access


def _like(grads, inputs):
    """``grads`` in the container type of ``inputs`` (a list stays a list),
    as jax.custom_vjp wants the cotangents shaped like the primals."""
    if isinstance(inputs, list) and isinstance(grads, tuple):
        return list(grads)
    if isinstance(inputs, tuple) and isinstance(grads, list):
        return tuple(grads)
    return grads


class ReversibleLayer(base.Layer):
    """A layer that can compute its inputs from its outputs (``reverse``);
    its gradients come from ``reverse_and_grad``."""

    def reverse(self, output, weights=(), state=(), new_state=(), rng=None):
        """The inputs that gave ``output``."""
        raise NotImplementedError(
            f"{type(self).__name__} does not define reverse().")

    def _pure_forward(self, x, weights, state, rng):
        """``forward`` with explicit weights, state and key; the layer's own
        are left as they were."""
        saved = self.weights, self.state, self._rng
        self.weights, self.state, self._rng = weights, state, rng
        try:
            return self.forward(x)
        finally:
            self.weights, self.state, self._rng = saved

    def reverse_and_grad(self, output, grad, weights=(), state=(),
                         new_state=(), rng=None):
        """Reconstructs the inputs from ``output`` and backpropagates
        ``grad`` (shaped like ``output``) through the layer; returns
        ``(inputs, (inputs_grad, weights_grad))``. Layers may override it
        to share work between the two."""
        inputs = self.reverse(output, weights, state, new_state, rng)
        _, vjp = jax.vjp(
            lambda x, w: self._pure_forward(x, w, state, rng), inputs, weights)
        inputs_grad, weights_grad = vjp(grad)
        return inputs, (inputs_grad, weights_grad)

    @property
    def has_backward(self):
        return True

    def backward(self, inputs, output, grad, weights, state, new_state, rng):
        # Only the output is needed: the inputs are recomputed from it.
        _, (inputs_grad, weights_grad) = self.reverse_and_grad(
            output, grad, weights, state, new_state, rng)
        return _like(inputs_grad, inputs), weights_grad


class ReversibleConcatenatePair(ReversibleLayer):
    """``(x, y) -> (xy, xy)`` with ``xy`` the concatenation on the last
    axis; reversed by splitting the first output in half."""

    def __init__(self):
        super().__init__(n_in=2, n_out=2)

    def forward(self, inputs):
        x, y = inputs
        pair = jnp.concatenate((x, y), axis=-1)
        return pair, pair

    def reverse(self, output, weights=(), state=(), new_state=(), rng=None):
        del weights, state, new_state, rng
        x, y = jnp.split(output[0], 2, axis=-1)
        return x, y


class ReversibleSelect(ReversibleLayer):
    """``Select`` that permutes its inputs; every input must be selected
    (once), so the permutation can be undone."""

    def __init__(self, indices, n_in=None, name=None):
        if n_in is None:
            n_in = max(indices) + 1
        if name is None:
            name = f"ReversibleSelect{indices}".replace(" ", "")
        super().__init__(n_in=n_in, n_out=len(indices), name=name)
        self._indices = indices
        missing = [i for i in range(n_in) if i not in indices]
        if missing:
            raise ValueError(
                f"ReversibleSelect: every input must be in indices to be "
                f"reversible; input {missing[0]} is not in {indices} "
                f"(n_in={n_in}). Add it, or use Select.")
        self._reverse_indices = [indices.index(i) for i in range(n_in)]

    @staticmethod
    def _pick(xs, indices):
        xs = xs if isinstance(xs, (tuple, list)) else (xs,)
        picked = tuple(xs[i] for i in indices)
        return picked[0] if len(picked) == 1 else picked

    def forward(self, inputs):
        return self._pick(inputs, self._indices)

    def reverse(self, output, weights=(), state=(), new_state=(), rng=None):
        del weights, state, new_state, rng
        return self._pick(output, self._reverse_indices)


def ReversibleSwap():  # pylint: disable=invalid-name
    """Swaps the top two stack items, reversibly."""
    return ReversibleSelect([1, 0], name="ReversibleSwap")


class ReversibleReshape(ReversibleLayer):
    """Reshapes the leading axes of each of ``n_in`` inputs from ``shape1``
    to ``shape2`` (trailing axes kept); reversed by the opposite reshape."""

    def __init__(self, shape1, shape2, n_in=1):
        self._shape1 = list(shape1)
        self._shape2 = list(shape2)
        super().__init__(n_in=n_in, n_out=n_in,
                         name=f"ReversibleReshape_{shape1}_{shape2}")

    @staticmethod
    def _reshape(xs, old_prefix, new_prefix):
        xs = xs if isinstance(xs, (tuple, list)) else (xs,)
        out = tuple(jnp.reshape(x, new_prefix + list(x.shape)[len(old_prefix):])
                    for x in xs)
        return out[0] if len(out) == 1 else out

    def forward(self, inputs):
        return self._reshape(inputs, self._shape1, self._shape2)

    def reverse(self, output, weights=(), state=(), new_state=(), rng=None):
        del weights, state, new_state, rng
        return self._reshape(output, self._shape2, self._shape1)


class ReversiblePrintShape(ReversibleLayer):
    """Prints the shapes and dtypes of its ``n_in`` inputs (for debugging a
    reversible network) and returns them unchanged."""

    def __init__(self, n_in=1, msg=""):
        super().__init__(n_in=n_in, n_out=n_in)
        self._msg = msg

    def forward(self, xs):
        described = ", ".join(f"{x.shape}[{x.dtype}]" for x in xs)
        print(f"PrintShape: {self._msg}: [{described}]")
        return xs

    def reverse(self, output, weights=(), state=(), new_state=(), rng=None):
        del weights, state, new_state, rng
        return output


class ReversibleSerial(ReversibleLayer, cb.Serial):
    """``Serial`` of reversible layers; it is reversed, and its gradients
    computed, sublayer by sublayer from the last, recomputing each one's
    inputs from its outputs."""

    def __init__(self, *layers):
        super().__init__(*layers)
        for i, layer in enumerate(self.sublayers):
            if not isinstance(layer, ReversibleLayer):
                raise ValueError(
                    f"Sub-layer {i} of ReversibleSerial is not reversible: "
                    f"{layer} (use its Reversible* counterpart).")

    def _backwards(self, weights, state, new_state, rng):
        """(layer, weights, state, new_state, key) per sublayer, last first,
        with the keys ``forward`` gave them."""
        keys = _split_keys(rng, len(self.sublayers))
        return reversed(list(zip(self.sublayers, weights, state, new_state,
                                 keys)))

    def reverse(self, output, weights=(), state=(), new_state=(), rng=None):
        stack = output
        for layer, w, s, ns, key in self._backwards(weights, state,
                                                     new_state, rng):
            outputs = cb.inputs_from_stack(stack, layer.n_out)
            inputs = layer.reverse(outputs, w, s, ns, rng=key)
            stack = cb.outputs_onto_stack(inputs, stack, layer.n_out)
        return stack

    def reverse_and_grad(self, output, grad, weights=(), state=(),
                         new_state=(), rng=None):
        stack, stack_grad, weights_grad = output, grad, []
        for layer, w, s, ns, key in self._backwards(weights, state,
                                                     new_state, rng):
            outputs = cb.inputs_from_stack(stack, layer.n_out)
            outputs_grad = cb.inputs_from_stack(stack_grad, layer.n_out)
            inputs, (inputs_grad, w_grad) = layer.reverse_and_grad(
                outputs, outputs_grad, w, s, ns, rng=key)
            weights_grad.insert(0, w_grad)
            stack = cb.outputs_onto_stack(inputs, stack, layer.n_out)
            stack_grad = cb.outputs_onto_stack(inputs_grad, stack_grad,
                                               layer.n_out)
        return stack, (stack_grad, tuple(weights_grad))


def _add_grads(x, y):
    """Sum of two cotangents; an integer input's (float0) is no gradient."""
    if x is None or x.dtype == jax.dtypes.float0:
        return y
    if y is None or y.dtype == jax.dtypes.float0:
        return x
    return x + y


def _second_pass_state(state, new_state):
    """``state`` with each ``(x, {'running_second_time': ()})`` entry (a
    ``_RememberInReverse``'s) replaced by the forward pass's ``x`` from
    ``new_state``, flagged ``running_second_time_yes``, as Trax does."""
    if (isinstance(state, tuple) and len(state) == 2
            and isinstance(state[1], dict)
            and "running_second_time" in state[1]):
        return (new_state[0], {"running_second_time_yes": ()})
    if (isinstance(state, (tuple, list))
            and isinstance(new_state, (tuple, list))
            and len(state) == len(new_state)):
        return type(state)(_second_pass_state(s, n)
                           for s, n in zip(state, new_state))
    return state


class ReversibleHalfResidual(ReversibleLayer):
    """Half of a RevNet residual: ``(acc, *context) -> (acc + f(context),
    *context)`` with ``f`` the ``Serial`` of ``residual_layers`` followed,
    if given, by ``attention_layer``; reversed by subtracting ``f(context)``.

    An ``attention_layer`` may define ``forward_and_or_backward`` (Trax's
    efficient attention) to share work between its forward and backward
    passes; other layers get a generic one.
    """

    def __init__(self, *residual_layers, attention_layer=None, name=None):
        super().__init__(name=name)
        self._compute_residual = cb.Serial(*residual_layers)
        self._attention_layer = attention_layer
        if attention_layer is None:
            self._sublayers = (self._compute_residual,)
        else:
            self._forward_and_or_backward = getattr(
                attention_layer, "forward_and_or_backward",
                _forward_and_or_backward(attention_layer))
            self._sublayers = (self._compute_residual, attention_layer)
        # One more input than the sublayers take: the accumulator.
        n_in, _ = cb._stack_arity(self._sublayers)  # pylint: disable=protected-access
        self._n_in = self._n_out = n_in + 1

    def forward(self, xs):
        accumulator, *context = xs
        stack = context = tuple(context)
        keys = _split_keys(self.rng, len(self.sublayers))
        new_state = []
        for layer, w, s, key in zip(self.sublayers, self.weights, self.state,
                                    keys):
            inputs = cb.inputs_from_stack(stack, layer.n_in)
            outputs, s = layer.pure_fn(inputs, w, s, key)
            stack = cb.outputs_onto_stack(outputs, stack, layer.n_in)
            new_state.append(s)
        residual = stack[0] if isinstance(stack, (tuple, list)) else stack
        self.state = tuple(new_state)
        return (accumulator + residual,) + context

    def reverse(self, output, weights=(), state=(), new_state=(), rng=None):
        raise NotImplementedError(
            "ReversibleHalfResidual is reversed by reverse_and_grad only "
            "(as in Trax).")

    def reverse_and_grad(self, output, grad, weights=(), state=(),
                         new_state=(), rng=None):
        keys = _split_keys(rng, len(self.sublayers))
        accumulator_out, *context = output
        context = tuple(context)
        accumulator_grad, *context_grad = grad
        context_grad = tuple(context_grad)
        compute = self._compute_residual
        attention = self._attention_layer

        # Layers that remember their forward input (SparseFF's masks) get
        # it back while the residual is recomputed.
        recompute_state = _second_pass_state(state[0], new_state[0])

        def residual_fn(x, w):
            # Outputs past the attention's inputs get no gradient: aux.
            res, _ = compute.pure_fn(x, w, recompute_state, keys[0])
            if not isinstance(res, (tuple, list)):
                return res, None
            n_diff = 1 if attention is None else min(len(res), attention.n_in)
            return tuple(res[:n_diff]), tuple(res[n_diff:])

        inputs = cb.inputs_from_stack(context, compute.n_in)
        outputs, residual_vjp, aux = jax.vjp(residual_fn, inputs, weights[0],
                                             has_aux=True)
        n_diff = None
        if aux is not None:
            n_diff = len(outputs)
            outputs = outputs + aux
        stack = cb.outputs_onto_stack(outputs, context, compute.n_in)

        stack_grad = accumulator_grad
        if attention is None:
            residual = stack[0] if isinstance(stack, (tuple, list)) else stack
        else:
            attention_inputs = cb.inputs_from_stack(stack, attention.n_in)
            residual, _, attention_inputs_grad, attention_weights_grad = (
                self._forward_and_or_backward(
                    attention_inputs, weights[1], new_state[1], keys[1],
                    output_grad=accumulator_grad, compute_output=True,
                    update_state=False))
            stack_grad = cb.outputs_onto_stack(
                attention_inputs_grad, stack_grad, attention.n_out)

        residual_out_grad = cb.inputs_from_stack(stack_grad, compute.n_out)
        if n_diff is not None:
            if not isinstance(residual_out_grad, (tuple, list)):
                residual_out_grad = (residual_out_grad,)
            residual_out_grad = tuple(residual_out_grad[:n_diff])
        residual_inputs_grad, residual_weights_grad = residual_vjp(
            residual_out_grad)
        stack_grad = cb.outputs_onto_stack(residual_inputs_grad, stack_grad,
                                           compute.n_out)
        if not isinstance(stack_grad, (tuple, list)):
            stack_grad = (stack_grad,)
        # The context's gradient: from the layers after this one, plus from
        # its use in the residual.
        n = len(stack_grad)
        summed = tuple(jax.tree_util.tree_map(_add_grads, a, b) for a, b in
                       zip(context_grad[:n], stack_grad))
        inputs_grad = (accumulator_grad,) + summed + context_grad[n:]

        reconstructed = (accumulator_out - residual,) + context
        if attention is None:
            weights_grad = (residual_weights_grad,)
        else:
            weights_grad = (residual_weights_grad, attention_weights_grad)
        return reconstructed, (inputs_grad, weights_grad)

    def init_weights_and_state(self, input_signature):
        context = input_signature[1:]
        stack = context[0] if len(context) == 1 else context
        inputs = cb.inputs_from_stack(stack, self._compute_residual.n_in)
        weights, state = self._compute_residual.init(inputs)
        if self._attention_layer is None:
            self.state = (state,)
            self.weights = (weights,)
            return
        outputs = self._compute_residual.output_signature(inputs)
        stack = cb.outputs_onto_stack(outputs, stack,
                                      self._compute_residual.n_in)
        inputs = cb.inputs_from_stack(stack, self._attention_layer.n_in)
        attention_weights, attention_state = self._attention_layer.init(inputs)
        self.state = (state, attention_state)
        self.weights = (weights, attention_weights)


def _forward_and_or_backward(layer):
    """A generic ``forward_and_or_backward`` for ``layer``, through
    ``pure_fn``: returns ``(output, new_state, inputs_grad, weights_grad)``,
    each None where not asked for."""

    def forward_and_or_backward(inputs, weights, state, rng, output_grad=None,
                                compute_output=True, update_state=True):
        output, vjp, new_state = jax.vjp(
            lambda x, w: layer.pure_fn(x, w, state, rng), inputs, weights,
            has_aux=True)
        inputs_grad = weights_grad = None
        if output_grad is not None:
            inputs_grad, weights_grad = vjp(output_grad)
        return (output if compute_output else None,
                new_state if update_state else None, inputs_grad,
                weights_grad)

    return forward_and_or_backward
