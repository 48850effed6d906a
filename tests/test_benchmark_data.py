"""benchmarks.data_speed: the tutorial pipeline's throughput rows, and their
summary rows with and without a real-Trax measurement."""

from benchmarks import __main__ as bench
from benchmarks import data_speed


def test_text_pipeline_is_measured_on_fresh_text():
    cfg = {"batches": 3, "repeats": 1}
    figures = data_speed.measure("trax_compat", cfg)
    for name in ("text", "text-cycled"):
        row = figures[name]
        # Three batches of at most 512 examples each, bucketed from the source.
        assert 3 <= row["examples"] <= 3 * 512 + 512
        assert row["examples_per_s"] > 0 and row["seconds"] > 0
        assert row["cpu_us"] > 0
    # Enough distinct texts that Tokenize's memo never serves a repeat.
    assert "repeated_texts" not in figures["text"]
    assert figures["text"]["examples"] <= data_speed._fresh_count(cfg)  # pylint: disable=protected-access


def test_fresh_texts_are_distinct_and_start_with_the_corpus():
    corpus = data_speed._texts()  # pylint: disable=protected-access
    fresh = data_speed._fresh_texts(len(corpus) + 500)  # pylint: disable=protected-access
    assert len(fresh) == len(corpus) + 500
    assert len({t for t, _ in fresh}) == len(fresh)
    assert [t for t, _ in fresh[:100]] == [t for t, _ in corpus[:100]]


def test_summary_rows_say_when_trax_was_not_measured():
    args = bench.parse_args(["--data"])
    res = {"data": {"rows": [
        {"pipeline": "text", "ours": 900.0, "trax": None, "speedup": None},
        {"pipeline": "tfds", "ours": 800.0, "trax": 200.0, "speedup": 4.0}]}}
    rows = bench.summary_rows(args, res)
    assert rows[0][2] == "skipped" and rows[0][5] == "?"
    assert rows[1][1:] == ["800", "200", "4.0x", ">= 3x", "yes"]


def test_summary_rows_cpu_time_and_informational_rows():
    args = bench.parse_args(["--data"])
    res = {"data": {"rows": [
        {"pipeline": "text", "ours": 900.0, "trax": 300.0, "speedup": 3.0,
         "cpu_us": 10.0, "trax_cpu_us": 40.0, "target": 3.0},
        {"pipeline": "text-cycled", "ours": 1800.0, "trax": 300.0,
         "speedup": 6.0, "cpu_us": 5.0, "trax_cpu_us": None,
         "target": None}]}}
    rows = bench.summary_rows(args, res)
    assert rows[0][1:] == ["900", "300", "3.0x", ">= 3x", "yes"]
    assert rows[1][1:] == ["10.0", "40.0", "4.0x less", "", ""]
    assert rows[2][4:] == ["", ""]  # no target for the memo-served row
    assert rows[3][2] == "skipped"
