"""Compiling the Loop's programs off the training thread.

As soon as the Loop knows the arguments a program will get (the train step
for the task's sample batch, the eval function for each batch shape seen),
it lowers the program in the training thread (tracing runs the layers'
Python, which is not thread-safe) and hands the XLA compilation, which
releases the GIL, to one background thread. JAX's compilation cache then
holds the program: when the Loop later calls the jitted function with
arguments of those shapes, nothing is compiled on the critical path.

Before such a call the Loop calls :meth:`BackgroundCompiler.wait_for`: a
compilation under way is waited for (never run twice), one still queued is
dropped (the ordinary call compiles it). A compilation that fails changes
nothing: the ordinary call compiles again and raises its own error (the
background one is logged). Lowering never raises either, so errors come
where and when they always did.

``TRAX_COMPAT_BACKGROUND_COMPILE=0`` (or ``off``, ``false``, ``no``), or
``Loop(background_compile=False)``, turns it off.
"""

import atexit
import logging
import queue
import random
import threading
import weakref

import jax
import numpy as np

ENV_SWITCH = "TRAX_COMPAT_BACKGROUND_COMPILE"
OFF_VALUES = ("0", "off", "false", "no")

_QUEUED, _RUNNING, _DONE, _DROPPED = "queued", "running", "done", "dropped"


def enabled(environ, requested=None):
    """Whether a Loop compiles in the background: ``requested`` (the Loop
    argument) when given, else on unless the environment switches it
    off."""
    if requested is not None:
        return bool(requested)
    return environ.get(ENV_SWITCH, "").strip().lower() not in OFF_VALUES


def _dtype(x):
    # Arrays' own dtype: np.asarray would copy a device array to the host.
    return x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype


def _abstract_leaf(x):
    dtype = jax.dtypes.canonicalize_dtype(_dtype(x))
    # Python numbers are weakly typed in a jitted call.
    weak = bool(getattr(x, "weak_type", False)) or type(x) in (int, float,
                                                                complex)
    return jax.ShapeDtypeStruct(np.shape(x), dtype, weak_type=weak)


def abstract(tree):
    """``tree`` with each array replaced by its shape and dtype."""
    return jax.tree_util.tree_map(_abstract_leaf, tree)


def signature(batch):
    """A hashable key for a batch's shapes and dtypes."""
    return tuple((np.shape(x), np.dtype(_dtype(x)).str)
                 for x in jax.tree_util.tree_leaves(batch))


def _random_states():
    return random.getstate(), np.random.get_state()


def _same_random_states(a, b):
    (py_a, (name_a, keys_a, *rest_a)), (py_b, (name_b, keys_b, *rest_b)) = a, b
    return (py_a == py_b and name_a == name_b
            and np.array_equal(keys_a, keys_b) and rest_a == rest_b)


def _compile(lowered):
    return lowered.compile()


class _Job:
    def __init__(self, label, lowered):
        self.label = label
        self.lowered = lowered
        self.status = _QUEUED
        self.error = None
        self.done = threading.Event()


class BackgroundCompiler:
    """Compiles lowered programs in one background thread, in the order
    submitted. The thread runs only while jobs are queued, and
    :meth:`close` drops what is queued and waits for the one compiling."""

    def __init__(self):
        self._jobs = {}
        self._queue = queue.Queue()
        self._lock = threading.Lock()
        self._thread = None
        self._closed = False
        self.disabled_reason = None
        _LIVE.add(self)

    def submit(self, key, label, jitted, args):
        """Lowers ``jitted`` for the shapes of ``args`` (here, in the
        calling thread) and queues its compilation; ``key`` names it for
        :meth:`wait_for`. Returns the lowered program's output shapes, or
        None when nothing was queued."""
        if self._closed or self.disabled_reason is not None:
            return None
        with self._lock:
            if key in self._jobs:
                return None
        before = _random_states()
        try:
            lowered = jitted.lower(*abstract(args))
        except Exception:  # pylint: disable=broad-except
            # The ordinary call raises it, where it always did.
            logging.debug("Not compiling %s in the background: lowering "
                          "failed.", label, exc_info=True)
            return None
        if not _same_random_states(before, _random_states()):
            # Tracing drew from Python's or NumPy's global generator (a
            # layer built while traced): those draws must come when they
            # always did, so the trace is forgotten (the ordinary call
            # traces again) and this Loop compiles as usual from now on.
            random.setstate(before[0])
            np.random.set_state(before[1])
            jitted.clear_cache()
            self.disabled_reason = (f"tracing {label} draws from the global "
                                    f"random generators")
            logging.info("Background compilation off: %s.",
                         self.disabled_reason)
            return None
        job = _Job(label, lowered)
        with self._lock:
            self._jobs[key] = job
            self._queue.put(job)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._work, name="trax_compat-compile",
                    daemon=True)
                self._thread.start()
        return lowered.out_info

    def _next_job(self):
        """The next queued job, marked running (under the lock), or None
        (then the thread ends)."""
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                self._thread = None
                return None
            if job.status == _QUEUED:
                job.status = _RUNNING
                return job

    def _work(self):
        with self._lock:
            job = self._next_job()
        while job is not None:
            try:
                _compile(job.lowered)
            except BaseException as e:  # pylint: disable=broad-except
                job.error = e  # Never leaves a waiter waiting.
            # The next job is marked running before this one is announced
            # done: the training thread, done waiting, then waits for the
            # next one too instead of compiling it a second time.
            with self._lock:
                job.lowered = None
                job.status = _DONE
                finished, job = job, self._next_job()
            finished.done.set()

    def wait_for(self, key):
        """Before the ordinary call of ``key``'s program: waits for its
        compilation if it is under way, drops it if still queued. A failed
        compilation is logged; the ordinary call then compiles (and raises)
        as it would have."""
        with self._lock:
            job = self._jobs.get(key)
            if job is None:
                return
            if job.status == _QUEUED:
                job.status = _DROPPED
                job.lowered = None
                return
        job.done.wait()
        if job.error is not None:
            logging.warning(
                "Compiling %s in the background failed (%s: %s); compiling "
                "it in the training thread instead.", job.label,
                type(job.error).__name__, job.error)
            job.error = None

    def close(self):
        """Drops the queued jobs and waits for the one compiling; the
        thread is gone when this returns."""
        with self._lock:
            self._closed = True
            for job in self._jobs.values():
                if job.status == _QUEUED:
                    job.status = _DROPPED
                    job.lowered = None
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()


# Compilers still open at exit are closed before JAX's own exit handlers
# (registered earlier, so run later) shut its backends down.
_LIVE = weakref.WeakSet()


def _close_all():
    for compiler in list(_LIVE):
        compiler.close()


atexit.register(_close_all)
