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
probabilities ``gamma`` (or, for Gaussian emissions, straight into the
moments Σγ, Σγx, Σγx², without a ``(T, k)`` posterior) and the expected
transition counts ``xi``.  A step whose scale is 0 (no state can emit the
row, or none can be reached) has zero likelihood: the kernels return its
row and the caller raises.

Parallel work: sequences are grouped into chunks that depend on the data
only, one chunk per task; chunk totals are summed in chunk order, so a
result does not depend on the number of threads.  One long sequence runs its
forward and backward passes on two threads at once (the backward vectors do
not need the forward ones) and then combines them in parallel blocks of rows.

The numpy versions in ``tests/test_hmm_kernels.py`` are these kernels' oracle.
"""

from __future__ import annotations

import math

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
    k = dens.shape[1]
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


@numba.njit(inline="always", cache=True)
def _add_moments(
    local: np.ndarray,
    g: np.ndarray,
    x: np.ndarray,
    t: int,
    means: np.ndarray,
    variances: np.ndarray,
) -> None:
    """Add row t's Σγ, Σγx, Σγx² to ``local`` (k, 1 + 2d); a missing coordinate enters by
    its moments given the state, a row with nothing observed not at all."""
    k = g.shape[0]
    d = x.shape[1]
    observed = 0
    for c in range(d):
        observed += x[t, c] == x[t, c]
    if observed == d:
        for j in range(k):
            local[j, 0] += g[j]
            for c in range(d):
                gv = g[j] * x[t, c]
                local[j, 1 + c] += gv
                local[j, 1 + d + c] += gv * x[t, c]
    elif observed > 0:
        for j in range(k):
            local[j, 0] += g[j]
            for c in range(d):
                v = x[t, c]
                if not v == v:
                    v = means[j, c]
                    local[j, 1 + d + c] += g[j] * variances[j, c]
                local[j, 1 + c] += g[j] * v
                local[j, 1 + d + c] += g[j] * v * v


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
    x: np.ndarray,
    means: np.ndarray,
    variances: np.ndarray,
    moments: np.ndarray,
    first: np.ndarray,
) -> tuple[float, int]:
    """One sequence, rows ``lo:hi``, of scaled densities ``dens``.

    Adds its expected transitions to ``xi`` and writes its first row's
    posterior to ``first``.  With ``gamma`` of T rows the posteriors are
    written there; otherwise (diagonal Gaussian emissions, ``x`` of T rows)
    Σγ, Σγx and Σγx² of the observed rows are added to ``moments`` (k, 1 + 2d)
    on the way back.  Returns the sum of the log scales and -1, or the first
    row of zero likelihood.
    """
    log_scales, bad = _forward_pass(dens, lo, hi, start, trans, alpha, scales)
    if bad >= 0:
        return log_scales, bad
    k = dens.shape[1]
    write_gamma = gamma.shape[0] > 0
    # local sums: the compiler keeps them apart from the arrays read in the loop
    local = np.zeros((k, moments.shape[1]))
    local_xi = np.zeros((k, k))
    beta = np.ones(k)
    weighted = np.empty(k)
    g = np.empty(k)
    for t in range(hi - 1, lo - 1, -1):
        scale = scales[t]
        for j in range(k):
            g[j] = alpha[t, j] * scale * beta[j]
        if write_gamma:
            for j in range(k):
                gamma[t, j] = g[j]
        else:
            _add_moments(local, g, x, t, means, variances)
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
        for c in range(moments.shape[1]):
            moments[i, c] += local[i, c]
    return log_scales, -1


@numba.njit(cache=True)
def _backward_pass(dens: np.ndarray, trans: np.ndarray, beta: np.ndarray, sums: np.ndarray) -> int:
    """The backward vectors of one sequence, each normalised to sum 1 (``beta``), with the
    sum before normalising (``sums``); -1, or the first row where they vanish."""
    n, k = dens.shape
    for j in range(k):
        beta[n - 1, j] = 1.0 / k
    sums[n - 1] = 1.0
    weighted = np.empty(k)
    for t in range(n - 2, -1, -1):
        for j in range(k):
            weighted[j] = dens[t + 1, j] * beta[t + 1, j]
        total = 0.0
        for i in range(k):
            acc = 0.0
            for j in range(k):
                acc += trans[i, j] * weighted[j]
            beta[t, i] = acc
            total += acc
        if not total > 0.0:
            return t
        inverse = 1.0 / total
        for i in range(k):
            beta[t, i] *= inverse
        sums[t] = total
    return -1


@numba.njit(cache=True)
def _combine_rows(
    dens: np.ndarray,
    lo: int,
    hi: int,
    trans: np.ndarray,
    alpha: np.ndarray,
    scales: np.ndarray,
    beta: np.ndarray,
    sums: np.ndarray,
    xi: np.ndarray,
    gamma: np.ndarray,
    x: np.ndarray,
    means: np.ndarray,
    variances: np.ndarray,
    moments: np.ndarray,
) -> None:
    """Posteriors, expected transitions and moments of rows ``lo:hi`` of one sequence
    from its stored forward and backward vectors."""
    n, k = dens.shape
    write_gamma = gamma.shape[0] > 0
    a = np.empty(k)
    g = np.empty(k)
    for t in range(lo, hi):
        scale = scales[t]
        norm = 0.0
        for j in range(k):
            a[j] = alpha[t, j] * scale
            g[j] = a[j] * beta[t, j]
            norm += g[j]
        inverse = 1.0 / norm
        for j in range(k):
            g[j] *= inverse
        if write_gamma:
            for j in range(k):
                gamma[t, j] = g[j]
        else:
            _add_moments(moments, g, x, t, means, variances)
        if t + 1 < n:
            # Σ_ij a_t(i) A_ij b_{t+1}(j) β_{t+1}(j) = sums[t] Σ_i a_t(i) β_t(i)
            factor = inverse / sums[t]
            for i in range(k):
                ai = a[i] * factor
                for j in range(k):
                    xi[i, j] += ai * trans[i, j] * dens[t + 1, j] * beta[t + 1, j]


@numba.njit(parallel=True, cache=True)
def _single_sequence(
    dens: np.ndarray,
    start: np.ndarray,
    trans: np.ndarray,
    alpha: np.ndarray,
    scales: np.ndarray,
    beta: np.ndarray,
    sums: np.ndarray,
    xi: np.ndarray,
    gamma: np.ndarray,
    x: np.ndarray,
    means: np.ndarray,
    variances: np.ndarray,
    moments: np.ndarray,
    result: np.ndarray,
) -> None:
    """One long sequence on two threads: the forward and backward passes at once (the
    backward vectors do not need the forward ones), then the rows in parallel blocks.
    ``result`` receives the sum of the log scales and the first bad row."""
    n = dens.shape[0]
    for task in numba.prange(2):
        if task == 0:
            log_scales, bad = _forward_pass(dens, 0, n, start, trans, alpha, scales)
            result[0] = log_scales
            result[1] = bad
        else:
            result[2] = _backward_pass(dens, trans, beta, sums)
    if result[1] >= 0 or result[2] >= 0:
        return
    n_blocks = xi.shape[0]
    for b in numba.prange(n_blocks):
        lo = b * _BLOCK_ROWS
        hi = min(n, lo + _BLOCK_ROWS)
        _combine_rows(
            dens,
            lo,
            hi,
            trans,
            alpha,
            scales,
            beta,
            sums,
            xi[b],
            gamma,
            x,
            means,
            variances,
            moments[b],
        )


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
    x: np.ndarray,
    means: np.ndarray,
    variances: np.ndarray,
    moments: np.ndarray,
    first: np.ndarray,
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
                x,
                means,
                variances,
                moments[c],
                first[s],
            )
            if row >= 0:
                bad[c] = row
                break
            total += part
        log_scales[c] = total


_forward_backward_parallel = numba.njit(parallel=True, cache=True)(_forward_backward_chunks.py_func)


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
    x: np.ndarray,
    means: np.ndarray,
    variances: np.ndarray,
    moment_width: int,
    work: Workspace | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, int]:
    """Forward-backward over every sequence: xi, the first rows' posteriors, the moments,
    the log-likelihood and the first bad row."""
    n, k = dens.shape
    offsets = np.asarray(offsets, dtype=np.int64)
    if offsets.shape[0] == 2 and n >= PARALLEL_MIN_ROWS and numba.get_num_threads() > 1:
        return _run_single(dens, top, starts, trans, gamma, x, means, variances, moment_width, work)
    bounds = chunk_bounds(offsets)
    n_chunks = bounds.shape[0] - 1
    xi = np.zeros((n_chunks, k, k))
    moments = np.zeros((n_chunks, k, moment_width))
    first = np.zeros((offsets.shape[0] - 1, k))
    log_scales = np.zeros(n_chunks)
    bad = np.full(n_chunks, -1, dtype=np.int64)
    kernel = _forward_backward_parallel if n_chunks > 1 else _forward_backward_chunks
    kernel(
        dens,
        offsets,
        bounds,
        np.ascontiguousarray(starts, dtype=np.float64),
        np.ascontiguousarray(trans, dtype=np.float64),
        _buffer(work, "alpha", (n, k)),
        _buffer(work, "scales", (n,)),
        xi,
        gamma,
        x,
        means,
        variances,
        moments,
        first,
        log_scales,
        bad,
    )
    failed = bad[bad >= 0]
    loglik = float(log_scales.sum() + top.sum())
    return (
        xi.sum(axis=0),
        first,
        moments.sum(axis=0),
        loglik,
        int(failed.min()) if failed.size else -1,
    )


def _run_single(
    dens: np.ndarray,
    top: np.ndarray,
    starts: np.ndarray,
    trans: np.ndarray,
    gamma: np.ndarray,
    x: np.ndarray,
    means: np.ndarray,
    variances: np.ndarray,
    moment_width: int,
    work: Workspace | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, int]:
    """:func:`_run` for one long sequence, on two threads (see :func:`_single_sequence`)."""
    n, k = dens.shape
    n_blocks = (n + _BLOCK_ROWS - 1) // _BLOCK_ROWS
    xi = np.zeros((n_blocks, k, k))
    moments = np.zeros((n_blocks, k, moment_width))
    result = np.array([0.0, -1.0, -1.0])
    alpha = _buffer(work, "alpha", (n, k))
    beta = _buffer(work, "beta", (n, k))
    _single_sequence(
        dens,
        np.ascontiguousarray(starts[0], dtype=np.float64),
        np.ascontiguousarray(trans, dtype=np.float64),
        alpha,
        _buffer(work, "scales", (n,)),
        beta,
        _buffer(work, "sums", (n,)),
        xi,
        gamma,
        x,
        means,
        variances,
        moments,
        result,
    )
    bad = int(result[1]) if result[1] >= 0 else int(result[2])
    first = np.zeros((1, k))
    if bad < 0:
        first[0] = alpha[0] * beta[0] / float(alpha[0] @ beta[0])
    loglik = float(result[0] + top.sum())
    return xi.sum(axis=0), first, moments.sum(axis=0), loglik, bad


def _scaled(log_b: np.ndarray, work: Workspace | None) -> tuple[np.ndarray, np.ndarray]:
    log_b = np.ascontiguousarray(log_b, dtype=np.float64)
    dens = _buffer(work, "dens", log_b.shape)
    top = _buffer(work, "top", (log_b.shape[0],))
    kernel = _scale_parallel if log_b.shape[0] >= PARALLEL_MIN_ROWS else _scale_blocks
    kernel(log_b, dens, top)
    return dens, top


_NO_ROWS = np.empty((0, 1))


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
    xi, first, _, loglik, bad = _run(
        dens, top, offsets, starts, trans, gamma, _NO_ROWS, _NO_ROWS, _NO_ROWS, 1, work
    )
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
    """Baum-Welch's E-step with diagonal Gaussian emissions, no (T, k) posterior formed.

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
    xi, first, moments, loglik, bad = _run(
        dens, top, offsets, starts, trans, np.empty((0, k)), x, means, variances, 1 + 2 * d, work
    )
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
