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
from numba.core.options import DefaultOptions
from numba.extending import intrinsic

# Reassociation lets LLVM vectorise the reductions over rows; it changes only
# the order of additions, which is fixed for a given block layout.
_FAST = {"reassoc", "contract"}
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_LOG2E = 1.4426950408889634
_LOG_2PI = math.log(2.0 * math.pi)
# exp(r) on |r| <= ln2/2: the polynomial of degree 11 that interpolates it at
# the 12 Chebyshev nodes, nearly minimax (relative error 6e-18 before
# rounding; tests/mixture/test_fused.py derives the coefficients again).
_COEF = np.array(
    [
        float.fromhex("0x1.0000000000000p+0"),
        float.fromhex("0x1.0000000000000p+0"),
        float.fromhex("0x1.0000000000011p-1"),
        float.fromhex("0x1.555555555555ap-3"),
        float.fromhex("0x1.555555554f0cfp-5"),
        float.fromhex("0x1.111111110f225p-7"),
        float.fromhex("0x1.6c16c187fbe02p-10"),
        float.fromhex("0x1.a01a01b14378fp-13"),
        float.fromhex("0x1.a01991ac8730ap-16"),
        float.fromhex("0x1.71ddf5749d126p-19"),
        float.fromhex("0x1.28b4057f44145p-22"),
        float.fromhex("0x1.af631d0059becp-26"),
    ]
)
# Adding 1.5 * 2**52 to an integer-valued double n in [-2**51, 2**51] leaves n
# in the low bits of the sum, so 2**n takes integer operations only.
_ROUND = 1.5 * 2.0**52
# Independent running products (one per SIMD lane), so the multiplications
# do not wait on one another.
_LANES = 8
# Chunks of blocks handed to threads: at most this many, more than the cores...
_CHUNKS = 64
# ...and at least this many rows each: a chunk costs a few microseconds to
# hand out, which dominated at n = 1e5 when chunks held 1,500 rows.
_MIN_CHUNK_ROWS = 8192
# numba's flag for a kernel compiled without its runtime: no atomic reference
# counts on the arrays it is handed (on the small data of a simulation study
# they were a third of an E-step).  Such a kernel may not allocate or return an
# array; :func:`_chunk` and the helpers it inlines only write into its scratch.
# The flag is numba's own (not public): a numba without it compiles the kernel
# with the runtime, the same numbers at the old cost.
_NO_RUNTIME: dict[str, Any] = {"_nrt": False} if hasattr(DefaultOptions, "_nrt") else {}


@intrinsic
def _bits_to_float(typingctx: Any, value: Any) -> Any:
    """Reinterpret an int64 as the float64 with the same bits."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], context.get_value_type(nbtypes.float64))

    return nbtypes.float64(nbtypes.int64), codegen


@intrinsic
def _float_to_bits(typingctx: Any, value: Any) -> Any:
    """Reinterpret a float64 as the int64 with the same bits."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], context.get_value_type(nbtypes.int64))

    return nbtypes.int64(nbtypes.float64), codegen


_ROUND_BITS = int(np.array(_ROUND).view(np.int64))


@numba.njit(fastmath=_FAST, inline="always", cache=True)
def exp_neg(x: float) -> float:
    """exp(x) for x <= 0 by Cody-Waite reduction; 0 below the smallest normal number."""
    if x < -708.0:
        return 0.0
    n = np.floor(x * _LOG2E + 0.5)  # a double: no round trip through an integer register
    r = x - n * _LN2_HI - n * _LN2_LO
    p = _COEF[11]
    for j in range(10, -1, -1):
        p = p * r + _COEF[j]
    # 2**n from its exponent bits; n lies in [-1022, 0].
    n_bits = _float_to_bits(n + _ROUND) - _ROUND_BITS  # type: ignore[call-arg]
    return p * _bits_to_float((n_bits + 1023) << 52)


@numba.njit(fastmath=_FAST, inline="always", cache=True)
def _transpose(x: np.ndarray, lo: int, m: int, xt: np.ndarray) -> None:
    """Copy rows lo .. lo + m of ``x`` into the columns of ``xt`` (d, m)."""
    d = x.shape[1]
    # Literal column indices for small d, so the copy needs no inner loop.
    if d == 1:
        for i in range(m):
            xt[0, i] = x[lo + i, 0]
    elif d == 2:
        for i in range(m):
            xt[0, i] = x[lo + i, 0]
            xt[1, i] = x[lo + i, 1]
    elif d == 3:
        for i in range(m):
            xt[0, i] = x[lo + i, 0]
            xt[1, i] = x[lo + i, 1]
            xt[2, i] = x[lo + i, 2]
    else:
        for i in range(m):
            for c in range(d):
                xt[c, i] = x[lo + i, c]


@numba.njit(fastmath=_FAST, inline="always", cache=True)
def _log_density(
    xt: np.ndarray,
    m: int,
    j: int,
    shift: np.ndarray,
    prec_chol: np.ndarray,
    log_const: np.ndarray,
    diag_prec: bool,
    logp: np.ndarray,
    y: np.ndarray,
) -> None:
    """logp[j, :m] = log weight + log density of component j: one pass for d <= 3.

    The rows of ``logp`` and of the statistics are indexed here rather than
    handed over as views (see :data:`_NO_RUNTIME`); inlined into :func:`_chunk`.
    """
    d = xt.shape[0]
    lc = log_const[j]
    if d == 1:
        u00 = prec_chol[j, 0, 0]
        s0 = shift[j, 0]
        for i in range(m):
            y0 = xt[0, i] * u00 - s0
            logp[j, i] = lc - 0.5 * (y0 * y0)
    elif d == 2:
        u00 = prec_chol[j, 0, 0]
        u11 = prec_chol[j, 1, 1]
        s0 = shift[j, 0]
        s1 = shift[j, 1]
        if diag_prec:  # no cross terms to compute
            for i in range(m):
                y0 = xt[0, i] * u00 - s0
                y1 = xt[1, i] * u11 - s1
                logp[j, i] = lc - 0.5 * (y0 * y0 + y1 * y1)
        else:
            u01 = prec_chol[j, 0, 1]
            for i in range(m):
                a = xt[0, i]
                b = xt[1, i]
                y0 = a * u00 - s0
                y1 = a * u01 + b * u11 - s1
                logp[j, i] = lc - 0.5 * (y0 * y0 + y1 * y1)
    elif d == 3:
        u00 = prec_chol[j, 0, 0]
        u11 = prec_chol[j, 1, 1]
        u22 = prec_chol[j, 2, 2]
        s0 = shift[j, 0]
        s1 = shift[j, 1]
        s2 = shift[j, 2]
        if diag_prec:
            for i in range(m):
                y0 = xt[0, i] * u00 - s0
                y1 = xt[1, i] * u11 - s1
                y2 = xt[2, i] * u22 - s2
                logp[j, i] = lc - 0.5 * (y0 * y0 + y1 * y1 + y2 * y2)
        else:
            u01 = prec_chol[j, 0, 1]
            u02 = prec_chol[j, 0, 2]
            u12 = prec_chol[j, 1, 2]
            for i in range(m):
                a = xt[0, i]
                b = xt[1, i]
                c = xt[2, i]
                y0 = a * u00 - s0
                y1 = a * u01 + b * u11 - s1
                y2 = a * u02 + b * u12 + c * u22 - s2
                logp[j, i] = lc - 0.5 * (y0 * y0 + y1 * y1 + y2 * y2)
    elif diag_prec:
        # t = x u - shift, maha += t * t; four columns a pass, so out is stored a quarter as often.
        for i in range(m):
            logp[j, i] = 0.0
        c = 0
        while c + 4 <= d:
            u0 = prec_chol[j, c, c]
            u1 = prec_chol[j, c + 1, c + 1]
            u2 = prec_chol[j, c + 2, c + 2]
            u3 = prec_chol[j, c + 3, c + 3]
            s0 = shift[j, c]
            s1 = shift[j, c + 1]
            s2 = shift[j, c + 2]
            s3 = shift[j, c + 3]
            for i in range(m):
                t0 = xt[c, i] * u0 - s0
                t1 = xt[c + 1, i] * u1 - s1
                t2 = xt[c + 2, i] * u2 - s2
                t3 = xt[c + 3, i] * u3 - s3
                logp[j, i] += t0 * t0 + t1 * t1 + t2 * t2 + t3 * t3
            c += 4
        while c < d:
            u = prec_chol[j, c, c]
            s = shift[j, c]
            for i in range(m):
                t = xt[c, i] * u - s
                logp[j, i] += t * t
            c += 1
        for i in range(m):
            logp[j, i] = lc - 0.5 * logp[j, i]
    else:
        # Whitened coordinate c of y = x U - shift, accumulated over rows r <= c.
        for i in range(m):
            logp[j, i] = 0.0
        for c in range(d):
            u = prec_chol[j, 0, c]
            s = shift[j, c]
            if c == 0:
                for i in range(m):
                    t = xt[0, i] * u - s
                    logp[j, i] += t * t
                continue
            for i in range(m):
                y[i] = xt[0, i] * u - s
            r = 1
            while r + 4 <= c:  # four rows of U a pass: y is stored a quarter as often
                u0 = prec_chol[j, r, c]
                u1 = prec_chol[j, r + 1, c]
                u2 = prec_chol[j, r + 2, c]
                u3 = prec_chol[j, r + 3, c]
                for i in range(m):
                    y[i] += (xt[r, i] * u0 + xt[r + 1, i] * u1) + (
                        xt[r + 2, i] * u2 + xt[r + 3, i] * u3
                    )
                r += 4
            while r < c:
                u = prec_chol[j, r, c]
                for i in range(m):
                    y[i] += xt[r, i] * u
                r += 1
            u = prec_chol[j, c, c]
            for i in range(m):
                t = y[i] + xt[c, i] * u
                logp[j, i] += t * t
        for i in range(m):
            logp[j, i] = lc - 0.5 * logp[j, i]


@numba.njit(fastmath=_FAST, inline="always", cache=True)
def _moments(
    xt: np.ndarray,
    m: int,
    resp: np.ndarray,
    j: int,
    inv_total: np.ndarray,
    diag_second: bool,
    nk: np.ndarray,
    sums: np.ndarray,
    second: np.ndarray,
    y: np.ndarray,
) -> None:
    """Add the statistics of component j, whose responsibilities are resp[j] * inv_total,
    to nk[j], sums[j] and second[j] (rows indexed, as in :func:`_log_density`)."""
    d = xt.shape[0]
    if d == 1:
        n0 = 0.0
        a0 = 0.0
        q00 = 0.0
        for i in range(m):
            r = resp[j, i] * inv_total[i]
            ra = r * xt[0, i]
            n0 += r
            a0 += ra
            q00 += ra * xt[0, i]
        nk[j, 0] += n0
        sums[j, 0] += a0
        second[j, 0, 0] += q00
    elif d == 2:
        n0 = 0.0
        a0 = 0.0
        a1 = 0.0
        q00 = 0.0
        q01 = 0.0
        q11 = 0.0
        if diag_second:
            for i in range(m):
                r = resp[j, i] * inv_total[i]
                a = xt[0, i]
                b = xt[1, i]
                ra = r * a
                rb = r * b
                n0 += r
                a0 += ra
                a1 += rb
                q00 += ra * a
                q11 += rb * b
        else:
            for i in range(m):
                r = resp[j, i] * inv_total[i]
                a = xt[0, i]
                b = xt[1, i]
                ra = r * a
                rb = r * b
                n0 += r
                a0 += ra
                a1 += rb
                q00 += ra * a
                q01 += ra * b
                q11 += rb * b
            second[j, 0, 1] += q01
        nk[j, 0] += n0
        sums[j, 0] += a0
        sums[j, 1] += a1
        second[j, 0, 0] += q00
        second[j, 1, 1] += q11
    elif d == 3:
        n0 = 0.0
        a0 = 0.0
        a1 = 0.0
        a2 = 0.0
        q00 = 0.0
        q01 = 0.0
        q02 = 0.0
        q11 = 0.0
        q12 = 0.0
        q22 = 0.0
        if diag_second:
            for i in range(m):
                r = resp[j, i] * inv_total[i]
                a = xt[0, i]
                b = xt[1, i]
                c = xt[2, i]
                ra = r * a
                rb = r * b
                rc = r * c
                n0 += r
                a0 += ra
                a1 += rb
                a2 += rc
                q00 += ra * a
                q11 += rb * b
                q22 += rc * c
        else:
            for i in range(m):
                r = resp[j, i] * inv_total[i]
                a = xt[0, i]
                b = xt[1, i]
                c = xt[2, i]
                ra = r * a
                rb = r * b
                rc = r * c
                n0 += r
                a0 += ra
                a1 += rb
                a2 += rc
                q00 += ra * a
                q01 += ra * b
                q02 += ra * c
                q11 += rb * b
                q12 += rb * c
                q22 += rc * c
            second[j, 0, 1] += q01
            second[j, 0, 2] += q02
            second[j, 1, 2] += q12
        nk[j, 0] += n0
        sums[j, 0] += a0
        sums[j, 1] += a1
        sums[j, 2] += a2
        second[j, 0, 0] += q00
        second[j, 1, 1] += q11
        second[j, 2, 2] += q22
    else:
        acc = 0.0
        for i in range(m):
            r = resp[j, i] * inv_total[i]
            resp[j, i] = r
            acc += r
        nk[j, 0] += acc
        for c in range(d):
            if diag_second:
                s0 = 0.0
                q0 = 0.0
                for i in range(m):
                    t = resp[j, i] * xt[c, i]
                    s0 += t
                    q0 += t * xt[c, i]
                sums[j, c] += s0
                second[j, c, c] += q0
                continue
            acc = 0.0
            for i in range(m):
                t = resp[j, i] * xt[c, i]
                y[i] = t
                acc += t
            sums[j, c] += acc
            e2 = c
            while e2 + 4 <= d:  # four entries a pass: y is loaded a quarter as often
                a0 = 0.0
                a1 = 0.0
                a2 = 0.0
                a3 = 0.0
                for i in range(m):
                    t = y[i]
                    a0 += t * xt[e2, i]
                    a1 += t * xt[e2 + 1, i]
                    a2 += t * xt[e2 + 2, i]
                    a3 += t * xt[e2 + 3, i]
                second[j, c, e2] += a0
                second[j, c, e2 + 1] += a1
                second[j, c, e2 + 2] += a2
                second[j, c, e2 + 3] += a3
                e2 += 4
            while e2 < d:
                acc = 0.0
                for i in range(m):
                    acc += y[i] * xt[e2, i]
                second[j, c, e2] += acc
                e2 += 1


@numba.njit(fastmath=_FAST, inline="always", cache=True)
def _multiply_lanes(total: np.ndarray, m: int, lanes: np.ndarray) -> None:
    """lanes[l] *= the product of total[i] over rows i = l mod 8 (the tail into lane 0)."""
    p0 = p1 = p2 = p3 = p4 = p5 = p6 = p7 = 1.0
    i = 0
    while i + _LANES <= m:
        p0 *= total[i]
        p1 *= total[i + 1]
        p2 *= total[i + 2]
        p3 *= total[i + 3]
        p4 *= total[i + 4]
        p5 *= total[i + 5]
        p6 *= total[i + 6]
        p7 *= total[i + 7]
        i += _LANES
    while i < m:
        p0 *= total[i]
        i += 1
    lanes[0] *= p0
    lanes[1] *= p1
    lanes[2] *= p2
    lanes[3] *= p3
    lanes[4] *= p4
    lanes[5] *= p5
    lanes[6] *= p6
    lanes[7] *= p7


@numba.njit(fastmath=_FAST, inline="always", cache=True)
def _flush_lanes(lanes: np.ndarray) -> float:
    """Σ log lanes, and the lanes reset to 1."""
    out = 0.0
    for lane in range(_LANES):
        out += math.log(lanes[lane])
        lanes[lane] = 1.0
    return out


@numba.njit(fastmath=_FAST, error_model="numpy", cache=True, **_NO_RUNTIME)
def _chunk(
    x: np.ndarray,
    first: int,
    stop: int,
    block_rows: int,
    shift: np.ndarray,
    prec_chol: np.ndarray,
    log_const: np.ndarray,
    diag_prec: bool,
    diag_second: bool,
    rows_per_log: int,
    nk: np.ndarray,
    sums: np.ndarray,
    second: np.ndarray,
    xt: np.ndarray,
    logp: np.ndarray,
    y: np.ndarray,
    top: np.ndarray,
    total: np.ndarray,
    lanes: np.ndarray,
) -> tuple[float, float]:
    """Statistics of blocks first .. stop, added to nk (k, 1), sums and second.

    Returns the log-likelihood of the rows and Σ_i log Σ_k exp(l_ik - max_k l_ik),
    which is minus their largest log responsibilities (ICL's entropy term); the
    latter takes one logarithm per ``rows_per_log`` rows of each lane, of the
    product of their sums.  ``xt``, ``logp``, ``y``, ``top``, ``total`` and
    ``lanes`` (8) are this chunk's scratch.
    """
    n = x.shape[0]
    k = shift.shape[0]
    top_sum = 0.0
    spread = 0.0
    lanes[:] = 1.0
    lane_rows = 0  # rows multiplied into the fullest lane since its last logarithm
    for b in range(first, stop):
        lo = b * block_rows
        m = min(n, lo + block_rows) - lo
        _transpose(x, lo, m, xt)
        for j in range(k):
            _log_density(xt, m, j, shift, prec_chol, log_const, diag_prec, logp, y)
        # Log-sum-exp over components; comparisons rather than max(), whose
        # NaN handling keeps the loop from vectorising.
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
                spread += math.log(prod)
        # Responsibilities and their sufficient statistics.
        for i in range(m):
            total[i] = 1.0 / total[i]
        for j in range(k):
            _moments(xt, m, logp, j, total, diag_second, nk, sums, second, y)
    spread += _flush_lanes(lanes)
    return top_sum + spread, spread


@numba.njit(cache=True)
def _chunks_of(n: int, block_rows: int) -> tuple[int, int]:
    """Blocks of ``block_rows`` rows in ``n`` rows, and the chunks they are handed out in."""
    n_blocks = (n + block_rows - 1) // block_rows
    return n_blocks, max(1, min(n_blocks // max(1, _MIN_CHUNK_ROWS // block_rows), _CHUNKS))


@numba.njit(cache=True)
def e_step_workspace(n: int, d: int, k: int, block_rows: int) -> Any:
    """The scratch of an E-step of n rows, d columns and k components: an EM loop
    allocates it once and hands it to every E-step (a small fit's E-step
    otherwise spends a fifth of its time allocating)."""
    _, n_chunks = _chunks_of(n, block_rows)
    return (
        np.zeros((k, d)),  # the whitened means
        np.empty(k),  # the log constants
        np.zeros((n_chunks, k, 1)),  # per chunk: nk, sums, second moments, loglik, spread
        np.zeros((n_chunks, k, d)),
        np.zeros((n_chunks, k, d, d)),
        np.zeros(n_chunks),
        np.zeros(n_chunks),
        np.empty((n_chunks, d, block_rows)),  # per chunk: rows transposed, log densities,
        np.empty((n_chunks, k, block_rows)),  # three rows of work and the lanes
        np.empty((n_chunks, 3, block_rows)),
        np.ones((n_chunks, _LANES)),
    )


def _e_step_body(
    x: np.ndarray,
    weights: np.ndarray,
    means: np.ndarray,
    prec_chol: np.ndarray,
    half_log_det_prec: np.ndarray,
    diag_prec: bool,
    diag_second: bool,
    block_rows: int,
    rows_per_log: int,
    scratch: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, float]:
    """nk, sums, second moments (k, d, d), their diagonals (k, d), loglik, Σ_i max_k log z_ik.

    ``rows_per_log`` bounds the rows whose per-row sums are multiplied before
    a logarithm (see :func:`emstat.mixture.fused.rows_per_logarithm`).
    ``scratch``: an :func:`e_step_workspace` of this shape to reuse, or None.
    """
    n, d = x.shape
    k = means.shape[0]
    if scratch is None:  # numba compiles the two cases apart
        work = e_step_workspace(n, d, k, block_rows)
    else:
        work = scratch
    shift, log_const, nk_b, sums_b, second_b, ll_b, spread_b, xt_b, logp_b, work_b, lanes_b = work
    # Whitened means, y = x U - mu U, so the blocks never form x - mu; and
    # log w_k - ½ log|Σ_k| - (d/2) log 2π (a zero weight gives -inf).
    shift[:] = 0.0
    for j in range(k):
        for c in range(d):
            for r in range(d):
                shift[j, c] += means[j, r] * prec_chol[j, r, c]
        log_const[j] = math.log(weights[j]) if weights[j] > 0.0 else -np.inf
        log_const[j] += half_log_det_prec[j] - 0.5 * d * _LOG_2PI
    n_blocks, n_chunks = _chunks_of(n, block_rows)
    nk_b[:] = 0.0
    sums_b[:] = 0.0
    second_b[:] = 0.0
    for chunk in numba.prange(n_chunks):
        ll_b[chunk], spread_b[chunk] = _chunk(
            x,
            chunk * n_blocks // n_chunks,
            (chunk + 1) * n_blocks // n_chunks,
            block_rows,
            shift,
            prec_chol,
            log_const,
            diag_prec,
            diag_second,
            rows_per_log,
            nk_b[chunk],
            sums_b[chunk],
            second_b[chunk],
            xt_b[chunk],
            logp_b[chunk],
            work_b[chunk, 0],
            work_b[chunk, 1],
            work_b[chunk, 2],
            lanes_b[chunk],
        )
    nk = np.zeros(k)
    sums = np.zeros((k, d))
    second = np.zeros((k, d, d))
    loglik = 0.0
    spread = 0.0
    for b in range(n_chunks):  # in chunk order: the same sums on any number of threads
        for j in range(k):  # entries indexed, not views (see _log_density)
            nk[j] += nk_b[b, j, 0]
            for c in range(d):
                sums[j, c] += sums_b[b, j, c]
                for e2 in range(d):
                    second[j, c, e2] += second_b[b, j, c, e2]
        loglik += ll_b[b]
        spread += spread_b[b]
    diagonals = np.empty((k, d))
    for j in range(k):
        for c in range(d):
            diagonals[j, c] = second[j, c, c]
            for e2 in range(c + 1, d):
                second[j, e2, c] = second[j, c, e2]
    return nk, sums, second, diagonals, loglik, -spread


def _twin(func: Any, name: str) -> Any:
    """A copy of ``func`` under another name, so each compiled variant has its own cache."""
    copy = types.FunctionType(
        func.__code__, func.__globals__, name, func.__defaults__, func.__closure__
    )
    copy.__qualname__ = name
    return copy


e_step_parallel = numba.njit(parallel=True, cache=True, fastmath=_FAST, error_model="numpy")(
    _twin(_e_step_body, "e_step_parallel")
)
e_step_serial = numba.njit(cache=True, fastmath=_FAST, error_model="numpy")(
    _twin(_e_step_body, "e_step_serial")
)
