"""benchmarks.data_speed: the tutorial pipeline's throughput row, and its
summary rows with and without a real-Trax measurement."""

from benchmarks import __main__ as bench
from benchmarks import data_speed


def test_text_pipeline_is_measured():
    figures = data_speed.measure("trax_compat",
                                 {"batches": 3, "repeats": 1})
    row = figures["text"]
    # Three batches of at most 512 examples each, bucketed from the source.
    assert 3 <= row["examples"] <= 3 * 512 + 512
    assert row["examples_per_s"] > 0 and row["seconds"] > 0


def test_summary_rows_say_when_trax_was_not_measured():
    args = bench.parse_args(["--data"])
    res = {"data": {"rows": [
        {"pipeline": "text", "ours": 900.0, "trax": None, "speedup": None},
        {"pipeline": "tfds", "ours": 800.0, "trax": 200.0, "speedup": 4.0}]}}
    rows = bench.summary_rows(args, res)
    assert rows[0][2] == "skipped" and rows[0][5] == "?"
    assert rows[1][1:] == ["800", "200", "4.0x", ">= 3x", "yes"]
