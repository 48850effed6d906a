"""tf_inputs' GLUE, DROP, MathQA and AQuA stream names: they exist under
Trax's names, and without their data they say what is needed."""

import pytest

import trax_compat as trax
from trax_compat.data import tf_inputs
from trax_compat.data import tfds_source

NAMES = ["BertGlueTrainStream", "BertGlueEvalStream", "T5GlueTrainStream",
         "T5GlueEvalStream", "T5GlueTrainStreamsParallel",
         "T5GlueEvalStreamsParallel", "T5GlueEvalTasks", "CreateDropInputs",
         "CreateMathQAInputs", "CreateAquaInputs",
         "CreateAnnotatedDropInputs"]


def test_names_exist_in_tf_inputs_and_data():
    for name in NAMES:
        assert getattr(trax.data, name) is getattr(tf_inputs, name)


@pytest.mark.parametrize("make", [tf_inputs.BertGlueTrainStream,
                                  tf_inputs.T5GlueEvalStream])
def test_glue_benchmark_is_checked(make):
    with pytest.raises(ValueError, match="needs benchmark"):
        make()
    with pytest.raises(ValueError, match="'cola'"):
        make("colaa")


def test_glue_without_data_says_how_to_prepare_it(tmp_path, monkeypatch):
    # Reading from an empty data dir (as if the default one had no GLUE).
    monkeypatch.setattr(tfds_source, "prepare",
                        lambda name, data_dir=None, what=None: str(tmp_path))
    with pytest.raises(tfds_source.DatasetNotPreparedError,
                       match="glue/rte.*tfds build|glue/rte"):
        tf_inputs.BertGlueEvalStream("rte_e2")


@pytest.mark.parametrize("make, url", [
    (tf_inputs.CreateMathQAInputs, "math-qa"),
    (tf_inputs.CreateAquaInputs, "AQuA"),
    (tf_inputs.CreateAnnotatedDropInputs, "allenai")])
def test_file_datasets_name_what_they_need(make, url, tmp_path):
    with pytest.raises(ValueError, match=url):
        make()
    with pytest.raises(FileNotFoundError, match=r"dev.*\.json"):
        make(dataset_path=str(tmp_path), train=False)
