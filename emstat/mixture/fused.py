"""A fused E-step: one pass over the rows, no n x k arrays, parallel over row blocks.

Each block of rows is copied into a column layout, so that every inner loop
runs over contiguous rows and compiles to SIMD instructions: the whitening
against each component, the log-sum-exp, the responsibilities and their
contributions to the statistics.  The exponential is a polynomial with
Cody-Waite range reduction (accurate to about 2 ulp), which vectorises where
a call to libm would not; the log-likelihood takes one logarithm per 32
rows, of a product of per-row sums that cannot overflow.

Blocks depend on n only, not on the number of threads, and are summed in
block order, so the result is the same on any machine.  Kernels are compiled
by numba and cached on disk; the numpy kernels in
:mod:`emstat.mixture.gaussian` are the reference they are tested against.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

__all__ = ["available", "fused_e_step"]

# Rows per block: a block's working set (k + d + 4 rows of doubles) stays in L1/L2.
_BLOCK_ROWS = 512
# Rows whose per-row sums are multiplied before one logarithm: each sum lies in
# [1, k], so the product stays below k**32, far from overflow for any k <= 1e9.
_LOG_GROUP = 32
# Chunks of blocks handed to threads; more than the cores, for balance.
_CHUNKS = 64


@cache
def _kernel() -> Callable[..., Any] | None:
    try:
        import numba
        from numba import types
        from numba.extending import intrinsic
    except ImportError:
        return None

    @intrinsic
    def bits_to_float(typingctx: Any, value: Any) -> Any:
        # Reinterpret an int64 as the float64 with the same bits (2**n from its exponent).
        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            return builder.bitcast(args[0], context.get_value_type(types.float64))

        return types.float64(types.int64), codegen

    # Reassociation lets LLVM vectorise the reductions over rows; it changes
    # only the order of additions, which is fixed for a given block layout.
    fast = {"reassoc", "contract"}
    ln2_hi = 6.93147180369123816490e-01
    ln2_lo = 1.90821492927058770002e-10
    log2e = 1.4426950408889634
    # 1/j! for the Taylor polynomial of exp on |r| <= ln2/2 (error below 2e-16).
    coef = np.array([1.0 / math.factorial(j) for j in range(13)])

    @numba.njit(fastmath=fast, inline="always")
    def exp_neg(x: float) -> float:
        # exp(x) for x <= 0; 0 below the smallest normal number.
        if x < -708.0:
            return 0.0
        n = math.floor(x * log2e + 0.5)
        r = x - n * ln2_hi - n * ln2_lo
        p = coef[12]
        for j in range(11, -1, -1):
            p = p * r + coef[j]
        # 2**n built from its exponent bits; n lies in [-1022, 0].
        bits = np.int64(n + 1023) << 52
        return p * bits_to_float(bits)  # type: ignore[call-arg]

    @numba.njit(parallel=True, cache=True, fastmath=fast)
    def kernel(
        x: np.ndarray,
        shift: np.ndarray,
        prec_chol: np.ndarray,
        log_const: np.ndarray,
        diag_prec: bool,
        diag_second: bool,
        block_rows: int,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        n, d = x.shape
        k = shift.shape[0]
        n_blocks = (n + block_rows - 1) // block_rows
        # A fixed number of chunks (not of threads) keeps the sums' order fixed;
        # each chunk allocates its buffers once and walks its blocks in order.
        n_chunks = min(n_blocks, _CHUNKS)
        nk_b = np.zeros((n_chunks, k))
        sums_b = np.zeros((n_chunks, k, d))
        second_b = np.zeros((n_chunks, k, d, d))
        ll_b = np.zeros(n_chunks)
        for chunk in numba.prange(n_chunks):
            xt = np.empty((d, block_rows))
            logp = np.empty((k, block_rows))
            y = np.empty(block_rows)
            maha = np.empty(block_rows)
            top = np.empty(block_rows)
            total = np.empty(block_rows)
            first_block = chunk * n_blocks // n_chunks
            last_block = (chunk + 1) * n_blocks // n_chunks
            for b in range(first_block, last_block):
                lo = b * block_rows
                m = min(n, lo + block_rows) - lo
                for i in range(m):
                    for c in range(d):
                        xt[c, i] = x[lo + i, c]
                for j in range(k):
                    maha[:m] = 0.0
                    for c in range(d):
                        for i in range(m):
                            y[i] = -shift[j, c]
                        first = c if diag_prec else 0
                        for r in range(first, c + 1):
                            u = prec_chol[j, r, c]
                            for i in range(m):
                                y[i] += xt[r, i] * u
                        for i in range(m):
                            maha[i] += y[i] * y[i]
                    for i in range(m):
                        logp[j, i] = log_const[j] - 0.5 * maha[i]
                for i in range(m):
                    top[i] = logp[0, i]
                for j in range(1, k):
                    for i in range(m):
                        top[i] = max(top[i], logp[j, i])
                total[:m] = 0.0
                for j in range(k):
                    for i in range(m):
                        e = exp_neg(logp[j, i] - top[i])
                        logp[j, i] = e
                        total[i] += e
                ll = 0.0
                for i in range(m):
                    ll += top[i]
                for g in range(0, m, _LOG_GROUP):
                    prod = 1.0
                    for i in range(g, min(m, g + _LOG_GROUP)):
                        prod *= total[i]
                    ll += math.log(prod)
                ll_b[chunk] += ll
                for i in range(m):
                    total[i] = 1.0 / total[i]
                for j in range(k):
                    acc = 0.0
                    for i in range(m):
                        resp = logp[j, i] * total[i]
                        logp[j, i] = resp
                        acc += resp
                    nk_b[chunk, j] += acc
                    for c in range(d):
                        acc = 0.0
                        for i in range(m):
                            y[i] = logp[j, i] * xt[c, i]
                            acc += y[i]
                        sums_b[chunk, j, c] += acc
                        last = c + 1 if diag_second else d
                        for e2 in range(c, last):
                            acc = 0.0
                            for i in range(m):
                                acc += y[i] * xt[e2, i]
                            second_b[chunk, j, c, e2] += acc
        nk = np.zeros(k)
        sums = np.zeros((k, d))
        second = np.zeros((k, d, d))
        loglik = 0.0
        for b in range(n_chunks):
            nk += nk_b[b]
            sums += sums_b[b]
            second += second_b[b]
            loglik += ll_b[b]
        for j in range(k):
            for c in range(d):
                for e2 in range(c + 1, d):
                    second[j, e2, c] = second[j, c, e2]
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
        raise RuntimeError("the fused kernel needs numba (pip install numba)")
    # Whitened means: y = x U - mu U, so the kernel never forms x - mu.
    shift = np.einsum("kd,kde->ke", means, prec_chol)
    result: tuple[np.ndarray, np.ndarray, np.ndarray, float] = kernel(
        np.ascontiguousarray(x, dtype=np.float64),
        np.ascontiguousarray(shift),
        np.ascontiguousarray(prec_chol),
        np.ascontiguousarray(log_const),
        diag_prec,
        diag_second,
        _BLOCK_ROWS,
    )
    return result
