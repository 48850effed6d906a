"""How the command-line programs end: a message, never a traceback, for
what the user can fix.

``run(prog, body)`` calls ``body()`` and turns its errors into exit codes:

* 2: bad input or arguments (a malformed data file, a missing or broken
  vocabulary, an output directory that is a file, settings that contradict
  the job already in the output directory);
* 1: a failure at run time (a locked output directory, damaged checkpoints,
  a NaN loss, a stream that ran out, a disk that filled up);
* 130: Ctrl-C.

Each prints ``<prog>: error: <message>`` on stderr, the library's names of
Python arguments (``output_dir``) replaced by the program's flags
(``--output-dir``). ``--debug`` or ``TRAX_COMPAT_DEBUG=1`` lets the
exception through, traceback and all.
"""

import os
import re
import sys

ENV_DEBUG = "TRAX_COMPAT_DEBUG"
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad input or arguments, with a message that says the fix."""
    exit_code = EXIT_BAD_INPUT


class JobFailure(Exception):
    """A run-time failure, with a message that says what to do."""
    exit_code = EXIT_FAILURE


class Interrupted(Exception):
    """Ctrl-C, after the program has said where it stopped."""
    exit_code = EXIT_INTERRUPTED


def _bad_input_types():
    from trax_compat.data import vocab_common  # pylint: disable=g-import-not-at-top
    from trax_compat.supervised import training  # pylint: disable=g-import-not-at-top
    return (vocab_common.VocabFormatError, training.OutputDirError,
            training.ModelLossMismatchError, FileNotFoundError,
            NotADirectoryError, IsADirectoryError)


def _failure_types():
    from trax_compat.supervised import checkpoints  # pylint: disable=g-import-not-at-top
    from trax_compat.supervised import output_lock  # pylint: disable=g-import-not-at-top
    return (checkpoints.CheckpointError, output_lock.OutputDirLockedError,
            FloatingPointError, RuntimeError, OSError)


def exit_code(error):
    """The exit code for ``error``, or None for an unexpected one (a bug)."""
    code = getattr(error, "exit_code", None)
    if isinstance(code, int):
        return code
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(error, _bad_input_types()):
        return EXIT_BAD_INPUT
    if isinstance(error, _failure_types()):
        return EXIT_FAILURE
    return None


def debug_requested(argv=()):
    return "--debug" in argv or os.environ.get(ENV_DEBUG, "") not in (
        "", "0", "false", "False")


def as_flags(message, flags):
    """``message`` with each Python argument of ``flags`` (``{"vocab_dir":
    "--vocab-dir"}``) named as its flag: ``vocab_dir='/a/b'`` becomes
    ``--vocab-dir /a/b``, a bare ``vocab_dir`` ``--vocab-dir``. Names inside
    paths are left alone."""
    for name, flag in (flags or {}).items():
        message = re.sub(rf"(?<![\w/.-]){name}=(['\"]?)([^\s'\"]*)\1",
                         rf"{flag} \2", message)
        message = re.sub(rf"(?<![\w/.-]){name}(?![\w/-]|\.\w)", flag,
                         message)
    return message


def run(prog, body, debug=False, flags=None):
    """Runs ``body()``; returns its exit code (0 unless it returns an int).
    ``flags``: see :func:`as_flags`."""
    try:
        result = body()
        return result if isinstance(result, int) else 0
    except SystemExit:
        raise
    except BaseException as e:  # pylint: disable=broad-except
        if debug:
            raise
        code = exit_code(e)
        message = str(e).strip()
        if isinstance(e, KeyboardInterrupt):
            message = message or "interrupted"
        elif code is None:
            code = EXIT_FAILURE
            message = (f"internal error ({type(e).__name__}: {message}). "
                       f"Rerun with --debug (or {ENV_DEBUG}=1) for the "
                       f"traceback, and please report it.")
        prefix = "" if isinstance(e, Interrupted) else f"{prog}: error: "
        print(f"{prefix}{as_flags(message, flags)}", file=sys.stderr,
              flush=True)
        return code
