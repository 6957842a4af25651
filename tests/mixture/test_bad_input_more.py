"""More bad input through the API: each gives one InputError that names the value."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

import emstat
from emstat.errors import InputError


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        rng.normal(size=(40, 2)), columns=["a", "b"], index=[f"r{i}" for i in range(40)]
    )


@pytest.fixture
def eight_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {"a": [1.0, 2, 3, 4, 5, 6, 7, 8], "b": [2.0, 1, 4, 3, 6, 5, 8, 9]},
    )


# --- k beyond the distinct rows --------------------------------------------------
def test_select_keeps_every_k_it_can_fit(eight_rows: pd.DataFrame) -> None:
    sel = emstat.select_mixture(eight_rows, k=range(1, 10), models=["EII", "EEE"])
    assert list(sel.table.index) == list(range(1, 10))
    assert sel.table.loc[9].isna().all()
    assert sel.reasons.loc[9, "EII"] == "k = 9 exceeds the 8 distinct rows"
    assert sel.reasons.loc[9, "EEE"] == "k = 9 exceeds the 8 distinct rows"
    # The cells that can be fitted are the fits fit_mixture makes.
    for k in (1, 2, 3):
        direct = emstat.fit_mixture(eight_rows, k=k, model="EII")
        assert sel.table.loc[k, "EII"] == pytest.approx(direct.bic, rel=1e-12)
    assert sel.fits[(9, "EII")].n_iter == 0
    assert math.isnan(sel.fits[(9, "EII")].loglik)
    assert sel.best.k <= 8


def test_select_with_workers_marks_the_same_cells(eight_rows: pd.DataFrame) -> None:
    serial = emstat.select_mixture(eight_rows, k=[2, 9], models=["EII"])
    forked = emstat.select_mixture(eight_rows, k=[2, 9], models=["EII"], workers=2)
    pd.testing.assert_frame_equal(serial.table, forked.table)
    assert forked.reasons.loc[9, "EII"] == "k = 9 exceeds the 8 distinct rows"


def test_fit_with_k_beyond_the_distinct_rows_still_raises(eight_rows: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="k = 9 components need at least 9 distinct rows"):
        emstat.fit_mixture(eight_rows, k=9)


# --- one check of k -----------------------------------------------------------
@pytest.mark.parametrize(
    ("k", "shown"),
    [
        ([2.7], "2.7"),
        ("12", "'12'"),
        ([True, 2], "True"),
        ([0, 1], "0"),
        ([1, -3], "-3"),
        ([np.nan], "nan"),
        ([], "none"),
        (["2"], "'2'"),
    ],
)
def test_select_refuses_bad_k(frame: pd.DataFrame, k: Any, shown: str) -> None:
    with pytest.raises(InputError, match=r"k must .*") as info:
        emstat.select_mixture(frame, k=k, models=["EII"])
    assert str(info.value).endswith(shown)


@pytest.mark.parametrize("k", [2.5, True, "2", math.inf, None, [2]])
def test_fit_refuses_bad_k(frame: pd.DataFrame, k: Any) -> None:
    with pytest.raises(InputError, match=r"k must be a whole number, got "):
        emstat.fit_mixture(frame, k=k)


def test_whole_floats_and_numpy_integers_are_numbers_of_components(frame: pd.DataFrame) -> None:
    sel = emstat.select_mixture(frame, k=[np.int64(1), 2.0, 2], models=["EII"])
    assert sel.ks == [1, 2]
    assert emstat.fit_mixture(frame, k=np.float64(2.0), model="EII").k == 2


# --- seeds and options --------------------------------------------------------
@pytest.mark.parametrize("seed", [-1, 1.5, "3", True])
@pytest.mark.parametrize("api", ["fit", "select"])
def test_bad_seed_is_one_line(frame: pd.DataFrame, seed: Any, api: str) -> None:
    message = f"seed must be a whole number >= 0 or None, got {seed!r}"
    with pytest.raises(InputError) as info:
        if api == "fit":
            emstat.fit_mixture(frame, k=2, init="kmeans++", seed=seed)
        else:
            emstat.select_mixture(frame, k=[1, 2], models=["EII"], seed=seed)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("workers", "2", "workers must be a whole number >= 1, got '2'"),
        ("workers", 0, "workers must be a whole number >= 1, got 0"),
        ("workers", -2, "workers must be a whole number >= 1, got -2"),
        ("mclust_compatible", "yes", "mclust_compatible must be True or False, got 'yes'"),
        ("hc_subset", -1, "hc_subset must be a whole number >= 2, got -1"),
        ("hc_subset", 2.5, "hc_subset must be a whole number >= 2, got 2.5"),
    ],
)
def test_bad_select_option_is_one_line(
    frame: pd.DataFrame, option: str, value: Any, message: str
) -> None:
    with pytest.raises(InputError) as info:
        emstat.select_mixture(frame, k=[1, 2], models=["EII"], **{option: value})
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("chunk_rows", 0, "chunk_rows must be a whole number >= 1, got 0"),
        ("mclust_compatible", "yes", "mclust_compatible must be True or False, got 'yes'"),
        ("n_init", 0, "n_init must be a whole number >= 1, got 0"),
        ("hc_subset", -1, "hc_subset must be a whole number >= 2, got -1"),
    ],
)
def test_bad_fit_option_is_one_line(
    frame: pd.DataFrame, option: str, value: Any, message: str
) -> None:
    with pytest.raises(InputError) as info:
        emstat.fit_mixture(frame, k=2, **{option: value})
    assert str(info.value) == message


def test_none_seed_is_still_allowed(frame: pd.DataFrame) -> None:
    assert emstat.fit_mixture(frame, k=2, model="EII", init="kmeans++", seed=None).ok


# --- models ---------------------------------------------------------------------
def test_one_model_as_a_string(frame: pd.DataFrame) -> None:
    sel = emstat.select_mixture(frame, k=[1, 2], models="EEE")
    assert sel.models == ["EEE"]
    assert sel.table.loc[2, "EEE"] == pytest.approx(
        emstat.fit_mixture(frame, k=2, model="EEE").bic, rel=1e-12
    )


def test_no_model_named(frame: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="models names no covariance model"):
        emstat.select_mixture(frame, k=[1, 2], models=[])


def test_unknown_model_in_a_selection_lists_the_choices(frame: pd.DataFrame) -> None:
    with pytest.raises(InputError, match=r"unknown covariance model 'XYZ'; valid names .*EEE"):
        emstat.select_mixture(frame, k=[1, 2], models=["EEE", "XYZ"])


# --- data -------------------------------------------------------------------------
def test_duplicate_column_names_are_named(frame: pd.DataFrame) -> None:
    frame.columns = ["a", "a"]
    with pytest.raises(InputError, match=r"^column 'a' is named twice in the data$"):
        emstat.fit_mixture(frame, k=2)


def test_a_column_chosen_twice_is_named(frame: pd.DataFrame) -> None:
    with pytest.raises(InputError, match=r"^column 'b' is named twice in columns"):
        emstat.select_mixture(frame, k=[1], columns=["b", "b"])


def test_duplicates_outside_the_chosen_columns_do_not_matter(frame: pd.DataFrame) -> None:
    data = pd.concat([frame, frame[["a"]].rename(columns={"a": "z"}) * 2], axis=1)
    data.columns = ["a", "z", "z"]
    fit = emstat.fit_mixture(data, k=2, columns=["a"], model="V")
    assert fit.columns == ["a"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"a": [1.0, 2.0, 3.0]}, "got a dict; pass pandas.DataFrame(data)"),
        ("faithful.csv", "pass a DataFrame; read the file with pandas.read_csv"),
        (3.0, "got a float"),
        ([[1.0, 2.0], [3.0]], "cannot be read as a table"),
    ],
)
def test_data_that_is_not_a_table(data: Any, message: str) -> None:
    with pytest.raises(
        InputError, match=r"^data must be a DataFrame, a Series or an array"
    ) as info:
        emstat.fit_mixture(data, k=1)
    assert message in str(info.value)


def test_complex_column_is_refused(frame: pd.DataFrame) -> None:
    frame["z"] = frame["a"] + 1j
    with pytest.raises(InputError, match=r"column 'z' holds complex numbers"):
        emstat.fit_mixture(frame, k=2)
    with pytest.raises(InputError, match=r"column 'x' holds complex numbers"):
        emstat.fit_mixture(frame["z"].to_numpy(), k=1)


@pytest.mark.parametrize("init", ["kmeans++", "quantile"])
def test_values_too_large_to_square_are_refused(init: str) -> None:
    data = pd.Series([0.0, 0.0, 1.3e154], name="a")
    with pytest.raises(InputError, match=r"column 'a' holds values too large to square"):
        emstat.fit_mixture(data, k=2, init=init)


def test_nullable_missing_values_are_named(frame: pd.DataFrame) -> None:
    frame["n"] = pd.array([1, 2, 3, 4] * 9 + [None, 6, 7, 8], dtype="Int64")
    with pytest.raises(InputError, match=r"NaN/missing .* column 'n' at row 'r36'"):
        emstat.fit_mixture(frame, k=2, missing="error")


def test_missing_column_names_it_and_the_columns_there_are(frame: pd.DataFrame) -> None:
    with pytest.raises(InputError) as info:
        emstat.fit_mixture(frame, k=2, columns=["a", "waiting"])
    assert str(info.value) == "no column 'waiting' in the data; its columns are 'a', 'b'"


# --- init labels -----------------------------------------------------------------
def test_missing_init_label_names_the_first_row(frame: pd.DataFrame) -> None:
    labels = np.tile([0.0, 1.0], 20)
    labels[[7, 30]] = np.nan
    with pytest.raises(InputError, match=r"missing \(NaN or None\) at row 7 .* and 1 more"):
        emstat.fit_mixture(frame, k=2, init=labels)
    with pytest.raises(InputError, match=r"missing \(NaN or None\) at row 3"):
        emstat.fit_mixture(frame, k=2, init=["x", "y", "x", None] * 10)


def test_init_series_is_aligned_by_index(frame: pd.DataFrame) -> None:
    labels = pd.Series(np.repeat([0, 1], 20), index=frame.index)
    by_position = emstat.fit_mixture(frame, k=2, model="EII", init=labels.to_numpy())
    shuffled = labels.sample(frac=1.0, random_state=3)
    assert not shuffled.index.equals(frame.index)
    by_index = emstat.fit_mixture(frame, k=2, model="EII", init=shuffled)
    assert by_index.loglik == pytest.approx(by_position.loglik, rel=1e-12)
    np.testing.assert_allclose(by_index.means, by_position.means)


def test_init_series_with_another_index_is_refused(frame: pd.DataFrame) -> None:
    labels = pd.Series(np.repeat([0, 1], 20))  # 0..39, not the data's r0..r39
    with pytest.raises(InputError, match=r"init Series's index does not match the data's rows"):
        emstat.fit_mixture(frame, k=2, init=labels)
    with pytest.raises(InputError, match=r"init Series's index"):
        emstat.select_mixture(frame, k=[2], models=["EII"], init=labels)


@pytest.mark.filterwarnings("ignore::emstat.errors.ConvergenceWarning")
def test_init_responsibilities_as_a_frame_are_aligned(frame: pd.DataFrame) -> None:
    p = np.random.default_rng(5).uniform(0.05, 0.95, size=40)
    resp = pd.DataFrame({"p": p, "q": 1 - p}, index=frame.index)
    # One iteration, so that the result shows the start it came from.
    direct = emstat.fit_mixture(frame, k=2, model="EII", init=resp.to_numpy(), max_iter=1)
    aligned = emstat.fit_mixture(frame, k=2, model="EII", init=resp.iloc[::-1], max_iter=1)
    by_position = emstat.fit_mixture(
        frame, k=2, model="EII", init=resp.iloc[::-1].to_numpy(), max_iter=1
    )
    assert aligned.loglik == pytest.approx(direct.loglik, rel=1e-12)
    assert by_position.loglik != pytest.approx(direct.loglik, rel=1e-6)
