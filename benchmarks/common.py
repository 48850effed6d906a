"""Helpers shared by the benchmarks: machine description, medians, XLA
compilation accounting and a stdout replacement that timestamps lines."""

import io
import os
import platform
import statistics
import threading
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def usable_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


def cpu_model():
    model = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return model


def machine_info():
    """Lines describing the machine and the library versions (imports JAX)."""
    import flax  # pylint: disable=g-import-not-at-top
    import jax  # pylint: disable=g-import-not-at-top
    import jaxlib  # pylint: disable=g-import-not-at-top
    import numpy as np  # pylint: disable=g-import-not-at-top
    import optax  # pylint: disable=g-import-not-at-top
    return [
        f"machine   : {platform.machine()} {platform.system()} "
        f"{platform.release()}, {cpu_model()}",
        f"CPUs      : os.cpu_count()={os.cpu_count()}, usable={usable_cpus()}",
        f"python    : {platform.python_version()}",
        f"versions  : jax {jax.__version__}, jaxlib {jaxlib.__version__}, "
        f"flax {flax.__version__}, optax {optax.__version__}, "
        f"numpy {np.__version__}",
        f"backend   : {jax.default_backend()}, devices {jax.devices()}",
    ]


def median(values):
    values = list(values)
    return statistics.median(values) if values else float("nan")


# -- XLA compilation accounting ---------------------------------------------------

class CompileLog:
    """Records JAX's tracing, lowering and XLA compilation events (with the
    function name) from the moment it is created; ``since(mark)`` sums them.

    Uses ``jax.monitoring``; the listener stays registered for the process.
    """

    TRACE = "/jax/core/compile/jaxpr_trace_duration"
    LOWER = "/jax/core/compile/jaxpr_to_mlir_module_duration"
    COMPILE = "/jax/core/compile/backend_compile_duration"

    def __init__(self):
        import jax  # pylint: disable=g-import-not-at-top
        self.events = []  # (event, seconds, fun_name, in main thread)
        self._lock = threading.Lock()
        wanted = (self.TRACE, self.LOWER, self.COMPILE)

        def listener(event, duration, **kwargs):
            if event in wanted:
                with self._lock:
                    self.events.append(
                        (event, duration, str(kwargs.get("fun_name", "?")),
                         threading.current_thread()
                         is threading.main_thread()))
        jax.monitoring.register_event_duration_secs_listener(listener)

    def mark(self):
        return len(self.events)

    def since(self, mark=0):
        """``{'n_compiles', 'compile_s', 'trace_s', 'lower_s', 'by_fun':
        {name: [n_compiles, compile_s]}, 'n_main', 'main_compile_s'}`` for
        the events after ``mark`` (``n_main``: compilations in the main
        thread, i.e. on the critical path; the rest ran in the background)."""
        with self._lock:
            events = self.events[mark:]
        out = {"n_compiles": 0, "compile_s": 0.0, "trace_s": 0.0,
               "lower_s": 0.0, "by_fun": {}, "n_main": 0,
               "main_compile_s": 0.0}
        for event, seconds, name, in_main in events:
            if event == self.COMPILE:
                out["n_compiles"] += 1
                out["compile_s"] += seconds
                if in_main:
                    out["n_main"] += 1
                    out["main_compile_s"] += seconds
                entry = out["by_fun"].setdefault(name, [0, 0.0])
                entry[0] += 1
                entry[1] += seconds
            elif event == self.TRACE:
                out["trace_s"] += seconds
            else:
                out["lower_s"] += seconds
        return out


# -- timestamped stdout -------------------------------------------------------------

class StampedWriter(io.TextIOBase):
    """A text stream that keeps every complete line with the
    ``time.perf_counter()`` at which its end was written (for
    ``contextlib.redirect_stdout``)."""

    encoding = "utf-8"
    errors = "strict"

    def __init__(self):
        super().__init__()
        self.lines = []  # (perf_counter, line)
        self._partial = ""
        self._lock = threading.Lock()

    def writable(self):
        return True

    def isatty(self):
        return False

    def write(self, s):
        now = time.perf_counter()
        with self._lock:
            text = self._partial + s
            *complete, self._partial = text.split("\n")
            self.lines.extend((now, line) for line in complete)
        return len(s)

    def flush(self):
        pass

    def text(self):
        return "\n".join(line for _, line in self.lines) + self._partial

    def first(self, predicate, after=float("-inf")):
        """Time of the first line satisfying ``predicate`` (or None)."""
        for t, line in self.lines:
            if t >= after and predicate(line):
                return t
        return None

    def last(self, predicate, after=float("-inf")):
        found = None
        for t, line in self.lines:
            if t >= after and predicate(line):
                found = t
        return found


# -- table ----------------------------------------------------------------------------

def format_table(header, rows):
    """Plain-text table; the first column left-aligned, the others right."""
    rows = [[str(c) for c in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) if rows
              else len(str(h)) for i, h in enumerate(header)]
    def fmt(cells):
        return " | ".join(
            (c.ljust(w) if i == 0 else c.rjust(w))
            for i, (c, w) in enumerate(zip(cells, widths)))
    lines = [fmt([str(h) for h in header]),
             "-+-".join("-" * w for w in widths)]
    lines += [fmt(r) for r in rows]
    return "\n".join(lines)
