"""numba kernels of the Gaussian M-steps with varying orientation: EEV, VEV, EVV.

Each kernel does a whole M-step in one call: weights, means, the scatters
``W_k``, their eigen-decompositions ``W_k = D_k diag(w_k) D_k^T`` (eigenvalues
in decreasing order, as :func:`emstat.mixture.covariance._sorted_eigh`), the
diagonal fit of the eigenvalues (``EEV``: pooled; ``VEV``: the inner
iteration :func:`emstat.mixture._covariance_kernels.common_shape_diagonal`,
warm-started from the previous covariances' volumes; ``EVV``: one volume,
shapes per component), the covariances ``D_k Lambda_k D_k^T``, their factors,
and the singularity tests of :func:`emstat.mixture.gaussian.gaussian_params`
and (``EVV``) :func:`emstat.mixture.covariance._check_fitted`.

As the closed-form kernels of :mod:`emstat.mixture._mstep_kernels`, they
never decide that a fit is degenerate: where a test fails, where it is too
close to call, where the inner iteration hits its cap (the numpy path warns)
or where the fit depends on eigenvectors that are not determined (two
eigenvalues of a scatter too close, as in a rank-deficient scatter, fitted
with different variances), they answer ``DOUBT`` and the
caller reruns the numpy M-step, the reference, which then decides.

One kernel serves the three models (one compilation, not three):
``orientation_m_step(nk, sums, second, previous_covariances, options)`` with
``second`` ``(k, d, d)``, ``previous_covariances`` ``(k, d, d)`` or
``(0, d, d)`` (none) and ``options`` the tuple made by :func:`options`, which
names the model; it returns
``(weights, means, covariances, prec_chol, half_log_det, status)``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from emstat.mixture import covariance
from emstat.mixture._covariance_kernels import CONVERGED, common_shape_diagonal
from emstat.mixture._mstep_kernels import DOUBT, OK, _weights_and_means, factorise_full

__all__ = ["DOUBT", "MODELS", "OK", "options", "orientation_m_step"]

_EPS = float(np.finfo(np.float64).eps)

#: Where two eigenvalues ``w_a``, ``w_b`` of a scatter are close, their axes are
#: known only to about ``eps |W_k| / |w_a - w_b|`` (an angle that depends on the
#: LAPACK in use), and so is the fitted covariance, to that angle times the
#: difference of the fitted variances on the two axes.  Where that product
#: exceeds this fraction of the largest fitted variance (always for equal
#: eigenvalues fitted with different variances), the numpy M-step decides.
AXES_RTOL = 1e-10
#: An eigenvalue of ``W_k`` is known to within this many ``d * eps * |W_k|``
#: between two backward-stable eigen-solvers (``eigh`` here, ``eigvalsh`` in
#: mclust's EVV test): the margin of the tests that are close to call.
_EIGEN_ERROR = 32.0

#: The models served and their codes in ``options``.
MODELS = {"EEV": 0, "VEV": 1, "EVV": 2}

#: The type of ``options``: the model's code, min weight, rounding factor, inner
#: tolerance, inner cap, mclust's sqrt(eps), the rank tolerance of the EVV test,
#: :data:`AXES_RTOL`.
Options = tuple[int, float, float, float, int, float, float, float]


def options(model: str, min_weight: float, rounding: float, inner_tol: float | None) -> Options:
    """The ``options`` tuple of the kernel, with :mod:`~emstat.mixture.covariance`'s constants.

    Parameters
    ----------
    model
        ``EEV``, ``VEV`` or ``EVV``.
    min_weight
        A component with this total responsibility or less is empty.
    rounding
        The rounding-noise factor of :func:`emstat.mixture.gaussian.gaussian_params`
        (``ROUNDING_FACTOR * eps``).
    inner_tol
        The model's ``inner_tol``; None for :data:`~emstat.mixture.covariance.INNER_TOL`.

    Returns
    -------
    tuple
        Read when called, so the cap and tolerance are those the numpy M-step
        would use now.
    """
    tol = covariance.INNER_TOL if inner_tol is None else float(inner_tol)
    return (
        MODELS[model],
        float(min_weight),
        float(rounding),
        tol,
        int(covariance.INNER_MAX_ITER),
        float(covariance._RTEPS),
        float(covariance._RANK_RTOL),
        AXES_RTOL,
    )


@numba.njit(cache=True, error_model="numpy")
def _scatters(nk: np.ndarray, means: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, bool]:
    """``W_k = second_k - n_k m_k m_k^T`` as :meth:`GaussianStats.scatter`; False if not finite."""
    k, d = means.shape
    scatter = np.empty((k, d, d))
    finite = True
    for j in range(k):
        for a in range(d):
            for b in range(d):
                value = second[j, a, b] - nk[j] * (means[j, a] * means[j, b])
                scatter[j, a, b] = value
                if not abs(value) < np.inf:  # also NaN
                    finite = False
    return scatter, finite


@numba.njit(cache=True, error_model="numpy")
def _sorted_eigh(scatter: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eigenvalues (decreasing, negatives clipped to 0), eigenvectors and ``|W_k|_2`` of each W_k.

    Where eigenvalues tie, covariance.py's stable sort and this reversed
    order may differ; :func:`_axes_determined` sends every fit where that
    matters to the numpy M-step.
    """
    k, d = scatter.shape[0], scatter.shape[1]
    values = np.empty((k, d))
    vectors = np.empty((k, d, d))
    tops = np.empty(k)
    for j in range(k):
        raw, columns = np.linalg.eigh(scatter[j])  # increasing
        tops[j] = max(abs(raw[0]), abs(raw[d - 1]))
        for c in range(d):
            values[j, c] = max(raw[d - 1 - c], 0.0)
            for a in range(d):
                vectors[j, a, c] = columns[a, d - 1 - c]
    return values, vectors, tops


@numba.njit(cache=True, error_model="numpy")
def _axes_determined(
    values: np.ndarray, tops: np.ndarray, diagonals: np.ndarray, axes_rtol: float
) -> bool:
    """False where close eigenvalues leave the covariance to the eigen-solver (see AXES_RTOL)."""
    k, d = values.shape
    for j in range(k):
        largest = 0.0
        for c in range(d):
            largest = max(largest, abs(diagonals[j, c]))
        for a in range(d):
            for b in range(a + 1, d):
                spread = abs(diagonals[j, a] - diagonals[j, b])
                gap = abs(values[j, a] - values[j, b])
                # a tie fitted with two variances fails even for a zero scatter
                if spread > 0.0 and not _EPS * tops[j] * spread < axes_rtol * largest * gap:
                    return False
    return True


@numba.njit(cache=True, error_model="numpy")
def _rotate_out(vectors: np.ndarray, diagonals: np.ndarray) -> np.ndarray:
    """``D_k diag(Lambda_k) D_k^T``, symmetrised as covariance.py's ``_rotate_out``."""
    k, d = diagonals.shape
    sigma = np.empty((k, d, d))
    for j in range(k):
        for a in range(d):
            for b in range(d):
                total = 0.0
                for c in range(d):
                    total += vectors[j, a, c] * diagonals[j, c] * vectors[j, b, c]
                sigma[j, a, b] = total
        for a in range(d):
            for b in range(a + 1, d):
                mean = 0.5 * (sigma[j, a, b] + sigma[j, b, a])
                sigma[j, a, b] = mean
                sigma[j, b, a] = mean
    return sigma


@numba.njit(cache=True, error_model="numpy")
def _start_volumes(nk: np.ndarray, values: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """VEV's start: ``|Sigma_k|^(1/d)`` of usable previous covariances, else ``tr(W_k) / (d n_k)``.

    As covariance.py's ``_previous_volumes``: usable means one per
    component, finite, each with a positive determinant.
    """
    k, d = values.shape
    volumes = np.empty(k)
    usable = previous.shape[0] == k
    if usable:
        for j in range(k):
            for a in range(d):
                for b in range(d):
                    if not abs(previous[j, a, b]) < np.inf:
                        usable = False
    if usable:
        for j in range(k):
            sign, log_det = np.linalg.slogdet(previous[j])
            if not sign > 0:
                usable = False
                break
            volumes[j] = math.exp(log_det / d)
    if not usable:
        for j in range(k):
            total = 0.0
            for c in range(d):
                total += values[j, c]
            volumes[j] = total / (nk[j] * d)
    return volumes


@numba.njit(cache=True, error_model="numpy")
def _evv_diagonals(
    values: np.ndarray, tops: np.ndarray, n: float, rteps: float, rank_rtol: float
) -> tuple[np.ndarray, bool]:
    """EVV's fitted diagonals ``common * w_k / |diag w_k|^(1/d)``; False where a test doubts.

    The tests, each with a margin for the eigenvalues' rounding: covariance.py's
    ``_fit_diagonal`` (no eigenvalue at or below eps times the largest in its
    position) and mclust's EVV test in ``_check_fitted`` (eigenvalues of
    ``W_k`` above ``rank_rtol`` of the largest; shapes and the tested
    volumes above ``rteps``).
    """
    k, d = values.shape
    diagonals = np.empty((k, d))
    scales = np.empty(k)
    errors = np.empty(k)  # bound on the error of each eigenvalue of W_k
    spread = np.empty(k)  # bound on the relative error of scales[j]
    for j in range(k):
        errors[j] = _EIGEN_ERROR * d * _EPS * tops[j]
    for c in range(d):
        column = 0.0
        for j in range(k):
            column = max(column, values[j, c])
        for j in range(k):
            if not values[j, c] - errors[j] > 1.001 * _EPS * column:
                return diagonals, False
    common = 0.0
    for j in range(k):
        log_sum = 0.0
        for c in range(d):
            if not values[j, c] > 4.0 * rank_rtol * tops[j] + errors[j]:
                return diagonals, False
            log_sum += math.log(values[j, c])
        scales[j] = math.exp(log_sum / d)
        spread[j] = errors[j] / values[j, d - 1] + 1e-12
        low = (values[j, d - 1] - errors[j]) / (scales[j] * (1.0 + spread[j]))
        if not low > rteps * (1.0 + 1e-12):
            return diagonals, False
        common += scales[j]
    worst = 0.0
    for j in range(k):
        worst = max(worst, spread[j])
    # mclust tests sum(s_k) / n in place of s_1
    if not (common / n) * (1.0 - worst) > rteps * (1.0 + 1e-12):
        return diagonals, False
    for j in range(1, k):
        if not scales[j] * (1.0 - spread[j]) > rteps * (1.0 + 1e-12):
            return diagonals, False
    common /= n
    for j in range(k):
        for c in range(d):
            diagonals[j, c] = common * values[j, c] / scales[j]
    return diagonals, True


@numba.njit(cache=True, error_model="numpy")
def orientation_m_step(
    nk: np.ndarray, sums: np.ndarray, second: np.ndarray, previous: np.ndarray, options: Options
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """The M-step of the model ``options`` names, from ``(k, d, d)`` second moments.

    * ``EEV`` (code 0): ``Sigma_k = D_k (sum_j diag w_j / n) D_k^T``;
    * ``VEV`` (1): ``Sigma_k = lambda_k D_k C D_k^T``, ``lambda_k`` and ``C``
      iterated from the volumes of ``previous`` where usable;
    * ``EVV`` (2): ``Sigma_k = lambda D_k A_k D_k^T``, one volume.
    """
    model, min_weight, rounding, inner_tol, max_iter, rteps, rank_rtol, axes_rtol = options
    k, d = sums.shape
    weights, means, offsets, n, valid = _weights_and_means(nk, sums, min_weight)
    covariances = np.zeros((k, d, d))
    nothing = (weights, means, covariances, covariances, np.zeros(k), DOUBT)
    if not valid:
        return nothing
    scatter, finite = _scatters(nk, means, second)
    if not finite:
        return nothing
    values, vectors, tops = _sorted_eigh(scatter)
    if model == 0:  # EEV: the pooled eigenvalues
        diagonals = np.empty((k, d))
        for c in range(d):
            total = 0.0
            for j in range(k):
                total += values[j, c]
            diagonals[:, c] = total / n
    elif model == 1:  # VEV: volumes and one shape, iterated
        volumes = _start_volumes(nk, values, previous)
        diagonals, status, _ = common_shape_diagonal(nk, values, volumes, inner_tol, max_iter)
        if status != CONVERGED:  # the numpy M-step raises or warns
            return nothing
    else:  # EVV
        diagonals, tested = _evv_diagonals(values, tops, n, rteps, rank_rtol)
        if not tested:
            return nothing
    if not _axes_determined(values, tops, diagonals, axes_rtol):
        return nothing
    covariances = _rotate_out(vectors, diagonals)
    prec_chol, half_log_det, factorised = factorise_full(weights, offsets, covariances, rounding)
    return weights, means, covariances, prec_chol, half_log_det, OK if factorised else DOUBT
