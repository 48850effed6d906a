"""Trax's MathQA, AQuA and annotated-DROP input makers of ``tf_inputs``
(``CreateMathQAInputs``, ``CreateAquaInputs``, ``CreateAnnotatedDropInputs``).

They read the datasets' JSON files from ``dataset_path``, which nothing
here can download. The names exist with Trax's arguments; a missing
``dataset_path`` or file says which file is needed and where it comes from.
Building examples from the files is not in trax_compat yet (the MathQA
arithmetic they rely on is: :mod:`trax_compat.data.mathqa`).
"""

import os

_SOURCES = {
    "CreateMathQAInputs": (
        "MathQA", "https://math-qa.github.io/ (MathQA.zip: train.json, "
        "dev.json, test.json, challenge_test.json)"),
    "CreateAquaInputs": (
        "AQuA-RAT", "https://github.com/deepmind/AQuA (train.json, "
        "dev.json)"),
    "CreateAnnotatedDropInputs": (
        "annotated DROP", "DROP (https://allenai.org/data/drop) annotated "
        "as Trax's docstring shows (train_annotated.json, "
        "dev_annotated.json)"),
}


def _check(what, dataset_path, file_name):
    dataset, source = _SOURCES[what]
    if not dataset_path:
        raise ValueError(
                "%s needs dataset_path: a folder with the %s files from %s. "
                "Download them on a machine with network and pass their "
                "folder (gin: %s.dataset_path = '...')."
                % (what, dataset, source, what))
    path = os.path.join(os.path.expanduser(dataset_path), file_name)
    if not os.path.exists(path):
        raise FileNotFoundError(
                "%s needs %s in dataset_path %r (the %s files from %s)."
                % (what, file_name, dataset_path, dataset, source))
    raise NotImplementedError(
            "%s: building examples from %s is not available in trax_compat "
            "yet; process_single_mathqa_example and execute_mathqa_program "
            "(trax_compat.data.tf_inputs) are." % (what, path))


def CreateMathQAInputs(dataset_path=None, train=True, test=False,  # pylint: disable=invalid-name
                       challenge=False, tolerance=0.01, cumulative=True,
                       python_code=False, full_dict=False,
                       partial_results=True, nlp_rationale=False,
                       correct_answer=False, answer_in_mathqa_format=True,
                       correct_answer_given_reasoning=False, category=False,
                       order_prediction=False, reduced_operation_name=True,
                       qed=False):
    """MathQA examples from ``dataset_path`` (Trax's arguments)."""
    del tolerance, cumulative, python_code, full_dict, partial_results
    del nlp_rationale, correct_answer, answer_in_mathqa_format
    del correct_answer_given_reasoning, category, order_prediction
    del reduced_operation_name, qed
    name = ("train.json" if train else "test.json" if test
            else "challenge_test.json" if challenge else "dev.json")
    _check("CreateMathQAInputs", dataset_path, name)


def CreateAquaInputs(dataset_path=None, train=True, cumulative=False,  # pylint: disable=invalid-name
                     rationale=False, correct_answer=False,
                     correct_answer_given_reasoning=False,
                     partial_reasoning=True, order_prediction=False):
    """AQuA-RAT examples from ``dataset_path`` (Trax's arguments)."""
    del cumulative, rationale, correct_answer
    del correct_answer_given_reasoning, partial_reasoning, order_prediction
    _check("CreateAquaInputs", dataset_path,
           "train.json" if train else "dev.json")


def CreateAnnotatedDropInputs(dataset_path=None, train=True,  # pylint: disable=invalid-name
                              single_file=True, unique=False,
                              total_number_of_samples=None, percentile=1.):
    """Annotated DROP examples from ``dataset_path`` (Trax's arguments)."""
    del single_file, unique, total_number_of_samples, percentile
    _check("CreateAnnotatedDropInputs", dataset_path,
           "train_annotated.json" if train else "dev_annotated.json")
