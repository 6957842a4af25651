"""Standard errors of a fit that stopped far from any maximum: the curvature of a maximum
more than POLISH_REACH_SE of its standard errors away is not the fit's, so they come from
the empirical information at the fit itself, and the reason says how far the maximum is."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import emstat
from emstat.engine import EMControl, fit_em
from emstat.mixture import stderr
from emstat.mixture.covariance import get_covariance_model
from emstat.mixture.model import GaussianMixtureModel


@pytest.fixture(autouse=True)
def _quiet() -> None:
    warnings.simplefilter("ignore")


def _overlapping(seed: int) -> tuple[np.ndarray, emstat.MixtureResult]:
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(-0.8, 1, 50), rng.normal(0.8, 1, 50)])[:, None]
    return x, emstat.fit_mixture(x, k=2, model="V")


def test_a_fit_far_from_its_maximum_keeps_its_own_standard_errors() -> None:
    x, fit = _overlapping(2)
    assert fit.converged  # by its own rule (mclust's 1e-5), yet far from the maximum
    # the oracle: EM from the fit at a tight tolerance, and the maximum's own curvature
    data, centred, _ = stderr._prepare(x, fit.params_, "V")
    model = GaussianMixtureModel(get_covariance_model("V", 1), 2)
    tight = fit_em(model, data, theta0=centred, control=EMControl(tol=1e-13, max_iter=100_000))
    assert tight.theta is not None
    far_se = stderr.information_std_errors(data, tight.theta, "V")
    fitted = fit.params["estimate"].to_numpy()
    moved = np.abs(
        stderr.reported_vector(tight.theta.weights, tight.theta.means, tight.theta.covariances)
        - stderr.reported_vector(centred.weights, centred.means, centred.covariances)
    )
    assert np.nanmax(moved / far_se) > stderr.POLISH_REACH_SE
    observed, reason = stderr.stationary_std_errors(x, fit.params_, "V")
    assert np.isnan(observed).all()
    assert reason.startswith("the fit stopped far from a maximum of the likelihood")
    assert "standard errors; the log-likelihood up by" in reason and "smaller tol" in reason
    # what the fit reports: the empirical information at the fit itself
    table = fit.params
    expected, _ = stderr.empirical_std_errors(x, fit.params_, "V")
    np.testing.assert_allclose(table["std_err"], expected, rtol=1e-12)
    np.testing.assert_allclose(table["estimate"], fitted, rtol=0)
    assert fit.std_error_information == stderr.EMPIRICAL_INFORMATION
    assert "at the fit, as the fit is not near a maximum" in fit.std_error_reason


def test_a_tighter_fit_of_the_same_data_has_its_maximums_information() -> None:
    x, _ = _overlapping(2)
    tight = emstat.fit_mixture(x, k=2, model="V", tol=1e-12, max_iter=100_000)
    se, reason = stderr.stationary_std_errors(x, tight.params_, "V")
    assert reason is None and np.isfinite(se).all()
    assert tight.std_error_information == stderr.OBSERVED_INFORMATION
    np.testing.assert_allclose(tight.params["std_err"], se, rtol=1e-10)
