"""Bad input to the component families: one clear line naming the column, row and value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import emstat
from emstat import InputError

FRAME = pd.DataFrame(
    {
        "visits": [0, 3, 5, 2, 8, 1],
        "days": [1.0, 2.0, 2.0, 1.0, 3.0, 1.0],
        "heads": [3, 9, 8, 4, 7, 5],
        "n": [10, 10, 10, 10, 10, 10],
        "smoker": ["y", "n", "y", "n", "y", "n"],
    },
    index=list("abcdef"),
)


def _with(column: str, row: str, value: object) -> pd.DataFrame:
    frame = FRAME.copy()
    frame[column] = frame[column].astype(float if isinstance(value, float) else object)
    frame.loc[row, column] = value
    return frame


@pytest.mark.parametrize(
    ("data", "options", "message"),
    [
        (
            _with("visits", "c", -1),
            {"family": "poisson", "columns": ["visits"]},
            r"'visits'.*-1.*row 'c'",
        ),
        (
            _with("visits", "d", 2.5),
            {"family": "poisson", "columns": ["visits"]},
            r"2\.5.*row 'd'.*whole",
        ),
        (
            _with("heads", "b", 11),
            {"family": emstat.Binomial(trials="n"), "columns": ["heads"]},
            r"11 successes at row 'b'.*10 trials",
        ),
        (
            _with("heads", "e", -2),
            {"family": emstat.Binomial(trials=10), "columns": ["heads"]},
            r"row 'e'",
        ),
        (FRAME, {"family": "binomial", "columns": ["heads"]}, r"needs its number of trials"),
        (
            _with("days", "f", 0.0),
            {"family": emstat.Poisson(exposure="days"), "columns": ["visits"]},
            r"exposure.* 0 at row 'f'.*> 0",
        ),
        (
            _with("days", "a", -1.0),
            {"family": "poisson", "exposure": "days", "columns": ["visits"]},
            r"row 'a'",
        ),
        (
            FRAME.assign(smoker="y"),
            {"family": "categorical", "columns": ["smoker"]},
            r"'smoker' has 1 level",
        ),
        (
            FRAME,
            {"family": "poisson", "columns": ["visits"], "weights": [1, 1, -1, 1, 1, 1]},
            r"-1 at row 'c'",
        ),
        (
            FRAME,
            {"family": "poisson", "columns": ["visits"], "weights": [1, 1, np.nan, 1, 1, 1]},
            r"nan at row 'c'",
        ),
        (
            FRAME,
            {"family": "poisson", "columns": ["visits"], "weights": "w"},
            r"no weights column 'w'",
        ),
        (FRAME, {"family": "negbin", "columns": ["visits"]}, r"unknown family 'negbin'.*poisson"),
        (FRAME, {"family": {"visitz": "poisson"}}, r"'visitz', which is not in the data"),
        (FRAME, {"family": {"visits": "poisson", "x": 3}}, r"family must be a name"),
        (
            FRAME,
            {"family": "poisson", "columns": ["visits"], "model": "VVV"},
            r"Gaussian covariance model",
        ),
        (
            _with("visits", "b", "many"),
            {"family": "poisson", "columns": ["visits"]},
            r"row 'b' holds 'many'",
        ),
        (
            FRAME,
            {"family": "poisson", "columns": ["visits"], "fixed_weights": [0.2, 0.2]},
            r"sum to 0\.4",
        ),
        (
            FRAME,
            {"family": "poisson", "columns": ["visits"], "init": {"rate": [1, 2]}},
            r"'rate'.*rate\[visits\]",
        ),
    ],
)
def test_each_bad_input_is_one_clear_line(data: pd.DataFrame, options: dict, message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        emstat.fit_mixture(data, k=2, **options)
    assert "\n" not in str(caught.value)


def test_too_many_components_for_the_distinct_rows_is_a_nan_cell_in_a_selection() -> None:
    few = pd.DataFrame({"visits": [1, 1, 4, 4, 9, 9]})
    sel = emstat.select_mixture(few, k=[1, 2, 3, 4], family="poisson")
    assert np.isnan(sel.table.loc[4, "poisson"])
    assert "distinct" in sel.reasons.loc[4, "poisson"]
    assert np.isfinite(sel.table.loc[[1, 2, 3], "poisson"]).all()
