"""Section 6's rows (``benchmarks/native_*.py``): each times the native
program's own ``train_step`` against a twin ``Loop`` doing the same
training, i.e. from the same initial weights over the same batches to the
same weights; and a row's ``measure`` returns what the summary table reads.
Tiny sizes: nothing here is a benchmark run. The language-model rows start
the native program from the twin's weights (converted), at tiny sizes of
each program's config."""

import importlib

import jax
import numpy as np
import pytest

from benchmarks import native_vs_twin

NEW_ROWS = ("imdb", "fashion_mnist", "earlystopping")
# Row -> config changes: tiny models, odd batch sizes, no dropout (the two
# sides draw their masks from different generators).
LM_ROWS = {
    "deep_ngram": dict(d_model=16, n_layers=2, batch_size=5, max_length=24),
    "transformer_lm": dict(d_model=16, d_ff=32, n_layers=1, n_heads=2,
                           max_len=32, dropout=0.0, max_length=24,
                           batch_size=3, warmup_steps=4),
}


def _leaves(params):
    """The weights as arrays, sorted by shape and sum (the Loop's tree is in
    layer order, the native one by name)."""
    arrays = [np.asarray(x, np.float64)
              for x in jax.tree_util.tree_leaves(params)]
    return sorted(arrays, key=lambda x: (x.shape, float(x.sum())))


def _assert_same_weights(twin, native, native_params=None):
    ours = _leaves(native.state.params if native_params is None
                   else native_params)
    theirs = _leaves(twin.loop.train_state.params)
    assert [x.shape for x in ours] == [x.shape for x in theirs]
    for a, b in zip(ours, theirs):
        # Float32 sums in another order, amplified by Adam (seen: 2.5e-5 on
        # one Fashion-MNIST conv weight); one step more or less moves every
        # weight by about the learning rate, 1e-2.
        np.testing.assert_allclose(a, b, rtol=1e-4,
                                   atol=2e-4 * max(1.0, np.abs(b).max()))


@pytest.mark.parametrize("row", NEW_ROWS)
def test_native_and_twin_do_the_same_training(row):
    module_name, folder = native_vs_twin.ROWS[row]
    module = importlib.import_module(module_name)
    config = importlib.import_module(
        folder.replace("/", ".") + ".configs.default").get_config()
    args = module.parse_args(["--steps", "1", "--rounds", "1",
                              "--warmup", "1"])
    warmup, timed = module.make_batches(args, config)
    # Warm-up holds one batch of every timed shape, then the extra ones.
    shapes = {tuple(np.shape(x) for x in b) for b in warmup}
    assert {tuple(np.shape(x) for x in b) for b in timed} <= shapes
    twin = module.twin_contender(warmup[0], config.learning_rate)
    native = module.native_contender(config)
    assert native.name.startswith("B7 ") and folder in native.name
    _assert_same_weights(twin, native)
    batches = warmup + timed
    twin.run(batches)
    native.run(batches)
    assert int(native.state.step) == len(batches)
    assert int(twin.loop.step) == len(batches)
    _assert_same_weights(twin, native)
    # The loss the native loop merged each step is a real training loss.
    loss = float(native._metrics.compute()["loss"])  # pylint: disable=protected-access
    assert np.isfinite(loss) and loss > 0


@pytest.mark.parametrize("row", sorted(LM_ROWS))
def test_lm_native_and_twin_do_the_same_training(row):
    module_name, folder = native_vs_twin.ROWS[row]
    module = importlib.import_module(module_name)
    config = importlib.import_module(
        folder.replace("/", ".") + ".configs.default").get_config()
    config.update(LM_ROWS[row])
    args = module.parse_args(["--steps", "1", "--rounds", "1",
                              "--warmup", "1"])
    warmup, timed = module.make_batches(args, config)
    assert warmup[0][0].shape == (config.batch_size, config.max_length)
    twin = module.twin_contender(warmup[0], config.learning_rate, config)
    native = module.native_contender(config, twin)
    assert native.name.startswith("B7 ") and folder in native.name
    _assert_same_weights(twin, native, module.native_weights(native, config))
    batches = warmup + timed
    twin.run(batches)
    native.run(batches)
    assert int(native.state.step) == int(twin.loop.step) == len(batches)
    _assert_same_weights(twin, native, module.native_weights(native, config))
    loss = float(native._metrics.compute()["loss"])  # pylint: disable=protected-access
    assert np.isfinite(loss) and loss > 0


def test_a_row_measures_native_over_twin():
    result = native_vs_twin.measure_all(quick=True, rows=["earlystopping"],
                                        log=lambda *_: None)["earlystopping"]
    names, medians = result["names"], result["medians"]
    assert names[0].startswith("A ") and names[1].startswith("B7 ")
    assert result["compiles_during_timing"] == 0
    np.testing.assert_allclose(result["native_over_twin"],
                               medians[names[1]] / medians[names[0]])
    assert result["native_over_twin_paired"] > 0
