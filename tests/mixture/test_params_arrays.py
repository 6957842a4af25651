"""``fit.params_arrays``: the numbers of ``fit.params``, as numpy columns, computed once.

The oracle is the table written out from its definition: the reported
estimates, the standard errors, and 95% Wald intervals on each row's scale
with scipy's normal quantile, in the column order and dtypes ``params`` has
always had.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit
from scipy.stats import norm

from emstat import results
from emstat.mixture import fit_mixture
from emstat.mixture.gaussian import parameter_names, reported_vector
from emstat.results import ParamsArrays, params_frame

_BACK = {
    # scale: (forward, inverse, |derivative of forward|)
    "identity": (lambda v: v, lambda v: v, lambda v: np.ones_like(v)),
    "log": (np.log, np.exp, lambda v: 1.0 / v),
    "logit": (logit, expit, lambda v: 1.0 / (v * (1.0 - v))),
}


def _oracle_intervals(estimate, std_err, scales, level):
    z = norm.ppf(0.5 + level / 2.0)
    low = np.full(estimate.size, np.nan)
    high = np.full(estimate.size, np.nan)
    for i, scale in enumerate(scales):
        if scale not in _BACK:
            continue
        forward, inverse, slope = _BACK[scale]
        est, se = estimate[i : i + 1], std_err[i : i + 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            centre = forward(est)
            half = z * se * np.abs(slope(est))
            low[i] = inverse(centre - half)[0]
            high[i] = inverse(centre + half)[0]
    return low, high


def _oracle_table(fit, level=0.95):
    """``fit.params`` from its definition (and the noise component's two rows last)."""
    theta = fit.params_
    names = ["weight", *(name for name, _ in parameter_names(fit.columns))]
    estimate = reported_vector(theta.weights, theta.means, theta.covariances)
    std_err = fit._std_errors_and_reason[0]
    scales = (
        ["identity" if fit.k == 1 else "logit"]
        + ["log" if name.startswith("var[") else "identity" for name in names[1:]]
    ) * fit.k
    component = list(np.repeat(np.arange(1, fit.k + 1), len(names)))
    parameter = names * fit.k
    estimate, std_err = list(estimate), list(std_err)
    if fit.has_noise:
        component += [0, 0]
        parameter += ["weight", "Vinv"]
        estimate += [fit.noise_weight, fit.vinv]
        std_err += [np.nan, np.nan]
        scales += ["logit", "fixed"]
    estimate, std_err = np.array(estimate), np.array(std_err)
    low, high = _oracle_intervals(estimate, std_err, scales, level)
    low[[s == "fixed" for s in scales]] = np.nan  # a fixed value has no interval
    high[[s == "fixed" for s in scales]] = np.nan
    return pd.DataFrame(
        {
            "component": np.array(component, dtype=np.int64),
            "parameter": parameter,
            "estimate": estimate,
            "std_err": std_err,
            "ci_low": low,
            "ci_high": high,
            "scale": scales,
            "method": "wald",
        }
    )


def _data(d: int, n: int = 150, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    centres = np.array([[-2.0] * d, [0.5] * d, [3.0] * d])
    x = centres[rng.integers(0, 3, n)] + rng.normal(size=(n, d))
    return pd.DataFrame(x, columns=[f"x{j + 1}" for j in range(d)] if d > 1 else ["x"])


FITS = {
    "V k=1": lambda: fit_mixture(_data(1), 1, "V", seed=1),
    "V k=2": lambda: fit_mixture(_data(1), 2, "V", seed=1),
    "E k=3": lambda: fit_mixture(_data(1), 3, "E", seed=1),
    "VVV k=2": lambda: fit_mixture(_data(2), 2, "VVV", seed=1),
    "EII k=3": lambda: fit_mixture(_data(2), 3, "EII", seed=1),
    "VEV k=2 d=3": lambda: fit_mixture(_data(3), 2, "VEV", seed=1),
    "reg_covar (NaN SEs)": lambda: fit_mixture(_data(2), 2, "VVV", seed=1, reg_covar=1e-3),
    "noise": lambda: fit_mixture(
        pd.concat(
            [_data(2), pd.DataFrame({"x1": [-9.0, 9.0, 9.0], "x2": [9.0, -9.0, 9.0]})],
            ignore_index=True,
        ),
        2,
        "VVV",
        seed=1,
        noise=True,
    ),
}


@pytest.fixture(scope="module", params=sorted(FITS))
def fit(request):
    return FITS[request.param]()


def test_params_equals_its_definition_bit_for_bit(fit):
    expected = _oracle_table(fit)
    pd.testing.assert_frame_equal(fit.params, expected, check_exact=True)


def test_arrays_are_the_params_columns_bit_for_bit(fit):
    arrays = fit.params_arrays
    table = fit.params
    assert arrays is fit.params_arrays  # computed once
    for name in ParamsArrays.COLUMNS:
        got = getattr(arrays, name)
        want = table[name].to_numpy()
        if got.dtype.kind == "f":
            np.testing.assert_array_equal(got, want)  # NaNs in the same places, equal bits
            assert got.tobytes() == want.astype(float).tobytes()
        else:
            assert got.tolist() == want.tolist()
    assert arrays.component.dtype == np.int64


def test_other_levels_follow_the_same_definition(fit):
    expected = _oracle_table(fit, level=0.9)
    pd.testing.assert_frame_equal(fit.conf_int(0.9), expected, check_exact=True)


def test_nan_std_errors_keep_their_reason():
    fit = FITS["reg_covar (NaN SEs)"]()
    assert np.isnan(fit.params_arrays.std_err).all()
    assert np.isnan(fit.params_arrays.ci_low).all()
    assert "regularised" in fit.std_error_reason


def test_noise_rows_come_last_as_component_zero():
    fit = FITS["noise"]()
    arrays = fit.params_arrays
    assert arrays.component[-2:].tolist() == [0, 0]
    assert arrays.parameter[-2:].tolist() == ["weight", "Vinv"]
    assert arrays.scale[-1] == "fixed"
    assert arrays.estimate[-1] == fit.vinv


def test_editing_params_leaves_the_arrays_alone():
    fit = FITS["V k=2"]()
    before = fit.params_arrays.estimate.copy()
    table = fit.params
    table.loc[0, "estimate"] = 99.0
    np.testing.assert_array_equal(fit.params_arrays.estimate, before)
    assert fit.conf_int(0.95).loc[0, "estimate"] == before[0]


def test_params_frame_with_fixed_rows_matches_its_definition():
    # a family fit's table: a fixed weight (no standard error) among estimated rows
    estimate = np.array([0.3, 2.5, 0.7, 9.0])
    std_err = np.array([np.nan, 0.4, np.nan, 1.1])
    scales = ["fixed", "log"]
    got = params_frame(2, ["weight", "rate"], estimate, std_err, scales)
    low, high = _oracle_intervals(estimate, std_err, scales * 2, 0.95)
    expected = pd.DataFrame(
        {
            "component": np.repeat(np.arange(1, 3), 2),
            "parameter": ["weight", "rate"] * 2,
            "estimate": estimate,
            "std_err": std_err,
            "ci_low": low,
            "ci_high": high,
            "scale": scales * 2,
        }
    )
    pd.testing.assert_frame_equal(got, expected, check_exact=True)


def test_the_normal_quantile_is_computed_once_per_level(monkeypatch):
    calls = []
    real = results._ndtri

    def counting(q):
        calls.append(q)
        return real(q)

    results._normal_quantile.cache_clear()
    monkeypatch.setattr(results, "_ndtri", counting)
    try:
        values = {results.wald_z(0.97) for _ in range(50)}
        results.wald_z(0.85)
        results.wald_z(0.85)
        stored = results.wald_z(0.95)  # a usual level: stored, scipy is not asked
    finally:
        results._normal_quantile.cache_clear()
    assert values == {float(norm.ppf(0.985))}  # scipy's normal quantile, bit for bit
    assert stored == float(norm.ppf(0.975))
    assert calls == [0.985, 0.925]


def test_the_normal_quantile_is_scipys_at_every_level():
    levels = np.linspace(0.001, 0.999, 999)
    got = np.array([results.wald_z(float(v)) for v in levels])
    np.testing.assert_array_equal(got, norm.ppf(0.5 + levels / 2.0))


@pytest.mark.parametrize("level", [0.0, 1.0, 1.5, True, "0.95"])
def test_the_level_is_still_checked_every_time(level):
    with pytest.raises(results.InputError, match="confidence level"):
        results.wald_z(level)


def test_the_cached_arrays_cannot_be_edited_behind_the_fit() -> None:
    import emstat

    fit = emstat.fit_mixture(emstat.load_dataset("faithful")[["waiting"]], 2, "V")
    arrays = fit.params_arrays
    with pytest.raises(ValueError, match="read-only"):
        arrays.estimate[1] = -5.0
    with pytest.raises(ValueError, match="read-only"):
        arrays.std_err[1] = 0.0
    assert fit.conf_int(0.95)["estimate"].iloc[1] == fit.params["estimate"].iloc[1]
