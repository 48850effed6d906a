"""MathQA problems: their numbers, operation lists, values and programs.

A MathQA ``linear_formula`` is a ``|``-separated list of operations such as
``multiply(n2,const_100)``: ``nK`` is the K-th number of the problem text,
``#K`` the result of the K-th operation, ``const_X`` a constant. Trax turns
each problem into the values of its operations and into a Python program of
one line per operation (``t0 = n2 * 100.0``), the targets its MathQA models
learn; the names and the exact program text here are Trax's, so targets
built here equal Trax's.
"""

import math
import re

import numpy as np

# A number as written in MathQA text: sign, thousands commas, decimals, exponent.
_NUMBER = re.compile(r"[-+]?[.]?[\d]+(?:,\d\d\d)*[\.]?\d*(?:[eE][-+]?\d+)?")


def _comb(n, k):
    from scipy import special  # pylint: disable=g-import-not-at-top
    return special.comb(n, k)


def _work(a, b):
    # Rates given either as "jobs per day" or "days per job": the smaller.
    return min(a, 1 / a), min(b, 1 / b)


def _permutations(a, b):
    n, m = min(a, b), max(a, b)
    return math.factorial(int(m)) / math.factorial(int(m - n))


def _heron(a, b, c):
    s = (a + b + c) / 2
    return math.sqrt(max(0, s * (s - a) * (s - b) * (s - c)))


# Each operation: (its value from the argument values, the Python text of it
# from the argument texts). A few texts differ from the values (e.g.
# ``speed_in_still_water``); both are kept as Trax has them, since the texts
# are training targets.
_OPS = {
    "add": (lambda a: a[0] + a[1], "{0} + {1}"),
    "circle_arc": (lambda a: a[0] / 360 * math.pi * 2 * a[1],
                   "{0} / 360 * math.pi * 2 * {1}"),
    "circle_area": (lambda a: math.pi * a[0]**2, "math.pi * {0}**2"),
    "circle_sector_area": (lambda a: a[1] / 360 * math.pi * (a[0]**2),
                           "{1} / 360 * math.pi * ({0}**2)"),
    "circumface": (lambda a: 2 * math.pi * a[0], "2 * math.pi * {0}"),
    "choose": (lambda a: _comb(a[0], a[1]), "scipy.special.comb({0}, {1})"),
    "cosine": (lambda a: math.cos(a[0]), "math.cos({0})"),
    "cube_edge_by_volume": (lambda a: a[0]**(1 / 3), "{0}**(1 / 3)"),
    "combined_work": (lambda a: 1 / sum(_work(a[0], a[1])),
                      "1 / (min({0}, 1 / {0}) + min({1}, 1 / {1}))"),
    "count_interval": (lambda a: a[0] - a[1] + 1, "{0} - {1} + 1"),
    "diagonal": (lambda a: math.sqrt(a[0]**2 + a[1]**2),
                 "math.sqrt({0}**2 + {1}**2)"),
    "divide": (lambda a: a[0] / a[1] if a[1] != 0 else 0, "{0} / {1}"),
    "factorial": (lambda a: math.factorial(min(15, int(a[0]))),
                  "math.factorial(min(15, int({0})))"),
    "floor": (lambda a: math.floor(a[0]), "math.floor({0})"),
    "find_work": (lambda a: 1 / (max(_work(a[0], a[1]))
                                 - min(_work(a[0], a[1]))),
                  "1 / (max(min({0}, 1 / {0}), min({1}, 1 / {1})) - "
                  "min(min({0}, 1 / {0}), min({1}, 1 / {1})))"),
    "from_percent": (lambda a: a[0] / 100, "{0} / 100"),
    "gain_percent": (lambda a: 100 + a[0], "100 + {0}"),
    "gcd": (lambda a: np.gcd(int(a[0]), int(a[1])),
            "np.gcd(int({0}), int({1}))"),
    "inverse": (lambda a: 1 / a[0] if a[0] != 0 else 0, "1 / {0}"),
    "lcm": (lambda a: np.lcm(int(a[0]), int(a[1])),
            "scipy.lcm(int({0}), int({1}))"),
    "log": (lambda a: math.log(max(1e-5, a[0]), 2),
            "math.log(max(1e-5, {0}), 2)"),
    "loss_percent": (lambda a: 100 - a[0], "100 - {0}"),
    "max": (lambda a: max(a[0], a[1]), "max({0},{1})"),
    "multiply": (lambda a: a[0] * a[1], "{0} * {1}"),
    "negate_percent": (lambda a: 100 - a[0], "100 - {0}"),
    "negate": (lambda a: -a[0], "-{0}"),
    "original_price_before_loss": (
        lambda a: a[1] * 100 / (100 + 1e-5 - a[0]),
        "{1} * 100 / (100 + 1e-5 - {0})  # original price before loss"),
    "original_price_before_gain": (
        lambda a: a[1] * 100 / (100 + a[0]),
        "{1} * 100 / (100 + {0})  # original_price_before gain"),
    "permutation": (lambda a: _permutations(a[0], a[1]),
                    "math.factorial(int(max({0}, {1}))) / math.factorial("
                    "int(max({0}, {1}) - min({0}, {1})))  # find all "
                    "permutations"),
    "power": (lambda a: a[0]**min(a[1], 5), "{0}**min({1}, 5)"),
    "percent": (lambda a: a[0] / 100 * a[1], "{0} / 100 * {1}"),
    "price_after_gain": (lambda a: (1 + a[0] / 100) * a[1],
                         "(1 + {0} / 100) * {1}"),
    "price_after_loss": (lambda a: (1 - a[0] / 100) * a[1],
                         "(1 - {0} / 100) * {1}"),
    "quadrilateral_area": (lambda a: a[0] * (a[1] + a[2]) / 2,
                           "{0} * ({1} + {2}) / 2  # quadrilateral area"),
    "reminder": (lambda a: a[0] % a[1], "{0} % {1}"),
    "rectangle_area": (lambda a: a[0] * a[1],
                       "{0} * {1}  # area of rectangle"),
    "rectangle_perimeter": (lambda a: 2 * (a[0] + a[1]),
                            "2 * ({0} + {1})  # perimetere of rectangle"),
    "rhombus_area": (lambda a: a[0] * a[1] / 2, "{0} * {1} / 2"),
    "sine": (lambda a: math.sin(a[0]), "math.sin({0})"),
    "sqrt": (lambda a: math.sqrt(max(0, a[0])), "math.sqrt(max(0, {0}))"),
    "subtract": (lambda a: a[0] - a[1], "{0} - {1}"),
    "square_edge_by_perimeter": (lambda a: a[0] / 4,
                                 "{0} / 4. # square edge given perimeter"),
    "square_edge_by_area": (lambda a: math.sqrt(a[0]),
                            "math.sqrt({0})  # square edge given area"),
    "square_area": (lambda a: a[0]**2, "{0}**2"),
    "surface_cube": (lambda a: 6 * a[0]**2, "6 * {0}**2  # surface of a cube"),
    "surface_rectangular_prism": (
        lambda a: 2 * (a[0] * a[1] + a[0] * a[2] + a[1] * a[2]),
        "2 * ({0} * {1} + {0} * {2} + {1} * {2})  # surface of a rectangular "
        "prism"),
    "semi_circle_perimiter": (
        lambda a: math.pi * a[0] + 2 * a[0],
        "math.pi * {0} + 2 * {0}  # perimeter of a semi-circle"),
    "square_perimeter": (lambda a: 4 * a[0], "4 * {0}"),
    "surface_sphere": (lambda a: 4 * math.pi * a[0]**2,
                       "4 * math.pi * {0}**2"),
    "speed_ratio_steel_to_stream": (lambda a: (a[0] + a[1]) / (a[0] - a[1]),
                                    "({0} + {1}) / ({0} - {1})"),
    "speed_in_still_water": (lambda a: (a[0] + a[1]) / 2, "{0} + {1} / 2"),
    "stream_speed": (lambda a: (a[0] - a[1]) / 2, "{0} - {1} / 2"),
    "trapezium_area": (lambda a: a[0] * (a[1] + a[2]) / 2,
                       "{0} * ({1} + {2}) / 2"),
    "triangle_area": (lambda a: a[0] * a[1] / 2, "{0} * {1} / 2"),
    "triangle_perimeter": (lambda a: a[0] + a[1] + a[2],
                           "{0} + {1} + {2}  # perimeter of a triangle"),
    "triangle_area_three_edges": (
        lambda a: _heron(a[0], a[1], a[2]),
        "(lambda s, a, b, c: math.sqrt(max(0, s * (s - a) * (s - b) * (s - "
        "c))))(({0} + {1} + {2}) / 2, {0}, {1}, {2})  # Heron's formula"),
    "union_prob": (lambda a: a[0] + a[1] - a[2], "{0} + {1} - {2}"),
    "negate_prob": (lambda a: 1 - a[0], "1 - {0}"),
    "volume_cube": (lambda a: a[0]**3, "{0}**3"),
    "volume_cone": (lambda a: math.pi * a[0]**2 * a[1] / 3,
                    "math.pi * {0}**2 * {1} / 3"),
    "volume_cylinder": (lambda a: math.pi * a[0]**2 * a[1],
                        "math.pi * {0}**2 * {1}"),
    "volume_rectangular_prism": (lambda a: a[0] * a[1] * a[2],
                                 "{0} * {1} * {2}"),
    "volume_sphere": (lambda a: 4 / 3 * math.pi * a[0]**3,
                      "4 / 3 * math.pi * {0}**3"),
}
# Other spellings of the same operations found in the data.
_OPS["speed"] = _OPS["divide"]
_OPS["p_after_gain"] = _OPS["price_after_gain"]
_OPS["rhombus_perimeter"] = _OPS["square_perimeter"]


def compute_single_result(op_name, num_args):
    """The value of operation ``op_name`` on ``num_args``; None if unknown."""
    op = _OPS.get(op_name)
    return None if op is None else op[0](num_args)


def single_op_to_python_command(op_name, num_args):
    """Python text of ``op_name`` on argument texts; None if unknown."""
    op = _OPS.get(op_name)
    if op is None:
        return None
    # Argument texts are never the number 0: divisions are always written.
    return op[1].format(*num_args)


def _first_int(text):
    return int(_NUMBER.findall(text)[0])


def _constant(arg):
    """``const_pi``, ``const_deg_to_rad``, ``const_12`` or ``const_0_25``."""
    if arg == "const_pi":
        return math.pi
    if arg == "const_deg_to_rad":
        return math.pi / 180
    parts = _NUMBER.findall(arg)
    if len(parts) == 1:
        return float(parts[0])
    return float(parts[0]) + float("0." + parts[1])


def _parse(op):
    name = op.split("(")[0]
    args = op[op.find("(") + 1:op.find(")")].split(",")
    return name, args


def compute_result(list_op, list_num):
    """The values of the operations in turn (the last is the answer)."""
    results = []
    for op in list_op:
        name, args = _parse(op)
        values = []
        for arg in args:
            if arg[0] == "#":
                values.append(results[_first_int(arg)])
            elif arg[0] == "n":
                values.append(list_num[_first_int(arg)])
            elif arg[0] == "c":
                values.append(_constant(arg))
        results.append(compute_single_result(name, values))
    return results


def compute_program(list_op):
    """One Python line per operation: ``t<i> = <expression>``."""
    lines = []
    for i, op in enumerate(list_op):
        name, args = _parse(op)
        texts = []
        for arg in args:
            if arg[0] == "#":
                texts.append("t%d" % _first_int(arg))
            elif arg[0] == "n":
                texts.append(arg)
            elif arg[0] == "c":
                texts.append(str(_constant(arg)))
        lines.append("t{} = {}".format(i, single_op_to_python_command(name,
                                                                     texts)))
    return lines


def compute_nums(question):
    """The numbers written in ``question``, as floats (``4,000`` is 4000)."""
    return [float(n.replace(",", "")) for n in _NUMBER.findall(question)]


def compute_ops(linear_formula):
    """The operations of a ``|``-separated formula (a trailing ``|`` is ok)."""
    ops = linear_formula.split("|")
    return ops[:-1] if not ops[-1] else ops


def process_single_mathqa_example(example):
    """A MathQA example (a dict of its fields) worked out.

    Returns ``(answer_num, python_result, python_program, list_op,
    list_num)``: the correct option's number (a fraction ``a / b`` divided
    out), the values of the operations, their Python lines, the operations
    and the problem's numbers; None when the correct option has no number.
    """
    list_num = compute_nums(example["Problem"])
    list_op = compute_ops(example["linear_formula"])
    options = example["options"]
    start = options.find("{} )".format(example["correct"]))
    found = _NUMBER.findall(options[start:])
    if not found:
        return None
    answer_num = float(found[0].replace(",", ""))
    # Fractions are written "1 / 2": look just past the numerator, as far as
    # its float text reaches (Trax's rule, kept for equal targets).
    after = start + len(str(answer_num)) + 3
    if after < len(options) and options[after] == "/":
        answer_num /= float(_NUMBER.findall(options[after:])[0]
                            .replace(",", ""))
    return (answer_num, compute_result(list_op, list_num),
            compute_program(list_op), list_op, list_num)


def convert_float_to_mathqa(number):
    """``12`` -> ``const_12``; ``0.25`` -> ``const_0_25``."""
    whole = int(float(number))
    if whole == number:
        return "const_" + str(whole)
    return "const_" + str(whole) + "_" + str(number)[len(str(whole)) + 1:]


def convert_to_subtract(const_string):
    return "subtract({},const_0)".format(const_string)


def execute_mathqa_dsl_program(problem, dsl_code):
    """The value of the first line of ``dsl_code`` (a formula) for a problem
    whose numbers follow it as ``n0 = 2.0 n1 = 3.0``; None if it fails."""
    numbers = compute_nums(problem[problem.find("n0"):])
    # Both the index and the value of each "nK = V" are numbers: keep values.
    assert len(numbers) % 2 == 0
    numbers = numbers[1::2]
    try:
        return compute_result(compute_ops(dsl_code[0]), numbers)[-1]
    except Exception:  # pylint: disable=broad-except
        return None  # a generated program may be any text


def is_number(s):
    try:
        float(s)
        return True
    except (TypeError, ValueError):
        return False


def _program_globals():
    scope = {"math": math, "np": np}
    try:
        import scipy  # pylint: disable=g-import-not-at-top
        import scipy.special  # noqa: F401  pylint: disable=g-import-not-at-top
        scope["scipy"] = scipy
    except ImportError:
        pass
    return scope


def execute_mathqa_program(problem, program):
    """The float ``answer`` that the Python lines ``program`` set; None if
    they fail or set none. ``problem`` is unused (the DSL form needs it)."""
    del problem
    variables = {}
    try:
        exec("\n".join(program), _program_globals(), variables)  # pylint: disable=exec-used
    except Exception:  # pylint: disable=broad-except
        return None  # a generated program may be any text
    answer = variables.get("answer")
    return float(answer) if is_number(answer) else None
