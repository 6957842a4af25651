"""MAP EM under a conjugate prior (emstat.mixture.prior) against mclust 6.0 and scipy.

The references (tests/reference/README_prior.md) are ``Mclust(X, G = 1:9,
prior = priorControl())``, ``defaultPrior`` and ``me(..., prior =
priorControl())`` from stored starts.  The four models mclust refuses under a
prior (EVE, VEE, VVE, EVV) are checked by direct maximisation with scipy.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from typer.testing import CliRunner

import emstat
from emstat.cli import app
from emstat.errors import InputError
from emstat.mixture.covariance import get_covariance_model
from emstat.mixture.model import GaussianMixtureModel
from emstat.mixture.prior import (
    GaussianPrior,
    data_moments,
    niw_log_prior,
    resolve_prior,
)

REFERENCE = Path(__file__).resolve().parent / "reference"
DATA = {"faithful": "mclust_faithful.csv", "galaxies": "mclust_galaxies.csv"}


def load(name: str) -> tuple[dict[str, Any], pd.DataFrame]:
    spec = json.loads((REFERENCE / f"mclust_prior_{name}.json").read_text())
    return spec, pd.read_csv(REFERENCE / DATA[name])


def quietly(function: Any, *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", emstat.ConvergenceWarning)
        return function(*args, **kwargs)


# --------------------------------------------------------------------------- mclust


@pytest.mark.parametrize("name", ["faithful", "galaxies"])
def test_default_hyperparameters_are_mclusts_default_prior(name: str) -> None:
    spec, frame = load(name)
    moments = data_moments(frame.to_numpy(dtype=float))
    runs = [*spec["runs"]["me"].values(), spec["runs"]["mclust"]["chosen"]]
    for run in runs:
        want = run["prior_hyperparameters"]
        got = resolve_prior(GaussianPrior(), moments, run["G"], run["modelName"])
        assert got.shrinkage == want["shrinkage"]
        assert got.dof == want["dof"]
        np.testing.assert_allclose(got.mean, want["mean"], rtol=1e-14)
        scale = np.asarray(want["scale"], dtype=float)
        np.testing.assert_allclose(np.squeeze(got.scale), np.squeeze(scale), rtol=1e-13)


@pytest.mark.parametrize("name", ["faithful", "galaxies"])
def test_me_from_the_stored_start_matches_mclust(name: str) -> None:
    spec, frame = load(name)
    for model, run in spec["runs"]["me"].items():
        start = np.asarray(run["init_classification"]) - 1
        fit = emstat.fit_mixture(frame, run["G"], model, init=start, prior="mclust")
        assert fit.n_iter == run["iterations"], model
        assert fit.loglik == pytest.approx(run["loglik_reported"], rel=1e-10, abs=0)
        assert fit.bic_mclust == pytest.approx(run["bic_from_reported_loglik"], rel=1e-10)
        assert fit.params_ is not None
        np.testing.assert_allclose(fit.params_.weights, run["pro"], rtol=1e-8)
        np.testing.assert_allclose(fit.params_.means, run["mean"], rtol=1e-8)
        np.testing.assert_allclose(fit.params_.covariances, run["sigma"], rtol=1e-8)
        np.testing.assert_array_equal(fit.predict(frame).to_numpy(), run["classification"])


@pytest.mark.parametrize("name", ["faithful", "galaxies"])
@pytest.mark.parametrize("mclust_compatible", [False, True])
def test_bic_table_matches_mclust_with_prior(name: str, mclust_compatible: bool) -> None:
    spec, frame = load(name)
    table = spec["runs"]["mclust"]["bic_table"]
    selection = quietly(
        emstat.select_mixture,
        frame,
        k=table["G"],
        models=table["modelNames"],
        prior="mclust",
        convention="mclust",
        mclust_compatible=mclust_compatible,
    )
    ours = selection.table.loc[table["G"], table["modelNames"]].to_numpy()
    np.testing.assert_allclose(ours, np.asarray(table["values"], dtype=float), rtol=1e-9)
    chosen = spec["runs"]["mclust"]["chosen"]
    assert (selection.best.model, selection.best.k) == (chosen["modelName"], chosen["G"])
    # mclust's loglik and BIC are me()'s (its stored parameters may be one M-step later)
    assert selection.best.loglik == pytest.approx(chosen["em"]["me_loglik"], rel=1e-10)


def test_one_component_takes_mclusts_mvn_with_prior() -> None:
    spec, frame = load("faithful")
    for check in spec["runs"]["mclust"]["g1_mvn_check"]:
        fit = emstat.fit_mixture(frame, 1, check["modelName"], prior="mclust")
        assert fit.loglik == pytest.approx(check["loglik_reported"], rel=1e-12)


def test_the_compiled_models_do_not_ignore_the_prior() -> None:
    # VVV and EEE have a compiled M-step: with a prior it must give the posterior mode
    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 2))
    resp = rng.dirichlet([1.0, 1.0], size=40)
    prior = resolve_prior(GaussianPrior(), data_moments(x), 2, "VVV")
    model = GaussianMixtureModel(get_covariance_model("VVV", 2), 2, prior=prior)
    stats = model.stats_from_responsibilities(x, resp)
    theta = model.m_step(stats, None)
    nk = resp.sum(axis=0)
    for k in range(2):
        xbar = resp[:, k] @ x / nk[k]
        scatter = (resp[:, k, None] * (x - xbar)).T @ (x - xbar)
        offset = xbar - prior.mean
        spread = (
            prior.scale_matrix()
            + scatter
            + 0.01 * nk[k] / (0.01 + nk[k]) * np.outer(offset, offset)
        )
        np.testing.assert_allclose(theta.covariances[k], spread / (nk[k] + 4 + 2 + 2), rtol=1e-12)
        np.testing.assert_allclose(
            theta.means[k], (nk[k] * xbar + 0.01 * prior.mean) / (nk[k] + 0.01), rtol=1e-12
        )


def test_no_prior_leaves_the_fit_unchanged() -> None:
    frame = emstat.load_dataset("faithful")
    plain = emstat.fit_mixture(frame, 3, "EEE")
    none = emstat.fit_mixture(frame, 3, "EEE", prior=None)
    assert plain.loglik == none.loglik
    assert plain.prior is None
    with_prior = emstat.fit_mixture(frame, 3, "EEE", prior="mclust")
    assert with_prior.loglik != plain.loglik


# --------------------------------------------------------------------------- the extension

_EXTENDED = ["EVE", "VEE", "VVE", "EVV"]


def _rotation(angles: np.ndarray, d: int) -> np.ndarray:
    from scipy.linalg import expm

    skew = np.zeros((d, d))
    skew[np.triu_indices(d, 1)] = angles
    return np.asarray(expm(skew - skew.T))


def _unit_shape(logs: np.ndarray) -> np.ndarray:
    """d positive numbers with product 1 from d - 1 free logs."""
    full = np.append(logs, -np.sum(logs))
    return np.exp(full)


def _covariances(model: str, v: np.ndarray, k: int, d: int) -> np.ndarray:
    """A parametrisation of each constrained model, for scipy."""
    n_rot = d * (d - 1) // 2
    if model == "VEE":  # lambda_k C, C = L L^T / |L L^T|^(1/d)
        lam = np.exp(v[:k])
        low = np.zeros((d, d))
        low[np.tril_indices(d)] = v[k:]
        c = low @ low.T
        c /= np.linalg.det(c) ** (1 / d)
        return lam[:, None, None] * c
    if model in ("EVE", "VVE"):
        n_vol = 1 if model == "EVE" else k
        lam = np.exp(v[:n_vol]) * np.ones(k)
        rot = _rotation(v[n_vol : n_vol + n_rot], d)
        shapes = v[n_vol + n_rot :].reshape(k, d - 1)
        return np.array([lam[j] * rot @ np.diag(_unit_shape(shapes[j])) @ rot.T for j in range(k)])
    # EVV: lambda B_k with |B_k| = 1
    lam = math.exp(v[0])
    out = []
    size = d * (d + 1) // 2
    for j in range(k):
        low = np.zeros((d, d))
        low[np.tril_indices(d)] = v[1 + j * size : 1 + (j + 1) * size]
        b = low @ low.T
        out.append(lam * b / np.linalg.det(b) ** (1 / d))
    return np.array(out)


def _n_free(model: str, k: int, d: int) -> int:
    n_rot = d * (d - 1) // 2
    return {
        "VEE": k + d * (d + 1) // 2,
        "EVE": 1 + n_rot + k * (d - 1),
        "VVE": k + n_rot + k * (d - 1),
        "EVV": 1 + k * d * (d + 1) // 2,
    }[model]


def _log_posterior_terms(
    x: np.ndarray, resp: np.ndarray, prior: Any, means: np.ndarray, cov: np.ndarray
) -> float:
    """Expected complete-data log-likelihood (without the weights) plus the NIW log prior."""
    q = 0.0
    for j in range(means.shape[0]):
        sign, logdet = np.linalg.slogdet(cov[j])
        if sign <= 0:
            return -math.inf
        centred = x - means[j]
        quad = np.einsum("ij,ij->i", centred @ np.linalg.inv(cov[j]), centred)
        logpdf = -0.5 * (x.shape[1] * math.log(2 * math.pi) + logdet + quad)
        q += float(resp[:, j] @ logpdf)
    return q + niw_log_prior(prior, means, cov)


@pytest.mark.parametrize("model", _EXTENDED)
def test_extended_m_step_is_the_conditional_maximiser(model: str) -> None:
    rng = np.random.default_rng(11)
    k, d = 2, 3
    x = np.vstack([rng.normal(size=(30, d)) @ rng.normal(size=(d, d)) + 3 * j for j in range(k)])
    resp = rng.dirichlet(np.ones(k), size=x.shape[0])
    prior = resolve_prior(GaussianPrior(), data_moments(x), k, model)
    em_model = GaussianMixtureModel(get_covariance_model(model, d), k, prior=prior)
    theta = em_model.m_step(em_model.stats_from_responsibilities(x, resp), None)
    ours = _log_posterior_terms(x, resp, prior, theta.means, theta.covariances)

    def negative(v: np.ndarray) -> float:
        means = v[: k * d].reshape(k, d)
        cov = _covariances(model, v[k * d :], k, d)
        return -_log_posterior_terms(x, resp, prior, means, cov)

    best = math.inf
    for seed in range(3):
        start = np.random.default_rng(seed).normal(scale=0.3, size=k * d + _n_free(model, k, d))
        start[: k * d] = (theta.means + 0.1 * seed).ravel()
        result = minimize(negative, start, method="BFGS", options={"gtol": 1e-9, "maxiter": 5000})
        best = min(best, result.fun)
    # no feasible point scipy finds is better, and scipy reaches ours
    assert -best <= ours + 1e-7 * abs(ours)
    assert -best == pytest.approx(ours, rel=1e-7)


@pytest.mark.parametrize("model", _EXTENDED)
def test_map_em_raises_the_posterior_for_the_extended_models(model: str) -> None:
    frame = emstat.load_dataset("faithful")
    x = frame.to_numpy(dtype=float)
    k = 3
    prior = resolve_prior(GaussianPrior(), data_moments(x), k, model)
    em_model = GaussianMixtureModel(get_covariance_model(model, 2), k, prior=prior)
    labels = np.arange(x.shape[0]) % k
    theta = em_model.m_step(em_model.stats_from_labels(x, labels), None)
    posteriors = []
    for _ in range(30):
        stats, loglik = em_model.e_step(theta, x)
        posteriors.append(loglik + niw_log_prior(prior, theta.means, theta.covariances))
        theta = em_model.m_step(stats, theta)
    steps = np.diff(posteriors)
    assert np.all(steps >= -1e-9 * np.abs(posteriors[1:])), steps.min()
    assert steps.max() > 0


@pytest.mark.parametrize("model", _EXTENDED)
def test_select_fits_the_models_mclust_drops(model: str) -> None:
    frame = emstat.load_dataset("faithful")
    selection = quietly(emstat.select_mixture, frame, k=[2, 3], models=[model], prior="mclust")
    assert all(fit.ok for fit in selection.fits.values())
    assert all("defaultPrior" in (fit.prior or "") for fit in selection.fits.values())


# --------------------------------------------------------------------------- user prior


def test_user_hyperparameters_are_used() -> None:
    frame = emstat.load_dataset("faithful")
    scale = np.array([[0.5, 1.0], [1.0, 40.0]])
    prior = emstat.GaussianPrior(shrinkage=0.5, mean=[3.0, 70.0], dof=6, scale=scale)
    fit = emstat.fit_mixture(frame, 2, "VVV", prior=prior, tol=1e-13, criterion="abs")
    assert fit.params_ is not None
    # the fixed point: each covariance is the posterior mode from its own responsibilities
    x = frame.to_numpy(dtype=float)
    resp = fit.predict_proba(frame).to_numpy()
    nk = resp.sum(axis=0)
    for k in range(2):
        xbar = resp[:, k] @ x / nk[k]
        scatter = (resp[:, k, None] * (x - xbar)).T @ (x - xbar)
        offset = xbar - np.array([3.0, 70.0])
        spread = scale + scatter + 0.5 * nk[k] / (0.5 + nk[k]) * np.outer(offset, offset)
        np.testing.assert_allclose(fit.params_.covariances[k], spread / (nk[k] + 6 + 4), rtol=1e-9)
    assert "user prior" in fit.summary()


def test_summary_save_and_standard_errors_say_the_prior(tmp_path: Path) -> None:
    frame = emstat.load_dataset("faithful")
    fit = emstat.fit_mixture(frame, 3, "EEE", prior="mclust")
    text = fit.summary()
    assert "prior: mclust defaultPrior" in text and "shrinkage 0.01" in text
    assert "exclude the prior" in text
    assert fit.std_error_reason == "a posterior mode (a fit with a prior)"
    assert np.isnan(fit.params["std_err"]).all()
    with pytest.raises(InputError, match="not available for a fit with a prior"):
        fit.bootstrap(n_boot=2)
    with pytest.raises(InputError, match="not available for a fit with a prior"):
        fit.conf_int(method="profile")
    path = fit.save(tmp_path / "fit.json")
    loaded = emstat.load_fit(path)
    assert loaded.prior == fit.prior
    assert loaded.loglik == fit.loglik


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"shrinkage": -0.1}, "shrinkage must be >= 0"),
        ({"shrinkage": "a"}, "shrinkage must be a number"),
        ({"dof": math.inf}, "dof must be finite"),
        ({"scale": -1.0}, "scale must be positive"),
        ({"scale": [[1.0, 2.0], [2.0, 1.0]]}, "positive definite"),
        ({"scale": [[1.0, 0.5], [0.0, 1.0]]}, "symmetric"),
        ({"scale": [1.0, 2.0]}, "a number or a square matrix"),
        ({"mean": [[1.0]]}, "must be a vector"),
        ({"mean": [1.0, math.nan]}, "must be finite"),
    ],
)
def test_bad_hyperparameters_are_refused(options: dict[str, Any], words: str) -> None:
    with pytest.raises(InputError, match=words):
        GaussianPrior(**options)


@pytest.mark.parametrize(
    ("prior", "words"),
    [
        (GaussianPrior(dof=1.0), r"dof must be > d - 1 = 1, got 1"),
        (GaussianPrior(mean=[1.0, 2.0, 3.0]), "prior mean has 3 values; the data have d = 2"),
        (GaussianPrior(scale=np.eye(3)), r"scale has shape \(3, 3\); the data need \(2, 2\)"),
        ("flat", "prior must be 'mclust', 'none' or an emstat.GaussianPrior"),
    ],
)
def test_a_prior_that_does_not_fit_the_data_is_refused(prior: Any, words: str) -> None:
    with pytest.raises(InputError, match=words):
        emstat.fit_mixture(emstat.load_dataset("faithful"), 2, "VVV", prior=prior)


def test_prior_with_a_ridge_or_another_family_is_refused() -> None:
    frame = emstat.load_dataset("faithful")
    with pytest.raises(InputError, match="either a prior or reg_covar"):
        emstat.fit_mixture(frame, 2, prior="mclust", reg_covar=1e-3)
    with pytest.raises(InputError, match="prior serves the Gaussian family only"):
        emstat.select_mixture(frame, k=2, family="poisson", prior="mclust")


# --------------------------------------------------------------------------- chunked data


def test_chunked_data_take_the_same_prior() -> None:
    frame = emstat.load_dataset("faithful")
    whole = emstat.fit_mixture(frame, 2, "VVV", prior="mclust")
    chunks = [frame.iloc[i : i + 50] for i in range(0, len(frame), 50)]
    streamed = emstat.fit_mixture(iter(chunks), 2, "VVV", prior="mclust")
    assert streamed.prior == whole.prior
    assert streamed.loglik == pytest.approx(whole.loglik, rel=1e-9)


# --------------------------------------------------------------------------- CLI


def test_cli_fit_and_select_take_prior_mclust(tmp_path: Path) -> None:
    spec, frame = load("faithful")
    path = tmp_path / "faithful.csv"
    frame.to_csv(path, index=False)
    runner = CliRunner()
    fitted = runner.invoke(app, ["fit", str(path), "-k", "3", "-m", "EEE", "--prior", "mclust"])
    assert fitted.exit_code == 0, fitted.output
    assert "prior: mclust defaultPrior" in fitted.output
    selected = runner.invoke(
        app,
        ["select", str(path), "--k", "1:9", "--models", "EEE,VVV", "--prior", "mclust", "--mclust"],
    )
    assert selected.exit_code == 0, selected.output
    assert "MAP fits under a prior (mclust defaultPrior" in selected.output
    want = spec["runs"]["mclust"]["bic_table"]
    for g in range(9):  # the EEE and VVV columns, as the table prints them
        assert f"{want['values'][g][6]:.3f} {want['values'][g][9]:.3f}" in selected.output
    bad = runner.invoke(app, ["fit", str(path), "-k", "2", "--prior", "flat"])
    assert bad.exit_code != 0
    assert "prior must be 'mclust', 'none'" in bad.output
    assert "Traceback" not in bad.output


def test_one_component_without_mean_prior_is_mclusts_mvn() -> None:
    # mnxxxp: (scale + W) / (dof + n + d + 1) when shrinkage = 0 (mevvvp would add 2)
    frame = emstat.load_dataset("faithful")
    x = frame.to_numpy(dtype=float)
    fit = emstat.fit_mixture(frame, 1, "VVV", prior=GaussianPrior(shrinkage=0))
    assert fit.params_ is not None
    n, d = x.shape
    scatter = (x - x.mean(axis=0)).T @ (x - x.mean(axis=0))
    scale = np.cov(x, rowvar=False)  # (1/G)^(2/d) = 1
    np.testing.assert_allclose(fit.params_.covariances[0], (scale + scatter) / (4 + n + d + 1))
    np.testing.assert_allclose(fit.params_.means[0], x.mean(axis=0))


def test_case_weights_count_in_the_prior_as_repeated_rows() -> None:
    frame = emstat.load_dataset("faithful").iloc[:60].reset_index(drop=True)
    weights = np.tile([1, 2, 3], 20)
    repeated = frame.loc[frame.index.repeat(weights)].reset_index(drop=True)
    start = np.arange(60) % 2
    weighted = emstat.fit_mixture(frame, 2, "VVV", weights=weights, prior="mclust", init=start)
    plain = emstat.fit_mixture(repeated, 2, "VVV", prior="mclust", init=np.repeat(start, weights))
    assert weighted.prior == plain.prior
    assert weighted.loglik == pytest.approx(plain.loglik, rel=1e-10)


def test_default_scale_with_no_more_rows_than_columns_is_diagonal() -> None:
    # defaultPrior: fac * diag(apply(X, 2, var)) when n <= d
    x = np.array([[1.0, 2.0, 0.0, 5.0], [2.0, 0.0, 1.0, 4.0], [4.0, 1.0, 3.0, 1.0]])
    resolved = resolve_prior(GaussianPrior(), data_moments(x), 2, "VVV")
    expected = 0.5 ** (2 / 4) * np.diag(np.var(x, axis=0, ddof=1))
    np.testing.assert_allclose(resolved.scale, expected, rtol=1e-14)


def test_a_shift_of_the_data_shifts_the_map_fit() -> None:
    # the prior mean follows the data (the column means): the fit is equivariant
    frame = emstat.load_dataset("faithful")
    fit = emstat.fit_mixture(frame, 3, "VEV", prior="mclust")
    shift = np.array([100.0, -5000.0])
    moved = emstat.fit_mixture(frame + shift, 3, "VEV", prior="mclust")
    assert fit.params_ is not None and moved.params_ is not None
    assert moved.loglik == pytest.approx(fit.loglik, rel=1e-10)
    np.testing.assert_allclose(moved.params_.means - shift, fit.params_.means, rtol=1e-9)


def test_a_dask_dataframe_takes_the_same_prior() -> None:
    dd = pytest.importorskip("dask.dataframe")
    frame = emstat.load_dataset("faithful")
    whole = emstat.fit_mixture(frame, 2, "VVV", prior="mclust")
    spread = emstat.fit_mixture(dd.from_pandas(frame, npartitions=3), 2, "VVV", prior="mclust")
    assert spread.prior == whole.prior
    assert spread.loglik == pytest.approx(whole.loglik, rel=1e-10)
