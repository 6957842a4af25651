"""mclust's default starting partitions: model-based hierarchical clustering.

mclust starts EM from a hard partition. For d > 1 it is the partition into G
groups of a model-based hierarchical agglomeration (Banfield & Raftery 1993;
Fraley 1998) of the SVD-transformed data, run on at most 2000 rows; for
d == 1 it is a split at sample quantiles. This module reproduces both:

- :func:`svd_transform` -- ``hc(..., use = "SVD")``'s data transform;
- :func:`hc_merges` -- the merge sequence of ``hcVVV`` / ``hcEII``;
- :func:`hclass` -- the partition into k groups read off a merge sequence;
- :func:`qclass` -- the 1-D quantile start;
- :func:`hc_partitions` / :func:`quantile_partitions` -- mclust's default
  starts for a list of group counts.

Conventions
-----------
Everything is 0-based. A merge sequence is an ``(n - 1, 2)`` integer array;
row ``l`` holds the pair ``(i, j)``, ``i < j``, merged at stage ``l``, where a
group is named by its smallest row index (mclust's convention, minus one).
Applying pair ``(i, j)`` relabels group ``j`` as ``i``.

The agglomeration criterion
---------------------------
A group g of ``n_g`` rows with scatter matrix ``W_g`` (sum of outer products
about its mean) and trace ``t_g`` has the cost term

- ``"VVV"`` (Fraley 1998, with mclust's regularisation): with ``c_g = beta *
  (t_g + alpha) / n_g``, the term is ``n_g * log(c_g)`` when ``n_g <= d``,
  and ``n_g * log(det(W_g / n_g) + c_g)`` otherwise (``alpha * beta`` in place
  of ``c_g * n_g`` when ``t_g == 0``; ``log(c_g)`` when ``W_g`` is singular).
  A singleton costs ``log(alpha * beta)``; ``alpha = traceW(Z / sqrt(n d))``
  floored at machine epsilon, ``beta = 1``.
- ``"EII"``: Ward's sum of squares; merging g and h costs
  ``n_g n_h / (n_g + n_h) * |mean_g - mean_h|^2``, updated by the
  Lance-Williams formula after each merge.

Each stage merges the pair whose merge changes the criterion least. The pairs
are kept in mclust's order -- groups occupy positions ``0..m-1``; merging
positions ``a < b`` leaves the new group at ``a`` and moves the last group to
``b`` -- and on exact ties the pair latest in column-major order of the upper
triangle (largest ``b``, then largest ``a``) wins, as in mclust. Every row
starts as a singleton, duplicated rows included (``hc()`` does not pass its
``dupPartition`` default on to ``hcVVV``/``hcEII``).

Exact, or as mclust computes it
-------------------------------
By default every group's scatter matrix is kept exactly, so each merge cost
is the criterion above. mclust's ``hcVVV`` (Fortran) keeps a group's scatter
as a triangular factor in spare rows of its data array and, when it saves a
merged group, copies row 1 of the factor into every saved row; a group of
three or more rows then has a wrong determinant in its later merge costs.
Most merges come out the same (every reference set of the tests agrees merge
for merge), but not all: on mclust's ``wreath`` data the exact agglomeration
first chooses differently at merge 997 of 999, which changes the G = 2 and
3 starts of ``Mclust(wreath)``. ``mclust_compatible=True`` reproduces
mclust's saved factors (:func:`_stored_scalar`), the in-memory factor of the
group merged last, and the terms mclust keeps, so that the merges equal
``mclust::hc``'s. ``"EII"`` has no such factor and is the same either way.

Each stage costs O(m) cost evaluations (the new group against all others)
plus an O(m) search over per-column minima (a column is rescanned only when
its minimum was one of the two merged groups), so the whole sequence is
about O(n^2) time and O(n^2) memory (the n x n cost matrix: 32 MB at
n = 2000). The loop is compiled by numba (a dependency of emstat): about
0.35 s for n = 2000, d = 3 on one core; a vectorised numpy version, the
tests' oracle, gives the same merges in about 2 s.

References
----------
Banfield, J. D. and Raftery, A. E. (1993). Model-based Gaussian and
non-Gaussian clustering. *Biometrics* 49, 803-821.
Fraley, C. (1998). Algorithms for model-based Gaussian hierarchical
clustering. *SIAM J. Sci. Comput.* 20, 270-281.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from emstat._validation import check_bool, count_distinct_sorted
from emstat.errors import InputError

__all__ = [
    "HcTree",
    "Partition",
    "QuantileCuts",
    "hc_merges",
    "hc_partitions",
    "hc_tree",
    "hclass",
    "qclass",
    "quantile_partitions",
    "svd_transform",
]

_EPS = float(np.finfo(float).eps)
_RTHALF = 0.7071067811865476  # sqrt(1/2), as mclust writes it

Model = Literal["VVV", "EII"]


# --------------------------------------------------------------------------
# data transform


def _as_matrix(X: np.ndarray, name: str = "X") -> np.ndarray:
    A = np.asarray(X, dtype=float)
    if A.ndim == 1:
        A = A[:, None]
    if A.ndim != 2:
        raise InputError(f"{name} must be a 2-D array of rows x variables, got {A.ndim} dims")
    if A.shape[0] < 2:
        raise InputError(f"{name} needs at least 2 rows, got {A.shape[0]}")
    if not np.all(np.isfinite(A)):
        raise InputError(f"{name} contains missing or infinite values")
    return A


def svd_transform(X: np.ndarray) -> np.ndarray:
    """mclust's ``hc(..., use = "SVD")`` data transform.

    Scale each column (centre, divide by the standard deviation with ``n - 1``),
    drop columns that are not finite after scaling (constant columns), then
    ``Z = Xs V diag(1 / sqrt(s))`` from the thin SVD ``Xs = U diag(s) V'``.
    ``Z`` has ``min(n, d)`` columns, each with sum of squares ``s_k``.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Data, finite.

    Returns
    -------
    ndarray of shape (n, min(n, d'))
        ``d'`` is the number of non-constant columns. Identical rows of ``X``
        give bit-identical rows of ``Z`` (so exact ties stay exact). Signs of
        the columns are arbitrary (as in any SVD); the agglomeration does not
        depend on them. A column with an exactly zero singular value is set
        to zero (R would produce NaN there and stop).

    Warns
    -----
    UserWarning
        When constant columns are dropped.

    Examples
    --------
    >>> X = np.array([[1.0, 2.0], [2.0, 1.0], [4.0, 5.0], [0.0, 3.0]])
    >>> Z = svd_transform(X)
    >>> np.allclose((Z**2).sum(axis=0), np.linalg.svd(
    ...     (X - X.mean(0)) / X.std(0, ddof=1), compute_uv=False))
    True
    """
    A = _as_matrix(X)
    with np.errstate(invalid="ignore", divide="ignore"):
        Xs = (A - A.mean(axis=0)) / A.std(axis=0, ddof=1)
    keep = np.all(np.isfinite(Xs), axis=0)
    if not keep.all():
        if not keep.any():
            raise InputError("X has no non-constant column to cluster on")
        warnings.warn(
            f"svd_transform dropped {int((~keep).sum())} constant column(s)",
            UserWarning,
            stacklevel=2,
        )
        Xs = Xs[:, keep]
    _, s, vt = np.linalg.svd(Xs, full_matrices=False)
    scale = np.zeros_like(s)
    pos = s > 0
    scale[pos] = 1.0 / np.sqrt(s[pos])
    Z = (Xs @ vt.T) * scale
    # identical input rows -> identical output rows, bit for bit
    _, first, inverse = np.unique(A, axis=0, return_index=True, return_inverse=True)
    return np.ascontiguousarray(Z[first[inverse.ravel()]])


# --------------------------------------------------------------------------
# cost terms


def _trace_w(Z: np.ndarray) -> float:
    """Trace of the scatter matrix of the rows of ``Z`` about their mean.

    Summed in mclust's order (running sums, column by column), so that
    ``alpha`` -- and with it near-ties between merge costs -- agree with R
    to the last bit when given the same ``Z``.
    """
    fac = 1.0 / np.sqrt(float(Z.shape[0]))
    u = np.cumsum(fac * Z, axis=0)[-1]
    ss = 0.0
    for j in range(Z.shape[1]):
        c = Z[:, j] - fac * u[j]
        ss = ss + float(np.cumsum(c * c)[-1])
    return ss


def _logdet_batch(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log-determinants of a stack of symmetric matrices by Cholesky.

    Returns ``(logdet, ok)``; ``ok`` is False where a pivot is not positive
    (the matrix is singular to working precision).
    """
    A = M.copy()
    p = A.shape[-1]
    logdet = np.zeros(A.shape[0])
    ok = np.ones(A.shape[0], dtype=bool)
    for k in range(p):
        piv = A[:, k, k]
        bad = ~(piv > 0)
        ok &= ~bad
        piv = np.where(bad, 1.0, piv)
        logdet += np.log(piv)
        if k + 1 < p:
            col = A[:, k + 1 :, k] / piv[:, None]
            A[:, k + 1 :, k + 1 :] -= col[:, :, None] * A[:, k, None, k + 1 :]
    return logdet, ok


def _vvv_terms(
    nij: np.ndarray, trace: np.ndarray, W: np.ndarray, alpha: float, beta: float
) -> np.ndarray:
    """The VVV cost term of groups of sizes ``nij``, traces and scatter matrices."""
    p = W.shape[-1]
    c = beta * (trace + alpha) / nij
    term = np.log(c)
    big = (nij > p) & (trace != 0)
    term[(nij > p) & (trace == 0)] = np.log(alpha * beta / nij[(nij > p) & (trace == 0)])
    if big.any():
        logdet, ok = _logdet_batch(W[big])
        detlog = logdet - p * np.log(nij[big])
        cb = c[big]
        with np.errstate(over="ignore"):
            small = np.log(np.exp(detlog) + cb)
            large = np.log(1.0 + np.exp(-detlog) * cb) + detlog
        t = np.where(detlog <= 0, small, large)
        term[big] = np.where(ok, t, np.log(cb))
    return nij * term


# --------------------------------------------------------------------------
# the agglomeration


@dataclass
class _State:
    """Mutable bookkeeping of one agglomeration (positions 0..m-1)."""

    D: np.ndarray  # (n, n) symmetric costs between positions
    cmin: np.ndarray  # per column j: min over i < j of D[i, j]
    carg: np.ndarray  # ... and the largest i attaining it
    label: np.ndarray  # smallest row index of the group at each position
    size: np.ndarray  # group sizes (float)


def _column_min(D: np.ndarray, j: int) -> tuple[float, int]:
    col = D[:j, j]
    m = col.min()
    return float(m), int(j - 1 - np.argmax(col[::-1] == m))


def _init_columns(D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = D.shape[0]
    U = np.where(np.triu(np.ones((n, n), dtype=bool), 1), D, np.inf)
    cmin = U.min(axis=0)
    carg = n - 1 - np.argmax((U == cmin)[::-1], axis=0)
    cmin[0], carg[0] = np.inf, -1
    return cmin, carg


def _select(st: _State, m: int) -> tuple[int, int]:
    """The pair mclust merges next among positions 0..m-1."""
    cm = st.cmin[1:m]
    best = cm.min()
    j = int(m - 1 - np.argmax(cm[::-1] == best))
    return int(st.carg[j]), j


def _set_row(st: _State, a: int, costs: np.ndarray, m: int) -> None:
    st.D[a, :m] = costs
    st.D[:m, a] = costs


def _swap(st: _State, b: int, last: int) -> None:
    """Move the group at position ``last`` to position ``b``."""
    if b == last:
        return
    idx = np.array([b, last])
    st.D[idx, :] = st.D[idx[::-1], :]
    st.D[:, idx] = st.D[:, idx[::-1]]
    st.label[b] = st.label[last]
    st.size[b] = st.size[last]


def _refresh_columns(st: _State, a: int, b: int, m: int) -> None:
    """Update per-column minima after rows/columns ``a`` and ``b`` changed."""
    D, cmin, carg = st.D, st.cmin, st.carg
    full = {c for c in (a, b) if 0 < c < m}
    js = np.arange(a + 1, m)
    js = js[js != b]
    stale = js[(carg[js] == a) | (carg[js] == b)]
    for j in stale:
        full.add(int(j))
    fresh = js[(carg[js] != a) & (carg[js] != b)]
    for r in (a, b):
        f = fresh[fresh > r]
        v = D[r, f]
        upd = (v < cmin[f]) | ((v == cmin[f]) & (r > carg[f]))
        cmin[f[upd]] = v[upd]
        carg[f[upd]] = r
    for j in full:
        cmin[j], carg[j] = _column_min(D, j)


def _agglomerate(
    D: np.ndarray,
    size: np.ndarray,
    merge_costs: Callable[[int, int, int], np.ndarray],
    on_move: Callable[[int, int], None],
) -> np.ndarray:
    """Run the agglomeration; return the 0-based merge pairs.

    ``merge_costs(a, b, m)`` merges the model statistics of positions ``a``
    and ``b`` into ``a`` and returns the costs of merging the new group with
    each position ``0..m-1`` (before the last group moves to ``b``);
    ``on_move(b, last)`` moves the statistics of position ``last`` to ``b``.
    """
    n = D.shape[0]
    cmin, carg = _init_columns(D)
    st = _State(D=D, cmin=cmin, carg=carg, label=np.arange(n), size=size)
    pairs = np.empty((n - 1, 2), dtype=np.intp)
    for stage in range(n - 1):
        m = n - stage
        a, b = _select(st, m)
        la, lb = st.label[a], st.label[b]
        pairs[stage] = (min(la, lb), max(la, lb))
        if m == 2:
            break
        costs = merge_costs(a, b, m)
        st.label[a] = min(la, lb)
        st.size[a] = st.size[a] + st.size[b]
        _set_row(st, a, costs, m)
        on_move(b, m - 1)
        _swap(st, b, m - 1)
        _refresh_columns(st, a, b, m - 1)
    return pairs


def _pairwise_sq(Z: np.ndarray, ward: bool) -> np.ndarray:
    """Half squared distances between all rows, rounded as mclust rounds them.

    ``hcVVV`` forms ``(z_i - z_j) / sqrt(2)``, ``hcEII`` forms ``z_i / sqrt(2) -
    z_j / sqrt(2)``; both sum the squares coordinate by coordinate.
    """
    n, p = Z.shape
    T = np.zeros((n, n))
    for k in range(p):
        if ward:
            s = Z[:, k] * _RTHALF
            v = s[:, None] - s[None, :]
        else:
            v = (Z[:, None, k] - Z[None, :, k]) * _RTHALF
        T = T + v * v
    return T


def _hc_eii(Z: np.ndarray) -> np.ndarray:
    n = Z.shape[0]
    D = _pairwise_sq(Z, ward=True)
    size = np.ones(n)

    def merge_costs(a: int, b: int, m: int) -> np.ndarray:
        ni, nj, dold = size[a], size[b], D[a, b]
        nk = size[:m]
        c = ((nk + ni) * D[a, :m] + (nk + nj) * D[b, :m] - nk * dold) / (nk + ni + nj)
        c[a] = c[b] = np.inf
        return c

    def on_move(b: int, last: int) -> None:
        pass

    return _agglomerate(D, size, merge_costs, on_move)


def _hc_vvv(Z: np.ndarray, alpha: float, beta: float, compatible: bool = False) -> np.ndarray:
    n, p = Z.shape
    ablog = np.log(beta * alpha)
    T = _pairwise_sq(Z, ward=False)
    D = 2.0 * np.log(beta * (T + alpha) / 2.0) - (ablog + ablog)
    size = np.ones(n)
    mean = Z.copy()
    W = np.zeros((n, p, p))  # compatible: the scatter mclust reads back (see _stored_scalar)
    trace = np.zeros(n)
    term = np.full(n, ablog)
    newest = {"position": -1, "scatter": np.zeros((p, p))}

    def merge_costs(a: int, b: int, m: int) -> np.ndarray:
        na, nb = size[a], size[b]
        nab = na + nb
        dab = mean[b] - mean[a]
        Wa, Wb = W[a], W[b]
        recomputed = compatible and newest["position"] not in (-1, a, b)
        if compatible and newest["position"] == a:
            Wa = newest["scatter"]
        if compatible and newest["position"] == b:
            Wb = newest["scatter"]
        Wab = Wa + Wb + (na * nb / nab) * np.outer(dab, dab)
        tab = trace[a] + trace[b] + (na * nb / nab) * float(dab @ dab)
        mab = mean[a] + (nb / nab) * dab
        tmab = _vvv_terms(np.array([nab]), np.array([tab]), Wab[None], alpha, beta)[0]
        if nab == 2:  # two singletons: mclust's closed form
            tmab = 2.0 * np.log(beta * (tab + alpha) / 2.0)
        if recomputed:  # mclust keeps the term its merge cost was computed with
            tmab = D[a, b] + (term[a] + term[b])
        mean[a], trace[a], term[a] = mab, tab, tmab
        W[a] = Wab
        if compatible:
            _stored_scalar(Wab, nab, W[a])
            newest["position"], newest["scatter"] = a, Wab
        nk = size[:m]
        nij = nk + nab
        dk = mean[:m] - mab
        w = nk * nab / nij
        Wk = W[:m] + Wab + w[:, None, None] * (dk[:, :, None] * dk[:, None, :])
        tk = trace[:m] + tab + w * np.einsum("ij,ij->i", dk, dk)
        c = _vvv_terms(nij, tk, Wk, alpha, beta) - (tmab + term[:m])
        c[a] = c[b] = np.inf
        return c

    def on_move(b: int, last: int) -> None:
        if b != last:
            mean[b], W[b], trace[b], term[b] = mean[last], W[last], trace[last], term[last]

    return _agglomerate(D, size, merge_costs, on_move)


# --------------------------------------------------------------------------
# the same agglomeration as scalar loops, compiled by numba


def _stored_scalar(F: np.ndarray, nij: float, S: np.ndarray) -> None:
    """The scatter matrix mclust's ``hcVVV`` reads back for a group it merged.

    ``hcVVV`` keeps a group's scatter ``F`` as the rows of an upper triangular
    factor ``R`` (``R'R = F``), saved in ``min(nij - 1, p)`` spare rows of its
    data array. When it saves a merged group it copies row 1 of ``R`` into
    each of them (``dcopy(p, r(1,1), p, x(l,1), n)`` instead of row ``k``),
    and reads row ``k`` back from column ``k`` on. So the factor it reads is
    ``U[k, k:] = R[0, k:]`` and the group's later merges see ``U'U``, written
    to ``S``; ``R[0] = F[0] / sqrt(F[0, 0])`` whatever rotations made ``R``.
    One saved row (two points) is saved right: ``S = F``. When ``F[0, 0]``
    is 0 (the group's first coordinate constant) ``S`` is 0; mclust's saved
    row then depends on its rotation order.
    """
    p = F.shape[0]
    rows = min(int(nij) - 1, p)
    if rows <= 1:
        for i in range(p):
            for j in range(p):
                S[i, j] = F[i, j]
        return
    f00 = F[0, 0]
    root = np.sqrt(f00) if f00 > 0 else 0.0
    for i in range(p):
        for j in range(p):
            if root == 0.0:
                S[i, j] = 0.0
            else:
                S[i, j] = (F[0, i] / root) * (F[0, j] / root) * (min(min(i, j), rows - 1) + 1)


def _term_scalar(
    nij: float, tr: float, A: np.ndarray, alpha: float, beta: float
) -> float:  # pragma: no cover - compiled
    """VVV cost term of one group; ``A`` (its scatter matrix) is overwritten."""
    p = A.shape[0]
    c = beta * (tr + alpha) / nij
    if nij <= p:
        return nij * np.log(c)
    if tr == 0:
        return nij * np.log(alpha * beta / nij)
    logdet = 0.0
    for k in range(p):
        piv = A[k, k]
        if not piv > 0:
            return nij * np.log(c)
        logdet += np.log(piv)
        for i in range(k + 1, p):
            f = A[i, k] / piv
            for j in range(k + 1, p):
                A[i, j] -= f * A[k, j]
    detlog = logdet - p * np.log(nij)
    if detlog <= 0:
        return nij * np.log(np.exp(detlog) + c)
    return nij * (np.log(1.0 + np.exp(-detlog) * c) + detlog)


def _kernel(
    Z: np.ndarray, ward: bool, alpha: float, beta: float, compatible: bool
) -> np.ndarray:  # pragma: no cover - compiled
    n, p = Z.shape
    inf = np.inf
    ablog = np.log(beta * alpha)
    D = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            t = 0.0
            for k in range(p):
                if ward:
                    v = Z[i, k] * _RTHALF - Z[j, k] * _RTHALF
                else:
                    v = (Z[i, k] - Z[j, k]) * _RTHALF
                t = t + v * v
            if ward:
                D[i, j] = t
            else:
                D[i, j] = 2.0 * np.log(beta * (t + alpha) / 2.0) - (ablog + ablog)
    size = np.ones(n)
    label = np.arange(n)
    mean = Z.copy()
    W = np.zeros((n, p, p))
    trace = np.zeros(n)
    term = np.full(n, ablog)
    cmin = np.full(n, inf)
    carg = np.full(n, -1)
    for j in range(1, n):
        best = inf
        for i in range(j):
            if D[j, i] <= best:  # D is symmetric; row access is contiguous
                best = D[j, i]
                carg[j] = i
        cmin[j] = best
    pairs = np.empty((n - 1, 2), dtype=np.int64)
    A = np.empty((p, p))
    Wab = np.empty((p, p))
    dab = np.empty(p)
    dk = np.empty(p)
    newest = -1  # compatible: position of the last merged group, its scatter in F
    F = np.zeros((p, p))
    for stage in range(n - 1):
        m = n - stage
        best = inf
        b = -1
        for j in range(1, m):
            if cmin[j] <= best:
                best = cmin[j]
                b = j
        a = carg[b]
        la, lb = label[a], label[b]
        pairs[stage, 0] = min(la, lb)
        pairs[stage, 1] = max(la, lb)
        if m == 2:
            break
        na, nb = size[a], size[b]
        nab = na + nb
        if ward:
            dold = D[a, b]
            for k in range(m):
                if k != a and k != b:
                    nk = size[k]
                    c = ((nk + na) * D[a, k] + (nk + nb) * D[b, k] - nk * dold) / (nk + nab)
                    D[a, k] = c
                    D[k, a] = c
        else:
            w = na * nb / nab
            tab = 0.0
            for i in range(p):
                dab[i] = mean[b, i] - mean[a, i]
                tab += dab[i] * dab[i]
            tab = trace[a] + trace[b] + w * tab
            for i in range(p):
                for j in range(p):
                    wa = F[i, j] if compatible and a == newest else W[a, i, j]
                    wb = F[i, j] if compatible and b == newest else W[b, i, j]
                    Wab[i, j] = wa + wb + w * (dab[i] * dab[j])
            for i in range(p):
                mean[a, i] = mean[a, i] + (nb / nab) * dab[i]
            if compatible and newest >= 0 and a != newest and b != newest:
                tmab = D[a, b] + (term[a] + term[b])
            elif nab == 2:
                tmab = 2.0 * np.log(beta * (tab + alpha) / 2.0)
            else:
                A[:, :] = Wab
                tmab = _term(nab, tab, A, alpha, beta)
            if compatible:
                F[:, :] = Wab
                newest = a
                _stored(Wab, nab, W[a])
            else:
                W[a] = Wab
            trace[a] = tab
            term[a] = tmab
            for k in range(m):
                if k == a or k == b:
                    continue
                nk = size[k]
                nij = nk + nab
                wk = nk * nab / nij
                tk = 0.0
                for i in range(p):
                    dk[i] = mean[k, i] - mean[a, i]
                    tk += dk[i] * dk[i]
                tk = trace[k] + tab + wk * tk
                for i in range(p):
                    for j in range(p):
                        A[i, j] = W[k, i, j] + Wab[i, j] + wk * (dk[i] * dk[j])
                c = _term(nij, tk, A, alpha, beta) - (tmab + term[k])
                D[a, k] = c
                D[k, a] = c
        D[a, a] = inf
        D[a, b] = inf
        D[b, a] = inf
        size[a] = nab
        label[a] = min(la, lb)
        last = m - 1
        if b != last:
            for k in range(m):
                t = D[b, k]
                D[b, k] = D[last, k]
                D[last, k] = t
            for k in range(m):
                t = D[k, b]
                D[k, b] = D[k, last]
                D[k, last] = t
            size[b] = size[last]
            label[b] = label[last]
            if not ward:
                mean[b] = mean[last]
                W[b] = W[last]
                trace[b] = trace[last]
                term[b] = term[last]
        m2 = m - 1
        for j in range(a, m2):
            if j == 0:
                continue
            if j == a or j == b or carg[j] == a or carg[j] == b:
                best = inf
                for i in range(j):
                    if D[j, i] <= best:
                        best = D[j, i]
                        carg[j] = i
                cmin[j] = best
                continue
            v = D[a, j]
            if v < cmin[j] or (v == cmin[j] and a > carg[j]):
                cmin[j] = v
                carg[j] = a
            if j > b:
                v = D[b, j]
                if v < cmin[j] or (v == cmin[j] and b > carg[j]):
                    cmin[j] = v
                    carg[j] = b
    return pairs


_term = _term_scalar  # replaced by its compiled version in _compile()
_stored = _stored_scalar  # likewise


def _compile() -> Callable[[np.ndarray, bool, float, float, bool], np.ndarray]:
    """Compile ``_kernel`` with numba (a dependency: numpy's loops are the tests' oracle)."""
    global _term, _stored
    import numba

    _term = numba.njit(cache=True)(_term_scalar)
    _stored = numba.njit(cache=True)(_stored_scalar)
    kernel: Callable[[np.ndarray, bool, float, float, bool], np.ndarray] = numba.njit(cache=True)(
        _kernel
    )
    return kernel


_KERNEL = _compile()


def hc_merges(
    Z: np.ndarray, model: Model = "VVV", *, mclust_compatible: bool = False
) -> np.ndarray:
    """Merge sequence of mclust's model-based hierarchical agglomeration.

    Parameters
    ----------
    Z : ndarray of shape (n, d)
        Data to agglomerate, usually ``svd_transform(X)``. Every row starts
        as its own group.
    model : {"VVV", "EII"}
        ``"VVV"`` (mclust's default, unconstrained covariances, ``alpha =
        traceW(Z / sqrt(n d))`` floored at machine epsilon, ``beta = 1``) or
        ``"EII"`` (Ward's criterion; mclust's choice when ``n <= d``).
    mclust_compatible : bool
        ``False`` (the default): the exact criterion, every group's scatter
        matrix kept exactly. ``True``: ``"VVV"`` as mclust's ``hcVVV``
        computes it, which saves a merged group's triangular factor wrongly
        (each saved row a copy of row 1), so that later merge costs of a
        group of three or more rows use a wrong determinant; the merges
        then equal ``mclust::hc`` where the exact ones part from it (on
        mclust's ``wreath`` data at merge 997 of 999). No effect on ``"EII"``.

    Returns
    -------
    ndarray of shape (n - 1, 2), integer
        0-based merge pairs ``(i, j)``, ``i < j``; a group is named by its
        smallest row index. ``mclust::hc(...)`` gives ``t(pairs) + 1``.

    Examples
    --------
    >>> Z = np.array([[0.0, 0.0], [0.0, 1.0], [5.0, 5.0], [5.0, 6.5]])
    >>> hc_merges(Z, "EII").tolist()
    [[0, 1], [2, 3], [0, 2]]
    """
    return _hc(Z, model, use_numba=True, mclust_compatible=mclust_compatible)


def _hc(
    Z: np.ndarray, model: Model, use_numba: bool, mclust_compatible: bool = False
) -> np.ndarray:
    """:func:`hc_merges` with a choice of engine: numba, or numpy (the tests' oracle)."""
    if model not in ("VVV", "EII"):
        raise InputError(f"model must be 'VVV' or 'EII', got {model!r}")
    compatible = check_bool(mclust_compatible, "mclust_compatible")
    A = _as_matrix(Z, "Z")
    n, p = A.shape
    alpha = max(_trace_w(A / np.sqrt(n * p)), _EPS) if model == "VVV" else 1.0
    if use_numba:
        merges = _KERNEL(np.ascontiguousarray(A), model == "EII", alpha, 1.0, compatible)
        return merges.astype(np.intp)
    if model == "EII":
        return _hc_eii(A)
    return _hc_vvv(A, alpha, 1.0, compatible)


# --------------------------------------------------------------------------
# partitions


def _check_k(k: int, n: int, what: str = "rows") -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise InputError(f"k must be an integer, got {k!r}")
    if k < 1 or k > n:
        raise InputError(f"k must be between 1 and the number of {what} ({n}), got {k}")
    return int(k)


def _first_appearance(labels: np.ndarray) -> np.ndarray:
    """Relabel 0..k-1 in order of first appearance (mclust's ``partconv``)."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first, kind="stable"), kind="stable")
    return order[inverse.ravel()].astype(np.intp)


def hclass(merges: np.ndarray, k: int) -> np.ndarray:
    """Partition into ``k`` groups read off a merge sequence (mclust's ``hclass``).

    Applies the first ``n - k`` merges (pair ``(i, j)`` relabels ``j`` as
    ``i``) and numbers the groups 0..k-1 in order of first appearance.

    Parameters
    ----------
    merges : ndarray of shape (n - 1, 2)
        0-based pairs as returned by :func:`hc_merges`.
    k : int
        Number of groups, ``1 <= k <= n``.

    Returns
    -------
    ndarray of shape (n,), integer labels 0..k-1

    Examples
    --------
    >>> hclass(np.array([[0, 1], [2, 3], [0, 2]]), 2).tolist()
    [0, 0, 1, 1]
    """
    M = np.asarray(merges)
    if M.ndim != 2 or M.shape[1] != 2:
        raise InputError(f"merges must have shape (n - 1, 2), got {M.shape}")
    n = M.shape[0] + 1
    k = _check_k(k, n)
    if M.size and (M.min() < 0 or M.max() >= n):
        raise InputError(f"merges must hold row indices 0..{n - 1}")
    parent = np.arange(n)
    for i, j in M[: n - k]:
        lo, hi = (i, j) if i < j else (j, i)
        parent[hi] = lo
    # parents point to smaller indices, so one ascending pass resolves roots
    for r in range(n):
        parent[r] = parent[parent[r]]
    return _first_appearance(parent)


def _quantile_points(xs: np.ndarray, m: int) -> list[float]:
    """R's type-7 quantiles of sorted ``xs`` at ``m`` equally spaced probabilities.

    ``quantile(x, seq(0, 1, length = m))`` with R's rounding, in Python floats:
    the handful of points a start needs cost less than numpy's calls on them.
    """
    span = float(max(xs.size - 1, 0))
    step = 1.0 / (m - 1)
    points = []
    for j in range(m):
        index = 1 + span * (1.0 if j == m - 1 else j * step)
        lo, hi = math.floor(index), math.ceil(index)
        q, x_hi = float(xs[lo - 1]), float(xs[hi - 1])
        if index > lo and x_hi != q:
            h = index - lo
            q = (1 - h) * q + h * x_hi
        points.append(q)
    return points


def _first_of_each(points: list[float]) -> list[float]:
    """The distinct values in order of first appearance (``-0.0`` equals ``0.0``)."""
    seen: set[float] = set()
    distinct = []
    for q in points:
        if q not in seen:
            seen.add(q)
            distinct.append(q)
    return distinct


@dataclass(frozen=True)
class QuantileCuts:
    """One column sorted once, for mclust's quantile start at every k (:func:`qclass`).

    A selection starts E and V at each k from the same column: the sort, the
    distinct count and the standard deviation are shared by every k.
    """

    values: np.ndarray  # (n,) as given
    sorted: np.ndarray  # (n,) ascending
    distinct: int
    margin: float  # sd(x) * sqrt(eps): how far the end points lie beyond the data

    @classmethod
    def of(cls, x: np.ndarray) -> QuantileCuts:
        """Validate ``x`` (finite, 1-D or one column) and sort it."""
        v = np.asarray(x, dtype=float)
        if v.ndim == 2 and v.shape[1] == 1:
            v = v[:, 0]
        if v.ndim != 1:
            raise InputError(f"x must be 1-D, got shape {v.shape}")
        if v.size == 0 or not np.all(np.isfinite(v)):
            raise InputError("x must be non-empty and finite")
        xs = np.sort(v)
        margin = _standard_deviation(xs) * math.sqrt(_EPS) if v.size > 1 else 0.0
        return cls(v, xs, count_distinct_sorted(xs), margin)

    def cuts(self, k: int) -> np.ndarray:
        """The ``k + 1`` cut points of :func:`qclass` (class i is ``q_i <= x < q_(i+1)``)."""
        k = _check_k(k, self.distinct, "distinct values")
        xs = self.sorted
        m = k
        q: list[float] = [float(xs[0])] * 2 if self.distinct == 1 else []  # k = 1 here
        while len(q) < k + 1:
            m += 1
            q = _first_of_each(_quantile_points(xs, m))
        if len(q) > k + 1:
            # drop the points starting the shortest gaps (ties: the first, as a stable sort)
            gaps = [b - a for a, b in itertools.pairwise(q)]
            drop = set(sorted(range(len(gaps)), key=gaps.__getitem__)[: len(q) - k - 1])
            q = [value for i, value in enumerate(q) if i not in drop]
        # Far from the origin sd * sqrt(eps) can be below the spacing of floats there
        # (data near 1e9 with sd 1e-5): step at least to the next float, so that
        # every x lies inside [q_0, q_k) and class i is q_i <= x < q_(i+1).
        low, high = float(xs[0]), float(xs[-1])
        q[0] = min(low - self.margin, math.nextafter(low, -math.inf))
        q[-1] = max(high + self.margin, math.nextafter(high, math.inf))
        return np.array(q)

    def classes(self, k: int) -> np.ndarray:
        """Each value's class 0..k-1 (0 = lowest values): :func:`qclass` of the column."""
        return np.searchsorted(self.cuts(k), self.values, side="right") - 1


def qclass(x: np.ndarray, k: int) -> np.ndarray:
    """mclust's 1-D quantile start: ``k`` classes cut at sample quantiles.

    Cut points are R's type-7 quantiles at ``m`` equally spaced
    probabilities, ``m = k + 1, k + 2, ...`` until there are at least
    ``k + 1`` distinct ones; if there are more, the points starting the
    shortest gaps are dropped. The end points become ``min(x) - sd(x) *
    sqrt(eps)`` and ``max(x) + sd(x) * sqrt(eps)`` (at least one float
    beyond, where that step is below the spacing of floats); class ``i`` is
    ``q_i <= x < q_{i+1}``.  :class:`QuantileCuts` sorts once for many k.

    Parameters
    ----------
    x : ndarray of shape (n,)
        Finite data.
    k : int
        Number of classes; at most the number of distinct values.

    Returns
    -------
    ndarray of shape (n,), integer labels 0..k-1 (0 = lowest values)

    Examples
    --------
    >>> qclass(np.array([5.0, 1.0, 2.0, 9.0, 8.0, 3.0]), 2).tolist()
    [1, 0, 0, 1, 1, 0]
    """
    return QuantileCuts.of(x).classes(k)


def _standard_deviation(values: np.ndarray) -> float:
    """The sample standard deviation (n - 1), without np.std's overhead on small vectors."""
    deviations = values - values.sum() / values.size
    return math.sqrt(float(deviations @ deviations) / (values.size - 1))


# --------------------------------------------------------------------------
# mclust's default starts


@dataclass(frozen=True)
class Partition:
    """A hard starting partition of (some of) the rows of a data set.

    Attributes
    ----------
    labels : ndarray of shape (m,), int
        Group of each listed row, 0..k-1 in order of first appearance.
    rows : ndarray of shape (m,), int
        Indices (into the full data, increasing) of the rows that ``labels``
        refer to: all rows, or the random subset the hierarchical clustering
        ran on. mclust takes the first M-step from these rows only, then
        E-steps all rows.
    n : int
        Number of rows in the full data set.
    """

    labels: np.ndarray
    rows: np.ndarray
    n: int

    @property
    def k(self) -> int:
        """Number of groups."""
        return int(self.labels.max()) + 1

    @property
    def is_subset(self) -> bool:
        """True when the partition covers only a subset of the rows."""
        return self.rows.size < self.n


def _check_ks(ks: Iterable[int] | int, n: int) -> list[int]:
    kl = [ks] if isinstance(ks, int | np.integer) else list(ks)
    if not kl:
        raise InputError("ks must list at least one number of groups")
    return [_check_k(k, n) for k in kl]


def hc_partitions(
    X: np.ndarray,
    ks: Iterable[int] | int,
    *,
    subset: int = 2000,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
    mclust_compatible: bool = False,
) -> dict[int, Partition]:
    """mclust's default starting partitions for d > 1.

    ``svd_transform`` then :func:`hc_merges` with model ``"VVV"`` (``"EII"``
    when ``n <= d``), cut by :func:`hclass` at each k. When ``n > subset``
    the agglomeration runs on ``subset`` rows drawn without replacement by
    ``numpy.random.Generator.choice`` (sorted), and the SVD transform is
    computed from those rows only, as in mclust. R's own draw
    (``sample(seq.int(n), 2000)``) cannot be reproduced, so with a subset
    the partitions differ from R's.

    Parameters
    ----------
    X : ndarray of shape (n, d), d > 1
        Data.
    ks : int or iterable of int
        Numbers of groups, each between 1 and the number of rows clustered.
    subset : int
        Largest number of rows to agglomerate (mclust's 2000).
    seed : int, optional
        Seed for ``numpy.random.default_rng`` when a subset is drawn.
    rng : numpy.random.Generator, optional
        Generator to draw the subset with (overrides ``seed``).
    mclust_compatible : bool
        Agglomerate as mclust's ``hcVVV`` computes it rather than exactly
        (see :func:`hc_merges`).

    Returns
    -------
    dict mapping k to :class:`Partition`
        All share the same ``rows``.

    Examples
    --------
    >>> X = np.array([[0, 0], [0, 1], [1, 0], [9, 9], [9, 8], [8, 9.5]])
    >>> hc_partitions(X, [2])[2].labels.tolist()
    [0, 0, 0, 1, 1, 1]
    """
    tree = hc_tree(X, subset=subset, seed=seed, rng=rng, mclust_compatible=mclust_compatible)
    kl = _check_ks(ks, tree.rows.size)
    return {k: Partition(labels=hclass(tree.merges, k), rows=tree.rows, n=tree.n) for k in kl}


@dataclass(frozen=True)
class HcTree:
    """A merge sequence over the rows ``rows`` of a data set of ``n`` rows."""

    merges: np.ndarray
    rows: np.ndarray
    n: int

    def partition(self, k: int) -> Partition:
        """The partition into ``k`` groups (:func:`hclass`)."""
        return Partition(labels=hclass(self.merges, k), rows=self.rows, n=self.n)


def hc_tree(
    X: np.ndarray,
    *,
    subset: int = 2000,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
    mclust_compatible: bool = False,
) -> HcTree:
    """mclust's agglomeration for d > 1, computed once and cut at any k.

    The same as :func:`hc_partitions` without the cutting; see there for the
    subset rule and ``mclust_compatible``.
    """
    A = _as_matrix(X)
    n, d = A.shape
    if d < 2:
        raise InputError("hc needs d > 1 columns; use quantile_partitions for 1-D data")
    if isinstance(subset, bool) or not isinstance(subset, int | np.integer) or subset < 2:
        raise InputError(f"subset must be an integer >= 2, got {subset!r}")
    if n > subset:
        gen = rng if rng is not None else np.random.default_rng(seed)
        rows = np.sort(gen.choice(n, size=int(subset), replace=False))
    else:
        rows = np.arange(n)
    sub = A[rows]
    model: Model = "VVV" if sub.shape[0] > d else "EII"
    merges = hc_merges(svd_transform(sub), model, mclust_compatible=mclust_compatible)
    return HcTree(merges=merges, rows=rows, n=n)


def quantile_partitions(x: np.ndarray, ks: Iterable[int] | int) -> dict[int, Partition]:
    """mclust's default starting partitions for d == 1: :func:`qclass` at each k.

    Parameters
    ----------
    x : ndarray of shape (n,) or (n, 1)
        Data.
    ks : int or iterable of int
        Numbers of groups.

    Returns
    -------
    dict mapping k to :class:`Partition` over all rows

    Examples
    --------
    >>> quantile_partitions(np.array([1.0, 7.0, 2.0, 8.0]), 2)[2].labels.tolist()
    [0, 1, 0, 1]
    """
    v = np.asarray(x, dtype=float)
    if v.ndim == 2 and v.shape[1] == 1:
        v = v[:, 0]
    if v.ndim != 1:
        raise InputError(f"x must be 1-D, got shape {v.shape}")
    rows = np.arange(v.size)
    kl = _check_ks(ks, v.size)
    cuts = QuantileCuts.of(v)
    return {k: Partition(labels=cuts.classes(k), rows=rows, n=v.size) for k in kl}
