"""numba kernels of hidden Markov chains: scaled forward-backward and Viterbi.

The data of a fit are one or more sequences laid end to end; ``offsets``
(length ``n_seq + 1``) marks where each begins.  The emission layer gives
the ``(T, k)`` log densities ``log b_t(j)`` (0 for a row with nothing
observed: a step of the chain without emission), or, for diagonal Gaussian
emissions, the kernels compute the densities themselves.

Forward-backward runs in the scaled form of Rabiner (1989): each row's
densities are divided by their largest value before the exponential (a
parallel pass over blocks of rows), and each forward vector is normalised
to sum to 1, so nothing underflows however long the sequence; the
log-likelihood is the sum of the logarithms of the scales and of the row
maxima.  Within a sequence the backward vector is formed on the way back and
combined at once with the stored forward vectors into the posterior state
probabilities ``gamma`` and the expected transition counts ``xi``; for
diagonal Gaussian emissions the kernels compute the densities themselves and
the backward pass sums the moments Σγ, Σγx, Σγx² instead of storing ``gamma``
(work that overlaps the recursion's latency).  The recursions are compiled
once for each number of states up to ``_SPECIALISED_MAX_K`` from the same
code, k a constant there, so that their loops over states unroll.  A step whose
scale is 0 (no state can emit the row, or none can be reached) has zero
likelihood: the kernels return its row and the caller raises.

Parallel work: sequences are grouped into chunks that depend on the data
only, one chunk per task; chunk totals are summed in chunk order, so a
result does not depend on the number of threads.  Within one long sequence
the recursions are serial; the passes over the densities and the moments
run in parallel blocks of rows.  (Running the forward and the backward
recursion on two threads at once cost more than it saved on this
two-core machine, whose cores are shared.)

The numpy versions in ``tests/test_hmm_kernels.py`` are these kernels' oracle.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numba
import numpy as np

from emstat.mixture._fused_kernels import _FAST, exp_neg

__all__ = [
    "chunk_bounds",
    "forward_backward",
    "forward_loglik",
    "gaussian_diagonal_e_step",
    "viterbi",
]

# Below this many rows in all, one thread does the work: starting threads costs more.
PARALLEL_MIN_ROWS = 50_000
# At most this many chunks of sequences (tasks of the parallel loop).
_MAX_CHUNKS = 64
# Rows per task of the parallel pass over the emission densities.
_BLOCK_ROWS = 2048


def chunk_bounds(offsets: np.ndarray) -> np.ndarray:
    """Sequence indices that split the sequences into chunks of about equal rows.

    Returns ``bounds`` with chunk ``c`` holding sequences ``bounds[c]:bounds[c+1]``;
    the split depends on the sequence lengths only.
    """
    n_seq = offsets.shape[0] - 1
    total = int(offsets[-1])
    if n_seq <= 1 or total < PARALLEL_MIN_ROWS:
        return np.array([0, n_seq], dtype=np.int64)
    n_chunks = min(_MAX_CHUNKS, n_seq)
    targets = np.linspace(0, total, n_chunks + 1)[1:-1]
    cuts = np.searchsorted(offsets, targets, side="left")
    return np.unique(np.concatenate([[0], cuts, [n_seq]])).astype(np.int64)


@numba.njit(fastmath=_FAST, cache=True)
def _scale_rows(log_b: np.ndarray, dens: np.ndarray, top: np.ndarray, lo: int, hi: int) -> None:
    """``dens = exp(log_b - top)`` with ``top`` each row's largest log density
    (0 and 0 for a row no state can emit: the forward pass then flags it)."""
    k = log_b.shape[1]
    for t in range(lo, hi):
        m = log_b[t, 0]
        for j in range(1, k):
            m = max(m, log_b[t, j])
        if not m > -math.inf:
            top[t] = 0.0
            for j in range(k):
                dens[t, j] = 0.0
            continue
        top[t] = m
        for j in range(k):
            dens[t, j] = exp_neg(log_b[t, j] - m)


@numba.njit(fastmath=_FAST, cache=True)
def _gaussian_rows(
    x: np.ndarray,
    means: np.ndarray,
    precision: np.ndarray,
    log_norm: np.ndarray,
    dens: np.ndarray,
    top: np.ndarray,
    lo: int,
    hi: int,
) -> None:
    """The scaled densities of diagonal Gaussian emissions, missing coordinates marginalised.

    State by state over the block's rows, so that the loops over rows vectorise.
    """
    k, d = means.shape
    m = hi - lo
    logs = np.zeros((k, m))
    for j in range(k):
        row = logs[j]
        for c in range(d):
            mu = means[j, c]
            p = precision[j, c]
            constant = log_norm[j, c]
            for i in range(m):
                v = x[lo + i, c]
                z = (v - mu) * p
                term = constant - 0.5 * z * z
                row[i] += term if v == v else 0.0  # NaN: the coordinate is marginalised
    best = np.empty(m)
    for i in range(m):
        best[i] = logs[0, i]
    for j in range(1, k):
        for i in range(m):
            best[i] = max(best[i], logs[j, i])
    for i in range(m):
        top[lo + i] = best[i]
    for j in range(k):
        row = logs[j]
        for i in range(m):
            row[i] = exp_neg(row[i] - best[i])
    for i in range(m):
        for j in range(k):
            dens[lo + i, j] = logs[j, i]


@numba.njit(cache=True)
def _scale_blocks(log_b: np.ndarray, dens: np.ndarray, top: np.ndarray) -> None:
    n = log_b.shape[0]
    for b in numba.prange((n + _BLOCK_ROWS - 1) // _BLOCK_ROWS):
        _scale_rows(log_b, dens, top, b * _BLOCK_ROWS, min(n, (b + 1) * _BLOCK_ROWS))


@numba.njit(cache=True)
def _gaussian_blocks(
    x: np.ndarray,
    means: np.ndarray,
    precision: np.ndarray,
    log_norm: np.ndarray,
    dens: np.ndarray,
    top: np.ndarray,
) -> None:
    n = x.shape[0]
    for b in numba.prange((n + _BLOCK_ROWS - 1) // _BLOCK_ROWS):
        lo, hi = b * _BLOCK_ROWS, min(n, (b + 1) * _BLOCK_ROWS)
        _gaussian_rows(x, means, precision, log_norm, dens, top, lo, hi)


_scale_parallel = numba.njit(parallel=True, cache=True)(_scale_blocks.py_func)
_gaussian_parallel = numba.njit(parallel=True, cache=True)(_gaussian_blocks.py_func)


# Numbers of states with a kernel of their own (compiled on first use, then cached on
# disk): with k a compile-time constant the loops over states unroll.
_SPECIALISED_MAX_K = 8


@functools.cache
def _make_forward_backward(n_states: int, moments: bool) -> tuple[Any, Any]:
    """The serial and the parallel forward-backward over chunks of sequences, for
    ``n_states`` states (a constant of the compiled code), or any number if 0.

    With ``moments`` the backward pass sums the diagonal Gaussian moments
    Σγ, Σγx, Σγx² of its posteriors instead of storing them: it saves a pass
    over ``gamma``, whose work overlaps the recursion's latency.
    """

    @numba.njit(cache=True)
    def _forward_pass(
        dens: np.ndarray,
        lo: int,
        hi: int,
        start: np.ndarray,
        trans: np.ndarray,
        alpha: np.ndarray,
        scales: np.ndarray,
    ) -> tuple[float, int]:
        """The scaled forward pass of rows ``lo:hi``: the sum of the log scales and -1,
        or the first row of zero likelihood.

        ``alpha`` holds ``u_t = (a_{t-1} A) * b_t`` and ``scales[t] = 1 / sum(u_t)``,
        so that ``a_t = u_t * scales[t]``: the division of step t overlaps the
        products of step t + 1 instead of delaying them.
        """
        k = n_states if n_states > 0 else dens.shape[1]
        log_scales = 0.0
        product = 1.0  # of the totals since the last logarithm: one log per many steps
        previous = 1.0
        for t in range(lo, hi):
            total = 0.0
            if t == lo:
                for j in range(k):
                    value = start[j] * dens[t, j]
                    alpha[t, j] = value
                    total += value
            else:
                for j in range(k):
                    acc = 0.0
                    for i in range(k):
                        acc += alpha[t - 1, i] * trans[i, j]
                    value = acc * dens[t, j] * previous
                    alpha[t, j] = value
                    total += value
            if not total > 0.0:
                return log_scales + math.log(product), t
            previous = 1.0 / total
            scales[t] = previous
            if total < 1e-30:
                log_scales += math.log(total)
            else:
                product *= total
                if product < 1e-250:
                    log_scales += math.log(product)
                    product = 1.0
        return log_scales + math.log(product), -1

    @numba.njit(cache=True)
    def _forward_backward_sequence(
        dens: np.ndarray,
        lo: int,
        hi: int,
        start: np.ndarray,
        trans: np.ndarray,
        alpha: np.ndarray,
        scales: np.ndarray,
        xi: np.ndarray,
        gamma: np.ndarray,
        first: np.ndarray,
        x: np.ndarray,
        means: np.ndarray,
        second: np.ndarray,
        sums: np.ndarray,
    ) -> tuple[float, int]:
        """One sequence, rows ``lo:hi``, of scaled densities ``dens``.

        Writes its posteriors to ``gamma`` (or, with ``moments``, adds their
        moments of ``x`` to ``sums``, a missing coordinate by ``means`` and the
        second moments ``second``) and its first row's to ``first``, adds its
        expected transitions to ``xi``.  Returns the sum of the log scales and
        -1, or the first row of zero likelihood.
        """
        log_scales, bad = _forward_pass(dens, lo, hi, start, trans, alpha, scales)
        if bad >= 0:
            return log_scales, bad
        k = n_states if n_states > 0 else dens.shape[1]
        # a local sum: the compiler keeps it apart from the arrays read in the loop
        local_xi = np.zeros((k, k))
        beta = np.ones(k)
        weighted = np.empty(k)
        g = np.empty(k)
        d = x.shape[1]
        local_sums = np.zeros((k, 1 + 2 * d))
        for t in range(hi - 1, lo - 1, -1):
            scale = scales[t]
            for j in range(k):
                g[j] = alpha[t, j] * scale * beta[j]
                if not moments:
                    gamma[t, j] = g[j]
            if moments:
                seen = False
                for c in range(d):
                    seen = seen or x[t, c] == x[t, c]
                if seen:  # a row with nothing observed adds nothing
                    for j in range(k):
                        w = g[j]
                        local_sums[j, 0] += w
                        for c in range(d):
                            v = x[t, c]
                            if v == v:
                                local_sums[j, 1 + c] += w * v
                                local_sums[j, 1 + d + c] += w * v * v
                            else:
                                local_sums[j, 1 + c] += w * means[j, c]
                                local_sums[j, 1 + d + c] += w * second[j, c]
            if t == lo:
                for j in range(k):
                    first[j] = g[j]
                break
            for j in range(k):
                weighted[j] = dens[t, j] * beta[j] * scale
            before = scales[t - 1]
            for i in range(k):
                a = alpha[t - 1, i] * before
                acc = 0.0
                for j in range(k):
                    step = trans[i, j] * weighted[j]
                    local_xi[i, j] += a * step
                    acc += step
                beta[i] = acc
        for i in range(k):
            for j in range(k):
                xi[i, j] += local_xi[i, j]
        if moments:
            for j in range(k):
                for c in range(1 + 2 * d):
                    sums[j, c] += local_sums[j, c]
        return log_scales, -1

    @numba.njit(cache=True)
    def _forward_backward_chunks(
        dens: np.ndarray,
        offsets: np.ndarray,
        bounds: np.ndarray,
        starts: np.ndarray,
        trans: np.ndarray,
        alpha: np.ndarray,
        scales: np.ndarray,
        xi: np.ndarray,
        gamma: np.ndarray,
        first: np.ndarray,
        x: np.ndarray,
        means: np.ndarray,
        second: np.ndarray,
        sums: np.ndarray,
        log_scales: np.ndarray,
        bad: np.ndarray,
    ) -> None:
        for c in numba.prange(bounds.shape[0] - 1):
            total = 0.0
            for s in range(bounds[c], bounds[c + 1]):
                part, row = _forward_backward_sequence(
                    dens,
                    offsets[s],
                    offsets[s + 1],
                    starts[s],
                    trans,
                    alpha,
                    scales,
                    xi[c],
                    gamma,
                    first[s],
                    x,
                    means,
                    second,
                    sums[c],
                )
                if row >= 0:
                    bad[c] = row
                    break
                total += part
            log_scales[c] = total

    parallel = numba.njit(parallel=True, cache=True)(_forward_backward_chunks.py_func)
    return _forward_backward_chunks, parallel


@functools.cache
def _forward_backward_kernels(k: int, moments: bool = False) -> tuple[Any, Any]:
    """The kernels for ``k`` states: specialised up to ``_SPECIALISED_MAX_K``."""
    return _make_forward_backward(k if 1 <= k <= _SPECIALISED_MAX_K else 0, moments)


Workspace = dict[str, np.ndarray]


def _buffer(work: Workspace | None, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """A scratch array of ``shape``, kept in ``work`` between E-steps: a fresh one of
    tens of megabytes costs page faults every iteration."""
    if work is None:
        return np.empty(shape)
    held = work.get(name)
    if held is None or held.shape != shape:
        held = work[name] = np.empty(shape)
    return held


def _run(
    dens: np.ndarray,
    top: np.ndarray,
    offsets: np.ndarray,
    starts: np.ndarray,
    trans: np.ndarray,
    gamma: np.ndarray,
    work: Workspace | None = None,
    gaussian: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, float, int, np.ndarray]:
    """Forward-backward over every sequence, posteriors written to ``gamma``: xi, the
    first rows' posteriors, the log-likelihood, the first bad row and the moments.

    With ``gaussian = (x, means, second)`` the posteriors are not stored but
    summed into the moments (k, 1 + 2d) of diagonal Gaussian emissions, a
    missing coordinate by its moments given the state (``means``, ``second``).
    """
    n, k = dens.shape
    offsets = np.asarray(offsets, dtype=np.int64)
    starts = np.ascontiguousarray(starts, dtype=np.float64)
    trans = np.ascontiguousarray(trans, dtype=np.float64)
    alpha = _buffer(work, "alpha", (n, k))
    scales = _buffer(work, "scales", (n,))
    bounds = chunk_bounds(offsets)
    n_chunks = bounds.shape[0] - 1
    xi = np.zeros((n_chunks, k, k))
    first = np.zeros((offsets.shape[0] - 1, k))
    log_scales = np.zeros(n_chunks)
    bad_chunks = np.full(n_chunks, -1, dtype=np.int64)
    if gaussian is None:
        x, means, second = np.zeros((n, 0)), np.zeros((k, 0)), np.zeros((k, 0))
    else:
        x, means, second = gaussian
    sums = np.zeros((n_chunks, k, 1 + 2 * x.shape[1]))
    serial, parallel = _forward_backward_kernels(k, gaussian is not None)
    kernel = parallel if n_chunks > 1 else serial
    kernel(
        dens,
        offsets,
        bounds,
        starts,
        trans,
        alpha,
        scales,
        xi,
        gamma,
        first,
        x,
        means,
        second,
        sums,
        log_scales,
        bad_chunks,
    )
    failed_rows = bad_chunks[bad_chunks >= 0]
    bad = int(failed_rows.min()) if failed_rows.size else -1
    return xi.sum(axis=0), first, float(log_scales.sum() + top.sum()), bad, sums.sum(axis=0)


def _scaled(log_b: np.ndarray, work: Workspace | None) -> tuple[np.ndarray, np.ndarray]:
    log_b = np.ascontiguousarray(log_b, dtype=np.float64)
    dens = _buffer(work, "dens", log_b.shape)
    top = _buffer(work, "top", (log_b.shape[0],))
    kernel = _scale_parallel if log_b.shape[0] >= PARALLEL_MIN_ROWS else _scale_blocks
    kernel(log_b, dens, top)
    return dens, top


def forward_backward(
    log_b: np.ndarray,
    offsets: np.ndarray,
    starts: np.ndarray,
    trans: np.ndarray,
    work: Workspace | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, int]:
    """Posterior state probabilities and expected transitions of every sequence.

    Parameters
    ----------
    log_b
        ``(T, k)`` log emission densities.
    offsets
        ``(n_seq + 1,)`` first row of each sequence, then ``T``.
    starts
        ``(n_seq, k)`` start distribution of each sequence.
    trans
        ``(k, k)`` transition matrix.
    work
        Scratch arrays kept between calls (a dict the caller holds), or None.

    Returns
    -------
    gamma, xi, first, loglik, bad
        ``gamma`` (T, k), ``xi`` (k, k) summed over sequences, the posterior
        of each sequence's first row (n_seq, k), the log-likelihood, and the
        first row of zero likelihood (or -1).
    """
    dens, top = _scaled(log_b, work)
    gamma = np.empty_like(dens)
    xi, first, loglik, bad, _ = _run(dens, top, offsets, starts, trans, gamma, work)
    return gamma, xi, first, loglik, bad


def gaussian_diagonal_e_step(
    x: np.ndarray,
    offsets: np.ndarray,
    starts: np.ndarray,
    trans: np.ndarray,
    means: np.ndarray,
    variances: np.ndarray,
    work: Workspace | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, int]:
    """Baum-Welch's E-step with diagonal Gaussian emissions, all compiled.

    ``x`` (T, d) with NaN where missing; ``means`` and ``variances`` (k, d).
    Returns the occupancy of the observed rows Σγ (k,), Σγx and Σγx² (k, d)
    (a missing coordinate by its moments given the state), the expected
    transitions (k, k), the posterior of each sequence's first row
    (n_seq, k), the log-likelihood and the first row of zero likelihood (or -1).
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    n, d = x.shape
    k = means.shape[0]
    means = np.ascontiguousarray(means, dtype=np.float64)
    variances = np.ascontiguousarray(variances, dtype=np.float64)
    precision = 1.0 / np.sqrt(variances)
    log_norm = -0.5 * math.log(2.0 * math.pi) + np.log(precision)
    dens = _buffer(work, "dens", (n, k))
    top = _buffer(work, "top", (n,))
    kernel = _gaussian_parallel if n >= PARALLEL_MIN_ROWS else _gaussian_blocks
    kernel(x, means, precision, log_norm, dens, top)
    # the moments are summed in the backward recursion, the posteriors not stored
    unused = np.empty((0, k))
    second = means * means + variances
    xi, first, loglik, bad, moments = _run(
        dens, top, offsets, starts, trans, unused, work, (x, means, second)
    )
    if bad >= 0:
        moments[:] = 0.0  # a failed pass sums only part of the rows
    return moments[:, 0], moments[:, 1 : 1 + d], moments[:, 1 + d :], xi, first, loglik, bad


@numba.njit(cache=True)
def _forward_loglik(
    log_b: np.ndarray, offsets: np.ndarray, starts: np.ndarray, trans: np.ndarray
) -> tuple[float, int]:
    k = log_b.shape[1]
    loglik = 0.0
    alpha = np.empty(k)
    new = np.empty(k)
    for s in range(offsets.shape[0] - 1):
        for t in range(offsets[s], offsets[s + 1]):
            top = log_b[t, 0]
            for j in range(1, k):
                if log_b[t, j] > top:
                    top = log_b[t, j]
            if not top > -math.inf:
                return loglik, t
            total = 0.0
            for j in range(k):
                if t == offsets[s]:
                    acc = starts[s, j]
                else:
                    acc = 0.0
                    for i in range(k):
                        acc += alpha[i] * trans[i, j]
                new[j] = acc * math.exp(log_b[t, j] - top)
                total += new[j]
            if not total > 0.0:
                return loglik, t
            for j in range(k):
                alpha[j] = new[j] / total
            loglik += top + math.log(total)
    return loglik, -1


def forward_loglik(
    log_b: np.ndarray, offsets: np.ndarray, starts: np.ndarray, trans: np.ndarray
) -> tuple[float, int]:
    """The log-likelihood by the scaled forward pass alone, and the first bad row (or -1)."""
    loglik, bad = _forward_loglik(
        np.ascontiguousarray(log_b, dtype=np.float64),
        np.asarray(offsets, dtype=np.int64),
        np.ascontiguousarray(starts, dtype=np.float64),
        np.ascontiguousarray(trans, dtype=np.float64),
    )
    return float(loglik), int(bad)


@numba.njit(cache=True)
def _viterbi(
    log_b: np.ndarray, offsets: np.ndarray, log_starts: np.ndarray, log_trans: np.ndarray
) -> tuple[np.ndarray, float]:
    n, k = log_b.shape
    path = np.empty(n, dtype=np.int64)
    back = np.empty((n, k), dtype=np.int64)
    delta = np.empty(k)
    new = np.empty(k)
    total = 0.0
    for s in range(offsets.shape[0] - 1):
        lo, hi = offsets[s], offsets[s + 1]
        for j in range(k):
            delta[j] = log_starts[s, j] + log_b[lo, j]
        for t in range(lo + 1, hi):
            for j in range(k):
                best = -math.inf
                arg = 0
                for i in range(k):
                    value = delta[i] + log_trans[i, j]
                    if value > best:
                        best = value
                        arg = i
                new[j] = best + log_b[t, j]
                back[t, j] = arg
            for j in range(k):
                delta[j] = new[j]
        arg = 0
        for j in range(1, k):
            if delta[j] > delta[arg]:
                arg = j
        total += delta[arg]
        path[hi - 1] = arg
        for t in range(hi - 1, lo, -1):
            path[t - 1] = back[t, path[t]]
    return path, total


def viterbi(
    log_b: np.ndarray, offsets: np.ndarray, starts: np.ndarray, trans: np.ndarray
) -> tuple[np.ndarray, float]:
    """The most probable state path (0-based) of every sequence and its joint log-probability."""
    with np.errstate(divide="ignore"):
        log_starts = np.log(np.ascontiguousarray(starts, dtype=np.float64))
        log_trans = np.log(np.ascontiguousarray(trans, dtype=np.float64))
    path, total = _viterbi(
        np.ascontiguousarray(log_b, dtype=np.float64),
        np.asarray(offsets, dtype=np.int64),
        log_starts,
        log_trans,
    )
    return path, float(total)
