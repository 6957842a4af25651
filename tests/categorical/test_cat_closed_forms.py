"""Closed forms and independent oracles: complete data, independence, priors, SEs, LRT."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from emstat.categorical import fit_categorical
from emstat.engine import EMControl

from ._refdata import read_reference_csv

TIGHT = EMControl(tol=1e-13, criterion="param", max_iter=100_000)


def _complete_counts(shape: tuple[int, ...], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(1, 60, size=shape).astype(float)


def _as_frame(counts: np.ndarray, names: list[str]) -> pd.DataFrame:
    cells = list(itertools.product(*[range(k) for k in counts.shape]))
    frame = pd.DataFrame(cells, columns=names)
    frame["n"] = [counts[c] for c in cells]
    return frame


@pytest.mark.parametrize("shape", [(2, 2), (3, 2), (2, 3, 4)])
def test_complete_data_mle_is_observed_proportions(shape: tuple[int, ...]) -> None:
    counts = _complete_counts(shape, seed=sum(shape))
    names = [f"x{j}" for j in range(len(shape))]
    res = fit_categorical(_as_frame(counts, names), "n")
    np.testing.assert_allclose(res.theta, counts / counts.sum(), rtol=0, atol=1e-12)
    assert res.n_params == counts.size - 1
    expected_ll = float(np.sum(counts * np.log(counts / counts.sum())))
    assert res.loglik == pytest.approx(expected_ll, rel=1e-12)


@pytest.mark.parametrize("shape", [(2, 2), (3, 4), (2, 3, 2)])
def test_complete_data_independence_is_product_of_margins(shape: tuple[int, ...]) -> None:
    counts = _complete_counts(shape, seed=7 * len(shape))
    names = [f"x{j}" for j in range(len(shape))]
    res = fit_categorical(
        _as_frame(counts, names), "n", margins=[[v] for v in names], control=TIGHT
    )
    p = counts / counts.sum()
    want = np.ones(shape)
    for axis in range(len(shape)):
        other = tuple(a for a in range(len(shape)) if a != axis)
        margin = p.sum(axis=other)
        want = want * margin.reshape([-1 if a == axis else 1 for a in range(len(shape))])
    np.testing.assert_allclose(res.theta, want, rtol=0, atol=1e-12)
    assert res.n_params == sum(k - 1 for k in shape)


@pytest.mark.parametrize("prior", [1.5, 2.0, 3.0])
def test_complete_data_prior_gives_dirichlet_mode(prior: float) -> None:
    counts = _complete_counts((3, 2), seed=3)
    res = fit_categorical(_as_frame(counts, ["a", "b"]), "n", prior=prior)
    want = (counts + prior - 1) / (counts.sum() + counts.size * (prior - 1))
    np.testing.assert_allclose(res.theta, want, rtol=0, atol=1e-12)
    penalty = (prior - 1) * np.sum(np.log(want))
    assert res.logpost == pytest.approx(res.loglik + penalty, rel=1e-12)


@pytest.mark.parametrize("shape", [(2, 2), (3, 2, 2)])
def test_complete_data_standard_errors_are_multinomial(shape: tuple[int, ...]) -> None:
    counts = _complete_counts(shape, seed=11)
    names = [f"x{j}" for j in range(len(shape))]
    res = fit_categorical(_as_frame(counts, names), "n")
    n = counts.sum()
    p = (counts / n).reshape(-1)
    table = res.params
    np.testing.assert_allclose(table["std_err"].to_numpy(), np.sqrt(p * (1 - p) / n), rtol=1e-8)
    assert np.all(table["ci_low"] < table["estimate"]) and np.all(
        table["estimate"] < table["ci_high"]
    )
    assert list(table.columns[: len(names)]) == names


def test_complete_data_independence_standard_errors_by_delta_method() -> None:
    counts = _complete_counts((3, 4), seed=5)
    n = counts.sum()
    res = fit_categorical(_as_frame(counts, ["a", "b"]), "n", margins=[["a"], ["b"]], control=TIGHT)
    a = counts.sum(axis=1) / n
    b = counts.sum(axis=0) / n
    cov_a = (np.diag(a) - np.outer(a, a)) / n
    cov_b = (np.diag(b) - np.outer(b, b)) / n
    # p_ij = a_i b_j; the two margins are independent under the multinomial
    jac_a = np.kron(np.eye(3), b.reshape(-1, 1))  # d p / d a
    jac_b = np.kron(a.reshape(-1, 1), np.eye(4))  # d p / d b
    cov = jac_a @ cov_a @ jac_a.T + jac_b @ cov_b @ jac_b.T
    np.testing.assert_allclose(res.params["std_err"].to_numpy(), np.sqrt(np.diag(cov)), rtol=1e-7)


def _crimes_loglik(p: np.ndarray, frame: pd.DataFrame) -> float:
    """Observed-data log-likelihood of the 2 x 2 crimes table, written out by hand."""
    total = 0.0
    for v1, v2, n in frame[["V1", "V2", "N"]].itertuples(index=False):
        rows = [int(v1) - 1] if v1 == v1 else [0, 1]
        cols = [int(v2) - 1] if v2 == v2 else [0, 1]
        total += n * np.log(sum(p[i, j] for i in rows for j in cols))
    return total


def _numerical_hessian(f, x: np.ndarray, h: float = 1e-5) -> np.ndarray:  # type: ignore[no-untyped-def]
    k = x.size
    hess = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            ei = np.eye(k)[i] * h
            ej = np.eye(k)[j] * h
            hess[i, j] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (
                4 * h * h
            )
    return hess


def test_incomplete_saturated_standard_errors_match_numerical_hessian() -> None:
    frame = read_reference_csv("cat_crimes.csv")
    res = fit_categorical(frame, "N", control=TIGHT)
    p_hat = res.theta

    def ll(free: np.ndarray) -> float:  # cells (1,1), (1,2), (2,1); (2,2) = 1 - sum
        return _crimes_loglik(np.array([[free[0], free[1]], [free[2], 1 - free.sum()]]), frame)

    free = np.array([p_hat[0, 0], p_hat[0, 1], p_hat[1, 0]])
    cov_free = np.linalg.inv(-_numerical_hessian(ll, free))
    jac = np.vstack([np.eye(3), -np.ones((1, 3))])
    se = np.sqrt(np.diag(jac @ cov_free @ jac.T))
    np.testing.assert_allclose(res.params["std_err"].to_numpy(), se, rtol=1e-4)


def test_incomplete_independence_standard_errors_match_numerical_hessian() -> None:
    frame = read_reference_csv("cat_crimes.csv")
    res = fit_categorical(frame, "N", margins=[["V1"], ["V2"]], control=TIGHT)

    def table(ab: np.ndarray) -> np.ndarray:
        return np.outer([ab[0], 1 - ab[0]], [ab[1], 1 - ab[1]])

    ab = np.array([res.theta[0].sum(), res.theta[:, 0].sum()])
    cov_ab = np.linalg.inv(-_numerical_hessian(lambda x: _crimes_loglik(table(x), frame), ab))
    h = 1e-6
    jac = np.column_stack(
        [(table(ab + h * e) - table(ab - h * e)).reshape(-1) / (2 * h) for e in np.eye(2)]
    )
    se = np.sqrt(np.diag(jac @ cov_ab @ jac.T))
    np.testing.assert_allclose(res.params["std_err"].to_numpy(), se, rtol=1e-4)


@pytest.mark.parametrize("shape", [(2, 2), (3, 4)])
def test_lrt_of_independence_matches_g_test(shape: tuple[int, ...]) -> None:
    counts = _complete_counts(shape, seed=13)
    frame = _as_frame(counts, ["a", "b"])
    full = fit_categorical(frame, "n")
    indep = fit_categorical(frame, "n", margins=[["a"], ["b"]], control=TIGHT)
    g2, p_value, dof, _ = stats.chi2_contingency(counts, correction=False, lambda_="log-likelihood")
    for test in (full.lrt(indep), indep.lrt(full)):
        assert test.statistic == pytest.approx(g2, rel=1e-9)
        assert test.df == dof
        assert test.p_value == pytest.approx(p_value, rel=1e-6)


def test_unobserved_category_is_a_cell() -> None:
    frame = pd.DataFrame(
        {
            "a": pd.Categorical(["x", "y", "x", "y"], categories=["x", "y", "z"]),
            "b": ["u", "u", "v", None],
        }
    )
    res = fit_categorical(frame)
    assert res.probabilities.index.levels[0].tolist() == ["x", "y", "z"]
    assert res.probabilities.loc["z"].sum() == 0.0
    assert res.probabilities.sum() == pytest.approx(1.0)


def test_structural_zero_complete_data() -> None:
    counts = _complete_counts((2, 3), seed=2)
    counts[1, 2] = 0.0
    frame = _as_frame(counts, ["a", "b"])
    frame = frame[frame["n"] > 0]
    res = fit_categorical(frame, "n", structural_zeros=[(1, 2)])
    np.testing.assert_allclose(res.theta, counts / counts.sum(), atol=1e-12)
    assert res.n_params == counts.size - 2
    assert np.isnan(res.params["std_err"].iloc[5])


def test_table_is_a_crosstab_for_two_variables() -> None:
    frame = read_reference_csv("cat_crimes.csv")
    res = fit_categorical(frame, "N")
    tab = res.table()
    assert tab.shape == (2, 2)
    assert tab.loc[1.0, 2.0] == res.theta[0, 1]
    assert res.expected_counts.sum() == pytest.approx(756)
    assert res.fitted_counts.sum() == pytest.approx(756)
