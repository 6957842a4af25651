"""SQUAREM in the compiled EM loop: the standard errors' tight-tolerance polish."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from emstat.engine import EMControl, fit_em
from emstat.mixture import _em_kernels, gaussian, stderr
from emstat.mixture.covariance import get_covariance_model
from emstat.mixture.model import GaussianMixtureModel

REFERENCE = Path(__file__).parent.parent / "reference" / "squarem_capped_fit.json"
TIGHT = stderr.POLISH_CONTROL
LONG = EMControl(tol=1e-13, criterion="rel", max_iter=999_000)


def _start(x: np.ndarray, model: GaussianMixtureModel) -> gaussian.GaussianParams:
    """A loose fit (tol 1e-3) of ``x``: the kind of estimate the polish starts from."""
    d = x.shape[1]
    labels = (x[:, 0] > np.median(x[:, 0])).astype(int)
    stats = model.stats_from_labels(x, labels)
    loose = fit_em(model, x, stats0=stats, control=EMControl(tol=1e-3), warn=False)
    assert loose.ok and loose.theta is not None and loose.theta.d == d
    return loose.theta


def _data(d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shift = np.full(d, 1.2)
    scale = np.linspace(1.0, 1.6, d)
    return np.vstack(
        [rng.normal(-shift, 1.0, (120, d)), rng.normal(shift, scale, (80, d)) @ np.eye(d)]
    )


@pytest.mark.parametrize(
    ("name", "d"), [("V", 1), ("E", 1), ("VVI", 2), ("EEI", 3), ("VVV", 2), ("EEE", 2), ("VEE", 2)]
)
def test_squarem_reaches_plain_em_limit(name: str, d: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQUAREM ends where plain EM run to convergence in the engine's Python loop with
    the numpy M-step (the oracle) ends, in fewer M-steps."""
    x = _data(d, seed=d + len(name))
    model = GaussianMixtureModel(get_covariance_model(name, d), 2)
    start = _start(x, model)
    done = _em_kernels.run_squarem(model, x, start, TIGHT, float(len(x)))
    assert done is not None and done.stop_reason == "converged"
    monkeypatch.setattr(_em_kernels, "enabled", False)
    oracle = fit_em(model, x, theta0=start, control=LONG, warn=False)
    assert oracle.converged and oracle.theta is not None
    assert done.loglik == pytest.approx(oracle.loglik, rel=1e-10, abs=0)
    assert done.n_iter <= oracle.n_iter
    for ours, theirs in [
        (done.theta.weights, oracle.theta.weights),
        (done.theta.means, oracle.theta.means),
        (done.theta.covariances, oracle.theta.covariances),
    ]:
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)
    # the stopping rule: one more EM step changes the log-likelihood by at most 1e-13
    step = fit_em(model, x, theta0=done.theta, control=EMControl(max_iter=1), warn=False)
    assert abs(step.trace[1] - step.trace[0]) / (1 + abs(step.trace[1])) <= 1e-13


def test_capped_fit_of_the_seed_study() -> None:
    """A fit of the seed's study where plain EM stops at the 5,000-iteration cap: SQUAREM
    converges within the cap, to where plain EM goes given a million iterations."""
    stored = json.loads(REFERENCE.read_text())
    x = np.asarray(stored["x"])[:, None]
    variances = np.asarray(stored["variances"])[:, None, None]
    params = gaussian.gaussian_params(
        np.asarray(stored["weights"]),
        np.asarray(stored["means"])[:, None],
        variances,
        diagonal=True,
    )
    model = GaussianMixtureModel(get_covariance_model("V", 1), 2)
    capped = fit_em(model, x, theta0=params, control=TIGHT, warn=False)
    assert capped.stop_reason == "max_iter" and capped.n_iter == 5_000
    done = _em_kernels.run_squarem(model, x, params, TIGHT, 100.0)
    assert done is not None and done.stop_reason == "converged" and done.n_iter < 5_000
    converged = fit_em(model, x, theta0=params, control=LONG, warn=False)
    assert converged.converged and converged.n_iter > 5_000 and converged.theta is not None
    assert done.loglik == pytest.approx(converged.loglik, rel=1e-10, abs=0)
    assert done.loglik > capped.loglik + 0.5  # the capped run is far from it
    np.testing.assert_allclose(done.theta.weights, converged.theta.weights, rtol=1e-4)
    np.testing.assert_allclose(done.theta.covariances, converged.theta.covariances, rtol=1e-4)
    # the cap bounds SQUAREM's M-steps too
    short = _em_kernels.run_squarem(model, x, params, replace(TIGHT, max_iter=40), 100.0)
    assert short is not None and short.stop_reason == "max_iter" and short.n_iter == 40


def test_invalid_extrapolations_are_refused() -> None:
    """The fallback's test: an extrapolated point with a weight out of (0, 1), a value
    that is not finite or a singular covariance is no mixture; a valid one gets the
    factors ``gaussian_params`` gives."""
    means = np.array([[0.0, 0.0], [1.0, 1.0]])
    good = np.array([[[1.0, 0.3], [0.3, 2.0]], [[0.5, 0.0], [0.0, 0.5]]])
    rounding = _em_kernels._ROUNDING
    weights = np.array([0.4, 0.6])
    prec, half, valid = _em_kernels._factorised(weights, means, good, False, rounding)
    reference = gaussian.gaussian_params(weights, means, good)
    assert valid
    np.testing.assert_allclose(prec, reference.prec_chol, rtol=1e-12)
    np.testing.assert_allclose(half, reference.half_log_det_prec, rtol=1e-12)
    singular = good.copy()
    singular[0] = [[1.0, 1.0], [1.0, 1.0]]
    assert not _em_kernels._factorised(weights, means, singular, False, rounding)[2]
    assert not _em_kernels._factorised(np.array([-0.1, 1.1]), means, good, False, rounding)[2]
    nan_means = means.copy()
    nan_means[1, 0] = np.nan
    assert not _em_kernels._factorised(weights, nan_means, good, False, rounding)[2]
    tiny = np.array([[[1.0, 0.0], [0.0, 1.0]], [[1e-300, 0.0], [0.0, 1.0]]])
    assert not _em_kernels._factorised(weights, means, tiny, True, rounding)[2]


def test_squarem_log_coordinates_round_trip() -> None:
    """The coordinates of the jump map back to the same weights and variances."""
    point = (
        np.array([0.25, 0.75]),
        np.array([[0.0], [2.0]]),
        np.array([[[0.5]], [[3.0]]]),
    )
    log_w, means, coords = _em_kernels._coordinates(point, True)
    np.testing.assert_allclose(coords[:, 0, 0], np.log([0.5, 3.0]))
    w, m, c = _em_kernels._from_coordinates(log_w, means, coords, True)
    np.testing.assert_array_equal(m, point[1])
    np.testing.assert_allclose(w, point[0], rtol=1e-15)
    np.testing.assert_allclose(c, point[2], rtol=1e-15)


def test_polish_em_is_plain_em_where_squarem_hands_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where SQUAREM hands back (None: it cannot run, or an iterate's EM step doubts),
    the polish is plain EM's from the fit, to the bit."""
    x = _data(1, seed=5)
    model = GaussianMixtureModel(get_covariance_model("V", 1), 2)
    start = _start(x, model)
    calls: list[int] = []
    monkeypatch.setattr(_em_kernels, "run_squarem", lambda *a: calls.append(1))
    theta, reason = stderr._polish_em(x, start, "V", None, float(len(x)))
    assert calls == [1] and reason is None
    plain = fit_em(model, x, theta0=start, control=TIGHT, warn=False)
    np.testing.assert_array_equal(theta.means, plain.theta.means)
