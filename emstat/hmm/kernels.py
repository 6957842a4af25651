"""numba kernels of hidden Markov chains: scaled forward-backward and Viterbi.

The data of a fit are one or more sequences laid end to end; ``offsets``
(length ``n_seq + 1``) marks where each begins.  The emission layer gives
the ``(T, k)`` log densities ``log b_t(j)`` (0 for a row with nothing
observed: a step of the chain without emission), or, for diagonal Gaussian
emissions, the kernels compute the densities themselves.

Forward-backward runs in scaled form: each row's densities are divided by
their largest value before the exponential (a parallel pass over blocks of
rows), and a forward or backward vector is multiplied by an exact power of
two whenever its sum falls below 2^-300, instead of being normalised at every
step (a division on the recursion's critical path).  The exponents are
integers: the log-likelihood is the logarithm of the last forward vector's
sum, less the exponents times log 2, plus the row maxima.  Since every vector
is known up to its own factor, the posteriors are normalised per step:
``gamma_t ∝ alpha_t * beta_t`` and ``xi_t ∝ alpha_{t-1}(i) A_ij b_t(j) beta_t(j)``.
The backward recursion forms them as it goes from the stored forward
vectors; for diagonal Gaussian emissions it sums the moments Σγ, Σγx, Σγx²
instead of storing ``gamma``.  The recursions are compiled once for each
number of states up to ``_SPECIALISED_MAX_K`` from the same code, k a
constant there, so that their loops over states unroll and the state vectors
stay in registers.  A step whose vector sums to 0 (no state can emit the
row, or none can be reached) has zero likelihood: the kernels return its row
and the caller raises.

Parallel work: sequences are grouped into chunks that depend on the data
only, one chunk per task; chunk totals are summed in chunk order.  One long
sequence runs on two threads: the forward recursion over its first half and
the backward over its second half at once, then each continues into the
other half with the other's stored vectors, forming the posteriors there.
Each half has its own totals, summed in a fixed order, so a result does not
depend on the number of threads.  The passes over the densities run in
parallel blocks of rows.

The numpy versions in ``tests/test_hmm_kernels.py`` are these kernels' oracle.
"""

from __future__ import annotations

import functools
import hashlib
import math
from typing import Any

import numba
import numpy as np
from numba import types as nbtypes
from numba.core import cgutils
from numba.extending import intrinsic

from emstat.mixture._fused_kernels import _FAST, _bits_to_float, _float_to_bits, _twin, exp_neg

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

    State by state over the block's rows, each coordinate first copied out of
    ``x``, so that the loops over rows vectorise.
    """
    k, d = means.shape
    m = hi - lo
    logs = np.zeros((k, m))
    column = np.empty(m)
    for c in range(d):
        for i in range(m):
            column[i] = x[lo + i, c]
        for j in range(k):
            row = logs[j]
            mu = means[j, c]
            p = precision[j, c]
            constant = log_norm[j, c]
            for i in range(m):
                v = column[i]
                z = (v - mu) * p
                row[i] += constant - 0.5 * z * z if v == v else 0.0  # NaN: marginalised
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


# Each parallel variant is a copy under its own name: numba's disk cache keys a
# function by its name, so a variant of the same function would load the other's code.
_scale_parallel = numba.njit(parallel=True, cache=True)(
    _twin(_scale_blocks.py_func, "_scale_parallel")
)
_gaussian_parallel = numba.njit(parallel=True, cache=True)(
    _twin(_gaussian_blocks.py_func, "_gaussian_parallel")
)


# Numbers of states with a kernel of their own (compiled on first use, then cached on
# disk): with k a compile-time constant the loops over states unroll and the state
# vectors live in registers.
_SPECIALISED_MAX_K = 8
# A forward or backward vector is not normalised at every step (a division on the
# recursion's critical path) but multiplied by an exact power of two when its sum
# falls below _TINY, which keeps it within 2^64 of where the per-step normalisation
# would put it (no more of a tiny probability is lost to underflow than there).  A
# step whose sum falls below _SAFE is done again from the previous vector brought
# to [1, 2).
_TINY = 2.0**-64
_SAFE = 2.0**-1000
_SMALLEST_NORMAL = 2.0**-1022
_LN2 = math.log(2.0)


@intrinsic
def _stack_intrinsic(typingctx: Any, size: Any) -> Any:
    """Room for ``size`` doubles on the stack (``size`` a compile-time constant):
    a vector there, indexed by unrolled loops, is kept in registers."""
    if not isinstance(size, nbtypes.IntegerLiteral):
        return None
    count = size.literal_value

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        double = context.get_value_type(nbtypes.float64)
        return cgutils.alloca_once(builder, double, size=context.get_constant(nbtypes.intp, count))

    return nbtypes.CPointer(nbtypes.float64)(size), codegen


# called as _stack(size) in compiled code (the typing context is numba's)
_stack: Any = _stack_intrinsic


@numba.njit(fastmath=_FAST, inline="always", cache=True)
def _rescale(v: np.ndarray, k: int, total: float) -> tuple[int, float]:
    """Multiply ``v`` by the power of two ``2^e`` that brings its sum ``total`` (> 0)
    into [1, 2): exact, as long as no entry is below the smallest normal number.
    Returns ``e`` and the new sum."""
    if total >= _SMALLEST_NORMAL:
        # 2^e from the exponent bits of total: no call to frexp and ldexp
        e = 1023 - ((_float_to_bits(total) >> 52) & 0x7FF)  # type: ignore[call-arg]
        factor = _bits_to_float((e + 1023) << 52)
        for j in range(k):
            v[j] *= factor
        return e, total * factor
    e = 1 - math.frexp(total)[1]
    for j in range(k):
        v[j] = math.ldexp(v[j], e)
    return e, math.ldexp(total, e)


@numba.njit(fastmath=_FAST, inline="always", cache=True)
def _advance(
    a: np.ndarray, y: np.ndarray, dens: np.ndarray, t: int, trans: np.ndarray, k: int
) -> float:
    """``y = (a A) * b_t``, the forward step; returns ``sum(y)``."""
    total = 0.0
    for j in range(k):
        acc = 0.0
        for i in range(k):
            acc += a[i] * trans[i, j]
        value = acc * dens[t, j]
        y[j] = value
        total += value
    return total


@numba.njit(fastmath=_FAST, inline="always", cache=True)
def _retreat(
    b: np.ndarray,
    w: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    dens: np.ndarray,
    t: int,
    trans: np.ndarray,
    k: int,
) -> float:
    """The backward step from ``b = beta_{t+1}``: ``w = b_{t+1} * b``, ``m_ij = A_ij w_j``,
    ``v = beta_t = m 1``; returns ``sum(v)``."""
    for j in range(k):
        w[j] = dens[t + 1, j] * b[j]
    total = 0.0
    for i in range(k):
        acc = 0.0
        for j in range(k):
            term = trans[i, j] * w[j]
            m[i * k + j] = term
            acc += term
        v[i] = acc
        total += acc
    return total


@numba.njit(fastmath=_FAST, inline="always", cache=True)
def _add_moments(
    g: np.ndarray,
    x: np.ndarray,
    t: int,
    means: np.ndarray,
    second: np.ndarray,
    sums: np.ndarray,
    k: int,
) -> None:
    """Add row ``t``'s posteriors ``g`` times 1, x and x^2 to ``sums`` (k, 1 + 2d); a
    missing coordinate by its moments given the state, a row with nothing observed not."""
    d = x.shape[1]
    seen = False
    for c in range(d):
        seen = seen or x[t, c] == x[t, c]
    if not seen:
        return
    for j in range(k):
        w = g[j]
        sums[j, 0] += w
        for c in range(d):
            v = x[t, c]
            if v == v:
                sums[j, 1 + c] += w * v
                sums[j, 1 + d + c] += w * v * v
            else:
                sums[j, 1 + c] += w * means[j, c]
                sums[j, 1 + d + c] += w * second[j, c]


def _with_stable_cache_key(dispatcher: Any, *constants: object) -> Any:
    """``dispatcher`` cached on disk under its function's code and ``constants``.

    numba keys a closure's cache entry by its code and the pickled contents of
    its cells; a cell holding another kernel pickles that kernel with a random
    UUID and unordered options, new in every process, so the kernels made
    below would compile afresh in each one.  Their cells hold only kernels of
    this file and the constants given, and numba drops every entry of a file
    whose date changes, so code and constants are a complete key.
    """
    cache = getattr(dispatcher, "_cache", None)
    if cache is None or not hasattr(cache, "_index_key"):  # another numba: compile as it does
        return dispatcher
    code = hashlib.sha256(dispatcher.py_func.__code__.co_code).hexdigest()
    identity = hashlib.sha256(
        repr((dispatcher.py_func.__qualname__, constants)).encode()
    ).hexdigest()

    def index_key(signature: Any, codegen: Any) -> tuple[Any, ...]:
        return (signature, codegen.magic_tuple(), (code, identity))

    cache._index_key = index_key
    return dispatcher


@functools.cache
def _make_forward_backward(n_states: int, moments: bool) -> tuple[Any, Any, Any]:
    """The kernels for ``n_states`` states (a constant of the compiled code), or any
    number if 0: forward-backward over chunks of sequences, serial and parallel, and
    the two-thread forward-backward of one long sequence.

    With ``moments`` the posteriors are not stored but their diagonal Gaussian
    moments Σγ, Σγx, Σγx² summed, in the same pass that forms them.
    """
    fixed = n_states > 0
    cap = max(n_states, 1)  # room on the stack for one vector of the specialised kernels
    grid = cap * cap

    def kernel(**options: Any) -> Any:
        def compile_(func: Any) -> Any:
            dispatcher = numba.njit(cache=True, **options)(func)
            return _with_stable_cache_key(dispatcher, n_states, moments)

        return compile_

    @kernel(fastmath=_FAST)
    def _forward(
        dens: np.ndarray,
        lo: int,
        hi: int,
        cont: bool,
        start: np.ndarray,
        trans: np.ndarray,
        alpha: np.ndarray,
    ) -> tuple[int, float, int]:
        """Forward vectors of rows ``lo:hi`` into ``alpha``, from ``start`` or (``cont``)
        from ``alpha[lo - 1]``.  Each is the true one times 2 to the power of the
        exponents applied so far; returns their sum, the last vector's sum and -1, or
        the first row of zero likelihood."""
        k = n_states if fixed else dens.shape[1]
        a = numba.carray(_stack(cap), k) if fixed else np.empty(k)
        y = numba.carray(_stack(cap), k) if fixed else np.empty(k)
        exps = 0
        total = 0.0
        if cont:
            for j in range(k):
                a[j] = alpha[lo - 1, j]
                total += a[j]
            first = lo
        else:
            for j in range(k):
                a[j] = start[j] * dens[lo, j]
                total += a[j]
            if not total >= _TINY:
                if not total > 0.0:
                    return exps, total, lo
                e, total = _rescale(a, k, total)
                exps += e
            for j in range(k):
                alpha[lo, j] = a[j]
            first = lo + 1
        for t in range(first, hi):
            step = _advance(a, y, dens, t, trans, k)
            if not step >= _TINY:  # every few dozen steps
                if not step >= _SAFE:
                    exps += _rescale(a, k, total)[0]
                    step = _advance(a, y, dens, t, trans, k)
                    if not step > 0.0:
                        return exps, step, t
                e, step = _rescale(y, k, step)
                exps += e
            for j in range(k):
                alpha[t, j] = y[j]
                a[j] = y[j]
            total = step
        return exps, total, -1

    @kernel(fastmath=_FAST)
    def _backward(dens: np.ndarray, lo: int, hi: int, trans: np.ndarray, beta: np.ndarray) -> int:
        """Backward vectors of rows ``lo:hi`` (``hi`` the sequence's end) into ``beta``,
        each up to its own power of two; -1, or a row no state path explains."""
        k = n_states if fixed else dens.shape[1]
        b = numba.carray(_stack(cap), k) if fixed else np.empty(k)
        w = numba.carray(_stack(cap), k) if fixed else np.empty(k)
        v = numba.carray(_stack(cap), k) if fixed else np.empty(k)
        m = numba.carray(_stack(grid), k * k) if fixed else np.empty(k * k)
        for j in range(k):
            b[j] = 1.0
            beta[hi - 1, j] = 1.0
        total = float(k)
        for t in range(hi - 2, lo - 1, -1):
            step = _retreat(b, w, m, v, dens, t, trans, k)
            if not step >= _TINY:
                if not step >= _SAFE:
                    _rescale(b, k, total)
                    step = _retreat(b, w, m, v, dens, t, trans, k)
                    if not step > 0.0:
                        return t + 1
                step = _rescale(v, k, step)[1]
            for j in range(k):
                beta[t, j] = v[j]
                b[j] = v[j]
            total = step
        return -1

    @kernel(fastmath=_FAST)
    def _backward_stats(
        dens: np.ndarray,
        lo: int,
        hi: int,
        cont: bool,
        trans: np.ndarray,
        alpha: np.ndarray,
        beta: np.ndarray,
        gamma: np.ndarray,
        first: np.ndarray,
        x: np.ndarray,
        means: np.ndarray,
        second: np.ndarray,
        xi: np.ndarray,
        sums: np.ndarray,
    ) -> int:
        """The backward recursion over rows ``lo:hi`` with the stored forward vectors,
        from ``beta[hi]`` if ``cont`` (else ``hi`` ends the sequence): posteriors
        normalised per step, written to ``gamma`` (or their moments added to ``sums``),
        the expected transitions out of rows ``lo:hi`` added to ``xi``, row ``lo``'s
        posterior written to ``first``.  -1, or a row no state path explains."""
        k = n_states if fixed else dens.shape[1]
        b = numba.carray(_stack(cap), k) if fixed else np.empty(k)
        w = numba.carray(_stack(cap), k) if fixed else np.empty(k)
        v = numba.carray(_stack(cap), k) if fixed else np.empty(k)
        a = numba.carray(_stack(cap), k) if fixed else np.empty(k)
        g = numba.carray(_stack(cap), k) if fixed else np.empty(k)
        m = numba.carray(_stack(grid), k * k) if fixed else np.empty(k * k)
        local_xi = numba.carray(_stack(grid), k * k) if fixed else np.empty(k * k)
        for ij in range(k * k):
            local_xi[ij] = 0.0
        local_sums = np.zeros_like(sums)
        total = 0.0
        if cont:
            for j in range(k):
                b[j] = beta[hi, j]
                total += b[j]
        for t in range(hi - 1, lo - 1, -1):
            last = t == hi - 1 and not cont
            if last:
                for j in range(k):
                    v[j] = 1.0
                step = float(k)
            else:
                step = _retreat(b, w, m, v, dens, t, trans, k)
            z = 0.0
            for i in range(k):
                z += alpha[t, i] * v[i]
            if step >= _SAFE and z >= _SAFE:
                inverse = 1.0 / z
                for i in range(k):
                    a[i] = alpha[t, i] * inverse
            else:  # rare: bring both vectors to [1, 2) exactly and form the step again
                if not last:
                    _rescale(b, k, total)
                    step = _retreat(b, w, m, v, dens, t, trans, k)
                    if not step > 0.0:
                        return t + 1
                size = 0.0
                for i in range(k):
                    a[i] = alpha[t, i]
                    size += a[i]
                _rescale(a, k, size)
                z = 0.0
                for i in range(k):
                    z += a[i] * v[i]
                if not z > 0.0:
                    return t
                for i in range(k):
                    a[i] /= z
            for i in range(k):
                g[i] = a[i] * v[i]
            if moments:
                _add_moments(g, x, t, means, second, local_sums, k)
            else:
                for i in range(k):
                    gamma[t, i] = g[i]
            if not last:
                for i in range(k):
                    for j in range(k):
                        local_xi[i * k + j] += a[i] * m[i * k + j]
            if not step >= _TINY:
                step = _rescale(v, k, step)[1]
            for j in range(k):
                b[j] = v[j]
            total = step
        for i in range(k):
            first[i] = g[i]
            for j in range(k):
                xi[i, j] += local_xi[i * k + j]
        if moments:
            sums += local_sums
        return -1

    @kernel(fastmath=_FAST)
    def _forward_stats(
        dens: np.ndarray,
        lo: int,
        hi: int,
        trans: np.ndarray,
        alpha: np.ndarray,
        beta: np.ndarray,
        gamma: np.ndarray,
        x: np.ndarray,
        means: np.ndarray,
        second: np.ndarray,
        xi: np.ndarray,
        sums: np.ndarray,
    ) -> tuple[int, float, int]:
        """The forward recursion over rows ``lo:hi`` from ``alpha[lo - 1]``, with the
        stored backward vectors: posteriors as in ``_backward_stats``, the expected
        transitions into rows ``lo + 1:hi``.  Returns the exponents applied, the last
        vector's sum and -1, or the first row of zero likelihood."""
        k = n_states if fixed else dens.shape[1]
        a = numba.carray(_stack(cap), k) if fixed else np.empty(k)
        y = numba.carray(_stack(cap), k) if fixed else np.empty(k)
        q = numba.carray(_stack(cap), k) if fixed else np.empty(k)
        c = numba.carray(_stack(cap), k) if fixed else np.empty(k)
        g = numba.carray(_stack(cap), k) if fixed else np.empty(k)
        local_xi = numba.carray(_stack(grid), k * k) if fixed else np.empty(k * k)
        for ij in range(k * k):
            local_xi[ij] = 0.0
        local_sums = np.zeros_like(sums)
        exps = 0
        total = 0.0
        for j in range(k):
            a[j] = alpha[lo - 1, j]
            total += a[j]
        for t in range(lo, hi):
            step = _advance(a, y, dens, t, trans, k)
            z = 0.0
            for j in range(k):
                q[j] = beta[t, j]
                z += y[j] * q[j]
            if not (step >= _SAFE and z >= _SAFE):  # rare, as in _backward_stats
                exps += _rescale(a, k, total)[0]
                step = _advance(a, y, dens, t, trans, k)
                if not step > 0.0:
                    return exps, step, t
                size = 0.0
                for j in range(k):
                    size += q[j]
                _rescale(q, k, size)
                z = 0.0
                for j in range(k):
                    z += y[j] * q[j]
                if not z > 0.0:  # no path through row t: the forward recursion finds why
                    for j in range(k):
                        alpha[t - 1, j] = a[j]
                    more, step, row = _forward(dens, t, hi, True, a, trans, alpha)
                    return exps + more, step, row if row >= 0 else t
            inverse = 1.0 / z
            for j in range(k):
                c[j] = y[j] * inverse  # before the product with q: it may be tiny
            for j in range(k):
                g[j] = c[j] * q[j]
            if moments:
                _add_moments(g, x, t, means, second, local_sums, k)
            else:
                for j in range(k):
                    gamma[t, j] = g[j]
            if t > lo:
                for j in range(k):
                    q[j] *= dens[t, j]
                for i in range(k):
                    c[i] = a[i] * inverse
                for i in range(k):
                    for j in range(k):
                        local_xi[i * k + j] += c[i] * trans[i, j] * q[j]
            if not step >= _TINY:
                e, step = _rescale(y, k, step)
                exps += e
            for j in range(k):
                a[j] = y[j]
            total = step
        for i in range(k):
            for j in range(k):
                xi[i, j] += local_xi[i * k + j]
        if moments:
            sums += local_sums
        return exps, total, -1

    @kernel()
    def _chunks(
        dens: np.ndarray,
        offsets: np.ndarray,
        bounds: np.ndarray,
        starts: np.ndarray,
        trans: np.ndarray,
        alpha: np.ndarray,
        gamma: np.ndarray,
        first: np.ndarray,
        x: np.ndarray,
        means: np.ndarray,
        second: np.ndarray,
        xi: np.ndarray,
        sums: np.ndarray,
        logliks: np.ndarray,
        bad: np.ndarray,
    ) -> None:
        """Forward, then backward with the statistics, sequence by sequence; one task
        per chunk of sequences, each with its own totals."""
        for c in numba.prange(bounds.shape[0] - 1):
            total = 0.0
            for s in range(bounds[c], bounds[c + 1]):
                lo, hi = offsets[s], offsets[s + 1]
                exps, last, row = _forward(dens, lo, hi, False, starts[s], trans, alpha)
                if row < 0:
                    row = _backward_stats(
                        dens, lo, hi, False, trans, alpha, alpha, gamma, first[s],
                        x, means, second, xi[c], sums[c],
                    )  # fmt: skip
                if row >= 0:
                    bad[c] = row
                    break
                total += math.log(last) - exps * _LN2
            logliks[c] = total

    @kernel(parallel=True)
    def _halves(
        dens: np.ndarray,
        start: np.ndarray,
        trans: np.ndarray,
        alpha: np.ndarray,
        beta: np.ndarray,
        gamma: np.ndarray,
        first: np.ndarray,
        x: np.ndarray,
        means: np.ndarray,
        second: np.ndarray,
        xi: np.ndarray,
        sums: np.ndarray,
        logliks: np.ndarray,
        bad: np.ndarray,
    ) -> None:
        """One sequence on two threads: the forward recursion over the first half and
        the backward over the second at once, then each continues into the other half
        with the stored vectors of the other, forming the posteriors as it goes.
        Each half has its own totals (index 0: first half)."""
        n = dens.shape[0]
        middle = n // 2
        exps = np.zeros(2, dtype=np.int64)
        ends = np.zeros(2)
        for task in numba.prange(2):
            if task == 0:
                exps[0], ends[0], bad[0] = _forward(dens, 0, middle, False, start, trans, alpha)
            else:
                bad[1] = _backward(dens, middle, n, trans, beta)
        if bad[0] >= 0:
            return
        if bad[1] >= 0:  # zero likelihood: the forward recursion finds the first such row
            row = bad[1]
            exps[1], ends[1], bad[1] = _forward(dens, middle, n, True, start, trans, alpha)
            if bad[1] < 0:
                bad[1] = row
            return
        for task in numba.prange(2):
            if task == 0:
                bad[0] = _backward_stats(
                    dens, 0, middle, True, trans, alpha, beta, gamma, first,
                    x, means, second, xi[0], sums[0],
                )  # fmt: skip
            else:
                exps[1], ends[1], bad[1] = _forward_stats(
                    dens, middle, n, trans, alpha, beta, gamma, x, means, second, xi[1], sums[1]
                )
        if bad[1] >= 0:  # the forward recursion's row is the first of zero likelihood
            bad[0] = -1
            return
        logliks[0] = math.log(ends[1]) - (exps[0] + exps[1]) * _LN2

    parallel = kernel(parallel=True)(_twin(_chunks.py_func, "_chunks_parallel"))
    return _chunks, parallel, _halves


@functools.cache
def _forward_backward_kernels(k: int, moments: bool = False) -> tuple[Any, Any, Any]:
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
    n_seq = offsets.shape[0] - 1
    alpha = _buffer(work, "alpha", (n, k))
    if gaussian is None:
        x, means, second = np.zeros((n, 0)), np.zeros((k, 0)), np.zeros((k, 0))
    else:
        x, means, second = gaussian
    serial, parallel, halves = _forward_backward_kernels(k, gaussian is not None)
    first = np.zeros((n_seq, k))
    if n_seq == 1 and n >= PARALLEL_MIN_ROWS:
        # one long sequence: its two halves on two threads (the split depends on n only)
        parts = 2
        beta = _buffer(work, "beta", (n, k))
        xi = np.zeros((parts, k, k))
        sums = np.zeros((parts, k, 1 + 2 * x.shape[1]))
        logliks = np.zeros(1)
        bad_parts = np.full(parts, -1, dtype=np.int64)
        halves(dens, starts[0], trans, alpha, beta, gamma, first[0], x, means, second, xi, sums,
               logliks, bad_parts)  # fmt: skip
    else:
        bounds = chunk_bounds(offsets)
        parts = bounds.shape[0] - 1
        xi = np.zeros((parts, k, k))
        sums = np.zeros((parts, k, 1 + 2 * x.shape[1]))
        logliks = np.zeros(parts)
        bad_parts = np.full(parts, -1, dtype=np.int64)
        kernel = parallel if parts > 1 else serial
        kernel(dens, offsets, bounds, starts, trans, alpha, gamma, first, x, means, second, xi,
               sums, logliks, bad_parts)  # fmt: skip
    failed_rows = bad_parts[bad_parts >= 0]
    bad = int(failed_rows.min()) if failed_rows.size else -1
    return xi.sum(axis=0), first, float(logliks.sum() + top.sum()), bad, sums.sum(axis=0)


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
