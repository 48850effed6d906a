"""Stream stages of ``trax.data.inputs`` that combine, seek, prefetch or log
whole streams: ``Parallel``, ``Prefetch``, ``UniformlySeek``, ``Log``."""

import logging
import math
import queue
import threading
import time

_log = logging.getLogger(__name__)


def _call_source(f, gen):
    # A source given no input stream is called with no argument, as in Trax
    # (so ``lambda: iter(...)`` works as well as ``lambda _: iter(...)``).
    return f(gen) if gen else f()


def Parallel(fns=None, counters=None,  # pylint: disable=invalid-name
             reweight_by_minimum=False, gradually_reweight=False,
             use_remainders=False):
    """Interleaves several streams, taking ``counters[i]`` examples of stream i
    per round (default one of each).

    Args:
      fns: stream functions; each is called with the input stream, or with
        no argument when there is none.
      counters: examples per round for each stream; streams with 0 are dropped.
      reweight_by_minimum: divide the counters by the smallest (floored).
      gradually_reweight: nest the streams by increasing counter instead:
        for counters 1, 20, 40 a round is ``a (b c^2)^20``.
      use_remainders: with ``gradually_reweight``, after each round also take
        what the nesting left out (45 - 2*20 = 5 more from the 45 stream).
    """
    fns = list(fns or [])
    if counters:
        if len(counters) != len(fns):
            raise ValueError(
                f'Parallel needs one counter per stream: {len(fns)} streams, '
                f'{len(counters)} counters ({list(counters)}).')
        keep = [i for i, c in enumerate(counters) if c != 0]
        counters = [counters[i] for i in keep]
        fns = [fns[i] for i in keep]
    else:
        counters = [1] * len(fns)
    if reweight_by_minimum:
        counters = [math.floor(c / min(counters)) for c in counters]

    def nested(sorted_items, prev_counter):
        if not sorted_items:
            return
        _, counter, gen = sorted_items[0]
        for _ in range(math.floor(counter / prev_counter)):
            yield next(gen)
            yield from nested(sorted_items[1:], counter)

    def parallel_generator(gen=None):
        generators = [_call_source(f, gen) for f in fns]
        if gradually_reweight:
            items = sorted(zip(range(len(generators)), counters, generators),
                           key=lambda x: x[1])
            while True:
                yield from nested(items, min(counters))
                if use_remainders:
                    fractions = []
                    for i, (_, counter, g) in enumerate(items):
                        done = math.prod(fractions)
                        for _ in range(counter - done):
                            yield next(g)
                        if i < len(items) - 1:
                            fractions.append(
                                math.floor(items[i + 1][1] / counter))
        else:
            current = [0] * len(generators)
            total = sum(counters)
            while True:
                for i, g in enumerate(generators):
                    if current[i] < counters[i]:
                        current[i] += 1
                        if sum(current) == total:
                            current = [0] * len(generators)
                        yield next(g)

    return parallel_generator


_END = object()


def Prefetch(n_prefetch=2):  # pylint: disable=invalid-name
    """Reads up to ``n_prefetch`` examples ahead in a background thread.

    Unlike Trax (whose prefetching thread waits for ever when its input
    ends), the stream ends when the input does, and an error in the input
    is raised in the consumer.
    """
    if n_prefetch < 1:
        raise ValueError(f'Prefetch needs n_prefetch >= 1, got {n_prefetch}.')

    def prefetch(generator):
        out_q = queue.Queue(maxsize=n_prefetch)

        def work():
            try:
                for example in generator:
                    out_q.put((True, example))
                out_q.put((True, _END))
            except BaseException as e:  # pylint: disable=broad-except
                out_q.put((False, e))

        threading.Thread(target=work, daemon=True).start()
        while True:
            ok, item = out_q.get()
            if not ok:
                raise item
            if item is _END:
                return
            yield item

    return prefetch


def UniformlySeek(name=None, host_id=None, n_hosts=None,  # pylint: disable=invalid-name
                  dataset_size=None):
    """Skips ``host_id * (dataset_size / n_hosts)`` examples, then passes the
    rest on, so that each host starts at its own share of the data."""
    if not dataset_size:
        dataset_size = 2 ** 18
        _log.error('No dataset size given to Uniformly seek, assuming: %d',
                   dataset_size)
    if not name:
        raise ValueError('UniformlySeek needs a name (for its log lines).')
    if host_id is None or not n_hosts:
        import jax  # pylint: disable=import-outside-toplevel
        host_id = jax.process_index() if host_id is None else host_id
        n_hosts = n_hosts or jax.process_count()
    each_host = int(dataset_size / n_hosts)

    def _seek(generator):
        to_skip = int(host_id * each_host)
        start = time.time()
        _log.info('Dataset[%s] host_id[%d] is seeking to position[%d]',
                  name, host_id, to_skip)
        for _ in range(to_skip):
            next(generator)
        _log.info('Dataset[%s] host_id[%d] reached position[%d]. '
                  'Time taken [%s] seconds', name, host_id, to_skip,
                  time.time() - start)
        yield from generator

    return _seek


def Log(n_steps_per_example=1, only_shapes=True):  # pylint: disable=invalid-name
    """Passes examples on, printing (and logging) every n-th one; with
    ``only_shapes`` it prints their ``ShapeDtype`` signatures instead."""
    def log(stream):
        if only_shapes:
            # pylint: disable=import-outside-toplevel
            from trax_compat import fastmath
            from trax_compat import shapes
        for counter, example in enumerate(stream):
            if counter % n_steps_per_example == 0:
                item = example
                if only_shapes:
                    item = fastmath.nested_map(shapes.signature, example)
                _log.info(str(item))
                print(item)
            yield example
    return log
