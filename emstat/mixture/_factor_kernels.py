"""numba kernel that factorises a mixture's covariances once per M-step.

For the small (k, d, d) arrays of an M-step, a dozen batched numpy calls
cost more than the arithmetic; one compiled pass does the Cholesky
factorisation, mclust's conditioning test, the whitening factor
``U = L^-T``, the log-determinant and the rounding-noise bound of
:func:`emstat.mixture.gaussian.gaussian_params`.  The tests see each
covariance in the data's units, ``S^-1 Σ_k S^-1`` with ``S`` the mixture's
standard deviation per column, so they do not depend on the columns' scales.
"""

from __future__ import annotations

import math

import numba
import numpy as np

#: Statuses: factorised; not positive definite; mclust's conditioning test
#: failed; the rounding-noise bound could not clear the component (the
#: caller then looks at its smallest eigenvalue).
OK, NOT_POSITIVE_DEFINITE, ILL_CONDITIONED, CHECK_EIGENVALUES = 0, 1, 2, 3


@numba.njit(cache=True)
def full_factors(
    covariances: np.ndarray, offsets: np.ndarray, scales: np.ndarray, rounding: float
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """``(U, -½ log|Σ_k|, status, component)``; status as above, component -1 when OK.

    ``scales`` (d,) is the mixture's standard deviation of each column.
    """
    k, d = covariances.shape[0], covariances.shape[1]
    prec_chol = np.zeros((k, d, d))
    half_log_det = np.zeros(k)
    chol = np.zeros((d, d))
    inv = np.zeros((d, d))
    root_eps = math.sqrt(np.finfo(np.float64).eps)
    unclear = -1
    for c in range(d):
        if not (scales[c] > 0.0 and scales[c] < np.inf):  # also NaN
            return prec_chol, half_log_det, ILL_CONDITIONED, 0
    for j in range(k):
        chol[:] = 0.0
        for c in range(d):
            pivot = covariances[j, c, c]
            for r in range(c):
                pivot -= chol[c, r] * chol[c, r]
            if not pivot > 0.0:  # also NaN
                return prec_chol, half_log_det, NOT_POSITIVE_DEFINITE, j
            chol[c, c] = math.sqrt(pivot)
            for i in range(c + 1, d):
                value = covariances[j, i, c]
                for r in range(c):
                    value -= chol[i, r] * chol[c, r]
                chol[i, c] = value / chol[c, c]
        smallest, largest, log_det = np.inf, 0.0, 0.0
        for c in range(d):
            # chol(S⁻¹ Σ S⁻¹) = S⁻¹ L: the test's factor in the data's units
            smallest = min(smallest, chol[c, c] / scales[c])
            largest = max(largest, chol[c, c] / scales[c])
            log_det += math.log(chol[c, c])
        if not smallest / (1.0 + largest) > root_eps:  # also inf and NaN
            return prec_chol, half_log_det, ILL_CONDITIONED, j
        inv[:] = 0.0
        for c in range(d):  # L⁻¹ by forward substitution, column by column
            inv[c, c] = 1.0 / chol[c, c]
            for i in range(c + 1, d):
                value = 0.0
                for r in range(c, i):
                    value -= chol[i, r] * inv[r, c]
                inv[i, c] = value / chol[i, i]
        frobenius, trace, offset2 = 0.0, 0.0, 0.0
        for c in range(d):
            unit = 1.0 / scales[c]
            trace += covariances[j, c, c] * unit * unit
            scaled_offset = offsets[j, c] * unit
            offset2 += scaled_offset * scaled_offset
            for i in range(d):
                prec_chol[j, c, i] = inv[i, c]  # U = L⁻ᵀ
                # S U, the whitening factor of S⁻¹ Σ S⁻¹
                frobenius += (scales[c] * inv[i, c]) * (scales[c] * inv[i, c])
        half_log_det[j] = -log_det
        # λ_min(S⁻¹ Σ S⁻¹) >= 1 / ||S U||_F²: a component this bound clears is not
        # rounding noise.
        if unclear < 0 and 1.0 / frobenius <= rounding * (offset2 + trace):
            unclear = j
    if unclear >= 0:
        return prec_chol, half_log_det, CHECK_EIGENVALUES, unclear
    return prec_chol, half_log_det, OK, -1
