"""mclust's first M-step of EEV, VEV and VEE from a hard partition (``mclust_compatible``).

EEV and VEV give every component its own orientation ``D_k`` (the
eigenvectors of its scatter ``W_k``) and one shape ``A`` shared by all. A
hard starting partition can hold a group of ``n_k <= d`` rows, whose scatter
has rank ``n_k - 1 < d``: its null space has no preferred axes, but the M-step
pairs them with different shape values, so the covariance, and every later
iteration, depends on the axes chosen. The M-step's objective is the same
for all of them (tests/test_mclust_parity.py checks it): the maximum is not
unique.

mclust's ``meeev`` / ``mevev`` take the axes from a singular value
decomposition of the group's centred rows, triangularised by Givens
rotations: the mean summed in row order and scaled by ``1 / n_k``, the
rotations in the reference BLAS's arithmetic (``drotg``, ``drot``), then
LAPACK's ``dgesvd``. The rounding of the mean leaves the factor one tiny
row, which picks the null space's axes. :func:`mclust_eigen` repeats that
arithmetic, so that with ``mclust_compatible=True`` such a start gives
mclust's fit (on mclust's banknote data, EEV at G = 9 agreed to 1.2e-6
instead of 1e-12 before). Groups with more rows than dimensions keep the
scatter's own eigendecomposition (the two agree to rounding there).

VEE has the same kind of choice: mclust's ``mevee`` refuses a fit (NA) when
LAPACK's Cholesky factorisation of a group's scatter fails, and on a group
of ``d - 1`` or ``d`` rows (a singular scatter) whether it fails depends on
rounding (in random trials it failed 79% and 53% of the time). For such
groups :func:`mclust_vee_cholesky_fails` repeats mclust's arithmetic: the
mean summed in row order and divided by ``n_k``, the scatter by rank-one
updates (``dger``), the factorisation by LAPACK 3.11's recursive
``dpotrf2`` with the reference ``dtrsm`` and ``dsyrk``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from emstat.mixture import gaussian
from emstat.mixture.covariance import _degenerate, _sorted_eigh

__all__ = [
    "MODELS",
    "MclustHardStart",
    "mclust_eigen",
    "mclust_hard_start",
    "mclust_vee_cholesky_fails",
]

#: The models whose first M-step depends on the axes of a singular scatter.
ORIENTED = ("EEV", "VEV")
#: ... and those mclust's first M-step treats in its own way on a singular group.
MODELS = (*ORIENTED, "VEE")

_SAFMIN = 2.0**-1022  # the reference drotg's safe minimum (radix 2)
_SAFMAX = 1.0 / _SAFMIN


def _drotg(a: float, b: float) -> tuple[float, float, float]:
    """The reference BLAS ``drotg`` (LAPACK 3.10 and later): ``(r, c, s)``."""
    anorm, bnorm = abs(a), abs(b)
    if bnorm == 0.0:
        return a, 1.0, 0.0
    if anorm == 0.0:
        return b, 0.0, 1.0
    scale = min(_SAFMAX, max(_SAFMIN, anorm, bnorm))
    sigma = math.copysign(1.0, a if anorm > bnorm else b)
    sa, sb = a / scale, b / scale
    r = sigma * (scale * math.sqrt(sa * sa + sb * sb))
    return r, a / r, b / r


def _givens_factor(rows: np.ndarray) -> np.ndarray:
    """The triangular factor ``meeev`` builds from a group's rows (one weight each).

    Plain Python floats: each operation is rounded once, as the Fortran's
    (no fused multiply-add).
    """
    n, p = rows.shape
    data = rows.tolist()
    mean = [0.0] * p
    for row in data:
        for j in range(p):
            mean[j] = mean[j] + row[j]
    inverse = 1.0 / float(n)
    mean = [m * inverse for m in mean]
    factor = [[0.0] * p for _ in range(p)]
    for row in data:
        w = [row[j] + (-1.0) * mean[j] for j in range(p)]
        for j in range(p):
            r, c, s = _drotg(factor[j][j], w[j])
            factor[j][j] = r
            for jj in range(j + 1, p):
                x, y = factor[j][jj], w[jj]
                factor[j][jj] = c * x + s * y
                w[jj] = c * y - s * x
    return np.array(factor)


def mclust_eigen(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A group's scatter eigendecomposition as mclust's EEV and VEV M-steps compute it.

    Parameters
    ----------
    rows : ndarray of shape (m, d)
        The group's rows, raw (as mclust sees the data), each of weight 1.

    Returns
    -------
    values : ndarray of shape (d,)
        Eigenvalues of the scatter (squared singular values), decreasing.
    vectors : ndarray of shape (d, d)
        The matching eigenvectors as columns (LAPACK ``dgesvd``'s right
        singular vectors of the triangular factor).

    Examples
    --------
    >>> rows = np.array([[0.0, 0.0, 1.0], [2.0, 1.0, 0.0], [1.0, 3.0, 1.0]])
    >>> values, vectors = mclust_eigen(rows)
    >>> centred = rows - rows.mean(axis=0)
    >>> bool(np.allclose(vectors @ np.diag(values) @ vectors.T, centred.T @ centred))
    True
    """
    factor = _givens_factor(np.asarray(rows, dtype=float))
    import scipy.linalg  # import when needed: it takes 0.04 s to import

    _, singular, vt = scipy.linalg.svd(factor, lapack_driver="gesvd")
    return singular**2, np.ascontiguousarray(vt.T)


def _mevee_scatter(rows: np.ndarray) -> list[list[float]]:
    """The scatter ``mevee`` forms for a group of rows of weight 1 (upper triangle used)."""
    n, p = rows.shape
    data = rows.tolist()
    mean = [0.0] * p
    for j in range(p):
        total = 0.0
        for row in data:
            total = total + row[j] * 1.0
        mean[j] = total / float(n)
    scatter = [[0.0] * p for _ in range(p)]
    for row in data:
        t = [(row[j] - mean[j]) * 1.0 for j in range(p)]
        for j in range(p):  # dger: column by column, skipping zero entries
            if t[j] != 0.0:
                temp = 1.0 * t[j]
                for i in range(p):
                    scatter[i][j] = scatter[i][j] + t[i] * temp
    return scatter


def _dpotrf2_upper(a: list[list[float]], lo: int, n: int) -> int:
    """LAPACK 3.11's recursive Cholesky (upper) of ``a[lo:lo+n, lo:lo+n]``; its ``info``."""
    if n == 1:
        pivot = a[lo][lo]
        if not pivot > 0.0:  # also NaN
            return 1
        a[lo][lo] = math.sqrt(pivot)
        return 0
    n1 = n // 2
    n2 = n - n1
    info = _dpotrf2_upper(a, lo, n1)
    if info:
        return info
    mid = lo + n1
    # dtrsm('L', 'U', 'T', 'N'): A12 := inv(A11') A12
    for j in range(mid, lo + n):
        for i in range(lo, mid):
            temp = 1.0 * a[i][j]
            for k in range(lo, i):
                temp = temp - a[k][i] * a[k][j]
            a[i][j] = temp / a[i][i]
    # dsyrk('U', 'T', alpha = -1, beta = 1): A22 := A22 - A12' A12
    for j in range(mid, lo + n):
        for i in range(mid, j + 1):
            temp = 0.0
            for k in range(lo, mid):
                temp = temp + a[k][i] * a[k][j]
            a[i][j] = -1.0 * temp + 1.0 * a[i][j]
    info = _dpotrf2_upper(a, mid, n2)
    return info + n1 if info else 0


def mclust_vee_cholesky_fails(rows: np.ndarray) -> bool:
    """Whether ``mevee``'s Cholesky test of a group's scatter fails (mclust's NA).

    Parameters
    ----------
    rows : ndarray of shape (m, d)
        The group's raw rows, each of weight 1.

    Examples
    --------
    >>> mclust_vee_cholesky_fails(np.array([[0.0, 1.0], [1.0, 0.0], [3.0, 3.0]]))
    False
    >>> mclust_vee_cholesky_fails(np.array([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]]))
    True
    """
    scatter = _mevee_scatter(np.asarray(rows, dtype=float))
    return _dpotrf2_upper(scatter, 0, len(scatter)) != 0


@dataclass
class MclustHardStart:
    """A Gaussian mixture model whose first M-step is mclust's (EEV, VEV).

    Wraps a :class:`emstat.mixture.model.GaussianMixtureModel`: everything
    is the wrapped model's, except that the first M-step without previous
    parameters, from the hard partition ``labels`` of ``rows``, takes the
    axes of each group of at most ``d`` rows from :func:`mclust_eigen`
    (EEV, VEV), or refuses the fit where :func:`mclust_vee_cholesky_fails`
    (VEE). Later M-steps (and a second model's fit) are the wrapped model's.
    """

    base: Any
    rows: np.ndarray  # raw rows of the partition
    labels: np.ndarray  # their groups, 0..k-1
    _used: bool = field(default=False, repr=False)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.base, name)

    def m_step(self, stats: Any, previous: Any) -> Any:
        if previous is not None or self._used:
            return self.base.m_step(stats, previous)
        self._used = True
        name = self.base.covariance.name
        d = self.rows.shape[1]
        small = np.flatnonzero(np.bincount(self.labels, minlength=self.base.k) <= d)
        if name == "VEE":
            for g in small:
                if mclust_vee_cholesky_fails(self.rows[self.labels == g]):
                    raise _degenerate(
                        name, int(g), "the scatter matrix is not positive definite (mclust's test)"
                    )
        theta = self.base.m_step(stats, previous)
        if name not in ORIENTED or small.size == 0:
            return theta
        values, vectors = _sorted_eigh(stats.scatter())
        for g in small:
            values[g], vectors[g] = mclust_eigen(self.rows[self.labels == g])
        covariances = self.base.covariance.m_step_from_eigen(stats.nk, values, vectors)
        refit = gaussian.gaussian_params(theta.weights, theta.means, covariances)
        return replace(
            theta,
            covariances=refit.covariances,
            prec_chol=refit.prec_chol,
            half_log_det_prec=refit.half_log_det_prec,
        )


def _hard_labels(resp: np.ndarray) -> np.ndarray | None:
    """The groups of a 0/1 responsibility matrix with one 1 per row, else None."""
    r = np.asarray(resp)
    if r.ndim != 2 or not np.all((r == 0) | (r == 1)) or not np.all(r.sum(axis=1) == 1):
        return None
    return np.argmax(r, axis=1).astype(np.intp)


def mclust_hard_start(model: Any, rows: np.ndarray, resp: np.ndarray) -> Any:
    """``model``, wrapped in :class:`MclustHardStart` where mclust's first M-step differs.

    That is: an EEV, VEV or VEE model without a ridge, started from a hard
    partition (``resp`` 0/1) of the raw, complete ``rows`` with a group of at
    most ``d`` rows. Otherwise ``model`` itself.
    """
    if model.covariance.name not in MODELS or getattr(model, "reg_covar", 0.0) != 0.0:
        return model
    if not np.all(np.isfinite(rows)):  # mclust has no missing values to follow
        return model
    labels = _hard_labels(resp)
    if labels is None or rows.shape[0] != labels.size:
        return model
    if np.bincount(labels, minlength=model.k).min() > rows.shape[1]:
        return model
    return MclustHardStart(model, np.asarray(rows, dtype=float), labels)
