"""Fits and predictions far from the origin, far from every mean, and in mixed units.

Oracles are the same problems made benign by hand: scipy's densities of the
data and the means taken about the fit's centre; a fit on unscaled data
transformed into the scaled units.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal

import emstat
from emstat.errors import InputError
from emstat.mixture import gaussian, hc

OFFSET = 1e9
SD = 1e-5


@cache
def far_data(d: int) -> pd.DataFrame:
    """200,000 rows of two components near 1e9 with sd 1e-5."""
    rng = np.random.default_rng(11)
    n = 100_000
    noise = np.vstack([rng.normal(size=(n, d)), rng.normal(size=(n, d)) + 2.5])
    return pd.DataFrame(OFFSET + SD * noise, columns=[f"x{c}" for c in range(d)])


@cache
def far_fit(d: int) -> emstat.MixtureResult:
    return emstat.fit_mixture(far_data(d), k=2, model="V" if d == 1 else "VVV")


def scipy_log_densities(fit: emstat.MixtureResult, data: pd.DataFrame) -> np.ndarray:
    """log w_k + log N(x - c | mu_k - c, Sigma_k) by scipy, c the fit's centre."""
    theta = fit.params_
    assert theta is not None
    center = theta.center
    local = theta.about(center)
    x = data.to_numpy() - center
    return np.column_stack(
        [
            math.log(theta.weights[j])
            + multivariate_normal(local.means[j], theta.covariances[j]).logpdf(x)
            for j in range(fit.k)
        ]
    )


@pytest.mark.parametrize("d", [1, 2])
def test_predictions_far_from_the_origin_are_the_fits_own(d: int) -> None:
    fit, data = far_fit(d), far_data(d)
    assert fit.ok
    log_dens = scipy_log_densities(fit, data)
    expected_labels = np.argmax(log_dens, axis=1) + 1
    np.testing.assert_array_equal(fit.predict(data).to_numpy(), expected_labels)
    row_loglik = np.logaddexp.reduce(log_dens, axis=1)
    np.testing.assert_allclose(
        fit.predict_proba(data).to_numpy(), np.exp(log_dens - row_loglik[:, None]), atol=1e-9
    )
    scores = fit.score_samples(data).to_numpy()
    np.testing.assert_allclose(scores, row_loglik, rtol=1e-10)
    assert scores.sum() == pytest.approx(fit.loglik, rel=1e-9)


def test_the_centre_survives_save_and_load(tmp_path: object) -> None:
    fit, data = far_fit(1), far_data(1)
    path = fit.save(f"{tmp_path}/far.json")
    loaded = emstat.load_fit(path)
    np.testing.assert_array_equal(loaded.predict(data), fit.predict(data))
    assert loaded.score_samples(data).sum() == pytest.approx(fit.loglik, rel=1e-9)


# --------------------------------------------------------------------------
# rows far from every mean


@cache
def round_fit(model: str) -> emstat.MixtureResult:
    rng = np.random.default_rng(5)
    x = np.vstack([rng.normal(size=(300, 2)), rng.normal(size=(300, 2)) * [2.0, 0.5] + 4.0])
    return emstat.fit_mixture(pd.DataFrame(x, columns=["a", "b"]), k=2, model=model)


def far_rows(*rows: list[float]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["a", "b"], index=[f"r{i}" for i in range(len(rows))])


@pytest.mark.parametrize("distance", [1e160, 1e200, 1e300])
def test_a_row_beyond_overflow_goes_to_the_widest_component(distance: float) -> None:
    # Distinct covariances: far along a the component with the smallest
    # precision P_aa wins by a margin of order distance**2.
    fit = round_fit("VVV")
    theta = fit.params_
    assert theta is not None
    precision_aa = [np.linalg.inv(c)[0, 0] for c in theta.covariances]
    proba = fit.predict_proba(far_rows([distance, 0.0], [-distance, 0.0]))
    expected = np.zeros((2, 2))
    expected[:, int(np.argmin(precision_aa))] = 1.0
    np.testing.assert_array_equal(proba.to_numpy(), expected)
    scores = fit.score_samples(far_rows([distance, 0.0]))
    assert scores.iloc[0] == -np.inf


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_a_far_row_with_shared_covariance_follows_the_linear_term(sign: float) -> None:
    # One covariance: log w_k + x'P mu_k - mu_k'P mu_k / 2 decides, and far
    # along e the component with the largest sign * e'P mu_k wins.
    fit = round_fit("EEE")
    theta = fit.params_
    assert theta is not None
    direction = np.array([1.0, 0.3]) * sign
    score = theta.means @ np.linalg.inv(theta.covariances[0]) @ direction
    proba = fit.predict_proba(far_rows(list(1e200 * direction)))
    expected = np.zeros(2)
    expected[int(np.argmax(score))] = 1.0
    np.testing.assert_array_equal(proba.to_numpy()[0], expected)


def test_far_rows_leave_the_other_rows_alone() -> None:
    fit = round_fit("VVV")
    near = far_rows([0.5, 0.2], [3.0, 4.0])
    mixed = pd.concat([near, far_rows([1e200, 1e200]).set_axis(["far"])])
    proba = fit.predict_proba(mixed)
    np.testing.assert_array_equal(proba.loc[near.index], fit.predict_proba(near))
    assert np.all(np.isfinite(proba.to_numpy()))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-15)


def test_the_careful_gaps_match_the_direct_ones_where_both_work() -> None:
    fit = round_fit("VVV")
    theta = fit.params_
    assert theta is not None
    x = np.array([[0.5, 0.2], [2.0, 2.0], [3.0, 4.5], [30.0, -20.0]])
    log_resp, row_loglik = gaussian.log_responsibilities(x, theta)
    y = gaussian._whitened(x, theta)
    for i in range(x.shape[0]):
        careful_resp, careful_loglik = gaussian._far_row(x[i], y[i], theta, i)
        np.testing.assert_allclose(careful_resp, log_resp[i], atol=1e-9)
        assert careful_loglik == pytest.approx(row_loglik[i], rel=1e-12)


def test_a_row_whose_whitened_distance_overflows_is_named() -> None:
    rng = np.random.default_rng(2)
    small = pd.DataFrame(rng.normal(size=(200, 2)) * 1e-3, columns=["a", "b"])
    fit = emstat.fit_mixture(small, k=1, model="VVV")
    rows = pd.DataFrame([[0.0, 0.0], [1e307, 0.0]], columns=["a", "b"], index=["ok", "r7"])
    with pytest.raises(InputError, match=r"row r7 lies too far from every component mean"):
        fit.predict(rows)


# --------------------------------------------------------------------------
# columns in very different units


def two_groups() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(8)
    a = rng.multivariate_normal([0.0, 0.0], [[1.0, 0.6], [0.6, 1.0]], size=250)
    b = rng.multivariate_normal([4.0, -3.0], [[0.5, -0.2], [-0.2, 2.0]], size=150)
    return np.vstack([a, b]), np.repeat([0, 1], [250, 150])


@pytest.mark.parametrize("scales", [(1e-4, 1e4), (1e-9, 1e3)], ids=["1e-4,1e4", "1e-9,1e3"])
@pytest.mark.parametrize("model", ["VVV", "VVI", "EVI", "EEE"])
@pytest.mark.parametrize("k", [1, 2])
def test_a_fit_in_other_units_is_the_same_fit(
    k: int, model: str, scales: tuple[float, float]
) -> None:
    x, labels = two_groups()
    s = np.array(scales)
    control = emstat.EMControl(tol=1e-12, criterion="param")
    init = labels if k == 2 else None
    plain = emstat.fit_mixture(x, k=k, model=model, init=init, control=control)
    scaled = emstat.fit_mixture(x * s, k=k, model=model, init=init, control=control)
    assert plain.ok and scaled.ok, scaled.degenerate
    assert plain.params_ is not None and scaled.params_ is not None
    n = x.shape[0]
    assert scaled.loglik == pytest.approx(plain.loglik - n * np.log(s).sum(), rel=1e-8)
    np.testing.assert_allclose(scaled.params_.weights, plain.params_.weights, rtol=1e-8)
    np.testing.assert_allclose(scaled.params_.means / s, plain.params_.means, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(
        scaled.params_.covariances / np.outer(s, s),
        plain.params_.covariances,
        rtol=1e-8,
        atol=1e-10,
    )


@pytest.mark.parametrize("model", ["V", "E"])
def test_one_dimensional_data_on_a_tiny_scale_are_not_singular(model: str) -> None:
    x, labels = two_groups()
    control = emstat.EMControl(tol=1e-12, criterion="param")
    plain = emstat.fit_mixture(x[:, 0], k=2, model=model, init=labels, control=control)
    tiny = emstat.fit_mixture(x[:, 0] * 1e-9, k=2, model=model, init=labels, control=control)
    assert tiny.ok, tiny.degenerate
    assert tiny.loglik == pytest.approx(plain.loglik - x.shape[0] * np.log(1e-9), rel=1e-8)


# --------------------------------------------------------------------------
# the quantile start far from the origin


def test_the_quantile_start_labels_stay_in_range_far_from_the_origin() -> None:
    rng = np.random.default_rng(4)
    v = OFFSET + SD * np.r_[rng.normal(size=10_000), rng.normal(size=10_000) + 4.0]
    for k in (2, 3, 5):
        labels = hc.qclass(v, k)
        assert labels.min() == 0 and labels.max() == k - 1
        assert np.all(np.bincount(labels, minlength=k) > 0)
        # the same classes as on the data moved to 0 (exactly, since v - 1e9 is exact)
        np.testing.assert_array_equal(labels, hc.qclass(v - OFFSET, k))
    fit = emstat.fit_mixture(pd.DataFrame({"a": v}), k=2, model="V")
    moved = emstat.fit_mixture(pd.DataFrame({"a": v - OFFSET}), k=2, model="V")
    assert fit.ok and fit.params_ is not None
    assert fit.loglik == pytest.approx(moved.loglik, rel=1e-9)
    # the means about 1e9 to full precision (fit.means rounds them to the floats near 1e9)
    about = fit.params_.about(np.array([OFFSET])).means
    np.testing.assert_allclose(about, moved.means.to_numpy(), rtol=1e-9, atol=1e-9 * SD)
