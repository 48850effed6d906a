"""benchmarks.vs_trax: skipping without real Trax, and reading the log."""

import sys

from benchmarks import __main__ as bench_main
from benchmarks import vs_trax


def test_skipped_with_the_reason_without_real_trax(tmp_path, capsys):
    assert "--trax-python" in vs_trax.trax_unavailable(None)
    missing = str(tmp_path / "nope")
    assert "not an executable" in vs_trax.trax_unavailable(missing)
    # This Python has trax_compat, not a package named trax.
    assert "no 'trax' package" in vs_trax.trax_unavailable(sys.executable)
    bench_main.main(["--vs-trax", "--quick", "--trax-python", missing])
    out = capsys.readouterr().out
    row = [l for l in out.splitlines() if l.startswith("7. vs real Trax")]
    assert len(row) == 1 and "skipped" in row[0] and "not an executable" in row[0]


def test_summarise_reads_first_step_and_rates_after_it():
    r = {"lines": [
        [0.5, "Step      1: Total number of trainable weights: 2097666"],
        [0.8, "Step      1: Ran 1 train steps in 0.80 secs"],
        [0.9, "Step      1: eval      WeightedCategoryAccuracy |  0.5"],
        [2.0, "Step    500: Ran 499 train steps in 1.00 secs"],
        [4.0, "Step   1000: Ran 500 train steps in 1.50 secs"]]}
    out = vs_trax.summarise(r)
    assert out["first_log_s"] == 0.8
    assert out["log_windows"] == [(1, 0.8), (499, 1.0), (500, 1.5)]
    assert out["log_steps_per_s"] == 999 / 2.5


def test_rows_give_ratios_to_trax():
    med = {"trax": dict(run_s=40.0, first_log_s=4.0, log_steps_per_s=50.0,
                        import_s=20.0, process_s=70.0),
           "ours cold": dict(run_s=8.0, first_log_s=2.0, log_steps_per_s=400.0,
                             import_s=2.0, process_s=14.0),
           "ours warm": dict(run_s=5.0, first_log_s=0.5, log_steps_per_s=400.0,
                             import_s=2.0, process_s=10.0)}
    rows = {r[0]: r for r in vs_trax.rows({"median": med, "steps": 2000})}
    assert rows["6. ours cold cache vs Trax: run(2000) wall (s)"][3] == (
        "5.0x faster")
    assert rows["6. ours warm cache vs Trax: run(2000) wall (s)"][3] == (
        "8.0x faster")
    assert rows["6. import trax (in the script, s)"][3] == "10x faster"


def test_floor_row_bounds_the_speed_up_by_the_optimizer_alone():
    med = {c: dict(run_s=s, first_log_s=1.0, log_steps_per_s=100.0,
                   import_s=1.0, process_s=10.0)
           for c, s in (("trax", 24.0), ("ours cold", 7.0),
                        ("ours warm", 5.5))}
    rows = {r[0]: r for r in vs_trax.rows(
        {"median": med, "steps": 2000, "floor_median_s": 3.2})}
    floor = rows["6. floor: Trax's Adam alone, 2000 updates (s)"]
    assert floor[1:] == ["3.2", "24.0", "at most 7.5x"]


def test_the_floor_times_the_tutorial_s_optimizer_on_its_weights():
    from benchmarks import adam_floor  # pylint: disable=g-import-not-at-top
    result = adam_floor.measure(steps=3, repeats=2)
    # The tutorial's weight count, as Trax's log prints it.
    assert result["n_weights"] == 2097666
    assert len(result["all"]) == 2 and result["seconds"] > 0
