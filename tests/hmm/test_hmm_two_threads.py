"""The forward-backward rescaled by powers of two, on one long sequence split over two
threads and on many sequences: exact against an independent oracle, the same bits on
one thread and on two.

Oracle: Rabiner's scaled forward-backward in plain numpy (every vector normalised at
every step, float64), sequence by sequence; its errors grow like the machine epsilon
times the square root of the length, so long sequences are compared to 1e-9.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest

from emstat.hmm import kernels

LONG = kernels.PARALLEL_MIN_ROWS + 1001  # long enough for the two-thread kernel


def rabiner(log_b: np.ndarray, start: np.ndarray, trans: np.ndarray):
    """gamma, xi summed and the log-likelihood of one sequence, normalised per step."""
    n, k = log_b.shape
    top = log_b.max(axis=1)
    dens = np.exp(log_b - top[:, None])
    alpha = np.empty((n, k))
    scale = np.empty(n)
    value = start * dens[0]
    for t in range(n):
        if t:
            value = (alpha[t - 1] @ trans) * dens[t]
        scale[t] = value.sum()
        alpha[t] = value / scale[t]
    beta = np.ones((n, k))
    xi = np.zeros((k, k))
    for t in range(n - 1, 0, -1):
        weighted = dens[t] * beta[t] / scale[t]
        xi += alpha[t - 1][:, None] * trans * weighted[None, :]
        beta[t - 1] = trans @ weighted
    gamma = alpha * beta
    return gamma, xi, float(np.log(scale).sum() + top.sum())


def oracle(log_b, offsets, starts, trans):
    """The oracle over every sequence: gamma, xi summed, first rows, loglik."""
    parts = [
        rabiner(log_b[offsets[s] : offsets[s + 1]], starts[s], trans)
        for s in range(len(offsets) - 1)
    ]
    gamma = np.concatenate([p[0] for p in parts])
    first = np.array([p[0][0] for p in parts])
    return gamma, sum(p[1] for p in parts), first, sum(p[2] for p in parts)


def gaussian_log_b(x, means, variances):
    """Diagonal Gaussian log densities, a missing coordinate marginalised."""
    seen = ~np.isnan(x)
    z = (np.nan_to_num(x)[:, None, :] - means[None]) / np.sqrt(variances)[None]
    terms = -0.5 * (np.log(2 * np.pi * variances)[None] + z * z)
    return np.where(seen[:, None, :], terms, 0.0).sum(axis=2)


def chain(rng, n, k):
    """A sticky chain's path and 1-D Gaussian observations of it."""
    trans = np.full((k, k), 0.1 / (k - 1)) + np.eye(k) * (0.9 - 0.1 / (k - 1))
    states = np.empty(n, dtype=int)
    states[0] = 0
    for t in range(1, n):
        states[t] = rng.choice(k, p=trans[states[t - 1]])
    means = np.linspace(-3.0, 3.0, k)[:, None]
    x = means[states] + rng.normal(size=(n, 1))
    return x, trans, means, np.full((k, 1), 1.0)


def on_threads(count, function, *args):
    before = numba.get_num_threads()
    numba.set_num_threads(min(count, numba.config.NUMBA_NUM_THREADS))
    try:
        return function(*args)
    finally:
        numba.set_num_threads(before)


def assert_same_bits(a, b):
    for left, right in zip(a, b, strict=True):
        if isinstance(left, np.ndarray):
            np.testing.assert_array_equal(left, right)
        else:
            assert left == right


def test_one_long_sequence_matches_the_oracle_with_hard_rows():
    """The two-thread kernel: an outlier 40 sd away, rows missing everything (one of
    them where the halves meet, one first, one last), against the oracle."""
    rng = np.random.default_rng(11)
    x, trans, means, variances = chain(rng, LONG, 3)
    middle = LONG // 2
    x[[0, middle - 1, middle, LONG - 1]] = np.nan
    x[1234] = 40.0 * 1.0 + 3.0  # 40 sd beyond the highest mean
    x[middle + 7] = -45.0
    starts = np.array([[0.2, 0.5, 0.3]])
    offsets = np.array([0, LONG])
    log_b = gaussian_log_b(x, means, variances)
    gamma, xi, first, loglik, bad = kernels.forward_backward(log_b, offsets, starts, trans)
    want_gamma, want_xi, want_first, want_loglik = oracle(log_b, offsets, starts, trans)
    assert bad == -1
    np.testing.assert_allclose(gamma, want_gamma, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gamma.sum(axis=1), 1.0, rtol=1e-13)
    np.testing.assert_allclose(xi, want_xi, rtol=1e-9)
    np.testing.assert_allclose(first, want_first, rtol=1e-12)
    assert loglik == pytest.approx(want_loglik, rel=1e-12)
    # the transitions counted once each: they add to the number of steps
    assert xi.sum() == pytest.approx(LONG - 1, rel=1e-12)
    # the compiled Gaussian E-step sums the same posteriors' moments
    nk, sums, second, xi2, first2, loglik2, bad2 = kernels.gaussian_diagonal_e_step(
        x, offsets, starts, trans, means, variances
    )
    seen = ~np.isnan(x[:, 0])
    assert bad2 == -1
    np.testing.assert_allclose(nk, want_gamma[seen].sum(axis=0), rtol=1e-9)
    np.testing.assert_allclose(sums[:, 0], want_gamma[seen].T @ x[seen, 0], rtol=1e-9)
    np.testing.assert_allclose(second[:, 0], want_gamma[seen].T @ x[seen, 0] ** 2, rtol=1e-9)
    np.testing.assert_allclose(xi2, want_xi, rtol=1e-9)
    np.testing.assert_allclose(first2, want_first, rtol=1e-12)
    assert loglik2 == pytest.approx(want_loglik, rel=1e-12)


def test_long_sequence_equals_the_one_thread_kernel_of_short_sequences():
    """The halves kernel gives the numbers of the per-sequence kernel on the same rows."""
    rng = np.random.default_rng(12)
    log_b = rng.normal(scale=3.0, size=(LONG, 4))
    trans = rng.dirichlet(np.ones(4), size=4)
    start = rng.dirichlet(np.ones(4))[None]
    gamma, xi, first, loglik, _ = kernels.forward_backward(log_b, np.array([0, LONG]), start, trans)
    serial = kernels._forward_backward_kernels(4)[0]
    dens, top = kernels._scaled(log_b, None)
    offsets, bounds = np.array([0, LONG]), np.array([0, 1])
    gamma1, xi1, first1 = np.empty((LONG, 4)), np.zeros((1, 4, 4)), np.zeros((1, 4))
    logliks, bad = np.zeros(1), np.full(1, -1)
    x0, m0 = np.zeros((LONG, 0)), np.zeros((4, 0))
    serial(dens, offsets, bounds, start, trans, np.empty((LONG, 4)), gamma1, first1,
           x0, m0, m0, xi1, np.zeros((1, 4, 1)), logliks, bad)  # fmt: skip
    np.testing.assert_allclose(gamma, gamma1, rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(xi, xi1[0], rtol=1e-12)
    np.testing.assert_allclose(first, first1, rtol=1e-12)
    assert loglik == pytest.approx(logliks[0] + top.sum(), rel=1e-14)


def test_structural_zeros_and_unlikely_steps():
    """A left-right chain (structural zeros) whose every step is nearly impossible:
    the vectors fall far below the rescaling threshold in one step and are redone."""
    k = 3
    trans = np.array([[1 - 1e-200, 1e-200, 0.0], [0.0, 1 - 1e-200, 1e-200], [0.0, 0.0, 1.0]])
    n = LONG
    log_b = np.zeros((n, k))
    # the state the chain is in explains the data worse and worse by 300 nats a row
    # than the next state, to which it moves with probability 1e-200
    log_b[:, 0] = 0.0
    log_b[10:, 1] = 300.0
    log_b[n // 2 + 5 :, 2] = 600.0
    starts = np.array([[1.0, 0.0, 0.0]])
    offsets = np.array([0, n])
    gamma, xi, first, loglik, bad = kernels.forward_backward(log_b, offsets, starts, trans)
    want_gamma, want_xi, want_first, want_loglik = oracle(log_b, offsets, starts, trans)
    assert bad == -1
    np.testing.assert_allclose(gamma, want_gamma, rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(xi, want_xi, rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(first, want_first, rtol=1e-12)
    assert xi[1, 0] == 0.0 and xi[2, 0] == 0.0 and xi[2, 1] == 0.0 and xi[0, 2] == 0.0
    assert loglik == pytest.approx(want_loglik, rel=1e-12)


@pytest.mark.parametrize("row", [5, LONG // 2 - 1, LONG // 2, LONG - 2])
def test_zero_likelihood_row_in_either_half(row):
    """A row no state can emit is reported, in either half of the two-thread kernel."""
    log_b = np.zeros((LONG, 2))
    log_b[row] = -np.inf
    trans = np.array([[0.9, 0.1], [0.2, 0.8]])
    *_, bad = kernels.forward_backward(log_b, np.array([0, LONG]), np.array([[0.5, 0.5]]), trans)
    assert bad == row
    # a structural zero no path avoids: state 1 is unreachable and the only one to emit
    log_b = np.zeros((LONG, 2))
    log_b[row, 0] = -np.inf
    trans = np.array([[1.0, 0.0], [0.0, 1.0]])
    *_, bad = kernels.forward_backward(log_b, np.array([0, LONG]), np.array([[1.0, 0.0]]), trans)
    assert bad == row


def test_short_sequences_of_length_one_and_rows_missing_everything():
    rng = np.random.default_rng(13)
    lengths = [1, 3, 1, 1, 40, 1, 2]
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    k = 3
    log_b = rng.normal(scale=5.0, size=(offsets[-1], k))
    log_b[[0, 4, 20]] = 0.0  # rows with nothing observed
    trans = rng.dirichlet(np.ones(k), size=k)
    trans[1, 2] = 0.0
    trans[1] /= trans[1].sum()
    starts = rng.dirichlet(np.ones(k), size=len(lengths))
    gamma, xi, first, loglik, bad = kernels.forward_backward(log_b, offsets, starts, trans)
    want_gamma, want_xi, want_first, want_loglik = oracle(log_b, offsets, starts, trans)
    assert bad == -1
    np.testing.assert_allclose(gamma, want_gamma, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(xi, want_xi, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(first, want_first, rtol=1e-12)
    assert loglik == pytest.approx(want_loglik, rel=1e-13)
    assert xi[1, 2] == 0.0


@pytest.mark.parametrize("lengths", [[LONG], [1000] * 60 + [1, 7]])
def test_same_bits_on_one_and_two_threads(lengths):
    """One long sequence (two halves) and many sequences (chunks), posteriors stored
    and Gaussian moments summed: the same numbers to the last bit."""
    rng = np.random.default_rng(14)
    n = int(np.sum(lengths))
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    x, trans, means, variances = chain(rng, n, 3)
    x[rng.random(n) < 0.01] = np.nan
    starts = np.tile([0.3, 0.3, 0.4], (len(lengths), 1))
    log_b = gaussian_log_b(x, means, variances)
    runs = {}
    for count in (1, 2):
        runs[count] = (
            on_threads(count, kernels.forward_backward, log_b, offsets, starts, trans),
            on_threads(
                count,
                kernels.gaussian_diagonal_e_step,
                x, offsets, starts, trans, means, variances,
            ),
        )  # fmt: skip
    for one, two in zip(runs[1], runs[2], strict=True):
        assert_same_bits(one, two)
    assert runs[1][0][-1] == -1 and math.isfinite(runs[1][0][3])
