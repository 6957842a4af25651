"""The observed information of a Gaussian mixture in its chart, in one compiled pass.

:func:`loglik_derivatives` gives what
:func:`emstat.mixture.stderr._numpy_loglik_derivatives` gives in numpy (the
oracle of the tests): the Hessian of the (case-weighted) observed-data
log-likelihood in the model's local chart at 0, the sizes of the terms of
its diagonal and the score, and also the log-likelihood.  The
log-responsibilities are formed inside (a stable log-sum-exp per row), so
no ``n x k`` or ``n x p`` array is allocated: a row's gradients live in a
few small buffers.  :func:`log_likelihood` is the log-likelihood alone, for
the step halving of the Newton polish, :func:`newton_step` the polish's
step (a Cholesky factorisation of the scaled information), and
:func:`row_scores` the per-row scores of the empirical information.

A row whose log-likelihood is not finite (so far from every mean that its
distances overflow) leaves the work to numpy, which treats such rows on its
own: the kernels then report it (a NaN log-likelihood) and the caller falls
back.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "delta_method",
    "diagonal_newton_polish",
    "diagonal_trial",
    "log_likelihood",
    "loglik_derivatives",
    "newton_step",
    "row_scores",
]

_LOG_2PI = math.log(2.0 * math.pi)


@numba.njit(cache=True, error_model="numpy")
def _whitened_means(means: np.ndarray, prec_chol: np.ndarray) -> np.ndarray:
    """``mu_k U_k`` for every component, as numpy forms ``y = x U - mu U``."""
    k, d = means.shape
    shift = np.zeros((k, d))
    for j in range(k):
        for c in range(d):
            acc = 0.0
            for r in range(c + 1):  # U is upper triangular
                acc += means[j, r] * prec_chol[j, r, c]
            shift[j, c] = acc
    return shift


@numba.njit(cache=True, error_model="numpy", inline="always")
def _row_log_densities(
    x: np.ndarray,
    i: int,
    log_weights: np.ndarray,
    shift: np.ndarray,
    prec_chol: np.ndarray,
    out: np.ndarray,
) -> float:
    """``log w_k + log N(x_i | mu_k, Sigma_k)`` into ``out``; returns their log-sum-exp."""
    k, d = shift.shape
    top = -np.inf
    for j in range(k):
        maha = 0.0
        for c in range(d):
            acc = 0.0
            for r in range(c + 1):
                acc += x[i, r] * prec_chol[j, r, c]
            y = acc - shift[j, c]
            maha += y * y
        out[j] = log_weights[j] - 0.5 * (d * _LOG_2PI + maha)
        if out[j] > top:
            top = out[j]
    if not np.isfinite(top):
        return math.nan
    total = 0.0
    for j in range(k):
        total += math.exp(out[j] - top)
    return top + math.log(total)


@numba.njit(cache=True, error_model="numpy")
def log_likelihood(
    x: np.ndarray,
    case_weights: np.ndarray,
    log_weights: np.ndarray,
    means: np.ndarray,
    prec_chol: np.ndarray,
) -> float:
    """``sum_i c_i log sum_k w_k N(x_i | mu_k, Sigma_k)``; NaN when a row's is not finite.

    ``log_weights`` are ``log w_k - 1/2 log|Sigma_k|`` (the parameters'
    ``log(weights) + half_log_det_prec``).
    """
    shift = _whitened_means(means, prec_chol)
    dens = np.empty(shift.shape[0])
    total = 0.0
    for i in range(x.shape[0]):
        row = _row_log_densities(x, i, log_weights, shift, prec_chol, dens)
        if not np.isfinite(row):
            return math.nan
        total += case_weights[i] * row
    return total


@numba.njit(cache=True, error_model="numpy")
def _frames(
    prec_chol: np.ndarray, orientations: np.ndarray, d_m: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per component: the precision ``P``, the rotated one ``D^T P D``, ``Y_a = P_r dM_a``
    and ``tr Y_a``."""
    k, q, d, _ = d_m.shape
    prec = np.zeros((k, d, d))
    prec_r = np.zeros((k, d, d))
    y = np.zeros((k, q, d, d))
    trace = np.zeros((k, q))
    tmp = np.zeros((d, d))
    for j in range(k):
        for r in range(d):
            for c in range(d):
                acc = 0.0
                for m in range(d):
                    acc += prec_chol[j, r, m] * prec_chol[j, c, m]
                prec[j, r, c] = acc
        for r in range(d):  # tmp = P D
            for c in range(d):
                acc = 0.0
                for m in range(d):
                    acc += prec[j, r, m] * orientations[j, m, c]
                tmp[r, c] = acc
        for r in range(d):  # D^T (P D)
            for c in range(d):
                acc = 0.0
                for m in range(d):
                    acc += orientations[j, m, r] * tmp[m, c]
                prec_r[j, r, c] = acc
        for a in range(q):
            for r in range(d):
                for c in range(d):
                    acc = 0.0
                    for m in range(d):
                        acc += prec_r[j, r, m] * d_m[j, a, m, c]
                    y[j, a, r, c] = acc
            for r in range(d):
                trace[j, a] += y[j, a, r, r]
    return prec, prec_r, y, trace


@numba.njit(cache=True, error_model="numpy")
def _columns(k: int, d: int, j: int, cov_index: np.ndarray) -> np.ndarray:
    """Component ``j``'s global coordinates: the weights, its means, its covariance's."""
    q = cov_index.shape[1]
    cols = np.empty(k - 1 + d + q, dtype=np.intp)
    for m in range(k - 1):
        cols[m] = m
    for c in range(d):
        cols[k - 1 + c] = k - 1 + j * d + c
    for a in range(q):
        cols[k - 1 + d + a] = cov_index[j, a]
    return cols


@numba.njit(cache=True, error_model="numpy")
def _column_table(k: int, d: int, cov_index: np.ndarray) -> np.ndarray:
    """(k, width) table of :func:`_columns`: every component's global coordinates."""
    cols = np.empty((k, k - 1 + d + cov_index.shape[1]), dtype=np.intp)
    for j in range(k):
        cols[j] = _columns(k, d, j, cov_index)
    return cols


@numba.njit(cache=True, error_model="numpy", inline="always")
def _row_gradient(
    x: np.ndarray,
    i: int,
    j: int,
    weights: np.ndarray,
    means: np.ndarray,
    orientations: np.ndarray,
    prec_r: np.ndarray,
    d_m: np.ndarray,
    trace: np.ndarray,
    resid: np.ndarray,
    u: np.ndarray,
    grad: np.ndarray,
) -> None:
    """Row i's gradient of ``l_ij`` in component j's coordinates into ``grad``; its rotated
    residual into ``resid`` and ``u = P_r resid`` into ``u``."""
    k = weights.shape[0]
    d = means.shape[1]
    q = d_m.shape[1]
    for c in range(d):
        acc = 0.0
        for m in range(d):
            acc += (x[i, m] - means[j, m]) * orientations[j, m, c]
        resid[c] = acc
    for c in range(d):
        acc = 0.0
        for m in range(d):
            acc += resid[m] * prec_r[j, m, c]
        u[c] = acc
    for m in range(k - 1):
        grad[m] = (1.0 if m == j else 0.0) - weights[m]
    for c in range(d):
        acc = 0.0
        for m in range(d):
            acc += u[m] * orientations[j, c, m]
        grad[k - 1 + c] = acc
    for a in range(q):
        acc = 0.0
        for r in range(d):
            inner = 0.0
            for c in range(d):
                inner += d_m[j, a, r, c] * u[c]
            acc += u[r] * inner
        grad[k - 1 + d + a] = 0.5 * (acc - trace[j, a])


@numba.njit(cache=True, error_model="numpy")
def _component_curvature(
    j: int,
    n_j: float,
    s: np.ndarray,
    scatter: np.ndarray,
    prec: np.ndarray,
    prec_r: np.ndarray,
    orientations: np.ndarray,
    y: np.ndarray,
    d2_m: np.ndarray,
    block: np.ndarray,
    diag_sizes: np.ndarray,
) -> None:
    """The Gaussian second derivatives of component j, summed with its weights, added to
    ``block`` (whose coordinates are the weights', the means' and the covariance's);
    their diagonal's absolute values into ``diag_sizes`` (means, then covariance)."""
    d = s.shape[0]
    q = y.shape[1]
    o = block.shape[0] - d - q
    pw = np.zeros((d, d))  # P_r scatter
    for r in range(d):
        for c in range(d):
            acc = 0.0
            for m in range(d):
                acc += prec_r[j, r, m] * scatter[m, c]
            pw[r, c] = acc
    g_mat = np.zeros((d, d))  # (P_r W P_r - n_j P_r) / 2
    for r in range(d):
        for c in range(d):
            acc = 0.0
            for m in range(d):
                acc += pw[r, m] * prec_r[j, m, c]
            g_mat[r, c] = 0.5 * (acc - n_j * prec_r[j, r, c])
    for r in range(d):
        for c in range(d):
            block[o + r, o + c] += -n_j * prec[j, r, c]
        diag_sizes[r] = abs(n_j * prec[j, r, r])
    ps = np.zeros(d)  # P_r s
    for r in range(d):
        acc = 0.0
        for m in range(d):
            acc += prec_r[j, r, m] * s[m]
        ps[r] = acc
    ys = np.zeros(d)
    for a in range(q):
        for r in range(d):  # Y_a P_r s
            acc = 0.0
            for m in range(d):
                acc += y[j, a, r, m] * ps[m]
            ys[r] = acc
        for r in range(d):  # -D (Y_a P_r s)
            acc = 0.0
            for m in range(d):
                acc += orientations[j, r, m] * ys[m]
            block[o + r, o + d + a] -= acc
            block[o + d + a, o + r] -= acc
    yy = np.zeros((d, d))
    for a in range(q):
        for b in range(q):
            tr_yy = 0.0  # tr(Y_a Y_b)
            tr_yyw = 0.0  # tr(Y_a Y_b P_r W)
            for r in range(d):
                for c in range(d):
                    acc = 0.0
                    for m in range(d):
                        acc += y[j, a, r, m] * y[j, b, m, c]
                    yy[r, c] = acc
                tr_yy += yy[r, r]
            for r in range(d):
                for c in range(d):
                    tr_yyw += yy[r, c] * pw[c, r]
            second = 0.0
            for r in range(d):
                for c in range(d):
                    second += g_mat[r, c] * d2_m[j, a, b, c, r]
            value = 0.5 * n_j * tr_yy - tr_yyw + second
            block[o + d + a, o + d + b] += value
            if a == b:
                diag_sizes[d + a] = abs(value)


@numba.njit(cache=True, error_model="numpy")
def loglik_derivatives(
    x: np.ndarray,
    case_weights: np.ndarray,
    weights: np.ndarray,
    means: np.ndarray,
    prec_chol: np.ndarray,
    log_weights: np.ndarray,
    orientations: np.ndarray,
    d_m: np.ndarray,
    d2_m: np.ndarray,
    cov_index: np.ndarray,
    n_free: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Hessian, sizes, score and log-likelihood in the chart at 0 (see the module docstring).

    ``log_weights`` are ``log w_k - 1/2 log|Sigma_k|``; ``case_weights`` are
    ones for an unweighted fit.  The log-likelihood is NaN when a row's is
    not finite (the other results are then meaningless).
    """
    n, d = x.shape
    k = weights.shape[0]
    q = cov_index.shape[1]
    width = k - 1 + d + q
    p = n_free
    prec, prec_r, y, trace = _frames(prec_chol, orientations, d_m)
    shift = _whitened_means(means, prec_chol)
    cols = _column_table(k, d, cov_index)
    hess = np.zeros((p, p))
    size = np.zeros(p)
    score = np.zeros(p)
    n_j = np.zeros(k)
    sums = np.zeros((k, d))
    scatter = np.zeros((k, d, d))
    blocks = np.zeros((k, width, width))
    dens = np.empty(k)
    resid = np.empty(d)
    u = np.empty(d)
    grad = np.empty(width)
    row_score = np.zeros(p)
    loglik = 0.0
    for i in range(n):
        c_i = case_weights[i]
        total = _row_log_densities(x, i, log_weights, shift, prec_chol, dens)
        if not np.isfinite(total):
            return hess, size, score, math.nan
        loglik += c_i * total
        row_score[:] = 0.0
        for j in range(k):
            resp = math.exp(dens[j] - total)
            z = resp * c_i
            _row_gradient(x, i, j, weights, means, orientations, prec_r, d_m, trace, resid, u, grad)
            n_j[j] += z
            for r in range(d):
                sums[j, r] += z * resid[r]
                for c in range(d):
                    scatter[j, r, c] += z * resid[r] * resid[c]
            for a in range(width):
                za = z * grad[a]
                for b in range(width):
                    blocks[j, a, b] += za * grad[b]
                row_score[cols[j, a]] += resp * grad[a]
        for a in range(p):
            ca = c_i * row_score[a]
            score[a] += ca
            for b in range(p):
                hess[a, b] -= ca * row_score[b]
    n_total = 0.0
    for i in range(n):
        n_total += case_weights[i]
    for a in range(k - 1):
        size[a] += n_total * weights[a] * (1.0 - weights[a])
        for b in range(k - 1):
            hess[a, b] -= n_total * ((weights[a] if a == b else 0.0) - weights[a] * weights[b])
    diag_sizes = np.zeros(d + q)
    for j in range(k):
        block = blocks[j]
        for a in range(width):
            size[cols[j, a]] += block[a, a]
        _component_curvature(
            j, n_j[j], sums[j], scatter[j], prec, prec_r, orientations, y, d2_m, block, diag_sizes
        )
        for a in range(d + q):
            size[cols[j, k - 1 + a]] += diag_sizes[a]
        for a in range(width):
            for b in range(width):
                hess[cols[j, a], cols[j, b]] += block[a, b]
    for a in range(p):
        for b in range(a + 1, p):
            mean = 0.5 * (hess[a, b] + hess[b, a])
            hess[a, b] = mean
            hess[b, a] = mean
    return hess, size, score, loglik


@numba.njit(cache=True, error_model="numpy")
def row_scores(
    x: np.ndarray,
    weights: np.ndarray,
    means: np.ndarray,
    prec_chol: np.ndarray,
    log_weights: np.ndarray,
    orientations: np.ndarray,
    d_m: np.ndarray,
    cov_index: np.ndarray,
    n_free: int,
) -> tuple[np.ndarray, bool]:
    """``(n, p)`` per-row scores ``g_i = sum_k z_ik dl_ik`` in the chart at 0, and whether
    every row's log-likelihood was finite (the scores are meaningless otherwise)."""
    n, d = x.shape
    k = weights.shape[0]
    q = cov_index.shape[1]
    width = k - 1 + d + q
    _, prec_r, _, trace = _frames(prec_chol, orientations, d_m)
    shift = _whitened_means(means, prec_chol)
    cols = _column_table(k, d, cov_index)
    scores = np.zeros((n, n_free))
    dens = np.empty(k)
    resid = np.empty(d)
    u = np.empty(d)
    grad = np.empty(width)
    for i in range(n):
        total = _row_log_densities(x, i, log_weights, shift, prec_chol, dens)
        if not np.isfinite(total):
            return scores, False
        for j in range(k):
            resp = math.exp(dens[j] - total)
            _row_gradient(x, i, j, weights, means, orientations, prec_r, d_m, trace, resid, u, grad)
            for a in range(width):
                scores[i, cols[j, a]] += resp * grad[a]
    return scores, True


@numba.njit(cache=True, error_model="numpy")
def newton_step(
    info: np.ndarray, grad: np.ndarray, size: np.ndarray, null_rtol: float
) -> tuple[np.ndarray, float, bool]:
    """The Newton step ``I^{-1} g``, its length ``sqrt(g' I^{-1} g)`` and whether ``I`` is
    positive definite (the step and length are meaningless otherwise).

    ``I`` is scaled to unit diagonal and factorised by Cholesky; a diagonal
    entry at or below ``null_rtol`` times its ``size``, a pivot that is not
    positive or a factor whose smallest diagonal squared is at or below
    ``null_rtol`` count as not positive definite.
    """
    p = grad.shape[0]
    step = np.zeros(p)
    scale = np.empty(p)
    for a in range(p):
        for b in range(p):
            if not np.isfinite(info[a, b]):
                return step, math.inf, False
        if not info[a, a] > null_rtol * size[a]:
            return step, math.inf, False
        scale[a] = 1.0 / math.sqrt(info[a, a])
    chol = np.zeros((p, p))
    smallest = math.inf
    for a in range(p):
        for b in range(a + 1):
            acc = info[a, b] * scale[a] * scale[b]
            for m in range(b):
                acc -= chol[a, m] * chol[b, m]
            if a == b:
                if not acc > 0.0:
                    return step, math.inf, False
                chol[a, a] = math.sqrt(acc)
                smallest = min(smallest, chol[a, a])
            else:
                chol[a, b] = acc / chol[b, b]
    if smallest * smallest <= null_rtol:
        return step, math.inf, False
    half = np.empty(p)
    for a in range(p):  # L half = scale * g
        acc = grad[a] * scale[a]
        for m in range(a):
            acc -= chol[a, m] * half[m]
        half[a] = acc / chol[a, a]
    for a in range(p - 1, -1, -1):  # L' w = half; the step is scale * w
        acc = half[a]
        for m in range(a + 1, p):
            acc -= chol[m, a] * step[m]
        step[a] = acc / chol[a, a]
    distance = 0.0
    for a in range(p):
        distance += half[a] * half[a]
    for a in range(p):
        step[a] *= scale[a]
    return step, math.sqrt(distance), True


@numba.njit(cache=True, error_model="numpy")
def diagonal_trial(
    x: np.ndarray,
    case_weights: np.ndarray,
    weights_hat: np.ndarray,
    means_hat: np.ndarray,
    covariances_hat: np.ndarray,
    diagonals: np.ndarray,
    theta: np.ndarray,
    cov_index: np.ndarray,
    n_h: int,
    shape_basis: np.ndarray,
    floor_factor: float,
    eps: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, int]:
    """The point of a diagonal model's chart at ``theta``, factorised, and its log-likelihood.

    Weights, means, covariances, the diagonal ``prec_chol`` and
    ``-1/2 log|Sigma_k|`` as :func:`emstat.mixture.stderr._chart_point` and
    :func:`emstat.mixture.gaussian.gaussian_params` give them (a chart
    without orientation: ``Sigma_k`` is ``Sigma_hat_k`` with its diagonal
    moved to ``diag Lambda_hat_k e^{v + B h}``), then the case-weighted
    log-likelihood there.  The status is 0, or 1 where a variance is at
    machine zero by ``gaussian_params``' rules (``floor_factor`` is its
    rounding factor), or 2 where a row's log-likelihood is not finite (the
    caller then takes numpy's route).
    """
    k, d = means_hat.shape
    weights = np.empty(k)
    top = -np.inf
    for j in range(k):
        a = theta[j] if j < k - 1 else 0.0
        weights[j] = math.log(weights_hat[j]) + a
        top = max(top, weights[j])
    total = 0.0
    for j in range(k):
        weights[j] = math.exp(weights[j] - top)
        total += weights[j]
    for j in range(k):
        weights[j] /= total
    means = np.empty((k, d))
    for j in range(k):
        for c in range(d):
            means[j, c] = means_hat[j, c] + theta[k - 1 + j * d + c]
    covariances = covariances_hat.copy()
    for j in range(k):
        v = theta[cov_index[j, 0]]
        for c in range(d):
            log_scale = v
            for m in range(n_h):
                log_scale += theta[cov_index[j, 1 + m]] * shape_basis[c, m]
            lam = diagonals[j, c] * math.exp(log_scale)
            covariances[j, c, c] += lam - diagonals[j, c]
    prec_chol = np.zeros((k, d, d))
    half_log_det = np.zeros(k)
    status = 0
    centre = np.zeros(d)
    for j in range(k):
        for c in range(d):
            centre[c] += weights[j] * means[j, c]
    for c in range(d):
        unit2 = 0.0
        for j in range(k):
            offset = means[j, c] - centre[c]
            unit2 += weights[j] * (covariances[j, c, c] + offset * offset)
        unit2 = math.sqrt(unit2) ** 2  # as gaussian.column_scales squared
        for j in range(k):
            var = covariances[j, c, c]
            offset = means[j, c] - centre[c]
            floor = floor_factor * eps * (offset * offset + abs(var))
            if not (var > eps * unit2 and var > floor and var < np.inf):
                status = 1
    if status:
        return weights, means, covariances, prec_chol, half_log_det, math.nan, status
    log_weights = np.empty(k)
    for j in range(k):
        acc = 0.0
        for c in range(d):
            var = covariances[j, c, c]
            prec_chol[j, c, c] = 1.0 / math.sqrt(var)
            acc += math.log(var)
        half_log_det[j] = -0.5 * acc
        log_weights[j] = math.log(weights[j]) + half_log_det[j]
    loglik = log_likelihood(x, case_weights, log_weights, means, prec_chol)
    if not np.isfinite(loglik):
        status = 2
    return weights, means, covariances, prec_chol, half_log_det, loglik, status


@numba.njit(cache=True, error_model="numpy")
def _diagonal_derivatives(
    x: np.ndarray,
    case_weights: np.ndarray,
    weights: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    prec_chol: np.ndarray,
    half_log_det: np.ndarray,
    cov_index: np.ndarray,
    n_free: int,
    first_basis: np.ndarray,
    second_basis: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """:func:`loglik_derivatives` in the chart of a diagonal model at these parameters
    (identity orientations; the jets are combinations of the basis jets)."""
    k, d = means.shape
    q = first_basis.shape[1]
    orientations = np.zeros((k, d, d))
    d_m = np.zeros((k, q, d, d))
    d2_m = np.zeros((k, q, q, d, d))
    log_weights = np.empty(k)
    for j in range(k):
        log_weights[j] = math.log(weights[j]) + half_log_det[j]
        for i in range(d):
            orientations[j, i, i] = 1.0
            lam = covariances[j, i, i]
            d_m[j] += lam * first_basis[i]
            d2_m[j] += lam * second_basis[i]
    return loglik_derivatives(
        x,
        case_weights,
        weights,
        means,
        prec_chol,
        log_weights,
        orientations,
        d_m,
        d2_m,
        cov_index,
        n_free,
    )


@numba.njit(cache=True, error_model="numpy")
def covariances_diagonals(covariances: np.ndarray) -> np.ndarray:
    """The diagonals ``(k, d)`` of ``(k, d, d)`` covariances."""
    k, d, _ = covariances.shape
    out = np.empty((k, d))
    for j in range(k):
        for i in range(d):
            out[j, i] = covariances[j, i, i]
    return out


@numba.njit(cache=True, error_model="numpy")
def diagonal_newton_polish(
    x: np.ndarray,
    case_weights: np.ndarray,
    weights: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    prec_chol: np.ndarray,
    half_log_det: np.ndarray,
    hess: np.ndarray,
    size: np.ndarray,
    grad: np.ndarray,
    cov_index: np.ndarray,
    n_h: int,
    shape_basis: np.ndarray,
    first_basis: np.ndarray,
    second_basis: np.ndarray,
    damped: bool,
    settings: np.ndarray,
    dampings: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool, int, int]:
    """:func:`emstat.mixture.stderr._newton_polish` of a diagonal model, in one call.

    From the parameters (and ``hess``, ``size``, ``grad``: the derivatives
    in their chart), Newton steps halved until the log-likelihood does not
    decrease, or where the information is not positive definite and
    ``damped``, Levenberg-Marquardt steps (``dampings``) uphill; every
    point is :func:`diagonal_trial`'s.  ``settings`` are the polish's
    constants: steps, the null tolerance, the stationarity tolerance, the
    Newton tolerance, the rounding slack, the halvings, gaussian_params'
    rounding factor and machine epsilon.  Returns the parameters reached
    (weights, means, covariances, prec_chol, -1/2 log|Sigma|), whether they
    are stationary, a status (0, or 2 where a row's log-likelihood was not
    finite on the way: the caller then takes numpy's route) and the number of
    steps taken.
    """
    max_steps = int(settings[0])
    null_rtol, stationary_se, newton_tol = settings[1], settings[2], settings[3]
    rounding_slack, halvings = settings[4], int(settings[5])
    floor_factor, eps = settings[6], settings[7]
    k = means.shape[0]
    n_free = grad.shape[0]
    close_tol = stationary_se * 1e-3
    log_weights = np.empty(k)
    for j in range(k):
        log_weights[j] = math.log(weights[j]) + half_log_det[j]
    current = log_likelihood(x, case_weights, log_weights, means, prec_chol)
    if not np.isfinite(current):
        return weights, means, covariances, prec_chol, half_log_det, False, 2, 0
    close = False
    damping = 0
    moves = 0
    for _ in range(max_steps):
        info = -hess
        diagonals = covariances_diagonals(covariances)  # every trial of this step starts here
        step, distance, ok = newton_step(info, grad, size, null_rtol)
        found = False
        if not ok:  # not positive definite: a damped step, uphill
            if not damped:
                return weights, means, covariances, prec_chol, half_log_det, False, 0, moves
            finite = True
            for a in range(n_free):
                if not (np.isfinite(grad[a]) and size[a] > 0):
                    finite = False
                for b in range(n_free):
                    if not np.isfinite(info[a, b]):
                        finite = False
            if finite:
                scale = 1.0 / np.sqrt(size)
                scaled = info * np.outer(scale, scale)
                values, vectors = np.linalg.eigh(scaled)
                shift = max(0.0, -values[0])
                projected = vectors.T @ (grad * scale)
                for index in range(damping, dampings.shape[0]):
                    trial_step = scale * (
                        vectors @ (projected / (values + shift + dampings[index]))
                    )
                    w, m, c, p, h, value, status = diagonal_trial(
                        x,
                        case_weights,
                        weights,
                        means,
                        covariances,
                        diagonals,
                        trial_step,
                        cov_index,
                        n_h,
                        shape_basis,
                        floor_factor,
                        eps,
                    )
                    if status == 2:
                        return weights, means, covariances, prec_chol, half_log_det, False, 2, moves
                    if status == 0 and value > current:
                        found = True
                        damping = max(index - 1, 0)
                        break
            if not found:
                return weights, means, covariances, prec_chol, half_log_det, False, 0, moves
        else:
            close = distance <= close_tol
            if distance <= newton_tol:
                return weights, means, covariances, prec_chol, half_log_det, True, 0, moves
            slack = rounding_slack * (1.0 + abs(current)) if close else 0.0
            for halving in range(halvings):
                w, m, c, p, h, value, status = diagonal_trial(
                    x,
                    case_weights,
                    weights,
                    means,
                    covariances,
                    diagonals,
                    step * 0.5**halving,
                    cov_index,
                    n_h,
                    shape_basis,
                    floor_factor,
                    eps,
                )
                if status == 2:
                    return weights, means, covariances, prec_chol, half_log_det, False, 2, moves
                if status == 0 and value >= current - slack:
                    found = True
                    break
            if not found:
                return weights, means, covariances, prec_chol, half_log_det, close, 0, moves
        weights, means, covariances, prec_chol, half_log_det, current = w, m, c, p, h, value
        moves += 1
        hess, size, grad, value = _diagonal_derivatives(
            x,
            case_weights,
            weights,
            means,
            covariances,
            prec_chol,
            half_log_det,
            cov_index,
            n_free,
            first_basis,
            second_basis,
        )
        if not np.isfinite(value):
            return weights, means, covariances, prec_chol, half_log_det, False, 2, moves
    _, distance, _ = newton_step(-hess, grad, size, null_rtol)
    return weights, means, covariances, prec_chol, half_log_det, distance <= close_tol, 0, moves


@numba.njit(cache=True, error_model="numpy")
def delta_method(
    info: np.ndarray, jac: np.ndarray, size: np.ndarray, null_rtol: float, affected_rtol: float
) -> tuple[np.ndarray, bool, bool]:
    """:func:`emstat.mixture.stderr._numpy_delta_method`'s standard errors, whether some are
    NaN, and whether the information has a negative direction (its reason)."""
    p = info.shape[0]
    m = jac.shape[0]
    live = np.empty(p, dtype=np.bool_)
    negative = False
    count = 0
    for a in range(p):
        live[a] = info[a, a] > null_rtol * size[a]
        count += live[a]
        if info[a, a] < -null_rtol * size[a]:
            negative = True
    idx = np.empty(count, dtype=np.intp)
    scale = np.empty(count)
    c = 0
    for a in range(p):
        if live[a]:
            idx[c] = a
            scale[c] = 1.0 / math.sqrt(info[a, a])
            c += 1
    se = np.zeros(m)
    affected = np.zeros(m, dtype=np.bool_)
    if count:
        scaled = np.empty((count, count))
        for a in range(count):
            for b in range(count):
                scaled[a, b] = info[idx[a], idx[b]] * scale[a] * scale[b]
        values, vectors = np.linalg.eigh(scaled)
        big = 0.0
        for a in range(count):
            big = max(big, abs(values[a]))
        floor = null_rtol * max(big, 1.0)
        for a in range(count):
            if values[a] < -floor:
                negative = True
        for r in range(m):
            variance = 0.0
            null_norm = 0.0
            total_norm = 0.0
            for a in range(count):
                proj = 0.0
                for b in range(count):
                    proj += jac[r, idx[b]] * scale[b] * vectors[b, a]
                total_norm += proj * proj
                if values[a] <= floor:
                    null_norm += proj * proj
                else:
                    variance += proj * proj / values[a]
            se[r] = math.sqrt(variance)
            affected[r] = math.sqrt(null_norm) > affected_rtol * math.sqrt(total_norm)
    for r in range(m):
        row_norm = 0.0
        dead_norm = 0.0
        for a in range(p):
            row_norm += jac[r, a] * jac[r, a]
            if not live[a]:
                dead_norm += jac[r, a] * jac[r, a]
        if math.sqrt(dead_norm) > affected_rtol * math.sqrt(row_norm):
            affected[r] = True
    some = False
    for r in range(m):
        if affected[r]:
            se[r] = math.nan
            some = True
    return se, some, negative
