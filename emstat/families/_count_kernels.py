"""numba kernels of the fused E-step of one count column (Poisson or binomial).

Both families' log densities are linear in two per-row numbers, once the
terms that do not depend on the parameters are set aside::

    Poisson:   log f_j(x) = x log(rate_j) + e (-rate_j)          + [x log e - log x!]
    binomial:  log f_j(x) = x log(p_j)    + (n - x) log(1 - p_j) + [log C(n, x)]

so one kernel serves both: ``l_ij = log w_j + x_i a_j + y_i b_j``, with
``y`` the exposure (1 without one) or the failures ``n - x``.  The bracketed
row constants cancel from the responsibilities; they are computed once per
data set and only added to the log-likelihood.  A missing value (NaN) gets
``x = y = 0``: density 1 in every component and no statistics.

In one pass over blocks of rows the kernel forms the log densities, the
log-sum-exp, the responsibilities (times the case weights), the statistics
``Σ w z``, ``Σ w z x`` and ``Σ w z y``, the log-likelihood and ICL's
``Σ w log z_i,argmax``; no n x k array exists.  Blocks of ``block_rows`` rows
are grouped into at most 64 chunks that depend on n only, summed in chunk
order, so a result is the same on any number of threads.  The exponential
and the running products of the per-row sums are the Gaussian kernel's
(:mod:`emstat.mixture._fused_kernels`); with case weights each row's sum
needs its own logarithm, a vectorised one (fdlibm's ``log``, within 1 ulp).

The numpy E-step of :class:`emstat.mixture.finite.FiniteMixture` is the
reference these kernels are tested against.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from emstat.mixture._fused_kernels import (
    _FAST,
    _LANES,
    _bits_to_float,
    _float_to_bits,
    _flush_lanes,
    _multiply_lanes,
    _twin,
    exp_neg,
)
from emstat.mixture.fused import rows_per_logarithm

__all__ = ["count_e_step", "log_at_least_one"]

# Rows per block: the block's working set (k + 4 rows of doubles) stays in L1.
_BLOCK_ROWS = 512
# Chunks handed to threads: at most this many, and at least this many rows each
# (as the Gaussian kernel's, where smaller chunks cost more to hand out than they saved).
_CHUNKS = 64
_MIN_CHUNK_ROWS = 8192
# Below this many rows, starting threads costs more than it saves.
PARALLEL_MIN_ROWS = 20_000

_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_SQRT2 = 1.4142135623730951
# fdlibm's e_log.c: log(1 + f) = f - f²/2 + s (f²/2 + R(s²)), s = f / (2 + f).
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_MANTISSA = (1 << 52) - 1
_ONE_BITS = 1023 << 52


@numba.njit(fastmath=_FAST, inline="always", cache=True)
def log_at_least_one(t: float) -> float:
    """log(t) for a finite t >= 1 (a row's sum of exponentials): no branches, so it vectorises."""
    bits: int = _float_to_bits(t)  # type: ignore[call-arg]
    exponent = float((bits >> 52) - 1023)
    m = _bits_to_float((bits & _MANTISSA) | _ONE_BITS)  # in [1, 2)
    # The mantissa in [sqrt(2)/2, sqrt(2)), so that f = m - 1 stays small.
    high = m > _SQRT2
    m = 0.5 * m if high else m
    exponent = exponent + 1.0 if high else exponent
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    half_f2 = 0.5 * f * f
    return exponent * _LN2_HI - ((half_f2 - (s * (half_f2 + t1 + t2) + exponent * _LN2_LO)) - f)


@numba.njit(fastmath=_FAST, inline="always", cache=True)
def _coefficients(
    x: np.ndarray,
    extra: np.ndarray,
    has_extra: bool,
    failures: bool,
    lo: int,
    m: int,
    xb: np.ndarray,
    yb: np.ndarray,
) -> None:
    """xb, yb = the block's x and y (exposure, 1, or n - x); both 0 where x is missing."""
    if has_extra and failures:
        for i in range(m):
            v = x[lo + i]
            seen = v == v
            xb[i] = v if seen else 0.0
            yb[i] = extra[lo + i] - v if seen else 0.0
    elif has_extra:
        for i in range(m):
            v = x[lo + i]
            seen = v == v
            xb[i] = v if seen else 0.0
            yb[i] = extra[lo + i] if seen else 0.0
    elif failures:
        for i in range(m):
            v = x[lo + i]
            seen = v == v
            xb[i] = v if seen else 0.0
            yb[i] = 1.0 - v if seen else 0.0
    else:
        for i in range(m):
            v = x[lo + i]
            seen = v == v
            xb[i] = v if seen else 0.0
            yb[i] = 1.0 if seen else 0.0


@numba.njit(fastmath=_FAST, error_model="numpy", cache=True)
def _chunk(
    x: np.ndarray,
    extra: np.ndarray,
    case_weights: np.ndarray,
    has_extra: bool,
    failures: bool,
    weighted: bool,
    first: int,
    stop: int,
    log_w: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    finite: np.ndarray,
    rows_per_log: int,
    sums: np.ndarray,
    xb: np.ndarray,
    yb: np.ndarray,
    ez: np.ndarray,
    top: np.ndarray,
    total: np.ndarray,
) -> tuple[float, float, int]:
    """Blocks first .. stop: their statistics added to ``sums`` (k, 3) = Σ wz, Σ wzx, Σ wzy.

    Returns Σ w (max_j l_ij + log Σ_j exp(l_ij - max)) (the log-likelihood but
    for Σ w c), Σ w log Σ_j exp(l_ij - max) (minus ICL's term), and the first
    row whose density is 0 in every component (-1 when none; the chunk stops there).
    """
    n = x.shape[0]
    k = log_w.shape[0]
    top_sum = 0.0
    spread = 0.0
    lanes = np.ones(_LANES)
    lane_rows = 0  # rows multiplied into the fullest lane since its last logarithm
    for block in range(first, stop):
        lo = block * _BLOCK_ROWS
        m = min(n, lo + _BLOCK_ROWS) - lo
        _coefficients(x, extra, has_extra, failures, lo, m, xb, yb)
        for j in range(k):
            aj = a[j]
            bj = b[j]
            wj = log_w[j]
            row = ez[j]
            if finite[j]:
                for i in range(m):
                    row[i] = wj + xb[i] * aj + yb[i] * bj
            else:  # a rate or probability at 0 or 1: 0 log 0 = 0
                for i in range(m):
                    tx = xb[i] * aj if xb[i] > 0.0 else 0.0
                    ty = yb[i] * bj if yb[i] > 0.0 else 0.0
                    row[i] = wj + tx + ty
        # Log-sum-exp over components; comparisons rather than max(), whose
        # NaN handling keeps the loop from vectorising.
        for i in range(m):
            top[i] = ez[0, i]
        for j in range(1, k):
            for i in range(m):
                v = ez[j, i]
                t = top[i]
                top[i] = v if v > t else t
        dead = 0
        for i in range(m):
            dead += 0 if top[i] > -np.inf else 1
        if dead:
            for i in range(m):
                if not top[i] > -np.inf:
                    return top_sum + spread, spread, lo + i
        for i in range(m):
            e = exp_neg(ez[0, i] - top[i])
            ez[0, i] = e
            total[i] = e
        for j in range(1, k):
            for i in range(m):
                e = exp_neg(ez[j, i] - top[i])
                ez[j, i] = e
                total[i] += e
        if weighted:
            for i in range(m):
                w = case_weights[lo + i]
                top_sum += w * top[i]
                spread += w * log_at_least_one(total[i])
                total[i] = w / total[i]
        else:
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
        # Responsibilities (times the case weights) and their statistics.
        for j in range(k):
            row = ez[j]
            s0 = 0.0
            s1 = 0.0
            s2 = 0.0
            for i in range(m):
                r = row[i] * total[i]
                s0 += r
                s1 += r * xb[i]
                s2 += r * yb[i]
            sums[j, 0] += s0
            sums[j, 1] += s1
            sums[j, 2] += s2
    spread += _flush_lanes(lanes)
    return top_sum + spread, spread, -1


def _e_step_body(
    x: np.ndarray,
    extra: np.ndarray,
    case_weights: np.ndarray,
    has_extra: bool,
    failures: bool,
    weighted: bool,
    log_w: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    finite: np.ndarray,
    rows_per_log: int,
) -> tuple[np.ndarray, float, float, int]:
    """sums (k, 3): Σ wz, Σ wzx, Σ wzy; the log-likelihood but for Σ w c;
    Σ w log z_i,argmax; the first row of zero density (-1 when none)."""
    n = x.shape[0]
    k = log_w.shape[0]
    n_blocks = (n + _BLOCK_ROWS - 1) // _BLOCK_ROWS
    n_chunks = max(1, min(n_blocks // max(1, _MIN_CHUNK_ROWS // _BLOCK_ROWS), _CHUNKS))
    # Per-chunk statistics and scratch, allocated before the threads start.
    sums_b = np.zeros((n_chunks, k, 3))
    ll_b = np.zeros(n_chunks)
    spread_b = np.zeros(n_chunks)
    bad_b = np.full(n_chunks, -1)
    ez_b = np.empty((n_chunks, k, _BLOCK_ROWS))
    work_b = np.empty((n_chunks, 4, _BLOCK_ROWS))
    for chunk in numba.prange(n_chunks):
        ll_b[chunk], spread_b[chunk], bad_b[chunk] = _chunk(
            x,
            extra,
            case_weights,
            has_extra,
            failures,
            weighted,
            chunk * n_blocks // n_chunks,
            (chunk + 1) * n_blocks // n_chunks,
            log_w,
            a,
            b,
            finite,
            rows_per_log,
            sums_b[chunk],
            work_b[chunk, 0],
            work_b[chunk, 1],
            ez_b[chunk],
            work_b[chunk, 2],
            work_b[chunk, 3],
        )
    sums = np.zeros((k, 3))
    loglik = 0.0
    spread = 0.0
    bad = -1
    for c in range(n_chunks):  # in chunk order: the same sums on any number of threads
        sums += sums_b[c]
        loglik += ll_b[c]
        spread += spread_b[c]
        if bad < 0 and bad_b[c] >= 0:
            bad = bad_b[c]
    return sums, loglik, -spread, bad


e_step_parallel = numba.njit(parallel=True, cache=True, fastmath=_FAST, error_model="numpy")(
    _twin(_e_step_body, "e_step_parallel")
)
e_step_serial = numba.njit(cache=True, fastmath=_FAST, error_model="numpy")(
    _twin(_e_step_body, "e_step_serial")
)

_NONE = np.empty(0)


def count_e_step(
    x: np.ndarray,
    extra: np.ndarray | None,
    case_weights: np.ndarray | None,
    row_constant: float,
    weights: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    *,
    failures: bool,
) -> tuple[np.ndarray, float, float, int]:
    """The fused E-step of one count column (see the module docstring).

    ``row_constant`` is Σ w c, the rows' constants c weighted by the case weights;
    ``weights`` are the mixing weights, ``a`` and ``b`` the components'
    coefficients of x and y.  Returns ``sums`` (k, 3) = Σ wz, Σ wzx, Σ wzy,
    the log-likelihood, Σ w log z_i,argmax and the first row of zero density
    under every component (-1 when none).
    """
    weighted = case_weights is not None
    kernel = e_step_parallel if x.shape[0] >= PARALLEL_MIN_ROWS else e_step_serial
    finite = np.isfinite(a) & np.isfinite(b)
    with np.errstate(divide="ignore"):
        log_weights = np.log(weights)
    sums, loglik, classification, bad = kernel(
        _f64(x),
        _NONE if extra is None else _f64(extra),
        _NONE if case_weights is None else _f64(case_weights),
        extra is not None,
        failures,
        weighted,
        _f64(log_weights),
        _f64(a),
        _f64(b),
        finite,
        rows_per_logarithm(log_weights.shape[0]),
    )
    return sums, float(loglik + row_constant), float(classification), int(bad)


def _f64(values: Any) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float64)
