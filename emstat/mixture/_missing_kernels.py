"""The compiled E-step of incomplete rows (numba), parallel over blocks of rows.

Every row's pattern has, per component, its matrices embedded in d
dimensions (zero where a coordinate does not take part), so one loop serves
every pattern: ``y = (x - μ_k) W`` whitens the observed part, ``x + b + (x -
μ_k) B`` fills the missing part with its conditional mean.  Missing cells of
``x`` are 0 and meet only zero rows of ``W`` and ``B``.  Blocks depend on the
number of rows only and are summed in block order, so the result is the same
with any number of threads.  :func:`emstat.mixture.missing.numpy_e_step` is
the reference the tests compare it with.
"""

from __future__ import annotations

import math

import numba
import numpy as np

BLOCK_ROWS = 2048


@numba.njit(cache=True, nogil=True)
def _block(
    x: np.ndarray,
    pattern: np.ndarray,
    means: np.ndarray,
    whiten: np.ndarray,
    fill_base: np.ndarray,
    regression: np.ndarray,
    log_norm: np.ndarray,
    lo: int,
    hi: int,
    nk_pattern: np.ndarray,
    sums: np.ndarray,
    second: np.ndarray,
) -> tuple[float, float]:
    k, d = means.shape
    r = np.empty((k, d))
    log_dens = np.empty(k)
    full = np.empty(d)
    loglik = 0.0
    classification = 0.0
    for i in range(lo, hi):
        p = pattern[i]
        top = -np.inf
        for j in range(k):
            maha = 0.0
            for a in range(d):
                r[j, a] = x[i, a] - means[j, a]
            for b in range(d):
                y = 0.0
                for a in range(d):
                    y += r[j, a] * whiten[p, j, a, b]
                maha += y * y
            log_dens[j] = log_norm[p, j] - 0.5 * maha
            if log_dens[j] > top:
                top = log_dens[j]
        total = 0.0
        for j in range(k):
            total += math.exp(log_dens[j] - top)
        row = top + math.log(total)
        loglik += row
        classification += top - row
        for j in range(k):
            z = math.exp(log_dens[j] - row)
            nk_pattern[p, j] += z
            for b in range(d):
                value = x[i, b] + fill_base[p, j, b]
                for a in range(d):
                    value += r[j, a] * regression[p, j, a, b]
                full[b] = value
            for a in range(d):
                za = z * full[a]
                sums[j, a] += za
                for b in range(a, d):
                    second[j, a, b] += za * full[b]
    return loglik, classification


@numba.njit(cache=True, parallel=True)
def incomplete_e_step(
    x: np.ndarray,
    pattern: np.ndarray,
    means: np.ndarray,
    whiten: np.ndarray,
    fill_base: np.ndarray,
    regression: np.ndarray,
    log_norm: np.ndarray,
    n_patterns: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """Per-pattern Σ z, Σ z x̃, Σ z x̃ x̃ᵀ (upper triangle), loglik and Σ max log z."""
    n = x.shape[0]
    k, d = means.shape
    n_blocks = (n + BLOCK_ROWS - 1) // BLOCK_ROWS
    nk_pattern = np.zeros((n_blocks, n_patterns, k))
    sums = np.zeros((n_blocks, k, d))
    second = np.zeros((n_blocks, k, d, d))
    logliks = np.zeros(n_blocks)
    classifications = np.zeros(n_blocks)
    for blk in numba.prange(n_blocks):
        lo = blk * BLOCK_ROWS
        hi = min(n, lo + BLOCK_ROWS)
        logliks[blk], classifications[blk] = _block(
            x,
            pattern,
            means,
            whiten,
            fill_base,
            regression,
            log_norm,
            lo,
            hi,
            nk_pattern[blk],
            sums[blk],
            second[blk],
        )
    total_nk = np.zeros((n_patterns, k))
    total_sums = np.zeros((k, d))
    total_second = np.zeros((k, d, d))
    loglik = 0.0
    classification = 0.0
    for blk in range(n_blocks):  # in block order: the same sum on any number of threads
        total_nk += nk_pattern[blk]
        total_sums += sums[blk]
        total_second += second[blk]
        loglik += logliks[blk]
        classification += classifications[blk]
    for j in range(k):
        for a in range(d):
            for b in range(a + 1, d):
                total_second[j, b, a] = total_second[j, a, b]
    return total_nk, total_sums, total_second, loglik, classification
