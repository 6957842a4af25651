"""numba kernels of the closed-form Gaussian M-steps.

On the small data of a simulation study an EM iteration is a few
microseconds of arithmetic and tens of microseconds of numpy calls on
(k, d) arrays.  These kernels do a whole M-step of the closed-form models
(``E``, ``V``, ``EII``, ``VII``, ``EEI``, ``EVI``, ``VVI``, ``EEE``,
``VVV``) in one call: weights, means, the scatter, the covariances, their
factors and the singularity tests of
:func:`emstat.mixture.gaussian.gaussian_params`.

They never decide that a fit is degenerate.  Where a test fails, or is too
close to call, they answer ``DOUBT`` and the caller reruns the numpy M-step
(:mod:`emstat.mixture.covariance` and :mod:`emstat.mixture.gaussian`), the
reference, which then raises its error or returns its parameters.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from emstat.mixture._factor_kernels import OK as FACTORS_OK
from emstat.mixture._factor_kernels import full_factors

#: Statuses: the parameters are valid; the numpy M-step must decide.
OK, DOUBT = 0, 1
#: Shape letters of the diagonal models.
SHAPE_I, SHAPE_E, SHAPE_V = 0, 1, 2

_EPS = float(np.finfo(np.float64).eps)


@numba.njit(cache=True, error_model="numpy")
def _weights_and_means(
    nk: np.ndarray, sums: np.ndarray, min_weight: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, bool]:
    """Weights, means, the means' offsets from their weighted centre, n; False if one is empty."""
    k, d = sums.shape
    n = 0.0
    for j in range(k):
        n += nk[j]
    weights = np.empty(k)
    means = np.empty((k, d))
    valid = True
    for j in range(k):
        if not nk[j] > min_weight:
            valid = False
        weights[j] = nk[j] / n
        for c in range(d):
            means[j, c] = sums[j, c] / nk[j]
    return weights, means, offsets_from_centre(weights, means), n, valid


@numba.njit(cache=True, error_model="numpy")
def offsets_from_centre(weights: np.ndarray, means: np.ndarray) -> np.ndarray:
    """The means' offsets from their weighted centre (the centre is not kept: one
    allocation an M-step saves)."""
    k, d = means.shape
    offsets = np.empty((k, d))
    for c in range(d):
        centre = 0.0
        for j in range(k):  # the order of the sum over components, as ever
            centre += weights[j] * means[j, c]
        for j in range(k):
            offsets[j, c] = means[j, c] - centre
    return offsets


@numba.njit(cache=True, error_model="numpy")
def _column_scales2(weights: np.ndarray, offsets: np.ndarray, variances: np.ndarray) -> np.ndarray:
    """The mixture's variance of each column (see ``gaussian.column_scales``)."""
    k, d = offsets.shape
    unit2 = np.zeros(d)
    for j in range(k):
        for c in range(d):
            unit2[c] += weights[j] * (variances[j, c] + offsets[j, c] * offsets[j, c])
    return unit2


@numba.njit(cache=True, error_model="numpy")
def doubt_result(
    weights: np.ndarray, means: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """What a kernel returns when the numpy M-step must decide (the caller reads
    only the status; the factors are allocated on this path alone)."""
    k, d = means.shape
    return weights, means, np.zeros((k, d, d)), np.zeros((k, d, d)), np.zeros(k), DOUBT


@numba.njit(cache=True, error_model="numpy")
def diagonal_m_step(
    nk: np.ndarray,
    sums: np.ndarray,
    second: np.ndarray,
    previous_covariances: np.ndarray,
    options: tuple[bool, int, float, float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """M-step of a diagonal model from (k, d) second moments about the data's centre.

    Returns weights, means, covariances (k, d, d), precision factors
    (k, d, d), -½ log|Σ_k| and a status.  ``options`` are ``(equal_volume,
    shape, min_weight, rounding)``; ``shape`` is ``SHAPE_I``, ``SHAPE_E``
    (only with equal volumes: ``VEI`` is iterative) or ``SHAPE_V``.  A closed
    form needs no ``previous_covariances`` (the contract of every compiled
    M-step: (k, d, d), or (0, d, d) at the first M-step).
    """
    equal_volume, shape, min_weight, rounding = options
    k, d = sums.shape
    weights, means, offsets, n, valid = _weights_and_means(nk, sums, min_weight)
    if not valid:
        return doubt_result(weights, means)
    scatter = np.empty((k, d))
    for j in range(k):
        for c in range(d):
            scatter[j, c] = second[j, c] - nk[j] * (means[j, c] * means[j, c])
    # The variances overwrite the scatter: each entry is read before it is written.
    var = scatter
    if shape == SHAPE_I:
        if equal_volume:
            total = 0.0
            for j in range(k):
                for c in range(d):
                    total += scatter[j, c]
            var[:] = total / (n * d)
        else:
            for j in range(k):
                total = 0.0
                for c in range(d):
                    total += scatter[j, c]
                var[j, :] = total / (nk[j] * d)
    elif shape == SHAPE_E:  # EEI: the pooled diagonal
        for c in range(d):
            total = 0.0
            for j in range(k):
                total += scatter[j, c]
            var[:, c] = total / n
    elif not equal_volume:  # VVI
        for j in range(k):
            for c in range(d):
                var[j, c] = scatter[j, c] / nk[j]
    else:  # EVI: shapes scatter_k / |scatter_k|^(1/d), one volume
        largest = np.zeros(d)  # per column: the test is free of the columns' units
        for j in range(k):
            for c in range(d):
                largest[c] = max(largest[c], scatter[j, c])
        scales = np.empty(k)
        common = 0.0
        for j in range(k):
            log_sum = 0.0
            for c in range(d):
                if not scatter[j, c] > _EPS * largest[c]:
                    return doubt_result(weights, means)
                log_sum += math.log(scatter[j, c])
            scales[j] = math.exp(log_sum / d)
            common += scales[j]
        common /= n
        for j in range(k):
            for c in range(d):
                var[j, c] = common * scatter[j, c] / scales[j]
    return diagonal_result(weights, means, offsets, var, rounding, 0.0)


@numba.njit(cache=True, error_model="numpy")
def diagonal_result(
    weights: np.ndarray,
    means: np.ndarray,
    offsets: np.ndarray,
    var: np.ndarray,
    rounding: float,
    margin: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """A diagonal kernel's last step: covariances, factors and -½ log|Σ_k| of the
    variances ``var`` (k, d), with the tests of ``gaussian_params``, each threshold
    raised by ``margin`` (a fraction; 0 is the tests themselves); DOUBT if one fails."""
    k, d = var.shape
    covariances = np.zeros((k, d, d))
    prec_chol = np.zeros((k, d, d))
    half_log_det = np.zeros(k)
    unit2 = _column_scales2(weights, offsets, var)
    for j in range(k):
        log_det = 0.0
        for c in range(d):
            v = var[j, c]
            floor = max(_EPS * unit2[c], rounding * (offsets[j, c] * offsets[j, c] + abs(v)))
            if not (v > (1.0 + margin) * floor and v < np.inf):
                return weights, means, covariances, prec_chol, half_log_det, DOUBT
            covariances[j, c, c] = v
            prec_chol[j, c, c] = 1.0 / math.sqrt(v)
            log_det += math.log(v)
        half_log_det[j] = -0.5 * log_det
    return weights, means, covariances, prec_chol, half_log_det, OK


@numba.njit(cache=True, error_model="numpy")
def full_m_step(
    nk: np.ndarray,
    sums: np.ndarray,
    second: np.ndarray,
    previous_covariances: np.ndarray,
    options: tuple[bool, float, float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """M-step of ``VVV`` (``equal`` False) or ``EEE`` from (k, d, d) second moments.

    ``options`` are ``(equal, min_weight, rounding)``; ``previous_covariances``
    as in :func:`diagonal_m_step`.
    """
    equal, min_weight, rounding = options
    k, d = sums.shape
    weights, means, offsets, n, valid = _weights_and_means(nk, sums, min_weight)
    covariances = np.zeros((k, d, d))
    if not valid:
        return weights, means, covariances, covariances, np.zeros(k), DOUBT
    scatter = np.empty((k, d, d))
    for j in range(k):
        for a in range(d):
            for b in range(d):
                scatter[j, a, b] = second[j, a, b] - nk[j] * (means[j, a] * means[j, b])
    if equal:
        pooled = np.zeros((d, d))
        for j in range(k):
            pooled += scatter[j]
        for j in range(k):
            covariances[j] = pooled / n
    else:
        for j in range(k):
            for a in range(d):
                for b in range(d):
                    # symmetrised as the numpy M-step does
                    covariances[j, a, b] = 0.5 * (
                        scatter[j, a, b] / nk[j] + scatter[j, b, a] / nk[j]
                    )
    prec_chol, half_log_det, valid = factorise_full(weights, offsets, covariances, rounding)
    return weights, means, covariances, prec_chol, half_log_det, OK if valid else DOUBT


@numba.njit(cache=True, error_model="numpy")
def factorise_full(
    weights: np.ndarray, offsets: np.ndarray, covariances: np.ndarray, rounding: float
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Precision factors and -½ log|Σ_k| of full covariances, with the tests of
    ``gaussian_params``; False where one doubts (every full-covariance kernel's last step)."""
    k, d = offsets.shape
    variances = np.empty((k, d))
    for j in range(k):
        for c in range(d):
            variances[j, c] = covariances[j, c, c]
    scales = np.sqrt(_column_scales2(weights, offsets, variances))
    prec_chol, half_log_det, status, _ = full_factors(covariances, offsets, scales, rounding)
    return prec_chol, half_log_det, status == FACTORS_OK
