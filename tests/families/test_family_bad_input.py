"""Bad input to the component families: one clear line naming the column, row and value."""

from __future__ import annotations

import warnings

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


COUNTS = pd.DataFrame({"x": np.r_[np.arange(50) % 4, 6 + np.arange(50) % 5], "w": 1.0})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"family": "poisson", "trials": 20}, "trials= belongs to the binomial family"),
        ({"family": "binomial", "trials": 20, "exposure": "w"}, "exposure= belongs to the Poisson"),
        ({"family": {"x": "poisson"}, "trials": 20}, "trials= belongs to the binomial family"),
        ({"family": "poisson", "weights": np.ones((100, 2))}, "one number per row"),
        ({"family": "poisson", "columns": ["x", "w"], "weights": "w"}, "both modelled and used"),
        ({"family": emstat.Poisson(exposure="x"), "columns": ["x"]}, "both modelled and used"),
        ({"family": "poisson", "columns": ["x"], "init": {"rate[x]": [-1, 3]}}, "numbers > 0"),
        ({"family": "poisson", "columns": ["x"], "weights": np.full(100, np.inf)}, "inf at row 0"),
    ],
)
def test_options_that_do_not_apply_or_do_not_fit_are_refused(options: dict, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace("[", r"\[")):
        emstat.fit_mixture(COUNTS, k=2, **options)


def test_text_in_a_weights_column_is_named() -> None:
    data = COUNTS.assign(w=["a"] * 100)
    with pytest.raises(InputError, match="weights column 'w' holds 'a' at row 0"):
        emstat.fit_mixture(data, k=2, family="poisson", columns=["x"], weights="w")


def test_rows_of_weight_zero_are_left_out_even_of_the_starts() -> None:
    weights = np.r_[np.zeros(50), np.ones(50)]
    weighted = emstat.fit_mixture(COUNTS, k=2, family="poisson", columns=["x"], weights=weights)
    alone = emstat.fit_mixture(COUNTS.iloc[50:], k=2, family="poisson", columns=["x"])
    assert weighted.n == 50 and weighted.n_rows == 50
    assert weighted.loglik == pytest.approx(alone.loglik, rel=1e-12)
    gaussian = emstat.fit_mixture(COUNTS[["x"]].astype(float), k=2, model="V", weights=weights)
    plain = emstat.fit_mixture(COUNTS[["x"]].iloc[50:].astype(float), k=2, model="V")
    assert gaussian.loglik == pytest.approx(plain.loglik, rel=1e-12)


def test_the_scale_of_the_weights_does_not_decide_emptiness() -> None:
    # the same 300 iterations for both (a stopping rule on 1 + |loglik| sees the scale)
    steps = emstat.EMControl(tol=0.0, criterion="abs", max_iter=300)
    options = {"k": 2, "family": "poisson", "columns": ["x"], "control": steps}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", emstat.ConvergenceWarning)
        tiny = emstat.fit_mixture(COUNTS, weights=np.full(100, 1e-300), **options)
        unit = emstat.fit_mixture(COUNTS, weights="w", **options)
    assert tiny.ok
    np.testing.assert_allclose(tiny.params["estimate"], unit.params["estimate"], rtol=1e-6)


def test_categorical_levels_mixing_text_and_numbers_are_refused() -> None:
    data = pd.DataFrame({"a": [1, "1", 2, 2, 1, 2] * 5})
    with pytest.raises(InputError, match="mixes text"):
        emstat.fit_mixture(data, k=2, family="categorical")


def test_categories_never_observed_have_no_parameters() -> None:
    data = pd.DataFrame({"a": pd.Categorical(["x", "y"] * 20, categories=["x", "y", "z"])})
    fit = emstat.fit_mixture(data, k=1, family="categorical")
    assert fit.n_params == 1
    assert list(fit.params["parameter"]) == ["weight", "prob[a=x]", "prob[a=y]"]


def test_duplicate_columns_in_a_family_option() -> None:
    from emstat._parsing import parse_family

    with pytest.raises(InputError, match="names column 'v' twice"):
        parse_family("v=poisson,v=normal")


def test_criteria_options_are_checked() -> None:
    fit = emstat.fit_mixture(COUNTS, k=2, family="poisson", columns=["x"])
    with pytest.raises(InputError, match="unknown convention 'larger'"):
        fit.criterion("bic", "larger")
    assert fit.conf_int(np.float32(0.9)).shape == fit.params.shape
    assert fit.objective == fit.loglik
    one = emstat.fit_mixture(COUNTS, k=1, family="poisson", columns=["x"])
    weight = one.params.iloc[0]
    assert (weight["scale"], weight["ci_low"], weight["ci_high"]) == ("identity", 1.0, 1.0)
