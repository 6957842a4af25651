"""numba kernels of hidden Markov chains: scaled forward-backward and Viterbi.

The data of a fit are one or more sequences laid end to end; ``offsets``
(length ``n_seq + 1``) marks where each begins.  The emission layer gives
the ``(T, k)`` log densities ``log b_t(j)`` (0 for a row with nothing
observed: a step of the chain without emission).

Forward-backward runs in the scaled form of Rabiner (1989): each row's
densities are divided by their largest value before the exponential, and
each forward vector is normalised to sum to 1, so nothing underflows however
long the sequence; the log-likelihood is the sum of the logarithms of the
scales.  The backward vector is never stored: it is formed on the way back
and combined at once with the stored forward vectors into the posterior
state probabilities ``gamma`` and the expected transition counts ``xi``.
A step whose scale is 0 (no state can emit the row, or none can be reached)
has zero likelihood: the kernels return its row and the caller raises.

Sequences are grouped into chunks that depend on the data only, one chunk
per task of a parallel loop; chunk totals are summed in chunk order, so a
result does not depend on the number of threads.

The numpy versions in ``tests/test_hmm_kernels.py`` are these kernels' oracle.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["chunk_bounds", "forward_backward", "forward_loglik", "viterbi"]

# Below this many rows in all, one thread does the work: starting threads costs more.
PARALLEL_MIN_ROWS = 50_000
# At most this many chunks of sequences (tasks of the parallel loop).
_MAX_CHUNKS = 64


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


@numba.njit(cache=True)
def _forward_backward_sequence(
    log_b: np.ndarray,
    lo: int,
    hi: int,
    start: np.ndarray,
    trans: np.ndarray,
    gamma: np.ndarray,
    dens: np.ndarray,
    xi: np.ndarray,
) -> tuple[float, int]:
    """One sequence, rows ``lo:hi``: writes ``gamma[lo:hi]``, adds to ``xi``.

    Returns its log-likelihood and -1, or the first row of zero likelihood.
    ``dens`` is workspace of the shape of ``log_b``.
    """
    k = log_b.shape[1]
    loglik = 0.0
    scales = np.empty(hi - lo)
    # forward: gamma holds the scaled forward vectors
    for t in range(lo, hi):
        top = log_b[t, 0]
        for j in range(1, k):
            if log_b[t, j] > top:
                top = log_b[t, j]
        if not top > -math.inf:
            return loglik, t
        for j in range(k):
            dens[t, j] = math.exp(log_b[t, j] - top)
        total = 0.0
        if t == lo:
            for j in range(k):
                value = start[j] * dens[t, j]
                gamma[t, j] = value
                total += value
        else:
            for j in range(k):
                acc = 0.0
                for i in range(k):
                    acc += gamma[t - 1, i] * trans[i, j]
                value = acc * dens[t, j]
                gamma[t, j] = value
                total += value
        if not total > 0.0:
            return loglik, t
        inverse = 1.0 / total
        for j in range(k):
            gamma[t, j] *= inverse
        scales[t - lo] = total
        loglik += top + math.log(total)
    # backward: beta formed on the way, gamma = alpha * beta
    beta = np.ones(k)
    weighted = np.empty(k)
    for t in range(hi - 2, lo - 1, -1):
        inverse = 1.0 / scales[t + 1 - lo]
        for j in range(k):
            weighted[j] = dens[t + 1, j] * beta[j] * inverse
        for i in range(k):
            alpha = gamma[t, i]
            acc = 0.0
            for j in range(k):
                step = trans[i, j] * weighted[j]
                xi[i, j] += alpha * step
                acc += step
            beta[i] = acc
        for i in range(k):
            gamma[t, i] *= beta[i]
    return loglik, -1


@numba.njit(cache=True)
def _forward_backward_chunks(
    log_b: np.ndarray,
    offsets: np.ndarray,
    bounds: np.ndarray,
    starts: np.ndarray,
    trans: np.ndarray,
    gamma: np.ndarray,
    dens: np.ndarray,
    xi_chunks: np.ndarray,
    loglik_chunks: np.ndarray,
    bad_chunks: np.ndarray,
) -> None:
    n_chunks = bounds.shape[0] - 1
    for c in numba.prange(n_chunks):
        total = 0.0
        for s in range(bounds[c], bounds[c + 1]):
            ll, bad = _forward_backward_sequence(
                log_b, offsets[s], offsets[s + 1], starts[s], trans, gamma, dens, xi_chunks[c]
            )
            if bad >= 0:
                bad_chunks[c] = bad
                break
            total += ll
        loglik_chunks[c] = total


_forward_backward_parallel = numba.njit(parallel=True, cache=True)(_forward_backward_chunks.py_func)


def forward_backward(
    log_b: np.ndarray, offsets: np.ndarray, starts: np.ndarray, trans: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float, int]:
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

    Returns
    -------
    gamma, xi, loglik, bad
        ``gamma`` (T, k), ``xi`` (k, k) summed over sequences, the
        log-likelihood, and the first row of zero likelihood (or -1).
    """
    log_b = np.ascontiguousarray(log_b, dtype=np.float64)
    k = log_b.shape[1]
    bounds = chunk_bounds(offsets)
    n_chunks = bounds.shape[0] - 1
    gamma = np.empty_like(log_b)
    dens = np.empty_like(log_b)
    xi_chunks = np.zeros((n_chunks, k, k))
    loglik_chunks = np.zeros(n_chunks)
    bad_chunks = np.full(n_chunks, -1, dtype=np.int64)
    kernel = _forward_backward_parallel if n_chunks > 1 else _forward_backward_chunks
    kernel(
        log_b,
        np.asarray(offsets, dtype=np.int64),
        bounds,
        np.ascontiguousarray(starts, dtype=np.float64),
        np.ascontiguousarray(trans, dtype=np.float64),
        gamma,
        dens,
        xi_chunks,
        loglik_chunks,
        bad_chunks,
    )
    failed = bad_chunks[bad_chunks >= 0]
    bad = int(failed.min()) if failed.size else -1
    return gamma, xi_chunks.sum(axis=0), float(loglik_chunks.sum()), bad


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
