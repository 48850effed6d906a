"""Trax's configs that read local files (MathQA, AQuA-RAT, annotated DROP)
through a placeholder ``dataset_path = 'path_to_the_dataset'``, or TFDS
GLUE benchmarks: with the path bound to the tiny files of tests/testdata
(and the GLUE data from tiny local stand-ins, a vocabulary bound) they
build (t5_mathqa.gin
trains a step in test_gin_configs_slow_runs.py); t5_mathqa_drop_loop.gin
builds once the macro Trax's file
forgets to define is bound. What docs/gin_configs.md says of them follows
the same checks (generate_gin_configs.py)."""

import json

import pytest

gin = pytest.importorskip("gin")
pytest.importorskip("tensorflow_datasets")

from conftest import REPO, TESTDATA  # noqa: E402

from tests.testdata import gin_configs_cases as cases  # noqa: E402

CONFIGS = TESTDATA / "trax_oracle" / "gin_trainer"


@pytest.fixture(scope="module")
def drop_dir(tmp_path_factory):
    """A TFDS data dir with the stand-ins of every dataset these configs
    read (drop, and the GLUE benchmarks)."""
    from tests.testdata import tiny_tfds
    names = sorted({n for names in cases.LOCAL_FILE_TFDS.values()
                    for n in names})
    return tiny_tfds.prepare(tmp_path_factory.mktemp("tfds"),
                             tiny_tfds.stand_ins(names))


def _row(config):
    with open(TESTDATA / "gin_configs_status.json", encoding="utf-8") as f:
        return {r["config"]: r for r in json.load(f)["configs"]}[config]


def _check(config, macros, monkeypatch, drop_dir):
    from trax_compat import gin_check
    if cases.LOCAL_FILE_TFDS.get(config):
        monkeypatch.setenv("TFDS_DATA_DIR", drop_dir)
    return gin_check.check_config(
        str(CONFIGS / config), cases.local_file_bindings(macros, REPO))


@pytest.mark.parametrize("config", sorted(cases.LOCAL_FILE_CONFIGS))
def test_config_builds_with_its_dataset_path_bound(trax_alias, monkeypatch,
                                                   drop_dir, config):
    from trax_compat import gin_check
    if config in cases.GLUE_CONFIGS:
        # Its data there, the config as written still binds no vocabulary.
        monkeypatch.setenv("TFDS_DATA_DIR", drop_dir)
        as_written = gin_check.check_config(str(CONFIGS / config))
        assert "vocab_file must name a vocabulary file" in as_written.reason
    else:
        as_written = gin_check.check_config(str(CONFIGS / config))
        assert "'path_to_the_dataset'" in as_written.reason
    assert (as_written.status, as_written.stage) == ("fails", "parse")
    check = _check(config, cases.LOCAL_FILE_CONFIGS[config], monkeypatch,
                   drop_dir)
    assert (check.status, check.model, check.optimizer) == (
        "builds", "ConfigurableTransformer", "Adafactor"), check.reason
    row = _row(config)
    if row.get("bound"):  # the page as generated with these bindings
        assert (row["model"], row["data"]) == (check.model, check.data)
        assert row["status"] in ("builds", "runs")


def test_drop_loop_builds_once_trax_s_missing_macro_is_bound(
        trax_alias, monkeypatch, drop_dir):
    config = "t5_mathqa_drop_loop.gin"
    note, macros = cases.TRAX_BUGS[config]
    assert "dataset_path_drop_eval" in note
    without = {k: v for k, v in macros.items()
               if k != "dataset_path_drop_eval"}
    check = _check(config, without, monkeypatch, drop_dir)
    assert (check.status, check.stage) == ("fails", "parse")
    assert "dataset_path_drop_eval" in check.reason
    check = _check(config, macros, monkeypatch, drop_dir)
    assert (check.status, check.model) == ("builds",
                                           "ConfigurableTransformer")
    assert _row(config)["status"] == "fails"  # Trax's file, as written



def test_glue_mnli_config_builds_but_its_train_stream_is_refused(
        trax_alias, monkeypatch, drop_dir, tmp_path):
    from trax_compat import gin_registry
    from trax_compat.data import inputs_bundle
    config = "t5_glue_classification_mnli.gin"
    assert "T5GlueTrainStream()" in cases.NOTES[config]
    monkeypatch.setenv("TFDS_DATA_DIR", drop_dir)
    gin.clear_config()
    gin.add_config_file_search_path(str(CONFIGS))  # include 'c4.gin'
    gin.parse_config_files_and_bindings(
        [str(CONFIGS / config)],
        cases.local_file_bindings({}, REPO) + cases.MATHQA_RUN_BINDINGS)
    with pytest.raises(inputs_bundle.StreamTypeError,
                       match=r"make_inputs: train_stream must be a list of "
                             r"stream stages or an iterator.*not called"):
        gin_registry.configurable(trax_alias.train)(
            output_dir=str(tmp_path / "out"))
