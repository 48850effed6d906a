"""TensorFlow and TensorFlow Datasets, imported on first use only.

The core install has neither; they come with the ``[tfds]`` extra. Importing
``trax_compat.data`` never imports them, so the lean install stays lean and
fast; the first TFDS-backed call does, and without the extra it fails with
one error that says how to get it.
"""

import importlib

EXTRA_HINT = ('pip install "trax-compat[tfds]"  (TensorFlow and TensorFlow '
              'Datasets)')


class MissingExtraError(ImportError):
    """A ``[tfds]``-extra package is not installed."""


def _import(module, what):
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingExtraError(
                "%s needs the %r package, which is not installed. It comes "
                "with trax-compat's [tfds] extra: %s"
                % (what, module.split(".")[0], EXTRA_HINT)) from e


def tf(what="This function"):
    """The ``tensorflow`` module; ``what`` names the caller in the error."""
    return _import("tensorflow", what)


def tfds(what="This function"):
    """The ``tensorflow_datasets`` module (importing TensorFlow too)."""
    tf(what)
    return _import("tensorflow_datasets", what)


def requires(package, what, hint):
    """Imports ``package`` or raises a clear error naming it and ``hint``."""
    try:
        return importlib.import_module(package)
    except ImportError as e:
        raise MissingExtraError(
                "%s needs the %r package, which trax-compat does not install: "
                "%s" % (what, package.split(".")[0], hint)) from e
