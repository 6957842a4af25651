"""Standard errors of mixture estimates: closed forms, numerical Hessians, the bootstrap."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.tools.numdiff import approx_hess3

import emstat
from emstat.engine import EMControl, fit_em
from emstat.errors import InputError
from emstat.mixture import gaussian, stderr
from emstat.mixture.covariance import COVARIANCE_MODELS, get_covariance_model
from emstat.mixture.gaussian import GaussianParams
from emstat.mixture.model import GaussianMixtureModel

MODELS_2D = [name for name in COVARIANCE_MODELS if len(name) == 3]
FAITHFUL = Path(__file__).resolve().parents[2] / "data" / "faithful.csv"
TIGHT = EMControl(tol=1e-12, max_iter=100_000)


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #


def _faithful_init() -> str | None:
    """hc when mclust's agglomeration is available, else k-means++."""
    from emstat.mixture import hc

    return None if hasattr(hc, "hc_tree") else "kmeans++"


def fit_faithful(model: str, tol: float | None = None) -> tuple[np.ndarray, GaussianParams]:
    frame = pd.read_csv(FAITHFUL)
    if len(model) == 1:
        frame = frame[["waiting"]]
    fit = emstat.fit_mixture(frame, k=2, model=model, init=_faithful_init(), tol=tol)
    assert fit.ok and fit.params_ is not None
    return frame.to_numpy(dtype=float), fit.params_


def rotation(angle: float) -> np.ndarray:
    return np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])


def separated_truth(model: str) -> GaussianParams:
    """A well-separated two-component mixture in 2-D that satisfies ``model`` exactly."""
    name = get_covariance_model(model, 2).name
    volume, shape, orient = name[0], name[1], name[2]
    volumes = [1.0, 1.0] if volume == "E" else [1.0, 2.0]
    shapes = {
        "I": [np.ones(2)] * 2,
        "E": [np.array([2.0, 0.5])] * 2,
        "V": [np.array([2.0, 0.5]), np.array([1.5, 1 / 1.5])],
    }[shape]
    orients = {"I": [np.eye(2)] * 2, "E": [rotation(0.5)] * 2, "V": [rotation(0.5), rotation(-0.7)]}
    turns = orients[orient]
    cov = np.stack([volumes[j] * turns[j] @ np.diag(shapes[j]) @ turns[j].T for j in range(2)])
    return gaussian.gaussian_params(np.array([0.4, 0.6]), np.array([[0.0, 0.0], [6.0, 3.0]]), cov)


def univariate_truth(
    weights: list[float], means: list[float], variances: list[float]
) -> GaussianParams:
    return gaussian.gaussian_params(
        np.array(weights),
        np.array(means)[:, None],
        np.array(variances)[:, None, None],
        diagonal=True,
    )


def draw(params: GaussianParams, n: int, rng: np.random.Generator) -> np.ndarray:
    labels = rng.choice(params.k, size=n, p=params.weights)
    chol = np.linalg.cholesky(params.covariances)
    noise = rng.standard_normal((n, params.d))
    return params.means[labels] + np.einsum("nij,nj->ni", chol[labels], noise)


def refit(x: np.ndarray, start: GaussianParams, model: str) -> GaussianParams:
    covariance = get_covariance_model(model, x.shape[1])
    result = fit_em(GaussianMixtureModel(covariance, start.k), x, theta0=start, control=TIGHT)
    assert result.ok and result.theta is not None
    return result.theta


def mle_one_component(x: np.ndarray) -> GaussianParams:
    centred = x - x.mean(axis=0)
    scatter = centred.T @ centred / len(x)
    return gaussian.gaussian_params(np.ones(1), x.mean(axis=0)[None], scatter[None])


def fixed_rows(k: int, d: int, model: str) -> np.ndarray:
    """Rows fixed by construction: off-diagonals of diagonal models, the weight when k = 1."""
    name = get_covariance_model(model, d).name
    block = np.zeros(1 + d + d * (d + 1) // 2, dtype=bool)
    block[0] = k == 1
    iu = np.triu_indices(d)
    if len(name) == 3 and name[2] == "I":
        block[1 + d :] = iu[0] != iu[1]
    return np.tile(block, k)


# --------------------------------------------------------------------------- #
# the chart
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("model", list(COVARIANCE_MODELS))
@pytest.mark.parametrize("k", [1, 3])
def test_chart_has_the_models_free_parameters_and_passes_through_the_fit(
    model: str, k: int
) -> None:
    d = 1 if len(model) == 1 else 3
    rng = np.random.default_rng(k)
    x = rng.normal(size=(300, d)) + 4.0 * rng.integers(k, size=300)[:, None]
    covariance = get_covariance_model(model, d)
    em_model = GaussianMixtureModel(covariance, k)
    labels = np.argsort(np.argsort(x[:, 0])) * k // 300
    params = fit_em(em_model, x, stats0=em_model.stats_from_labels(x, labels), control=TIGHT).theta
    assert params is not None
    chart = stderr._build_chart(params, model)
    assert chart.n_free == em_model.n_params(d)
    weights, means, covariances = stderr._chart_point(chart, np.zeros(chart.n_free))
    np.testing.assert_array_equal(means, params.means)
    np.testing.assert_allclose(weights, params.weights, rtol=1e-15)
    np.testing.assert_array_equal(covariances, params.covariances)
    # every point of the chart satisfies the model: its M-step reproduces it
    theta = 0.05 * rng.standard_normal(chart.n_free)
    weights, means, covariances = stderr._chart_point(chart, theta)
    nk = 1000.0 * weights
    scatter = nk[:, None, None] * covariances
    if covariance.scatter == "diag":
        scatter = np.einsum("kii->ki", scatter)
    np.testing.assert_allclose(covariance.m_step(nk, scatter), covariances, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("model", list(COVARIANCE_MODELS))
def test_jacobian_matches_central_differences(model: str) -> None:
    x, params = fit_faithful(model)
    _, _, chart = stderr._prepare(x, params, model)
    jac = stderr._jacobian(chart)
    step = 1e-6
    numeric = np.column_stack(
        [
            (
                stderr.reported_vector(*stderr._chart_point(chart, step * e))
                - stderr.reported_vector(*stderr._chart_point(chart, -step * e))
            )
            / (2 * step)
            for e in np.eye(chart.n_free)
        ]
    )
    np.testing.assert_allclose(jac, numeric, atol=1e-6 * np.abs(jac).max())


@pytest.mark.parametrize("model", list(COVARIANCE_MODELS))
def test_analytic_hessian_matches_numerical_hessian(model: str) -> None:
    x, params = fit_faithful(model)
    data, centred, chart = stderr._prepare(x, params, model)

    def loglik(theta: np.ndarray) -> float:
        weights, means, covariances = stderr._chart_point(chart, theta)
        point = gaussian.gaussian_params(weights, means, covariances)
        return float(gaussian.log_responsibilities(data, point)[1].sum())

    analytic, _ = stderr._loglik_hessian(data, centred, chart)
    numeric = approx_hess3(np.zeros(chart.n_free), loglik, epsilon=1e-4)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-6 * np.abs(analytic).max())


# --------------------------------------------------------------------------- #
# closed forms for one component
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("model", ["E", "V"])
def test_one_component_univariate_closed_form(model: str) -> None:
    rng = np.random.default_rng(11)
    x = rng.normal(loc=2e4, scale=3.0, size=(250, 1))  # far from 0: centring must keep the digits
    params = mle_one_component(x)
    se = stderr.information_std_errors(x, params, model)
    n, var = len(x), float(params.covariances[0, 0, 0])
    np.testing.assert_allclose(se, [0.0, math.sqrt(var / n), var * math.sqrt(2 / n)], rtol=1e-9)


@pytest.mark.parametrize("model", ["VVV", "EEE", "VEV", "EVV", "VVE"])
def test_one_component_bivariate_normal_theory(model: str) -> None:
    rng = np.random.default_rng(5)
    x = rng.multivariate_normal([1.0, -2.0], [[2.0, 0.8], [0.8, 1.0]], size=400)
    params = mle_one_component(x)
    s, n = params.covariances[0], len(x)
    se = stderr.information_std_errors(x, params, model)
    expected = [
        0.0,
        math.sqrt(s[0, 0] / n),
        math.sqrt(s[1, 1] / n),
        math.sqrt(2 * s[0, 0] ** 2 / n),  # Var(S_ij) = (S_ij^2 + S_ii S_jj) / n
        math.sqrt((s[0, 1] ** 2 + s[0, 0] * s[1, 1]) / n),
        math.sqrt(2 * s[1, 1] ** 2 / n),
    ]
    np.testing.assert_allclose(se, expected, rtol=1e-8)


def test_one_component_diagonal_closed_form() -> None:
    rng = np.random.default_rng(8)
    x = rng.normal(scale=[1.0, 3.0, 0.5], size=(300, 3))
    centred = x - x.mean(axis=0)
    var = np.mean(centred**2, axis=0)
    params = gaussian.gaussian_params(
        np.ones(1), x.mean(axis=0)[None], np.diag(var)[None], diagonal=True
    )
    se = stderr.information_std_errors(x, params, "VVI")
    n = len(x)
    var_se = var * math.sqrt(2 / n)
    expected = np.concatenate([[0.0], np.sqrt(var / n), [var_se[0], 0, 0, var_se[1], 0, var_se[2]]])
    np.testing.assert_allclose(se, expected, rtol=1e-9, atol=0)


# --------------------------------------------------------------------------- #
# every model on faithful
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("model", list(COVARIANCE_MODELS))
def test_every_model_gives_finite_standard_errors_on_faithful(model: str) -> None:
    x, params = fit_faithful(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error", stderr.StdErrorWarning)
        se = stderr.information_std_errors(x, params, model)
    fixed = fixed_rows(2, x.shape[1], model)
    assert se.shape == (2 * (1 + x.shape[1] + x.shape[1] * (x.shape[1] + 1) // 2),)
    assert np.all(np.isfinite(se))
    assert np.all(se[fixed] == 0.0)
    assert np.all(se[~fixed] > 0.0)
    # the two weights move together
    assert se[0] == pytest.approx(se[len(se) // 2], rel=1e-10)


def test_standard_errors_do_not_depend_on_the_data_location() -> None:
    x, params = fit_faithful("VEV")
    shift = np.array([1e5, -3e4])
    se = stderr.information_std_errors(x, params, "VEV")
    moved = stderr.information_std_errors(x + shift, params.shifted(shift), "VEV")
    np.testing.assert_allclose(moved, se, rtol=1e-6)


# --------------------------------------------------------------------------- #
# what cannot be estimated
# --------------------------------------------------------------------------- #


def test_parameters_outside_the_model_are_refused() -> None:
    x, params = fit_faithful("VVV")
    with pytest.raises(InputError, match="constraints"):
        stderr.information_std_errors(x, params, "EEE")


@pytest.mark.parametrize("gap", [1e-2, 1e-5, 1e-8])
def test_nearly_tied_eigenvalues_keep_the_normal_theory_values(gap: float) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 2))
    x -= x.mean(axis=0)
    x = x @ np.linalg.inv(np.linalg.cholesky(x.T @ x / 400)).T * np.sqrt([1 + gap, 1])
    params = mle_one_component(x)
    s, n = params.covariances[0], len(x)
    se = stderr.information_std_errors(x, params, "VVV")
    cov_se = np.sqrt(
        (s[[0, 0, 1], [0, 1, 1]] ** 2 + s[[0, 0, 1], [0, 0, 1]] * s[[0, 1, 1], [0, 1, 1]]) / n
    )
    np.testing.assert_allclose(se[3:], cov_se, rtol=1e-6)


def test_tied_eigenvalues_give_nan_not_a_wrong_number() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(200, 2))
    params = gaussian.gaussian_params(np.ones(1), x.mean(axis=0)[None], np.eye(2)[None])
    with pytest.warns(stderr.StdErrorWarning, match="orientation"):
        se = stderr.information_std_errors(x, params, "VVV")
    assert se[0] == 0.0
    assert np.all(np.isfinite(se[1:3]))
    assert np.all(np.isnan(se[3:]))


def test_identical_components_leave_the_weights_unidentified() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(300, 1))
    params = gaussian.gaussian_params(
        np.array([0.5, 0.5]), np.zeros((2, 1)), np.ones((2, 1, 1)), diagonal=True
    )
    with pytest.warns(stderr.StdErrorWarning):
        se = stderr.information_std_errors(x, params, "V")
    assert np.isnan(se[0]) and np.isnan(se[3])


def test_coincident_components_on_bimodal_data_give_nan() -> None:
    # Two components at the same place: a stationary point where the weights and the
    # split of the means are not identified.
    rng = np.random.default_rng(9)
    x = np.concatenate([rng.normal(-3, 1, 200), rng.normal(3, 1, 200)])[:, None]
    params = univariate_truth([0.5, 0.5], [float(x.mean())] * 2, [float(x.var())] * 2)
    with pytest.warns(stderr.StdErrorWarning, match="singular"):
        se = stderr.information_std_errors(x, params, "E")
    assert np.isnan(se[[0, 1, 3, 4]]).all()


def test_delta_method_refuses_a_direction_of_negative_information() -> None:
    info = np.array([[2.0, 0.0], [0.0, -1.0]])
    jac = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    se, reason = stderr._delta_method(info, jac, np.abs(np.diag(info)))
    np.testing.assert_allclose(se[[0, 3]], [math.sqrt(0.5), 0.0])
    assert np.isnan(se[1]) and np.isnan(se[2])
    assert reason is not None and "not positive definite" in reason


def test_delta_method_matches_the_sandwich_when_the_information_is_regular() -> None:
    rng = np.random.default_rng(1)
    root = rng.normal(size=(4, 4)) * np.array([1e-4, 1.0, 1e3, 1.0])  # badly scaled columns
    info = root.T @ root
    jac = rng.normal(size=(6, 4))
    se, reason = stderr._delta_method(info, jac, np.diag(info))
    expected = np.sqrt(np.diag(jac @ np.linalg.inv(info) @ jac.T))
    np.testing.assert_allclose(se, expected, rtol=1e-8)
    assert reason is None


# --------------------------------------------------------------------------- #
# alignment and the bootstrap
# --------------------------------------------------------------------------- #


def test_align_components_undoes_a_permutation() -> None:
    rng = np.random.default_rng(0)
    reference = rng.normal(scale=5.0, size=(6, 3))
    perm = rng.permutation(6)
    noisy = reference[perm] + 0.01 * rng.normal(size=(6, 3))
    found = stderr.align_components(reference, noisy)
    np.testing.assert_array_equal(perm[found], np.arange(6))


def test_align_components_uses_the_metric() -> None:
    reference = np.array([[0.0, 0.0], [1.0, 1.0]])
    means = np.array([[0.0, 0.9], [1.0, 0.1]])
    assert list(stderr.align_components(reference, means)) == [0, 1]  # near tie, Euclidean
    metric = np.diag([0.01, 100.0])  # the first column is precise: match on it
    assert list(stderr.align_components(reference, means, metric)) == [0, 1]
    metric = np.diag([100.0, 0.01])
    assert list(stderr.align_components(reference, means, metric)) == [1, 0]


def test_bootstrap_is_reproducible_and_aligned() -> None:
    truth = separated_truth("VVV")
    first = stderr.bootstrap_replicates(truth, "VVV", 300, n_boot=20, seed=3)
    second = stderr.bootstrap_replicates(truth, "VVV", 300, n_boot=20, seed=3)
    np.testing.assert_array_equal(first.estimates, second.estimates)
    assert first.estimates.shape == (20, 12) and first.n_dropped == 0
    reported = stderr.reported_vector(truth.weights, truth.means, truth.covariances)
    # aligned replicates scatter around the truth, component by component
    assert np.all(np.abs(first.estimates.mean(axis=0) - reported) < 0.5)


def test_bootstrap_reports_dropped_replicates() -> None:
    truth = separated_truth("VVV")
    with pytest.warns(stderr.StdErrorWarning, match="dropped"):
        stderr.bootstrap_std_errors(truth, "VVV", 8, n_boot=30, seed=0)


@pytest.mark.parametrize("model", ["V", "VVV", "EEE", "VVI", "EEV", "VEV"])
def test_information_agrees_with_bootstrap(model: str) -> None:
    rng = np.random.default_rng(5)
    n = 500
    if model == "V":
        truth = univariate_truth([0.4, 0.6], [0.0, 6.0], [1.0, 2.0])
    else:
        truth = separated_truth(model)
    x = draw(truth, n, rng)
    fitted = refit(x, truth, model)
    info = stderr.information_std_errors(x, fitted, model)
    boot = stderr.bootstrap_replicates(fitted, model, n, n_boot=200, seed=1)
    assert boot.n_dropped == 0
    free = info > 0
    ratio = info[free] / boot.std_errors[free]
    # the bootstrap SD has a relative Monte-Carlo error of about 1/sqrt(2 * 199) = 5 %
    assert np.all((ratio > 0.8) & (ratio < 1.25)), ratio
    assert abs(np.mean(np.log(ratio))) < 0.06, ratio


def test_wald_intervals_cover_the_truth() -> None:
    truth = univariate_truth([0.35, 0.65], [0.0, 5.0], [1.0, 1.5])
    target = stderr.reported_vector(truth.weights, truth.means, truth.covariances)
    n, reps = 500, 200
    covered = np.zeros((reps, len(target)), dtype=bool)
    for rep, child in enumerate(np.random.SeedSequence(20240).spawn(reps)):
        x = draw(truth, n, np.random.default_rng(child))
        fitted = refit(x, truth, "V")
        perm = stderr.align_components(truth.means, fitted.means)
        estimate = stderr.reported_vector(
            fitted.weights[perm], fitted.means[perm], fitted.covariances[perm]
        )
        se = stderr.information_std_errors(x, fitted, "V").reshape(2, -1)[perm].ravel()
        covered[rep] = np.abs(estimate - target) <= 1.959963984540054 * se
    coverage = covered.mean(axis=0)
    band = 3 * math.sqrt(0.95 * 0.05 / reps)  # 3 binomial standard errors: 0.904 .. 0.996
    assert np.all(np.abs(coverage - 0.95) <= band), coverage
    pooled_band = 3 * math.sqrt(0.95 * 0.05 / (reps * 3))  # the weights count once
    assert abs(covered[:, 1:].mean() - 0.95) <= pooled_band + 0.01, coverage
