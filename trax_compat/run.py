"""Runs an unmodified Trax script on trax_compat::

    trax-compat run [--shadow-trax] script.py [script args...]
    python -m trax_compat.run [--shadow-trax] script.py [script args...]

``import trax`` and every ``trax.*`` import in the script (and in what it
imports) give trax_compat's modules (see ``trax_compat.as_trax``). The
script runs as ``__main__``, with ``sys.argv`` = ``[script.py, args...]``
and its own folder first on ``sys.path``, as ``python script.py`` would run
it; everything after the script's path is its own, ``--debug`` included.
An error in the script prints the script's traceback and exits 1, as Python
does. If a real ``trax`` is installed, the run is refused unless
``--shadow-trax`` is given.
"""

import argparse
import os
import runpy
import sys

from trax_compat import as_trax
from trax_compat import command_errors

PROG = "python -m trax_compat.run"


def add_arguments(parser):
    parser.add_argument(
        "--shadow-trax", action="store_true",
        help="run on trax_compat even if a real trax package is installed")
    parser.add_argument("script", help="the Trax script to run")
    parser.add_argument("script_args", nargs=argparse.REMAINDER,
                        metavar="...", help="the script's own arguments")


def run(args):
    return run_script(args.script, args.script_args, shadow=args.shadow_trax)


def _from_script_on(tb, path):
    """``tb`` from the script's first frame on (ours and runpy's come
    before it); None if it never reaches the script (a SyntaxError in it
    says where by itself)."""
    path = os.path.realpath(path)
    while tb is not None and os.path.realpath(
            tb.tb_frame.f_code.co_filename) != path:
        tb = tb.tb_next
    return tb


def run_script(path, script_args=(), shadow=False):
    """Runs the Python file ``path`` as ``__main__`` with ``import trax``
    giving trax_compat; returns the exit code (a ``SystemExit`` raised by
    the script passes through)."""
    if not os.path.isfile(path):
        raise command_errors.UsageError(
            f"cannot run {path!r}: no such file" if not os.path.exists(path)
            else f"cannot run {path!r}: not a file")
    as_trax.install_as_trax(shadow=shadow)
    sys.argv = [path, *script_args]
    # As `python script.py`: the script's folder, not ours, is sys.path[0].
    sys.path[0] = os.path.dirname(os.path.realpath(path))
    try:
        runpy.run_path(path, run_name="__main__")
    except SystemExit:
        raise
    except BaseException as e:  # pylint: disable=broad-except
        # The user's error: their traceback, printed as Python prints it.
        tb = _from_script_on(e.__traceback__, path)
        sys.excepthook(type(e), e.with_traceback(tb), tb)
        return (command_errors.EXIT_INTERRUPTED
                if isinstance(e, KeyboardInterrupt) else 1)
    return 0


def main(argv=None):
    from trax_compat import cli  # pylint: disable=g-import-not-at-top
    argv = list(sys.argv[1:] if argv is None else argv)
    # `--debug` before the script's path is ours; after it, the script's.
    end = cli.own_args_end(["run", *argv]) - 1
    debug = command_errors.debug_requested(argv[:end])
    argv = [a for a in argv[:end] if a != "--debug"] + argv[end:]
    parser = argparse.ArgumentParser(
        prog=PROG, description="Run an unmodified Trax script on trax_compat.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    return command_errors.run(PROG, lambda: run(args), debug=debug)


if __name__ == "__main__":
    sys.exit(main())
