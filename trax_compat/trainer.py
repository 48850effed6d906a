"""Trax's gin-configured trainer::

    trax-compat trainer --config_file=F.gin [--config_file=...] \\
        [--config='train.steps = 100' ...] --output_dir=D
    python -m trax_compat.trainer ...   (the same)

Trax's configs run unchanged: their ``import trax.data`` lines resolve to
trax_compat (as under ``trax-compat run``), every configurable trax_compat
has is registered under Trax's gin name, and ``train`` is
``trax_compat.supervised.trainer_lib.train``. The flags are those of Trax's
``trax/trainer.py`` that apply off TPU; the operative config is written to
``D/config.gin`` after the first step, as Trax does.
"""

import argparse
import datetime
import os
import sys

from trax_compat import as_trax
from trax_compat import command_errors
from trax_compat import gin_registry

PROG = "python -m trax_compat.trainer"


def add_arguments(parser):
    parser.add_argument("--config_file", "--config-file", action="append",
                        default=[], metavar="FILE",
                        help="a gin config file (repeatable)")
    parser.add_argument("--config", action="append", default=[],
                        metavar="BINDING",
                        help="a gin binding, e.g. 'train.steps = 100' "
                             "(repeatable; applied after the files)")
    parser.add_argument("--output_dir", "--output-dir", default=None,
                        help="where logs and checkpoints go (default: "
                             "~/trax/<model>_<dataset>_<timestamp>, as Trax)")
    parser.add_argument("--dataset", default=None,
                        help="sets data_streams.dataset_name")
    parser.add_argument("--data_dir", "--data-dir", default=None,
                        help="sets data_streams.data_dir")
    parser.add_argument("--model", default=None,
                        help="sets train.model to @trax.models.MODEL")
    parser.add_argument("--disable_jit", action="store_true",
                        help="run without jax.jit (slow; for debugging)")
    parser.add_argument("--jax_debug_nans", action="store_true",
                        help="stop at the first NaN (jax_debug_nans)")
    parser.add_argument("--use_tpu", action="store_true",
                        help="Trax's TPU flag: not supported here")
    parser.add_argument("--shadow-trax", action="store_true",
                        help="run on trax_compat even if a real trax "
                             "package is installed")


def _bindings(args):
    bindings = list(args.config)
    if args.dataset:
        bindings.append(f"data_streams.dataset_name = {args.dataset!r}")
    if args.data_dir:
        bindings.append(f"data_streams.data_dir = {args.data_dir!r}")
    if args.model:
        bindings.append(f"train.model = @trax.models.{args.model}")
    return bindings


def _import_gin():
    gin = gin_registry.gin_or_none()
    if gin is None:
        raise command_errors.UsageError(
            "the trainer needs gin-config: pip install 'trax-compat[gin]'")
    return gin


def _register_everything():
    """Imports what Trax's trainer imports, so its configurables are
    registered before the configs are parsed."""
    # pylint: disable=g-import-not-at-top,unused-import
    import trax_compat.data
    import trax_compat.layers
    import trax_compat.models
    import trax_compat.optimizers
    from trax_compat.supervised import trainer_lib
    from trax_compat.data import t5_fallback
    # pylint: enable=g-import-not-at-top,unused-import
    t5_fallback.install_import_alias()
    return trainer_lib


def _config_error(error):
    """gin's message (it names the file and line), plus a hint when the
    unknown name is a Trax configurable not in this version."""
    message = str(error).strip()
    for word in message.replace("'", " ").replace('"', " ").split():
        missing = gin_registry.missing_configurable(word.strip(".,:"))
        if missing:
            message += (f"\n{missing} is a Trax configurable that trax_compat "
                        f"does not have yet; see docs/coverage.md (and "
                        f"docs/gin_configs.md for Trax's own configs).")
            break
    return command_errors.UsageError(f"bad gin config: {message}")


def parse_configs(config_files, bindings):
    gin = _import_gin()
    for path in config_files:
        if not os.path.isfile(path):
            raise command_errors.UsageError(
                f"--config_file {path}: no such file")
    try:
        gin.parse_config_files_and_bindings(config_files, bindings)
    except (ValueError, SyntaxError, ImportError, AttributeError,
            TypeError) as e:
        raise _config_error(e) from e


def default_output_dir():
    gin = _import_gin()
    try:
        dataset = gin.query_parameter("data_streams.dataset_name")
    except ValueError:
        dataset = "random"
    model = gin.query_parameter("train.model").configurable.name
    stamp = datetime.datetime.now().strftime("%Y%m%d_%H%M")
    return os.path.expanduser(os.path.join("~", "trax",
                                           f"{model}_{dataset}_{stamp}"))


def run(args):
    if args.use_tpu:
        raise command_errors.UsageError(
            "--use_tpu is not supported; trax_compat runs on whatever "
            "devices JAX sees.")
    if not args.config_file and not args.config:
        raise command_errors.UsageError(
            "nothing to train: give --config_file=F.gin (and/or --config)")
    as_trax.install_as_trax(shadow=args.shadow_trax)
    trainer_lib = _register_everything()
    parse_configs(args.config_file, _bindings(args))
    import jax  # pylint: disable=g-import-not-at-top
    if args.jax_debug_nans:
        jax.config.update("jax_debug_nans", True)
    if args.disable_jit:
        jax.config.update("jax_disable_jit", True)
    output_dir = args.output_dir
    if output_dir:
        trainer_lib.log(f"Using --output_dir {output_dir}")
        output_dir = os.path.expanduser(output_dir)
    else:
        output_dir = default_output_dir()
        trainer_lib.log(f"No --output_dir specified\nUsing default "
                        f"output_dir: {output_dir}")
    gin_registry.configurable(trainer_lib.train)(output_dir=output_dir)
    trainer_lib.log("Finished training.")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split(
        "\n\n")[0])
    add_arguments(parser)
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = command_errors.debug_requested(argv)
    args = parser.parse_args([a for a in argv if a != "--debug"])
    return command_errors.run(PROG, lambda: run(args), debug=debug)


if __name__ == "__main__":
    sys.exit(main())
