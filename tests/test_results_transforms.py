"""Wald intervals without scipy.special: the quantiles and the logit transform equal
scipy's to the bit (scipy is the oracle), so no interval changes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.special import expit, logit, ndtri

from emstat import results


@pytest.mark.parametrize("level", sorted(results._NORMAL_QUANTILES))
def test_the_stored_quantiles_are_scipys_to_the_bit(level: float) -> None:
    assert results._NORMAL_QUANTILES[level] == float(ndtri(0.5 + level / 2.0))
    assert results.wald_z(level) == float(ndtri(0.5 + level / 2.0))


def _probabilities() -> np.ndarray:
    rng = np.random.default_rng(7)
    edges = [0.0, 1.0, 0.5, 0.3, 0.65, 1e-300, 5e-324, 1 - 2**-53, -0.1, 1.5, np.nan]
    return np.concatenate([rng.random(20_000), rng.random(500) * 1e-8, edges])


def test_logit_is_scipys_to_the_bit() -> None:
    p = _probabilities()
    with np.errstate(divide="ignore", invalid="ignore"):
        np.testing.assert_array_equal(results._logit(p), logit(p))
    # the shapes callers pass: a matrix's column and a 2-D block
    block = p[:600].reshape(20, 30)
    np.testing.assert_array_equal(results._logit(block), logit(block))


def test_expit_is_scipys_to_the_bit() -> None:
    rng = np.random.default_rng(8)
    x = np.concatenate(
        [rng.normal(0, 6, 20_000), [0.0, -745.0, -800.0, 800.0, np.inf, -np.inf, np.nan]]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # as scipy: no overflow warning
        np.testing.assert_array_equal(results._expit(x), expit(x))
    assert results._expit(np.array([-1e308]))[0] == 0.0  # exp overflows: scipy's 1 / inf


def test_weight_intervals_match_scipys_transform() -> None:
    estimate = np.array([0.132218, 0.867782, 0.5, 1e-9])
    std_err = np.array([0.085827, 0.085827, 0.2, 1e-9])
    low, high = results.wald_intervals(estimate, std_err, ["logit"] * 4)
    z = float(ndtri(0.975))
    half = z * std_err / (estimate * (1 - estimate))
    np.testing.assert_array_equal(low, expit(logit(estimate) - half))
    np.testing.assert_array_equal(high, expit(logit(estimate) + half))
