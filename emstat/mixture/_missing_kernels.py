"""The compiled E-step of incomplete rows (numba), parallel over blocks of one pattern each.

The incomplete rows arrive sorted by missingness pattern, and every block
holds rows of one pattern only, so its observed columns and each
component's matrices are fixed within it: ``W`` whitens the observed part,
``(x_o - μ_o) W`` (upper triangular, ``p x p``), and ``B`` regresses the
missing part on it, ``x̂_m = μ_m + (x_o - μ_o) B`` (``p x q``).  As in the
fused kernel of complete rows (:mod:`emstat.mixture._fused_kernels`, whose
exponential and running products this module borrows), each block is
copied into a column layout, so every inner loop runs over contiguous rows
and vectorises.  Blocks depend on the rows and patterns only and are summed in
order, so the result is the same with any number of threads;
:func:`emstat.mixture.missing.numpy_e_step` is the reference the tests
compare it with.
"""

from __future__ import annotations

import numba
import numpy as np

from emstat.mixture._fused_kernels import _FAST, _LANES, _flush_lanes, _multiply_lanes, exp_neg

#: Rows per block (the caller lays the blocks out: :func:`emstat.mixture.missing.block_layout`).
BLOCK_ROWS = 512
# Chunks of blocks handed to threads: at most this many (their order fixes the sums).
_CHUNKS = 64


@numba.njit(fastmath=_FAST, error_model="numpy", cache=True)
def _chunk(
    x: np.ndarray,
    first: int,
    stop: int,
    block_first: np.ndarray,
    block_length: np.ndarray,
    block_pattern: np.ndarray,
    means: np.ndarray,
    observed: np.ndarray,
    n_observed: np.ndarray,
    missing: np.ndarray,
    whiten: np.ndarray,
    regression: np.ndarray,
    log_norm: np.ndarray,
    rows_per_log: int,
    nk_pattern: np.ndarray,
    sums: np.ndarray,
    second: np.ndarray,
) -> tuple[float, float]:
    """Statistics of blocks first .. stop added to nk_pattern (P, k), sums and second.

    Returns the rows' log-likelihood and Σ_i log Σ_k exp(l_ik - max_k l_ik)
    (minus their largest log responsibilities).
    """
    k, d = means.shape
    xt = np.empty((d, BLOCK_ROWS))  # the block's rows, one column of the data per row of xt
    r = np.empty((d, BLOCK_ROWS))  # x_o - μ_o of one component
    full = np.empty((d, BLOCK_ROWS))  # the rows completed by one component's regression
    logp = np.empty((k, BLOCK_ROWS))
    top = np.empty(BLOCK_ROWS)
    total = np.empty(BLOCK_ROWS)
    maha = np.empty(BLOCK_ROWS)
    lanes = np.ones(_LANES)
    lane_rows = 0
    top_sum = 0.0
    spread = 0.0
    for b in range(first, stop):
        lo, m, p = block_first[b], block_length[b], block_pattern[b]
        n_obs = n_observed[p]
        n_mis = d - n_obs
        for c in range(d):
            for i in range(m):
                xt[c, i] = x[lo + i, c]
        for j in range(k):
            for a in range(n_obs):
                mu = means[j, observed[p, a]]
                col = observed[p, a]
                for i in range(m):
                    r[a, i] = xt[col, i] - mu
            for i in range(m):
                maha[i] = 0.0
            for bb in range(n_obs):
                for i in range(m):
                    y = 0.0
                    for a in range(bb + 1):  # W is upper triangular
                        y += r[a, i] * whiten[p, j, a, bb]
                    maha[i] += y * y
            const = log_norm[p, j]
            for i in range(m):
                logp[j, i] = const - 0.5 * maha[i]
        for i in range(m):
            top[i] = logp[0, i]
        for j in range(1, k):
            for i in range(m):
                v = logp[j, i]
                t = top[i]
                top[i] = v if v > t else t
        for i in range(m):
            e = exp_neg(logp[0, i] - top[i])
            logp[0, i] = e
            total[i] = e
        for j in range(1, k):
            for i in range(m):
                e = exp_neg(logp[j, i] - top[i])
                logp[j, i] = e
                total[i] += e
        for i in range(m):
            top_sum += top[i]
        rows_in_lane = m // _LANES + m % _LANES
        if rows_per_log >= rows_in_lane:
            if lane_rows + rows_in_lane > rows_per_log:
                spread += _flush_lanes(lanes)
                lane_rows = 0
            _multiply_lanes(total, m, lanes)
            lane_rows += rows_in_lane
        else:  # so many components that a block's lane could overflow
            for g in range(0, m, rows_per_log):
                prod = 1.0
                for i in range(g, min(m, g + rows_per_log)):
                    prod *= total[i]
                spread += np.log(prod)
        for i in range(m):
            total[i] = 1.0 / total[i]
        for j in range(k):
            # responsibilities, then the rows completed by component j
            weight = 0.0
            for i in range(m):
                z = logp[j, i] * total[i]
                logp[j, i] = z
                weight += z
            nk_pattern[p, j] += weight
            for a in range(n_obs):
                col = observed[p, a]
                mu = means[j, col]
                for i in range(m):
                    r[a, i] = xt[col, i] - mu
                    full[col, i] = xt[col, i]
            for q in range(n_mis):
                col = missing[p, q]
                mu = means[j, col]
                for i in range(m):
                    full[col, i] = mu
                for a in range(n_obs):
                    coef = regression[p, j, a, q]
                    for i in range(m):
                        full[col, i] += r[a, i] * coef
            for a in range(d):
                s = 0.0
                for i in range(m):
                    s += logp[j, i] * full[a, i]
                sums[j, a] += s
                for c in range(a, d):
                    s2 = 0.0
                    for i in range(m):
                        s2 += logp[j, i] * full[a, i] * full[c, i]
                    second[j, a, c] += s2
    spread += _flush_lanes(lanes)
    return top_sum + spread, spread


@numba.njit(fastmath=_FAST, error_model="numpy", parallel=True, cache=True)
def incomplete_e_step(
    x: np.ndarray,
    block_first: np.ndarray,
    block_length: np.ndarray,
    block_pattern: np.ndarray,
    means: np.ndarray,
    observed: np.ndarray,
    n_observed: np.ndarray,
    missing: np.ndarray,
    whiten: np.ndarray,
    regression: np.ndarray,
    log_norm: np.ndarray,
    rows_per_log: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """Per-pattern Σ z, Σ z x̃, Σ z x̃ x̃ᵀ, loglik and Σ_i log Σ_k exp(l_ik - max_k l_ik)."""
    k, d = means.shape
    n_patterns = n_observed.shape[0]
    n_blocks = block_first.shape[0]
    n_chunks = min(_CHUNKS, n_blocks)
    nk_pattern = np.zeros((n_chunks, n_patterns, k))
    sums = np.zeros((n_chunks, k, d))
    second = np.zeros((n_chunks, k, d, d))
    logliks = np.zeros(n_chunks)
    spreads = np.zeros(n_chunks)
    for c in numba.prange(n_chunks):
        first = c * n_blocks // n_chunks
        stop = (c + 1) * n_blocks // n_chunks
        logliks[c], spreads[c] = _chunk(
            x,
            first,
            stop,
            block_first,
            block_length,
            block_pattern,
            means,
            observed,
            n_observed,
            missing,
            whiten,
            regression,
            log_norm,
            rows_per_log,
            nk_pattern[c],
            sums[c],
            second[c],
        )
    total_nk = np.zeros((n_patterns, k))
    total_sums = np.zeros((k, d))
    total_second = np.zeros((k, d, d))
    loglik = 0.0
    spread = 0.0
    for c in range(n_chunks):  # in chunk order: the same sums on any number of threads
        total_nk += nk_pattern[c]
        total_sums += sums[c]
        total_second += second[c]
        loglik += logliks[c]
        spread += spreads[c]
    for j in range(k):
        for a in range(d):
            for b in range(a + 1, d):
                total_second[j, b, a] = total_second[j, a, b]
    return total_nk, total_sums, total_second, loglik, spread
