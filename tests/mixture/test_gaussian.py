"""Gaussian kernels against scipy's densities and numpy's weighted covariances."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from emstat.errors import DegenerateFitError
from emstat.mixture import gaussian


def random_params(rng: np.random.Generator, k: int, d: int) -> gaussian.GaussianParams:
    weights = rng.dirichlet(np.ones(k))
    means = rng.normal(scale=3.0, size=(k, d))
    factors = rng.normal(size=(k, d, d))
    covariances = factors @ factors.transpose(0, 2, 1) + 0.5 * np.eye(d)
    return gaussian.gaussian_params(weights, means, covariances)


@pytest.mark.parametrize(("k", "d"), [(1, 1), (3, 1), (2, 2), (4, 3), (3, 5)])
def test_log_densities_match_scipy(k: int, d: int) -> None:
    rng = np.random.default_rng(k * 10 + d)
    params = random_params(rng, k, d)
    x = rng.normal(scale=4.0, size=(200, d))
    expected = np.column_stack(
        [
            np.log(params.weights[j])
            + multivariate_normal(params.means[j], params.covariances[j]).logpdf(x).reshape(-1)
            for j in range(k)
        ]
    )
    np.testing.assert_allclose(gaussian.component_log_densities(x, params), expected, rtol=1e-12)


def test_diagonal_params_match_full_factorisation() -> None:
    rng = np.random.default_rng(7)
    variances = rng.uniform(0.5, 2.0, size=(3, 4))
    covariances = np.stack([np.diag(v) for v in variances])
    weights, means = np.full(3, 1 / 3), rng.normal(size=(3, 4))
    x = rng.normal(size=(50, 4))
    diag = gaussian.gaussian_params(weights, means, covariances, diagonal=True)
    full = gaussian.gaussian_params(weights, means, covariances)
    np.testing.assert_allclose(
        gaussian.component_log_densities(x, diag),
        gaussian.component_log_densities(x, full),
        rtol=1e-13,
    )


def test_log_domain_survives_far_points_in_50_dimensions() -> None:
    rng = np.random.default_rng(3)
    params = random_params(rng, 3, 50)
    x = rng.normal(size=(20, 50)) + 1e3  # every density underflows to 0 in linear space
    log_resp, row_loglik = gaussian.log_responsibilities(x, params)
    assert np.all(np.isfinite(row_loglik)) and np.all(row_loglik < -1e4)
    np.testing.assert_allclose(np.exp(log_resp).sum(axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("d", [1, 3])
def test_statistics_match_weighted_covariance(d: int) -> None:
    rng = np.random.default_rng(d)
    x = rng.normal(size=(300, d)) * [1.0, 10.0, 0.1][:d]
    resp = rng.dirichlet(np.ones(3), size=300)
    full = gaussian.stats_from_responsibilities(x, resp, "full")
    diag = gaussian.stats_from_responsibilities(x, resp, "diag")
    for j in range(3):
        weighted = np.cov(x.T, aweights=resp[:, j], bias=True).reshape(d, d)
        np.testing.assert_allclose(full.scatter()[j] / full.nk[j], weighted, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(diag.scatter()[j] / diag.nk[j], np.diag(weighted), rtol=1e-10)
        np.testing.assert_allclose(
            full.means[j], np.average(x, axis=0, weights=resp[:, j]), rtol=1e-12
        )


def test_statistics_add_over_chunks() -> None:
    rng = np.random.default_rng(11)
    x, resp = rng.normal(size=(100, 2)), rng.dirichlet(np.ones(2), size=100)
    whole = gaussian.stats_from_responsibilities(x, resp, "full")
    parts = gaussian.stats_from_responsibilities(
        x[:40], resp[:40], "full"
    ) + gaussian.stats_from_responsibilities(x[40:], resp[40:], "full")
    np.testing.assert_allclose(parts.second, whole.second, rtol=1e-13)
    np.testing.assert_allclose(parts.nk, whole.nk, rtol=1e-14)


@pytest.mark.parametrize(
    ("covariance", "diagonal"),
    [
        (np.array([[[1.0, 1.0], [1.0, 1.0]]]), False),
        (np.array([[[1.0, 0.0], [0.0, 1e-40]]]), True),
        (np.array([[[1.0, 0.0], [0.0, 1e-17]]]), False),
    ],
    ids=["rank-deficient", "zero-variance", "ill-conditioned"],
)
def test_singular_covariances_are_degenerate(covariance: np.ndarray, diagonal: bool) -> None:
    # Beside a round component: the tests see each column in the mixture's units.
    covariances = np.concatenate([covariance, np.eye(2)[None]])
    with pytest.raises(DegenerateFitError, match="component 1"):
        gaussian.gaussian_params(np.full(2, 0.5), np.zeros((2, 2)), covariances, diagonal=diagonal)


@pytest.mark.parametrize(("k", "d"), [(1, 1), (3, 2), (4, 5)])
def test_compiled_factors_match_numpy(k: int, d: int) -> None:
    rng = np.random.default_rng(k + 10 * d)
    params = random_params(rng, k, d)
    offsets = params.means - params.weights @ params.means
    compiled = gaussian._full_factors(params.covariances, offsets)
    reference = gaussian._numpy_full_factors(params.covariances, offsets)
    np.testing.assert_allclose(compiled[0], reference[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(compiled[1], reference[1], rtol=1e-13)


@pytest.mark.parametrize("factors", ["_full_factors", "_numpy_full_factors"])
def test_both_factorisations_refuse_what_mclust_refuses(factors: str) -> None:
    factorise = getattr(gaussian, factors)
    offsets = np.zeros((2, 2))
    good = np.eye(2)
    with pytest.raises(DegenerateFitError, match="component 2's covariance is not positive"):
        factorise(np.stack([good, [[1.0, 2.0], [2.0, 1.0]]]), offsets)
    with pytest.raises(DegenerateFitError, match="component 1's covariance is singular"):
        factorise(np.stack([[[1.0, 0.0], [0.0, 1e-17]], good]), offsets)
    # Rank-deficient up to rounding, far from the centre: the eigenvalue check catches it.
    line = np.array([[1.0, 1.0], [1.0, 1.0 + 1e-9]])
    with pytest.raises(DegenerateFitError, match="rounding noise"):
        factorise(np.stack([good, line]), np.array([[-1e3, -1e3], [1e3, 1e3]]))
