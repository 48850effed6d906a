"""Trax's MathQA, AQuA and annotated-DROP input makers of ``tf_inputs``
(``CreateMathQAInputs``, ``CreateAquaInputs``, ``CreateAnnotatedDropInputs``).

Each reads its dataset's JSON files from ``dataset_path`` (which nothing here
downloads) and returns ``gen(generator=None)``: an endless Python generator
of untokenized ``(input_text, target_text, mask)`` triples, where ``mask`` is
one 1 per character of the target, as Trax yields them. The texts, the
filtering, the order and the use of NumPy's and Python's global random
generators (order prediction) are Trax's. Local paths are read with Python;
a path with a scheme (``gs://...``) is read through TensorFlow's ``gfile``.
"""

import itertools
import json
import logging
import math
import os
import random
import re

import numpy as np

from trax_compat.data import mathqa
from trax_compat.data import tf_deps

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
# Numbers in DROP passages, written as MathQA's (thousands commas, decimals).
_NUMBER = re.compile(r"[-+]?[.]?[\d]+(?:,\d\d\d)*[\.]?\d*(?:[eE][-+]?\d+)?")


class ExampleFieldError(KeyError):
    """An example lacks a field the chosen options read."""

    def __str__(self):
        return self.args[0]


def _is_remote(path):
    return "://" in path


def _folder(what, dataset_path):
    dataset, source = _SOURCES[what]
    if not dataset_path:
        raise ValueError(
                "%s needs dataset_path: a folder with the %s files from %s. "
                "Download them on a machine with network and pass their "
                "folder (gin: %s.dataset_path = '...')."
                % (what, dataset, source, what))
    return (dataset_path if _is_remote(dataset_path)
            else os.path.expanduser(dataset_path))


def _exists(path):
    if _is_remote(path):
        return tf_deps.tf("Reading %s" % path).io.gfile.exists(path)
    return os.path.exists(path)


def _required_file(what, folder, file_name):
    """``folder/file_name``, or a clear error naming the dataset's source."""
    path = os.path.join(folder, file_name)
    if not _exists(path):
        dataset, source = _SOURCES[what]
        raise FileNotFoundError(
                "%s needs %s in dataset_path %r (the %s files from %s)."
                % (what, file_name, folder, dataset, source))
    return path


def _read_text(path):
    if _is_remote(path):
        gfile = tf_deps.tf("Reading %s" % path).io.gfile
        with gfile.GFile(path, "r") as f:
            return f.read()
    with open(path, encoding="utf-8") as f:
        return f.read()


def _json_array(path):
    try:
        examples = json.loads(_read_text(path))
    except json.JSONDecodeError as e:
        raise ValueError("%s is not one JSON array of examples, as MathQA's "
                         "files are: %s" % (path, e)) from e
    if not isinstance(examples, list):
        raise ValueError("%s holds a JSON %s, not the JSON array of examples "
                         "MathQA's files are." % (path,
                                                  type(examples).__name__))
    return examples


def _json_lines(path):
    """One JSON object per line (AQuA's and annotated DROP's format)."""
    examples = []
    for number, line in enumerate(_read_text(path).splitlines(True), 1):
        try:
            examples.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise ValueError("%s, line %d: not a JSON object (the file needs "
                             "one JSON example per line): %s"
                             % (path, number, e)) from e
    return examples


def _field(example, name, path):
    if not isinstance(example, dict):
        raise ValueError("An example of %s is not a JSON object of fields: "
                         "%.60r" % (path, example))
    try:
        return example[name]
    except KeyError:
        raise ExampleFieldError(
                "An example of %s has no %r field (it has %s); the options "
                "chosen read it." % (path, name, sorted(example))) from None


def _mask(target, dtype=None):
    # As Trax builds it: an empty target gives NumPy's default float dtype.
    return np.array([1] * len(target), dtype=dtype)


def _endless(examples_of_pass, path, why):
    """Passes over the data forever; a pass that yields nothing is an error
    (Trax would spin forever without yielding)."""
    while True:
        produced = False
        for item in examples_of_pass():
            produced = True
            yield item
        if not produced:
            raise ValueError("%s yields no examples: %s" % (path, why))


def _swap_two_at_random(items):
    """Trax's order-prediction draw: swaps two items with probability 1/2
    (NumPy's global generator, then Python's ``random``)."""
    if np.random.uniform() < 0.5 and len(items) >= 2:
        i, j = random.sample(range(len(items)), 2)
        items[i], items[j] = items[j], items[i]
        return "not_ordered"
    return "ordered"


def _python_code_target(list_num, program):
    """The Python program Trax's MathQA code models learn to write."""
    target = ""
    if any("math" in line for line in program):
        target += "import math\n"
    if any("scipy" in line for line in program):
        target += "import scipy\n"
    for i, number in enumerate(list_num):
        target += "n{} = {}\n".format(i, number)
    target += "\n".join(program[:-1])
    return target + "\nanswer ={}".format(program[-1].split("=")[1])


def _run_program(text):
    variables = {}
    exec(text, mathqa._program_globals(), variables)  # pylint: disable=exec-used,protected-access
    return variables["answer"]


def CreateMathQAInputs(dataset_path=None, train=True, test=False,  # pylint: disable=invalid-name
                       challenge=False, tolerance=0.01, cumulative=True,
                       python_code=False, full_dict=False,
                       partial_results=True, nlp_rationale=False,
                       correct_answer=False, answer_in_mathqa_format=True,
                       correct_answer_given_reasoning=False, category=False,
                       order_prediction=False, reduced_operation_name=True,
                       qed=False):
    """MathQA examples from ``dataset_path``, as Trax's ``CreateMathQAInputs``.

    The split is ``train.json`` (``train``), else ``test.json`` (``test``),
    ``challenge_test.json`` (``challenge``) or ``dev.json``. Only problems
    whose formula, run in Python, gives the correct option's number within
    relative ``tolerance`` are used. The first option set of these decides
    the task: ``cumulative`` (one example per operation: the problem, its
    numbers ``n0 = ...`` and the operations so far, each followed by
    ``#i = answer`` when ``partial_results``, to the next operation),
    ``python_code`` (the problem to a Python program; with ``full_dict``
    also its formula and rationale), ``nlp_rationale``, ``correct_answer``
    (as ``subtract(const_X,const_0)`` if ``answer_in_mathqa_format``, else
    the letter), ``correct_answer_given_reasoning``, ``category``,
    ``order_prediction`` (operations, two swapped with probability 1/2, to
    ``ordered``/``not_ordered``; only operation names if
    ``reduced_operation_name``), else the problem to its whole formula.
    ``qed`` ends each operation list with ``qed``.

    Returns:
        ``gen(generator=None)``: an endless generator of ``(input, target,
        mask)``, with ``mask`` one 1 per character of ``target``.
    """
    folder = _folder("CreateMathQAInputs", dataset_path)
    name = ("train.json" if train else "test.json" if test
            else "challenge_test.json" if challenge else "dev.json")
    path = _required_file("CreateMathQAInputs", folder, name)
    dataset = _json_array(path)

    def examples_of_pass():
        for example in dataset:
            yield from _mathqa_examples(example)

    def _mathqa_examples(example):
        for name in ("Problem", "linear_formula", "options", "correct"):
            _field(example, name, path)
        worked = mathqa.process_single_mathqa_example(example)
        if not worked:
            return  # the correct option is not a number
        answer_num, python_result, program, list_op, list_num = worked
        if not answer_num or not python_result[-1]:
            return
        if qed:
            list_op.append("qed")
        if not math.isclose(answer_num, python_result[-1], rel_tol=tolerance):
            return
        prefix = example["Problem"] + "".join(
                " n{} = {}".format(i, n) for i, n in enumerate(list_num))
        if cumulative:
            for i, op in enumerate(list_op):
                yield prefix, op, _mask(op)
                prefix += " " + op
                if partial_results:
                    # Trax writes the final answer as every partial result.
                    prefix += " #{} = {}".format(i, answer_num)
        elif python_code:
            target = _python_code_target(list_num, program)
            if math.isclose(answer_num, _run_program(target),
                            rel_tol=tolerance):
                if full_dict:
                    yield ("# " + prefix, target,
                           _field(example, "linear_formula", path),
                           _field(example, "Rationale", path))
                else:
                    yield "# " + prefix, target, _mask(target)
        elif nlp_rationale:
            target = _field(example, "Rationale", path)
            yield "infer full rationale: " + prefix, target, _mask(target)
        elif correct_answer:
            if answer_in_mathqa_format:
                target = mathqa.convert_to_subtract(
                        mathqa.convert_float_to_mathqa(str(answer_num)))
            else:
                target = example["correct"]
            yield ("infer correct answer: " + prefix + " "
                   + example["options"], target, _mask(target))
        elif correct_answer_given_reasoning:
            target = example["correct"]
            yield ("infer correct answer given reasoning: " + prefix + " "
                   + " ".join(list_op) + " " + example["options"],
                   target, _mask(target))
        elif category:
            target = _field(example, "category", path)
            yield "infer category: " + prefix, target, _mask(target)
        elif order_prediction:
            target = _swap_two_at_random(list_op)
            if reduced_operation_name:
                list_op = [op.split("(")[0] for op in list_op]
            yield ("order prediction: " + prefix + " " + " ".join(list_op),
                   target, _mask(target))
        else:
            target = example["linear_formula"]
            yield "infer full calculation: " + prefix, target, _mask(target)

    def mathqa_yield_examples(generator=None):
        del generator
        return _endless(examples_of_pass, path,
                        "no problem has a numerical correct option that its "
                        "formula reproduces within tolerance=%r" % tolerance)

    return mathqa_yield_examples


def CreateAquaInputs(dataset_path=None, train=True, cumulative=False,  # pylint: disable=invalid-name
                     rationale=False, correct_answer=False,
                     correct_answer_given_reasoning=False,
                     partial_reasoning=True, order_prediction=False):
    """AQuA-RAT examples from ``dataset_path``, as Trax's ``CreateAquaInputs``.

    Reads ``train.json`` (``train``) or ``dev.json``, one JSON problem per
    line. The first option set decides the task: ``cumulative`` (one
    example per rationale line, from the problem and the lines before it),
    ``rationale``, ``correct_answer`` (problem and options to the letter),
    ``correct_answer_given_reasoning`` (with the whole rationale; as in
    Trax, ``partial_reasoning`` only draws a prefix length from NumPy's
    generator, unused), ``order_prediction`` (rationale lines, two swapped
    with probability 1/2, to ``ordered``/``not_ordered``). One must be set.

    Returns:
        ``gen(generator=None)``: an endless generator of ``(input, target,
        mask)``, with ``mask`` one 1 per character of ``target``.
    """
    folder = _folder("CreateAquaInputs", dataset_path)
    path = _required_file("CreateAquaInputs", folder,
                          "train.json" if train else "dev.json")
    if not (cumulative or rationale or correct_answer
            or correct_answer_given_reasoning or order_prediction):
        raise ValueError(
                "CreateAquaInputs needs a task: set one of cumulative, "
                "rationale, correct_answer, correct_answer_given_reasoning "
                "or order_prediction to True.")
    dataset = _json_lines(path)

    def aqua_example(example):
        question = _field(example, "question", path)
        steps = _field(example, "rationale", path).split("\n")
        if cumulative:
            prefix = question
            for step in steps:
                yield ("infer cumulative rationale: " + prefix, step,
                       _mask(step))
                prefix += " " + step
        elif rationale:
            target = example["rationale"]
            yield "infer full rationale: " + question, target, _mask(target)
        elif correct_answer:
            target = _field(example, "correct", path)
            yield ("infer correct answer: " + question + " "
                   + " ".join(_field(example, "options", path)),
                   target, _mask(target))
        elif correct_answer_given_reasoning:
            if partial_reasoning:
                np.random.randint(0, len(steps))  # Trax's draw, then unused
            target = _field(example, "correct", path)
            yield ("infer correct answer given reasoning: " + question + " "
                   + example["rationale"] + " "
                   + " ".join(_field(example, "options", path)),
                   target, _mask(target))
        else:
            target = _swap_two_at_random(steps)
            yield ("order prediction: " + question + " " + "\n".join(steps),
                   target, _mask(target))

    def aqua_yield_examples(generator=None):
        del generator
        return _endless(
                lambda: itertools.chain.from_iterable(map(aqua_example,
                                                          dataset)),
                path, "the file has no problems")

    return aqua_yield_examples


def _drop_question(example, unique, passages, path):
    """The annotated question text, or None for a repeated passage."""
    if "input" in example:
        # A prepared input: drop its prompt (text up to ": ").
        text = example["input"]
        return text[text.find(":") + 2:]
    passage = _field(example, "passage", path)
    if unique and passage in passages:
        return None
    passages.add(passage)
    question = passage + " " + _field(example, "question", path)
    numbers = [float(n.replace(",", "").rstrip(".").lstrip("."))
               for n in _NUMBER.findall(question)]
    return question + "".join(" n{} = {}".format(i, n)
                              for i, n in enumerate(numbers))


def _list_json_files(folder):
    if _is_remote(folder):
        names = tf_deps.tf("Reading %s" % folder).io.gfile.listdir(folder)
    else:
        names = os.listdir(folder)
    return [os.path.join(folder, n) for n in sorted(names) if "json" in n]


def CreateAnnotatedDropInputs(dataset_path=None, train=True,  # pylint: disable=invalid-name
                              single_file=True, unique=False,
                              total_number_of_samples=None, percentile=1.):
    """Annotated DROP examples, as Trax's ``CreateAnnotatedDropInputs``.

    Reads ``train_annotated.json`` (``train``) or ``dev_annotated.json``,
    one JSON example per line: ``passage``, ``question`` and ``calculation``
    (a MathQA formula over the numbers ``nK`` of passage and question), or a
    prepared ``input`` (its prompt up to ": " is replaced) and
    ``calculation``. With ``single_file=False`` the train data are all files
    of ``dataset_path`` whose names contain ``json`` (in name order here).
    The data are read again at each pass (new examples written meanwhile
    are used); each pass uses the first ``percentile`` of them, at most
    ``total_number_of_samples`` distinct examples, and with ``unique`` one
    question per passage.

    Returns:
        ``gen(generator=None)``: an endless generator of ``(input, target,
        mask)``, ``mask`` int32 with one 1 per character of ``target``.
    """
    folder = _folder("CreateAnnotatedDropInputs", dataset_path)
    many_files = train and not single_file
    if many_files:
        if not _exists(folder):
            raise FileNotFoundError(
                    "CreateAnnotatedDropInputs(single_file=False) reads every "
                    "json file of dataset_path %r, which does not exist."
                    % folder)
        where = folder
    else:
        # Trax reads only train data from many files (its docstring says
        # so); evaluation always reads dev_annotated.json.
        where = _required_file(
                "CreateAnnotatedDropInputs", folder,
                "train_annotated.json" if train else "dev_annotated.json")

    def load_dataset():
        files = _list_json_files(folder) if many_files else [where]
        dataset = []
        for path in files:
            dataset.extend(_json_lines(path))
        logging.info("CreateAnnotatedDropInputs: %d examples in %s",
                     len(dataset), where)
        return dataset[:int(len(dataset) * percentile)]

    def examples_of_pass():
        passages = set()
        seen = set()
        for example in load_dataset():
            if total_number_of_samples and len(seen) >= total_number_of_samples:
                break
            question = _drop_question(example, unique, passages, where)
            if question is None:
                continue
            inputs = "drop annotated question: " + question
            target = _field(example, "calculation", where)
            seen.add((inputs, target))
            yield inputs, target, _mask(target, np.int32)

    def drop_annotated_yield_examples(generator=None):
        del generator
        return _endless(examples_of_pass, where,
                        "no examples (check the file, and percentile=%r)"
                        % percentile)

    return drop_annotated_yield_examples
