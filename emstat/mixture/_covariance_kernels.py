"""numba kernels of the iterative M-steps (see :mod:`emstat.mixture.covariance`).

Each inner cycle of ``VEI``, ``VEE``, ``VEV``, ``EVE`` and ``VVE`` works on
``(k, d, d)`` arrays of a few dozen numbers, so in numpy its cost was the
overhead of a dozen small calls; compiled, a cycle costs well under a
microsecond for small ``d``.  Kept in their own module, at top level, so
that numba's on-disk cache finds them again in a new process and so that
``import emstat`` does not import numba.

The kernels do not raise for a degenerate fit: they return a status (one of
the constants below) and the component concerned, and the caller raises the
error or the warning with the model's name.  Each loop has a ``guarded_``
form for the compiled M-steps (:mod:`emstat.mixture._mstep_iterative_kernels`):
the same iteration, which answers UNDECIDED where a decision (a floor, the
stopping rule) is too close to call for numbers that differ from the numpy
M-step's in their last bits.
"""

from __future__ import annotations

import numba
import numpy as np

#: The iteration converged.
CONVERGED = 0
#: The iteration hit its cap (the last covariances are returned).
CAPPED = 1
#: A volume at or below eps times the largest (the component is returned).
ZERO_VOLUME = 2
#: The pooled scatter ``sum_k W_k / lambda_k`` is not positive definite.
SINGULAR_POOLED = 3
#: A zero rotated variance makes the equal-volume shape undefined (component returned).
ZERO_SHAPE_VARIANCE = 4
#: A fitted variance along the common axes at or below eps times the largest.
ZERO_AXIS_VARIANCE = 5
#: A guarded loop (``guard > 0``, the compiled M-step's) came too close to one
#: of its decisions to be sure the unguarded loop on the same numbers, up to
#: rounding, decides alike: the numpy M-step must run.
UNDECIDED = 6

_EPS = float(np.finfo(np.float64).eps)


@numba.njit(cache=True)
def _relative_change(new: np.ndarray, old: np.ndarray) -> float:
    """``max|new - old| / max|new|`` over all entries (0 when ``new`` is zero)."""
    a = new.ravel()
    b = old.ravel()
    scale = 0.0
    diff = 0.0
    for i in range(a.size):
        scale = max(scale, abs(a[i]))
        diff = max(diff, abs(a[i] - b[i]))
    if scale == 0.0:
        return 0.0
    return diff / scale


@numba.njit(cache=True)
def _first_at_or_below(values: np.ndarray, floor: float) -> int:
    """First row of ``values`` (``(k,)`` or ``(k, d)``) with an entry ``<= floor``, else -1."""
    rows = values.shape[0]
    flat = values.reshape(rows, -1)
    for k in range(rows):
        for i in range(flat.shape[1]):
            if flat[k, i] <= floor:
                return k
    return -1


@numba.njit(cache=True)
def _volume_floor(volumes: np.ndarray) -> float:
    top = 0.0
    for j in range(volumes.size):
        top = max(top, abs(volumes[j]))
    return _EPS * top


@numba.njit(cache=True)
def _stop(change: float, tol: float, guard: float) -> int:
    """The stopping rule: CONVERGED, -1 (go on), or UNDECIDED within ``guard * tol`` of ``tol``.

    A guarded loop runs on numbers that differ from the numpy M-step's in
    their last bits; one cycle more or less would move its answer by ``tol``.
    """
    if guard > 0.0 and abs(change - tol) <= guard * tol:
        return UNDECIDED
    return CONVERGED if change <= tol else -1


@numba.njit(cache=True)
def common_shape_diagonal(
    nk: np.ndarray, diagonals: np.ndarray, volumes: np.ndarray, tol: float, max_iter: int
) -> tuple[np.ndarray, int, int]:
    """VEI and VEV: volumes ``lambda_k`` and one diagonal unit-determinant shape ``C``.

    ``diagonals`` ``(k, d)``, ``volumes`` ``(k,)`` the start (overwritten).
    Returns the ``(k, d)`` diagonals of ``lambda_k C``, a status and a component.
    """
    return guarded_common_shape_diagonal(nk, diagonals, volumes, tol, max_iter, 0.0)


@numba.njit(cache=True)
def guarded_common_shape_diagonal(
    nk: np.ndarray,
    diagonals: np.ndarray,
    volumes: np.ndarray,
    tol: float,
    max_iter: int,
    guard: float,
) -> tuple[np.ndarray, int, int]:
    """:func:`common_shape_diagonal`; with ``guard > 0`` UNDECIDED near a decision.

    The volume floor is then raised by the factor ``1 + guard`` (a volume
    that close to it gives ZERO_VOLUME) and the stopping rule is :func:`_stop`.
    """
    k, d = diagonals.shape
    floor = _volume_floor(volumes) * (1.0 + guard)
    pooled = np.empty(d)
    shape = np.empty(d)
    sigma = np.zeros((k, d))
    sigma_old = np.zeros((k, d))
    for it in range(max_iter):
        bad = _first_at_or_below(volumes, floor)
        if bad >= 0:
            return sigma, ZERO_VOLUME, bad
        pooled[:] = 0.0
        for j in range(k):
            inv = 1.0 / volumes[j]
            for i in range(d):
                pooled[i] += inv * diagonals[j, i]
        log_sum = 0.0
        for i in range(d):
            log_sum += np.log(pooled[i])
        scale = np.exp(log_sum / d)
        if not (scale > 0.0 and np.isfinite(scale)):
            return sigma, SINGULAR_POOLED, -1
        for i in range(d):
            shape[i] = pooled[i] / scale
        for j in range(k):
            trace = 0.0
            for i in range(d):
                trace += diagonals[j, i] / shape[i]
            volumes[j] = trace / (d * nk[j])
            for i in range(d):
                sigma[j, i] = volumes[j] * shape[i]
        if it > 0:
            status = _stop(_relative_change(sigma, sigma_old), tol, guard)
            if status >= 0:
                return sigma, status, -1
        sigma_old[:, :] = sigma
    return sigma, CAPPED, -1


@numba.njit(cache=True)
def _common_shape_cycle(
    nk: np.ndarray, scatter: np.ndarray, volumes: np.ndarray
) -> tuple[np.ndarray, bool]:
    """One VEE cycle: ``C`` from ``sum_k W_k / lambda_k`` scaled to unit determinant,
    then ``lambda_k = tr(W_k C^-1) / (d n_k)`` (``volumes`` updated in place).

    Returns ``C`` and False when the pooled matrix is not positive definite.
    """
    k, d, _ = scatter.shape
    common = np.zeros((d, d))
    for j in range(k):
        common += scatter[j] / volumes[j]
    values = np.linalg.eigvalsh(common)
    if not (values[0] > 0.0 and np.isfinite(values[d - 1])):
        return common, False
    common /= _geometric_mean(values)  # |C|^(1/d) from the eigenvalues, as mclust
    inverse = np.linalg.inv(common)
    for j in range(k):
        trace = 0.0
        for a in range(d):
            for b in range(d):
                trace += scatter[j, a, b] * inverse[b, a]
        volumes[j] = trace / (d * nk[j])
    return common, True


@numba.njit(cache=True)
def common_shape_full(
    nk: np.ndarray, scatter: np.ndarray, volumes: np.ndarray, tol: float, max_iter: int
) -> tuple[np.ndarray, int, int]:
    """VEE: volumes ``lambda_k`` and one full unit-determinant shape-and-orientation ``C``.

    ``scatter`` ``(k, d, d)``, ``volumes`` ``(k,)`` the start (overwritten).
    Returns the ``(k, d, d)`` matrices ``lambda_k C``, a status and a component.
    """
    return guarded_common_shape_full(nk, scatter, volumes, tol, max_iter, 0.0)


@numba.njit(cache=True)
def guarded_common_shape_full(
    nk: np.ndarray,
    scatter: np.ndarray,
    volumes: np.ndarray,
    tol: float,
    max_iter: int,
    guard: float,
) -> tuple[np.ndarray, int, int]:
    """:func:`common_shape_full`, guarded as :func:`guarded_common_shape_diagonal`."""
    k, d, _ = scatter.shape
    floor = _volume_floor(volumes) * (1.0 + guard)
    sigma = np.zeros((k, d, d))
    sigma_old = np.zeros((k, d, d))
    for it in range(max_iter):
        bad = _first_at_or_below(volumes, floor)
        if bad >= 0:
            return sigma, ZERO_VOLUME, bad
        shape, positive = _common_shape_cycle(nk, scatter, volumes)
        if not positive:
            return sigma, SINGULAR_POOLED, -1
        for j in range(k):
            for a in range(d):
                for b in range(d):
                    sigma[j, a, b] = volumes[j] * shape[a, b]
        if it > 0:
            status = _stop(_relative_change(sigma, sigma_old), tol, guard)
            if status >= 0:
                return sigma, status, -1
        sigma_old[:, :, :] = sigma
    return sigma, CAPPED, -1


@numba.njit(cache=True)
def _polar(matrix: np.ndarray) -> np.ndarray:
    """The orthogonal factor ``U V^T`` of ``matrix = U S V^T``."""
    u, _, vt = np.linalg.svd(matrix)
    return u @ vt


@numba.njit(cache=True)
def _times_scatters(scatter: np.ndarray, orientation: np.ndarray) -> np.ndarray:
    """``W_k D`` for every component."""
    k, d, _ = scatter.shape
    out = np.empty((k, d, d))
    for j in range(k):
        out[j] = scatter[j] @ orientation
    return out


@numba.njit(cache=True)
def _mm_orientation(
    orientation: np.ndarray, scatter: np.ndarray, precisions: np.ndarray, alphas: np.ndarray
) -> np.ndarray:
    """One MM cycle of Browne & McNicholas (2014), as mclust takes it (``mclust_compatible``).

    ``alphas`` are the largest eigenvalues of the ``W_k``:
    ``D <- polar(sum_k (alpha_k I - W_k) D B_k)``, then with ``beta_k`` the
    largest precision, ``D <- polar(sum_k W_k D (beta_k I - B_k))``.
    """
    k, d, _ = scatter.shape
    wd = _times_scatters(scatter, orientation)
    lead = np.zeros((d, d))
    rest = np.zeros((d, d))
    for j in range(k):
        for a in range(d):
            for b in range(d):
                lead[a, b] += alphas[j] * orientation[a, b] * precisions[j, b]
                rest[a, b] += wd[j, a, b] * precisions[j, b]
    orientation = _polar(lead - rest)
    wd = _times_scatters(scatter, orientation)
    lead[:, :] = 0.0
    rest[:, :] = 0.0
    for j in range(k):
        beta = precisions[j, 0]
        for b in range(1, d):
            beta = max(beta, precisions[j, b])
        for a in range(d):
            for b in range(d):
                lead[a, b] += wd[j, a, b] * beta
                rest[a, b] += wd[j, a, b] * precisions[j, b]
    return _polar(lead - rest)


@numba.njit(cache=True)
def _jacobi_orientation(
    orientation: np.ndarray, scatter: np.ndarray, precisions: np.ndarray
) -> np.ndarray:
    """One sweep of plane rotations of ``D``, each minimising ``sum_k tr(W_k D B_k D^T)``.

    With ``M_i = sum_k b_ki W_k`` the objective is ``sum_i d_i^T M_i d_i`` over
    the columns ``d_i`` of ``D``.  Turning columns ``p`` and ``q`` by an angle
    ``t`` changes it by ``A cos 2t + B sin 2t`` plus a constant, which the
    angle ``atan2(-B, -A) / 2`` minimises exactly (pairwise rotations, as in
    Flury and Gautschi's algorithm for common principal components).
    """
    k, d, _ = scatter.shape
    weighted = np.zeros((d, d, d))  # M_i
    for i in range(d):
        for j in range(k):
            b = precisions[j, i]
            for a in range(d):
                for c in range(d):
                    weighted[i, a, c] += b * scatter[j, a, c]
    axes = orientation.copy()
    for p in range(d - 1):
        for q in range(p + 1, d):
            # Quadratic forms of columns p, q in M_p (a_..) and in M_q (b_..).
            a_pp = a_qq = a_pq = b_pp = b_qq = b_pq = 0.0
            for a in range(d):
                pa = axes[a, p]
                qa = axes[a, q]
                for c in range(d):
                    mp = weighted[p, a, c]
                    mq = weighted[q, a, c]
                    pc = axes[c, p]
                    qc = axes[c, q]
                    a_pp += pa * mp * pc
                    a_qq += qa * mp * qc
                    a_pq += pa * mp * qc
                    b_pp += pa * mq * pc
                    b_qq += qa * mq * qc
                    b_pq += pa * mq * qc
            cos_term = 0.5 * ((a_pp - a_qq) - (b_pp - b_qq))
            sin_term = a_pq - b_pq
            if cos_term == 0.0 and sin_term == 0.0:
                continue
            angle = 0.5 * np.arctan2(-sin_term, -cos_term)
            c_t = np.cos(angle)
            s_t = np.sin(angle)
            for a in range(d):
                pa = axes[a, p]
                qa = axes[a, q]
                axes[a, p] = c_t * pa + s_t * qa
                axes[a, q] = c_t * qa - s_t * pa
    return axes


@numba.njit(cache=True)
def _geometric_mean(values: np.ndarray) -> float:
    total = 0.0
    for i in range(values.size):
        total += np.log(values[i])
    return np.exp(total / values.size)


@numba.njit(cache=True)
def _start_orientation(scatter: np.ndarray, previous: np.ndarray, has_previous: bool) -> np.ndarray:
    """Starting common orientation: from the previous covariances, else the pooled scatter.

    A generic weighted sum of the previous covariances (which share their
    eigenvectors) has those eigenvectors with, almost surely, distinct
    eigenvalues.
    """
    k, d, _ = scatter.shape
    pooled = np.zeros((d, d))
    usable = has_previous
    if usable:
        flat = previous.ravel()
        for i in range(flat.size):
            if not np.isfinite(flat[i]):
                usable = False
        scales = np.zeros(previous.shape[0])
        for j in range(previous.shape[0]):
            for a in range(d):
                scales[j] += previous[j, a, a]
            if not scales[j] > 0.0:
                usable = False
    if usable:
        for j in range(previous.shape[0]):
            weight = (1.0 + 0.6180339887498949 * j) / scales[j]
            for a in range(d):
                for b in range(d):
                    pooled[a, b] += weight * previous[j, a, b]
    else:
        for j in range(k):
            for a in range(d):
                for b in range(d):
                    pooled[a, b] += scatter[j, a, b]
    return np.ascontiguousarray(np.linalg.eigh(pooled)[1])


@numba.njit(cache=True)
def _largest_eigenvalues(scatter: np.ndarray) -> np.ndarray:
    """``alpha_k``, the largest eigenvalue of each ``W_k`` (the MM majorisation's bound)."""
    k, d, _ = scatter.shape
    alphas = np.empty(k)
    for j in range(k):
        alphas[j] = np.linalg.eigvalsh(np.ascontiguousarray(scatter[j]))[d - 1]
    return alphas


@numba.njit(cache=True)
def _rotated_diagonals(scatter: np.ndarray, orientation: np.ndarray) -> np.ndarray:
    """The diagonals of ``D^T W_k D``, ``(k, d)``."""
    k, d, _ = scatter.shape
    wd = _times_scatters(scatter, orientation)
    out = np.empty((k, d))
    for j in range(k):
        for i in range(d):
            total = 0.0
            for a in range(d):
                total += orientation[a, i] * wd[j, a, i]
            out[j, i] = total
    return out


@numba.njit(cache=True)
def _rotate_back(orientation: np.ndarray, diagonals: np.ndarray) -> np.ndarray:
    """``D diag(Lambda_k) D^T`` for every component, symmetrised."""
    k, d = diagonals.shape
    sigma = np.empty((k, d, d))
    for j in range(k):
        for a in range(d):
            for b in range(d):
                total = 0.0
                for i in range(d):
                    total += orientation[a, i] * diagonals[j, i] * orientation[b, i]
                sigma[j, a, b] = total
        for a in range(d):
            for b in range(a + 1, d):
                mean = 0.5 * (sigma[j, a, b] + sigma[j, b, a])
                sigma[j, a, b] = mean
                sigma[j, b, a] = mean
    return sigma


@numba.njit(cache=True)
def mclust_vee(
    nk: np.ndarray, scatter: np.ndarray, tol: float, max_iter: int
) -> tuple[np.ndarray, int, int]:
    """mclust 6.0's VEE M-step (``meVEE``), step for step.

    Volumes start at 1 in every M-step.  Each inner cycle forms the common
    matrix ``C`` from ``sum_k W_k / lambda_k`` scaled to unit determinant, then
    ``lambda_k = tr(W_k C^-1) / (d n_k)``, and stops when the target
    ``n d + d sum_k n_k log(lambda_k)`` changes by at most ``tol``
    (relative).  Returns the ``(k, d, d)`` covariances ``lambda_k C``, a
    status and a component.
    """
    return guarded_mclust_vee(nk, scatter, tol, max_iter, 0.0)


@numba.njit(cache=True)
def guarded_mclust_vee(
    nk: np.ndarray, scatter: np.ndarray, tol: float, max_iter: int, guard: float
) -> tuple[np.ndarray, int, int]:
    """:func:`mclust_vee`; with ``guard > 0`` its stopping rule is :func:`_stop`."""
    k, d, _ = scatter.shape
    n = 0.0
    for j in range(k):
        n += nk[j]
    volumes = np.ones(k)
    common = np.eye(d)
    target_old = np.inf
    status = CAPPED
    for _ in range(max_iter):
        common, positive = _common_shape_cycle(nk, scatter, volumes)
        if not positive:
            return np.zeros((k, d, d)), SINGULAR_POOLED, -1
        target = n * d
        for j in range(k):
            if not volumes[j] > 0.0:
                return np.zeros((k, d, d)), ZERO_VOLUME, j
            target += d * nk[j] * np.log(volumes[j])
        change = abs(target - target_old) / (1.0 + abs(target))
        target_old = target
        status = _stop(change, tol, guard)
        if status == UNDECIDED:
            return np.zeros((k, d, d)), UNDECIDED, -1
        if status == CONVERGED:
            break
        status = CAPPED
    sigma = np.empty((k, d, d))
    for j in range(k):
        for a in range(d):
            for b in range(d):
                sigma[j, a, b] = volumes[j] * 0.5 * (common[a, b] + common[b, a])
    return sigma, status, -1


@numba.njit(cache=True)
def mclust_common_orientation(
    nk: np.ndarray,
    scatter: np.ndarray,
    previous: np.ndarray,
    has_previous: bool,
    equal_volume: bool,
    tol: float,
    max_iter: int,
) -> tuple[np.ndarray, int, int]:
    """mclust 6.0's EVE and VVE M-steps (``meEVE``, ``meVVE``), step for step.

    Their state is the orientation ``D`` and the unit-determinant shapes
    ``A_k``, carried from the previous M-step (recovered here from the
    ``previous`` covariances; the identity and ones without them).  Each
    inner cycle takes the two MM updates of ``D`` weighted by ``A_k^-1`` with
    the shapes of the last cycle, then the shapes (and VVE's volumes) given
    ``D``, and stops when the target ``sum_k tr(D^T W_k D A_k^-1)`` changes by
    at most ``tol`` (relative), as mclust does.  EVE's common volume is then
    the target over ``n d``.  Returns the ``(k, d, d)`` covariances, a status
    and a component.
    """
    return guarded_mclust_common_orientation(
        nk, scatter, previous, has_previous, equal_volume, tol, max_iter, 0.0
    )


@numba.njit(cache=True)
def guarded_mclust_common_orientation(
    nk: np.ndarray,
    scatter: np.ndarray,
    previous: np.ndarray,
    has_previous: bool,
    equal_volume: bool,
    tol: float,
    max_iter: int,
    guard: float,
) -> tuple[np.ndarray, int, int]:
    """:func:`mclust_common_orientation`; with ``guard > 0`` its stopping rule is :func:`_stop`."""
    k, d, _ = scatter.shape
    shapes = np.ones((k, d))
    usable = has_previous
    if usable:
        for value in previous.ravel():
            if not np.isfinite(value):
                usable = False
    if usable:
        orientation = _start_orientation(scatter, previous, True)
        for j in range(k):
            rotated = orientation.T @ previous[j] @ orientation
            for i in range(d):
                shapes[j, i] = rotated[i, i]
            if not np.all(shapes[j] > 0.0):
                usable = False
    if usable:
        for j in range(k):
            shapes[j] /= _geometric_mean(shapes[j])
    else:
        orientation = np.eye(d)
        shapes[:, :] = 1.0
    n = 0.0
    for j in range(k):
        n += nk[j]
    alphas = _largest_eigenvalues(scatter)
    rotated_diag = np.empty((k, d))  # diagonals of D^T W_k D, set by every cycle
    precisions = np.empty((k, d))
    target = 0.0
    target_old = np.inf
    status = CAPPED
    for _ in range(max_iter):
        for j in range(k):
            for i in range(d):
                precisions[j, i] = 1.0 / shapes[j, i]
        orientation = _mm_orientation(orientation, scatter, precisions, alphas)
        rotated_diag = _rotated_diagonals(scatter, orientation)
        target = 0.0
        for j in range(k):
            if not np.all(rotated_diag[j] > 0.0):
                return np.zeros((k, d, d)), ZERO_AXIS_VARIANCE, j
            scale = _geometric_mean(rotated_diag[j])
            for i in range(d):
                shapes[j, i] = rotated_diag[j, i] / scale
                target += rotated_diag[j, i] / shapes[j, i]
        change = abs(target - target_old) / (1.0 + abs(target))
        target_old = target
        status = _stop(change, tol, guard)
        if status == UNDECIDED:
            return np.zeros((k, d, d)), UNDECIDED, -1
        if status == CONVERGED:
            break
        status = CAPPED
    diagonals = np.empty((k, d))
    for j in range(k):
        for i in range(d):
            # EVE: one volume, the target over n d; VVE: each component's own
            diagonals[j, i] = (
                target / (n * d) * shapes[j, i] if equal_volume else rotated_diag[j, i] / nk[j]
            )
    return _rotate_back(orientation, diagonals), status, -1


@numba.njit(cache=True)
def common_orientation(
    nk: np.ndarray,
    scatter: np.ndarray,
    previous: np.ndarray,
    has_previous: bool,
    equal_volume: bool,
    tol: float,
    max_iter: int,
) -> tuple[np.ndarray, int, int]:
    """EVE and VVE: alternate the varying-shape diagonal fit given ``D`` and a rotation sweep.

    It starts from the orientation of ``previous`` ``(k, d, d)``, the previous
    covariances, when ``has_previous`` and they are usable, else from the
    eigenvectors of ``sum_k W_k``.  ``equal_volume`` selects EVE.  Returns the
    ``(k, d, d)`` covariances, a status and a component.
    """
    return guarded_common_orientation(
        nk, scatter, previous, has_previous, equal_volume, tol, max_iter, 0.0
    )


@numba.njit(cache=True)
def guarded_common_orientation(
    nk: np.ndarray,
    scatter: np.ndarray,
    previous: np.ndarray,
    has_previous: bool,
    equal_volume: bool,
    tol: float,
    max_iter: int,
    guard: float,
) -> tuple[np.ndarray, int, int]:
    """:func:`common_orientation`; with ``guard > 0`` UNDECIDED near a decision.

    The floors of the zero-variance tests are then raised by the factor
    ``1 + guard`` and the stopping rule is :func:`_stop`.
    """
    k, d, _ = scatter.shape
    margin = 1.0 + guard
    orientation = _start_orientation(scatter, previous, has_previous)
    n = 0.0
    for j in range(k):
        n += nk[j]
    diagonals = np.empty((k, d))
    precisions = np.empty((k, d))
    scales = np.empty(k)
    sigma = np.zeros((k, d, d))
    sigma_old = np.zeros((k, d, d))
    for it in range(max_iter):
        rotated = np.maximum(_rotated_diagonals(scatter, orientation), 0.0)
        if equal_volume:
            top = 0.0
            for j in range(k):
                for i in range(d):
                    top = max(top, rotated[j, i])
            bad = _first_at_or_below(rotated, margin * _EPS * top)
            if bad >= 0:
                return sigma, ZERO_SHAPE_VARIANCE, bad
            total = 0.0
            for j in range(k):
                scales[j] = _geometric_mean(rotated[j])
                total += scales[j]
            common = total / n
            for j in range(k):
                for i in range(d):
                    diagonals[j, i] = common * rotated[j, i] / scales[j]
        else:
            for j in range(k):
                for i in range(d):
                    diagonals[j, i] = rotated[j, i] / nk[j]
        top = diagonals[0, 0]
        for j in range(k):
            for i in range(d):
                top = max(top, diagonals[j, i])
        bad = _first_at_or_below(diagonals, margin * _EPS * top)
        if bad >= 0:
            return sigma, ZERO_AXIS_VARIANCE, bad
        sigma = _rotate_back(orientation, diagonals)
        if it > 0:
            status = _stop(_relative_change(sigma, sigma_old), tol, guard)
            if status >= 0:
                return sigma, status, -1
        sigma_old[:, :, :] = sigma
        for j in range(k):
            for i in range(d):
                precisions[j, i] = 1.0 / diagonals[j, i]
        orientation = _jacobi_orientation(orientation, scatter, precisions)
    return sigma, CAPPED, -1
