"""Fits end to end: monotone EM on every model, predictions, sampling, restarts."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal

import emstat
from emstat.mixture.covariance import COVARIANCE_MODELS


@pytest.fixture(scope="module")
def faithful() -> pd.DataFrame:
    return emstat.load_dataset("faithful")


@pytest.mark.parametrize("model", [m for m in COVARIANCE_MODELS if len(m) == 3])
@pytest.mark.parametrize("k", [2, 4])
def test_loglik_never_decreases(faithful: pd.DataFrame, model: str, k: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", emstat.ConvergenceWarning)  # a decrease would warn
        fit = emstat.fit_mixture(faithful, k=k, model=model, tol=1e-8)
    assert fit.ok and fit.converged
    assert np.all(np.diff(fit.trace) >= -1e-9 * np.abs(fit.trace[1:]))
    assert fit.trace[-1] == fit.loglik


@pytest.mark.parametrize("model", ["E", "V"])
def test_loglik_never_decreases_in_one_dimension(model: str) -> None:
    x = emstat.load_dataset("acidity")["acidity"]
    fit = emstat.fit_mixture(x, k=3, model=model, tol=1e-10)
    assert np.all(np.diff(fit.trace) >= -1e-9 * np.abs(fit.trace[1:]))


def test_predictions_are_scipy_posteriors(faithful: pd.DataFrame) -> None:
    fit = emstat.fit_mixture(faithful, k=3, model="VVV")
    shuffled = faithful.sample(frac=1.0, random_state=3)
    proba = fit.predict_proba(shuffled)
    weighted = np.column_stack(
        [
            fit.weights[j] * multivariate_normal(fit.means.loc[j], fit.covariances[j]).pdf(shuffled)
            for j in range(1, 4)
        ]
    )
    np.testing.assert_allclose(proba.to_numpy(), weighted / weighted.sum(axis=1, keepdims=True))
    assert proba.index.equals(shuffled.index)
    labels = fit.predict(shuffled)
    assert labels.index.equals(shuffled.index)
    np.testing.assert_array_equal(labels.to_numpy(), proba.to_numpy().argmax(axis=1) + 1)
    density = fit.score_samples(shuffled)
    np.testing.assert_allclose(np.exp(density.to_numpy()), weighted.sum(axis=1), rtol=1e-12)
    assert density.sum() == pytest.approx(fit.loglik, rel=1e-9)


def test_sample_follows_the_fitted_mixture(faithful: pd.DataFrame) -> None:
    fit = emstat.fit_mixture(faithful, k=2, model="VVV")
    draws = fit.sample(200_000, seed=1)
    assert list(draws.columns) == ["eruptions", "waiting", "component"]
    shares = draws["component"].value_counts(normalize=True).sort_index()
    np.testing.assert_allclose(shares.to_numpy(), fit.weights.to_numpy(), atol=0.005)
    for j in (1, 2):
        rows = draws.loc[draws["component"] == j, ["eruptions", "waiting"]]
        np.testing.assert_allclose(rows.mean(), fit.means.loc[j], rtol=0.01)
        np.testing.assert_allclose(rows.cov(), fit.covariances[j], rtol=0.03, atol=0.01)
    again = fit.sample(5, seed=1)
    pd.testing.assert_frame_equal(again, fit.sample(5, seed=1))


def test_restarts_keep_the_best_and_report_each(faithful: pd.DataFrame) -> None:
    fit = emstat.fit_mixture(faithful, k=4, model="VVV", init="random", n_init=5, seed=2)
    assert fit.restarts is not None and len(fit.restarts) == 5
    assert fit.loglik == pytest.approx(fit.restarts["loglik"].max())
    assert set(fit.restarts.columns) >= {"restart", "init", "loglik", "n_iter", "converged"}


@pytest.mark.parametrize("init", ["kmeans++", "random"])
def test_random_inits_are_reproducible(faithful: pd.DataFrame, init: str) -> None:
    one = emstat.fit_mixture(faithful, k=3, model="EEE", init=init, seed=7)
    two = emstat.fit_mixture(faithful, k=3, model="EEE", init=init, seed=7)
    assert one.loglik == two.loglik


def test_user_responsibilities_start(faithful: pd.DataFrame) -> None:
    labels = (faithful["eruptions"] > 3).to_numpy().astype(int)
    from_labels = emstat.fit_mixture(faithful, k=2, model="VVV", init=labels)
    resp = np.column_stack([1 - labels, labels]).astype(float)
    from_resp = emstat.fit_mixture(faithful, k=2, model="VVV", init=resp)
    assert from_labels.loglik == pytest.approx(from_resp.loglik, rel=1e-12)
    assert from_labels.init == "user labels"


@pytest.mark.parametrize(
    ("criterion", "tol"), [("abs", 1e-6), ("per_sample", 1e-9), ("param", 1e-8)]
)
def test_stopping_rules_reach_the_same_maximum(
    faithful: pd.DataFrame, criterion: str, tol: float
) -> None:
    reference = emstat.fit_mixture(faithful, k=2, model="VVV", tol=1e-12)
    fit = emstat.fit_mixture(faithful, k=2, model="VVV", criterion=criterion, tol=tol)
    assert fit.converged and fit.control.criterion == criterion
    assert fit.loglik == pytest.approx(reference.loglik, rel=1e-8)


def test_information_criteria_conventions(faithful: pd.DataFrame) -> None:
    fit = emstat.fit_mixture(faithful, k=3, model="EEE")
    n, p = len(faithful), fit.n_params
    assert fit.bic == pytest.approx(-2 * fit.loglik + p * np.log(n))
    assert fit.aic == pytest.approx(-2 * fit.loglik + 2 * p)
    assert fit.bic_mclust == -fit.bic
    z = fit.predict_proba(faithful).to_numpy()
    assert fit.icl == pytest.approx(fit.bic - 2 * np.log(z.max(axis=1)).sum())
    sel = emstat.select_mixture(faithful, k=[2, 3], models=["EEE", "VVV"])
    assert sel.table_for("aic").loc[3, "EEE"] == pytest.approx(fit.aic)
    assert sel.table_for("icl", "mclust").loc[3, "EEE"] == pytest.approx(-fit.icl)
    assert (sel.best.model, sel.best.k) == ("EEE", 3)


def test_a_partition_of_some_rows_starts_like_mclusts_subset() -> None:
    rng = np.random.default_rng(4)
    shift = np.array([4.0, 1.0])
    x = np.vstack([rng.normal(size=(1500, 2)), rng.normal(size=(1500, 2)) + shift])
    from emstat.mixture import hc

    tree = hc.hc_tree(x, subset=2000, seed=0)
    assert tree.rows.size == 2000
    own = emstat.fit_mixture(x, k=2, model="VVV", seed=0)
    given = emstat.fit_mixture(x, k=2, model="VVV", init=(tree.rows, tree.partition(2).labels))
    assert given.loglik == own.loglik and given.n_iter == own.n_iter
    assert given.init == "user labels of 2000 rows"
    with pytest.raises(emstat.InputError, match="distinct positions"):
        emstat.fit_mixture(x, k=2, init=(np.array([0, 0, 1]), np.array([0, 1, 1])))


def test_selection_on_two_processes_is_identical(faithful: pd.DataFrame) -> None:
    one = emstat.select_mixture(faithful, k=range(1, 5), models=["EII", "VVE", "VVV"])
    two = emstat.select_mixture(faithful, k=range(1, 5), models=["EII", "VVE", "VVV"], workers=2)
    pd.testing.assert_frame_equal(one.table, two.table)
    assert two.best.params_ is not None and two.best.data_ is not None
    pd.testing.assert_frame_equal(one.best.params, two.best.params)
