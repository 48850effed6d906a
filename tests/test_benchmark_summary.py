"""python -m benchmarks' summary rows for the Loop section, with the
scheduled (A2) and user-layer (A3) contenders present."""

from benchmarks import __main__ as bench


def test_loop_rows_cover_every_pair():
    names = ["A  trax_compat training.Loop", "B1 Flax + optax.adam",
             "A2 = A + TrainTask(lr_schedule=multifactor())",
             "B5 Flax + optax.adam(multifactor() as optax schedule)",
             "A3 = A with user-written forward layers"]
    medians = dict(zip(names, [400.0, 500.0, 380.0, 400.0, 360.0]))
    loop = {"names": names, "medians": medians,
            "ratio": {"B1": 0.8, "A2/B5": 0.95, "A3/A": 0.9},
            "paired": {"B1": 0.81, "A2/B5": 0.96, "A3/A": 0.91}}
    rows = bench._loop_rows("1. Loop", loop)  # pylint: disable=protected-access
    assert [r[0] for r in rows] == [
        "1. Loop / Flax + optax.adam (steps/s)",
        "1. Loop: A2 / B5 (steps/s)", "1. Loop: A3 / A (steps/s)"]
    assert rows[0][1:] == ["400", "500", "0.80 (paired 0.81)", ">= 0.9", "NO"]
    assert rows[1][1:3] == ["380", "400"] and rows[1][5] == "yes"
    assert rows[2][1:3] == ["360", "400"] and rows[2][5] == "yes"
