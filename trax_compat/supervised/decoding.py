"""Decoding from trained models, as Trax's ``trax.supervised.decoding``:
``autoregressive_sample_stream``, ``autoregressive_sample`` and
``beam_search``.

The model is a layer in 'predict' mode: its key/value caches and position
counters live in ``model.state``, so after the first call (the start symbol
followed by the whole prefix) it is fed one token per call, and the state
left in the model afterwards continues from there, as in Trax.

With ``accelerate=True`` each model call is one jitted function of
``(inputs, weights, state, rng)`` (the model's ``pure_fn``, plus picking the
position and the log-softmax), compiled once per input shape and kept with
the model: a decode of N tokens traces it once for the single-token calls,
plus once for the first call when a prefix makes that call longer; later
decodes with the same model and shapes reuse it. ``accelerate=False`` runs
the same function eagerly and gives the same tokens.

Sampling draws its Gumbel noise from NumPy's global generator
(``tl.logsoftmax_sample``), so ``np.random.seed(s)`` gives Trax's samples.
"""

import weakref

import jax
import numpy as np

from trax_compat import fastmath
from trax_compat.layers import core

__all__ = ["autoregressive_sample_stream", "autoregressive_sample",
           "beam_search"]


class _Step:
    """One decoding call of ``model``: ``(x, weights, state, rng)`` ->
    ``(log-probabilities at one position, new state)``.

    ``n_traces`` counts how often the jitted version was traced (each
    distinct input shape or dtype traces once)."""

    def __init__(self, model):
        self._model = weakref.ref(model)
        self.n_traces = 0
        self._jitted = jax.jit(self._traced, static_argnums=(4,))

    def _run(self, x, weights, state, rng, position):
        model = self._model()
        outputs, new_state = model.pure_fn(x, weights, state, rng)
        if isinstance(x, tuple):  # several inputs: the first output is logits
            outputs = outputs[0]
        return core.log_softmax(outputs[:, position, :]), new_state

    def _traced(self, x, weights, state, rng, position):
        self.n_traces += 1  # runs only while jax traces
        return self._run(x, weights, state, rng, position)

    def __call__(self, x, weights, state, rng, position, accelerate):
        if accelerate:
            return self._jitted(x, weights, state, rng, position)
        return self._run(x, weights, state, rng, position)


# One step per model, so repeated decodes reuse its compilations. The step
# holds the model weakly: the model's lifetime is its user's.
_STEPS = weakref.WeakKeyDictionary()


def _step_for(model):
    try:
        step = _STEPS.get(model)
    except TypeError:  # an unhashable model: compile for this call only
        return _Step(model)
    if step is None:
        step = _STEPS[model] = _Step(model)
    return step


class _Decoder:
    """Runs ``model`` call after call on a state of its own, starting from
    ``model.state``; ``sync`` puts it back into ``model.state``, where Trax's
    (accelerated) layer leaves it after each call."""

    def __init__(self, model, accelerate):
        self._model = model
        self._accelerate = accelerate
        self._step = _step_for(model)
        self._weights = model.weights
        self._rng = model.rng
        self.state = model.state

    def __call__(self, x, position=-1):
        log_probs, self.state = self._step(
            x, self._weights, self.state, self._rng, position,
            self._accelerate)
        return log_probs

    def sync(self):
        # Setting a deep model's state walks its layers: done once per
        # token for a stream (its user may look), once per call otherwise.
        self._model.state = self.state


def _check_inputs(inputs, batch_size):
    if inputs is None:
        return None
    inputs = np.asarray(inputs)
    if inputs.ndim != 2:
        raise ValueError(
            f"inputs must have shape (batch_size, length), got shape "
            f"{inputs.shape}; add a batch axis (inputs[None, :]) for one "
            f"sequence.")
    if inputs.shape[0] != batch_size:
        raise ValueError(
            f"Inputs batch size ({inputs.shape[0]}) does not match "
            f"batch_size arg ({batch_size}); pass batch_size="
            f"{inputs.shape[0]} or inputs with {batch_size} rows.")
    return inputs


def _first_symbols(model, inputs, batch_size, start_id):
    """The first call's tokens: the start symbol, followed by the prefix
    for a one-input (language) model."""
    if np.isscalar(start_id):
        start = np.full((batch_size, 1), start_id, dtype=np.int32)
    else:
        start = np.asarray(start_id)
        if start.shape != (batch_size, 1):
            raise ValueError(
                f"start_id must be an integer or an array of shape "
                f"(batch_size, 1) = ({batch_size}, 1), got shape "
                f"{start.shape}.")
    if model.n_in == 1 and inputs is not None:
        return np.concatenate([start, inputs], axis=1)
    return start


def _model_inputs(model, inputs, symbols):
    if model.n_in > 1 and inputs is not None:
        return (inputs, symbols)  # encoder-decoder: inputs every call
    return symbols


def autoregressive_sample_stream(model, inputs=None, batch_size=1,
                                 temperature=1.0, start_id=0, accelerate=True,
                                 eval_mode=False, eval_min_length=1):
    """Yields the tokens ``model`` samples, one position after another,
    without end: each an int32 array of shape ``(batch_size,)`` (a JAX
    array, as Trax yields). ``model.state`` is up to date at each yield.

    Args:
      model: a layer in 'predict' mode with trained weights, which keeps what
        it has seen in its state (e.g. ``TransformerLM(mode='predict')``);
        with ``eval_mode`` any model, run on the whole sequence each time.
      inputs: ``(batch_size, length)`` ints or None. A one-input model sees
        ``start_id`` followed by them in its first call; a model with
        several inputs (encoder-decoder) gets them as its first input in
        every call, the tokens so far being the second.
      batch_size: number of sequences sampled side by side.
      temperature: 0 picks the most likely token; higher values flatten the
        distribution (noise from NumPy's global generator).
      start_id: the start token, or a ``(batch_size, 1)`` array of them.
      accelerate: run each model call as one compiled (jitted) function.
      eval_mode: for a model not in 'predict' mode: feed all tokens so far,
        padded with zeros to a power of 2 (at least ``eval_min_length``).
      eval_min_length: the shortest padded length in ``eval_mode``.
    """
    inputs = _check_inputs(inputs, batch_size)
    decoder = _Decoder(model, accelerate)
    for sample in _samples(model, decoder, inputs, batch_size, temperature,
                           start_id, eval_mode, eval_min_length):
        decoder.sync()
        yield sample


def _samples(model, decoder, inputs, batch_size, temperature, start_id,
             eval_mode, eval_min_length):
    """The stream's samples, the model's state kept in ``decoder``."""
    symbols = _first_symbols(model, inputs, batch_size, start_id)
    if eval_mode:
        symbols = symbols[:, 1:]  # the model shifts its inputs itself
    while True:
        position = -1
        if eval_mode:
            # The model shifts right, so one more slot than tokens so far.
            length = max(eval_min_length, symbols.shape[1] + 1)
            n_pad = int(2 ** np.ceil(np.log2(length))) - symbols.shape[1]
            unpadded = symbols
            symbols = np.pad(symbols, [[0, 0], [0, n_pad]], mode="constant")
            position = -n_pad
        log_probs = decoder(_model_inputs(model, inputs, symbols), position)
        sample = core.logsoftmax_sample(log_probs, temperature=temperature)
        yield sample
        tokens = np.asarray(sample)[:, None]
        if eval_mode:
            symbols = np.concatenate([unpadded, tokens], axis=1)
        else:
            symbols = tokens  # the rest is in the model's state


def autoregressive_sample(model, inputs=None, batch_size=1, temperature=1.0,
                          start_id=0, eos_id=1, max_length=100,
                          accelerate=True, eval_mode=False,
                          eval_min_length=1):
    """Returns ``(batch_size, n)`` sampled tokens: ``n`` is ``max_length``,
    or fewer once every row has produced ``eos_id`` (rows go on after their
    own end token; the end token is included).

    The arguments are those of ``autoregressive_sample_stream``, plus
    ``eos_id`` and ``max_length``.
    """
    if max_length < 1:
        raise ValueError(f"max_length must be at least 1, got {max_length}.")
    inputs = _check_inputs(inputs, batch_size)
    decoder = _Decoder(model, accelerate)
    columns = []
    finished = np.zeros((batch_size,), dtype=bool)
    try:
        for sample in _samples(model, decoder, inputs, batch_size,
                               temperature, start_id, eval_mode,
                               eval_min_length):
            sample = np.asarray(sample)
            columns.append(sample[:, None])
            if len(columns) >= max_length:
                break
            finished |= sample == eos_id
            if finished.all():
                break
    finally:
        decoder.sync()
    return np.concatenate(columns, axis=1)


def beam_search(model, inputs=None, batch_size=1, n_beams=2, start_id=0,
                eos_id=1, max_length=100, length_penalty=1.0,
                accelerate=True):
    """Returns the ``n_beams`` best sequences of ``max_length`` tokens by the
    sum of their log-probabilities, best first: a list of ``(tokens of shape
    (1, max_length), score of shape (1,))``.

    As in Trax: ``batch_size`` must be 1, ``eos_id`` and ``length_penalty``
    are not used (every beam runs ``max_length`` tokens), and the first
    step expands one beam only. Each beam keeps its own copy of the model
    state; ``model.state`` ends as the last beam run left it.
    """
    del eos_id, length_penalty  # not used by Trax's beam search either
    if batch_size != 1:
        raise AssertionError(
            f"beam_search supports batch_size=1 only (got {batch_size}); "
            f"search one sequence per call.")
    inputs = _check_inputs(inputs, batch_size)
    decoder = _Decoder(model, accelerate)
    first = _first_symbols(model, inputs, batch_size, start_id)

    beams = [first] * n_beams
    states = [decoder.state] * n_beams
    tokens = [[] for _ in range(n_beams)]
    scores = [0.0] * n_beams
    top = [None] * n_beams
    for step in range(max_length):
        live = n_beams if step > 0 else 1  # at first all beams are the same
        for b in range(live):
            decoder.state = states[b]
            log_probs = decoder(_model_inputs(model, inputs, beams[b]))
            states[b] = decoder.state
            top[b] = fastmath.top_k(log_probs, k=n_beams)
        candidates = []  # (score so far, beam, token), in Trax's order
        for b in range(live):
            values, symbols = top[b]
            for k in range(n_beams):
                candidates.append((scores[b] + values[:, k], b, symbols[:, k]))
        # Stable sort on the score: ties keep the order above, as in Trax.
        candidates.sort(key=lambda c: -float(c[0][0]))
        chosen = candidates[:n_beams]
        tokens = [tokens[b] + [symbol] for _, b, symbol in chosen]
        scores = [score for score, _, _ in chosen]
        states = [states[b] for _, b, _ in chosen]
        beams = [np.asarray(symbol)[:, None] for _, _, symbol in chosen]
    decoder.sync()
    return [(np.stack([np.asarray(t) for t in seq], axis=-1),
             np.asarray(score))
            for seq, score in zip(tokens, scores)]

