"""The compiled information kernels against their numpy oracles, and the Newton-first polish."""

from __future__ import annotations

import itertools
import warnings
from typing import Any

import numpy as np
import pytest

import emstat
from emstat.engine import EMControl, fit_em
from emstat.mixture import gaussian, stderr
from emstat.mixture.covariance import COVARIANCE_MODELS, get_covariance_model
from emstat.mixture.gaussian import GaussianParams
from emstat.mixture.model import GaussianMixtureModel

MULTIVARIATE = [name for name in COVARIANCE_MODELS if len(name) == 3]
CASES = [(m, d) for m in MULTIVARIATE for d in (2, 3)] + [("E", 1), ("V", 1)]


def partial_fit(model: str, d: int, k: int, seed: int, iterations: int = 30) -> Any:
    """Data and parameters some EM steps from a sorted partition: not stationary, so every
    term of the derivatives (the score too) is far from zero."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(150, d)) @ rng.normal(size=(d, d)) * 0.5
    x += 3.0 * rng.integers(k, size=150)[:, None]
    em_model = GaussianMixtureModel(get_covariance_model(model, d), k)
    labels = np.argsort(np.argsort(x[:, 0])) * k // 150
    control = EMControl(max_iter=iterations)
    fit = fit_em(em_model, x, stats0=em_model.stats_from_labels(x, labels), control=control)
    assert fit.theta is not None
    return x, fit.theta


def relative_gap(new: np.ndarray, oracle: np.ndarray, scale: float) -> float:
    return float(np.max(np.abs(new - oracle)) / scale)


# --------------------------------------------------------------------------- #
# the kernels against numpy
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize(("model", "d"), CASES)
def test_compiled_derivatives_match_numpy(model: str, d: int, k: int, weighted: bool) -> None:
    x, params = partial_fit(model, d, k, seed=10 * k + d)
    data, centred, chart = stderr._prepare(x, params, model)
    rng = np.random.default_rng(k)
    case_weights = rng.uniform(0.2, 3.0, len(data)) if weighted else None
    oracle = stderr._numpy_loglik_derivatives(data, centred, chart, case_weights)
    compiled = stderr._compiled_derivatives(data, centred, chart, case_weights)
    assert compiled is not None
    hess, size, score, loglik = compiled
    # the Hessian's entries are differences of sums: compare on the scale of its terms
    scale = float(np.max(oracle[1]))
    assert relative_gap(hess, oracle[0], scale) < 1e-10
    assert relative_gap(size, oracle[1], scale) < 1e-10
    assert relative_gap(score, oracle[2], float(np.sqrt(scale * len(data)))) < 1e-10
    np.testing.assert_array_equal(hess, hess.T)
    rows = gaussian.log_responsibilities(data, centred)[1]
    expected = rows.sum() if case_weights is None else case_weights @ rows
    assert loglik == pytest.approx(expected, rel=1e-12)
    assert stderr._weighted_loglik(data, centred, case_weights) == pytest.approx(
        expected, rel=1e-12
    )


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize(("model", "d"), CASES)
def test_compiled_row_scores_match_numpy(model: str, d: int, k: int) -> None:
    x, params = partial_fit(model, d, k, seed=k + d)
    data, centred, chart = stderr._prepare(x, params, model)
    oracle = stderr._numpy_row_scores(data, centred, chart)
    compiled = stderr._row_scores(data, centred, chart)
    assert relative_gap(compiled, oracle, float(np.max(np.abs(oracle)))) < 1e-10


def test_a_row_too_far_to_evaluate_directly_falls_back_to_numpy() -> None:
    x, params = partial_fit("VVV", 2, 2, seed=3)
    data, centred, chart = stderr._prepare(x, params, "VVV")
    far = np.vstack([data, [[1e160, -1e160]]])  # its squared distances overflow
    assert stderr._compiled_derivatives(far, centred, chart, None) is None
    with np.errstate(all="ignore"):  # numpy's own treatment of the row: not finite
        oracle = stderr._numpy_loglik_derivatives(far, centred, chart)
        got = stderr._loglik_derivatives(far, centred, chart)
        scores = (
            stderr._row_scores(far, centred, chart),
            stderr._numpy_row_scores(far, centred, chart),
        )
    for mine, want in zip(got, oracle, strict=True):
        np.testing.assert_array_equal(mine, want)
    np.testing.assert_array_equal(*scores)
    _, rows = gaussian.log_responsibilities(far, centred)
    assert stderr._weighted_loglik(far, centred, None) == rows.sum() == -np.inf


@pytest.mark.parametrize("p", [1, 2, 5, 12])
def test_compiled_newton_step_matches_numpy(p: int) -> None:
    rng = np.random.default_rng(p)
    for shift in (0.1, -0.3, 0.0):  # positive definite, indefinite, singular when p > 1
        root = rng.normal(size=(p, max(p - 1, 1)))
        info = root @ root.T + shift * p * np.eye(p)
        grad, size = rng.normal(size=p), np.abs(np.diag(info)) + 1.0
        want, want_distance = stderr._numpy_newton_step(info, grad, size)
        got, distance = stderr._newton_step(info, grad, size)
        assert (got is None) == (want is None)
        if want is not None and got is not None:
            np.testing.assert_allclose(got, want, rtol=1e-10)
            assert distance == pytest.approx(want_distance, rel=1e-12)
        else:
            assert distance == want_distance == np.inf


@pytest.mark.parametrize("d", [1, 2, 3, 4])
@pytest.mark.parametrize("has_shape", [False, True])
@pytest.mark.parametrize("has_orientation", [False, True])
def test_jets_from_the_cached_basis_are_the_direct_products(
    d: int, has_shape: bool, has_orientation: bool
) -> None:
    diagonal = np.random.default_rng(d).uniform(1e-3, 1e3, d)
    direct = stderr._direct_local_jets(diagonal, has_shape, has_orientation)
    combined = stderr._local_jets(diagonal, has_shape, has_orientation)
    for got, want in zip(combined, direct, strict=True):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-14 * np.abs(want).max())


# --------------------------------------------------------------------------- #
# Newton first
# --------------------------------------------------------------------------- #


def truth(model: str, d: int) -> GaussianParams:
    """Two overlapping components that satisfy ``model`` (an EM fit creeps on them)."""
    if d == 1:
        variances = [1.0, 1.0] if model == "E" else [1.0, 2.0]
        covs = np.array(variances).reshape(2, 1, 1)
        return gaussian.gaussian_params(np.array([0.4, 0.6]), np.array([[-1.5], [1.5]]), covs)
    angle = 0.5
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shapes = {"VVV": [np.diag([2.0, 0.5]), rot @ np.diag([1.0, 0.6]) @ rot.T]}
    shapes["EEE"] = [rot @ np.diag([2.0, 0.5]) @ rot.T] * 2
    shapes["VII"] = [np.eye(2), 1.8 * np.eye(2)]
    means = np.array([[-1.2, 0.3], [1.2, -0.3]])
    return gaussian.gaussian_params(np.array([0.4, 0.6]), means, np.array(shapes[model]))


def loose_fit(model: str, d: int, seed: int) -> tuple[np.ndarray, GaussianParams, GaussianParams]:
    """Centred data, a fit stopped at ``tol = 1e-3`` and the same fit's start."""
    source = truth(model, d)
    x, _ = gaussian.draw_mixture(
        source.weights, source.means, source.covariances, 400, np.random.default_rng(seed)
    )
    x = x - x.mean(axis=0)
    em_model = GaussianMixtureModel(get_covariance_model(model, d), 2)
    labels = (x[:, 0] > 0).astype(int)
    stats0 = em_model.stats_from_labels(x, labels)
    fit = fit_em(em_model, x, stats0=stats0, control=EMControl(tol=1e-3), warn=False)
    assert fit.ok and fit.theta is not None
    return x, fit.theta, source


def em_then_newton(x: np.ndarray, params: GaussianParams, model: str) -> GaussianParams:
    """The EM route as an independent reference: EM at POLISH_CONTROL, then Newton."""
    theta, reason = stderr._polish_em(x, params, model, None, float(len(x)))
    assert reason is None
    polished, _, stationary = stderr._newton_polish(x, theta, model, None)
    assert stationary
    return polished


@pytest.mark.parametrize("seed", [1, 3])
@pytest.mark.parametrize(("model", "d"), [("V", 1), ("VVV", 2), ("EEE", 2), ("VII", 2)])
def test_newton_from_a_loose_fit_reaches_the_em_routes_stationary_point(
    model: str, d: int, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    x, loose, _ = loose_fit(model, d, seed)
    chart = stderr._build_chart(loose, model)
    hess, size, grad = stderr._loglik_derivatives(x, loose, chart)
    step, distance = stderr._newton_step(-hess, grad, size)
    assert step is not None and distance > stderr.STATIONARY_SE  # Newton starts; polish needed
    reference = em_then_newton(x, loose, model)
    distances: list[float] = []
    em_calls: list[int] = []
    newton_step = stderr._newton_step

    def recorded(*args: Any) -> Any:
        result = newton_step(*args)
        distances.append(result[1])
        return result

    monkeypatch.setattr(stderr, "_newton_step", recorded)
    monkeypatch.setattr(stderr, "_polish_em", lambda *a: em_calls.append(1) or (a[1], None))
    # the Python loop, whose steps are seen (the compiled one is checked against it elsewhere)
    monkeypatch.setattr(stderr, "_compiled_newton_polish", lambda *a: None)
    polished, reason, known, _ = stderr._polish(x, loose, model, None, (chart, hess, size, grad))
    assert reason is None and known is not None and not em_calls
    # quadratic convergence: each distance (in standard errors) below 0.1 squares, down to
    # the rounding floor of the score
    assert distances[-1] <= stderr._NEWTON_TOL
    for before, after in itertools.pairwise(distances):
        assert after <= (max(10 * before**2, 1e-12) if before < 0.1 else before)
    scale = np.abs(reference.vector()).max()
    np.testing.assert_allclose(polished.vector(), reference.vector(), rtol=0, atol=1e-8 * scale)
    loglik = stderr._weighted_loglik(x, polished, None)
    assert loglik == pytest.approx(stderr._weighted_loglik(x, reference, None), abs=1e-10)
    assert loglik > stderr._weighted_loglik(x, loose, None)
    # the derivatives handed back are the ones at the polished point
    chart_again = stderr._build_chart(polished, model)
    derivatives = stderr._loglik_derivatives(x, polished, chart_again)
    for got, want in zip(known[1:], derivatives, strict=True):
        np.testing.assert_array_equal(got, want)


def test_newton_that_loses_positive_definiteness_on_the_way_takes_damped_steps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A loose VVV fit whose information is positive definite but not after the first step:
    damped (Levenberg-Marquardt) steps carry on uphill to the EM route's stationary point;
    without them the EM route runs, as before."""
    x, loose, _ = loose_fit("VVV", 2, 2)
    reference = em_then_newton(x, loose, "VVV")
    scale = np.abs(reference.vector()).max()
    polished, _, stationary = stderr._newton_polish(x, loose, "VVV", None)
    assert stationary
    np.testing.assert_allclose(polished.vector(), reference.vector(), atol=1e-8 * scale)
    monkeypatch.setattr(stderr, "_damped_ascent", lambda *a: None)
    _, _, stationary = stderr._newton_polish(x, loose, "VVV", None)
    assert not stationary
    em_calls: list[int] = []
    polish_em = stderr._polish_em
    monkeypatch.setattr(stderr, "_polish_em", lambda *a: em_calls.append(1) or polish_em(*a))
    polished, reason, _, _ = stderr._polish(x, loose, "VVV", None)
    assert em_calls == [1] and reason is None
    np.testing.assert_array_equal(polished.vector(), reference.vector())


def saddle_fit() -> tuple[np.ndarray, GaussianParams]:
    """A seed-study replicate whose fit is not a local maximum (its information is not
    positive definite): EM from it moves far, to a lopsided split."""
    rng = np.random.default_rng(1)
    for _ in range(7):
        x = np.concatenate([rng.normal(-0.8, 1, 50), rng.normal(0.8, 1, 50)])[:, None]
    fit = emstat.fit_mixture(x, k=2, model="V")
    assert fit.ok and fit.params_ is not None
    return x, fit.params_


def test_a_fit_whose_information_is_not_positive_definite_climbs_by_damped_steps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    x, params = saddle_fit()
    data, centred, chart = stderr._prepare(x, params, "V")
    hess, size, grad = stderr._loglik_derivatives(data, centred, chart)
    step, _ = stderr._newton_step(-hess, grad, size)
    assert step is None  # Newton cannot start
    em_calls: list[int] = []
    polish_em = stderr._polish_em
    monkeypatch.setattr(stderr, "_polish_em", lambda *a: em_calls.append(1) or polish_em(*a))
    polished, reason, known, move = stderr._polish(
        data, centred, "V", None, (chart, hess, size, grad)
    )
    assert em_calls == [] and reason is None and known is not None
    # the maximum EM at a tight tolerance reaches, without EM's thousand steps
    reference = em_then_newton(data, centred, "V")
    np.testing.assert_allclose(polished.vector(), reference.vector(), atol=1e-8)
    assert abs(polished.weights[0] - centred.weights[0]) > 0.1  # far in the weights...
    moved = stderr._polish_move(centred, polished, known).distance
    assert 1 < moved <= stderr.POLISH_REACH_SE  # ...but within 3 of their standard errors
    # the verdict is handed to the caller, not taken again there
    assert move is not None and move.distance == moved


def test_em_route_reason_when_em_from_the_fit_degenerates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Information not positive definite and EM from the fit degenerating: the EM route's
    reason is the standard errors' reason."""
    x, params = saddle_fit()
    message = "EM from the estimate runs into a degenerate solution (test)"
    monkeypatch.setattr(stderr, "_polish_em", lambda *a: (a[1], message))
    monkeypatch.setattr(stderr, "_damped_ascent", lambda *a: None)  # the EM route, then
    monkeypatch.setattr(stderr, "_compiled_newton_polish", lambda *a: None)  # (in Python)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        se, reason = stderr.stationary_std_errors(x, params, "V")
    assert reason == message
    assert np.isnan(se).any()
