"""What the native-program rows of section 6 share: a contender that runs a
native program's own jitted ``train_step`` plus what that program's loop
does each step, the warm-up list (one batch of every shape first), and the
alternating rounds against the trax_compat twin (``training.Loop``)."""

from benchmarks import loop_vs_flax

TARGET = 0.9


class NativeContender:
    """B: a native program's ``train_step`` over the batches (tuples, as the
    twin's ``Loop`` reads them, turned into the program's dicts by ``keys``),
    with its loop's per-step work: the CLU metrics merge and, where the
    program has them (``progress``), the profiler step annotation and CLU's
    ``ReportProgress``."""

    def __init__(self, name, train_step, state, keys, progress=False,
                 eval_every_steps=None):
        import jax  # pylint: disable=g-import-not-at-top
        self.name = name
        self._jax = jax
        self._train_step = train_step
        self._keys = tuple(keys)
        self.state = state
        self._metrics = None
        self._n = 0
        self._report = None
        if progress:
            from clu import periodic_actions  # pylint: disable=g-import-not-at-top
            # As the programs build it; the writer is one that keeps nothing.
            self._report = periodic_actions.ReportProgress(
                num_train_steps=None, writer=_NullWriter(),
                every_steps=eval_every_steps)

    def run(self, batches):
        jax, step_fn, keys = self._jax, self._train_step, self._keys
        state, metrics, n, report = self.state, self._metrics, self._n, \
            self._report
        for batch in batches:
            n += 1
            if report is None:
                state, step_metrics = step_fn(state, dict(zip(keys, batch)))
            else:
                with jax.profiler.StepTraceAnnotation("train", step_num=n):
                    state, step_metrics = step_fn(state,
                                                  dict(zip(keys, batch)))
            metrics = (step_metrics if metrics is None
                       else metrics.merge(step_metrics))
            if report is not None:
                report(n)
        jax.block_until_ready(state.params)
        self.state, self._metrics, self._n = state, metrics, n


class _NullWriter:
    """The metric writer ``ReportProgress`` reports to (steps/s every
    ``every_steps``): drops what it is given."""

    def write_scalars(self, step, scalars):
        del step, scalars

    def flush(self):
        pass


def warmup_list(timed, extra):
    """One batch of every shape in ``timed + extra`` (so every shape is
    compiled before timing), then ``extra``."""
    by_shape = {}
    for batch in timed + extra:
        by_shape.setdefault(loop_vs_flax._shape_key(batch), batch)  # pylint: disable=protected-access
    return list(by_shape.values()) + extra


def run_row(twin, native, warmup, timed, rounds, log=print):
    """Warms both up, alternates them in ``rounds`` rounds over ``timed``;
    returns ``loop_vs_flax.run_rounds``' dict plus ``native_over_twin`` (ratio
    of the medians) and ``native_over_twin_paired`` (median of the per-round
    ratios). ``native.name`` must start with ``B``."""
    n_shapes = len({loop_vs_flax._shape_key(b) for b in warmup})  # pylint: disable=protected-access
    log(f"batches   : {len(timed)} timed + {len(warmup)} warm-up "
        f"({n_shapes} distinct shapes, each warmed up first)")
    result = loop_vs_flax.run_rounds([twin, native], warmup, timed, rounds,
                                     log=log)
    short = native.name.split()[0]
    result["native_over_twin"] = 1 / result["ratio"][short]
    result["native_over_twin_paired"] = 1 / result["paired"][short]
    log(f"native / twin steps/s: {result['native_over_twin']:.2f} (paired "
        f"{result['native_over_twin_paired']:.2f}); target >= {TARGET}")
    return result


def parse_args(prog, doc, argv, quick, default):
    """``--quick``, ``--steps``, ``--rounds``, ``--warmup`` (unset ones from
    the ``quick`` or ``default`` triple) and ``--seed``."""
    import argparse  # pylint: disable=g-import-not-at-top
    p = argparse.ArgumentParser(
        prog=prog, description=doc.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=None,
                   help=f"timed steps per contender, split over the rounds "
                        f"(default {default[0]})")
    p.add_argument("--rounds", type=int, default=None,
                   help=f"alternating rounds (default {default[1]})")
    p.add_argument("--warmup", type=int, default=None,
                   help=f"extra warm-up steps after one step per batch "
                        f"shape (default {default[2]})")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run: --steps {quick[0]} --rounds {quick[1]} "
                        f"--warmup {quick[2]}")
    p.add_argument("--seed", type=int, default=0,
                   help="NumPy seed of the programs' shuffles")
    return loop_vs_flax.rounds_defaults(p, p.parse_args(argv), quick, default)
