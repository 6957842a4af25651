"""A fused E-step: one pass over the rows, no n x k arrays, parallel over row blocks.

For every row it whitens against each component, takes the log-sum-exp,
and adds the responsibilities' contributions to the statistics, keeping
per-block accumulators that are summed in block order at the end.  The
blocks depend on n only, not on the number of threads, so results are the
same on any machine.  Compiled with numba (the ``fast`` extra) and cached on
disk; without numba the numpy kernels in :mod:`emstat.mixture.gaussian` serve.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

__all__ = ["available", "fused_e_step"]

# Rows per block: large enough to amortise scheduling, small enough to balance.
_BLOCK_ROWS = 8192


@cache
def _kernel() -> Callable[..., Any] | None:
    try:
        import numba
    except ImportError:
        return None

    @numba.njit(parallel=True, cache=True, nogil=True)
    def kernel(
        x: np.ndarray,
        means: np.ndarray,
        prec_chol: np.ndarray,
        log_const: np.ndarray,
        diag_prec: bool,
        diag_second: bool,
        block_rows: int,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        n, d = x.shape
        k = means.shape[0]
        n_blocks = (n + block_rows - 1) // block_rows
        nk_b = np.zeros((n_blocks, k))
        sums_b = np.zeros((n_blocks, k, d))
        second_b = np.zeros((n_blocks, k, d, d))
        ll_b = np.zeros(n_blocks)
        for b in numba.prange(n_blocks):
            lo = b * block_rows
            hi = min(n, lo + block_rows)
            logp = np.empty(k)
            diff = np.empty(d)
            for i in range(lo, hi):
                top = -np.inf
                for j in range(k):
                    for c in range(d):
                        diff[c] = x[i, c] - means[j, c]
                    maha = 0.0
                    if diag_prec:
                        for c in range(d):
                            y = diff[c] * prec_chol[j, c, c]
                            maha += y * y
                    else:
                        for c in range(d):
                            y = 0.0
                            for r in range(c + 1):
                                y += diff[r] * prec_chol[j, r, c]
                            maha += y * y
                    logp[j] = log_const[j] - 0.5 * maha
                    if logp[j] > top:
                        top = logp[j]
                total = 0.0
                for j in range(k):
                    logp[j] = math.exp(logp[j] - top)
                    total += logp[j]
                ll_b[b] += top + math.log(total)
                for j in range(k):
                    r = logp[j] / total
                    nk_b[b, j] += r
                    for c in range(d):
                        rx = r * x[i, c]
                        sums_b[b, j, c] += rx
                        if diag_second:
                            second_b[b, j, c, c] += rx * x[i, c]
                        else:
                            for e in range(c, d):
                                second_b[b, j, c, e] += rx * x[i, e]
        nk = np.zeros(k)
        sums = np.zeros((k, d))
        second = np.zeros((k, d, d))
        loglik = 0.0
        for b in range(n_blocks):
            nk += nk_b[b]
            sums += sums_b[b]
            second += second_b[b]
            loglik += ll_b[b]
        for j in range(k):
            for c in range(d):
                for e in range(c + 1, d):
                    second[j, e, c] = second[j, c, e]
        return nk, sums, second, loglik

    return kernel


def available() -> bool:
    """True when numba is installed, so the fused kernel can run."""
    return _kernel() is not None


def fused_e_step(
    x: np.ndarray,
    means: np.ndarray,
    prec_chol: np.ndarray,
    log_const: np.ndarray,
    *,
    diag_prec: bool,
    diag_second: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """nk, sums, second moments (k, d, d) and loglik; ``diag_second`` fills only diagonals."""
    kernel = _kernel()
    if kernel is None:
        raise RuntimeError("the fused kernel needs numba: pip install 'emstat[fast]'")
    return kernel(
        np.ascontiguousarray(x, dtype=np.float64),
        np.ascontiguousarray(means),
        np.ascontiguousarray(prec_chol),
        np.ascontiguousarray(log_const),
        diag_prec,
        diag_second,
        _BLOCK_ROWS,
    )
