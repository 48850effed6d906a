"""Counting examples per named stream, so that a restarted job can skip what
it already read (``trax.data.inputs``'s ``count_and_skip`` and friends)."""

import logging
import os
import pickle

_log = logging.getLogger(__name__)

# name -> examples read so far. One dict for the process, as in Trax; loading
# refills it in place so that every module holding it sees the new counts.
data_counters = {}


def count_and_skip(generator, name):
    """Yields the examples of ``generator`` after the first
    ``data_counters[name]``, adding one to the counter for each."""
    seen = 0
    for example in generator:
        seen += 1
        # Read the counter inside the loop: it may be loaded meanwhile.
        data_counters.setdefault(name, 0)
        if seen > data_counters[name]:
            data_counters[name] += 1
            yield example


def CountAndSkip(name):  # pylint: disable=invalid-name
    """Stream function applying :func:`count_and_skip` with this name."""
    return lambda g: count_and_skip(g, name)


def _counters_path(output_dir, host_id):
    if host_id is None:
        import jax  # pylint: disable=import-outside-toplevel
        host_id = jax.process_index()
    return os.path.join(output_dir, 'data_counters%d.pkl' % host_id)


def save_data_counters(output_dir, host_id=None):
    """Pickles the counters to ``output_dir/data_counters<host_id>.pkl``."""
    with open(_counters_path(output_dir, host_id), 'wb') as f:
        pickle.dump(data_counters, f)


def load_data_counters(output_dir, host_id=None):
    """Restores the counters saved by :func:`save_data_counters` (nothing
    happens, apart from a log line, if the file does not exist)."""
    path = _counters_path(output_dir, host_id)
    if not os.path.exists(path):
        _log.info('Did not load data counters as %s does not exist.', path)
        return
    with open(path, 'rb') as f:
        loaded = pickle.load(f)
    data_counters.clear()
    data_counters.update(loaded)
