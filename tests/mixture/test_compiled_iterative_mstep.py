"""The compiled M-steps of VEI, VEE, EVE and VVE against the numpy M-step."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pytest

from emstat.errors import ConvergenceWarning, DegenerateFitError
from emstat.mixture import _covariance_kernels as loops
from emstat.mixture import _em_kernels, covariance
from emstat.mixture import model as model_module
from emstat.mixture.covariance import COVARIANCE_MODELS, get_covariance_model
from emstat.mixture.gaussian import GaussianParams, GaussianStats
from emstat.mixture.model import _ITERATIVE, GaussianMixtureModel, _compiled_m_step

ITERATIVE = list(_ITERATIVE)
FIELDS = ("weights", "means", "covariances", "prec_chol", "half_log_det_prec")


def model_for(name: str, d: int, k: int = 3, **options: object) -> GaussianMixtureModel:
    # d = 1 keeps the model itself (get_covariance_model would make it E or V)
    base = COVARIANCE_MODELS[name] if d == 1 else get_covariance_model(name, d)
    return GaussianMixtureModel(replace(base, **options) if options else base, k)  # type: ignore[arg-type]


def random_stats(
    em_model: GaussianMixtureModel,
    d: int,
    rng: np.random.Generator,
    offset: float = 0.0,
    spread: np.ndarray | None = None,
) -> GaussianStats:
    n = 300
    scale = np.linspace(0.5, 4.0, d) if spread is None else spread
    x = rng.normal(size=(n, d)) * scale + offset
    resp = rng.dirichlet(np.ones(em_model.k), n)
    return em_model.stats_from_responsibilities(x, resp)


def assert_same(compiled: GaussianParams | None, reference: GaussianParams) -> None:
    assert compiled is not None
    for field in FIELDS:
        np.testing.assert_allclose(
            getattr(compiled, field), getattr(reference, field), rtol=1e-12, atol=1e-14
        )
    assert compiled.diagonal == reference.diagonal


@pytest.mark.parametrize("name", ITERATIVE)
@pytest.mark.parametrize("d", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("offset", [0.0, 1e4])
def test_compiled_equals_numpy(name: str, d: int, offset: float) -> None:
    em_model = model_for(name, d)
    rng = np.random.default_rng(d * 11 + len(name) + int(offset))
    stats = random_stats(em_model, d, rng, offset)
    reference = em_model.reference_m_step(stats, None)
    assert_same(_compiled_m_step(em_model.covariance, stats, None), reference)
    # warm-started from another M-step's parameters, as in EM
    later = random_stats(em_model, d, rng, offset)
    assert_same(
        _compiled_m_step(em_model.covariance, later, reference),
        em_model.reference_m_step(later, reference),
    )


@pytest.mark.parametrize("name", ITERATIVE)
@pytest.mark.parametrize("d", [2, 3, 5])
def test_near_round_shapes_agree(name: str, d: int) -> None:
    # Spreads equal to 1e-6: the common orientation is barely defined.
    em_model = model_for(name, d)
    spread = 1.0 + 1e-6 * np.arange(d)
    stats = random_stats(em_model, d, np.random.default_rng(40 + d), 0.0, spread)
    reference = em_model.reference_m_step(stats, None)
    assert_same(_compiled_m_step(em_model.covariance, stats, None), reference)
    assert_same(em_model.m_step(stats, reference), em_model.reference_m_step(stats, reference))


def collapsed_stats(em_model: GaussianMixtureModel, how: str) -> GaussianStats:
    """Component 2 sits on one point, or on a line (the second column constant in it)."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(40, 3))
    if how == "point":
        x[30:] = 2.0
    else:
        x[30:, 1] = 2.0
    labels = np.r_[np.zeros(30, int), np.ones(10, int)]
    return em_model.stats_from_labels(x, labels)


@pytest.mark.parametrize("name", ITERATIVE)
def test_a_component_on_a_line_is_decided_alike(name: str) -> None:
    # A common shape (VEI, VEE) keeps the line's component regular; mclust's
    # scatter test (EVE, VVE) refuses it.
    em_model = model_for(name, 3, k=2)
    stats = collapsed_stats(em_model, "line")
    if name in ("VEI", "VEE"):
        assert_same(em_model.m_step(stats, None), em_model.reference_m_step(stats, None))
        return
    assert _compiled_m_step(em_model.covariance, stats, None) is None
    with pytest.raises(DegenerateFitError, match="scatter matrix has an eigenvalue") as error:
        em_model.m_step(stats, None)
    assert "component 2" in str(error.value)


@pytest.mark.parametrize("name", ITERATIVE)
def test_a_collapsed_component_gives_the_numpy_error(name: str) -> None:
    em_model = model_for(name, 3, k=2)
    stats = collapsed_stats(em_model, "point")
    assert _compiled_m_step(em_model.covariance, stats, None) is None
    with pytest.raises(DegenerateFitError) as through_m_step:
        em_model.m_step(stats, None)
    with pytest.raises(DegenerateFitError) as reference:
        em_model.reference_m_step(stats, None)
    assert str(through_m_step.value) == str(reference.value)
    assert "component 2" in str(through_m_step.value)


@pytest.mark.parametrize("name", ITERATIVE)
def test_an_empty_component_is_decided_by_the_numpy_m_step(name: str) -> None:
    x = np.random.default_rng(2).normal(size=(30, 2))
    em_model = model_for(name, 2, k=2)
    stats = em_model.stats_from_labels(x, np.zeros(30, int))
    assert _compiled_m_step(em_model.covariance, stats, None) is None
    with pytest.raises(DegenerateFitError, match="component 2 is empty"):
        em_model.m_step(stats, None)


@pytest.mark.parametrize("name", ["VEE", "VVE"])
def test_volumes_at_mclusts_threshold_are_decided_alike(name: str) -> None:
    # mclust refuses volumes below sqrt(eps) in the data's units: scales around
    # sqrt(sqrt(eps)) put the fitted volumes on both sides of that threshold.
    em_model = model_for(name, 2, k=2)
    base = random_stats(em_model, 2, np.random.default_rng(8))
    outcomes = set()
    for scale in np.geomspace(3e-5, 3e-4, 25):
        stats = GaussianStats(base.nk, base.sums * scale, base.second * scale**2)
        try:
            reference = em_model.reference_m_step(stats, None)
        except DegenerateFitError as error:
            with pytest.raises(DegenerateFitError) as through_m_step:
                em_model.m_step(stats, None)
            assert str(through_m_step.value) == str(error)
            outcomes.add("refused")
        else:
            assert_same(em_model.m_step(stats, None), reference)
            outcomes.add("fitted")
    assert outcomes == {"refused", "fitted"}


@pytest.mark.parametrize("name", ITERATIVE)
def test_the_inner_tolerance_reaches_the_kernel(name: str) -> None:
    loose = model_for(name, 3, inner_tol=1e-3)
    stats = random_stats(loose, 3, np.random.default_rng(9))
    compiled = _compiled_m_step(loose.covariance, stats, None)
    assert_same(compiled, loose.reference_m_step(stats, None))
    default = _compiled_m_step(model_for(name, 3).covariance, stats, None)
    assert default is not None and compiled is not None
    assert not np.allclose(compiled.covariances, default.covariances, rtol=1e-9, atol=0)
    # the tolerance in force (covariance's context variable) when the model has none
    plain = model_for(name, 3)
    with covariance._inner_tolerance(1e-3):
        in_context = _compiled_m_step(plain.covariance, stats, None)
        assert_same(in_context, plain.reference_m_step(stats, None))
    assert_same(in_context, loose.reference_m_step(stats, None))


@pytest.mark.parametrize("name", ITERATIVE)
def test_the_cap_warning_comes_from_the_numpy_m_step(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    em_model = model_for(name, 3)
    stats = random_stats(em_model, 3, np.random.default_rng(10))
    monkeypatch.setattr(covariance, "INNER_MAX_ITER", 2)
    assert _compiled_m_step(em_model.covariance, stats, None) is None
    with pytest.warns(ConvergenceWarning, match=f"model {name}: .* cap of 2 iterations"):
        capped = em_model.m_step(stats, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = em_model.reference_m_step(stats, None)
    np.testing.assert_array_equal(capped.covariances, reference.covariances)


@pytest.mark.parametrize("name", ["VEE", "EVE", "VVE"])
@pytest.mark.parametrize("d", [2, 3, 5])
def test_mclust_compatible_runs_mclusts_loops_compiled(name: str, d: int) -> None:
    em_model = model_for(name, d, mclust_compatible=True)
    rng = np.random.default_rng(12 + d)
    stats = random_stats(em_model, d, rng, 1e4)
    reference = em_model.reference_m_step(stats, None)
    compiled = _compiled_m_step(em_model.covariance, stats, None)
    assert_same(compiled, reference)
    later = random_stats(em_model, d, rng, 1e4)
    assert_same(
        _compiled_m_step(em_model.covariance, later, reference),
        em_model.reference_m_step(later, reference),
    )
    # mclust's loops, not emstat's: they stop elsewhere
    default = model_for(name, d).reference_m_step(stats, None)
    assert compiled is not None
    assert not np.allclose(compiled.covariances, default.covariances, rtol=1e-12, atol=0)


def test_vei_is_compiled_in_mclust_compatible_mode_too() -> None:
    em_model = model_for("VEI", 3, mclust_compatible=True)
    stats = random_stats(em_model, 3, np.random.default_rng(13))
    assert_same(
        _compiled_m_step(em_model.covariance, stats, None), em_model.reference_m_step(stats, None)
    )


@pytest.mark.parametrize("name", ["VEE", "EVE", "VVE"])
def test_mclust_compatible_collapsed_and_capped_go_to_numpy(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    em_model = model_for(name, 3, k=2, mclust_compatible=True)
    stats = collapsed_stats(em_model, "point")
    assert _compiled_m_step(em_model.covariance, stats, None) is None
    with pytest.raises(DegenerateFitError) as through_m_step:
        em_model.m_step(stats, None)
    with pytest.raises(DegenerateFitError) as reference:
        em_model.reference_m_step(stats, None)
    assert str(through_m_step.value) == str(reference.value)
    regular = random_stats(em_model, 3, np.random.default_rng(14))
    monkeypatch.setattr(covariance, "INNER_MAX_ITER", 1)
    assert _compiled_m_step(em_model.covariance, regular, None) is None
    with pytest.warns(ConvergenceWarning, match=f"model {name}: .* cap of 1 iterations"):
        em_model.m_step(regular, None)


def test_the_guarded_stopping_rule() -> None:
    tol = 1e-8
    assert loops._stop(0.5 * tol, tol, 1e-6) == loops.CONVERGED
    assert loops._stop(2.0 * tol, tol, 1e-6) == -1
    assert loops._stop(tol * (1 + 1e-9), tol, 1e-6) == loops.UNDECIDED
    assert loops._stop(tol * (1 - 1e-9), tol, 1e-6) == loops.UNDECIDED
    # unguarded (the numpy M-step's loops): exactly the old rule
    assert loops._stop(tol, tol, 0.0) == loops.CONVERGED
    assert loops._stop(tol * (1 + 1e-9), tol, 0.0) == -1


FITS = [(name, "faithful", False) for name in ITERATIVE] + [
    ("VVE", "iris", False),
    ("VEE", "iris", False),
    ("VEE", "faithful", True),
    ("EVE", "iris", True),
    ("VVE", "iris", True),
]


@pytest.mark.parametrize(("name", "data", "mclust_compatible"), FITS)
def test_a_fit_without_the_compiled_kernels_is_the_same(
    name: str, data: str, mclust_compatible: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import emstat

    if data == "iris":
        x = pytest.importorskip("sklearn.datasets").load_iris().data
    else:
        x = emstat.load_dataset(data).to_numpy()
    calls = []
    kernel = model_module._compiled_m_step

    def counted(*args: object) -> GaussianParams | None:
        result = kernel(*args)  # type: ignore[arg-type]
        calls.append(result is not None)
        return result

    monkeypatch.setattr(_em_kernels, "enabled", False)  # M-steps one call at a time, counted
    monkeypatch.setattr(model_module, "_compiled_m_step", counted)
    compiled = emstat.fit_mixture(x, k=3, model=name, mclust_compatible=mclust_compatible)
    assert sum(calls) > 0.9 * len(calls) > 0  # the kernels served the fit
    monkeypatch.setattr(model_module, "_compiled_kernel", lambda covariance: None)
    plain = emstat.fit_mixture(x, k=3, model=name, mclust_compatible=mclust_compatible)
    assert plain.n_iter == compiled.n_iter
    assert plain.loglik == pytest.approx(compiled.loglik, rel=1e-10)
    np.testing.assert_allclose(plain.params_.covariances, compiled.params_.covariances, rtol=1e-8)


def test_a_selection_without_the_compiled_kernels_has_the_same_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import emstat

    x = pytest.importorskip("sklearn.datasets").load_iris().data
    models = ITERATIVE
    compiled = emstat.select_mixture(x, k=range(1, 7), models=models).table_for("bic")
    monkeypatch.setattr(model_module, "_compiled_kernel", lambda covariance: None)
    plain = emstat.select_mixture(x, k=range(1, 7), models=models).table_for("bic")
    assert compiled.notna().sum().sum() > 20  # most cells are fits
    np.testing.assert_allclose(compiled.to_numpy(), plain.to_numpy(), rtol=1e-10)
