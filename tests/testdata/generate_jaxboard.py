"""Records what real Trax's ``trax.jaxboard`` writes.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_jaxboard.py tests/testdata

It writes ``OUT/trax_oracle/jaxboard/`` with the event file real Trax's
``SummaryWriter`` wrote for ``write_all(writer, plt)`` below (the test
makes the same calls on trax_compat's writer) renamed ``events.trax``, and
``jaxboard.json``: ``markdownify_operative_config_str`` of ``CONFIG``.
"""

import argparse
import os
import pathlib
import shutil
import sys
import tempfile

import numpy as np

CONFIG = """import trax.layers

# Parameters for Adam:
# ==============================================================================
Adam.b1 = 0.9
# None.

# Parameters for train:
# ==============================================================================
train.steps = 10
"""


def write_all(writer, plt):
    """The calls recorded: every kind of summary, steps given or not.
    (Not ``histogram``: on NumPy 1.26 real Trax's fails, ``np.greater``
    refusing its ``dtype=np.int32``.)"""
    rs = np.random.RandomState(3)
    writer.scalar("loss", np.float32(2.5), step=3)
    writer.scalar("accuracy", 0.75)  # the last step given (3)
    writer.image("grey", rs.rand(5, 4), step=4)
    writer.image("rgb", (rs.rand(3, 6, 3) * 255).astype(np.uint8))
    writer.images("tiles", rs.rand(5, 4, 3, 1), rows=2, step=5)
    writer.images("row", rs.rand(3, 2, 2, 3))
    writer.text("one", "Hello *world*", step=7)
    writer.text("list", ["a", "b", "ç"])
    writer.text("table", [["x", "y"], ["1", "2"]], step=8)
    writer.audio("tone", np.sin(np.arange(100) / 5.0) * 1.5, step=9,
                 sample_rate=8000)
    plt.figure(figsize=(2, 1.5), dpi=50)
    plt.plot([0, 1, 2], [1, 0, 1])
    writer.plot("curve", plt, step=10)
    writer.flush()
    writer.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=pathlib.Path)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
    import oracle_common  # pylint: disable=import-outside-toplevel
    from trax import jaxboard  # pylint: disable=import-outside-toplevel
    folder = args.out / "trax_oracle" / "jaxboard"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        write_all(jaxboard.SummaryWriter(tmp), plt)
        (name,) = os.listdir(tmp)
        shutil.copy(os.path.join(tmp, name), folder / "events.trax")
    oracle_common.write_json(folder / "jaxboard.json", {
        "env": oracle_common.env("generate_jaxboard.py",
                                 matplotlib=matplotlib.__version__),
        "event_file_name": name.split(".")[:3],
        "markdown": jaxboard.markdownify_operative_config_str(CONFIG)})


if __name__ == "__main__":
    main()
