"""The compiled forward-backward and Viterbi against plain numpy and brute force.

Oracles: a log-domain forward-backward in numpy (no scaling, scipy's
logsumexp), and the enumeration of every state path of short sequences.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.special import logsumexp

from emstat.hmm import kernels


def numpy_forward_backward(log_b, start, trans):
    """Log-domain forward-backward of one sequence: gamma, xi summed, loglik."""
    n, k = log_b.shape
    with np.errstate(divide="ignore"):
        log_a, log_s = np.log(trans), np.log(start)
    alpha = np.empty((n, k))
    beta = np.zeros((n, k))
    alpha[0] = log_s + log_b[0]
    for t in range(1, n):
        alpha[t] = logsumexp(alpha[t - 1][:, None] + log_a, axis=0) + log_b[t]
    for t in range(n - 2, -1, -1):
        beta[t] = logsumexp(log_a + (log_b[t + 1] + beta[t + 1])[None, :], axis=1)
    loglik = logsumexp(alpha[-1])
    gamma = np.exp(alpha + beta - loglik)
    xi = np.zeros((k, k))
    for t in range(n - 1):
        xi += np.exp(alpha[t][:, None] + log_a + (log_b[t + 1] + beta[t + 1])[None, :] - loglik)
    return gamma, xi, loglik


def numpy_viterbi(log_b, start, trans):
    n, k = log_b.shape
    with np.errstate(divide="ignore"):
        log_a, log_s = np.log(trans), np.log(start)
    delta = log_s + log_b[0]
    back = np.zeros((n, k), dtype=int)
    for t in range(1, n):
        scores = delta[:, None] + log_a
        back[t] = np.argmax(scores, axis=0)
        delta = scores.max(axis=0) + log_b[t]
    path = np.empty(n, dtype=int)
    path[-1] = int(np.argmax(delta))
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path, float(delta.max())


def brute_force(log_b, start, trans):
    """Every state path: loglik, posteriors, the best path and its log-probability."""
    n, k = log_b.shape
    total = -np.inf
    best, best_path = -np.inf, None
    weights = {}
    for path in itertools.product(range(k), repeat=n):
        with np.errstate(divide="ignore"):
            lp = np.log(start[path[0]]) + log_b[0, path[0]]
            for t in range(1, n):
                lp += np.log(trans[path[t - 1], path[t]]) + log_b[t, path[t]]
        weights[path] = lp
        total = np.logaddexp(total, lp)
        if lp > best:
            best, best_path = lp, path
    gamma = np.zeros((n, k))
    for path, lp in weights.items():
        gamma[np.arange(n), list(path)] += np.exp(lp - total)
    return total, gamma, np.array(best_path), best


def random_chain(rng, n, k, zeros=False):
    trans = rng.dirichlet(np.ones(k), size=k)
    if zeros and k > 2:
        trans[0, -1] = 0.0
        trans[0] /= trans[0].sum()
    start = rng.dirichlet(np.ones(k))
    log_b = rng.normal(scale=3.0, size=(n, k))
    return log_b, start, trans


@pytest.mark.parametrize("n,k", [(1, 2), (5, 2), (8, 2), (6, 3), (4, 4)])
def test_brute_force_enumeration(n, k):
    rng = np.random.default_rng(n * 10 + k)
    log_b, start, trans = random_chain(rng, n, k, zeros=True)
    total, gamma_bf, path_bf, best = brute_force(log_b, start, trans)
    offsets = np.array([0, n])
    gamma, _, first, loglik, bad = kernels.forward_backward(log_b, offsets, start[None], trans)
    assert bad == -1
    assert loglik == pytest.approx(total, rel=1e-12)
    np.testing.assert_allclose(gamma, gamma_bf, atol=1e-12)
    np.testing.assert_allclose(first[0], gamma_bf[0], atol=1e-12)
    path, logprob = kernels.viterbi(log_b, offsets, start[None], trans)
    np.testing.assert_array_equal(path, path_bf)
    assert logprob == pytest.approx(best, rel=1e-12)
    ll, bad = kernels.forward_loglik(log_b, offsets, start[None], trans)
    assert bad == -1 and ll == pytest.approx(total, rel=1e-12)


def test_many_sequences_against_numpy():
    rng = np.random.default_rng(3)
    k = 3
    lengths = [1, 7, 30, 2, 55]
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    log_b = rng.normal(scale=4.0, size=(offsets[-1], k))
    log_b[10] = 0.0  # a row with nothing observed
    trans = rng.dirichlet(np.ones(k), size=k)
    starts = rng.dirichlet(np.ones(k), size=len(lengths))
    gamma, xi, first, loglik, bad = kernels.forward_backward(log_b, offsets, starts, trans)
    assert bad == -1
    total_xi = np.zeros((k, k))
    total = 0.0
    for s in range(len(lengths)):
        rows = slice(offsets[s], offsets[s + 1])
        g, x, ll = numpy_forward_backward(log_b[rows], starts[s], trans)
        np.testing.assert_allclose(gamma[rows], g, atol=1e-12)
        np.testing.assert_allclose(first[s], g[0], atol=1e-12)
        total_xi += x
        total += ll
        path, _ = kernels.viterbi(log_b[rows], np.array([0, lengths[s]]), starts[s][None], trans)
        np.testing.assert_array_equal(path, numpy_viterbi(log_b[rows], starts[s], trans)[0])
    np.testing.assert_allclose(xi, total_xi, rtol=1e-11, atol=1e-12)
    assert loglik == pytest.approx(total, rel=1e-12)


def test_parallel_chunks_equal_serial():
    """Enough rows for the parallel loop over chunks of sequences: same numbers as one chunk."""
    rng = np.random.default_rng(4)
    lengths = rng.integers(1, 400, size=600)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    assert offsets[-1] >= kernels.PARALLEL_MIN_ROWS
    assert kernels.chunk_bounds(offsets).shape[0] > 2
    k = 2
    log_b = rng.normal(size=(offsets[-1], k))
    trans = np.array([[0.9, 0.1], [0.2, 0.8]])
    starts = np.tile([0.5, 0.5], (lengths.size, 1))
    gamma, xi, first, loglik, _ = kernels.forward_backward(log_b, offsets, starts, trans)
    for s in (0, 17, 599):
        rows = slice(offsets[s], offsets[s + 1])
        g, _, _ = numpy_forward_backward(log_b[rows], starts[s], trans)
        np.testing.assert_allclose(gamma[rows], g, atol=1e-12)
    total, xi_total = 0.0, np.zeros((k, k))
    for s in range(lengths.size):
        rows = slice(offsets[s], offsets[s + 1])
        one = np.array([0, lengths[s]])
        _, x, f, ll, _ = kernels.forward_backward(log_b[rows], one, starts[:1], trans)
        np.testing.assert_allclose(first[s], f[0], rtol=1e-13)
        total += ll
        xi_total += x
    assert loglik == pytest.approx(total, rel=1e-12)
    np.testing.assert_allclose(xi, xi_total, rtol=1e-11)


def test_zero_likelihood_row_is_reported():
    log_b = np.zeros((4, 2))
    log_b[2] = -np.inf
    _, _, _, _, bad = kernels.forward_backward(
        log_b, np.array([0, 4]), np.array([[0.5, 0.5]]), np.eye(2)
    )
    assert bad == 2
    # a structural zero that no path can avoid
    log_b = np.zeros((3, 2))
    log_b[1, 1] = -np.inf
    trans = np.array([[0.0, 1.0], [0.0, 1.0]])
    _, bad = kernels.forward_loglik(log_b, np.array([0, 3]), np.array([[1.0, 0.0]]), trans)
    assert bad == 1


def test_gaussian_one_pass_equals_general_path():
    """The diagonal Gaussian E-step without posteriors equals gamma-weighted moments."""
    rng = np.random.default_rng(5)
    n, k, d = 300, 3, 2
    x = rng.normal(size=(n, d))
    x[5, 1] = np.nan
    x[9] = np.nan
    means = rng.normal(size=(k, d))
    variances = rng.uniform(0.5, 2.0, size=(k, d))
    trans = rng.dirichlet(np.ones(k), size=k)
    offsets = np.array([0, 100, 101, n])
    starts = rng.dirichlet(np.ones(k), size=3)
    nk, sums, second, xi, first, loglik, bad = kernels.gaussian_diagonal_e_step(
        x, offsets, starts, trans, means, variances
    )
    assert bad == -1
    seen = ~np.isnan(x)
    z = (np.nan_to_num(x)[:, None, :] - means[None]) / np.sqrt(variances)[None]
    log_b = np.where(
        seen[:, None, :], -0.5 * (np.log(2 * np.pi * variances)[None] + z * z), 0.0
    ).sum(axis=2)
    gamma, xi2, first2, loglik2, _ = kernels.forward_backward(log_b, offsets, starts, trans)
    rows = seen.any(axis=1)
    filled = np.where(seen[:, None, :], np.nan_to_num(x)[:, None, :], means[None])
    second_rows = np.where(
        seen[:, None, :], np.nan_to_num(x)[:, None, :] ** 2, means[None] ** 2 + variances[None]
    )
    g = gamma[rows]
    np.testing.assert_allclose(nk, g.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(sums, np.einsum("tk,tkd->kd", g, filled[rows]), rtol=1e-11)
    np.testing.assert_allclose(second, np.einsum("tk,tkd->kd", g, second_rows[rows]), rtol=1e-11)
    np.testing.assert_allclose(xi, xi2, rtol=1e-11)
    np.testing.assert_allclose(first, first2, rtol=1e-11)
    assert loglik == pytest.approx(loglik2, rel=1e-13)


def test_long_sequence_does_not_underflow():
    rng = np.random.default_rng(6)
    n = 200_000
    log_b = rng.normal(loc=-30.0, scale=5.0, size=(n, 2))
    trans = np.array([[0.99, 0.01], [0.01, 0.99]])
    gamma, _, _, loglik, bad = kernels.forward_backward(
        log_b, np.array([0, n]), np.array([[0.5, 0.5]]), trans
    )
    assert bad == -1 and np.isfinite(loglik) and loglik < -30.0 * n * 0.9
    np.testing.assert_allclose(gamma.sum(axis=1), 1.0, rtol=1e-12)
    ll, _ = kernels.forward_loglik(log_b, np.array([0, n]), np.array([[0.5, 0.5]]), trans)
    assert ll == pytest.approx(loglik, rel=1e-12)


def _call_kernel(serial, dens, offsets, starts, trans, gaussian=None):
    """One forward-backward by the given kernel: gamma, xi, first, log-scales, moments."""
    n, k = dens.shape
    bounds = kernels.chunk_bounds(offsets)
    n_chunks = bounds.shape[0] - 1
    if gaussian is None:
        gaussian = (np.zeros((n, 0)), np.zeros((k, 0)), np.zeros((k, 0)))
    x, means, second = gaussian
    gamma = np.zeros((n, k))
    xi = np.zeros((n_chunks, k, k))
    first = np.zeros((offsets.shape[0] - 1, k))
    sums = np.zeros((n_chunks, k, 1 + 2 * x.shape[1]))
    log_scales = np.zeros(n_chunks)
    bad = np.full(n_chunks, -1, dtype=np.int64)
    alpha = np.empty((n, k))
    serial(
        dens, offsets, bounds, starts, trans, alpha, gamma, first,
        x, means, second, xi, sums, log_scales, bad,
    )  # fmt: skip
    return gamma, xi.sum(axis=0), first, log_scales.sum(), sums.sum(axis=0), bad


@pytest.mark.parametrize("moments", [False, True])
@pytest.mark.parametrize("k", range(1, 10))
def test_specialised_kernels_equal_the_generic_one(k, moments):
    """The kernels compiled for k states give the generic kernel's numbers, several
    sequences (one of length 1), missing coordinates among the data."""
    rng = np.random.default_rng(100 + k)
    offsets = np.array([0, 1, 40, 41 + 17, 130], dtype=np.int64)
    n, n_seq, d = int(offsets[-1]), offsets.shape[0] - 1, 2
    dens = rng.random((n, k)) + 0.01
    trans = rng.dirichlet(np.ones(k), size=k)
    starts = rng.dirichlet(np.ones(k), size=n_seq)
    x = rng.normal(size=(n, d))
    x[rng.random((n, d)) < 0.2] = np.nan
    gaussian = (x, rng.normal(size=(k, d)), rng.random((k, d)) + 1.0) if moments else None
    specialised = kernels._forward_backward_kernels(k, moments)[0]
    generic = kernels._make_forward_backward(0, moments)[0]
    if k <= kernels._SPECIALISED_MAX_K:
        assert specialised is not generic
    got = _call_kernel(specialised, dens, offsets, starts, trans, gaussian)
    want = _call_kernel(generic, dens, offsets, starts, trans, gaussian)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)
    # and both agree with the log-domain oracle, sequence by sequence
    gamma = got[0]
    if not moments:
        for s in range(n_seq):
            lo, hi = offsets[s], offsets[s + 1]
            want_gamma, _, _ = numpy_forward_backward(np.log(dens[lo:hi]), starts[s], trans)
            np.testing.assert_allclose(gamma[lo:hi], want_gamma, rtol=1e-10)
