"""The ``trax-compat`` command line: one subcommand per module.

Each subcommand lives with the feature it exposes; a module listed in
``_SUBCOMMANDS`` provides ``add_arguments(parser)`` and ``run(args) -> int``.
Modules are imported only when their subcommand runs, so ``--help`` is fast.
Errors end as one line and an exit code (see ``command_errors``); ``--debug``
anywhere on the line shows the traceback instead.
"""

import argparse
import importlib
import sys

from trax_compat import command_errors

# name -> (module, one-line help)
_SUBCOMMANDS = {
    "vocab": ("trax_compat.data.vocab_command",
              "build and inspect vocabulary files"),
    "compare-logs": ("trax_compat.logs.compare_command",
                     "compare two Trax-format training logs"),
    "run": ("trax_compat.run", "run an unmodified Trax script on trax_compat"),
    "trainer": ("trax_compat.trainer",
                "train from Trax gin configs (Trax's trax.trainer)"),
    "inspect": ("trax_compat.supervised.checkpoint_command",
                "show a checkpoint's format, step, weights and history"),
    "convert": ("trax_compat.supervised.checkpoint_command",
                "convert checkpoints: Trax formats, ours, Flax params"),
    "migrate": ("trax_compat.migrate",
                "plan a move from the Trax API to native Flax (--plan)"),
}
# Subcommands whose arguments after the first positional one (a script's
# path) belong to that script, `--debug` included.
_PASSES_ARGS_ON = {"run"}


def own_args_end(argv):
    """Where the arguments for the program named in ``argv`` begin
    (``len(argv)`` when there are none)."""
    own = [i for i, a in enumerate(argv) if a != "--debug"]
    if not own or argv[own[0]] not in _PASSES_ARGS_ON:
        return len(argv)
    for i in own[1:]:
        if not argv[i].startswith("-"):
            return i + 1
    return len(argv)


def _build_parser():
    parser = argparse.ArgumentParser(
        prog="trax-compat",
        description="Tools of the trax_compat package.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in _SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text,
                                    description=help_text)
        sub_parser.set_defaults(_module=module_name)
    return parser, sub


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    end = own_args_end(argv)
    debug = command_errors.debug_requested(argv[:end])
    argv = [a for a in argv[:end] if a != "--debug"] + argv[end:]
    parser, sub = _build_parser()
    if not argv or argv[0] not in _SUBCOMMANDS:
        args = parser.parse_args(argv)  # prints help / errors and exits
        parser.print_help()
        return 2
    module = importlib.import_module(_SUBCOMMANDS[argv[0]][0])
    # Let the owning module define the subcommand's own arguments.
    command_parser = sub.choices[argv[0]]
    module.add_arguments(command_parser)
    args = parser.parse_args(argv)
    prog = f"trax-compat {argv[0]}"
    return command_errors.run(prog, lambda: module.run(args), debug=debug)
