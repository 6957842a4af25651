"""The Wald table's per-layout caches: the same bits as the direct computation, and no
caller reaches a cache through a table it was given."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from emstat import results


def _frompyfunc(scalar, values):
    """The transform as it was computed: numpy's frompyfunc loop over the scalar."""
    with np.errstate(over="ignore", invalid="ignore"):  # NaN compared in the scalar
        return np.asarray(np.frompyfunc(scalar, 1, 1)(np.asarray(values, float)), dtype=float)


def _masked_intervals(estimate, std_err, scales, level):
    """Wald intervals row group by row group through every transform (identity included)."""
    z = results.wald_z(level)
    low = np.full(estimate.shape, np.nan)
    high = np.full(estimate.shape, np.nan)
    scales = np.asarray(scales, dtype=object)
    with np.errstate(divide="ignore", invalid="ignore"):
        for scale, (forward, inverse, slope) in results._TRANSFORMS.items():
            rows = scales == scale
            if rows.any():
                est, se = estimate[rows], std_err[rows]
                centre = forward(est)
                half = z * se * np.abs(slope(est))
                low[rows], high[rows] = inverse(centre - half), inverse(centre + half)
    return low, high


def test_logit_and_expit_give_the_frompyfunc_bits_in_any_shape() -> None:
    rng = np.random.default_rng(3)
    probabilities = np.concatenate([rng.uniform(size=200), [0.0, 1.0, 0.5, np.nan, -0.1, 1.2]])
    reals = np.concatenate([rng.normal(scale=30, size=200), [800.0, -800.0, 1e308, np.nan]])
    for scalar, transform, values in (
        (results._logit_scalar, results._logit, probabilities),
        (results._expit_scalar, results._expit, reals),
    ):
        np.testing.assert_array_equal(transform(values), _frompyfunc(scalar, values))
        grid = values[:120].reshape(3, 40)
        assert transform(grid).shape == (3, 40)
        np.testing.assert_array_equal(transform(grid), _frompyfunc(scalar, grid))
        assert transform(np.float64(0.25)).shape == ()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an exp that overflows warns of nothing
        assert results._expit(np.array([-1000.0]))[0] == 0.0


@pytest.mark.parametrize("level", [0.95, 0.8, 0.5])
def test_wald_intervals_match_every_transform_applied_row_group_by_group(level) -> None:
    rng = np.random.default_rng(7)
    scales = ["logit", "identity", "log", "fisher_z", "unknown", "log"] * 5
    estimate = np.where(
        np.isin(scales, ["logit", "fisher_z"]), rng.uniform(size=30), rng.gamma(2.0, size=30)
    )
    std_err = rng.gamma(1.0, size=30)
    std_err[[1, 4, 7]] = [np.nan, np.inf, 0.0]
    got = results.wald_intervals(estimate, std_err, scales, level)
    want = _masked_intervals(estimate, std_err, scales, level)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    assert np.isnan(got[0][4]) and np.isnan(got[1][4])  # an unknown scale has no interval
    # the same table from an object array, as ParamsArrays holds its scales
    again = results.wald_intervals(estimate, std_err, np.asarray(scales, dtype=object), level)
    np.testing.assert_array_equal(again[0], got[0])
    with pytest.raises(results.InputError, match="confidence level"):
        results.wald_intervals(estimate, std_err, scales, 1.5)


def test_tables_of_one_layout_share_read_only_columns_a_caller_cannot_edit() -> None:
    names, scales = ["weight", "mean[x]", "var[x]"], ["logit", "identity", "log"]
    est = np.array([0.3, 0.0, 1.0, 0.7, 2.0, 0.5])
    first = results.params_arrays(2, names, est, np.full(6, 0.1), scales)
    second = results.params_arrays(2, names, 2 * est, np.full(6, 0.2), scales)
    assert first.parameter is second.parameter  # made once for the layout
    assert list(first.parameter) == names * 2 and list(first.component) == [1, 1, 1, 2, 2, 2]
    with pytest.raises(ValueError, match="read-only"):
        first.parameter[0] = "edited"
    table = first.frame()
    table.loc[0, "parameter"] = "edited"
    table.loc[0, "component"] = 9
    assert second.parameter[0] == "weight" and second.component[0] == 1
    assert list(results.params_arrays(2, names, est, est, scales).scale) == scales * 2
    # the caller's estimate stays the caller's: the table holds a copy
    est[0] = -1.0
    assert first.estimate[0] == 0.3
