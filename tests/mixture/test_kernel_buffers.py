"""The compiled kernels' buffers: fewer allocations and reference counts, the same numbers.

The E-step's block kernel runs without numba's reference counting and indexes
its rows instead of taking views; the diagonal M-step writes its variances
over the scatter; SQUAREM's factorisation allocates only where it fails.
These tests hold each to an independent oracle and check that no memory
leaks or is freed twice.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest
from numba.core.runtime import _nrt_python, rtsys

from emstat.mixture import fused
from emstat.mixture._em_kernels import _factorised
from emstat.mixture._fused_kernels import e_step_parallel, e_step_serial, e_step_workspace
from emstat.mixture._mstep_kernels import (
    OK,
    SHAPE_E,
    SHAPE_I,
    SHAPE_V,
    diagonal_m_step,
    diagonal_result,
    offsets_from_centre,
)

_ROUNDING = 1e3 * float(np.finfo(np.float64).eps)


def _mixture(rng: np.random.Generator, k: int, d: int) -> tuple[np.ndarray, ...]:
    weights = rng.dirichlet(np.ones(k))
    means = rng.normal(size=(k, d))
    var = rng.uniform(0.5, 2.0, size=(k, d))
    prec_chol = np.zeros((k, d, d))
    for j in range(k):
        prec_chol[j] = np.diag(1.0 / np.sqrt(var[j]))
    half_log_det = -0.5 * np.log(var).sum(axis=1)
    return weights, means, var, prec_chol, half_log_det


@pytest.mark.parametrize(("k", "d"), [(1, 1), (2, 1), (3, 2), (4, 5)])
def test_offsets_from_centre_match_the_weighted_centre_to_the_bit(k: int, d: int) -> None:
    rng = np.random.default_rng(k * 10 + d)
    weights, means = rng.dirichlet(np.ones(k)), rng.normal(size=(k, d))
    expected = np.empty((k, d))
    for c in range(d):  # the components summed in their order, as the M-steps always did
        centre = 0.0
        for j in range(k):
            centre += float(weights[j]) * float(means[j, c])
        expected[:, c] = means[:, c] - centre
    assert offsets_from_centre(weights, means).tobytes() == expected.tobytes()


def _numpy_variances(nk: np.ndarray, means: np.ndarray, second: np.ndarray, name: str) -> Any:
    """The closed-form variances of diagonal model ``name``, in numpy."""
    scatter = second - nk[:, None] * means**2
    n, d = nk.sum(), means.shape[1]
    if name == "EII":
        return np.full_like(scatter, scatter.sum() / (n * d))
    if name == "VII":
        return np.repeat((scatter.sum(axis=1) / (nk * d))[:, None], d, axis=1)
    if name == "EEI":
        return np.repeat((scatter.sum(axis=0) / n)[None, :], len(nk), axis=0)
    if name == "VVI":
        return scatter / nk[:, None]
    scales = np.exp(np.log(scatter).mean(axis=1))  # EVI: one volume, the shapes of each
    return scales.sum() / n * scatter / scales[:, None]


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("EII", (True, SHAPE_I)),
        ("VII", (False, SHAPE_I)),
        ("EEI", (True, SHAPE_E)),
        ("VVI", (False, SHAPE_V)),
        ("EVI", (True, SHAPE_V)),
    ],
)
def test_diagonal_m_step_variances_written_over_the_scatter(name: str, options: tuple) -> None:
    rng = np.random.default_rng(7)
    k, d = 3, 4
    x = rng.normal(size=(200, d)) * np.array([1.0, 2.0, 0.5, 3.0])
    resp = rng.dirichlet(np.ones(k), size=200)
    nk = resp.sum(axis=0)
    sums = resp.T @ x
    second = resp.T @ x**2
    weights, _, covariances, prec_chol, _, status = diagonal_m_step(
        nk, sums, second, np.zeros((0, d, d)), (*options, 1e-8, _ROUNDING)
    )
    assert status == OK
    expected = _numpy_variances(nk, sums / nk[:, None], second, name)
    got = np.array([np.diag(c) for c in covariances])
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    np.testing.assert_allclose(weights, nk / nk.sum(), rtol=1e-15)
    np.testing.assert_allclose(
        np.array([np.diag(p) for p in prec_chol]), 1.0 / np.sqrt(expected), rtol=1e-12
    )


def test_factorised_rejects_without_reading_factors_and_accepts_as_diagonal_result() -> None:
    rng = np.random.default_rng(3)
    weights, means, var, _, _ = _mixture(rng, 2, 2)
    covariances = np.array([np.diag(v) for v in var])
    prec, half, valid = _factorised(weights, means, covariances, True, _ROUNDING)
    offsets = offsets_from_centre(weights, means)
    *_, p_ref, h_ref, status = diagonal_result(weights, means, offsets, var, _ROUNDING, 0.0)
    assert valid and status == OK
    assert prec.tobytes() == p_ref.tobytes() and half.tobytes() == h_ref.tobytes()
    bad_means = means.copy()
    bad_means[1, 0] = np.nan
    for w, m in [(np.array([1.2, -0.2]), means), (weights, bad_means)]:
        prec, half, valid = _factorised(w, m, covariances, True, _ROUNDING)
        assert not valid
        assert prec.shape == (2, 2, 2) and not prec.any() and half.shape == (2,)


def _stats_oracle(x: np.ndarray, mixture: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """The E-step's statistics from the responsibilities, formed in numpy."""
    weights, means, var, _, _ = mixture
    log_dens = -0.5 * (((x[:, None, :] - means[None]) ** 2) / var[None]).sum(axis=2)
    log_dens += np.log(weights) - 0.5 * np.log(2 * np.pi * var).sum(axis=1)
    top = log_dens.max(axis=1, keepdims=True)
    loglik = float((top[:, 0] + np.log(np.exp(log_dens - top).sum(axis=1))).sum())
    resp = np.exp(log_dens - top)
    resp /= resp.sum(axis=1, keepdims=True)
    return resp.sum(axis=0), resp.T @ x, np.einsum("ik,ic,ie->kce", resp, x, x), loglik


@pytest.mark.parametrize(("k", "d"), [(2, 1), (3, 2), (2, 3), (3, 6)])
def test_e_step_rows_indexed_match_numpy_and_leak_nothing(k: int, d: int) -> None:
    rng = np.random.default_rng(k + d)
    x = rng.normal(size=(1000, d))
    mixture = _mixture(rng, k, d)
    weights, means, _, prec_chol, half_log_det = mixture
    block = fused.block_rows(d)
    per_log = fused.rows_per_logarithm(k)
    scratch = e_step_workspace(1000, d, k, block)
    args = (x, weights, means, prec_chol, half_log_det, True, False, block, per_log)
    e_step_serial(*args, scratch)  # compiled before the counts
    before_refs = [sys.getrefcount(a) for a in (x, weights, means, prec_chol, *scratch)]
    was_enabled = _nrt_python.memsys_stats_enabled()
    _nrt_python.memsys_enable_stats()
    try:
        start = rtsys.get_allocation_stats()
        for _ in range(20):
            nk, sums, second, diagonals, loglik, _ = e_step_serial(*args, scratch)
            del nk, sums, second, diagonals
        end = rtsys.get_allocation_stats()
    finally:
        if not was_enabled:
            _nrt_python.memsys_disable_stats()
    assert end.alloc - start.alloc >= 20 * 4  # the counts ran: four results a call
    assert end.alloc - start.alloc == end.free - start.free  # every buffer freed, once
    assert end.mi_alloc - start.mi_alloc == end.mi_free - start.mi_free
    assert [sys.getrefcount(a) for a in (x, weights, means, prec_chol, *scratch)] == before_refs
    nk, sums, second, diagonals, loglik, _ = e_step_serial(*args, scratch)
    o_nk, o_sums, o_second, o_loglik = _stats_oracle(x, mixture)
    np.testing.assert_allclose(nk, o_nk, rtol=1e-11)
    np.testing.assert_allclose(sums, o_sums, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(second, o_second, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(diagonals, np.einsum("kcc->kc", o_second), rtol=1e-10)
    assert loglik == pytest.approx(o_loglik, rel=1e-12)
    parallel = e_step_parallel(*args)  # the same blocks on threads: the same sums
    assert parallel[0].tobytes() == nk.tobytes() and parallel[2].tobytes() == second.tobytes()
