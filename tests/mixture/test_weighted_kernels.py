"""The compiled E-step of case-weighted rows against the numpy one through the responsibilities."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import emstat
from emstat.mixture import _weighted_kernels, fused, gaussian


@pytest.fixture(autouse=True)
def _quiet() -> None:
    warnings.simplefilter("ignore")


def _numpy_weighted(
    x: np.ndarray, w: np.ndarray, params: gaussian.GaussianParams, scatter: str
) -> tuple[gaussian.GaussianStats, float]:
    log_resp, row = gaussian.log_responsibilities(x, params)
    stats = gaussian.stats_from_responsibilities(x, np.exp(log_resp) * w[:, None], scatter)  # type: ignore[arg-type]
    return gaussian.GaussianStats(
        stats.nk, stats.sums, stats.second, float(w @ log_resp.max(1))
    ), float(w @ row)


@pytest.mark.parametrize(("model", "d"), [("EEE", 2), ("VVV", 2), ("VVI", 2), ("V", 1)])
def test_the_compiled_weighted_e_step_is_the_numpy_one(model: str, d: int) -> None:
    faithful = emstat.load_dataset("faithful")
    data = faithful if d == 2 else faithful[["waiting"]]
    fit = emstat.fit_mixture(data, 3, model=model)
    x = data.to_numpy(float)
    weights = np.random.default_rng(1).exponential(size=x.shape[0])
    scatter = "diag" if model in ("VVI", "V") else "full"
    done = _weighted_kernels.weighted_e_step(x, weights, fit.params_, scatter == "diag")
    assert done is not None
    stats, loglik = done
    want, want_loglik = _numpy_weighted(x, weights, fit.params_, scatter)
    for got, ref in ((stats.nk, want.nk), (stats.sums, want.sums), (stats.second, want.second)):
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref, rtol=1e-12)
    assert loglik == pytest.approx(want_loglik, rel=1e-13)
    assert stats.classification_loglik == pytest.approx(want.classification_loglik, rel=1e-12)
    # and the weighted fit takes it: the same fit as with the kernel switched off
    assert fused.available()
    via = gaussian.weighted_e_step(gaussian.WeightedRows(x, weights), fit.params_, scatter)  # type: ignore[arg-type]
    np.testing.assert_allclose(via[0].second, want.second, rtol=1e-12)


def test_a_row_too_far_for_the_kernel_is_left_to_numpy() -> None:
    params = gaussian.gaussian_params(
        np.array([0.5, 0.5]), np.array([[0.0], [1.0]]), np.array([[[1.0]], [[1.0]]]), diagonal=True
    )
    x = np.array([[0.0], [1.0], [1e200]])
    weights = np.ones(3)
    assert _weighted_kernels.weighted_e_step(x, weights, params, True) is None
    stats, loglik = gaussian.weighted_e_step(gaussian.WeightedRows(x, weights), params, "diag")
    assert loglik == -np.inf and np.isfinite(stats.nk).all()
