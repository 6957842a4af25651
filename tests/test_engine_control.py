"""EMControl refuses a stopping rule it cannot use, with the value named."""

from __future__ import annotations

import math

import pytest

from emstat.engine import EMControl
from emstat.errors import InputError


@pytest.mark.parametrize("tol", [10**400, -(10**400), -1.0, math.inf, math.nan, "1e-5", None])
def test_a_tolerance_that_is_no_finite_number_is_refused_by_name(tol: object) -> None:
    with pytest.raises(InputError, match="tol must be a finite number"):
        EMControl(tol=tol)  # type: ignore[arg-type]


def test_a_whole_number_tolerance_in_float_range_is_kept() -> None:
    assert EMControl(tol=10**300).tol == 10**300
    assert EMControl(tol=0).tol == 0
