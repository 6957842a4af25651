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
from functools import cache
from typing import Any, Literal

import numpy as np

from emstat.errors import DegenerateFitError, InputError
from emstat.mixture import fused

__all__ = [
    "GaussianParams",
    "GaussianStats",
    "MixtureSampler",
    "ScatterKind",
    "WeightedRows",
    "column_scales",
    "component_log_densities",
    "draw_mixture",
    "e_step",
    "fused_e_step",
    "gaussian_params",
    "log_responsibilities",
    "log_weights",
    "numpy_e_step",
    "parameter_names",
    "reported_vector",
    "stats_from_responsibilities",
    "upper_triangle",
    "weighted_e_step",
]

ScatterKind = Literal["full", "diag"]
_EPS = float(np.finfo(float).eps)
_LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True)
class GaussianParams:
    """Weights, means and covariances of a k-component mixture in d dimensions."""

    weights: np.ndarray  # (k,)
    means: np.ndarray  # (k, d)
    covariances: np.ndarray  # (k, d, d)
    prec_chol: np.ndarray  # (k, d, d), upper triangular, U Uᵀ = Σ⁻¹
    half_log_det_prec: np.ndarray  # (k,), -½ log|Σ_k|
    diagonal: bool = False  # covariances (and so prec_chol) are diagonal
    # A point near the data (a fit's centre) and the means about it to full
    # precision: ``means`` is their rounded sum, which far from 0 loses the
    # digits that predictions need (data near 1e9 with sd 1e-5).
    origin: np.ndarray | None = None  # (d,)
    local_means: np.ndarray | None = None  # (k, d), means - origin

    @property
    def k(self) -> int:
        return int(self.weights.shape[0])

    @property
    def d(self) -> int:
        return int(self.means.shape[1])

    @property
    def center(self) -> np.ndarray:
        """The origin the means are kept about, or else the mixture's mean."""
        return self.weights @ self.means if self.origin is None else self.origin

    def shifted(self, offset: np.ndarray) -> GaussianParams:
        """The same mixture with every mean moved by ``offset``.

        The means about the origin are kept, so shifting back (by the
        negated offset) gives the original means exactly.
        """
        if self.origin is None or self.local_means is None:
            origin, local = np.array(offset, dtype=float), self.means
        else:
            origin, local = self.origin + offset, self.local_means
        return replace(self, means=local + origin, origin=origin, local_means=local)

    def about(self, center: np.ndarray) -> GaussianParams:
        """The mixture of ``x - center``: means ``μ_k - center`` without the rounding of ``μ_k``."""
        if self.origin is None or self.local_means is None:
            means = self.means - center
        else:
            means = self.local_means + (self.origin - center)
        return replace(self, means=means, origin=None, local_means=None)

    def vector(self) -> np.ndarray:
        """Weights, means and the covariances' upper triangles as one vector."""
        iu = upper_triangle(self.d)
        return np.concatenate(
            [self.weights, self.means.ravel(), self.covariances[:, iu[0], iu[1]].ravel()]
        )


@dataclass(frozen=True)
class GaussianStats:
    """Additive sufficient statistics of a Gaussian mixture.

    ``nk`` = Σ z_ik, ``sums`` = Σ z_ik x_i and ``second`` = Σ z_ik x_i x_iᵀ
    (or only its diagonal, shape (k, d), when ``second.ndim == 2``), all about
    the caller's centre.  An E-step also gives ``classification_loglik`` =
    Σ_i max_k log z_ik, ICL's entropy term at the E-step's parameters (NaN
    for the statistics of a given partition).
    """

    nk: np.ndarray
    sums: np.ndarray
    second: np.ndarray
    classification_loglik: float = math.nan

    def __add__(self, other: GaussianStats) -> GaussianStats:
        return GaussianStats(
            self.nk + other.nk,
            self.sums + other.sums,
            self.second + other.second,
            self.classification_loglik + other.classification_loglik,
        )

    @property
    def means(self) -> np.ndarray:
        return self.sums / self.nk[:, None]

    def scatter(self) -> np.ndarray:
        """Scatter of each component about its own mean: Σ z_ik (x_i - m_k)(x_i - m_k)ᵀ."""
        means = self.means
        if self.second.ndim == 2:
            return self.second - self.nk[:, None] * means**2
        return self.second - self.nk[:, None, None] * np.einsum("ki,kj->kij", means, means)


#: Rounding noise of a variance computed from second moments about one centre,
#: as a multiple of eps * (squared offset of the mean from that centre + variance).
ROUNDING_FACTOR = 2.0


def _rounding_floor(offset2: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """Variances at or below this are zero up to rounding (see :func:`gaussian_params`)."""
    return ROUNDING_FACTOR * _EPS * (offset2 + variance)


def gaussian_params(
    weights: np.ndarray, means: np.ndarray, covariances: np.ndarray, *, diagonal: bool = False
) -> GaussianParams:
    """Assemble parameters, factorising each covariance.

    Raises :class:`DegenerateFitError` when a covariance is singular by
    mclust's rules (``mstep``/``me`` return NA for the model):

    * diagonal models (``EII`` ... ``VVI``, ``E``, ``V``): a variance at or
      below machine epsilon (times its column's squared scale, below);
    * the others: ``min|diag L| / (1 + max|diag L|) <= sqrt(eps)`` in some
      component, ``L`` the Cholesky factor of its covariance in the units
      below (mclust's ``VVV`` test; the model-specific tests of ``VEE``,
      ``EVE``, ``VVE`` and ``EVV`` are in :mod:`emstat.mixture.covariance`).

    Unlike mclust's, these tests are free of the columns' units: each sees
    the covariances in units of the mixture's standard deviation of each
    column (:func:`column_scales`), so columns in 1e-4 and 1e4 are not
    singular, and a fit in other units is the same fit transformed.

    mclust sums ``z_ik (x_i - m_k)^2`` and gets an exact zero for a variable
    that is constant within a component (or an exactly rank-deficient
    scatter); emstat's statistics are second moments about one centre, whose
    difference leaves rounding noise of order ``eps * |m_k - c|^2``.  So a
    variance (an eigenvalue of a full covariance) at or below
    ``2 eps (|m_k - c|^2 + its size)``, with ``c = sum_k w_k m_k``, also
    counts as zero.
    """
    weights = np.asarray(weights, dtype=float)
    offsets = means - weights @ means
    if diagonal:
        prec_chol, half_log_det = _diagonal_factors(covariances, offsets, weights)
    else:
        prec_chol, half_log_det = _full_factors(covariances, offsets, weights)
    return GaussianParams(weights, means, covariances, prec_chol, half_log_det, diagonal)


def column_scales(
    covariances: np.ndarray, offsets: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """The mixture's standard deviation of each column, shape (d,).

    ``sqrt(sum_k w_k (Σ_k,cc + o_kc^2))`` with ``o_k`` the offset of mean k
    from the mixture's mean (equal weights when ``weights`` is None): the
    unit in which the singularity tests see each column.

    Examples
    --------
    >>> column_scales(np.array([[[4.0, 0.0], [0.0, 1e-8]]]), np.zeros((1, 2))).tolist()
    [2.0, 0.0001]
    """
    k = covariances.shape[0]
    w = np.full(k, 1.0 / k) if weights is None else np.asarray(weights, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.asarray(
            np.sqrt(w @ (np.einsum("kii->ki", covariances) + offsets * offsets)), dtype=float
        )


def _first(bad: np.ndarray) -> int:
    return int(np.flatnonzero(bad)[0])


def _diagonal_factors(
    covariances: np.ndarray, offsets: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    var = covariances.diagonal(axis1=1, axis2=2)
    unit2 = column_scales(covariances, offsets, weights) ** 2
    # NaN fails every comparison, so this also refuses NaN and infinite variances.
    ok = (
        (var > _EPS * unit2)
        & (var > _rounding_floor(offsets * offsets, np.abs(var)))
        & (var < np.inf)
    )
    if not ok.all():
        j = _first(np.asarray(~ok.all(axis=1)))
        raise DegenerateFitError(
            f"component {j + 1} has a variance at machine zero ({np.min(var[j]):.3g})"
        )
    k, d = var.shape
    prec_chol = np.zeros_like(covariances)
    prec_chol.reshape(k, d * d)[:, :: d + 1] = 1.0 / np.sqrt(var)
    return prec_chol, -0.5 * np.log(var).sum(axis=1)


def _full_factors(
    covariances: np.ndarray, offsets: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    kernels = _factor_kernels()
    if kernels is None:
        return _numpy_full_factors(covariances, offsets, weights)
    scales = column_scales(covariances, offsets, weights)
    prec_chol, half_log_det, status, j = kernels.full_factors(
        np.ascontiguousarray(covariances, dtype=np.float64),
        np.ascontiguousarray(offsets, dtype=np.float64),
        scales,
        ROUNDING_FACTOR * _EPS,
    )
    if status == kernels.NOT_POSITIVE_DEFINITE:
        raise DegenerateFitError(f"component {j + 1}'s covariance is not positive definite")
    if status == kernels.ILL_CONDITIONED:
        raise DegenerateFitError(f"component {j + 1}'s covariance is singular")
    if status == kernels.CHECK_EIGENVALUES:
        _check_rounding_noise(covariances, offsets, prec_chol, scales)
    return prec_chol, half_log_det


@cache
def _factor_kernels() -> Any:
    """The compiled factorisation (numba is a dependency; tests patch None for numpy's)."""
    from emstat.mixture import _factor_kernels

    return _factor_kernels


def _check_rounding_noise(
    covariances: np.ndarray, offsets: np.ndarray, prec_chol: np.ndarray, scales: np.ndarray
) -> None:
    """Refuse a component whose smallest eigenvalue is rounding noise (see gaussian_params).

    All in units of ``scales``: the covariances ``S⁻¹ Σ S⁻¹``, their factors ``S U``.
    """
    covariances = covariances / np.outer(scales, scales)
    offsets = offsets / scales
    prec_chol = prec_chol * scales[:, None]
    floor = _rounding_floor(np.sum(offsets**2, axis=1), np.einsum("kii->k", covariances))
    # λ_min(Σ) >= 1 / ||U||_F²: only components that bound cannot clear need eigenvalues.
    unclear = 1.0 / np.einsum("kij,kij->k", prec_chol, prec_chol) <= floor
    if unclear.any():
        smallest = np.full(floor.shape, np.inf)
        smallest[unclear] = np.linalg.eigvalsh(covariances[unclear])[:, 0]
        bad = smallest <= floor
        if bad.any():
            j = _first(bad)
            raise DegenerateFitError(
                f"component {j + 1}'s covariance is singular (smallest eigenvalue "
                f"{smallest[j]:.3g} is rounding noise: the component is rank-deficient)"
            )


def _numpy_full_factors(
    covariances: np.ndarray, offsets: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The same as the compiled kernel, in batched numpy (its reference in the tests)."""
    scales = column_scales(covariances, offsets, weights)
    if not np.all((scales > 0) & (scales < np.inf)):
        raise DegenerateFitError("component 1's covariance is singular")
    try:
        chol = np.linalg.cholesky(covariances)
    except np.linalg.LinAlgError:
        failed = [
            j for j in range(covariances.shape[0]) if not _is_positive_definite(covariances[j])
        ]
        j = failed[0] if failed else 0
        raise DegenerateFitError(
            f"component {j + 1}'s covariance is not positive definite"
        ) from None
    diag = np.abs(np.einsum("kii->ki", chol))
    # chol(S⁻¹ Σ S⁻¹) = S⁻¹ L: mclust's test in the data's units
    unit_diag = diag / scales
    ratio = unit_diag.min(axis=1) / (1.0 + unit_diag.max(axis=1))
    bad = ~np.all(np.isfinite(diag), axis=1) | (ratio <= math.sqrt(_EPS))
    if bad.any():
        raise DegenerateFitError(f"component {_first(bad) + 1}'s covariance is singular")
    # U = L⁻ᵀ: then Uᵀ Σ U = I and (x - μ) U is whitened.
    prec_chol = np.linalg.inv(chol).transpose(0, 2, 1)
    _check_rounding_noise(covariances, offsets, prec_chol, scales)
    return prec_chol, -np.sum(np.log(diag), axis=1)


def _is_positive_definite(sigma: np.ndarray) -> bool:
    try:
        np.linalg.cholesky(sigma)
    except np.linalg.LinAlgError:
        return False
    return True


def component_log_densities(x: np.ndarray, params: GaussianParams) -> np.ndarray:
    """log(π_k) + log N(x_i | μ_k, Σ_k) for every row and component, shape (n, k)."""
    return _log_densities(_whitened(x, params), params)


def _whitened(x: np.ndarray, params: GaussianParams) -> np.ndarray:
    """``(x_i - μ_k) U_k`` for every row and component, shape (n, k, d)."""
    n, d = x.shape
    k = params.k
    # One BLAS call whitens the data for all components at once.
    u_all = params.prec_chol.transpose(1, 0, 2).reshape(d, k * d)
    with np.errstate(over="ignore"):  # a row that far is refused by log_responsibilities
        y = (x @ u_all).reshape(n, k, d)
    y -= _whitened_means(params)[None, :, :]
    return y


def _whitened_means(params: GaussianParams) -> np.ndarray:
    return np.einsum("kd,kde->ke", params.means, params.prec_chol)


def log_weights(params: GaussianParams) -> np.ndarray:
    """``log w_k - 1/2 log|Sigma_k|``, the constant of each component's log-density."""
    with np.errstate(divide="ignore"):
        return np.log(params.weights) + params.half_log_det_prec


def _log_densities(y: np.ndarray, params: GaussianParams) -> np.ndarray:
    with np.errstate(over="ignore"):
        maha = np.einsum("nkd,nkd->nk", y, y)
    return log_weights(params) - 0.5 * (y.shape[2] * _LOG_2PI + maha)


def log_responsibilities(
    x: np.ndarray, params: GaussianParams, rows: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Log responsibilities (n, k) and each row's log-likelihood (n,), in the log domain.

    A row so far from every mean that its squared distances overflow (beyond
    about 1e154 standard deviations) gets its responsibilities from the
    differences of those distances, computed without overflow, and a
    log-likelihood of -inf; ``rows`` (the row labels) name a row whose
    whitened distance itself overflows, which raises :class:`InputError`.
    """
    y = _whitened(x, params)
    log_dens = _log_densities(y, params)
    row_loglik = logsumexp_rows(log_dens)
    with np.errstate(invalid="ignore"):
        log_resp = log_dens - row_loglik[:, None]
    far = np.flatnonzero(~np.isfinite(row_loglik))
    for i in far:
        name = i if rows is None else rows[i]
        log_resp[i], row_loglik[i] = _far_row(x[i], y[i], params, name)
    return log_resp, row_loglik


def _far_row(
    x: np.ndarray, y: np.ndarray, params: GaussianParams, name: Any
) -> tuple[np.ndarray, float]:
    """Log responsibilities and log-likelihood of one row whose distances overflow.

    With ``r`` the component nearest in the whitened metric, the gaps
    ``|y_k|² - |y_r|² = (y_k - y_r)·(y_k + y_r)`` are formed with
    ``y_k - y_r = x (U_k - U_r) - (μ_k U_k - μ_r U_r)`` (exact where the
    components share a covariance) and ``y_k + y_r`` scaled by the row's
    largest whitened coordinate, so nothing overflows before the gap.
    """
    size = float(np.max(np.abs(y)))
    if not np.isfinite(size):
        raise InputError(
            f"row {name} lies too far from every component mean to evaluate "
            "(its whitened distance overflows)"
        )
    unit = y / size
    r = int(np.argmin(np.einsum("kd,kd->k", unit, unit)))
    prec = params.prec_chol
    whitened_means = _whitened_means(params)
    diff = x @ (prec - prec[r]) - (whitened_means - whitened_means[r])
    with np.errstate(over="ignore", invalid="ignore"):
        gap = size * np.einsum("kd,kd->k", diff, unit + unit[r])
        constants = log_weights(params)
        relative = constants - constants[r] - 0.5 * gap
    relative[r] = 0.0
    if not np.all(relative < np.inf):  # also NaN
        raise InputError(
            f"row {name} lies too far from every component mean to compare the components"
        )
    total = float(logsumexp_rows(relative[None, :])[0])
    with np.errstate(over="ignore"):
        nearest = size * (size * float(unit[r] @ unit[r]))
    log_lik = float(constants[r]) - 0.5 * (y.shape[1] * _LOG_2PI + nearest) + total
    return relative - total, log_lik


def logsumexp_rows(a: np.ndarray) -> np.ndarray:
    """log Σ_j exp(a_ij) for each row, shifted by the row maximum so nothing overflows.

    Plain numpy: scipy's general version costs more than the arithmetic on
    the small arrays of a small fit.
    """
    top = a.max(axis=1)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return top + np.log(np.exp(a - top[:, None]).sum(axis=1))


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

    The fused one-pass kernel serves (serial for small inputs, parallel for
    large ones); :func:`numpy_e_step` is its reference, which the tests run by
    switching the kernels off, and both give the same numbers to rounding.
    """
    if fused.available():
        return fused_e_step(x, params, scatter)
    return numpy_e_step(x, params, scatter)


def fused_e_step(
    x: np.ndarray, params: GaussianParams, scatter: ScatterKind
) -> tuple[GaussianStats, float]:
    """The E-step by the fused compiled kernel."""
    nk, sums, second, loglik, classification_loglik = fused.fused_e_step(
        x,
        params.weights,
        params.means,
        params.prec_chol,
        params.half_log_det_prec,
        diag_prec=params.diagonal,
        diag_second=scatter == "diag",
    )
    return GaussianStats(nk, sums, second, classification_loglik), loglik


def numpy_e_step(
    x: np.ndarray, params: GaussianParams, scatter: ScatterKind
) -> tuple[GaussianStats, float]:
    """The E-step in plain numpy, through the n x k responsibilities."""
    log_resp, row_loglik = log_responsibilities(x, params)
    stats = stats_from_responsibilities(x, np.exp(log_resp), scatter)
    return replace(stats, classification_loglik=float(log_resp.max(axis=1).sum())), float(
        row_loglik.sum()
    )


@dataclass(frozen=True)
class WeightedRows:
    """Rows (n, d) with a case weight each: a weight of 2 counts a row twice."""

    x: np.ndarray
    weights: np.ndarray

    def take(self, rows: np.ndarray) -> WeightedRows:
        return WeightedRows(self.x[rows], self.weights[rows])


def weighted_e_step(
    data: WeightedRows, params: GaussianParams, scatter: ScatterKind
) -> tuple[GaussianStats, float]:
    """The E-step of case-weighted rows (mclust's ``me.weighted``): statistics and
    log-likelihood are the weighted sums, as if each row were repeated its weight's times.

    One compiled pass serves (:mod:`emstat.mixture._weighted_kernels`) unless the kernels
    are switched off or a row is too far from every mean for it."""
    if fused.available():
        from emstat.mixture._weighted_kernels import weighted_e_step as compiled

        done = compiled(data.x, data.weights, params, scatter == "diag")
        if done is not None:
            return done
    log_resp, row_loglik = log_responsibilities(data.x, params)
    resp = np.exp(log_resp) * data.weights[:, None]
    stats = stats_from_responsibilities(data.x, resp, scatter)
    classification = float(data.weights @ log_resp.max(axis=1))
    return replace(stats, classification_loglik=classification), float(data.weights @ row_loglik)


@dataclass(frozen=True)
class MixtureSampler:
    """What every draw from one Gaussian mixture shares, computed once.

    ``cumulative`` (k,) holds the normalised cumulative weights whose inverse
    CDF picks each row's component, ``chol`` (k, d, d) the covariances'
    Cholesky factors that colour the standard normal noise.  A simulation
    draws thousands of data sets from one truth: the factorisation costs
    more than a draw of a hundred rows.
    """

    cumulative: np.ndarray
    means: np.ndarray
    chol: np.ndarray

    @classmethod
    def of(cls, weights: np.ndarray, means: np.ndarray, covariances: np.ndarray) -> MixtureSampler:
        cumulative = np.cumsum(weights)
        return cls(cumulative / cumulative[-1], means, np.linalg.cholesky(covariances))

    def draw(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` rows and each row's component (0-based); see :func:`draw_mixture`."""
        labels = np.minimum(
            np.searchsorted(self.cumulative, rng.random(n), side="right"),
            self.cumulative.shape[0] - 1,
        )
        noise = rng.standard_normal((n, self.means.shape[1]))
        if self.means.shape[1] == 1:  # one product per row: the einsum below, without its set-up
            return self.means[labels] + self.chol[labels, 0] * noise, labels
        return self.means[labels] + np.einsum("nij,nj->ni", self.chol[labels], noise), labels


def draw_mixture(
    weights: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    n: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` rows from a Gaussian mixture; return them and each row's component (0-based).

    Components come first, by the inverse CDF of one uniform per row, then
    standard normal noise is coloured by each component's Cholesky factor
    (:class:`MixtureSampler`, which keeps both for repeated draws).
    """
    return MixtureSampler.of(weights, means, covariances).draw(n, rng)


def parameter_names(columns: list[str]) -> list[tuple[str, tuple[int, ...]]]:
    """Names of one component's parameters, with their position in (mean | covariance)."""
    names: list[tuple[str, tuple[int, ...]]] = [(f"mean[{c}]", (j,)) for j, c in enumerate(columns)]
    for i, a in enumerate(columns):
        for j in range(i, len(columns)):
            b = columns[j]
            names.append((f"var[{a}]" if i == j else f"cov[{a},{b}]", (i, j)))
    return names


@cache
def upper_triangle(d: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.triu_indices(d)``, read-only and made once per ``d`` (it costs more than the
    small arrays it indexes)."""
    rows, cols = np.triu_indices(d)
    rows.flags.writeable = False
    cols.flags.writeable = False
    return rows, cols


def reported_vector(weights: np.ndarray, means: np.ndarray, covariances: np.ndarray) -> np.ndarray:
    """Parameters in the row order of ``MixtureResult.params``.

    Per component 1..k: the weight, the d means, then the covariance's upper
    triangle ``i <= j`` in row-major order.

    Examples
    --------
    >>> reported_vector(np.array([1.0]), np.array([[0.0, 1.0]]), np.eye(2)[None])
    array([1., 0., 1., 1., 0., 1.])
    """
    iu = upper_triangle(means.shape[1])
    blocks = np.concatenate([weights[:, None], means, covariances[:, iu[0], iu[1]]], axis=1)
    return np.asarray(blocks.reshape(-1), dtype=float)
