"""Pure numpy kernels of Gaussian mixtures: densities, E-step statistics, M-step.

Parameters are kept with the Cholesky factor of each precision matrix,
``U_k`` upper triangular with ``U_k U_kᵀ = Σ_k⁻¹``, so that ``(x - μ_k) U_k``
is whitened and a log density costs one matrix product for all components.
The data handed to these kernels are centred once by the caller; the
second moments accumulated about that centre keep their digits on data far
from the origin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from scipy.special import logsumexp

from emstat.errors import DegenerateFitError
from emstat.mixture import fused

__all__ = [
    "GaussianParams",
    "GaussianStats",
    "ScatterKind",
    "component_log_densities",
    "e_step",
    "fused_e_step",
    "gaussian_params",
    "log_responsibilities",
    "numpy_e_step",
    "stats_from_responsibilities",
]

ScatterKind = Literal["full", "diag"]
_EPS = float(np.finfo(float).eps)
_LOG_2PI = math.log(2.0 * math.pi)
# Below this many rows the numpy path is as fast and needs no compiled kernel.
FUSED_MIN_ROWS = 20_000


@dataclass(frozen=True)
class GaussianParams:
    """Weights, means and covariances of a k-component mixture in d dimensions."""

    weights: np.ndarray  # (k,)
    means: np.ndarray  # (k, d)
    covariances: np.ndarray  # (k, d, d)
    prec_chol: np.ndarray  # (k, d, d), upper triangular, U Uᵀ = Σ⁻¹
    half_log_det_prec: np.ndarray  # (k,), -½ log|Σ_k|
    diagonal: bool = False  # covariances (and so prec_chol) are diagonal

    @property
    def k(self) -> int:
        return int(self.weights.shape[0])

    @property
    def d(self) -> int:
        return int(self.means.shape[1])

    def shifted(self, offset: np.ndarray) -> GaussianParams:
        """The same mixture with every mean moved by ``offset``."""
        return replace(self, means=self.means + offset)

    def vector(self) -> np.ndarray:
        """Weights, means and the covariances' upper triangles as one vector."""
        iu = np.triu_indices(self.d)
        return np.concatenate(
            [self.weights, self.means.ravel(), self.covariances[:, iu[0], iu[1]].ravel()]
        )


@dataclass(frozen=True)
class GaussianStats:
    """Additive sufficient statistics of a Gaussian mixture.

    ``nk`` = Σ z_ik, ``sums`` = Σ z_ik x_i and ``second`` = Σ z_ik x_i x_iᵀ
    (or only its diagonal, shape (k, d), when ``second.ndim == 2``), all about
    the caller's centre.
    """

    nk: np.ndarray
    sums: np.ndarray
    second: np.ndarray

    def __add__(self, other: GaussianStats) -> GaussianStats:
        return GaussianStats(self.nk + other.nk, self.sums + other.sums, self.second + other.second)

    @property
    def means(self) -> np.ndarray:
        return self.sums / self.nk[:, None]

    def scatter(self) -> np.ndarray:
        """Scatter of each component about its own mean: Σ z_ik (x_i - m_k)(x_i - m_k)ᵀ."""
        means = self.means
        if self.second.ndim == 2:
            return self.second - self.nk[:, None] * means**2
        return self.second - self.nk[:, None, None] * np.einsum("ki,kj->kij", means, means)


def _chol_singularity(chol_diag: np.ndarray) -> float:
    """mclust's conditioning measure: min |diag L| / (1 + max |diag L|)."""
    return float(np.min(np.abs(chol_diag)) / (1.0 + np.max(np.abs(chol_diag))))


def gaussian_params(
    weights: np.ndarray, means: np.ndarray, covariances: np.ndarray, *, diagonal: bool = False
) -> GaussianParams:
    """Assemble parameters, factorising each covariance.

    Raises :class:`DegenerateFitError` when a covariance is singular by
    mclust's rules: for diagonal models a variance at or below machine
    epsilon, otherwise ``min|diag chol| / (1 + max|diag chol|) <= sqrt(eps)``
    in some component.
    """
    k, d = means.shape
    prec_chol = np.empty_like(covariances)
    half_log_det = np.empty(k)
    for j in range(k):
        sigma = covariances[j]
        if diagonal:
            var = np.diag(sigma)
            if not np.all(np.isfinite(var)) or np.min(var) <= _EPS:
                raise DegenerateFitError(
                    f"component {j + 1} has a variance at machine zero ({np.min(var):.3g})"
                )
            prec_chol[j] = np.diag(1.0 / np.sqrt(var))
            half_log_det[j] = -0.5 * float(np.sum(np.log(var)))
            continue
        try:
            chol = np.linalg.cholesky(sigma)
        except np.linalg.LinAlgError:
            raise DegenerateFitError(
                f"component {j + 1}'s covariance is not positive definite"
            ) from None
        diag = np.diag(chol)
        if not np.all(np.isfinite(diag)) or _chol_singularity(diag) <= math.sqrt(_EPS):
            raise DegenerateFitError(f"component {j + 1}'s covariance is singular")
        # U = L⁻ᵀ: then Uᵀ Σ U = I and (x - μ) U is whitened.
        prec_chol[j] = np.linalg.solve(chol, np.eye(d)).T
        half_log_det[j] = -float(np.sum(np.log(diag)))
    return GaussianParams(weights, means, covariances, prec_chol, half_log_det, diagonal)


def component_log_densities(x: np.ndarray, params: GaussianParams) -> np.ndarray:
    """log(π_k) + log N(x_i | μ_k, Σ_k) for every row and component, shape (n, k)."""
    n, d = x.shape
    k = params.k
    # One BLAS call whitens the data for all components at once.
    u_all = params.prec_chol.transpose(1, 0, 2).reshape(d, k * d)
    y = (x @ u_all).reshape(n, k, d)
    y -= np.einsum("kd,kde->ke", params.means, params.prec_chol)[None, :, :]
    maha = np.einsum("nkd,nkd->nk", y, y)
    with np.errstate(divide="ignore"):
        log_w = np.log(params.weights)
    return log_w + params.half_log_det_prec - 0.5 * (d * _LOG_2PI + maha)


def log_responsibilities(x: np.ndarray, params: GaussianParams) -> tuple[np.ndarray, np.ndarray]:
    """Log responsibilities (n, k) and each row's log-likelihood (n,), in the log domain."""
    log_dens = component_log_densities(x, params)
    row_loglik = logsumexp(log_dens, axis=1)
    return log_dens - row_loglik[:, None], row_loglik


def stats_from_responsibilities(
    x: np.ndarray, resp: np.ndarray, scatter: ScatterKind
) -> GaussianStats:
    """Sufficient statistics of ``x`` weighted by responsibilities ``resp`` (n, k)."""
    nk = resp.sum(axis=0)
    sums = resp.T @ x
    if scatter == "diag":
        second = resp.T @ (x * x)
    else:
        second = np.stack([(x * resp[:, [j]]).T @ x for j in range(resp.shape[1])])
    return GaussianStats(nk, sums, second)


def e_step(
    x: np.ndarray, params: GaussianParams, scatter: ScatterKind
) -> tuple[GaussianStats, float]:
    """Expected sufficient statistics of ``x`` and its log-likelihood at ``params``.

    Large inputs go through the fused one-pass kernel when numba is present;
    both paths give the same numbers to rounding.
    """
    if x.shape[0] >= FUSED_MIN_ROWS and fused.available():
        return fused_e_step(x, params, scatter)
    return numpy_e_step(x, params, scatter)


def fused_e_step(
    x: np.ndarray, params: GaussianParams, scatter: ScatterKind
) -> tuple[GaussianStats, float]:
    """The E-step by the fused compiled kernel."""
    with np.errstate(divide="ignore"):
        log_const = np.log(params.weights) + params.half_log_det_prec - 0.5 * params.d * _LOG_2PI
    nk, sums, second, loglik = fused.fused_e_step(
        x,
        params.means,
        params.prec_chol,
        log_const,
        diag_prec=params.diagonal,
        diag_second=scatter == "diag",
    )
    if scatter == "diag":
        second = np.einsum("kii->ki", second).copy()
    return GaussianStats(nk, sums, second), float(loglik)


def numpy_e_step(
    x: np.ndarray, params: GaussianParams, scatter: ScatterKind
) -> tuple[GaussianStats, float]:
    """The E-step in plain numpy, through the n x k responsibilities."""
    log_resp, row_loglik = log_responsibilities(x, params)
    return stats_from_responsibilities(x, np.exp(log_resp), scatter), float(row_loglik.sum())
