"""MixtureResult: saving and loading, the checks on a loaded file, sample's arguments."""

from __future__ import annotations

import copy
import json
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import emstat
from emstat.cli import app
from emstat.errors import InputError
from emstat.mixture.result import MixtureResult


@cache
def faithful() -> pd.DataFrame:
    return emstat.load_dataset("faithful")


@cache
def fitted(model: str = "VVV", k: int = 2) -> MixtureResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return emstat.fit_mixture(faithful(), k=k, model=model)


def saved(fit: MixtureResult, tmp_path: Path, name: str = "fit.json") -> Path:
    return fit.save(tmp_path / name)


def write(payload: Any, tmp_path: Path, name: str = "edited.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(payload))
    return path


# --------------------------------------------------------------------------
# round trips


@pytest.mark.parametrize(("model", "k"), [("VVV", 2), ("VVI", 3), ("EEE", 1)])
def test_save_then_load_gives_the_same_fit(model: str, k: int, tmp_path: Path) -> None:
    fit = fitted(model, k)
    loaded = emstat.load_fit(saved(fit, tmp_path))
    pd.testing.assert_frame_equal(loaded.params, fit.params)
    assert loaded.params["std_err"].notna().all()
    pd.testing.assert_series_equal(loaded.predict(faithful()), fit.predict(faithful()))
    pd.testing.assert_frame_equal(loaded.predict_proba(faithful()), fit.predict_proba(faithful()))
    pd.testing.assert_series_equal(loaded.score_samples(faithful()), fit.score_samples(faithful()))
    assert (loaded.loglik, loaded.bic, loaded.icl) == (fit.loglik, fit.bic, fit.icl)
    assert loaded.summary() == fit.summary()


def test_the_saved_file_is_version_2_with_the_centre(tmp_path: Path) -> None:
    payload = json.loads(saved(fitted(), tmp_path).read_text())
    assert payload["format"] == "emstat.MixtureResult/2"
    np.testing.assert_allclose(payload["center"], faithful().mean().to_numpy(), rtol=1e-15)
    np.testing.assert_allclose(
        np.array(payload["means_about_center"]) + payload["center"], payload["means"], rtol=1e-15
    )


def test_version_1_files_are_still_read(tmp_path: Path) -> None:
    fit = fitted()
    payload = fit.to_dict()
    payload["format"] = "emstat.MixtureResult/1"
    del payload["center"], payload["means_about_center"]
    loaded = emstat.load_fit(write(payload, tmp_path))
    pd.testing.assert_frame_equal(loaded.params, fit.params)
    pd.testing.assert_series_equal(loaded.predict(faithful()), fit.predict(faithful()))
    np.testing.assert_allclose(
        loaded.score_samples(faithful()), fit.score_samples(faithful()), rtol=1e-12
    )


def test_a_degenerate_fit_round_trips(tmp_path: Path) -> None:
    x = np.vstack([np.random.default_rng(0).normal(size=(30, 2)), [[5.0, 5.0]] * 3])
    fit = emstat.fit_mixture(x, k=2, model="VVV", init=np.repeat([0, 1], [30, 3]))
    assert not fit.ok
    loaded = emstat.load_fit(saved(fit, tmp_path))
    assert loaded.degenerate == fit.degenerate and np.isnan(loaded.bic)
    assert loaded.summary() == fit.summary()


def test_html_shows_the_parameter_table() -> None:
    html = fitted()._repr_html_()
    assert "model VVV, k = 2" in html
    assert "<table" in html and "std_err" in html and "cov[eruptions,waiting]" in html


# --------------------------------------------------------------------------
# a file that is not a valid fit


def edit(change: Any) -> dict[str, Any]:
    payload = copy.deepcopy(fitted().to_dict())
    change(payload)
    return payload


def _set(key: str, value: Any) -> Any:
    return lambda p: p.__setitem__(key, value)


def _cov(j: int, a: int, b: int, value: float) -> Any:
    return lambda p: p["covariances"][j][a].__setitem__(b, value)


BAD = {
    "negative weight": (
        _set("weights", [-0.2, 1.2]),
        r"weights\[0\] is -0.2; weights must be >= 0",
    ),
    "weights sum to 1.8": (_set("weights", [0.9, 0.9]), r"weights sum to 1.8, not 1"),
    "asymmetric": (_cov(1, 0, 1, 3.0), r"covariances\[1\] is not symmetric"),
    "not positive definite": (
        _set("covariances", [[[1.0, 2.0], [2.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]]]),
        r"covariances: component 1's covariance is not positive definite",
    ),
    "unknown model": (_set("model", "XYZ"), r"model: unknown covariance model 'XYZ'"),
    "a 1-D model in 2-D": (_set("model", "V"), r"model: covariance model 'V' is for one-dim"),
    "an alias": (_set("model", "full"), r"model 'full' is not a saved model name"),
    "k disagrees": (_set("k", 3), r"n_params is 11; a VVV fit with k = 3 in 2-D has 17"),
    "weights for another k": (
        lambda p: (p.__setitem__("weights", [0.5, 0.25, 0.25]), p.__setitem__("k", 2)),
        r"weights must be a list of 2, got 3 entries",
    ),
    "a column too many": (
        _set("columns", ["a", "b", "c"]),
        r"n_params is 11; a VVV fit with k = 2 in 3-D has 19",
    ),
    "means for other columns": (
        _set("means", [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
        r"means\[0\] must be a list of 2, got 3 entries",
    ),
    "missing key": (lambda p: p.pop("trace"), r"the saved fit has no 'trace' field"),
    "missing format": (lambda p: p.pop("format"), r"not a saved emstat mixture fit \(format None"),
    "future format": (
        _set("format", "emstat.MixtureResult/9"),
        r"this version reads emstat.MixtureResult/1, emstat.MixtureResult/2",
    ),
    "k as text": (_set("k", "2"), r"k must be a whole number >= 1, got '2'"),
    "k as true": (_set("k", True), r"k must be a whole number >= 1, got True"),
    "n of zero": (_set("n", 0), r"n must be a whole number >= 1, got 0"),
    "a mean as text": (
        lambda p: p["means"][1].__setitem__(0, "4.3"),
        r"means\[1\]\[0\] must be a number, got '4.3'",
    ),
    "columns as text": (_set("columns", "eruptions"), r"columns must be a non-empty list"),
    "repeated column": (_set("columns", ["a", "a"]), r"columns repeat a name"),
    "converged as 1": (_set("converged", 1), r"converged must be true or false, got 1"),
    "control with a typo": (
        _set("control", {"tol": 1e-5, "criterion": "rel", "maxiter": 10}),
        r"control must be an object with tol, criterion and max_iter",
    ),
    "control criterion": (
        _set("control", {"tol": 1e-5, "criterion": "best", "max_iter": 10}),
        r"control: unknown convergence criterion 'best'",
    ),
    "std_errors too short": (_set("std_errors", [0.1, 0.2]), r"std_errors must be a list of 12"),
    "loglik null in a fit": (_set("loglik", None), r"loglik must be a number, got None"),
    "no weights, no reason": (
        lambda p: p.update(weights=None, means=None, covariances=None, std_errors=None),
        r"weights are null but degenerate does not say why",
    ),
    "centre elsewhere": (_set("center", [0.0, 0.0]), r"means disagree with center"),
    "off-diagonal in VVI": (
        lambda p: (p.__setitem__("model", "VVI"), p.__setitem__("n_params", 9)),
        r"covariances\[0\] has off-diagonal entries, but model VVI's are diagonal",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_field_is_one_clear_error(case: str, tmp_path: Path) -> None:
    change, message = BAD[case]
    with pytest.raises(InputError, match=message):
        emstat.load_fit(write(edit(change), tmp_path))


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("field", ["weights", "means", "loglik"])
def test_non_finite_numbers_are_refused(field: str, value: float, tmp_path: Path) -> None:
    def change(p: dict[str, Any]) -> None:
        if field == "loglik":
            p["loglik"] = value
        elif field == "means":
            p["means"][1][0] = value
        else:
            p["weights"][0] = value

    path = write(edit(change), tmp_path)
    assert "NaN" in path.read_text() or "Infinity" in path.read_text()
    with pytest.raises(InputError, match=rf"{field}(\[1\]\[0\]|\[0\])? must be finite"):
        emstat.load_fit(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [("[1, 2]", r"a JSON list, not an object"), ("{", r"is not JSON"), ("1e999", "a JSON float")],
)
def test_a_file_that_is_not_a_fit(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        emstat.load_fit(path)


def test_a_directory_is_not_a_fit(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        emstat.load_fit(tmp_path)


def test_show_prints_one_line_for_a_bad_file(tmp_path: Path) -> None:
    path = write(edit(_set("weights", [0.9, 0.9])), tmp_path)
    result = CliRunner().invoke(app, ["show", str(path)])
    assert result.exit_code == 2
    assert result.output.strip() == "error: weights sum to 1.8, not 1"
    assert path.exists()


# --------------------------------------------------------------------------
# sample


@pytest.mark.parametrize("n", [-1, 2.5, "3", True, None])
def test_sample_refuses_a_count_that_is_not_a_whole_number(n: Any) -> None:
    with pytest.raises(InputError, match=r"sample needs a whole number of rows n >= 0, got"):
        fitted().sample(n)


@pytest.mark.parametrize("seed", ["1", 1.5, -3, True])
def test_sample_refuses_a_bad_seed(seed: Any) -> None:
    with pytest.raises(InputError, match=r"seed must be None, a whole number >= 0 or a numpy"):
        fitted().sample(5, seed=seed)


def test_sample_of_zero_rows_has_the_columns() -> None:
    frame = fitted().sample(0, seed=1)
    assert frame.shape == (0, 3)
    assert list(frame.columns) == ["eruptions", "waiting", "component"]


def test_sample_seeds() -> None:
    fit = fitted()
    pd.testing.assert_frame_equal(fit.sample(4, seed=3), fit.sample(4, seed=np.int64(3)))
    generator = fit.sample(4, seed=np.random.default_rng(3))
    pd.testing.assert_frame_equal(generator, fit.sample(4, seed=3))
    assert fit.sample(4).shape == (4, 3)  # the default stays unseeded
