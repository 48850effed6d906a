"""Training throughput: trax_compat's ``training.Loop`` vs a hand-written
jitted Flax/optax loop, on the Trax sentiment tutorial (model and pipeline).

Run from the repository root::

    python -m benchmarks.loop_vs_flax            # default: 10 rounds x 200 steps
    python -m benchmarks.loop_vs_flax --quick    # smoke run (a few seconds)
    python -m benchmarks.loop_vs_flax --diagnose # + variants that locate costs

What is measured (see benchmarks/README.md for more):

* The batches are made once, before any timing, by the tutorial pipeline
  (Tokenize, Shuffle, FilterByLength(30), BucketByLength([5, 10, 30],
  [1, 5, 10]), AddLossWeights) over a cycled synthetic corpus; every
  contender trains on exactly the same list of batches, so data time is
  excluded and the work per step is identical.
* A: ``training.Loop`` with the tutorial model
  ``tl.Serial(tl.Embedding(8192, 256), tl.Mean(axis=1), tl.Dense(2),
  tl.LogSoftmax())``, ``WeightedCategoryCrossEntropy`` and
  ``trax_compat.optimizers.Adam(0.01)``, no evals, no output_dir, timed as
  ``loop.run(n)`` until the parameters are ready.
* B1: ``models.sentiment.SentimentClassifier`` + ``optax.adam(0.01)`` in a
  ``TrainState`` with ``jax.jit(train_step, donate_argnums=0)``.
* B2: as B1 but with trax_compat's Adam, applied the way the Loop applies
  it (``trax_compat.optimizers.apply_gradients``), so B2/B1 is the cost of
  Trax's Adam and A/B2 what the Loop adds on top (its per-step metric sums
  and its Python); ``--diagnose`` splits that further (B3-B4).
* A2 / B5: the same Loop with ``TrainTask(lr_schedule=trax_compat.lr.
  multifactor(...))`` against B1 with that schedule given to
  ``optax.adam`` (``lr_schedules.to_optax``): the cost of applying a
  schedule the Trax way (evaluated per step on the host, passed into the
  jitted step) against optax's (evaluated inside it). B6 is B2 with the
  schedule given to trax_compat's Adam (evaluated inside jit): A2 / B6 is
  what the Loop adds to Trax's scheduled math, A2 / B5 also includes the
  cost of Trax's Adam against optax's (as A / B1 does).
* Every contender first runs one batch of every shape that occurs (so all
  bucket shapes are compiled) plus some extra steps; then the contenders
  alternate, ``--rounds`` rounds of ``--steps / --rounds`` steps each, and the
  per-round steps/s, the median and the A/B ratios of the medians are shown.
"""

import argparse
import contextlib
import io
import itertools
import os
import statistics
import sys
import tempfile
import time

import numpy as np

from benchmarks import common


# -- data ------------------------------------------------------------------------

_TRAX_VOCAB = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "trax_compat", "data", "vocabs",
    "en_8k.subword")


def _vocab_location(args, tmp_dir, train_texts):
    """(vocab_file, vocab_dir, description) for the Tokenize stage."""
    from trax_compat.data import subword  # pylint: disable=g-import-not-at-top
    if args.vocab_file:
        path = os.path.abspath(os.path.expanduser(args.vocab_file))
        if not os.path.isfile(path):
            sys.exit(f"--vocab-file {args.vocab_file}: no such file")
        return os.path.basename(path), os.path.dirname(path), path
    if args.trax_vocab:
        path = os.path.normpath(_TRAX_VOCAB)
        if not os.path.isfile(path):
            sys.exit(f"--trax-vocab: {path} does not exist")
        return os.path.basename(path), os.path.dirname(path), path
    path = os.path.join(tmp_dir, "synthetic.subword")
    vocab = subword.build_subword_vocab_file(train_texts, 8192, path)
    return (os.path.basename(path), tmp_dir,
            f"built from the synthetic corpus ({vocab.vocab_size} subtokens)")


def make_batches(args):
    """Returns (warmup_batches, timed_batches, vocab_description)."""
    from train import corpus  # pylint: disable=g-import-not-at-top
    from trax_compat import data  # pylint: disable=g-import-not-at-top

    train_examples, _ = corpus.default_corpus()
    with tempfile.TemporaryDirectory() as tmp_dir:
        vocab_file, vocab_dir, vocab_desc = _vocab_location(
            args, tmp_dir, [text for text, _ in train_examples])
        pipeline = data.Serial(
            data.Tokenize(vocab_file=vocab_file, keys=[0],
                          vocab_dir=vocab_dir),
            data.Shuffle(),
            data.FilterByLength(max_length=30, length_keys=[0]),
            data.BucketByLength(boundaries=[5, 10, 30],
                                batch_sizes=[1, 5, 10], length_keys=[0]),
            data.AddLossWeights(),
        )
        np.random.seed(args.seed)  # Shuffle draws from NumPy's global RNG.
        stream = pipeline(itertools.cycle(train_examples))
        extra = list(itertools.islice(stream, args.warmup))
        timed = list(itertools.islice(stream, args.steps))
    # Warm-up: one batch of every shape the timed batches contain (all the
    # bucket shapes get compiled before timing), then `extra` batches.
    by_shape = {}
    for batch in timed + extra:
        by_shape.setdefault(_shape_key(batch), batch)
    warmup = list(by_shape.values()) + extra
    return warmup, timed, vocab_desc


def _shape_key(batch):
    return tuple((np.shape(x), np.asarray(x).dtype.str) for x in batch)


class _Feed:
    """An endless-looking iterator whose batches are swapped in before each
    timed call (the Loop takes one iterator when its task is built)."""

    def __init__(self):
        self._batches = []
        self._i = 0

    def load(self, batches):
        self._batches = batches
        self._i = 0

    def __iter__(self):
        return self

    def __next__(self):
        if self._i >= len(self._batches):
            raise StopIteration
        batch = self._batches[self._i]
        self._i += 1
        return batch


class CompileCounter:
    """Counts XLA backend compilations (any function) via jax.monitoring."""

    EVENT = "/jax/core/compile/backend_compile_duration"

    def __init__(self):
        import jax  # pylint: disable=g-import-not-at-top
        self.count = 0
        self.seconds = 0.0

        def listener(event, duration, **kwargs):
            del kwargs
            if event == self.EVENT:
                self.count += 1
                self.seconds += duration
        jax.monitoring.register_event_duration_secs_listener(listener)


# -- contenders ------------------------------------------------------------------

class LoopContender:
    """A: trax_compat's ``training.Loop`` (by default the tutorial model,
    weighted cross-entropy and ``Adam(learning_rate)``)."""

    name = "A  trax_compat training.Loop"

    def __init__(self, sample_batch, learning_rate, lr_schedule=None,
                 name=None, model=None, loss_layer=None, optimizer=None):
        import jax  # pylint: disable=g-import-not-at-top
        from trax_compat import layers as tl  # pylint: disable=g-import-not-at-top
        from trax_compat import optimizers  # pylint: disable=g-import-not-at-top
        from trax_compat.supervised import training  # pylint: disable=g-import-not-at-top
        self._jax = jax
        self._feed = _Feed()
        self._feed.load([sample_batch])
        if model is None:
            model = tl.Serial(tl.Embedding(8192, 256), tl.Mean(axis=1),
                              tl.Dense(2), tl.LogSoftmax())
        if name:
            self.name = name
        task = training.TrainTask(
            self._feed, loss_layer or tl.WeightedCategoryCrossEntropy(),
            optimizer or optimizers.Adam(learning_rate),
            lr_schedule=lr_schedule,
            n_steps_per_checkpoint=10**9)
        with contextlib.redirect_stdout(io.StringIO()):
            self.loop = training.Loop(model, task, eval_tasks=None,
                                      output_dir=None, random_seed=0)

    def run(self, batches):
        self._feed.load(batches)
        with contextlib.redirect_stdout(io.StringIO()):
            self.loop.run(len(batches))
            self._jax.block_until_ready(self.loop.train_state.params)


class FlaxContender:
    """B: a hand-written jitted Flax/optax train step.

    ``tx``: an optax transformation (or a trax_compat optimizer object when
    ``direct`` is set: then the step writes ``tx.apply``'s new weights, as
    ``trax_compat.optimizers.apply_gradients`` does, instead of
    ``params + tx.update(...)``). ``norms``: also accumulate the Loop's
    per-step loss / gradient-norm / weight-norm sums on the device.
    ``module``, ``params`` and ``loss``: another Flax model, its starting
    weights (default: ``module.init``) and ``loss(model_output, targets,
    weights)`` (default: the sentiment classifier and weighted
    cross-entropy on its logits). ``dropout_seed``: the module uses
    ``nn.Dropout``; each step gets the key ``fold_in(PRNGKey(seed), step)``.
    """

    def __init__(self, name, tx, sample_batch, direct=False, norms=False,
                 module=None, params=None, loss=None, dropout_seed=None):
        import jax  # pylint: disable=g-import-not-at-top
        import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
        import optax  # pylint: disable=g-import-not-at-top
        from flax.training import train_state  # pylint: disable=g-import-not-at-top
        from models import sentiment  # pylint: disable=g-import-not-at-top
        from trax_compat import optimizers  # pylint: disable=g-import-not-at-top
        self.name = name
        self._jax = jax
        if module is None:
            module = sentiment.SentimentClassifier()
        if params is None:
            params = module.init(jax.random.PRNGKey(0),
                                 jnp.asarray(sample_batch[0]))["params"]
        self.state = train_state.TrainState.create(
            apply_fn=module.apply, params=params, tx=tx)

        def weighted_cross_entropy(out, targets, weights):
            # WeightedCategoryCrossEntropy on the model's log-probabilities.
            log_probs = out - jax.scipy.special.logsumexp(
                out, axis=-1, keepdims=True)
            one_hot = jax.nn.one_hot(targets, out.shape[-1], dtype=jnp.float32)
            ce = -jnp.sum(one_hot * log_probs, axis=-1)
            return jnp.sum(ce * weights) / jnp.sum(weights)

        loss = loss or weighted_cross_entropy

        def loss_fn(params, step, inputs, targets, weights):
            rngs = None
            if dropout_seed is not None:
                rngs = {"dropout": jax.random.fold_in(
                    jax.random.PRNGKey(dropout_seed), step)}
            return loss(module.apply({"params": params}, inputs, rngs=rngs),
                        targets, weights)

        def train_step(state, sums, batch):
            loss, grads = jax.value_and_grad(loss_fn)(state.params,
                                                      state.step, *batch)
            if direct:
                new_state = optimizers.apply_gradients(state, grads)
            else:
                new_state = state.apply_gradients(grads=grads)
            if norms:
                # As the Loop's _Totals (Trax's l2_norm, in leaf order).
                sums = (sums[0] + loss, sums[1] + optimizers.l2_norm(grads),
                        sums[2] + optimizers.l2_norm(state.params))
            else:
                sums = (loss,)
            return new_state, sums

        # Separate buffers: they are donated.
        self._sums = tuple(jnp.zeros(()) for _ in range(3 if norms else 1))
        self._step = jax.jit(train_step, donate_argnums=(0, 1))

    def run(self, batches):
        step, state, sums = self._step, self.state, self._sums
        for batch in batches:
            state, sums = step(state, sums, batch)
        self._jax.block_until_ready(state.params)
        self.state, self._sums = state, sums


def make_contenders(args, sample_batch):
    import optax  # pylint: disable=g-import-not-at-top
    from trax_compat import optimizers  # pylint: disable=g-import-not-at-top
    lr = args.learning_rate
    contenders = [
        LoopContender(sample_batch, lr),
        FlaxContender("B1 Flax + optax.adam", optax.adam(lr), sample_batch),
        # The Loop's optimizer path: the Optimizer object as tx, new weights
        # written by optimizers.apply_gradients.
        FlaxContender("B2 Flax + trax_compat Adam (apply_gradients)",
                      optimizers.Adam(lr), sample_batch, direct=True),
    ]
    # The same two with a learning-rate schedule: the Loop evaluates the
    # TrainTask's schedule per step on the host and passes the rate into
    # its jitted step; the Flax loop evaluates it inside jit (optax).
    from trax_compat.supervised import lr_schedules  # pylint: disable=g-import-not-at-top
    schedule = lr_schedules.multifactor(constant=lr, warmup_steps=100)
    contenders += [
        LoopContender(sample_batch, lr, lr_schedule=schedule,
                      name="A2 = A + TrainTask(lr_schedule=multifactor())"),
        FlaxContender("B5 Flax + optax.adam(multifactor() as optax schedule)",
                      optax.adam(lr_schedules.to_optax(schedule)),
                      sample_batch),
        # Trax's Adam math with the schedule evaluated inside jit: what A2
        # computes, without the Loop.
        FlaxContender("B6 Flax + trax_compat Adam(multifactor()) "
                      "(apply_gradients)", optimizers.Adam(schedule),
                      sample_batch, direct=True),
    ]
    # The same model written as a user writes Trax layers (forward and
    # init_weights_and_state): A3 / A is what hand-written layers cost.
    from benchmarks import user_layers  # pylint: disable=g-import-not-at-top
    contenders.append(LoopContender(
        sample_batch, lr, model=user_layers.tutorial_model(),
        name="A3 = A with user-written forward layers"))
    if args.diagnose:
        contenders += [
            FlaxContender("B3 = B2 + Loop's per-step loss/norm sums",
                          optimizers.Adam(lr), sample_batch, direct=True,
                          norms=True),
            FlaxContender("B4 = B2 via optax API (TrainState.apply_gradients)",
                          optimizers.Adam(lr).gradient_transformation,
                          sample_batch),
        ]
    return contenders


def ratio_pairs(contenders):
    """(Loop, baseline) short names: A against every plain Flax loop, A2
    (with a schedule) against B5 and B6 (the same schedule), A3 (user-written
    layers) against A (built-in layers)."""
    shorts = [c.name.split()[0] for c in contenders]
    scheduled = ("B5", "B6")
    pairs = ([("A", b) for b in shorts if b.startswith("B")
              and b not in scheduled]
             + [("A2", b) for b in scheduled] + [("A3", "A")])
    return [(a, b) for a, b in pairs if a in shorts and b in shorts]


def timed_run(contender, batches):
    """(wall seconds, process CPU seconds) of ``contender.run(batches)``."""
    wall, cpu = time.perf_counter(), time.process_time()
    contender.run(batches)
    return time.perf_counter() - wall, time.process_time() - cpu


# -- checks ----------------------------------------------------------------------

def check_loop_syncs(loop_contender, batches):
    """Runs the Loop with device-to-host transfers disallowed; returns a
    one-line verdict."""
    import jax  # pylint: disable=g-import-not-at-top
    try:
        with jax.transfer_guard_device_to_host("disallow"):
            timed_run(loop_contender, batches)
    except Exception as e:  # pylint: disable=broad-except
        first = str(e).strip().splitlines()[0] if str(e) else repr(e)
        return f"device->host transfer inside Loop.run: {first[:160]}"
    return (f"none in {len(batches)} steps past step 1 "
            f"(jax.transfer_guard_device_to_host('disallow') passed)")


# -- report ----------------------------------------------------------------------

def machine_info():
    return common.machine_info()


def print_table(contenders, rates, cpu_ms, steps_per_round):
    n_rounds = len(next(iter(rates.values())))
    width = max(len(c.name) for c in contenders)
    head = (f"{'contender':<{width}} | "
            + " ".join(f"{'r' + str(i + 1):>7}" for i in range(n_rounds))
            + f" | {'median':>8} {'ms/step':>8} {'cpu ms':>7}")
    print()
    print(f"steps/s per round ({steps_per_round} steps each):")
    print(head)
    print("-" * len(head))
    medians = {}
    for c in contenders:
        r = rates[c.name]
        medians[c.name] = statistics.median(r)
        print(f"{c.name:<{width}} | "
              + " ".join(f"{x:7.1f}" for x in r)
              + f" | {medians[c.name]:8.1f} {1000 / medians[c.name]:8.3f}"
              + f" {statistics.median(cpu_ms[c.name]):7.3f}")
    print()
    by_short = {c.name.split()[0]: c.name for c in contenders}
    for a, b in ratio_pairs(contenders):
        paired = statistics.median(
            x / y for x, y in zip(rates[by_short[a]], rates[by_short[b]]))
        print(f"{a:<2} / {b:<3} (ratio of medians): "
              f"{medians[by_short[a]] / medians[by_short[b]]:.3f}   "
              f"(median of per-round ratios: {paired:.3f})")
    print("(steps/s: wall clock, higher is better; ms/step = 1000 / median; "
          "cpu ms: median process CPU time per step, all threads)")
    return medians


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.loop_vs_flax",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=None,
                   help="timed steps per contender, split over the rounds "
                        "(default 2000)")
    p.add_argument("--rounds", type=int, default=None,
                   help="rounds; contenders alternate each round (default "
                        "10, i.e. 200 steps per round)")
    p.add_argument("--warmup", type=int, default=None,
                   help="extra warm-up steps after one step per batch shape "
                        "(default 50)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: defaults --steps 200 --rounds 2 --warmup 10")
    p.add_argument("--diagnose", action="store_true",
                   help="also time variants B3-B4 that locate where A/B "
                        "differences come from")
    p.add_argument("--vocab-file", default=None,
                   help="subword vocabulary file to tokenize with (default: "
                        "build one from the synthetic corpus in a temp dir)")
    p.add_argument("--trax-vocab", action="store_true",
                   help="use Trax's en_8k.subword (bundled with the package)")
    p.add_argument("--learning-rate", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0,
                   help="NumPy seed for the Shuffle stage")
    return rounds_defaults(p, p.parse_args(argv), (200, 2, 10),
                           (2000, 10, 50))


def rounds_defaults(parser, args, quick, default):
    """Fills ``args.steps``, ``rounds`` and ``warmup`` left unset with the
    ``quick`` or ``default`` triple, and checks them; returns ``args``."""
    for name, value in zip(("steps", "rounds", "warmup"),
                           quick if args.quick else default):
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.rounds < 1 or args.steps < args.rounds:
        parser.error("need --rounds >= 1 and --steps >= --rounds")
    return args


def measure(args, log=print):
    """Runs the benchmark described by ``args`` (see ``parse_args``), printing
    its report through ``log``; returns a dict of the results:
    ``names`` (contender names, A first), ``medians`` (steps/s by name),
    ``rates`` (per-round steps/s by name), ``ratio`` and ``paired``
    (A / Bx by the short name, e.g. ``'B1'``: ratio of medians and median
    of per-round ratios), ``compiles_during_timing`` and ``syncs``."""
    t0 = time.perf_counter()
    warmup, timed, vocab_desc = make_batches(args)
    shapes = sorted({_shape_key(b) for b in warmup + timed})
    log(f"vocabulary: {vocab_desc}")
    log(f"batches   : {len(timed)} timed + {len(warmup)} warm-up, "
        f"{len(shapes)} distinct shapes, pre-generated in "
        f"{time.perf_counter() - t0:.1f}s")
    log(f"            inputs shapes: "
        f"{sorted({s[0][0] for s in shapes})}")

    return run_rounds(make_contenders(args, warmup[0]), warmup, timed,
                      args.rounds, log=log)


def run_rounds(contenders, warmup, timed, rounds, log=print):
    """Warms every contender up on ``warmup``, then times them alternately
    on ``timed`` in ``rounds`` rounds; the first contender must be a
    ``LoopContender`` (its host syncs are checked). Logs the table and
    returns the dict described in ``measure``."""
    t0 = time.perf_counter()
    compiles = CompileCounter()
    for c in contenders:
        n0 = compiles.count
        t, _ = timed_run(c, warmup)
        log(f"warm-up   : {c.name}: {len(warmup)} steps in {t:.2f}s "
            f"({compiles.count - n0} XLA compilations)")

    per_round = len(timed) // rounds
    rates = {c.name: [] for c in contenders}
    cpu_ms = {c.name: [] for c in contenders}
    n0 = compiles.count
    for r in range(rounds):
        chunk = timed[r * per_round:(r + 1) * per_round]
        # Rotate the order so no contender always runs first/last.
        order = contenders[r % len(contenders):] + contenders[
            :r % len(contenders)]
        for c in order:
            wall, cpu = timed_run(c, chunk)
            rates[c.name].append(len(chunk) / wall)
            cpu_ms[c.name].append(1000 * cpu / len(chunk))

    table = io.StringIO()
    with contextlib.redirect_stdout(table):
        medians = print_table(contenders, rates, cpu_ms, per_round)
    for line in table.getvalue().splitlines():
        log(line)
    n_compiles = compiles.count - n0
    syncs = check_loop_syncs(contenders[0], timed[:min(50, len(timed))])
    log("")
    log(f"XLA compilations during timing: {n_compiles}")
    log("Loop host syncs per step  : " + syncs)
    log(f"total wall time: {time.perf_counter() - t0:.1f}s")
    result = {"names": [c.name for c in contenders], "medians": medians,
              "rates": rates, "ratio": {}, "paired": {},
              "compiles_during_timing": n_compiles, "syncs": syncs}
    by_short = {c.name.split()[0]: c.name for c in contenders}
    for a, b in ratio_pairs(contenders):
        key = b if a == "A" else f"{a}/{b}"
        result["ratio"][key] = medians[by_short[a]] / medians[by_short[b]]
        result["paired"][key] = statistics.median(
            x / y for x, y in zip(rates[by_short[a]], rates[by_short[b]]))
    return result


def main(argv=None):
    args = parse_args(argv)
    for line in machine_info():
        print(line)
    measure(args)


if __name__ == "__main__":
    main()
