"""The NMT native Flax program (``train/nmt_flax``) against its trax_compat
twin (``testdata/nmt_cells.py``: the tutorial's pipeline, the
encoder-decoder ``trax_compat.models.Transformer`` in a ``Loop`` with
``TrainTask``/``EvalTask``, Trax's Adam under ``warmup_and_rsqrt_decay``),
on the same parallel text: the same bucketed batches read in the same
order, the same initial weights (the twin's, converted by
``models.convert_transformer``), the same logged losses and accuracy,
resume equal to a straight run, and the same greedy translation after
training. Both also against real Trax's run of the same cells
(``trax_oracle/nmt_flax``, ``testdata/generate_nmt_flax.py``)."""

import os

import jax
import numpy as np
import pytest

import trax_compat
from models import convert_transformer
from models import transformer
from tests import native_imports
from tests.conftest import load_oracle_json
from tests.testdata import nmt_cells as cells
from train.nmt_flax import input_pipeline
from train.nmt_flax import train
from train.nmt_flax.configs import default

# Step 1 is computed from the same weights and batch: its metrics agree to
# float32 rounding. After that the two programs' float32 sums in other
# orders (XLA fuses Flax's modules and trax_compat's layers differently),
# and the schedule's rate (float32 here, a Python float in Trax), feed
# Adam, whose eps of 1e-5 magnifies ulp-sized gradient differences where
# gradients are tiny; a wrong learning rate or batch moves the metrics by
# 1e-2 or more.
STEP1_ATOL = 1e-6
ATOL = 2e-5
WEIGHTS_ATOL = 3e-5
# Per-array sums of the trained weights against real Trax's: up to 131k
# weights each within WEIGHTS_ATOL.
SUMS_ATOL = 2e-2
# Native name -> the twin's history name.
TRAX_NAMES = {"train_loss": "train/metrics/WeightedCategoryCrossEntropy",
              "eval_loss": "eval/metrics/WeightedCategoryCrossEntropy",
              "eval_accuracy": "eval/metrics/WeightedCategoryAccuracy"}
# Tiny: d_model 16, one encoder and one decoder layer, short pairs, odd
# bucket batch sizes.
HP = dict(vocab_size=8192, d_model=16, d_ff=32, n_encoder_layers=1,
          n_decoder_layers=1, n_heads=2, max_len=32, dropout=0.0,
          shuffle_queue_size=16, max_length=24, boundaries=(12, 24),
          batch_sizes=(3, 2), learning_rate=0.05, warmup_steps=3, seed=1,
          n_steps=6, eval_every_steps=3, num_eval_batches=2,
          decode_length=10)
SENTENCE = "the movie was really great today"
# The parallel files: (name, corpus seed, lines).
FILES = (("train", 11, 200), ("eval", 12, 60))


@pytest.fixture(scope="module")
def oracle():
    return load_oracle_json("nmt_flax/runs.json")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("tsv")
    return {name: input_pipeline.write_tsv(
        str(root / f"{name}.tsv"), input_pipeline.parallel_corpus(n, seed))
        for name, seed, n in FILES}


def _config(files, **changes):
    config = default.get_config()
    config.train_file, config.eval_file = files["train"], files["eval"]
    for key, value in HP.items():
        if key in config:
            config[key] = value
    config.num_train_steps = HP["n_steps"]
    config.checkpoint_every_steps = HP["eval_every_steps"]
    config.translate = SENTENCE
    config.tensorboard = False
    config.update(changes)
    return config


def _sentence_ids(config):
    vocab = input_pipeline.load_vocab(config)
    return vocab.encode(SENTENCE) + [1]


@pytest.fixture(scope="module")
def twin(files, tmp_path_factory):
    return cells.run(trax_compat, tmp_path_factory.mktemp("twin"),
                     train_file=files["train"], eval_file=files["eval"],
                     hp=HP, sentence_ids=_sentence_ids(_config(files)))


def _initial_params(twin, config):
    model = train.models.create_model(config)
    return convert_transformer.params_from_trax_weights(
        twin["initial_weights"], model)["params"]


def _run_native(config, workdir, initial_params):
    """Trains; returns the result and every batch read, tagged."""
    reads, batches = [], input_pipeline.batches
    tags = iter(["train", "eval"])

    def tapped(pairs, vocab, config, rng):
        tag = next(tags)
        for batch in batches(pairs, vocab, config, rng):
            reads.append([tag, [cells.digest(batch[k]) for k in
                                ("inputs", "targets", "weights")]])
            yield batch

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(input_pipeline, "batches", tapped)
        result = train.train_and_evaluate(config, str(workdir),
                                          initial_params=initial_params)
    return result, reads


@pytest.fixture(scope="module")
def native(files, twin, tmp_path_factory):
    config = _config(files)
    return _run_native(config, tmp_path_factory.mktemp("native"),
                       _initial_params(twin, config))


def test_pipeline_gives_the_tutorial_pipeline_s_batches(files):
    # Shuffle draws from NumPy's global generator in Trax, from the
    # program's own one here: seeded alike, the batches are the same.
    config = _config(files, max_length=40, boundaries=(8, 16, 32),
                     batch_sizes=(5, 3, 2, 1), shuffle_queue_size=7)
    vocab = input_pipeline.load_vocab(config)
    trax_pipeline = cells.pipeline(
        trax_compat, queue_size=7, max_length=40, boundaries=(8, 16, 32),
        batch_sizes=(5, 3, 2, 1))
    np.random.seed(3)
    theirs = trax_pipeline(cells.tsv_pairs(files["train"]))
    ours = input_pipeline.batches(
        input_pipeline.parallel_lines(files["train"]), vocab, config,
        np.random.RandomState(3))
    shapes = set()
    # Past the end of the file: the streams wrap around alike.
    for _ in range(60):
        batch, expected = next(ours), next(theirs)
        for key, array in zip(("inputs", "targets", "weights"), expected):
            assert batch[key].dtype == array.dtype, key
            np.testing.assert_array_equal(batch[key], array, err_msg=key)
        shapes.add((batch["inputs"].shape, batch["targets"].shape))
    # Several buckets, power-of-two and boundary paddings, unequal sides.
    assert len({s[0][0] for s in shapes}) >= 3, shapes
    assert any(a != b for a, b in shapes), shapes


def test_german_like_targets():
    assert input_pipeline.german_like("The movie was NOT great I swear") == (
        "Die Film war NICHT toll Ich swear")


def test_bad_settings_name_the_setting(files, tmp_path):
    config = _config(files, train_file=str(tmp_path / "absent.tsv"))
    with pytest.raises(FileNotFoundError, match="config.train_file"):
        input_pipeline.create_datasets(config, str(tmp_path))
    config = _config(files, batch_sizes=(3,))
    with pytest.raises(ValueError, match="config.batch_sizes"):
        input_pipeline.create_datasets(config, str(tmp_path))
    config = _config(files, max_length=30)
    with pytest.raises(ValueError, match="config.max_length 30"):
        input_pipeline.create_datasets(config, str(tmp_path))
    bad = tmp_path / "bad.tsv"
    bad.write_text("no tab here\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.tsv:1: expected"):
        next(input_pipeline.parallel_lines(str(bad)))


def test_schedule_is_trax_s_warmup_and_rsqrt_decay():
    schedule = train.warmup_and_rsqrt_decay(40, 0.01)
    trax_schedule = trax_compat.lr.warmup_and_rsqrt_decay(40, 0.01)
    counts = np.arange(200)
    np.testing.assert_allclose([float(schedule(np.int32(c))) for c in counts],
                               [trax_schedule(c + 1) for c in counts],
                               rtol=1e-6)


def test_every_batch_is_read_as_the_twin_read_it(native, twin):
    # The construction reads of TrainTask/EvalTask, then each step's train
    # batch and each evaluation's eval batches, interleaved alike.
    expected = [r for r in twin["reads"] if r[0] != "loop_built"]
    assert native[1] == expected
    # Bucketed (these pairs mostly fill the second bucket: one compile).
    shapes = {tuple(r[1][0]["shape"]) for r in expected}
    assert (2, 24) in shapes and shapes <= {(3, 12), (3, 8), (2, 24),
                                            (2, 16)}, shapes


def test_logged_metrics_are_the_twin_s(native, twin):
    history = native[0].history
    for ours, theirs in TRAX_NAMES.items():
        steps = [s for s, _ in twin["history"][theirs]]
        assert steps == [1, 3, 6]
        assert sorted(s for s in history if ours in history[s]) == steps
        values = [v for _, v in twin["history"][theirs]]
        np.testing.assert_allclose(history[1][ours], values[0], rtol=0,
                                   atol=STEP1_ATOL, err_msg=ours)
        np.testing.assert_allclose([history[s][ours] for s in steps],
                                   values, rtol=0, atol=ATOL, err_msg=ours)
    # Training moved the loss.
    losses = [history[s]["train_loss"] for s in (1, 6)]
    assert losses[1] < losses[0] - 0.1, losses


def test_trained_weights_are_the_twin_s(native, twin):
    result = native[0]
    expected = convert_transformer.params_from_trax_weights(
        twin["final_weights"], result.model)["params"]
    for (path, ours), theirs in zip(
            jax.tree_util.tree_leaves_with_path(result.state.params),
            jax.tree_util.tree_leaves(expected)):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=WEIGHTS_ATOL,
                                   err_msg=jax.tree_util.keystr(path))
    assert int(result.state.step) == twin["step"] == HP["n_steps"]


def test_greedy_translation_is_the_twin_s(files, native, twin):
    tokens, text = train.translate(native[0], SENTENCE, HP["decode_length"])
    np.testing.assert_array_equal(tokens, twin["translation"])
    assert text == native[0].vocab.decode(tokens[0, :-1].tolist())
    # Sampled at temperature 1 with the twin's Gumbel draws (NumPy's
    # generator, seeded alike), past the end id: the same tokens.
    sampled = transformer.decode_transformer(
        native[0].model, {"params": native[0].state.params},
        np.array([_sentence_ids(_config(files))]),
        max_length=HP["decode_length"], eos_id=-1, temperature=1.0,
        rng=np.random.RandomState(HP["seed"]))
    np.testing.assert_array_equal(sampled, twin["sampled_translation"])
    assert sampled.shape == (1, HP["decode_length"])
    assert len(set(sampled[0].tolist())) > 3, sampled


def test_resume_equals_straight_run(files, twin, native, tmp_path):
    first = _config(files, num_train_steps=HP["eval_every_steps"])
    params = _initial_params(twin, first)
    train.train_and_evaluate(first, str(tmp_path), initial_params=params)
    # The rerun restores step 3 from the checkpoint (its own initial
    # params are ignored) and reads past the batches steps 1-3 read,
    # drawing the shuffle's numbers again.
    resumed = train.train_and_evaluate(_config(files), str(tmp_path))
    straight = native[0]
    assert sorted(resumed.history) == [6]
    for name in TRAX_NAMES:
        assert resumed.history[6][name] == straight.history[6][name], name
    for ours, theirs in zip(jax.tree_util.tree_leaves(resumed.state),
                            jax.tree_util.tree_leaves(straight.state)):
        np.testing.assert_array_equal(ours, theirs)


def test_program_imports_no_trax_compat():
    # Everything the program imports from this repository, followed
    # transitively: none of it is trax_compat.
    seen = native_imports.repository_files_imported(
        "nmt_flax", ("main.py", "train.py", "input_pipeline.py",
                     "models.py"))
    assert any(p.endswith(os.path.join("models", "transformer.py"))
               for p in seen)


# The tutorial's calls, in this project's words (as a user's script).
TUTORIAL = """
import trax
from trax import layers as tl
from trax.supervised import training

pairs = trax.data.TFDS('wmt14_translate/de-en', keys=('en', 'de'),
                       train=True)()
batches = trax.data.Serial(
    trax.data.Tokenize(vocab_file='ende_32k.subword', keys=[0, 1]),
    trax.data.Shuffle(),
    trax.data.FilterByLength(max_length=256, length_keys=[0, 1]),
    trax.data.BucketByLength(boundaries=[16, 64, 256],
                             batch_sizes=[64, 16, 4, 1], length_keys=[0, 1]),
    trax.data.AddLossWeights(id_to_mask=0))(pairs)
translator = trax.models.Transformer(input_vocab_size=33300, d_model=256,
                                     mode='train')
task = training.TrainTask(
    labeled_data=batches, loss_layer=tl.WeightedCategoryCrossEntropy(),
    optimizer=trax.optimizers.Adam(0.01),
    lr_schedule=trax.lr.warmup_and_rsqrt_decay(500, 0.01))
check = training.EvalTask(labeled_data=batches, metrics=[
    tl.WeightedCategoryCrossEntropy(), tl.WeightedCategoryAccuracy()])
training.Loop(translator, task, eval_tasks=[check], output_dir='nmt').run(9)
out = trax.supervised.decoding.autoregressive_sample(translator, None)
"""


def test_migrate_plan_knows_the_tutorial_s_calls(tmp_path):
    from trax_compat import migrate  # pylint: disable=g-import-not-at-top
    path = tmp_path / "nmt_tutorial.py"
    path.write_text(TUTORIAL, encoding="utf-8")
    findings = {f.name: f for f in migrate.plan(str(path))}
    assert all(f.equivalent for f in findings.values()), [
        n for n, f in findings.items() if not f.equivalent]
    assert {"trax.data.BucketByLength", "trax.data.Shuffle",
            "trax.supervised.decoding.autoregressive_sample",
            "trax.supervised.training.Loop"} <= set(findings)
    for name in ("trax.models.Transformer", "trax.lr.warmup_and_rsqrt_decay"):
        assert findings[name].page.startswith("docs/migration/nmt.md#"), name


def _leaves(weights):
    """Trax's flat weight order."""
    if isinstance(weights, dict):
        return []
    if isinstance(weights, (tuple, list)):
        return [leaf for w in weights for leaf in _leaves(w)]
    return [np.asarray(weights)]


def _as_list(hp):
    return {k: list(v) if isinstance(v, tuple) else v for k, v in hp.items()}


def test_oracle_ran_this_test_s_case(oracle, files):
    assert oracle["runs_hp"]["a"] == _as_list(HP)
    assert [tuple(f) for f in oracle["files"]] == list(FILES)
    assert oracle["sentence"] == SENTENCE
    # Real Trax's tokenizer gave the sentence the ids this program reads.
    assert oracle["runs"]["a"]["sentence_ids"] == _sentence_ids(
        _config(files))


def test_twin_starts_from_real_trax_s_weights(twin, oracle):
    # So the native run, which starts from the twin's weights converted,
    # starts where real Trax's Loop(random_seed=1) started (sums: the
    # normal sampler of this JAX may differ from that of the JAX real Trax
    # ran on by an ulp in a few of the 1e-6 * normal bias draws).
    weights = _leaves(twin["initial_weights"])
    expected = oracle["runs"]["a"]
    assert [w.shape for w in weights] == [
        tuple(d["shape"]) for d in expected["initial_weights"]]
    np.testing.assert_allclose(
        [float(np.asarray(w, np.float64).sum()) for w in weights],
        expected["initial_weight_sums"], rtol=0, atol=1e-9)


def test_every_batch_is_read_as_real_trax_read_it(native, oracle):
    expected = [r for r in oracle["runs"]["a"]["reads"]
                if r[0] != "loop_built"]
    assert native[1] == expected


@pytest.mark.parametrize("name", ["four_buckets", "unbounded"])
def test_pipeline_gives_real_trax_s_batches(files, oracle, name):
    case = oracle["batches_hp"][name]
    config = _config(files, max_length=case["max_length"],
                     boundaries=tuple(case["boundaries"]),
                     batch_sizes=tuple(case["batch_sizes"]),
                     shuffle_queue_size=case["queue_size"])
    ours = input_pipeline.batches(
        input_pipeline.parallel_lines(files["train"]),
        input_pipeline.load_vocab(config), config,
        np.random.RandomState(case["seed"]))
    got = [[cells.digest(b[k]) for k in ("inputs", "targets", "weights")]
           for b in (next(ours) for _ in range(case["n"]))]
    assert got == oracle["batches"][name]


def test_logged_metrics_are_real_trax_s(native, oracle):
    history, expected = native[0].history, oracle["runs"]["a"]["history"]
    for ours, theirs in TRAX_NAMES.items():
        steps = [s for s, _ in expected[theirs]]
        assert sorted(s for s in history if ours in history[s]) == steps
        values = [v for _, v in expected[theirs]]
        np.testing.assert_allclose(history[1][ours], values[0], rtol=0,
                                   atol=STEP1_ATOL, err_msg=ours)
        np.testing.assert_allclose([history[s][ours] for s in steps],
                                   values, rtol=0, atol=ATOL, err_msg=ours)


def test_trained_weights_and_translation_are_real_trax_s(native, oracle):
    result, expected = native[0], oracle["runs"]["a"]
    flat = convert_transformer.trax_flat_weights_from_params(
        {"params": result.state.params}, result.model)
    sums = [float(np.asarray(w, np.float64).sum()) for w in flat]
    np.testing.assert_allclose(sums, expected["final_weight_sums"], rtol=0,
                               atol=SUMS_ATOL)
    tokens, _ = train.translate(result, SENTENCE, HP["decode_length"])
    assert tokens.tolist() == expected["translation"]
    sampled = transformer.decode_transformer(
        result.model, {"params": result.state.params},
        np.array([expected["sentence_ids"]]),
        max_length=HP["decode_length"], eos_id=-1, temperature=1.0,
        rng=np.random.RandomState(HP["seed"]))
    assert sampled.tolist() == expected["sampled_translation"]
