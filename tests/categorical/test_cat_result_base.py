"""CategoricalResult on the results base every fit shares.

Criteria from :class:`emstat.results.FitCriteria` (the numbers of before),
``conf_int``/``params``/``to_frame``/``_repr_html_``, a failed fit as a
result, and the versioned JSON that :func:`emstat.load_fit` reads back.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import emstat
from emstat.categorical import CategoricalResult, fit_categorical
from emstat.categorical.saved import FORMAT, fit_from_dict
from emstat.cli import app
from emstat.errors import EmstatError, InputError
from emstat.results import FitCriteria

from ._refdata import REFERENCE, read_reference_csv

runner = CliRunner()

# loglik, AIC, BIC, n_params and N of the reference runs, as the fits gave them
# before the results base (repr of the floats: compared exactly).
OLD_NUMBERS = [
    ("cat_crimes.csv", "N", None, -562.5033730776756, 1131.0067461553513, 1144.8908702838899, 3),
    (
        "cat_crimes.csv",
        "N",
        [["V1"], ["V2"]],
        -575.1943009392406,
        1154.3886018784813,
        1163.6446846308404,
        2,
    ),
    ("cat_older.csv", "Freq", None, -351.44389182622996, 732.8877836524599, 779.3857800698229, 15),
    (
        "cat_older.csv",
        "Freq",
        [["M", "P"], ["D", "G"]],
        -365.1016343432623,
        742.2032686865246,
        760.8024672534698,
        6,
    ),
]


def _older(margins: list[list[str]] | None = None, **kwargs: Any) -> CategoricalResult:
    frame = read_reference_csv("cat_older.csv")
    return fit_categorical(frame, "Freq", variables=["M", "P", "D", "G"], margins=margins, **kwargs)


def _fit(csv: str, counts: str, margins: list[list[str]] | None) -> CategoricalResult:
    if csv == "cat_older.csv":
        return _older(margins)
    return fit_categorical(read_reference_csv(csv), counts, margins=margins)


def _degenerate() -> CategoricalResult:
    """prior 0: the unit seen only as a = y loses every cell, so EM fails."""
    frame = pd.DataFrame({"a": ["x", "x", "y"], "b": [1, 2, None]})
    return fit_categorical(frame, prior=0)


@pytest.fixture(scope="module")
def crimes() -> CategoricalResult:
    return fit_categorical(read_reference_csv("cat_crimes.csv"), "N")


@pytest.fixture(scope="module")
def payload(crimes: CategoricalResult) -> dict[str, Any]:
    return crimes.to_dict()


# --------------------------------------------------------------------------- criteria


@pytest.mark.parametrize(("csv", "counts", "margins", "loglik", "aic", "bic", "p"), OLD_NUMBERS)
def test_criteria_keep_the_old_numbers(
    csv: str,
    counts: str,
    margins: list[list[str]] | None,
    loglik: float,
    aic: float,
    bic: float,
    p: int,
) -> None:
    res = _fit(csv, counts, margins)
    assert isinstance(res, FitCriteria)
    assert (res.loglik, res.aic, res.bic, res.n_params) == (loglik, aic, bic, p)
    # the formula with N the number of units
    assert res.bic == -2 * res.loglik + p * math.log(res.n_units)
    # no latent classes: the ICL is the BIC
    assert res.classification_loglik == 0.0 and res.icl == res.bic
    assert res.criterion("bic", "mclust") == -bic == res.bic_mclust
    assert res.criterion("aic") == aic and res.criterion("loglik") == loglik


def test_criterion_names_the_choices(crimes: CategoricalResult) -> None:
    with pytest.raises(InputError, match="bic, aic, icl or loglik"):
        crimes.criterion("bac")


# --------------------------------------------------------------------------- tables


def test_conf_int_narrows_with_the_level_and_stays_in_the_unit_interval(
    crimes: CategoricalResult,
) -> None:
    narrow, wide = crimes.conf_int(0.9), crimes.conf_int(0.99)
    assert (narrow["ci_low"] > wide["ci_low"]).all() and (narrow["ci_high"] < wide["ci_high"]).all()
    for table in (narrow, wide):
        assert (table["ci_low"] > 0).all() and (table["ci_high"] < 1).all()
        assert (table["ci_low"] < table["estimate"]).all()
        assert (table["estimate"] < table["ci_high"]).all()
        assert (table["scale"] == "logit").all()


def test_params_is_conf_int_at_95_and_estimates_is_unchanged(crimes: CategoricalResult) -> None:
    pd.testing.assert_frame_equal(crimes.params, crimes.conf_int(0.95))
    pd.testing.assert_frame_equal(crimes.to_frame(), crimes.params)
    est = crimes.estimates(0.9)
    assert "scale" not in est.columns
    pd.testing.assert_frame_equal(crimes.conf_int(0.9).drop(columns="scale"), est)


@pytest.mark.parametrize("level", [0, 1, 1.5, True, "0.9"])
def test_conf_int_refuses_a_bad_level(crimes: CategoricalResult, level: Any) -> None:
    with pytest.raises(InputError, match="between 0 and 1"):
        crimes.conf_int(level)


def test_repr_html_has_the_head_and_the_table(crimes: CategoricalResult) -> None:
    text = crimes._repr_html_()
    assert "<p><strong>Log-linear model" in text and "<th>BIC</th><td>1144.8909</td>" in text
    assert text.count("<table") == 2 and "logit" in text  # the facts and the estimates
    assert "R&#x27;s cat" in text  # the head is escaped


# --------------------------------------------------------------------------- degenerate


def test_a_failed_fit_is_a_result_with_the_reason() -> None:
    res = _degenerate()
    assert not res.ok and res.degenerate == "every cell probability is zero"
    assert math.isnan(res.bic) and math.isnan(res.aic) and math.isnan(res.icl)
    assert math.isnan(res.criterion("bic", "mclust")) and math.isnan(res.criterion("loglik"))
    for what in ("probabilities", "params", "theta", "fitted_counts", "expected_counts"):
        with pytest.raises(InputError, match="degenerate: every cell probability is zero"):
            getattr(res, what)
    with pytest.raises(InputError, match="degenerate"):
        res.conf_int(0.9)
    with pytest.raises(InputError, match="degenerate"):
        res.impute(1)
    text = res.summary()
    assert "degenerate fit: every cell probability is zero" in text
    assert "Iterations:" in text and "BIC" not in text
    html = res._repr_html_()
    assert html.count("<table") == 1 and "every cell probability is zero" in html  # no estimates


def test_a_failed_fit_round_trips(tmp_path: Path) -> None:
    res = _degenerate()
    back = emstat.load_fit(res.save(tmp_path / "fit.json"))
    assert isinstance(back, CategoricalResult)
    assert not back.ok and back.degenerate == res.degenerate
    assert math.isnan(back.bic)
    assert back.summary() == res.summary()


# --------------------------------------------------------------------------- save / load


def _round_trip_cases() -> list[Any]:
    strings = pd.DataFrame(
        {
            "colour": pd.Categorical(["red", "blue", None, "red", "blue", "green", "green"]),
            "size": ["S", "L", "L", None, "S", "S", "L"],
        }
    )
    zeros = pd.DataFrame({"a": [1, 1, 2, 2, None], "b": [1, 2, 1, 1, 2], "n": [5, 3, 4, 2, 6]})
    return [
        pytest.param(
            lambda: fit_categorical(read_reference_csv("cat_crimes.csv"), "N"), id="crimes"
        ),
        pytest.param(lambda: _older([["M", "P"], ["D", "G"]]), id="older-margins"),
        pytest.param(lambda: _older(prior=1.5), id="older-prior"),
        pytest.param(lambda: fit_categorical(strings), id="text-levels"),
        pytest.param(
            lambda: fit_categorical(zeros, "n", structural_zeros=[(2, 2)]), id="structural-zero"
        ),
    ]


@pytest.mark.parametrize("make", _round_trip_cases())
def test_round_trip_keeps_the_estimate_exactly(make: Any, tmp_path: Path) -> None:
    res = make()
    path = res.save(tmp_path / "fit.json")
    assert json.loads(path.read_text())["format"] == "emstat.CategoricalResult/1"
    back = emstat.load_fit(path)
    assert isinstance(back, CategoricalResult) and not back.has_data
    pd.testing.assert_series_equal(back.probabilities, res.probabilities, check_exact=True)
    pd.testing.assert_frame_equal(back.params, res.params, check_exact=True)
    pd.testing.assert_frame_equal(back.conf_int(0.8), res.conf_int(0.8), check_exact=True)
    assert back.bic == res.bic and back.aic == res.aic and back.icl == res.icl
    assert back.loglik == res.loglik and back.logpost == res.logpost
    assert (back.n_params, back.n_units, back.n_iter) == (res.n_params, res.n_units, res.n_iter)
    assert back.converged == res.converged and back.stop_reason == res.stop_reason
    np.testing.assert_array_equal(back.trace, res.trace)
    assert back.em.control == res.em.control
    np.testing.assert_array_equal(back.model.free, res.model.free)
    assert back.margins == res.margins
    assert back.summary() == res.summary()
    pd.testing.assert_frame_equal(back.table(), res.table())
    pd.testing.assert_series_equal(back.fitted_counts, res.fitted_counts)


def test_structural_zeros_are_saved_as_level_tuples() -> None:
    zeros = pd.DataFrame({"a": ["u", "u", "v"], "b": ["p", "q", "p"]})
    saved = fit_categorical(zeros, structural_zeros=[("v", "q")]).to_dict()
    assert saved["structural_zeros"] == [["v", "q"]]


@pytest.mark.parametrize(
    "call",
    [
        lambda r: r.impute(1),
        lambda r: r.lrt(r),
        lambda r: r.expected_counts,
        lambda r: r.patterns,
        lambda r: r.covariance,
        lambda r: r.table("expected"),
        lambda r: r.data,
    ],
    ids=["impute", "lrt", "expected_counts", "patterns", "covariance", "table", "data"],
)
def test_what_needs_the_data_says_the_saved_fit_has_none(
    call: Any, payload: dict[str, Any]
) -> None:
    back = fit_from_dict(copy.deepcopy(payload))
    with pytest.raises(InputError, match="a saved fit has no data"):
        call(back)


def test_saving_refuses_a_level_json_cannot_hold(tmp_path: Path) -> None:
    frame = pd.DataFrame({"t": pd.to_datetime(["2020-01-01", "2021-01-01", "2020-01-01"])})
    frame["u"] = ["a", "b", "b"]
    res = fit_categorical(frame, as_category=["t"])
    with pytest.raises(InputError, match="cannot be saved"):
        res.save(tmp_path / "fit.json")
    assert not (tmp_path / "fit.json").exists()


def _set(key: str, value: Any) -> Any:
    def change(p: dict[str, Any]) -> None:
        p[key] = value

    return change


def _drop(key: str) -> Any:
    def change(p: dict[str, Any]) -> None:
        del p[key]

    return change


def _zero_first_cell(p: dict[str, Any]) -> None:
    p["structural_zeros"] = [[1, 1]]
    p["n_params"] = 2  # the count of the model with that cell removed


BAD_FIELDS = [
    (_set("format", "emstat.CategoricalResult/9"), "this version reads emstat.CategoricalResult/1"),
    (_drop("variables"), "no 'variables' field"),
    (_set("variables", ["V1", "V1"]), "variables repeat a name"),
    (_set("variables", "V1"), "variables must be a non-empty list"),
    (_set("levels", [[1, 2]]), "levels must be a list of 2 lists"),
    (_set("levels", [[1], [1, 2]]), "levels of 'V1' must be a list of at least two"),
    (_set("levels", [[1, 1], [1, 2]]), "levels of 'V1' repeat a label"),
    (_set("levels", [[1, {"x": 1}], [1, 2]]), "is not text or a finite number"),
    (_set("levels", [list(range(2000)), list(range(2000))]), "beyond the limit"),
    (_set("margins", [["V1", "V9"]]), "margins: unknown margin name"),
    (_set("margins", "V1"), "margins: margins must be"),
    (_set("prior", -1), "prior: prior must be a finite number >= 0"),
    (_set("prior", "1"), "prior: prior must be a number"),
    (_set("structural_zeros", [[1, 7]]), "7 is not a level of 'V2'"),
    (_set("structural_zeros", None), "structural_zeros must be a list"),
    (_zero_first_cell, "probabilities are positive on a structural zero"),
    (_set("n_params", 2), "n_params is 2; this model of these levels has 3"),
    (_set("n_params", -1), "n_params must be a whole number >= 0"),
    (_set("probabilities", [0.25, 0.25, 0.25]), "probabilities must be a list of 4"),
    (_set("probabilities", [0.5, 0.5, 0.5, -0.5]), "probabilities[3] is -0.5"),
    (_set("probabilities", [0.5, 0.5, 0.5, 0.5]), "probabilities sum to 2"),
    (_set("probabilities", [0.5, 0.5, "0", 0]), "probabilities[2] must be a number"),
    (_set("probabilities", None), "probabilities are null but degenerate does not say why"),
    (_set("degenerate", "why"), "probabilities are given for a degenerate fit"),
    (_set("degenerate", 3), "degenerate must be a string"),
    (_set("loglik", None), "loglik must be a number"),
    (_set("logpost", "x"), "logpost must be a number"),
    (_set("n_units", 0), "n_units must be > 0"),
    (_set("n_rows", 0), "n_rows must be a whole number >= 1"),
    (_set("n_patterns", 99), "n_patterns is 99, more than the 9 rows"),
    (_set("n_iter", 1.5), "n_iter must be a whole number"),
    (_set("converged", "yes"), "converged must be true or false"),
    (_set("stop_reason", None), "stop_reason must be a string"),
    (_set("trace", [1, "x"]), "trace[1] must be a number"),
    (_set("control", {"tol": 1}), "control must be an object with tol, criterion and max_iter"),
    (_set("control", {"tol": -1, "criterion": "param", "max_iter": 5}), "control:"),
    (_drop("std_errors"), "no 'std_errors' field"),
    (_set("std_errors", [0.1, 0.1]), "std_errors must be a list of 4"),
    (_set("std_errors", [0.1, 0.1, 0.1, -1]), "std_errors must be finite numbers >= 0"),
]


@pytest.mark.parametrize(("change", "message"), BAD_FIELDS)
def test_every_bad_field_is_named(
    change: Any, message: str, payload: dict[str, Any], tmp_path: Path
) -> None:
    bad = copy.deepcopy(payload)
    change(bad)
    path = tmp_path / "fit.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("(", r"\(")):
        emstat.load_fit(path)


def test_std_errors_of_a_failed_fit_are_refused() -> None:
    bad = _degenerate().to_dict()
    bad["std_errors"] = [0.1] * 4
    with pytest.raises(InputError, match="std_errors are given for a fit without probabilities"):
        fit_from_dict(bad)


def test_a_json_list_is_not_a_fit() -> None:
    with pytest.raises(InputError, match="not a saved categorical fit"):
        fit_from_dict([FORMAT])


SAVED_KEYS = [
    "format",
    "variables",
    "levels",
    "margins",
    "prior",
    "structural_zeros",
    "probabilities",
    "loglik",
    "logpost",
    "n_params",
    "n_units",
    "n_rows",
    "n_patterns",
    "n_iter",
    "converged",
    "stop_reason",
    "trace",
    "control",
    "degenerate",
    "std_errors",
]

_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    key=st.sampled_from(SAVED_KEYS),
    value=_json_values,
    drop=st.booleans(),
    index=st.integers(0, 3),
)
def test_a_mutated_payload_is_an_emstat_error_or_a_valid_fit(
    payload: dict[str, Any], key: str, value: Any, drop: bool, index: int
) -> None:
    bad = copy.deepcopy(payload)
    if drop:
        del bad[key]
    elif isinstance(bad[key], list) and bad[key] and index < len(bad[key]):
        bad[key][index] = value  # one entry changed, the rest as saved
    else:
        bad[key] = value
    try:
        back = fit_from_dict(bad)
    except EmstatError:
        return
    assert isinstance(back, CategoricalResult)
    text = back.summary()
    assert isinstance(text, str)
    if back.ok:
        assert math.isfinite(back.bic)
        assert np.isclose(back.probabilities.sum(), 1.0)


def test_saved_keys_are_the_payload(payload: dict[str, Any]) -> None:
    assert sorted(payload) == sorted(SAVED_KEYS)


# --------------------------------------------------------------------------- command line


def _catem(*args: str) -> Any:
    return runner.invoke(app, ["catem", str(REFERENCE / "cat_crimes.csv"), "--counts", "N", *args])


def test_catem_out_json_is_shown_by_emstat_show(crimes: CategoricalResult, tmp_path: Path) -> None:
    out = tmp_path / "fit.json"
    made = _catem("--out", str(out))
    assert made.exit_code == 0, made.output
    assert "fit written to" in made.output
    assert json.loads(out.read_text())["format"] == FORMAT
    shown = runner.invoke(app, ["show", str(out)])
    assert shown.exit_code == 0, shown.output
    assert shown.output.strip() == crimes.summary().strip()
    assert "BIC: 1144.8909" in shown.output


def test_catem_out_refuses_an_existing_file_without_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "fit.json"
    out.write_text("keep me")
    refused = _catem("--out", str(out))
    assert refused.exit_code != 0 and "--overwrite" in refused.output
    assert out.read_text() == "keep me"
    replaced = _catem("--out", str(out), "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert emstat.load_fit(out).n_params == 3


def test_catem_out_refuses_a_folder(tmp_path: Path) -> None:
    refused = _catem("--out", str(tmp_path))
    assert refused.exit_code != 0 and "is a folder" in refused.output
    assert "Traceback" not in refused.output


def test_catem_degenerate_fit_exits_with_one_line(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    pd.DataFrame({"a": ["x", "x", "y"], "b": [1, 2, None]}).to_csv(data, index=False)
    out = tmp_path / "fit.json"
    result = runner.invoke(app, ["catem", str(data), "--prior", "0", "--out", str(out)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == ["error: the fit is degenerate: every cell probability is zero"]
    assert not out.exists()


def test_show_names_a_bad_field_in_one_line(payload: dict[str, Any], tmp_path: Path) -> None:
    bad = copy.deepcopy(payload)
    bad["n_iter"] = -1
    path = tmp_path / "fit.json"
    path.write_text(json.dumps(bad))
    result = runner.invoke(app, ["show", str(path)])
    assert result.exit_code == 2
    assert result.output.strip() == "error: n_iter must be a whole number >= 0, got -1"
