"""Trax's own gin configs (copied unchanged into the gin_trainer oracle
folder) on trax_compat: their status is the one docs/gin_configs.md gives,
reformer_copy.gin trains as real Trax's trainer did (copy and addition
tasks), and mlp_mnist.gin trains on a tiny local mnist stand-in."""

import json
import re
import sys

import numpy as np
import pytest

gin = pytest.importorskip("gin")
pytest.importorskip("tensorflow_datasets")

from conftest import REPO, TESTDATA  # noqa: E402
from test_gin_trainer_oracle import _normalized  # noqa: E402

from tests.testdata import gin_configs_cases  # noqa: E402

CONFIGS = TESTDATA / "trax_oracle" / "gin_trainer"


def _status():
    with open(TESTDATA / "gin_configs_status.json", encoding="utf-8") as f:
        return json.load(f)


def test_status_page_is_the_generated_one():
    sys.path.insert(0, str(TESTDATA))
    try:
        from tests.testdata import generate_gin_configs
    finally:
        sys.path.remove(str(TESTDATA))
    status = _status()
    page = (REPO / "docs" / "gin_configs.md").read_text(encoding="utf-8")
    assert page == generate_gin_configs.markdown(status["configs"],
                                                 status["trax_commit"])
    assert len(status["configs"]) == 83
    runs = {r["config"] for r in status["configs"] if r["status"] == "runs"}
    assert runs == set(gin_configs_cases.RUN_IN_TESTS)


@pytest.mark.parametrize("config", sorted(
    p.name for p in CONFIGS.glob("*.gin")))
def test_check_gives_the_pages_status(trax_alias, config, monkeypatch):
    from trax_compat import gin_check
    from trax_compat.data import network_probe
    # A config whose TFDS data is not here (GLUE) must not download it.
    monkeypatch.setattr(network_probe, "offline_reason",
                        lambda: "the tests never download")
    row = {r["config"]: r for r in _status()["configs"]}[config]
    check = gin_check.check_config(str(CONFIGS / config))
    if row["reason"].startswith("DatasetNotPreparedError"):
        # The data dir named is this machine's.
        assert check.stage == row["stage"]
        assert (check.reason.split(" in data_dir")[0]
                == row["reason"].split(" in data_dir")[0])
    else:
        assert (check.stage, check.reason) == (row["stage"], row["reason"])
    assert check.status == ("fails" if row["stage"] else "builds")
    if row.get("bound") and row["status"] != "fails":
        # The page's model and data are those built with the placeholder
        # path bound (test_gin_configs_local_data.py checks them).
        return
    assert (check.model, check.data) == (row["model"], row["data"])


def _trax_run(name):
    with open(CONFIGS / "gin_trainer.json", encoding="utf-8") as f:
        return json.load(f)["runs"][name]


@pytest.mark.parametrize("name", ["copy_lm", "addition_lm"])
def test_reformer_copy_config_with_the_runs_bindings_builds(trax_alias,
                                                             name):
    from trax_compat import gin_check
    run = _trax_run(name)
    check = gin_check.check_config(str(CONFIGS / run["config"]),
                                   run["bindings"])
    assert (check.status, check.model) == ("builds", "TransformerLM")
    assert check.data.startswith("generated")


# copy_lm's log matched Trax's too when it was recorded; only addition_lm is
# trained here (copy_lm's batches come in two lengths: twice the compiling).
@pytest.mark.parametrize("name", ["addition_lm"])
def test_reformer_copy_config_logs_as_trax(trax_alias, tmp_path, capsys,
                                           name):
    run = _trax_run(name)
    assert run["config"] == "reformer_copy.gin"
    gin.clear_config()
    gin.parse_config_files_and_bindings([str(CONFIGS / run["config"])],
                                        run["bindings"])
    from trax_compat import gin_registry
    capsys.readouterr()
    # What `trax-compat trainer` does after parsing, in this process.
    gin_registry.configurable(trax_alias.train)(output_dir=str(tmp_path))
    trax_alias.log("Finished training.")
    ours = _normalized(capsys.readouterr().out)
    trax = _normalized(run["stdout"])
    assert [r[:4] for r in ours] == [r[:4] for r in trax]
    for a, b in zip(ours, trax):
        if a[0] == "scalar":
            assert a[4] == pytest.approx(b[4], rel=1e-5, abs=1e-6), a


def test_mlp_mnist_config_trains_on_a_local_stand_in(trax_alias, tmp_path,
                                                     capsys):
    from tests.testdata import tiny_tfds
    data_dir = tiny_tfds.prepare(tmp_path / "tfds", (tiny_tfds.MnistStandIn,))
    gin.clear_config()
    gin.parse_config_files_and_bindings(
        [str(CONFIGS / "mlp_mnist.gin")],
        gin_configs_cases.MLP_MNIST_BINDINGS + [
            f"data_streams.data_dir = {data_dir!r}"])
    from trax_compat import gin_registry
    out = tmp_path / "out"
    loop = gin_registry.configurable(trax_alias.train)(output_dir=str(out))
    assert loop.step == 6
    log = capsys.readouterr().out
    accuracy = [float(line.split("|")[1]) for line in log.splitlines()
                if "eval" in line and line.split("|")[0].strip().endswith(
                    " accuracy")]
    assert len(accuracy) == 3  # steps 1, 3 and 6
    assert all(0.0 <= a <= 1.0 for a in accuracy)
    # The config's checkpoint_highest='accuracy' keeps the best eval.
    assert (out / "checkpoints" / "highest_accuracy").is_dir()
    assert "MLP.layer_widths = (16,)" in (out / "config.gin").read_text()


def test_transformer_imdb_tfds_config_trains_without_t5(
        trax_alias, tmp_path, capsys, vocab_dir, monkeypatch):
    from tests.testdata import tiny_tfds
    from trax_compat.data import t5_fallback
    # As on a machine without the t5 package (CI's), even where it is.
    monkeypatch.setattr(t5_fallback, "t5_installed", lambda: False)
    # Trax's train stream first skips up to 1e5 preprocessed examples; over
    # the stand-in's few reviews that is the test's whole cost (~40 s).
    from trax_compat.data import tf_inputs
    monkeypatch.setattr(tf_inputs, "_MAX_SKIP_EXAMPLES", 100)
    data_dir = tiny_tfds.prepare(tmp_path / "tfds",
                                 (tiny_tfds.ImdbReviewsStandIn,))
    spm = str(vocab_dir / "sentencepiece.model")
    gin.clear_config()
    gin.parse_config_files_and_bindings(
        [str(CONFIGS / "transformer_imdb_tfds.gin")],
        gin_configs_cases.IMDB_TFDS_BINDINGS + [
            f"data_streams.data_dir = {data_dir!r}",
            f"generic_text_dataset_preprocess_fn.spm_path = {spm!r}"])
    from trax_compat import gin_registry
    out = tmp_path / "out"
    loop = gin_registry.configurable(trax_alias.train)(output_dir=str(out))
    assert loop.step == 4
    log = capsys.readouterr().out
    evals = re.findall(r"^Step +(\d+): eval +accuracy \|", log, re.M)
    assert evals == ["1", "2", "4"]
    train = [float(line.split("|")[1]) for line in log.splitlines()
             if "train WeightedCategoryCrossEntropy" in line]
    assert len(train) == 3 and all(np.isfinite(train))
    assert ("rekey/get_t5_preprocessor_by_name.name = 'rekey'"
            in (out / "config.gin").read_text())


def test_gin_check_command_prints_one_line_per_config(trax_alias, capsys,
                                                     tmp_path):
    from trax_compat import gin_check
    missing = tmp_path / "missing_model.gin"
    missing.write_text("import trax.models\nimport trax.supervised.trainer_lib"
                       "\ntrain.model = @trax.models.Policy\n")
    code = gin_check.main([str(CONFIGS / "mlp_mnist.gin"),
                           str(CONFIGS / "rse_addition.gin"), str(missing)])
    out = capsys.readouterr().out.splitlines()
    assert code == 1  # one of them fails
    assert out == [
        "mlp_mnist.gin: builds MLP with Adam; data: TFDS `mnist`",
        "rse_addition.gin: builds ResidualShuffleExchange with Adam; data: "
        "generated (addition_inputs)",
        "missing_model.gin: fails at parse: "
        "`trax.models.Policy` not in trax_compat"]
