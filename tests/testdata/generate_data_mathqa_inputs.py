"""Records real Trax's MathQA, AQuA and annotated-DROP inputs on tiny files.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_data_mathqa_inputs.py [OUT]   # default: tests/testdata

It writes, under ``OUT/trax_oracle/data_mathqa_inputs/``, tiny datasets in
the real formats (``mathqa/``: one JSON array per split; ``aqua/`` and
``drop/``: one JSON example per line; ``drop_many/``: several train files
for ``single_file=False``) and ``data_mathqa_inputs.json.gz``: for each case
(a function, its arguments, a seed for NumPy's and Python's global
generators, a count) the first items Trax's generator yields, and one draw
of each global generator afterwards (so the random numbers used match too).
The tests replay each case with trax_compat on the same files. It also
lists the public functions of Trax's ``tf_inputs``.
"""

import argparse
import json
import pathlib
import random
import warnings

import numpy as np

import oracle_common as oc  # this folder

RATIONALE = "\"explanation : step one . step two . answer a\""

MATHQA_TRAIN = [
    {"Problem": "a train 150 m long passes a pole in 15 sec . find its "
                "speed in km / hr ?",
     "Rationale": "\"speed = 150 / 15 = 10 m / s = 36 km / hr . answer a\"",
     "options": "a ) 36 , b ) 40 , c ) 1 / 2 , d ) 4,000 , e ) none",
     "correct": "a",
     "annotated_formula": "multiply(divide(150, 15), const_3_6)",
     "linear_formula": "divide(n0,n1)|multiply(#0,const_3_6)|",
     "category": "physics"},
    {"Problem": "what fraction of 4,000 is 2,000 ?",
     "Rationale": "2000 / 4000 = 1 / 2",
     "options": "a ) 1 / 3 , b ) 1 / 2 , c ) 2 / 5 , d ) 3 , e ) 4",
     "correct": "b",
     "annotated_formula": "divide(2000, 4000)",
     "linear_formula": "divide(n1,n0)",
     "category": "general"},
    {"Problem": "the sum is 12 and 5 . which is right ?",
     "Rationale": "none of them",
     "options": "a ) 1 , b ) 2 , c ) 3 , d ) 4 , e ) none of these",
     "correct": "e",
     "annotated_formula": "add(12, 5)",
     "linear_formula": "add(n0,n1)",
     "category": "general"},
    {"Problem": "a circle has radius 3.5 cm . its area is ?",
     "Rationale": RATIONALE,
     "options": "a ) 38.48 , b ) 12 , c ) 7 , d ) 4,000 , e ) 1",
     "correct": "a",
     "annotated_formula": "circle_area(3.5)",
     "linear_formula": "circle_area(n0)|multiply(#0,const_1)|",
     "category": "geometry"},
    {"Problem": "angle of 30 degrees ; sine of it times 1.5e2 ?",
     "Rationale": "sin ( 30 ) * 150 = 75",
     "options": "a ) 75 , b ) 1 , c ) 2 , d ) 3 , e ) 4",
     "correct": "a",
     "annotated_formula": "",
     "linear_formula": "multiply(n0,const_deg_to_rad)|sine(#0)|"
                       "multiply(#1,n1)|add(#2,const_pi)",
     "category": "geometry"},
    {"Problem": "in how many ways can 2 of 5 people be chosen ?",
     "Rationale": "5 c 2 = 10",
     "options": "a ) 10 , b ) 20 , c ) 5 , d ) 2 , e ) 25",
     "correct": "a",
     "annotated_formula": "choose(5, 2)",
     "linear_formula": "choose(n1,n0)|",
     "category": "probability"},
    {"Problem": "a price of 80 rises by 25 percent then by 10 . find it ?",
     "Rationale": "80 * 1.25 + 10 = 110",
     "options": "a ) 110 , b ) 100 , c ) 105.5 , d ) 90 , e ) 120",
     "correct": "a",
     "annotated_formula": "",
     "linear_formula": "divide(n1,const_100)|add(#0,const_1)|"
                       "multiply(n0,#1)|add(#2,n2)|",
     "category": "gain"},
]
MATHQA_SPLITS = {
    "train.json": MATHQA_TRAIN,
    "dev.json": [MATHQA_TRAIN[6], MATHQA_TRAIN[2], MATHQA_TRAIN[4]],
    "test.json": [MATHQA_TRAIN[3], MATHQA_TRAIN[5]],
    "challenge_test.json": [MATHQA_TRAIN[1]],
}

AQUA_TRAIN = [
    {"question": "Two friends plan to walk along a 43-km trail. How far "
                 "will the faster one walk?",
     "options": ["A)21", "B)21.5", "C)22", "D)22.5", "E)23"],
     "rationale": "If Q completes x kilometers, then P completes 1.15x.\n"
                  "x + 1.15x = 43\nx = 20\n1.15x = 23\nAnswer is E.",
     "correct": "E"},
    {"question": "In the coordinate plane, points (x, 1) and (5, y) are on "
                 "line k. What is x + y?",
     "options": ["A)4.5", "B)7", "C)8", "D)11", "E)12"],
     "rationale": "Line k passes through the origin with slope 1/5.\n"
                  "x = 5 and y = 1\nx + y = 6",
     "correct": "C"},
    {"question": "What is 2 + 2?",
     "options": ["A)3", "B)4", "C)5", "D)6", "E)7"],
     "rationale": "Four.",
     "correct": "B"},
    {"question": "Find 10% of 50.",
     "options": ["A)5", "B)10", "C)15", "D)20", "E)25"],
     "rationale": "0.1 * 50\n= 5\nso 5\nAnswer A",
     "correct": "A"},
]
AQUA_SPLITS = {"train.json": AQUA_TRAIN,
               "dev.json": [AQUA_TRAIN[3], AQUA_TRAIN[1]]}

PASSAGE_1 = ("The Prelature was founded in 973. The hall was formed in "
             "1998 from the proceeds of the auction in 1994 of the art "
             "collection donated in 1954; 1,200 people came.")
PASSAGE_2 = ("The team scored 21 points in the first half and 14.5 in the "
             "second. The stadium holds .5 million fans.")
DROP_TRAIN = [
    {"passage": PASSAGE_1, "question": "How many years after it was "
     "donated was it sold at an auction?", "answer": 40,
     "calculation": "subtract(n3,n4)"},
    {"passage": PASSAGE_1, "question": "How many years after the "
     "Prelature was founded was the hall formed?", "answer": 1025,
     "calculation": "subtract(n1,n0)"},
    {"input": "drop annotated question: How many points in total? "
              "n0 = 21.0 n1 = 14.5", "calculation": "add(n0,n1)"},
    {"passage": PASSAGE_2, "question": "How many more points in the first "
     "half?", "answer": 6.5, "calculation": "subtract(n0,n2)"},
    {"input": "no prompt here n0 = 3.0", "calculation": "add(n0,const_1)"},
    {"passage": PASSAGE_2, "question": "How many points in the second half?",
     "answer": 14.5, "calculation": "subtract(n2,const_0)"},
]
DROP_SPLITS = {"train_annotated.json": DROP_TRAIN,
               "dev_annotated.json": [DROP_TRAIN[3], DROP_TRAIN[2]]}
DROP_MANY = {"part_a.json": DROP_TRAIN[:2], "part_b.jsonl": DROP_TRAIN[2:4],
             "part_c.json": DROP_TRAIN[5:]}

M, A, D = "CreateMathQAInputs", "CreateAquaInputs", "CreateAnnotatedDropInputs"
# (function, folder, kwargs, seed, number of items); "unordered" marks the
# many-files case, whose file order is the file system's in Trax. Every case
# seeds both global generators, so that the draws after it show which
# options use them.
CASES = [
    (M, "mathqa", {}, 0, 20),
    (M, "mathqa", {"partial_results": False, "qed": True, "train": False,
                   "test": True}, 0, 12),
    (M, "mathqa", {"cumulative": False, "tolerance": 0.1, "train": False},
     0, 8),
    (M, "mathqa", {"cumulative": False, "train": False, "challenge": True},
     0, 3),
    (M, "mathqa", {"cumulative": False, "python_code": True}, 0, 10),
    (M, "mathqa", {"cumulative": False, "python_code": True,
                   "full_dict": True, "tolerance": 0.05}, 0, 6),
    (M, "mathqa", {"cumulative": False, "nlp_rationale": True}, 0, 6),
    (M, "mathqa", {"cumulative": False, "correct_answer": True}, 0, 6),
    (M, "mathqa", {"cumulative": False, "correct_answer": True,
                   "answer_in_mathqa_format": False}, 0, 6),
    (M, "mathqa", {"cumulative": False,
                   "correct_answer_given_reasoning": True, "qed": True},
     0, 6),
    (M, "mathqa", {"cumulative": False, "category": True}, 0, 6),
    (M, "mathqa", {"cumulative": False, "order_prediction": True}, 3, 15),
    (M, "mathqa", {"cumulative": False, "order_prediction": True,
                   "reduced_operation_name": False, "tolerance": 0.1},
     11, 15),
    (A, "aqua", {"cumulative": True}, 0, 16),
    (A, "aqua", {"cumulative": True, "train": False}, 0, 9),
    (A, "aqua", {"rationale": True}, 0, 5),
    (A, "aqua", {"correct_answer": True, "train": False}, 0, 3),
    (A, "aqua", {"correct_answer_given_reasoning": True}, 5, 6),
    (A, "aqua", {"correct_answer_given_reasoning": True,
                 "partial_reasoning": False}, 5, 6),
    (A, "aqua", {"order_prediction": True}, 7, 12),
    (D, "drop", {}, 0, 14),
    (D, "drop", {"train": False}, 0, 3),
    (D, "drop", {"unique": True}, 0, 8),
    (D, "drop", {"total_number_of_samples": 2}, 0, 5),
    (D, "drop", {"percentile": 0.5, "unique": True}, 0, 5),
    (D, "drop_many", {"single_file": False}, 0, 5),
]


def _write_files(root):
    for folder, files, lines in (("mathqa", MATHQA_SPLITS, False),
                                 ("aqua", AQUA_SPLITS, True),
                                 ("drop", DROP_SPLITS, True),
                                 ("drop_many", DROP_MANY, True)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for name, examples in files.items():
            text = ("".join(json.dumps(e) + "\n" for e in examples) if lines
                    else json.dumps(examples, indent=1) + "\n")
            (root / folder / name).write_text(text, encoding="utf-8")
    (root / "drop_many" / "notes.txt").write_text("not read\n",
                                                  encoding="utf-8")


def item_record(item):
    """One yielded item as JSON: texts as they are, arrays with dtype."""
    return [{"dtype": x.dtype.name, "data": x.tolist()}
            if isinstance(x, np.ndarray) else x for x in item]


def run_case(make, folder, kwargs, seed, n):
    """The case's first ``n`` items and the global generators' next draws."""
    np.random.seed(seed)
    random.seed(seed)
    gen = make(dataset_path=str(folder), **kwargs)()
    items = [item_record(next(gen)) for _ in range(n)]
    return {"items": items, "after": [float(np.random.uniform()),
                                      random.random()]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(oc.HERE))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from trax.data import tf_inputs  # pylint: disable=import-outside-toplevel
    root = pathlib.Path(args.out) / "trax_oracle" / "data_mathqa_inputs"
    _write_files(root)
    cases = []
    for fn, folder, kwargs, seed, n in CASES:
        record = {"fn": fn, "folder": folder, "kwargs": kwargs, "seed": seed,
                  "n": n, "unordered": folder == "drop_many"}
        record.update(run_case(getattr(tf_inputs, fn), root / folder,
                               kwargs, seed, n))
        cases.append(record)
    # Trax's AQuA generator with no task set raises when first read.
    try:
        next(tf_inputs.CreateAquaInputs(dataset_path=str(root / "aqua"))())
        aqua_no_task = None
    except ValueError as e:
        aqua_no_task = "ValueError: %s" % e
    # Trax's own functions and classes in tf_inputs (not the modules it
    # imports): each must exist in trax_compat's tf_inputs.
    public = sorted(n for n, v in vars(tf_inputs).items()
                    if not n.startswith("_") and callable(v)
                    and getattr(v, "__module__", None) == tf_inputs.__name__)
    oc.write_json_gz(root / "data_mathqa_inputs.json.gz", {
        "env": oc.env("generate_data_mathqa_inputs.py", with_tensorflow=True),
        "cases": cases, "aqua_no_task": aqua_no_task,
        "tf_inputs_public_names": public})


if __name__ == "__main__":
    main()
