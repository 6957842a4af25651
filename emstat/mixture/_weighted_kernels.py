"""The E-step of case-weighted rows in one compiled pass (weighted fits, ``wlbs`` refits).

:func:`weighted_e_step` gives what :func:`emstat.mixture.gaussian.weighted_e_step`
gives in numpy through the ``n x k`` responsibilities: the weighted
statistics, log-likelihood and ICL term, as if row i were repeated ``c_i``
times.  A row so far from every mean that its log-density is not finite
leaves the step to numpy (which treats such rows on its own): the kernel
then returns None.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from emstat.mixture.gaussian import GaussianParams, GaussianStats

__all__ = ["weighted_e_step"]

_LOG_2PI = math.log(2.0 * math.pi)


@numba.njit(cache=True)
def _weighted_e_step(
    x: np.ndarray,
    case_weights: np.ndarray,
    log_weights: np.ndarray,
    means: np.ndarray,
    prec_chol: np.ndarray,
    diag_second: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float, bool]:
    n, d = x.shape
    k = log_weights.shape[0]
    nk = np.zeros(k)
    sums = np.zeros((k, d))
    second = np.zeros((k, d, d)) if not diag_second else np.zeros((k, d, 1))
    # the whitened means, as numpy forms y = x U - mu U
    shift = np.zeros((k, d))
    for j in range(k):
        for c in range(d):
            acc = 0.0
            for r in range(c + 1):  # U is upper triangular
                acc += means[j, r] * prec_chol[j, r, c]
            shift[j, c] = acc
    log_dens = np.empty(k)
    loglik = 0.0
    classification = 0.0
    for i in range(n):
        top = -np.inf
        for j in range(k):
            maha = 0.0
            for c in range(d):
                acc = 0.0
                for r in range(c + 1):
                    acc += x[i, r] * prec_chol[j, r, c]
                y = acc - shift[j, c]
                maha += y * y
            log_dens[j] = log_weights[j] - 0.5 * (d * _LOG_2PI + maha)
            if log_dens[j] > top:
                top = log_dens[j]
        if not np.isfinite(top):
            return nk, sums, second, loglik, classification, False
        total = 0.0
        for j in range(k):
            total += math.exp(log_dens[j] - top)
        row = top + math.log(total)
        w = case_weights[i]
        loglik += w * row
        classification += w * (top - row)
        for j in range(k):
            resp = math.exp(log_dens[j] - row) * w
            nk[j] += resp
            for a in range(d):
                sums[j, a] += resp * x[i, a]
                if diag_second:
                    second[j, a, 0] += resp * x[i, a] * x[i, a]
                else:
                    for b in range(a, d):
                        second[j, a, b] += resp * x[i, a] * x[i, b]
    if not diag_second:
        for j in range(k):
            for a in range(d):
                for b in range(a + 1, d):
                    second[j, b, a] = second[j, a, b]
    return nk, sums, second, loglik, classification, True


def weighted_e_step(
    x: np.ndarray, case_weights: np.ndarray, params: GaussianParams, diag_second: bool
) -> tuple[GaussianStats, float] | None:
    """The weighted statistics (second moments' diagonals only when ``diag_second``) and
    log-likelihood of ``x`` at ``params``; None when a row's log-density is not finite."""
    with np.errstate(divide="ignore"):
        log_weights = np.log(params.weights) + params.half_log_det_prec
    nk, sums, second, loglik, classification, ok = _weighted_e_step(
        np.ascontiguousarray(x, dtype=np.float64),
        np.ascontiguousarray(case_weights, dtype=np.float64),
        np.ascontiguousarray(log_weights, dtype=np.float64),
        np.ascontiguousarray(params.means, dtype=np.float64),
        np.ascontiguousarray(params.prec_chol, dtype=np.float64),
        diag_second,
    )
    if not ok:
        return None
    moments = second[:, :, 0] if diag_second else second
    return GaussianStats(nk, sums, moments, float(classification)), float(loglik)
