"""CreateMathQAInputs, CreateAquaInputs and CreateAnnotatedDropInputs against
real Trax (``tests/testdata/trax_oracle/data_mathqa_inputs/``, from
``generate_data_mathqa_inputs.py``): the same tiny files, the same option
sets and seeds, the same items, and the same global random numbers after."""

import gzip
import json
import pathlib
import random

import numpy as np
import pytest

import trax_compat as trax
from trax_compat.data import reasoning_inputs
from trax_compat.data import tf_inputs

ROOT = (pathlib.Path(__file__).resolve().parent / "testdata" / "trax_oracle"
        / "data_mathqa_inputs")


def _oracle():
    with gzip.open(ROOT / "data_mathqa_inputs.json.gz", "rt",
                   encoding="utf-8") as f:
        return json.load(f)


ORACLE = _oracle()


def _record(item):
    return [{"dtype": x.dtype.name, "data": x.tolist()}
            if isinstance(x, np.ndarray) else x for x in item]


def _case_id(case):
    return "%s-%s-%s" % (case["fn"], case["folder"],
                         ",".join("%s=%s" % kv for kv in case["kwargs"].items())
                         or "defaults")


@pytest.mark.parametrize("case", ORACLE["cases"], ids=_case_id)
def test_items_match_trax(case):
    np.random.seed(case["seed"])
    random.seed(case["seed"])
    make = getattr(tf_inputs, case["fn"])
    gen = make(dataset_path=str(ROOT / case["folder"]), **case["kwargs"])()
    ours = [_record(next(gen)) for _ in range(case["n"])]
    after = [float(np.random.uniform()), random.random()]
    theirs = case["items"]
    if case["unordered"]:
        # Trax reads the files in the file system's order; we, by name.
        ours, theirs = (sorted(ours, key=json.dumps),
                        sorted(theirs, key=json.dumps))
    assert ours == theirs
    assert after == case["after"]


def test_names_are_trax_data_names():
    for name in ("CreateMathQAInputs", "CreateAquaInputs",
                 "CreateAnnotatedDropInputs"):
        assert getattr(trax.data, name) is getattr(reasoning_inputs, name)


def test_aqua_needs_a_task_at_once():
    # Trax raises the same complaint, but only when the stream is first read.
    assert ORACLE["aqua_no_task"].startswith("ValueError")
    with pytest.raises(ValueError, match="needs a task.*order_prediction"):
        tf_inputs.CreateAquaInputs(dataset_path=str(ROOT / "aqua"))


def test_data_that_yield_nothing_fail_instead_of_spinning(tmp_path):
    (tmp_path / "train.json").write_text(json.dumps([
        {"Problem": "add 1 and 2", "options": "a ) 7 , b ) 8", "correct": "a",
         "linear_formula": "add(n0,n1)"}]))
    gen = tf_inputs.CreateMathQAInputs(dataset_path=str(tmp_path))()
    with pytest.raises(ValueError, match="train.json yields no examples.*"
                                         "tolerance=0.01"):
        next(gen)
    (tmp_path / "dev.json").write_text("")
    with pytest.raises(ValueError, match="dev.json yields no examples"):
        next(tf_inputs.CreateAquaInputs(dataset_path=str(tmp_path),
                                        train=False, rationale=True)())


def test_bad_files_name_the_file_the_line_and_the_field(tmp_path):
    (tmp_path / "train.json").write_text('{"question": "q", "rationale": "r"}'
                                         '\nnot json\n')
    with pytest.raises(ValueError, match=r"train.json, line 2.*one JSON"):
        tf_inputs.CreateAquaInputs(dataset_path=str(tmp_path), rationale=True)
    (tmp_path / "train.json").write_text('{"question": "q", "rationale": "r"}')
    gen = tf_inputs.CreateAquaInputs(dataset_path=str(tmp_path),
                                     correct_answer=True)()
    with pytest.raises(KeyError, match="train.json has no 'correct' field"):
        next(gen)
    (tmp_path / "train.json").write_text('{"Problem": "p"}')
    with pytest.raises(ValueError, match="JSON dict, not the JSON array"):
        tf_inputs.CreateMathQAInputs(dataset_path=str(tmp_path))
    (tmp_path / "train.json").write_text('[{"Problem": "p"}]')
    gen = tf_inputs.CreateMathQAInputs(dataset_path=str(tmp_path))()
    with pytest.raises(KeyError, match="no 'linear_formula' field"):
        next(gen)
    (tmp_path / "train.json").write_text('["p"]')
    gen = tf_inputs.CreateMathQAInputs(dataset_path=str(tmp_path))()
    with pytest.raises(ValueError, match="not a JSON object of fields: 'p'"):
        next(gen)
    (tmp_path / "train_annotated.json").write_text('{"passage": "p 1"}\n')
    gen = tf_inputs.CreateAnnotatedDropInputs(dataset_path=str(tmp_path))()
    with pytest.raises(KeyError, match="no 'question' field"):
        next(gen)


def test_annotated_drop_rereads_its_file_each_pass(tmp_path):
    # Trax re-reads the data after each pass (so that examples written by a
    # prediction service meanwhile are used).
    path = tmp_path / "train_annotated.json"
    path.write_text(json.dumps({"input": "p: one", "calculation": "a"}) + "\n")
    gen = tf_inputs.CreateAnnotatedDropInputs(dataset_path=str(tmp_path))()
    assert next(gen)[:2] == ("drop annotated question: one", "a")
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"input": "p: two", "calculation": "b"}) + "\n")
    assert [next(gen)[1] for _ in range(3)] == ["a", "b", "a"]


def test_annotated_drop_eval_reads_the_dev_file_whatever_single_file(
        tmp_path):
    (tmp_path / "dev_annotated.json").write_text(
            json.dumps({"input": "x: dev", "calculation": "c"}) + "\n")
    gen = tf_inputs.CreateAnnotatedDropInputs(
            dataset_path=str(tmp_path), train=False, single_file=False)()
    assert next(gen)[:2] == ("drop annotated question: dev", "c")
    with pytest.raises(FileNotFoundError, match="every json file"):
        tf_inputs.CreateAnnotatedDropInputs(
                dataset_path=str(tmp_path / "none"), single_file=False)


def test_gin_config_in_trax_style_builds_tokenized_streams():
    # As Trax's t5_mathqa*.gin configs wire it: a scoped CreateMathQAInputs,
    # then Tokenize, as make_inputs' stream.
    import gin  # pylint: disable=import-outside-toplevel  (the [test] extra)
    from trax_compat import gin_registry  # pylint: disable=import-outside-toplevel
    from trax_compat.data import inputs  # pylint: disable=import-outside-toplevel
    gin.clear_config()
    try:
        gin.parse_config(
                "train/trax.data.CreateMathQAInputs.dataset_path = '%s'\n"
                "train/trax.data.CreateMathQAInputs.cumulative = False\n"
                "train/trax.data.CreateMathQAInputs.category = True\n"
                "trax.data.Tokenize.keys = [0, 1]\n"
                "trax.data.Tokenize.vocab_file = 'en_8k.subword'\n"
                "make_inputs.train_stream = [\n"
                "    @train/data.CreateMathQAInputs(), @data.Tokenize()]\n"
                % (ROOT / "mathqa"))
        stream = gin_registry.configurable(inputs.make_inputs)().train_stream(1)
        items = [next(stream) for _ in range(5)]
    finally:
        gin.clear_config()
    categories = [tf_inputs.detokenize(t, vocab_file="en_8k.subword")
                  for _, t, _ in items]
    # The five problems of train.json that pass, in their order, cycling.
    cycle = ["physics", "general", "geometry", "probability", "gain"] * 2
    start = cycle.index(categories[0])
    assert categories == cycle[start:start + 5]
    for inputs_ids, target_ids, mask in items:
        assert inputs_ids.dtype == target_ids.dtype == np.int64
        assert len(mask) == len(tf_inputs.detokenize(
                target_ids, vocab_file="en_8k.subword"))


def test_t2t_problems_names_tensor2tensor():
    with pytest.raises(ImportError, match="tensor2tensor.*pip install"):
        tf_inputs.t2t_problems()


def test_every_public_function_of_trax_tf_inputs_exists():
    names = ORACLE["tf_inputs_public_names"]
    assert "t2t_problems" in names and len(names) > 60
    assert [n for n in names if not callable(getattr(tf_inputs, n, None))
            ] == []


def test_paths_with_a_scheme_are_read_through_gfile():
    # As Trax's GFile reads gs:// buckets; TensorFlow's in-memory ram://
    # file system stands in for one here.
    import tensorflow as tf  # pylint: disable=import-outside-toplevel  (the [test] extra)
    remote = "ram://mathqa_inputs_test"
    for folder, name in (("mathqa", "train.json"),
                         ("drop_many", "part_a.json")):
        tf.io.gfile.makedirs(remote + "/" + folder)
        with tf.io.gfile.GFile("%s/%s/%s" % (remote, folder, name), "w") as f:
            f.write((ROOT / folder / name).read_text(encoding="utf-8"))
    for folder, make in (("mathqa", tf_inputs.CreateMathQAInputs),
                         ("drop_many", lambda dataset_path:
                          tf_inputs.CreateAnnotatedDropInputs(
                              dataset_path, single_file=False))):
        here = make(dataset_path=str(ROOT / folder))()
        there = make(dataset_path=remote + "/" + folder)()
        if folder == "drop_many":
            here = (x for x in here if "Prelature" in x[0])  # part_a's only
        for _ in range(4):
            assert _record(next(there)) == _record(next(here))
    with pytest.raises(FileNotFoundError, match="dev.json in dataset_path"):
        tf_inputs.CreateAquaInputs(remote + "/aqua", train=False,
                                   rationale=True)
