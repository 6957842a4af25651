"""reg_covar: scikit-learn's ridge on the covariances, in every Gaussian path."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import emstat
from emstat.mixture.covariance import get_covariance_model
from emstat.mixture.gaussian import stats_from_responsibilities
from emstat.mixture.model import GaussianMixtureModel
from emstat.mixture.result import MixtureResult


@pytest.fixture(scope="module")
def faithful() -> pd.DataFrame:
    return emstat.load_dataset("faithful")


def _start_resp(x: np.ndarray) -> np.ndarray:
    """A fixed soft start: responsibilities from the first column's rank."""
    p = (np.argsort(np.argsort(x[:, 0])) + 0.5) / x.shape[0]
    return np.column_stack([1.0 - p, p])


def test_vvv_with_reg_covar_matches_scikit_learn(faithful):
    from sklearn.mixture import GaussianMixture
    from sklearn.mixture._gaussian_mixture import _estimate_gaussian_parameters

    reg = 0.5
    x = faithful.to_numpy()
    resp = _start_resp(x)
    # scikit-learn's own M-step of the same responsibilities is its start; emstat's first
    # M-step from those responsibilities is the same step.
    nk, means, covs = _estimate_gaussian_parameters(x, resp, reg, "full")
    sk = GaussianMixture(
        2,
        covariance_type="full",
        reg_covar=reg,
        tol=1e-14,
        max_iter=5000,
        weights_init=nk / nk.sum(),
        means_init=means,
        precisions_init=np.linalg.inv(covs),
    ).fit(x)
    fit = emstat.fit_mixture(
        faithful, 2, "VVV", init=resp, reg_covar=reg, tol=1e-14, criterion="abs", max_iter=5000
    )
    assert fit.converged and sk.converged_
    np.testing.assert_allclose(fit.weights.to_numpy(), sk.weights_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(fit.means.to_numpy(), sk.means_, rtol=1e-8)
    covariances = np.stack([c.to_numpy() for c in fit.covariances.values()])
    np.testing.assert_allclose(covariances, sk.covariances_, rtol=1e-8)
    assert fit.loglik == pytest.approx(sk.score(x) * x.shape[0], rel=1e-10)


def test_the_ridge_adds_reg_covar_to_each_covariance_of_a_partition():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 3))
    resp = np.zeros((40, 2))
    resp[np.arange(40), np.arange(40) % 2] = 1.0
    for name in ("VVV", "VVI"):
        covariance = get_covariance_model(name, 3)
        stats = stats_from_responsibilities(x, resp, covariance.scatter)
        plain = GaussianMixtureModel(covariance, 2).m_step(stats, None)
        ridged = GaussianMixtureModel(covariance, 2, 0.25).m_step(stats, None)
        np.testing.assert_allclose(ridged.covariances, plain.covariances + 0.25 * np.eye(3))
        np.testing.assert_array_equal(ridged.means, plain.means)
        # the compiled and the numpy M-steps apply the same ridge
        reference = GaussianMixtureModel(covariance, 2, 0.25).reference_m_step(stats, None)
        np.testing.assert_allclose(reference.covariances, ridged.covariances, rtol=1e-12)


def test_zero_reg_covar_leaves_fits_unchanged(faithful):
    fit = emstat.fit_mixture(faithful, 3, "EEE", reg_covar=0.0)
    assert fit.loglik == -1126.3262364682603  # the value before reg_covar existed
    assert fit.n_iter == 18
    default = emstat.fit_mixture(faithful, 3, "EEE")
    np.testing.assert_array_equal(fit.params_.covariances, default.params_.covariances)
    assert "reg_covar" not in fit.to_dict()
    assert "reg_covar" not in fit.summary()


def test_every_model_takes_the_ridge(faithful):
    sel = emstat.select_mixture(faithful, k=[1, 2], reg_covar=1e-3)
    plain = emstat.select_mixture(faithful, k=[1, 2])
    assert len(sel.fits) == 28
    for key, fit in sel.fits.items():
        assert fit.reg_covar == 1e-3
        assert fit.ok and fit.loglik != plain.fits[key].loglik, key
    one = emstat.fit_mixture(faithful, 1, "EII", reg_covar=2.0)
    base = emstat.fit_mixture(faithful, 1, "EII")
    np.testing.assert_allclose(one.params_.covariances, base.params_.covariances + 2.0 * np.eye(2))


def test_singular_data_fit_with_a_ridge():
    # 20 rows of small integers in 5-D: the VVV MLE is singular, the ridged fit is not
    x = np.random.default_rng(0).integers(0, 3, size=(20, 5)).astype(float)
    frame = pd.DataFrame(x, columns=list("abcde"))
    assert not emstat.fit_mixture(frame, 2, "VVV").ok
    fit = emstat.fit_mixture(frame, 2, "VVV", reg_covar=1e-6)
    assert fit.ok and math.isfinite(fit.bic)


def test_a_regularised_fit_saves_says_and_loads_its_ridge(faithful, tmp_path):
    fit = emstat.fit_mixture(faithful, 2, "VVV", reg_covar=0.01)
    assert "reg_covar = 0.01" in fit.summary()
    assert "regularised fit" in (fit.std_error_reason or "")
    assert np.isnan(fit.params["std_err"]).all()
    loaded = emstat.load_fit(fit.save(tmp_path / "fit.json"))
    assert loaded.reg_covar == 0.01
    assert loaded.loglik == fit.loglik
    payload = fit.to_dict()
    payload["reg_covar"] = -1.0
    with pytest.raises(emstat.InputError, match="reg_covar"):
        MixtureResult.from_dict(payload)


def test_old_files_without_reg_covar_load_as_unregularised(faithful):
    payload = emstat.fit_mixture(faithful, 2, "EEE").to_dict()
    assert "reg_covar" not in payload
    assert MixtureResult.from_dict(payload).reg_covar == 0.0


@pytest.mark.parametrize("bad", [-1e-6, math.inf, math.nan, "1e-6", True, None])
def test_bad_reg_covar_is_refused(faithful, bad):
    with pytest.raises(emstat.InputError, match="reg_covar must be a finite number >= 0"):
        emstat.fit_mixture(faithful, 2, reg_covar=bad)
    with pytest.raises(emstat.InputError, match="reg_covar must be a finite number >= 0"):
        emstat.select_mixture(faithful, k=[1, 2], reg_covar=bad)


def test_other_families_refuse_reg_covar(faithful):
    with pytest.raises(emstat.InputError, match="reg_covar serves the Gaussian family only"):
        emstat.fit_mixture(faithful, 2, family="normal", reg_covar=1e-6)


def test_scikit_learn_estimator_refuses_a_negative_ridge(faithful):
    from emstat.sklearn import GaussianMixture

    with pytest.raises(ValueError, match="reg_covar"):
        GaussianMixture(reg_covar=-1.0).fit(faithful)


def test_a_ridged_fit_does_not_warn_of_a_decrease(faithful):
    # the ridged M-step does not maximise the likelihood, so the log-likelihood may fall
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = emstat.select_mixture(faithful, k=[2], reg_covar=1e-3)
    assert all(f.reg_covar == 1e-3 for f in fit.fits.values())


def test_chunked_data_take_the_same_ridge(faithful):
    def pieces(size: int):
        return (faithful.iloc[i : i + size] for i in range(0, len(faithful), size))

    reference = emstat.fit_mixture(faithful, 2, "VEV", reg_covar=0.05)
    plain = emstat.fit_mixture(pieces(100), 2, "VEV", chunk_rows=30)
    chunked = emstat.fit_mixture(pieces(100), 2, "VEV", chunk_rows=30, reg_covar=0.05)
    assert chunked.reg_covar == 0.05
    assert chunked.loglik == pytest.approx(reference.loglik, rel=1e-10)
    assert chunked.loglik != pytest.approx(plain.loglik, rel=1e-10)
    np.testing.assert_allclose(
        chunked.params_.covariances, reference.params_.covariances, rtol=1e-8
    )


def test_refit_based_inference_refuses_a_ridged_fit(faithful):
    fit = emstat.fit_mixture(faithful, 2, "EEE", reg_covar=0.01)
    with pytest.raises(emstat.InputError, match="bootstrap replicates are not available"):
        fit.bootstrap(n_boot=3)
    with pytest.raises(emstat.InputError, match=r"profile intervals .* reg_covar = 0\.01"):
        fit.conf_int(method="profile")
    assert fit.conf_int()["std_err"].isna().all()
