"""trax_compat.data's inputs stages against real Trax, case by case.

Each case of ``tests/testdata/data_inputs_cases.py`` runs here on
trax_compat and must give exactly what real Trax recorded in
``trax_oracle/data_inputs/data_inputs.json.gz`` (values, dtypes, shapes,
tuple structure, the draws from NumPy's and Python's generators, printed
logs).
"""

import random

import numpy as np
import pytest

from conftest import load_oracle_json
from tests.testdata import data_inputs_cases as cases
from trax_compat import data


# np.sin differs from real Trax's NumPy in the last bit for some inputs;
# these cases compare float arrays to 1e-12 (the draws stay exact).
_TRANSCENDENTAL = {"sine"}


def _assert_same(got, want, tol, where="result"):
    if isinstance(want, dict) and "array" in want and tol:
        g, w = got["array"], want["array"]
        assert (g["shape"], g["dtype"]) == (w["shape"], w["dtype"]), where
        np.testing.assert_allclose(np.array(g["data"]), np.array(w["data"]),
                                   rtol=0, atol=tol, err_msg=where)
    elif isinstance(want, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(want), where
        for k in want:
            _assert_same(got[k], want[k], tol, f"{where}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want)):
            _assert_same(g, w, tol, f"{where}[{i}]")
    else:
        assert got == want, where


@pytest.fixture(scope="module")
def oracle():
    return load_oracle_json("data_inputs/data_inputs.json.gz")["cases"]


def test_every_case_is_recorded(oracle):
    assert sorted(oracle) == sorted(cases.CASES)
    assert not [n for n, r in oracle.items() if "error" in r]


@pytest.mark.parametrize("name", sorted(cases.CASES))
def test_case_matches_trax(name, oracle):
    np_state = np.random.get_state()
    py_state = random.getstate()
    try:
        got = cases.run_case(name, data)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    _assert_same(got, oracle[name], 1e-12 if name in _TRANSCENDENTAL else 0)
