"""The compiled polish of a diagonal model's standard errors gives what the numpy loop gives.

``stderr_seed_study.json`` holds the standard errors, reasons and information of
60 fits of the seed's simulation study as emstat computed them before the
polish was compiled, nine of them rewritten when its tight-tolerance EM became
SQUAREM (see ``tests/reference/README_stderr.md`` and
``make_stderr_seed_study.py``): fits
within reach, far from their maximum along each kind of parameter, saddles and
fits from which EM degenerates.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import emstat
from emstat.mixture import gaussian, stderr

REFERENCE = Path(__file__).parent.parent / "reference" / "stderr_seed_study.json"
CASES = json.loads(REFERENCE.read_text())["cases"]


def case_fit(case: dict[str, Any]) -> tuple[np.ndarray, gaussian.GaussianParams]:
    """The case's data and fitted parameters, as the fit held them."""
    x = np.asarray(case["x"], dtype=float)[:, None]
    params = gaussian.gaussian_params(
        np.asarray(case["weights"]),
        np.asarray(case["means"])[:, None],
        np.asarray(case["variances"])[:, None, None],
        diagonal=True,
    )
    if case["origin"] is not None:
        params = replace(
            params,
            origin=np.asarray(case["origin"]),
            local_means=np.asarray(case["local_means"])[:, None],
        )
    return x, params


# A 2-component fit's two weights move alike (by the same number of their standard
# errors): which of them a reason names is rounding's choice.
_WEIGHT_MOVE = re.compile(r"moves [12]:weight from \S+ to \S+ \(")


def same_reason(got: str | None, want: str | None) -> bool:
    if got is None or want is None:
        return got == want
    return _WEIGHT_MOVE.sub("moves a weight (", got) == _WEIGHT_MOVE.sub("moves a weight (", want)


def test_reference_covers_every_route() -> None:
    kinds = {case["kind"] for case in CASES}
    assert kinds == {"observed", "far_variance", "far_weight", "far_mean", "saddle", "degenerate"}
    assert len(CASES) == 60


@pytest.mark.parametrize("case", CASES, ids=[f"{c['kind']}-{c['replicate']}" for c in CASES])
def test_seed_study_std_errors_as_before(case: dict[str, Any]) -> None:
    x, params = case_fit(case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        se, reason, information = stderr.wald_std_errors(x, params, "V")
    want = np.array([np.nan if v is None else v for v in case["std_errors"]])
    np.testing.assert_array_equal(np.isnan(se), np.isnan(want))
    np.testing.assert_allclose(se, want, rtol=1e-8)
    assert information == case["information"]
    assert same_reason(reason, case["reason"]), (reason, case["reason"])


def test_weight_reasons_compare_the_rest_of_the_text() -> None:
    text = "EM at a tight tolerance moves 1:weight from 0.5074 to 0.9174 (4.73 standard errors"
    assert same_reason(text, text.replace("1:weight from 0.5074 to 0.9174", "2:weight from 1 to 2"))
    assert not same_reason(text, text.replace("4.73", "4.74"))
    assert not same_reason(text, None)


def python_polish(monkeypatch: pytest.MonkeyPatch, *args: Any, **kwargs: Any) -> Any:
    with monkeypatch.context() as patch:
        patch.setattr(stderr, "_compiled_newton_polish", lambda *a: None)
        return stderr._newton_polish(*args, **kwargs)


def loose_fits() -> list[tuple[str, np.ndarray, gaussian.GaussianParams]]:
    """Fits that stopped short of their maximum, of diagonal models in 1 to 3 dimensions."""
    rng = np.random.default_rng(5)
    out = []
    for model, d in [("V", 1), ("E", 1), ("VVI", 2), ("EEI", 3), ("VII", 2), ("EVI", 2)]:
        for _ in range(3):
            centres = rng.normal(scale=1.2, size=(2, d))
            x = np.repeat(centres, 60, axis=0) + rng.normal(size=(120, d))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = emstat.fit_mixture(x, k=2, model=model, tol=1e-3)
            if fit.ok:
                out.append((model, x, fit.params_))
    return out


@pytest.mark.parametrize("damped", [True, False])
def test_compiled_newton_polish_matches_the_python_loop(
    damped: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    fits = loose_fits()
    assert len(fits) >= 15
    moved = 0
    for model, x, params in fits:
        data, centred, _ = stderr._prepare(x, params, model)
        got, known, stationary = stderr._newton_polish(data, centred, model, None, damped=damped)
        want, want_known, want_stationary = python_polish(
            monkeypatch, data, centred, model, None, damped=damped
        )
        assert stationary == want_stationary, model
        scale = np.abs(want.vector()).max()
        np.testing.assert_allclose(got.vector(), want.vector(), rtol=0, atol=1e-9 * scale)
        np.testing.assert_allclose(known[1], want_known[1], rtol=1e-7, atol=1e-7)
        moved += int(np.abs(got.vector() - centred.vector()).max() > 1e-6)
    assert moved >= 10  # the loose fits were polished, not left where they stopped


def test_compiled_trial_matches_numpy() -> None:
    rng = np.random.default_rng(11)
    valid = invalid = 0
    for model, x, params in loose_fits():
        data, _, chart = stderr._prepare(x, params, model)
        for _ in range(30):
            step = rng.normal(scale=10 ** rng.uniform(-4, 1.5), size=chart.n_free)
            weights, means, covs = stderr._chart_point(chart, step)
            try:
                want = gaussian.gaussian_params(weights, means, covs, diagonal=True)
            except emstat.errors.EmstatError:
                want = None
            got, finite = stderr._diagonal_trial(data, chart, step, None)
            assert finite
            if want is None:
                assert got is None
                invalid += 1
                continue
            assert got is not None
            valid += 1
            for name in ("weights", "means", "covariances", "prec_chol", "half_log_det_prec"):
                np.testing.assert_allclose(getattr(got[0], name), getattr(want, name), rtol=1e-12)
            assert got[1] == pytest.approx(stderr._weighted_loglik(data, want, None), rel=1e-12)
    assert valid > 100 and invalid > 5  # both verdicts seen


def test_compiled_polish_falls_back_where_a_row_overflows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A row too far from every mean for the kernels: the numpy loop polishes instead."""
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.normal(-1, 1, 60), rng.normal(1, 1, 60), [1e170]])[:, None]
    params = gaussian.gaussian_params(
        np.array([0.5, 0.5]), np.array([[-1.0], [1.0]]), np.ones((2, 1, 1)), diagonal=True
    )
    calls: list[int] = []
    python_loop = stderr._python_newton_polish
    monkeypatch.setattr(
        stderr, "_python_newton_polish", lambda *a, **k: calls.append(1) or python_loop(*a, **k)
    )
    chart = stderr._build_chart(params, "V")
    with np.errstate(all="ignore"):  # numpy's route overflows in that row's terms
        known = (chart, *stderr._numpy_loglik_derivatives(x, params, chart))
        assert stderr._compiled_newton_polish(x, params, "V", None, known, True) is None
        stderr._newton_polish(x, params, "V", None, known)
    assert calls == [1]


def test_compiled_delta_method_matches_numpy() -> None:
    """Positive definite, indefinite and singular informations, and dead coordinates."""
    rng = np.random.default_rng(0)
    reasons: dict[str | None, int] = {}
    for trial in range(600):
        p, m = int(rng.integers(1, 9)), int(rng.integers(1, 12))
        a = rng.normal(size=(p, p))
        info = a @ a.T
        kind = trial % 4
        if kind == 1:  # indefinite
            info -= 0.5 * np.trace(info) / p * np.eye(p)
        elif kind == 2:  # singular: a direction removed
            v = np.linalg.qr(rng.normal(size=(p, p)))[0][:, :1]
            info -= (v.T @ info @ v) * (v @ v.T)
        elif kind == 3:  # a coordinate the data do not move
            info[0, :] = info[:, 0] = 0.0
        size = np.abs(np.diag(info)) + rng.uniform(0.1, 1.0, p)
        jac = rng.normal(size=(m, p)) * (rng.uniform(size=(m, p)) > 0.3)
        want, want_reason = stderr._numpy_delta_method(info, jac, size)
        got, reason = stderr._delta_method(info, jac, size)
        assert reason == want_reason
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got, want, rtol=1e-10)
        reasons[reason] = reasons.get(reason, 0) + 1
    assert len(reasons) == 3  # all three verdicts seen
