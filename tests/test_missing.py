"""Gaussian mixtures with missing cells: the observed-data likelihood inside EM.

Oracles: the airquality observed-data MLE (tests/reference/README_missing.md),
scipy's direct maximisation of the observed-data log-likelihood for k = 2,
per-row brute force of the E-step with scipy densities and explicit
conditional Gaussians, and the complete-data fit when nothing is missing.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats
from scipy.special import logsumexp

import emstat
from emstat.engine import fit_em
from emstat.errors import InputError
from emstat.mixture import gaussian, missing
from emstat.mixture.covariance import get_covariance_model
from emstat.mixture.model import GaussianMixtureModel
from emstat.mixture.result import MixtureResult

REFERENCE = Path(__file__).parent / "reference"
ALL_MODELS = (
    "EII", "VII", "EEI", "VEI", "EVI", "VVI",
    "EEE", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV",
)  # fmt: skip


# --- data and independent oracles ----------------------------------------------------
def two_groups(n: int = 300, d: int = 2, share: float = 0.1, seed: int = 3) -> pd.DataFrame:
    """Two well-separated correlated groups with a random ``share`` of cells set to NaN."""
    rng = np.random.default_rng(seed)
    labels = rng.random(n) < 0.4
    centre = np.where(labels[:, None], 3.0, -1.0) * np.ones(d)
    spread = np.linalg.cholesky(0.5 * np.eye(d) + 0.5)
    x = centre + rng.standard_normal((n, d)) @ spread.T * np.where(labels, 1.0, 1.6)[:, None]
    x[rng.random((n, d)) < share] = np.nan
    x = x[~np.isnan(x).all(axis=1)]
    return pd.DataFrame(x, columns=[f"v{j + 1}" for j in range(d)])


def observed_loglik(
    x: np.ndarray, weights: np.ndarray, means: np.ndarray, covs: np.ndarray
) -> float:
    """Σ_i log Σ_k π_k N(x_i,o; μ_k,o, Σ_k,oo), by scipy's densities per set of observed columns."""
    total = 0.0
    observed = ~np.isnan(x)
    for o in np.unique(observed, axis=0):
        if not o.any():
            continue
        rows = x[(observed == o).all(axis=1)][:, o]
        terms = np.stack(
            [
                math.log(w)
                + np.atleast_1d(stats.multivariate_normal(m[o], c[np.ix_(o, o)]).logpdf(rows))
                for w, m, c in zip(weights, means, covs, strict=True)
            ],
            axis=1,
        )
        total += float(logsumexp(terms, axis=1).sum())
    return total


def brute_e_step(x: np.ndarray, theta: gaussian.GaussianParams) -> tuple[np.ndarray, ...]:
    """Expected nk, sums and second moments row by row, by the textbook formulas."""
    k, d = theta.k, theta.d
    nk, sums, second, loglik = np.zeros(k), np.zeros((k, d)), np.zeros((k, d, d)), 0.0
    for row in x:
        o, m = ~np.isnan(row), np.isnan(row)
        if not o.any():
            continue
        log_dens = np.array(
            [
                math.log(theta.weights[j])
                + stats.multivariate_normal(
                    theta.means[j, o], theta.covariances[j][np.ix_(o, o)]
                ).logpdf(row[o])
                for j in range(k)
            ]
        )
        row_loglik = float(logsumexp(log_dens))
        loglik += row_loglik
        z = np.exp(log_dens - row_loglik)
        for j in range(k):
            s = theta.covariances[j]
            filled = row.copy()
            c = np.zeros((d, d))
            if m.any():
                gain = s[np.ix_(m, o)] @ np.linalg.inv(s[np.ix_(o, o)])
                filled[m] = theta.means[j, m] + gain @ (row[o] - theta.means[j, o])
                c[np.ix_(m, m)] = s[np.ix_(m, m)] - gain @ s[np.ix_(o, m)]
            nk[j] += z[j]
            sums[j] += z[j] * filled
            second[j] += z[j] * (np.outer(filled, filled) + c)
    return nk, sums, second, np.array(loglik)


def some_params(d: int = 3, k: int = 2, seed: int = 0) -> gaussian.GaussianParams:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(k, d, d))
    covs = a @ a.transpose(0, 2, 1) + np.eye(d)
    return gaussian.gaussian_params(
        np.array([0.3, 0.7])[:k] / np.array([0.3, 0.7])[:k].sum(), rng.normal(size=(k, d)), covs
    )


def with_holes(n: int, d: int, seed: int, share: float = 0.25) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * 2
    x[rng.random((n, d)) < share] = np.nan
    x[3] = np.nan  # one row with nothing observed: no contribution
    return x


# --- the E-step -----------------------------------------------------------------------
@pytest.mark.parametrize("scatter", ["full", "diag"])
@pytest.mark.parametrize("path", ["compiled", "numpy"])
def test_e_step_matches_row_by_row_conditional_expectations(scatter: str, path: str) -> None:
    x = with_holes(60, 3, seed=1)
    theta = some_params()
    data = missing.IncompleteRows.from_array(x)
    run = missing.e_step if path == "compiled" else missing.numpy_e_step
    got, loglik = run(data, theta, scatter)  # type: ignore[arg-type]
    nk, sums, second, want_loglik = brute_e_step(x, theta)
    np.testing.assert_allclose(got.nk, nk, rtol=1e-12)
    np.testing.assert_allclose(got.sums, sums, rtol=1e-11, atol=1e-12)
    want_second = second if scatter == "full" else np.einsum("kii->ki", second)
    np.testing.assert_allclose(got.second, want_second, rtol=1e-11, atol=1e-12)
    assert loglik == pytest.approx(float(want_loglik), rel=1e-13)


def test_compiled_e_step_runs_in_parallel_blocks_like_numpy() -> None:
    # More rows than one block of the kernel, many patterns, d = 5.
    x = with_holes(9000, 5, seed=2, share=0.3)
    theta = gaussian.gaussian_params(
        np.array([0.5, 0.5]), np.array([[0.0] * 5, [1.0] * 5]), np.stack([np.eye(5)] * 2) * 2
    )
    data = missing.IncompleteRows.from_array(x)
    assert len(data.patterns) > 20
    fast, fast_loglik = missing.e_step(data, theta, "full")
    slow, slow_loglik = missing.numpy_e_step(data, theta, "full")
    np.testing.assert_allclose(fast.second, slow.second, rtol=1e-11)
    np.testing.assert_allclose(fast.sums, slow.sums, rtol=1e-11, atol=1e-9)
    assert fast_loglik == pytest.approx(slow_loglik, rel=1e-12)
    assert fast.classification_loglik == pytest.approx(slow.classification_loglik, rel=1e-10)


def test_rows_with_nothing_observed_contribute_nothing() -> None:
    x = with_holes(40, 3, seed=4)
    theta = some_params()
    kept = x[~np.isnan(x).all(axis=1)]
    a, la = missing.e_step(missing.IncompleteRows.from_array(x), theta, "full")
    b, lb = missing.e_step(missing.IncompleteRows.from_array(kept), theta, "full")
    np.testing.assert_allclose(a.second, b.second, rtol=1e-13)
    assert la == pytest.approx(lb, rel=1e-14)


# --- oracles of the fit ----------------------------------------------------------------
def test_airquality_one_normal_is_the_observed_data_mle() -> None:
    reference = json.loads((REFERENCE / "mvn_missing_airquality.json").read_text())
    frame = pd.read_csv(REFERENCE / "mvn_missing_airquality.csv")
    fit = emstat.fit_mixture(frame, k=1, criterion="param", tol=1e-13, max_iter=100_000)
    want = reference["results"]
    assert fit.loglik == pytest.approx(-2326.6973827983365, abs=1e-9)
    assert fit.loglik == pytest.approx(want["loglik"], abs=1e-9)
    np.testing.assert_allclose(fit.means.to_numpy()[0], want["mean"], rtol=1e-9)
    np.testing.assert_allclose(fit.covariances[1].to_numpy(), want["covariance"], rtol=1e-8)
    # what was missing, as the reference counts it
    assert fit.missing is not None
    assert fit.missing.by_column == reference["dataset"]["na_counts"]
    assert (fit.missing.cells, fit.missing.rows, fit.missing.dropped) == (44, 42, 0)
    assert fit.n == 153


def _unpack(vector: np.ndarray, model: str, k: int, d: int) -> tuple[np.ndarray, ...]:
    """weights, means, covariances of a k = 2 mixture from an unconstrained vector."""
    logit, rest = vector[0], vector[1:]
    weights = np.array([1 / (1 + math.exp(-logit)), 1 / (1 + math.exp(logit))])
    means, rest = rest[: k * d].reshape(k, d), rest[k * d :]
    tri = np.tril_indices(d)

    def chol_cov(v: np.ndarray) -> np.ndarray:
        lower = np.zeros((d, d))
        lower[tri] = v
        lower[np.diag_indices(d)] = np.exp(np.diag(lower))
        return lower @ lower.T

    size = len(tri[0])
    if model == "VVV":
        covs = np.stack([chol_cov(rest[j * size : (j + 1) * size]) for j in range(k)])
    elif model == "EEE":
        covs = np.stack([chol_cov(rest[:size])] * k)
    elif model == "VII":
        covs = np.stack([math.exp(rest[j]) * np.eye(d) for j in range(k)])
    elif model == "EEI":
        covs = np.stack([np.diag(np.exp(rest[:d]))] * k)
    else:  # VVI
        covs = np.stack([np.diag(np.exp(rest[j * d : (j + 1) * d])) for j in range(k)])
    return weights, means, covs


def _pack(fit: MixtureResult, model: str) -> np.ndarray:
    theta = fit.params_
    assert theta is not None
    w, means, covs = theta.weights, theta.means, theta.covariances
    parts = [np.array([math.log(w[0] / w[1])]), means.ravel()]
    tri = np.tril_indices(fit.d)

    def log_chol(c: np.ndarray) -> np.ndarray:
        lower = np.linalg.cholesky(c)
        lower[np.diag_indices(fit.d)] = np.log(np.diag(lower))
        return lower[tri]

    if model == "VVV":
        parts += [log_chol(c) for c in covs]
    elif model == "EEE":
        parts.append(log_chol(covs[0]))
    elif model == "VII":
        parts.append(np.log(covs[:, 0, 0]))
    elif model == "EEI":
        parts.append(np.log(np.diag(covs[0])))
    else:
        parts += [np.log(np.diag(c)) for c in covs]
    return np.concatenate(parts)


@pytest.mark.parametrize("model", ["VVV", "EEE", "VII", "EEI", "VVI"])
def test_k2_fit_is_the_direct_maximum_of_the_observed_data_likelihood(model: str) -> None:
    frame = two_groups()
    x = frame.to_numpy()
    fit = emstat.fit_mixture(frame, k=2, model=model, criterion="param", tol=1e-12)
    assert fit.converged
    start = _pack(fit, model)

    def objective(v: np.ndarray) -> float:
        return -observed_loglik(x, *_unpack(v, model, 2, x.shape[1]))

    # scipy climbs from a point well away from EM's answer
    away = start + np.random.default_rng(0).normal(scale=0.05, size=start.size)
    best = optimize.minimize(objective, away, method="BFGS", options={"gtol": 1e-7})
    assert -best.fun == pytest.approx(fit.loglik, abs=1e-6)
    assert observed_loglik(x, *_unpack(start, model, 2, 2)) == pytest.approx(fit.loglik, abs=1e-9)
    # from EM's answer, scipy finds nothing higher: EM's point is the maximum to 1e-8
    polished = optimize.minimize(objective, start, method="BFGS", options={"gtol": 1e-10})
    assert -polished.fun - fit.loglik < 1e-8
    w, means, covs = _unpack(best.x, model, 2, 2)
    theta = fit.params_
    assert theta is not None
    np.testing.assert_allclose(theta.weights, w, atol=1e-6)
    np.testing.assert_allclose(theta.means, means, atol=1e-5)
    np.testing.assert_allclose(theta.covariances, covs, atol=1e-5)


@pytest.mark.parametrize("model", ALL_MODELS)
def test_every_model_fits_missing_cells_and_its_likelihood_never_decreases(model: str) -> None:
    frame = two_groups(n=200, d=3, seed=5)
    fit = emstat.fit_mixture(frame, k=2, model=model)
    assert fit.ok, fit.degenerate
    assert np.all(np.diff(fit.trace) >= -1e-8 * (1 + abs(fit.loglik)))
    theta = fit.params_
    assert theta is not None
    assert fit.loglik == pytest.approx(
        observed_loglik(frame.to_numpy(), theta.weights, theta.means, theta.covariances),
        rel=1e-10,
    )


@pytest.mark.parametrize("model", ["E", "V"])
def test_one_dimension_with_missing_values_fits_the_rows_observed(model: str) -> None:
    x = pd.Series(np.r_[np.random.default_rng(1).normal(size=50), 6 + np.arange(10) / 5])
    holey = x.copy()
    holey[[2, 7]] = np.nan
    with pytest.warns(UserWarning, match=r"^2 rows with every value missing were left out"):
        fit = emstat.fit_mixture(holey, k=2, model=model)
    complete = emstat.fit_mixture(x.drop([2, 7]), k=2, model=model)
    assert fit.loglik == complete.loglik
    assert fit.n == 58


def test_complete_data_fit_is_unchanged() -> None:
    faithful = emstat.load_dataset("faithful")
    fit = emstat.fit_mixture(faithful, k=3, model="EEE")
    refused = emstat.fit_mixture(faithful, k=3, model="EEE", missing="error")
    assert fit.missing is None
    assert fit.loglik == refused.loglik == pytest.approx(-1126.3262, abs=1e-4)
    theta, other = fit.params_, refused.params_
    assert theta is not None and other is not None
    assert np.array_equal(theta.covariances, other.covariances)
    assert "missing" not in fit.summary() and "missing" not in fit.to_dict()


def test_a_row_with_nothing_observed_leaves_the_fit_as_without_it() -> None:
    faithful = emstat.load_dataset("faithful")
    holey = pd.concat([faithful, pd.DataFrame({c: [np.nan] for c in faithful.columns})])
    with pytest.warns(UserWarning, match=r"^1 row with every value missing was left out"):
        fit = emstat.fit_mixture(holey.reset_index(drop=True), k=3, model="EEE")
    plain = emstat.fit_mixture(faithful, k=3, model="EEE")
    assert fit.loglik == plain.loglik
    assert fit.n == plain.n == 272
    assert fit.missing is not None and fit.missing.dropped == 1
    assert "1 rows with every value missing left out" in fit.summary()


# --- starts ----------------------------------------------------------------------------
@pytest.mark.parametrize("init", ["hc", "kmeans++", "random"])
def test_starts_come_from_the_complete_rows(init: str) -> None:
    frame = two_groups(d=3, seed=7)
    fit = emstat.fit_mixture(frame, k=2, init=init, seed=1)
    assert fit.ok
    assert fit.init == f"{init} on the complete rows"
    complete = frame.dropna()
    layout = emstat.mixture.fit.prepare_data(frame).missing
    assert layout is not None and not layout.sample_imputed
    np.testing.assert_array_equal(frame.to_numpy()[layout.sample_rows], complete.to_numpy())


def test_starts_from_mean_filled_rows_when_few_rows_are_complete() -> None:
    frame = two_groups(n=200, d=4, share=0.45, seed=8)
    assert frame.dropna().shape[0] < 10 * 5
    fit = emstat.fit_mixture(frame, k=2, model="VVI")
    assert fit.ok
    assert fit.init == "hc on every row, missing cells set to their column means"


def test_user_labels_start_from_their_complete_rows() -> None:
    frame = two_groups(d=3, seed=9)
    labels = pd.Series(np.where(frame["v1"].fillna(0) > 1, "b", "a"), index=frame.index)
    fit = emstat.fit_mixture(frame, k=2, init=labels)
    assert fit.ok and fit.init == "user labels on the complete rows"
    with pytest.raises(InputError, match=r"init has 5 rows of labels; the data have \d+ rows"):
        emstat.fit_mixture(frame, k=2, init=np.zeros(5))
    with pytest.raises(InputError, match=r"init=\(rows, labels\) is not offered"):
        emstat.fit_mixture(frame, k=2, init=(np.arange(4), np.array([0, 0, 1, 1])))


# --- bad input ----------------------------------------------------------------------------
def test_a_column_entirely_missing_is_named() -> None:
    frame = two_groups()
    frame["empty"] = np.nan
    with pytest.raises(InputError) as info:
        emstat.fit_mixture(frame, k=2)
    assert str(info.value) == ("column 'empty' is entirely missing (NaN in every row); drop it")


def test_missing_error_refuses_nan_as_before() -> None:
    frame = two_groups()
    with pytest.raises(InputError, match=r"NaN/missing or infinite values in column .*impute"):
        emstat.fit_mixture(frame, k=2, missing="error")
    with pytest.raises(InputError, match=r"NaN/missing or infinite values"):
        emstat.select_mixture(frame, k=[1, 2], missing="error")


def test_bad_missing_option_names_the_choices() -> None:
    with pytest.raises(InputError, match=r"missing must be one of 'em', 'error', got 'drop'"):
        emstat.fit_mixture(two_groups(), k=2, missing="drop")
    with pytest.raises(InputError, match=r"missing='error' serves the Gaussian family"):
        emstat.fit_mixture(two_groups(), k=2, family="poisson", missing="error")


def test_weights_with_missing_cells_are_refused() -> None:
    frame = two_groups()
    with pytest.raises(InputError, match=r"case weights with missing values are not supported"):
        emstat.fit_mixture(frame, k=2, weights=np.ones(len(frame)))


def test_infinite_values_are_still_refused() -> None:
    frame = two_groups()
    frame.iloc[4, 0] = np.inf
    with pytest.raises(InputError, match=r"infinite values in column 'v1' at row 4"):
        emstat.fit_mixture(frame, k=2)


def test_a_column_constant_where_observed_is_named() -> None:
    frame = two_groups()
    frame["c"] = np.where(frame["v1"].isna(), np.nan, 2.0)
    frame.loc[0, "c"] = np.nan
    with pytest.raises(InputError, match=r"column 'c' is constant where observed"):
        emstat.fit_mixture(frame, k=2)


# --- results ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fit2() -> MixtureResult:
    return emstat.fit_mixture(two_groups(d=3, seed=11), k=2, model="VVV")


def test_summary_params_and_saved_fit_say_what_was_missing(
    fit2: MixtureResult, tmp_path: Path
) -> None:
    counts = fit2.missing
    assert counts is not None
    line = (
        f"missing: {counts.cells} of {counts.total_cells} cells "
        f"({counts.cells / counts.total_cells:.1%}) in {counts.rows} of {counts.total_rows} rows; "
        "the fit assumes the values are missing at random (observed-data likelihood)"
    )
    assert line in fit2.summary()
    assert "standard errors: not computed for data with missing cells" in fit2.summary()
    assert fit2.params.attrs["missing"]["cells"] == counts.cells
    assert fit2.params.attrs["missing"]["assumption"] == "missing at random"
    assert fit2.params["std_err"].isna().all()
    back = emstat.load_fit(fit2.save(tmp_path / "fit.json"))
    assert back.missing == counts
    assert line in back.summary()


def test_predictions_marginalise_missing_coordinates(fit2: MixtureResult) -> None:
    theta = fit2.params_
    assert theta is not None
    rows = pd.DataFrame(
        [[1.0, np.nan, 2.0], [np.nan, np.nan, np.nan], [0.5, 0.2, -1.0], [np.nan, 3.0, np.nan]],
        columns=fit2.columns,
        index=["a", "b", "c", "d"],
    )
    scores = fit2.score_samples(rows)
    want = [
        observed_loglik(r[None, :], theta.weights, theta.means, theta.covariances)
        for r in rows.to_numpy()
    ]
    np.testing.assert_allclose(scores.to_numpy(), want, rtol=1e-12)
    assert scores["b"] == 0.0
    proba = fit2.predict_proba(rows)
    np.testing.assert_allclose(proba.loc["b"].to_numpy(), theta.weights, rtol=1e-14)
    assert list(proba.index) == ["a", "b", "c", "d"]
    # a complete row as before; the classification follows the responsibilities
    plain = fit2.predict_proba(rows.loc[["c"]])
    np.testing.assert_allclose(proba.loc["c"].to_numpy(), plain.loc["c"].to_numpy(), rtol=1e-14)
    assert list(fit2.predict(rows)) == list(np.argmax(proba.to_numpy(), axis=1) + 1)


def test_impute_fills_conditional_means(fit2: MixtureResult) -> None:
    data = fit2.data_
    assert isinstance(data, missing.IncompleteData)
    filled = fit2.impute()
    assert list(filled.columns) == fit2.columns and filled.index.equals(data.index)
    x = data.values
    observed = ~np.isnan(x)
    np.testing.assert_array_equal(filled.to_numpy()[observed], x[observed])
    assert not filled.isna().any().any()
    theta = fit2.params_
    assert theta is not None
    proba = fit2.predict_proba(pd.DataFrame(x, columns=fit2.columns)).to_numpy()
    for i in np.flatnonzero(~observed.all(axis=1))[:10]:
        o, m = observed[i], ~observed[i]
        want = np.zeros(m.sum())
        for j in range(2):
            s = theta.covariances[j]
            gain = s[np.ix_(m, o)] @ np.linalg.inv(s[np.ix_(o, o)])
            want += proba[i, j] * (theta.means[j, m] + gain @ (x[i, o] - theta.means[j, o]))
        np.testing.assert_allclose(filled.to_numpy()[i, m], want, rtol=1e-10)


def test_multiple_imputations_are_proper_draws(fit2: MixtureResult) -> None:
    data = fit2.data_
    assert isinstance(data, missing.IncompleteData)
    draws = fit2.impute(m=5, seed=1)
    assert list(draws.columns) == ["imputation", *fit2.columns]
    assert sorted(draws["imputation"].unique()) == [1, 2, 3, 4, 5]
    again = fit2.impute(m=5, seed=1)
    pd.testing.assert_frame_equal(draws, again)
    blocks = [g.drop(columns="imputation").to_numpy() for _, g in draws.groupby("imputation")]
    observed = ~np.isnan(data.values)
    for block in blocks:
        np.testing.assert_array_equal(block[observed], data.values[observed])
        assert not np.isnan(block).any()
    assert not np.allclose(blocks[0][~observed], blocks[1][~observed])
    with pytest.raises(InputError, match=r"m must be a whole number >= 1, got 0"):
        fit2.impute(m=0)


def test_multiple_imputations_spread_as_the_conditional_law_and_the_parameters() -> None:
    # one normal, one column missing half the time: the draws' spread around the
    # conditional mean is the residual variance plus the parameters' uncertainty
    rng = np.random.default_rng(5)
    x = rng.multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]], size=400)
    x[rng.random(400) < 0.5, 1] = np.nan
    fit = emstat.fit_mixture(x, k=1)
    means = fit.impute().to_numpy()
    gaps = []
    for draw in np.split(fit.impute(m=40, seed=2).drop(columns="imputation").to_numpy(), 40):
        gaps.append((draw - means)[np.isnan(x[:, 1]), 1])
    residual = fit.covariances[1].to_numpy()
    conditional = residual[1, 1] - residual[0, 1] ** 2 / residual[0, 0]
    assert np.var(np.concatenate(gaps)) == pytest.approx(conditional, rel=0.1)
    # the parameters vary between imputations (drawn from a bootstrap refit each)
    shifts = [np.mean(g) for g in gaps]
    assert np.std(shifts) > 0.5 * math.sqrt(conditional / 200)


def test_impute_of_a_complete_fit_needs_data() -> None:
    fit = emstat.fit_mixture(emstat.load_dataset("faithful"), k=2)
    with pytest.raises(InputError, match=r"had no missing cells; pass data="):
        fit.impute()
    row = pd.DataFrame({"eruptions": [np.nan], "waiting": [80.0]})
    assert not fit.impute(row).isna().any().any()


# --- chunked data, selection ------------------------------------------------------------
def test_chunks_with_missing_cells_fit_as_in_memory() -> None:
    frame = two_groups(d=3, seed=12)
    whole = emstat.fit_mixture(frame, k=2, model="EEE")
    chunks = iter([frame.iloc[:120], frame.iloc[120:]])
    streamed = emstat.fit_mixture(chunks, k=2, model="EEE", chunk_rows=50)
    assert streamed.loglik == pytest.approx(whole.loglik, rel=1e-12)
    assert streamed.missing == whole.missing
    assert "missing at random" in streamed.summary()


def test_chunk_statistics_add_over_chunks() -> None:
    x = with_holes(500, 3, seed=13)
    theta = some_params()
    model = GaussianMixtureModel(get_covariance_model("VVV", 3), 2)
    whole, loglik = model.e_step(theta, missing.IncompleteRows.from_array(x))
    parts = [model.e_step(theta, missing.IncompleteRows.from_array(c)) for c in np.split(x, 5)]
    total = parts[0][0]
    for stats_part, _ in parts[1:]:
        total = total + stats_part
    np.testing.assert_allclose(total.second, whole.second, rtol=1e-12)
    assert sum(p[1] for p in parts) == pytest.approx(loglik, rel=1e-13)


def test_dask_partitions_with_missing_cells_fit_as_in_memory() -> None:
    dd = pytest.importorskip("dask.dataframe")
    frame = two_groups(d=3, seed=12)
    whole = emstat.fit_mixture(frame, k=1)
    fit = emstat.fit_mixture(dd.from_pandas(frame, npartitions=3), k=1)
    assert fit.loglik == pytest.approx(whole.loglik, rel=1e-10)
    assert fit.missing == whole.missing


def test_selection_with_missing_cells() -> None:
    frame = two_groups(d=2, seed=14)
    selection = emstat.select_mixture(frame, k=[1, 2], models=["EII", "VVV"])
    assert all(f.ok for f in selection.fits.values())
    direct = emstat.fit_mixture(frame, k=2, model="VVV")
    assert selection.fits[(2, "VVV")].loglik == direct.loglik
    assert selection.fits[(2, "VVV")].missing == direct.missing


def test_em_engine_on_incomplete_rows_from_parameters() -> None:
    frame = two_groups(d=2, seed=15)
    fit = emstat.fit_mixture(frame, k=2, criterion="abs", tol=1e-10)
    theta = fit.params_
    assert theta is not None
    center = np.nanmean(frame.to_numpy(), axis=0)
    data = missing.IncompleteRows.from_array(frame.to_numpy() - center)
    model = GaussianMixtureModel(get_covariance_model("VVV", 2), 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = fit_em(model, data, theta0=theta.about(center))
    assert again.loglik == pytest.approx(fit.loglik, abs=1e-8)
    assert again.n_iter <= 2


def test_refitting_intervals_are_refused_and_plots_draw_the_complete_rows(
    fit2: MixtureResult,
) -> None:
    with pytest.raises(
        InputError, match=r"bootstrap replicates are not available for a fit with missing cells"
    ):
        fit2.bootstrap(n_boot=5)
    with pytest.raises(
        InputError, match=r"profile intervals are not available for a fit with missing"
    ):
        fit2.conf_int(method="profile", parameters=["1:weight"])
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    axes = fit2.plot("classification")
    assert axes is not None


@pytest.mark.parametrize("model", ["EII", "EEE", "EVE"])
def test_one_component_is_the_unconstrained_one_of_its_family(model: str) -> None:
    frame = two_groups(d=3, seed=16)
    one = emstat.fit_mixture(frame, k=1, model=model, criterion="abs", tol=1e-10)
    family = {"EII": "VII", "EEE": "VVV", "EVE": "VVV"}[model]
    same = emstat.fit_mixture(frame, k=1, model=family, criterion="abs", tol=1e-10)
    assert one.loglik == same.loglik
    assert one.model == model
