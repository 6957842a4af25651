"""numba kernels of the iterative Gaussian M-steps ``VEI``, ``VEE``, ``EVE``, ``VVE``.

Each kernel does a whole M-step in one call, as
:mod:`emstat.mixture._mstep_kernels` does for the closed-form models:
weights, means, the scatter, the inner iteration of
:mod:`emstat.mixture._covariance_kernels` (the loop the numpy M-step runs
too), mclust's tests of the scatters and of the fitted volumes and shapes
(``covariance._check_scatters`` and ``covariance._check_fitted``), the
precision factors and the singularity tests of
:func:`emstat.mixture.gaussian.gaussian_params`.  ``mclust_compatible``'s
own loops of ``VEE``, ``EVE`` and ``VVE`` (mclust 6.0's ``meVEE``,
``meEVE``, ``meVVE``) have kernels of their own, ``*_mclust_m_step``.

Every kernel has the signature

``kernel(nk, sums, second, previous, options) -> (weights, means,
covariances, prec_chol, half_log_det, status)``

with ``second`` ``(k, d)`` for ``VEI`` and ``(k, d, d)`` otherwise, as the
E-step gives them; ``previous`` the previous EM iteration's ``(k, d, d)``
covariances or an array of shape ``(0, d, d)`` at the first M-step; and
``options`` the tuple ``(min_weight, rounding, inner_tol, max_iter)``: the
weight at or below which a component is empty, the rounding factor of the
variance floors (``gaussian.ROUNDING_FACTOR * eps``), the inner tolerance
and the inner iteration cap.

They never decide that a fit is degenerate, nor warn.  Where a test fails,
or comes within rounding of its threshold, where the inner loop hits its cap
or stops within rounding of its tolerance, they answer ``DOUBT`` and the
caller reruns the numpy M-step, which raises its error, warns or returns its
parameters.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from emstat.mixture import _covariance_kernels as loops
from emstat.mixture._mstep_kernels import (
    DOUBT,
    OK,
    _weights_and_means,
    diagonal_result,
    doubt_result,
    factorise_full,
)

__all__ = [
    "DOUBT",
    "OK",
    "eve_m_step",
    "eve_mclust_m_step",
    "vee_m_step",
    "vee_mclust_m_step",
    "vei_m_step",
    "vve_m_step",
    "vve_mclust_m_step",
]

_EPS = float(np.finfo(np.float64).eps)
#: mclust's threshold of the volume, shape and scatter tests (covariance._RTEPS).
_RTEPS = math.sqrt(_EPS)
#: Relative margin of every decision: the inner loops' floors and stopping
#: rule, and the thresholds below.  The two M-steps' numbers differ by a few
#: units in the last place; this keeps far clear of that.
_GUARD = 1e-6
#: Absolute error, in units of eps times the largest eigenvalue and the
#: dimension, allowed between two LAPACK eigensolvers on one matrix.
_EIGEN_SLACK = 1e3


@numba.njit(cache=True, error_model="numpy")
def _full_scatter(nk: np.ndarray, means: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``W_k`` about each mean, with the numpy M-step's operations (``GaussianStats.scatter``)."""
    k, d = means.shape
    scatter = np.empty((k, d, d))
    for j in range(k):
        for a in range(d):
            for b in range(d):
                scatter[j, a, b] = second[j, a, b] - nk[j] * (means[j, a] * means[j, b])
    return scatter


@numba.njit(cache=True, error_model="numpy")
def _previous_volumes(previous: np.ndarray, volumes: np.ndarray) -> bool:
    """``|Sigma_k|^(1/d)`` of the previous covariances into ``volumes``; False if unusable.

    As ``covariance._previous_volumes``: usable when there is one per
    component, all finite, with positive determinants.
    """
    k = volumes.size
    if previous.shape[0] != k:
        return False
    d = previous.shape[1]
    for value in previous.ravel():
        if not np.isfinite(value):
            return False
    for j in range(k):
        sign, log_det = np.linalg.slogdet(previous[j])
        if not sign > 0.0:
            return False
        volumes[j] = math.exp(log_det / d)
    return True


@numba.njit(cache=True, error_model="numpy")
def _scatters_doubtful(scatter: np.ndarray) -> bool:
    """mclust's test before EVE and VVE (``covariance._check_scatters``), with a margin.

    The numpy test refuses a smallest eigenvalue of ``W_k`` below sqrt(eps)
    or at most ``1e-13`` of the largest; True when it may.
    """
    k, d, _ = scatter.shape
    for j in range(k):
        values = np.linalg.eigvalsh(np.ascontiguousarray(scatter[j]))
        top = max(abs(values[0]), abs(values[d - 1]))
        slack = _EIGEN_SLACK * d * _EPS * top  # also above 1e-13 * top
        if not values[0] > _RTEPS * (1.0 + _GUARD) + slack:  # also NaN
            return True
    return False


@numba.njit(cache=True, error_model="numpy")
def _fitted_doubtful(sigma: np.ndarray, test_volumes: bool) -> bool:
    """mclust's tests of the fitted shapes and volumes (``covariance._check_fitted``).

    The numpy test refuses a shape value (eigenvalue over ``|Sigma_k|^(1/d)``)
    below sqrt(eps), and with ``test_volumes`` a volume below sqrt(eps); True
    when it may.  The smallest eigenvalue carries an absolute error of about
    eps times the largest, so the margin grows with their ratio.
    """
    k, d, _ = sigma.shape
    for j in range(k):
        values = np.linalg.eigvalsh(np.ascontiguousarray(sigma[j]))
        smallest, largest = values[0], values[d - 1]
        if not (smallest > 0.0 and largest < np.inf):  # also NaN
            return True
        log_sum = 0.0
        for i in range(d):
            log_sum += math.log(values[i])
        volume = math.exp(log_sum / d)
        threshold = _RTEPS * (1.0 + _GUARD + _EIGEN_SLACK * d * _EPS * largest / smallest)
        if not smallest / volume > threshold:
            return True
        if test_volumes and not volume > threshold:
            return True
    return False


@numba.njit(cache=True, error_model="numpy")
def _full_result(
    weights: np.ndarray,
    means: np.ndarray,
    offsets: np.ndarray,
    covariances: np.ndarray,
    rounding: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """The factors and tests of ``gaussian_params`` for full covariances (as ``full_m_step``)."""
    prec_chol, half_log_det, valid = factorise_full(weights, offsets, covariances, rounding)
    return weights, means, covariances, prec_chol, half_log_det, OK if valid else DOUBT


@numba.njit(cache=True, error_model="numpy")
def vei_m_step(
    nk: np.ndarray,
    sums: np.ndarray,
    second: np.ndarray,
    previous: np.ndarray,
    options: tuple[float, float, float, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """VEI: diagonal, varying volume, one shape; ``second`` holds the ``(k, d)`` diagonals.

    Volumes start from ``previous`` (``|Sigma_k|^(1/d)``), else from
    ``tr(W_k) / (d n_k)``.
    """
    min_weight, rounding, tol, max_iter = options
    k, d = sums.shape
    weights, means, offsets, _, valid = _weights_and_means(nk, sums, min_weight)
    if not valid:
        return doubt_result(weights, means)
    scatter = np.empty((k, d))
    for j in range(k):
        for c in range(d):
            scatter[j, c] = second[j, c] - nk[j] * (means[j, c] * means[j, c])
    volumes = np.empty(k)
    if not _previous_volumes(previous, volumes):
        for j in range(k):
            total = 0.0
            for c in range(d):
                total += scatter[j, c]
            volumes[j] = total / (nk[j] * d)
    var, status, _ = loops.guarded_common_shape_diagonal(
        nk, scatter, volumes, tol, max_iter, _GUARD
    )
    if status != loops.CONVERGED:
        return doubt_result(weights, means)
    # gaussian_params' diagonal tests, each threshold raised by the margin
    return diagonal_result(weights, means, offsets, var, rounding, _GUARD)


@numba.njit(cache=True, error_model="numpy")
def _vee_m_step(
    nk: np.ndarray,
    sums: np.ndarray,
    second: np.ndarray,
    previous: np.ndarray,
    options: tuple[float, float, float, int],
    mclust: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """VEE, by emstat's loop or (``mclust``) by mclust's, which ignores ``previous``."""
    min_weight, rounding, tol, max_iter = options
    k, d = sums.shape
    weights, means, offsets, _, valid = _weights_and_means(nk, sums, min_weight)
    if not valid:
        return doubt_result(weights, means)
    scatter = _full_scatter(nk, means, second)
    if mclust:  # its covariances come out symmetric
        covariances, status, _ = loops.guarded_mclust_vee(nk, scatter, tol, max_iter, _GUARD)
    else:
        volumes = np.empty(k)
        if not _previous_volumes(previous, volumes):
            for j in range(k):
                trace = 0.0
                for c in range(d):
                    trace += scatter[j, c, c]
                volumes[j] = trace / (nk[j] * d)
        sigma, status, _ = loops.guarded_common_shape_full(
            nk, scatter, volumes, tol, max_iter, _GUARD
        )
        covariances = np.empty((k, d, d))
        for j in range(k):
            for a in range(d):
                for b in range(d):
                    covariances[j, a, b] = 0.5 * (sigma[j, a, b] + sigma[j, b, a])
    if status != loops.CONVERGED or _fitted_doubtful(covariances, True):
        return doubt_result(weights, means)
    return _full_result(weights, means, offsets, covariances, rounding)


@numba.njit(cache=True, error_model="numpy")
def vee_m_step(
    nk: np.ndarray,
    sums: np.ndarray,
    second: np.ndarray,
    previous: np.ndarray,
    options: tuple[float, float, float, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """VEE: varying volume, one shape and orientation ``C``, from ``(k, d, d)`` second moments.

    Volumes start from ``previous`` (``|Sigma_k|^(1/d)``), else from
    ``tr(W_k) / (d n_k)``.
    """
    return _vee_m_step(nk, sums, second, previous, options, False)


@numba.njit(cache=True, error_model="numpy")
def vee_mclust_m_step(
    nk: np.ndarray,
    sums: np.ndarray,
    second: np.ndarray,
    previous: np.ndarray,
    options: tuple[float, float, float, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """VEE as mclust 6.0's ``meVEE`` (``mclust_compatible``): volumes restart at 1."""
    return _vee_m_step(nk, sums, second, previous, options, True)


@numba.njit(cache=True, error_model="numpy")
def _common_orientation_m_step(
    nk: np.ndarray,
    sums: np.ndarray,
    second: np.ndarray,
    previous: np.ndarray,
    options: tuple[float, float, float, int],
    equal_volume: bool,
    mclust: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """EVE (``equal_volume``) and VVE: one orientation, shapes varying; ``mclust``: its MM loop."""
    min_weight, rounding, tol, max_iter = options
    weights, means, offsets, _, valid = _weights_and_means(nk, sums, min_weight)
    if not valid:
        return doubt_result(weights, means)
    scatter = _full_scatter(nk, means, second)
    if _scatters_doubtful(scatter):
        return doubt_result(weights, means)
    d = scatter.shape[1]
    has_previous = previous.shape[0] > 0 and previous.shape[1] == d and previous.shape[2] == d
    start = previous if has_previous else scatter
    if mclust:
        covariances, status, _ = loops.guarded_mclust_common_orientation(
            nk, scatter, start, has_previous, equal_volume, tol, max_iter, _GUARD
        )
    else:
        covariances, status, _ = loops.guarded_common_orientation(
            nk, scatter, start, has_previous, equal_volume, tol, max_iter, _GUARD
        )
    if status != loops.CONVERGED or _fitted_doubtful(covariances, not equal_volume):
        return doubt_result(weights, means)
    return _full_result(weights, means, offsets, covariances, rounding)


@numba.njit(cache=True, error_model="numpy")
def eve_m_step(
    nk: np.ndarray,
    sums: np.ndarray,
    second: np.ndarray,
    previous: np.ndarray,
    options: tuple[float, float, float, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """EVE: equal volume, varying shapes, one orientation (started from ``previous``'s)."""
    return _common_orientation_m_step(nk, sums, second, previous, options, True, False)


@numba.njit(cache=True, error_model="numpy")
def vve_m_step(
    nk: np.ndarray,
    sums: np.ndarray,
    second: np.ndarray,
    previous: np.ndarray,
    options: tuple[float, float, float, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """VVE: varying volumes and shapes, one orientation (started from ``previous``'s)."""
    return _common_orientation_m_step(nk, sums, second, previous, options, False, False)


@numba.njit(cache=True, error_model="numpy")
def eve_mclust_m_step(
    nk: np.ndarray,
    sums: np.ndarray,
    second: np.ndarray,
    previous: np.ndarray,
    options: tuple[float, float, float, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """EVE as mclust 6.0's ``meEVE`` (``mclust_compatible``): its MM update of ``D``."""
    return _common_orientation_m_step(nk, sums, second, previous, options, True, True)


@numba.njit(cache=True, error_model="numpy")
def vve_mclust_m_step(
    nk: np.ndarray,
    sums: np.ndarray,
    second: np.ndarray,
    previous: np.ndarray,
    options: tuple[float, float, float, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """VVE as mclust 6.0's ``meVVE`` (``mclust_compatible``): its MM update, shapes only."""
    return _common_orientation_m_step(nk, sums, second, previous, options, False, True)
