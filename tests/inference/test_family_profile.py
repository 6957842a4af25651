"""Profile-likelihood intervals of family mixture fits, against a brute-force oracle:
the Poisson mixture log-likelihood written here with scipy, maximised over the other
parameters by nested one-dimensional searches at each value of the held one."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq, minimize_scalar
from scipy.stats import chi2, poisson

import emstat
from emstat.errors import InputError
from emstat.inference.profile import profile_loglik


@pytest.fixture(scope="module")
def deaths() -> tuple[emstat.FamilyMixtureResult, np.ndarray, np.ndarray]:
    df = emstat.datasets.load_dataset("deaths")
    fit = emstat.fit_mixture(df, 2, family="poisson", columns=["deaths"], weights="days")
    return fit, df["deaths"].to_numpy(float), df["days"].to_numpy(float)


def _loglik(x: np.ndarray, days: np.ndarray, w1: float, r1: float, r2: float) -> float:
    density = w1 * poisson.pmf(x, r1) + (1 - w1) * poisson.pmf(x, r2)
    return float(days @ np.log(density))


def _best_over_rate(x: np.ndarray, days: np.ndarray, w1: float, r1: float) -> float:
    found = minimize_scalar(
        lambda r2: -_loglik(x, days, w1, r1, r2),
        bounds=(1e-6, 20),
        method="bounded",
        options={"xatol": 1e-10},
    )
    return -float(found.fun)


def _brute_rate1(x: np.ndarray, days: np.ndarray, r1: float) -> float:
    """max over (w1, r2) with rate 1 held at r1."""
    found = minimize_scalar(
        lambda w: -_best_over_rate(x, days, w, r1),
        bounds=(1e-6, 1 - 1e-6),
        method="bounded",
        options={"xatol": 1e-10},
    )
    return -float(found.fun)


def _brute_weight2(x: np.ndarray, days: np.ndarray, w2: float) -> float:
    """max over (r1, r2) with weight 2 held at w2 (weight 1 = 1 - w2)."""
    found = minimize_scalar(
        lambda r1: -_best_over_rate(x, days, 1 - w2, r1),
        bounds=(1e-6, 2.663557),  # component 1 is the low-rate one
        method="bounded",
        options={"xatol": 1e-10},
    )
    return -float(found.fun)


def _roots(profile, l_max: float, estimate: float, low: float, high: float) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    cut = float(chi2.ppf(0.95, 1))
    deviance = lambda v: 2 * (l_max - profile(v)) - cut  # noqa: E731
    return brentq(deviance, low, estimate, xtol=1e-9), brentq(deviance, estimate, high, xtol=1e-9)


def test_poisson_rate_profile_matches_the_brute_force_grid(deaths) -> None:  # type: ignore[no-untyped-def]
    fit, x, days = deaths
    grid = np.linspace(0.6, 1.7, 6)
    ours = profile_loglik(fit, "1:rate[deaths]", grid)
    brute = np.array([_brute_rate1(x, days, v) for v in grid])
    np.testing.assert_allclose(ours, brute, atol=1e-6)
    l_max = _brute_rate1(x, days, float(fit.params["estimate"].iloc[1]))
    assert l_max == pytest.approx(fit.loglik, abs=1e-6)
    # the upper bracket stays below 2.0, where the labels may switch (rate 1 the high one)
    low, high = _roots(lambda v: _brute_rate1(x, days, v), l_max, 1.2563, 0.1, 1.95)
    row = fit.conf_int(method="profile", parameters=["1:rate[deaths]"]).iloc[0]
    assert row["ci_low"] == pytest.approx(low, abs=1e-5)
    assert row["ci_high"] == pytest.approx(high, abs=1e-5)
    assert row["method"] == "profile" and row["note"] == ""


def test_a_dependent_weight_profiles_as_one_minus_the_other(deaths) -> None:  # type: ignore[no-untyped-def]
    fit, x, days = deaths
    grid = np.array([0.3, 0.5, 0.64, 0.8])
    ours = profile_loglik(fit, (2, "weight"), grid)
    brute = np.array([_brute_weight2(x, days, v) for v in grid])
    np.testing.assert_allclose(ours, brute, atol=1e-6)
    table = fit.conf_int(method="profile", parameters=["1:weight", "2:weight"])
    # weight 2 is one minus weight 1: its interval is the mirror image
    assert table["ci_low"].iloc[1] == pytest.approx(1 - table["ci_high"].iloc[0], abs=1e-6)
    assert table["ci_high"].iloc[1] == pytest.approx(1 - table["ci_low"].iloc[0], abs=1e-6)
    low, high = _roots(lambda v: _brute_weight2(x, days, v), fit.loglik, 0.64, 0.05, 0.99)
    assert table["ci_low"].iloc[1] == pytest.approx(low, abs=1e-5)
    assert table["ci_high"].iloc[1] == pytest.approx(high, abs=1e-5)
    assert 0 < table["ci_low"].min() and table["ci_high"].max() < 1


def test_binomial_probability_profile_is_the_exact_one_component_interval() -> None:
    # k = 1: the profile of a binomial probability is the likelihood-ratio interval,
    # solved here in closed form by root finding on the binomial log-likelihood
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"y": rng.binomial(10, 0.3, size=40), "n": 10})
    fit = emstat.fit_mixture(frame, 1, family="binomial", columns=["y"], trials="n")
    s, t = frame["y"].sum(), 10 * len(frame)
    p_hat = s / t
    ll = lambda p: s * math.log(p) + (t - s) * math.log(1 - p)  # noqa: E731
    cut = float(chi2.ppf(0.95, 1))
    dev = lambda p: 2 * (ll(p_hat) - ll(p)) - cut  # noqa: E731
    table = fit.conf_int(method="profile")
    assert list(table["parameter"]) == [fit.params["parameter"].iloc[1]]  # no weight at k = 1
    row = table.iloc[0]
    assert row["ci_low"] == pytest.approx(brentq(dev, 1e-9, p_hat), abs=1e-6)
    assert row["ci_high"] == pytest.approx(brentq(dev, p_hat, 1 - 1e-9), abs=1e-6)


def test_family_profile_refuses_control_and_names_the_parameters(deaths) -> None:  # type: ignore[no-untyped-def]
    fit, _, _ = deaths
    with pytest.raises(InputError, match=r"no parameter '3:weight'.*1:rate"):
        fit.conf_int(method="profile", parameters=["3:weight"])
    with pytest.raises(InputError, match="leave control out"):
        fit.conf_int(method="profile", control=emstat.EMControl())


def test_gaussian_profile_names_what_it_supports() -> None:
    df = emstat.datasets.load_dataset("faithful")
    fit = emstat.fit_mixture(df, 2, model="VVI")  # its covariances are 0 by construction
    with pytest.raises(InputError) as caught:
        fit.conf_int(method="profile", parameters=["1:cov[eruptions,waiting]"])
    message = str(caught.value)
    assert "'1:cov[eruptions,waiting]'" in message and "diagonal model fixes at 0" in message
