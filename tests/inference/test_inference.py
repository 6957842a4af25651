"""Wald intervals inside the space, standard errors at a stationary point, bootstrap
and profile intervals, against oracles computed here by other means."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

import emstat
from emstat.errors import InputError
from emstat.inference.profile import profile_loglik
from emstat.results import wald_intervals
from emstat.simulation.design import mixture_from_formula
from emstat.simulation.generate import replicate_rng

SEED_DESIGN = "0.5*N(-0.8,1) + 0.5*N(0.8,1)"


@pytest.fixture(autouse=True)
def _quiet() -> None:
    warnings.simplefilter("ignore")


def _replicate(formula: str, rep: int, n: int = 100) -> tuple[pd.DataFrame, int]:
    truth = mixture_from_formula(formula)
    rng, fit_seed = replicate_rng(1, rep)
    data, _ = truth.draw(n, rng)
    return data, fit_seed


def _seed_fit(rep: int) -> emstat.MixtureResult:
    data, fit_seed = _replicate(SEED_DESIGN, rep)
    return emstat.fit_mixture(data, 2, model="V", seed=fit_seed)


@pytest.fixture(scope="module")
def small() -> emstat.MixtureResult:
    rng = np.random.default_rng(3)
    x = np.r_[rng.normal(-1.5, 1, 40), rng.normal(1.5, 0.8, 30)]
    return emstat.fit_mixture(x, 2, model="V")


# --------------------------------------------------------------------------- Wald


def test_replicate_0_of_the_seed_study_has_intervals_inside_the_space() -> None:
    table = _seed_fit(0).params.set_index(["component", "parameter"])
    weight, var = table.loc[(1, "weight")], table.loc[(1, "var[x]")]
    # before: weight (-0.03, 0.29), variance (-0.15, 0.46)
    assert 0 < weight["ci_low"] < weight["estimate"] < weight["ci_high"] < 1
    assert 0 < var["ci_low"] < var["estimate"] < var["ci_high"]
    assert (weight["scale"], var["scale"], table.loc[(1, "mean[x]"), "scale"]) == (
        "logit",
        "log",
        "identity",
    )


def test_logit_and_log_intervals_are_the_delta_method_by_hand(small: emstat.MixtureResult) -> None:
    table = small.conf_int(0.9).set_index(["component", "parameter"])
    z = stats.norm.ppf(0.95)
    w, se = table.loc[(1, "weight"), ["estimate", "std_err"]]
    half = z * se / (w * (1 - w))
    lo, hi = (1 / (1 + math.exp(-(math.log(w / (1 - w)) + s * half))) for s in (-1, 1))
    assert table.loc[(1, "weight"), ["ci_low", "ci_high"]].tolist() == pytest.approx([lo, hi])
    v, se = table.loc[(2, "var[x]"), ["estimate", "std_err"]]
    expected = [v * math.exp(-z * se / v), v * math.exp(z * se / v)]
    assert table.loc[(2, "var[x]"), ["ci_low", "ci_high"]].tolist() == pytest.approx(expected)
    m, se = table.loc[(2, "mean[x]"), ["estimate", "std_err"]]
    assert table.loc[(2, "mean[x]"), ["ci_low", "ci_high"]].tolist() == pytest.approx(
        [m - z * se, m + z * se]
    )


def test_fisher_z_interval_is_the_delta_method_by_hand() -> None:
    r, se = 0.8, 0.05
    low, high = wald_intervals(np.array([r]), np.array([se]), ["fisher_z"], 0.95)
    half = 1.959963984540054 * se / (1 - r**2)
    assert (low[0], high[0]) == pytest.approx(
        (math.tanh(math.atanh(r) - half), math.tanh(math.atanh(r) + half))
    )
    assert -1 < low[0] < high[0] < 1


def test_a_loose_stopping_rule_does_not_cost_the_standard_errors() -> None:
    from emstat.mixture.stderr import information_std_errors

    # stopped where EM crawls, within reach of the maximum (tests/mixture/test_stderr_reach.py
    # has a fit too far from any maximum to take its information)
    data, seed = _replicate(SEED_DESIGN, 34)
    loose = emstat.fit_mixture(data, 2, model="V", seed=seed)
    at_fit = information_std_errors(data.to_numpy(float), loose.params_, "V")
    assert np.isnan(at_fit).any()  # before: these NaN were the fit's standard errors
    assert loose.std_error_reason is None
    tight = emstat.fit_mixture(
        data, 2, model="V", seed=seed, control=emstat.EMControl(tol=1e-13, max_iter=100_000)
    )
    np.testing.assert_allclose(loose.params["std_err"], tight.params["std_err"], rtol=1e-4)


def test_every_fit_of_a_small_seed_study_gets_an_interval_or_a_reason() -> None:
    with_se = 0
    fits = [_seed_fit(rep) for rep in range(100)]
    for fit in fits:
        if not fit.ok:
            continue
        table = fit.params
        if table["std_err"].isna().any():
            reason = fit.std_error_reason or ""
            assert "along" in reason or "degenerate" in reason, reason
        else:
            with_se += 1
        weights = table[table["parameter"] == "weight"]
        variances = table[table["parameter"] == "var[x]"]
        assert ((weights["ci_low"] > 0) | weights["ci_low"].isna()).all()
        # (a weight near 1 with a wide interval rounds its upper end to 1.0)
        assert ((weights["ci_high"] <= 1) | weights["ci_high"].isna()).all()
        assert ((variances["ci_low"] > 0) | variances["ci_low"].isna()).all()
    assert with_se >= 95  # before: about two thirds
    # every replicate gets a bootstrap interval, inside the space
    for fit in fits[:30]:
        if fit.ok:
            boot = fit.conf_int(method="bootstrap", n_boot=40, kind="pb", seed=1)
            assert np.isfinite(boot[["ci_low", "ci_high"]].to_numpy()).all()
            w = boot[boot["parameter"] == "weight"]
            assert ((w["ci_low"] > 0) & (w["ci_high"] < 1)).all()


def test_wald_coverage_on_a_well_separated_design_is_nominal() -> None:
    formula = "0.5*N(-3,1) + 0.5*N(3,1)"
    truth = np.array([0.5, -3.0, 1.0, 0.5, 3.0, 1.0])
    hits = []
    for rep in range(1000):
        data, seed = _replicate(formula, rep)
        fit = emstat.fit_mixture(data, 2, model="V", seed=seed)
        table = fit.params.sort_values(["component"]).reset_index(drop=True)
        order = np.argsort(fit.means.to_numpy()[:, 0])
        rows = np.concatenate([np.arange(3) + 3 * j for j in order])
        low, high = table["ci_low"].to_numpy()[rows], table["ci_high"].to_numpy()[rows]
        hits.append((low <= truth) & (truth <= high))
    coverage = np.mean(hits, axis=0)
    weights_means = [0, 1, 3, 4]
    assert np.all(np.abs(coverage[weights_means] - 0.95) <= 0.02), coverage
    # A variance's log-scale interval from n_k rows covers P(|log(chi2_{n_k-1} / n_k)| <=
    # z sqrt(2 / n_k)) (about 0.94 here, n_k ~ Bin(100, 1/2)): that, within 3 MC errors.
    z = stats.norm.ppf(0.975)
    n_k = np.arange(20, 81)
    half = z * np.sqrt(2 / n_k)
    inside = stats.chi2.cdf(n_k * np.exp(half), n_k - 1) - stats.chi2.cdf(
        n_k * np.exp(-half), n_k - 1
    )
    theory = float(np.sum(stats.binom.pmf(n_k, 100, 0.5) * inside))
    assert 0.93 < theory < 0.945
    assert np.all(np.abs(coverage[[2, 5]] - theory) <= 3 * math.sqrt(theory * (1 - theory) / 1000))


# --------------------------------------------------------------------------- families


def test_a_rate_on_the_boundary_leaves_the_other_standard_errors() -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"y": np.r_[np.zeros(50, int), rng.poisson(6, 50)]})
    fit = emstat.fit_mixture(frame, 2, family="poisson")
    table = fit.params.set_index(["component", "parameter"])
    zero = 1 if table.loc[(1, "rate[y]"), "estimate"] < 1 else 2
    other = 3 - zero
    assert math.isnan(table.loc[(zero, "rate[y]"), "std_err"])
    assert np.isfinite(
        table.loc[[(1, "weight"), (2, "weight"), (other, "rate[y]")], "std_err"]
    ).all()
    assert f"{zero}:rate[y]" in fit.std_error_reason and "boundary" in fit.std_error_reason
    # the others are the information of the fit with the zero rate held: a one-rate
    # Poisson mixture whose weight is the share of zeros beyond the Poisson's own
    rate = table.loc[(other, "rate[y]"), "estimate"]
    assert table.loc[(other, "rate[y]"), "std_err"] == pytest.approx(
        math.sqrt(rate / (100 * table.loc[(other, "weight"), "estimate"])), rel=0.05
    )


def test_family_bootstrap_aligns_and_counts() -> None:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"y": np.r_[rng.poisson(1, 80), rng.poisson(9, 70)]})
    fit = emstat.fit_mixture(frame, 2, family="poisson")
    boot = fit.bootstrap(200, kind="bs", seed=3)
    assert boot.n_failed == 0 and boot.replicates.shape == (200, 4)
    wald = fit.params["std_err"].to_numpy()
    ratio = boot.std_errors.to_numpy() / wald
    assert np.all(np.abs(ratio - 1) < 0.3), ratio
    again = fit.bootstrap(200, kind="bs", seed=3, workers=2)
    np.testing.assert_array_equal(again.values, boot.values)


# --------------------------------------------------------------------------- bootstrap


def test_replicates_are_the_same_on_any_number_of_workers(small: emstat.MixtureResult) -> None:
    one = small.bootstrap(60, kind="wlbs", seed=5)
    two = small.bootstrap(60, kind="wlbs", seed=5, workers=2)
    np.testing.assert_array_equal(one.values, two.values)
    assert one.replicates.columns.names == ["component", "parameter"]


def test_bca_agrees_with_scipy_for_a_mean() -> None:
    rng = np.random.default_rng(4)
    x = rng.exponential(size=60)
    fit = emstat.fit_mixture(x, 1, model="V")
    ours_b, theirs_b = 4000, 20000
    boot = fit.bootstrap(ours_b, kind="bs", seed=1)
    ours = boot.conf_int(0.9, interval="bca").set_index("parameter").loc["mean[x]"]
    theirs = stats.bootstrap(
        (x,), np.mean, n_resamples=theirs_b, confidence_level=0.9, method="BCa", random_state=2
    ).confidence_interval
    # Monte Carlo sd of a 5% quantile of B draws: sqrt(p (1 - p) / B) / density there
    se = x.std() / math.sqrt(60)
    density = stats.norm.pdf(stats.norm.ppf(0.05)) / se
    mc = math.sqrt(0.05 * 0.95 * (1 / ours_b + 1 / theirs_b)) / density
    assert ours["ci_low"] == pytest.approx(theirs.low, abs=4 * mc)
    assert ours["ci_high"] == pytest.approx(theirs.high, abs=4 * mc)


def test_basic_and_percentile_intervals_stay_inside_the_space(small: emstat.MixtureResult) -> None:
    boot = small.bootstrap(200, kind="pb", seed=2)
    for interval in ("percentile", "basic", "bca", "normal"):
        table = boot.conf_int(interval=interval)
        w = table[table["parameter"] == "weight"]
        v = table[table["parameter"] == "var[x]"]
        assert ((w["ci_low"] > 0) & (w["ci_high"] < 1)).all() and (v["ci_low"] > 0).all()
        assert (table["method"] == f"bootstrap-{interval}").all()
    assert "parametric bootstrap (pb): 200 refits, 0 failed" in boot.summary()


# --------------------------------------------------------------------------- profile


def _brute_profile(x: np.ndarray, fixed_mean: float, start: np.ndarray) -> float:
    """max over (logit w, mean 2, log var 1, log var 2) with mean 1 fixed, by scipy."""

    def negative(theta: np.ndarray) -> float:
        w = 1 / (1 + math.exp(-theta[0]))
        dens = w * stats.norm.pdf(x, fixed_mean, math.exp(theta[2] / 2)) + (1 - w) * stats.norm.pdf(
            x, theta[1], math.exp(theta[3] / 2)
        )
        return -float(np.sum(np.log(dens)))

    best = optimize.minimize(
        negative,
        start,
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000},
    )
    best = optimize.minimize(negative, best.x, method="BFGS", options={"gtol": 1e-9})
    return -float(best.fun)


def test_profile_matches_a_brute_force_grid_of_constrained_fits(
    small: emstat.MixtureResult,
) -> None:
    x = small.data_.ravel()
    table = small.params.set_index(["component", "parameter"])
    w = table.loc[(1, "weight"), "estimate"]
    start = np.array(
        [
            math.log(w / (1 - w)),
            table.loc[(2, "mean[x]"), "estimate"],
            math.log(table.loc[(1, "var[x]"), "estimate"]),
            math.log(table.loc[(2, "var[x]"), "estimate"]),
        ]
    )
    m1 = table.loc[(1, "mean[x]"), "estimate"]
    grid = m1 + np.array([-0.6, -0.3, 0.2, 0.45])
    ours = profile_loglik(small, "1:mean[x]", grid)
    brute = np.array([_brute_profile(x, v, start) for v in grid])
    np.testing.assert_allclose(ours, brute, atol=1e-5)
    interval = small.conf_int(method="profile", parameters=["1:mean[x]"]).iloc[0]
    # the unconstrained maximum: the profile's maximum over the fixed mean as well
    l_max = -optimize.minimize_scalar(
        lambda v: -_brute_profile(x, v, start), bracket=(m1 - 0.05, m1 + 0.05), tol=1e-10
    ).fun
    cut = stats.chi2.ppf(0.95, 1)

    def deviance(v: float) -> float:
        return 2 * (l_max - _brute_profile(x, v, start)) - cut

    # brackets a little wider than our ends: the roots themselves are the brute force's
    low = optimize.brentq(deviance, interval["ci_low"] - 0.3, m1, xtol=1e-6)
    high = optimize.brentq(deviance, m1, interval["ci_high"] + 0.3, xtol=1e-6)
    assert (interval["ci_low"], interval["ci_high"]) == pytest.approx((low, high), abs=1e-4)
    assert interval["method"] == "profile"


def test_profile_weight_interval_is_inside_the_unit_interval(small: emstat.MixtureResult) -> None:
    table = small.conf_int(0.99, method="profile", parameters=["1:weight", (2, "var[x]")])
    assert list(table["parameter"]) == ["weight", "var[x]"]
    assert 0 < table["ci_low"].iloc[0] < table["estimate"].iloc[0] < table["ci_high"].iloc[0] < 1
    assert 0 < table["ci_low"].iloc[1] < table["estimate"].iloc[1]


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda f: f.bootstrap(10, kind="np"), ["unknown bootstrap kind 'np'", "'bs'", "'jk'"]),
        (lambda f: f.bootstrap(1), ["n_boot must be a whole number >= 2", "1"]),
        (lambda f: f.bootstrap(2.5), ["n_boot must be a whole number >= 2"]),
        (
            lambda f: f.bootstrap(10, seed=1).conf_int(interval="bc"),
            ["unknown interval 'bc'", "bca"],
        ),
        (lambda f: f.bootstrap(10, seed=1).conf_int(1.5), ["between 0 and 1", "1.5"]),
        (lambda f: f.conf_int(0.0, method="bootstrap", n_boot=5), ["between 0 and 1"]),
        (
            lambda f: f.conf_int(method="jackknife"),
            ["unknown interval method 'jackknife'", "profile"],
        ),
        (
            lambda f: f.conf_int(method="profile", parameters=["3:weight"]),
            ["no parameter '3:weight'", "1:weight", "2:var[x]"],
        ),
        (lambda f: f.conf_int(method="wald", n_boot=9), ["does not take n_boot"]),
        (
            lambda f: f.bootstrap(10, kind="jk").conf_int(interval="percentile"),
            ["jackknife", "normal"],
        ),
    ],
)
def test_bad_input_is_one_clear_error(small: emstat.MixtureResult, call, words) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError) as caught:
        call(small)
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_a_fit_without_its_rows_bootstraps_parametrically_only(
    small: emstat.MixtureResult, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    loaded = emstat.load_fit(small.save(tmp_path / "fit.json"))
    with pytest.raises(InputError, match=r"does not keep.*kind='pb'"):
        loaded.bootstrap(10, kind="bs")
    boot = loaded.bootstrap(30, kind="pb", seed=1)
    assert boot.n_failed == 0 and boot.replicates.shape == (30, 6)


def test_weighted_rows_bootstrap_as_repeated_rows(small: emstat.MixtureResult) -> None:
    x = small.data_.ravel()
    counts = np.r_[np.full(35, 2.0), np.ones(x.size - 35)]
    weighted = emstat.fit_mixture(x, 2, model="V", weights=counts)
    repeated = emstat.fit_mixture(np.repeat(x, counts.astype(int)), 2, model="V")
    np.testing.assert_allclose(weighted.params["std_err"], repeated.params["std_err"], rtol=1e-5)
    jack = weighted.bootstrap(kind="jk")
    assert jack.n_boot == x.size and jack.n_failed == 0
    boot = weighted.bootstrap(50, kind="wlbs", seed=2)
    assert np.isfinite(boot.std_errors).all()
