"""MathQA cases run on real Trax (``generate_data_mathqa.py``) and on
trax_compat (``tests/test_data_mathqa.py``): each is a function of the
``tf_inputs`` module giving JSON-able results."""

import math

# Every operation name Trax's MathQA code knows, with its number of arguments.
OPS = {
    "add": 2, "circle_arc": 2, "circle_area": 1, "circle_sector_area": 2,
    "circumface": 1, "choose": 2, "cosine": 1, "cube_edge_by_volume": 1,
    "combined_work": 2, "count_interval": 2, "diagonal": 2, "divide": 2,
    "speed": 2, "factorial": 1, "floor": 1, "find_work": 2,
    "from_percent": 1, "gain_percent": 1, "gcd": 2, "inverse": 1, "lcm": 2,
    "log": 1, "loss_percent": 1, "max": 2, "multiply": 2,
    "negate_percent": 1, "negate": 1, "original_price_before_loss": 2,
    "original_price_before_gain": 2, "permutation": 2, "power": 2,
    "percent": 2, "price_after_gain": 2, "p_after_gain": 2,
    "price_after_loss": 2, "quadrilateral_area": 3, "reminder": 2,
    "rectangle_area": 2, "rectangle_perimeter": 2, "rhombus_area": 2,
    "sine": 1, "sqrt": 1, "subtract": 2, "square_edge_by_perimeter": 1,
    "square_edge_by_area": 1, "square_area": 1, "surface_cube": 1,
    "surface_rectangular_prism": 3, "semi_circle_perimiter": 1,
    "square_perimeter": 1, "rhombus_perimeter": 1, "surface_sphere": 1,
    "speed_ratio_steel_to_stream": 2, "speed_in_still_water": 2,
    "stream_speed": 2, "trapezium_area": 3, "triangle_area": 2,
    "triangle_perimeter": 3, "triangle_area_three_edges": 3,
    "union_prob": 3, "negate_prob": 1, "volume_cube": 1, "volume_cone": 2,
    "volume_cylinder": 2, "volume_rectangular_prism": 3, "volume_sphere": 1,
    "no_such_op": 2,
}

ARG_SETS = ([7.0, 3.0, 5.0], [0.5, 4.0, 2.5], [6.0, 0.0, 1.0])

EXAMPLES = [
    {"Problem": "a train 150 m long passes a pole in 15 sec . find its "
                "speed in km / hr ?",
     "options": "a ) 36 , b ) 40 , c ) 1 / 2 , d ) 4,000 , e ) none",
     "correct": "a",
     "linear_formula": "divide(n0,n1)|multiply(#0,const_3_6)|"},
    {"Problem": "what fraction of 4,000 is 2,000 ?",
     "options": "a ) 1 / 3 , b ) 1 / 2 , c ) 2 / 5 , d ) 3 , e ) 4",
     "correct": "b",
     "linear_formula": "divide(n1,n0)"},
    {"Problem": "a circle has radius 3.5 cm . its area is ?",
     "options": "a ) 38.48 , b ) 12 , c ) 7 , d ) 4,000 , e ) 1",
     "correct": "a",
     "linear_formula": "circle_area(n0)|multiply(#0,const_1)|"},
    {"Problem": "angle of 30 degrees ; sine of it times 1.5e2 ?",
     "options": "a ) 75 , b ) 1 , c ) 2 , d ) 3 , e ) 4",
     "correct": "a",
     "linear_formula": "multiply(n0,const_deg_to_rad)|sine(#0)|"
                       "multiply(#1,n1)|add(#2,const_pi)"},
    {"Problem": "the sum is 12 and 5 . which is right ?",
     "options": "a ) 1 , b ) 2 , c ) 3 , d ) 4 , e ) none of these",
     "correct": "e",
     "linear_formula": "add(n0,n1)"},
    {"Problem": "a number 1,250 and -3 and .5 with 0_25",
     "options": "a ) 4,000 , b ) 2 , c ) 3 , d ) 4 , e ) 5",
     "correct": "a",
     "linear_formula": "multiply(n0,const_0_25)|subtract(#0,n1)|"
                       "power(n2,const_2)|"},
]

PROGRAMS = [
    ["n0 = 2.0", "n1 = 3.0", "t0 = n0 * n1", "answer = t0 + 1"],
    ["import math", "n0 = 16.0", "answer = math.sqrt(n0)"],
    ["n0 = 1.0", "answer = n0 / 0"],
    ["x = 3"],
    ["answer = 'text'"],
    ["this is not python"],
]

DSL = [
    ("problem n0 = 2.0 n1 = 3.0", ["multiply(n0,n1)|add(#0,const_1)"]),
    ("problem n0 = 10.0 n1 = 4.0", ["subtract(n0,n1)|sqrt(#0)|"]),
    ("problem n0 = 1.0 n1 = 0.0", ["divide(n0,n1)"]),
    ("problem n0 = 1.0", ["add(n0,n5)"]),
]


def _num(x):
    """A JSON-able float (NaN and infinities as strings)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else repr(x)


def _guard(fn):
    try:
        return {"ok": fn()}
    except Exception as e:  # pylint: disable=broad-except
        return {"error": type(e).__name__}


def case_ops(m):
    out = {}
    for name, arity in OPS.items():
        for k, args in enumerate(ARG_SETS):
            out[f"{name}/{k}"] = _guard(
                lambda: _num(m.compute_single_result(name, args[:arity])))
        out[f"{name}/text"] = _guard(lambda: m.single_op_to_python_command(
            name, ["n0", "t1", "2.5"][:arity]))
    return out


def case_examples(m):
    out = []
    for ex in EXAMPLES:
        def run(ex=ex):
            r = m.process_single_mathqa_example(ex)
            if r is None:
                return None
            answer, values, program, ops, nums = r
            return [_num(answer), [_num(v) for v in values], program, ops,
                    [_num(v) for v in nums]]
        out.append(_guard(run))
    return out


def case_programs(m):
    return ([_guard(lambda p=p: _num(m.execute_mathqa_program("", p)))
             for p in PROGRAMS]
            + [_guard(lambda d=d: _num(m.execute_mathqa_dsl_program(*d)))
               for d in DSL])


def case_helpers(m):
    return {
        "nums": m.compute_nums("it costs 4,000 or -3.5 or 1e3 and .25 x2"),
        "ops": [m.compute_ops("a(n0)|b(#0)|"), m.compute_ops("a(n0)")],
        "consts": [m.convert_float_to_mathqa(x) for x in (12, 0.25, 3.5)],
        "subtract": m.convert_to_subtract("const_5"),
        "is_number": [m.is_number(x) for x in ("3.5", "x", "1e3")],
    }


CASES = {"ops": case_ops, "examples": case_examples,
         "programs": case_programs, "helpers": case_helpers}
