"""EM's compiled loop against the engine's Python loop (the loop with the hook switched off)."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numba
import numpy as np
import pytest

from emstat.engine import EMControl, EMResult, fit_em
from emstat.errors import ConvergenceWarning
from emstat.mixture import _em_kernels, gaussian
from emstat.mixture import model as model_module
from emstat.mixture._mstep_kernels import OK
from emstat.mixture.covariance import get_covariance_model
from emstat.mixture.gaussian import GaussianParams
from emstat.mixture.model import _CLOSED_FORM, GaussianMixtureModel

CASES = [("E", 1), ("V", 1)] + [
    (name, d) for name in _CLOSED_FORM if len(name) == 3 for d in (2, 3)
]
RULES = ["rel", "abs", "per_sample", "aitken"]


def mixture_rows(d: int, seed: int, n: int = 150) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * np.linspace(1.0, 2.0, d)
    x[: n // 3] += 3.0
    x[n // 3 : n // 2] -= 2.5
    return np.ascontiguousarray(x - x.mean(axis=0))


def start_stats(em_model: GaussianMixtureModel, x: np.ndarray, seed: int) -> Any:
    """A soft start near the rows' groups (see :func:`mixture_rows`), EM some way from its end."""
    n, k = x.shape[0], em_model.k
    groups = np.minimum(np.searchsorted([n // 3, n // 2], np.arange(n), side="right"), k - 1)
    noise = np.random.default_rng(seed).dirichlet(np.ones(k), n)
    resp = 0.5 * np.eye(k)[groups] + 0.5 * noise
    return em_model.stats_from_responsibilities(x, resp)


class Spy:
    """Counts the compiled loop's runs and how they ended."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ends: list[str | None] = []
        original = _em_kernels.run_em

        def spy(*args: Any) -> Any:
            done = original(*args)
            self.ends.append(None if done is None else done.stop_reason)
            return done

        monkeypatch.setattr(_em_kernels, "run_em", spy)


def both_loops(
    monkeypatch: pytest.MonkeyPatch, run: Any
) -> tuple[EMResult[Any, Any], EMResult[Any, Any], list[str | None]]:
    """``run()`` through the compiled loop, then through the Python loop alone."""
    spy = Spy(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        compiled = run()
        monkeypatch.setattr(_em_kernels, "enabled", False)
        python = run()
    return compiled, python, spy.ends


def assert_same_params(a: GaussianParams | None, b: GaussianParams | None) -> None:
    assert (a is None) == (b is None)
    if a is None or b is None:
        return
    for name in ("weights", "means", "covariances", "prec_chol", "half_log_det_prec"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.diagonal == b.diagonal


def assert_same_run(a: EMResult[Any, Any], b: EMResult[Any, Any]) -> None:
    """Bit for bit: the arithmetic of both loops is the same."""
    assert_same_params(a.theta, b.theta)
    assert (a.stats is None) == (b.stats is None)
    if a.stats is not None and b.stats is not None:
        for name in ("nk", "sums", "second"):
            np.testing.assert_array_equal(getattr(a.stats, name), getattr(b.stats, name))
        np.testing.assert_array_equal(a.stats.classification_loglik, b.stats.classification_loglik)
        assert type(a.stats.classification_loglik) is float
    np.testing.assert_array_equal(a.trace, b.trace)
    np.testing.assert_array_equal([a.loglik, a.objective], [b.loglik, b.objective])
    assert type(a.loglik) is float
    assert (a.n_iter, a.converged, a.stop_reason) == (b.n_iter, b.converged, b.stop_reason)
    assert a.degenerate == b.degenerate
    assert a.warnings == b.warnings


@pytest.mark.parametrize(("name", "d"), CASES)
@pytest.mark.parametrize("rule", RULES)
def test_the_compiled_loop_is_the_python_loop(
    name: str, d: int, rule: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    em_model = GaussianMixtureModel(get_covariance_model(name, d), 3)
    x = mixture_rows(d, seed=d + len(name))
    stats0 = start_stats(em_model, x, seed=5)
    tol = {"rel": 1e-8, "abs": 1e-6, "per_sample": 1e-9, "aitken": 1e-9}[rule]
    control = EMControl(tol=tol, criterion=rule, max_iter=5000)  # type: ignore[arg-type]

    def run() -> EMResult[Any, Any]:
        return fit_em(em_model, x, stats0=stats0, control=control, n_obs=x.shape[0])

    compiled, python, ends = both_loops(monkeypatch, run)
    assert ends == ["converged", None]  # the compiled loop ran it to the end
    assert compiled.converged and compiled.n_iter > 3
    assert_same_run(compiled, python)


ITERATIVE_CASES = [
    (name, d, compatible)
    for name in ("VEI", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV")
    for d in (2, 3)
    for compatible in (False, True)
]


@pytest.mark.parametrize(("name", "d", "compatible"), ITERATIVE_CASES)
def test_the_compiled_loop_serves_the_iterative_models_as_the_python_loop(
    name: str, d: int, compatible: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    covariance = get_covariance_model(name, d, mclust_compatible=compatible)
    em_model = GaussianMixtureModel(covariance, 3)
    x = mixture_rows(d, seed=d + 2 * len(name))
    stats0 = start_stats(em_model, x, seed=6)
    control = EMControl(tol=1e-8, max_iter=5000)

    def run() -> EMResult[Any, Any]:
        return fit_em(em_model, x, stats0=stats0, control=control)

    compiled, python, ends = both_loops(monkeypatch, run)
    has_kernel = model_module._compiled_kernel(covariance) is not None
    # mclust's EEV/VEV/EVV arithmetic keeps the numpy M-step and so the Python loop
    assert has_kernel == (not compatible or name not in ("EEV", "VEV", "EVV"))
    assert ends[-1] is None and (ends[0] == "converged") == has_kernel
    assert compiled.converged and compiled.n_iter > 3
    assert_same_run(compiled, python)


@pytest.mark.parametrize(("name", "d"), [("V", 1), ("VVI", 2), ("EEE", 3), ("VVV", 2)])
def test_a_run_from_parameters_that_ends_on_the_cap(
    name: str, d: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    em_model = GaussianMixtureModel(get_covariance_model(name, d), 2)
    x = mixture_rows(d, seed=11)
    theta0 = em_model.m_step(start_stats(em_model, x, seed=3), None)
    control = EMControl(tol=0.0, max_iter=7)

    def run() -> EMResult[Any, Any]:
        return fit_em(em_model, x, theta0=theta0, control=control)

    compiled, python, ends = both_loops(monkeypatch, run)
    assert ends == ["max_iter", None]
    assert compiled.stop_reason == "max_iter" and compiled.n_iter == 7
    assert compiled.warnings == (
        "EM stopped at the iteration cap (7) before meeting |l_old - l| / (1 + |l|) <= 0",
    )
    assert_same_run(compiled, python)


def test_a_cap_of_one_keeps_the_first_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    em_model = GaussianMixtureModel(get_covariance_model("VVV", 2), 2)
    x = mixture_rows(2, seed=2)
    stats0 = start_stats(em_model, x, seed=1)
    compiled, python, ends = both_loops(
        monkeypatch,
        lambda: fit_em(em_model, x, stats0=stats0, control=EMControl(max_iter=1)),
    )
    assert ends == ["max_iter", None]
    assert compiled.n_iter == 1 and compiled.trace.shape == (1,)
    assert_same_run(compiled, python)


@pytest.mark.parametrize(("name", "d"), [("VVI", 2), ("VVV", 3)])
def test_a_ridge_is_applied_as_the_python_m_step_applies_it(
    name: str, d: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    em_model = GaussianMixtureModel(get_covariance_model(name, d), 3, reg_covar=0.05)
    x = mixture_rows(d, seed=4)
    stats0 = start_stats(em_model, x, seed=2)
    compiled, python, ends = both_loops(
        monkeypatch, lambda: fit_em(em_model, x, stats0=stats0, control=EMControl(tol=1e-9))
    )
    assert ends == ["converged", None]
    assert_same_run(compiled, python)
    unridged = GaussianMixtureModel(get_covariance_model(name, d), 3)
    plain = fit_em(unridged, x, stats0=stats0, control=EMControl(tol=1e-9))
    assert not np.allclose(plain.theta.covariances, compiled.theta.covariances)


def test_a_collapsing_component_is_declared_degenerate_by_the_python_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Component 2 starts on five copies of one row and shrinks onto them.
    rng = np.random.default_rng(1)
    x = np.vstack([rng.normal(size=(40, 2)) * 2.0, np.full((5, 2), 6.0)])
    x = np.ascontiguousarray(x - x.mean(axis=0))
    em_model = GaussianMixtureModel(get_covariance_model("VVI", 2), 2)
    centre = x[-1]
    theta0 = gaussian.gaussian_params(
        np.array([0.85, 0.15]),
        np.vstack([x[:40].mean(axis=0), centre + 0.01]),
        np.stack([np.diag([4.0, 4.0]), np.diag([8.0, 8.0])]),
        diagonal=True,
    )

    def run() -> EMResult[Any, Any]:
        return fit_em(em_model, x, theta0=theta0, control=EMControl(tol=0.0, max_iter=500))

    compiled, python, ends = both_loops(monkeypatch, run)
    assert ends == ["", None]  # the compiled loop handed the doubtful M-step back
    assert compiled.degenerate is not None and "component 2" in compiled.degenerate
    assert compiled.stop_reason == "degenerate" and math.isnan(compiled.loglik)
    assert compiled.n_iter == 2  # two compiled M-steps, then the one the kernel doubted
    assert_same_run(compiled, python)


# --- the loop around other M-step kernels (the contract of every compiled M-step) -----------


@numba.njit
def _shrinking_m_step(
    nk: np.ndarray, sums: np.ndarray, second: np.ndarray, previous: np.ndarray, options: Any
) -> Any:
    """Weights and means of EM, each variance the previous one times options[0]: a
    likelihood that falls once the variances are below the fitted ones."""
    k, d = sums.shape
    factor, vanish = options
    weights = nk / nk.sum()
    means = sums / nk.reshape(k, 1)
    covariances = np.zeros((k, d, d))
    prec_chol = np.zeros((k, d, d))
    half_log_det = np.zeros(k)
    for j in range(k):
        for c in range(d):
            v = previous[j, c, c] * factor if previous.shape[0] else 1.0
            covariances[j, c, c] = v
            prec_chol[j, c, c] = 1.0 / math.sqrt(v)
            half_log_det[j] -= 0.5 * math.log(v)
    if vanish:
        weights[:] = 0.0  # an E-step at these weights has log-likelihood -inf
    return weights, means, covariances, prec_chol, half_log_det, OK


def _with_kernel(monkeypatch: pytest.MonkeyPatch, options: tuple[float, bool]) -> None:
    """Model "V" with the test kernel, in the compiled loop and in the Python M-step alike."""
    entry = (_shrinking_m_step, options, True, OK)
    monkeypatch.setattr(model_module, "_compiled_kernel", lambda covariance: entry)


def test_decreases_are_warned_of_as_the_python_loop_warns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _with_kernel(monkeypatch, (0.7, False))
    x = mixture_rows(1, seed=9)
    em_model = GaussianMixtureModel(get_covariance_model("V", 1), 2)
    stats0 = start_stats(em_model, x, seed=4)
    control = EMControl(tol=0.0, max_iter=12)
    compiled, python, ends = both_loops(
        monkeypatch, lambda: fit_em(em_model, x, stats0=stats0, control=control)
    )
    assert ends == ["max_iter", None]
    decreases = [note for note in compiled.warnings if "decreased" in note]
    assert len(decreases) >= 3
    assert decreases[0].startswith("the log-likelihood decreased at iteration ")
    assert compiled.warnings[-1].startswith("EM stopped at the iteration cap (12)")
    assert_same_run(compiled, python)


def test_a_log_likelihood_that_is_not_finite_is_the_python_loops_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _with_kernel(monkeypatch, (0.9, True))
    x = mixture_rows(1, seed=9)
    em_model = GaussianMixtureModel(get_covariance_model("V", 1), 2)
    theta0 = gaussian.gaussian_params(
        np.array([0.5, 0.5]), np.array([[-1.0], [1.0]]), np.ones((2, 1, 1)), diagonal=True
    )
    compiled, python, ends = both_loops(
        monkeypatch, lambda: fit_em(em_model, x, theta0=theta0, control=EMControl())
    )
    assert ends == ["", None]
    assert compiled.degenerate == "the log-likelihood is nan at iteration 1"
    assert_same_run(compiled, python)


def test_rows_the_loop_does_not_serve_keep_the_python_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    x = mixture_rows(2, seed=3)
    em_model = GaussianMixtureModel(get_covariance_model("VVV", 2), 2)
    stats0 = start_stats(em_model, x, seed=1)
    spy = Spy(monkeypatch)
    weighted = gaussian.WeightedRows(x, np.ones(x.shape[0]))
    fit_em(em_model, weighted, stats0=stats0, control=EMControl())  # case weights
    fit_em(em_model, x, stats0=stats0, control=EMControl(criterion="param"))
    huge_cap = fit_em(em_model, x, stats0=stats0, control=EMControl(max_iter=10**12))
    assert huge_cap.converged  # a cap whose trace would not fit in memory: the Python loop
    no_kernel = GaussianMixtureModel(get_covariance_model("VEV", 2, mclust_compatible=True), 2)
    fit_em(no_kernel, x, stats0=start_stats(no_kernel, x, seed=1), control=EMControl())
    # weighted rows, a huge cap, an M-step without a kernel: asked, refused; "param": never
    assert spy.ends == [None, None, None]


# --- where the loop serves: fits, bootstrap refits, standard errors -------------------------


@pytest.mark.parametrize(
    ("name", "data"), [("VVV", "faithful"), ("EEI", "faithful"), ("V", "acidity")]
)
def test_fits_and_their_standard_errors_are_the_python_loops(
    name: str, data: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import emstat

    rows = emstat.load_dataset(data)
    spy = Spy(monkeypatch)
    compiled = emstat.fit_mixture(rows, k=3, model=name)
    compiled_params = compiled.params
    assert "converged" in spy.ends  # the fit's EM ran compiled
    monkeypatch.setattr(_em_kernels, "enabled", False)
    python = emstat.fit_mixture(rows, k=3, model=name)
    assert (compiled.n_iter, compiled.loglik, compiled.icl) == (
        python.n_iter,
        python.loglik,
        python.icl,
    )
    np.testing.assert_array_equal(compiled.trace, python.trace)
    np.testing.assert_array_equal(compiled.params_.covariances, python.params_.covariances)
    for column in ("estimate", "std_err"):
        np.testing.assert_array_equal(compiled_params[column], python.params[column])


@pytest.mark.parametrize("kind", ["pb", "bs"])
def test_bootstrap_refits_are_the_python_loops(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import emstat

    fit = emstat.fit_mixture(emstat.load_dataset("faithful"), k=2, model="VVV")
    spy = Spy(monkeypatch)
    compiled = fit.bootstrap(n_boot=20, kind=kind, seed=3)
    assert spy.ends.count("converged") >= 15  # the refits ran compiled
    monkeypatch.setattr(_em_kernels, "enabled", False)
    python = fit.bootstrap(n_boot=20, kind=kind, seed=3)
    np.testing.assert_array_equal(compiled.values, python.values)
