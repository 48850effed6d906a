"""``python -m trax_compat``: the same as the ``trax-compat`` command."""

import sys

from trax_compat.cli import main

if __name__ == "__main__":
    sys.exit(main())
