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


def _native_result(twin_rate, native_rate, paired):
    names = ["A  trax_compat training.Loop", "B7 native Flax program"]
    return {"names": names,
            "medians": dict(zip(names, [twin_rate, native_rate])),
            "native_over_twin": native_rate / twin_rate,
            "native_over_twin_paired": paired}


def test_native_rows_one_per_program():
    native = {"sentiment": _native_result(235.0, 302.0, 1.29),
              "imdb": _native_result(40.0, 38.0, 0.95),
              "fashion_mnist": _native_result(22.0, 18.0, 0.85),
              "earlystopping": _native_result(1440.0, 11450.0, 7.09),
              "deep_ngram": _native_result(0.8, 0.84, 1.02),
              "transformer_lm": _native_result(31.0, 29.0, 0.92)}
    rows = bench._native_rows(native)  # pylint: disable=protected-access
    assert [r[0] for r in rows] == [
        f"6. native train/{p}_flax / trax_compat twin (steps/s)"
        for p in ("sentiment", "imdb", "fashion_mnist", "earlystopping",
                  "deep_ngram", "transformer_lm")]
    assert rows[0][1:] == ["302", "235", "1.29 (paired 1.29)", ">= 0.9",
                           "yes"]
    assert rows[1][1:4] == ["38", "40", "0.95 (paired 0.95)"]
    # The paired ratio decides.
    assert [r[5] for r in rows] == ["yes", "yes", "NO", "yes", "yes", "yes"]
    # Under 10 steps/s: two decimals.
    assert rows[4][1:4] == ["0.84", "0.80", "1.05 (paired 1.02)"]
    assert bench._native_rows(None) == []  # pylint: disable=protected-access
