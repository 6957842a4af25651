"""numba kernels of the fused E-step (see :mod:`emstat.mixture.fused`).

Kept in their own module, at top level, so that numba's on-disk cache can
find them again in a new process, and so that ``import emstat`` does not
import numba.  One body serves two compiled kernels: a parallel one for
large inputs and a serial one, without the cost of starting threads, for
the small fits of simulation studies.
"""

from __future__ import annotations

import math
import types
from typing import Any

import numba
import numpy as np
from numba import types as nbtypes
from numba.extending import intrinsic

# Reassociation lets LLVM vectorise the reductions over rows; it changes only
# the order of additions, which is fixed for a given block layout.
_FAST = {"reassoc", "contract"}
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_LOG2E = 1.4426950408889634
# 1/j! for the Taylor polynomial of exp on |r| <= ln2/2 (error below 2e-16).
_COEF = np.array([1.0 / math.factorial(j) for j in range(13)])
# Rows whose per-row sums are multiplied before one logarithm: each sum lies in
# [1, k], so the product stays below k**32, far from overflow for k <= 1e9.
_LOG_GROUP = 32
# Chunks of blocks handed to threads: a fixed number, more than the cores.
_CHUNKS = 64


@intrinsic
def _bits_to_float(typingctx: Any, value: Any) -> Any:
    """Reinterpret an int64 as the float64 with the same bits."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], context.get_value_type(nbtypes.float64))

    return nbtypes.float64(nbtypes.int64), codegen


@numba.njit(fastmath=_FAST, inline="always", cache=True)
def exp_neg(x: float) -> float:
    """exp(x) for x <= 0 by Cody-Waite reduction; 0 below the smallest normal number."""
    if x < -708.0:
        return 0.0
    n = math.floor(x * _LOG2E + 0.5)
    r = x - n * _LN2_HI - n * _LN2_LO
    p = _COEF[12]
    for j in range(11, -1, -1):
        p = p * r + _COEF[j]
    # 2**n from its exponent bits; n lies in [-1022, 0].
    return p * _bits_to_float(np.int64(n + 1023) << 52)  # type: ignore[call-arg]


def _e_step_body(
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
        for b in range(chunk * n_blocks // n_chunks, (chunk + 1) * n_blocks // n_chunks):
            lo = b * block_rows
            m = min(n, lo + block_rows) - lo
            for i in range(m):
                for c in range(d):
                    xt[c, i] = x[lo + i, c]
            # Whitened squared distance to each component: y = x U - mu U.
            for j in range(k):
                maha[:m] = 0.0
                for c in range(d):
                    for i in range(m):
                        y[i] = -shift[j, c]
                    for r in range(c if diag_prec else 0, c + 1):
                        u = prec_chol[j, r, c]
                        for i in range(m):
                            y[i] += xt[r, i] * u
                    for i in range(m):
                        maha[i] += y[i] * y[i]
                for i in range(m):
                    logp[j, i] = log_const[j] - 0.5 * maha[i]
            # Log-sum-exp over components, row by row.
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
            # Responsibilities and their sufficient statistics.
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
                    for e2 in range(c, c + 1 if diag_second else d):
                        acc = 0.0
                        for i in range(m):
                            acc += y[i] * xt[e2, i]
                        second_b[chunk, j, c, e2] += acc
    nk = np.zeros(k)
    sums = np.zeros((k, d))
    second = np.zeros((k, d, d))
    loglik = 0.0
    for b in range(n_chunks):  # in chunk order: the same sums on any number of threads
        nk += nk_b[b]
        sums += sums_b[b]
        second += second_b[b]
        loglik += ll_b[b]
    for j in range(k):
        for c in range(d):
            for e2 in range(c + 1, d):
                second[j, e2, c] = second[j, c, e2]
    return nk, sums, second, loglik


def _twin(func: Any, name: str) -> Any:
    """A copy of ``func`` under another name, so each compiled variant has its own cache."""
    copy = types.FunctionType(func.__code__, func.__globals__, name, func.__defaults__)
    copy.__qualname__ = name
    return copy


e_step_parallel = numba.njit(parallel=True, cache=True, fastmath=_FAST)(
    _twin(_e_step_body, "e_step_parallel")
)
e_step_serial = numba.njit(cache=True, fastmath=_FAST)(_twin(_e_step_body, "e_step_serial"))
