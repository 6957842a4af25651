"""The chart's per-shape layout, the constraint checks and the Wald path's single preparation.

The Jacobian's oracle is its definition by index arithmetic (the means' ones at their
rows and chart columns, each covariance coordinate's derivative on the upper triangle's
rows); the preparation is counted; the warnings are the ones the functions document.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import emstat
from emstat.errors import InputError, StdErrorWarning
from emstat.mixture import gaussian, stderr
from emstat.mixture.covariance import COVARIANCE_MODELS

MODELS_1D = ["E", "V"]


def _jacobian_by_indices(chart: stderr._Chart) -> np.ndarray:
    k, d, p = chart.k, chart.d, chart.n_free
    m = 1 + d + d * (d + 1) // 2
    jac = np.zeros((k, m, p))
    w = chart.weights
    for j in range(k):
        for a in range(k - 1):
            jac[j, 0, a] = w[j] * ((1.0 if j == a else 0.0) - w[a])
        for c in range(d):
            jac[j, 1 + c, k - 1 + j * d + c] = 1.0
    rows, cols = np.triu_indices(d)
    for j in range(k):
        frame = chart.orientations[j]
        for a, column in enumerate(chart.cov_index[j]):
            d_sigma = frame @ chart.d_m[j, a] @ frame.T
            for r, (row, col) in enumerate(zip(rows, cols, strict=True)):
                jac[j, 1 + d + r, column] = d_sigma[row, col]
    return jac.reshape(k * m, p)


def _params(model: str, k: int, d: int, seed: int) -> gaussian.GaussianParams:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(40 * k, d)) + 3.0 * rng.integers(k, size=40 * k)[:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = emstat.fit_mixture(x, k=k, model=model, seed=seed)
    if not fit.ok:
        pytest.skip(f"{model} k={k} d={d}: degenerate fit")
    return fit.params_


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize(
    ("model", "d"),
    [(m, 1) for m in MODELS_1D]
    + [(m, d) for m in COVARIANCE_MODELS if m not in MODELS_1D for d in (2, 3)],
)
def test_the_jacobian_from_the_cached_layout_is_its_index_definition(model, d, k) -> None:
    params = _params(model, k, d, seed=k + d)
    chart = stderr._build_chart(params, model)
    if chart.has_orientation:  # d Sigma = D dM D^T is a sum: equal to rounding only
        np.testing.assert_allclose(
            stderr._jacobian(chart), _jacobian_by_indices(chart), rtol=1e-14, atol=1e-15
        )
    else:  # copies of d_m's entries: the same bits
        np.testing.assert_array_equal(stderr._jacobian(chart), _jacobian_by_indices(chart))
    # the layout is shared by every chart of the shape, and read-only
    again = stderr._build_chart(params, model)
    assert again.layout is chart.layout
    assert not chart.layout.cov_positions.flags.writeable
    # the arrays the kernels get are the chart's own (writable; the jets in C order)
    for array in (chart.orientations, chart.d_m, chart.d2_m, chart.diagonals):
        assert array.flags.writeable
    assert chart.d_m.flags.c_contiguous and chart.d2_m.flags.c_contiguous
    chart.orientations[...] = 0.0  # a caller's edit does not reach the next chart
    assert np.array_equal(stderr._build_chart(params, model).orientations, again.orientations)


def _diagonal_params(variances: list[list[float]]) -> gaussian.GaussianParams:
    var = np.asarray(variances, dtype=float)
    k, d = var.shape
    covariances = np.stack([np.diag(v) for v in var])
    return gaussian.gaussian_params(
        np.full(k, 1.0 / k), np.arange(k * d).reshape(k, d), covariances
    )


@pytest.mark.parametrize(
    ("model", "variances", "broken"),
    [
        ("E", [[1.0], [2.0]], "volume"),
        ("EII", [[1.0, 1.0], [2.0, 2.0]], "volume"),
        ("VII", [[1.0, 2.0], [1.0, 1.0]], "shape"),
        ("EEI", [[1.0, 2.0], [2.0, 1.0]], "shape"),
        ("EEI", [[1.0, 2.0], [3.0, 1.0]], "volume and shape"),
    ],
)
def test_covariances_outside_the_model_are_refused_naming_the_constraint(
    model, variances, broken
) -> None:
    params = _diagonal_params(variances)
    with pytest.raises(InputError, match=f"model {model}'s constraints on {broken};"):
        stderr._build_chart(params, model)


@pytest.mark.parametrize("model", ["V", "E", "VVI"])
def test_covariances_inside_the_model_are_accepted(model) -> None:
    variances = [[1.0], [3.0]] if model == "V" else [[2.0], [2.0]]
    if model == "VVI":
        variances = [[1.0, 4.0], [2.0, 0.5]]
    chart = stderr._build_chart(_diagonal_params(variances), model)
    np.testing.assert_array_equal(chart.diagonals, variances)


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan, np.inf])
def test_a_covariance_that_is_not_positive_definite_is_refused(bad) -> None:
    params = _diagonal_params([[1.0], [2.0]])
    covariances = params.covariances.copy()
    covariances[1, 0, 0] = bad
    broken = gaussian.GaussianParams(
        params.weights, params.means, covariances, params.prec_chol, params.half_log_det_prec
    )
    with pytest.raises(InputError, match="covariance model V: the covariances are not positive"):
        stderr._build_chart(broken, "V")


def _far_fit():
    """A fit that stopped far from its maximum: its Wald errors need the empirical
    information (the observed one at the polished point is not the fit's)."""
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.normal(-0.8, 1, 50), rng.normal(0.8, 1, 50)])[:, None]
    return x, emstat.fit_mixture(x, k=2, model="V")


def test_the_wald_path_prepares_the_data_once_for_both_informations(monkeypatch) -> None:
    x, fit = _far_fit()
    expected, _ = stderr.empirical_std_errors(x, fit.params_, "V")
    calls = []
    prepare = stderr._prepare
    monkeypatch.setattr(stderr, "_prepare", lambda *a: calls.append(a) or prepare(*a))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # all identified: nothing to warn of
        se, reason, information = stderr.wald_std_errors(x, fit.params_, "V")
    assert len(calls) == 1
    assert information == stderr.EMPIRICAL_INFORMATION
    np.testing.assert_array_equal(se, expected)
    assert reason.startswith(f"{stderr.EMPIRICAL_INFORMATION} at the fit, as the fit is not near")


def test_stationary_std_errors_still_warns_once_with_the_count_and_reason() -> None:
    x, fit = _far_fit()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        se, reason = stderr.stationary_std_errors(x, fit.params_, "V")
    assert np.isnan(se).all() and reason is not None
    messages = [str(w.message) for w in caught if w.category is StdErrorWarning]
    assert messages == [f"6 standard errors are NaN: {reason}"]
    assert caught[0].filename == __file__  # the caller's line, as before
