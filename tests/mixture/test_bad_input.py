"""Bad input gives one clear emstat error that names what is wrong."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import emstat
from emstat.errors import InputError


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        rng.normal(size=(30, 2)), columns=["a", "b"], index=[f"r{i}" for i in range(30)]
    )


def test_nan_names_row_and_column(frame: pd.DataFrame) -> None:
    frame.loc["r7", "b"] = np.nan
    with pytest.raises(InputError, match=r"column 'b' at row 'r7'"):
        emstat.fit_mixture(frame, k=2, missing="error")


def test_inf_is_refused(frame: pd.DataFrame) -> None:
    frame.loc["r3", "a"] = np.inf
    with pytest.raises(InputError, match=r"infinite values in column 'a' at row 'r3'"):
        emstat.fit_mixture(frame, k=2)


def test_strings_are_named(frame: pd.DataFrame) -> None:
    frame["label"] = "x"
    with pytest.raises(InputError, match=r"column 'label' is not numeric"):
        emstat.fit_mixture(frame, k=2)


def test_constant_column_is_named(frame: pd.DataFrame) -> None:
    frame["c"] = 4.0
    with pytest.raises(InputError, match=r"column 'c' is constant"):
        emstat.select_mixture(frame, k=[1, 2])


def test_more_components_than_distinct_rows() -> None:
    data = pd.DataFrame({"x": [1.0, 2.0, 2.0, 1.0]})
    with pytest.raises(
        InputError, match=r"k = 3 components need at least 3 distinct rows; the data have 2"
    ):
        emstat.fit_mixture(data, k=3)


@pytest.mark.parametrize("data", [pd.DataFrame({"x": []}), pd.DataFrame(index=range(3))])
def test_empty_data(data: pd.DataFrame) -> None:
    with pytest.raises(InputError, match=r"no (rows|columns)"):
        emstat.fit_mixture(data, k=1)


def test_unknown_model_lists_valid_names(frame: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="VVV") as info:
        emstat.fit_mixture(frame, k=2, model="XYZ")
    assert "XYZ" in str(info.value)


@pytest.mark.parametrize("k", [0, -1, 2.5, "3"])
def test_bad_k(frame: pd.DataFrame, k: object) -> None:
    with pytest.raises(InputError, match="k must"):
        emstat.fit_mixture(frame, k=k)  # type: ignore[arg-type]


def test_unknown_column(frame: pd.DataFrame) -> None:
    with pytest.raises(InputError, match=r"no column 'zz'"):
        emstat.fit_mixture(frame, k=2, columns=["a", "zz"])


def test_unknown_init_and_fixed_init_restarts(frame: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="unknown init"):
        emstat.fit_mixture(frame, k=2, init="bogus")
    with pytest.raises(InputError, match="deterministic"):
        emstat.fit_mixture(frame, k=2, init="hc", n_init=3)


def test_predict_needs_the_fitted_columns(frame: pd.DataFrame) -> None:
    fit = emstat.fit_mixture(frame, k=2, init="kmeans++")
    with pytest.raises(InputError, match=r"no column 'b'"):
        fit.predict(frame[["a"]])
