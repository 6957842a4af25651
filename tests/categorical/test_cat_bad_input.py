"""Bad input gives one clear InputError naming the column, row or value."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from emstat.categorical import fit_categorical
from emstat.errors import InputError


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"a": ["x", "y", None, "x"], "b": [1, 2, 2, None], "n": [3, 4, 5, 6]},
        index=["r1", "r2", "r3", "r4"],
    )


def _with(column: str, values: list[Any]) -> pd.DataFrame:
    frame = _frame()
    frame[column] = values
    return frame


CASES = [
    pytest.param(
        _with("a", ["x", "x", None, "x"]),
        {"counts": "n"},
        r"'a' has only one level",
        id="one-level",
    ),
    pytest.param(
        _with("b", [np.nan] * 4), {"counts": "n"}, r"'b' has no observed values", id="all-missing"
    ),
    pytest.param(
        _with("a", pd.Categorical([None] * 4, categories=["x", "y"])),
        {"counts": "n"},
        r"'a' has no observed values",
        id="all-missing-categorical",
    ),
    pytest.param(
        _frame(),
        {"counts": "n", "margins": [["a"], ["zz"]]},
        r"unknown margin name.*zz",
        id="margin",
    ),
    pytest.param(
        _with("n", [3, -4, 5, 6]),
        {"counts": "n"},
        r"'n' is negative at row 'r2'.*-4",
        id="negative",
    ),
    pytest.param(
        _with("n", [3, 4, 5.5, 6]),
        {"counts": "n"},
        r"not a whole number at row 'r3'.*5.5",
        id="fraction",
    ),
    pytest.param(
        _with("n", [3, 4, np.nan, 6]),
        {"counts": "n"},
        r"'n' is missing at row 'r3'",
        id="nan-count",
    ),
    pytest.param(
        _with("n", [3, 4, np.inf, 6]),
        {"counts": "n"},
        r"'n' is infinite at row 'r3'",
        id="inf-count",
    ),
    pytest.param(
        _with("n", ["3", "4", "5", "6"]), {"counts": "n"}, r"'n' must be numeric", id="text-count"
    ),
    pytest.param(_with("n", [0, 0, 0, 0]), {"counts": "n"}, r"'n' sums to zero", id="zero-total"),
    pytest.param(
        _frame(), {"counts": "n", "prior": -0.5}, r"prior must be .*-0.5", id="negative-prior"
    ),
    pytest.param(
        _frame(), {"counts": "n", "prior": float("nan")}, r"prior must be", id="nan-prior"
    ),
    pytest.param(_frame().iloc[:0], {"counts": "n"}, r"no rows", id="empty"),
    pytest.param(_frame(), {"counts": "zz"}, r"count column 'zz' is not in", id="unknown-counts"),
    pytest.param(
        _frame(),
        {"counts": "n", "variables": ["a", "q"]},
        r"unknown variable.*'q'",
        id="unknown-variable",
    ),
    pytest.param(_frame(), {"counts": "n", "margins": "a"}, r"list of lists", id="margins-string"),
    pytest.param(
        _frame(),
        {"counts": "n", "structural_zeros": [("x", 7)]},
        r"7 is not a level of 'b'",
        id="zero-level",
    ),
    pytest.param(
        _frame(),
        {"counts": "n", "structural_zeros": [("x", 1.0)]},
        r"row 'r1' falls only on structural",
        id="zero-hit",
    ),
]


@pytest.mark.parametrize(("frame", "kwargs", "message"), CASES)
def test_bad_input_raises_input_error(
    frame: pd.DataFrame, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InputError, match=message) as info:
        fit_categorical(frame, **kwargs)
    assert "\n" not in str(info.value)


def test_input_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        fit_categorical(_frame().iloc[:0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"m": 0}, "m must be"),
        ({"burn_in": -1}, "burn_in must be"),
        ({"spacing": 0}, "spacing must be"),
        ({"prior": 0.0}, "prior > 0"),
    ],
)
def test_bad_imputation_arguments(kwargs: dict[str, Any], message: str) -> None:
    res = fit_categorical(_frame(), "n")
    with pytest.raises(InputError, match=message):
        res.impute(**kwargs)


def test_lrt_needs_nested_models_on_the_same_data() -> None:
    frame = pd.DataFrame({"a": [0, 1, 0, 1, 0], "b": [0, 0, 1, 1, 1], "c": [1, 0, 0, 1, 0]})
    ab = fit_categorical(frame, margins=[["a", "b"], ["c"]])
    ac = fit_categorical(frame, margins=[["a", "c"], ["b"]])
    with pytest.raises(InputError, match="not nested"):
        ab.lrt(ac)
    other = fit_categorical(frame.iloc[:4])
    with pytest.raises(InputError, match="same data"):
        ab.lrt(other)
