"""The compiled M-steps of EEV, VEV and EVV against the numpy M-step (covariance.py)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import emstat
from emstat.errors import ConvergenceWarning, DegenerateFitError
from emstat.mixture import _em_kernels, covariance, fused, gaussian
from emstat.mixture import model as model_module
from emstat.mixture.covariance import COVARIANCE_MODELS, get_covariance_model
from emstat.mixture.model import GaussianMixtureModel, _compiled_m_step

pytestmark = pytest.mark.skipif(not fused.available(), reason="numba is not installed")

ORIENTATION = ["EEV", "VEV", "EVV"]
REFERENCE = Path(__file__).resolve().parents[1] / "reference"
FIELDS = ("weights", "means", "covariances", "prec_chol", "half_log_det_prec")


def model_for(name: str, k: int = 3) -> GaussianMixtureModel:
    # COVARIANCE_MODELS, not get_covariance_model: the kernels also serve d = 1
    return GaussianMixtureModel(COVARIANCE_MODELS[name], k)


def data_stats(
    em_model: GaussianMixtureModel, d: int, rng: np.random.Generator, offset: float = 0.0
) -> gaussian.GaussianStats:
    n = 300
    x = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) * np.linspace(0.5, 4.0, d) + offset
    resp = rng.dirichlet(np.ones(em_model.k), n)
    return em_model.stats_from_responsibilities(x, resp)


def scatter_stats(
    d: int, k: int, rng: np.random.Generator, decades: float = 2.0
) -> gaussian.GaussianStats:
    """Statistics made from random scatters (not from rows): eigenvalues over ±``decades``."""
    nk = rng.uniform(2.0, 50.0, k)
    means = rng.normal(size=(k, d)) * 3.0
    scatter = np.empty((k, d, d))
    for j in range(k):
        axes, _ = np.linalg.qr(rng.normal(size=(d, d)))
        values = 10.0 ** rng.uniform(-decades, decades, d)
        scatter[j] = (axes * values) @ axes.T
    second = scatter + nk[:, None, None] * np.einsum("ki,kj->kij", means, means)
    return gaussian.GaussianStats(nk, nk[:, None] * means, second)


def assert_same(compiled: gaussian.GaussianParams, reference: gaussian.GaussianParams) -> None:
    for field in FIELDS:
        got, want = getattr(compiled, field), getattr(reference, field)
        # relative to the array's size: entries that cancel to ~0 keep an absolute error
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13 * np.max(np.abs(want)))
    assert compiled.diagonal is False and reference.diagonal is False


def assert_same_ill_conditioned(
    compiled: gaussian.GaussianParams, reference: gaussian.GaussianParams
) -> None:
    """As assert_same, but U_k = L_k^-T and log|Σ_k| to cond(Σ_k) * eps.

    Covariances one rounding apart give factors and log-determinants that
    far apart (so do two components of numpy's EVV, which share their volume).
    """
    for field in ("weights", "means", "covariances"):
        want = getattr(reference, field)
        np.testing.assert_allclose(
            getattr(compiled, field), want, rtol=1e-12, atol=1e-13 * np.max(np.abs(want))
        )
    for j, sigma in enumerate(reference.covariances):
        slack = 4 * np.finfo(float).eps * np.linalg.cond(sigma)
        want = reference.prec_chol[j]
        np.testing.assert_allclose(
            compiled.prec_chol[j], want, rtol=0, atol=max(slack, 1e-13) * np.max(np.abs(want))
        )
        assert compiled.half_log_det_prec[j] == pytest.approx(
            reference.half_log_det_prec[j], rel=1e-12, abs=slack
        )


def compiled_m_step(
    em_model: GaussianMixtureModel,
    stats: gaussian.GaussianStats,
    previous: gaussian.GaussianParams | None = None,
) -> gaussian.GaussianParams:
    compiled = _compiled_m_step(em_model.covariance, em_model.regularised(stats), previous)
    assert compiled is not None, "the kernel doubted a regular M-step"
    return compiled


@pytest.mark.parametrize("name", ORIENTATION)
@pytest.mark.parametrize("d", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("offset", [0.0, 1e4])
def test_compiled_equals_numpy_on_data(name: str, d: int, offset: float) -> None:
    em_model = model_for(name)
    stats = data_stats(em_model, d, np.random.default_rng(10 * d + len(name)), offset)
    assert_same(compiled_m_step(em_model, stats), em_model.reference_m_step(stats, None))


@pytest.mark.parametrize("name", ORIENTATION)
@pytest.mark.parametrize("d", [2, 3, 4, 5, 6])
@pytest.mark.parametrize("seed", range(4))
def test_compiled_equals_numpy_on_random_scatters(name: str, d: int, seed: int) -> None:
    em_model = model_for(name, k=4)
    stats = scatter_stats(d, 4, np.random.default_rng([seed, d]))
    assert_same(compiled_m_step(em_model, stats), em_model.reference_m_step(stats, None))


@pytest.mark.parametrize("name", ORIENTATION)
@pytest.mark.parametrize("seed", range(6))
def test_m_step_equals_numpy_on_ill_conditioned_scatters(name: str, seed: int) -> None:
    # Eigenvalues over 8 decades: some small axes are fixed only to ~1e-10 by any
    # eigen-solver; where that reaches the covariances, the kernel leaves them to numpy.
    em_model = model_for(name, k=4)
    stats = scatter_stats(4, 4, np.random.default_rng([seed, 99]), decades=4.0)
    assert_same_ill_conditioned(
        em_model.m_step(stats, None), em_model.reference_m_step(stats, None)
    )


@pytest.mark.parametrize("name", ORIENTATION)
@pytest.mark.parametrize("d", [2, 4, 6])
def test_compiled_equals_numpy_from_previous_covariances(name: str, d: int) -> None:
    # VEV warm-starts its volumes from the previous covariances; the others ignore them
    rng = np.random.default_rng(d)
    em_model = model_for(name)
    stats = data_stats(em_model, d, rng)
    previous = em_model.reference_m_step(data_stats(em_model, d, rng), None)
    assert_same(
        compiled_m_step(em_model, stats, previous), em_model.reference_m_step(stats, previous)
    )


@pytest.mark.parametrize(
    "previous_covariances",
    [np.stack([np.eye(3)] * 2), np.stack([np.eye(3), np.eye(3), -np.eye(3)])],
    ids=["other-k", "not-positive-definite"],
)
def test_vev_ignores_unusable_previous_covariances(previous_covariances: np.ndarray) -> None:
    em_model = model_for("VEV")
    stats = data_stats(em_model, 3, np.random.default_rng(5))
    fitted = em_model.reference_m_step(stats, None)
    previous = gaussian.GaussianParams(
        fitted.weights,
        fitted.means,
        previous_covariances,
        fitted.prec_chol,
        fitted.half_log_det_prec,
    )
    compiled = compiled_m_step(em_model, stats, previous)
    assert_same(compiled, em_model.reference_m_step(stats, previous))
    assert_same(compiled, compiled_m_step(em_model, stats, None))


def test_vev_warm_start_changes_only_where_the_inner_loop_stops() -> None:
    # From a start far from the optimum the inner loop stops elsewhere (within its tolerance):
    # the kernel really reads the previous covariances.
    em_model = model_for("VEV")
    stats = data_stats(em_model, 3, np.random.default_rng(6))
    cold = compiled_m_step(em_model, stats, None)
    far = gaussian.GaussianParams(
        cold.weights, cold.means, cold.covariances * [[[1e3]], [[1.0]], [[1e-3]]],
        cold.prec_chol, cold.half_log_det_prec,
    )  # fmt: skip
    warm = compiled_m_step(em_model, stats, far)
    assert not np.array_equal(warm.covariances, cold.covariances)
    np.testing.assert_allclose(warm.covariances, cold.covariances, rtol=1e-6)
    assert_same(warm, em_model.reference_m_step(stats, far))


def test_the_inner_tolerance_reaches_the_kernel() -> None:
    stats = data_stats(model_for("VEV"), 3, np.random.default_rng(7))
    loose = GaussianMixtureModel(get_covariance_model("VEV", 3, inner_tol=1e-3), 3)
    tight = GaussianMixtureModel(get_covariance_model("VEV", 3, inner_tol=0.0), 3)
    loose_fit, tight_fit = compiled_m_step(loose, stats), compiled_m_step(tight, stats)
    assert np.max(np.abs(loose_fit.covariances - tight_fit.covariances)) > 1e-8
    assert_same(loose_fit, loose.reference_m_step(stats, None))
    assert_same(tight_fit, tight.reference_m_step(stats, None))


def test_the_ridge_reaches_the_kernel() -> None:
    em_model = GaussianMixtureModel(COVARIANCE_MODELS["EVV"], 3, reg_covar=0.5)
    stats = data_stats(em_model, 4, np.random.default_rng(8))
    assert_same(em_model.m_step(stats, None), em_model.reference_m_step(stats, None))
    plain = GaussianMixtureModel(COVARIANCE_MODELS["EVV"], 3).m_step(stats, None)
    assert np.max(np.abs(plain.covariances - em_model.m_step(stats, None).covariances)) > 0.1


def test_a_capped_inner_loop_warns_through_the_numpy_m_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    em_model = model_for("VEV")
    stats = data_stats(em_model, 3, np.random.default_rng(9))
    monkeypatch.setattr(covariance, "INNER_MAX_ITER", 2)
    assert _compiled_m_step(em_model.covariance, stats, None) is None
    with pytest.warns(ConvergenceWarning, match="VEV: the inner M-step iteration hit its cap of 2"):
        capped = em_model.m_step(stats, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = em_model.reference_m_step(stats, None)
    np.testing.assert_array_equal(capped.covariances, reference.covariances)


@pytest.mark.parametrize("name", ORIENTATION)
def test_repeated_eigenvalues(name: str) -> None:
    # Component 2's scatter is 2 s^2 I (rows ±s e_i): its axes are any basis.  EEV and
    # VEV give them different shape values, so the fit is the eigen-solver's choice:
    # the kernel doubts and the numpy M-step answers.  EVV's covariance is then
    # c I whatever the basis, and the kernel agrees with it.
    rng = np.random.default_rng(11)
    d = 3
    star = np.vstack([np.eye(d), -np.eye(d)]) * 1.5 + 4.0
    x = np.vstack([rng.normal(size=(40, d)) * [1.0, 2.0, 3.0], star])
    labels = np.r_[np.zeros(40, int), np.ones(2 * d, int)]
    em_model = model_for(name, k=2)
    stats = em_model.stats_from_labels(x, labels)
    values = np.linalg.eigvalsh(stats.scatter()[1])
    assert np.ptp(values) < 1e-12 * values.max()
    reference = em_model.reference_m_step(stats, None)
    if name == "EVV":
        assert_same(compiled_m_step(em_model, stats), reference)
    else:
        assert _compiled_m_step(em_model.covariance, stats, None) is None
        np.testing.assert_array_equal(
            em_model.m_step(stats, None).covariances, reference.covariances
        )


@pytest.mark.parametrize("name", ORIENTATION)
def test_nearly_repeated_eigenvalues_agree(name: str) -> None:
    # Eigenvalues 1e-3 apart (relative): determined axes, the kernel answers.
    rng = np.random.default_rng(12)
    stats = scatter_stats(3, 3, rng)
    axes, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    scatter = (axes * [5.0, 5.005, 1.0]) @ axes.T
    means = stats.means
    second = stats.second.copy()
    second[0] = scatter + stats.nk[0] * np.outer(means[0], means[0])
    stats = gaussian.GaussianStats(stats.nk, stats.sums, second)
    em_model = model_for(name)
    assert_same(compiled_m_step(em_model, stats), em_model.reference_m_step(stats, None))


def collapsed_stats(em_model: GaussianMixtureModel, d: int, m: int) -> gaussian.GaussianStats:
    """Component 2 holds ``m`` rows (one point repeated when m is 1) of ``d`` columns."""
    rng = np.random.default_rng(13)
    rows = np.ones((5, d)) if m == 1 else rng.normal(size=(m, d)) + 3.0
    x = np.vstack([rng.normal(size=(40, d)), rows])
    labels = np.r_[np.zeros(40, int), np.ones(len(rows), int)]
    return em_model.stats_from_labels(x, labels)


@pytest.mark.parametrize("name", ORIENTATION)
@pytest.mark.parametrize(("d", "m"), [(2, 1), (3, 1), (4, 2), (6, 3), (6, 5)])
def test_a_degenerate_component_gives_the_numpy_m_steps_answer(name: str, d: int, m: int) -> None:
    # m rows in d > m columns: a rank-deficient scatter (zero when m = 1)
    em_model = model_for(name, k=2)
    stats = collapsed_stats(em_model, d, m)
    assert _compiled_m_step(em_model.covariance, stats, None) is None
    try:
        reference = em_model.reference_m_step(stats, None)
    except DegenerateFitError as exc:
        with pytest.raises(DegenerateFitError) as through_m_step:
            em_model.m_step(stats, None)
        assert str(through_m_step.value) == str(exc)
        assert "component 2" in str(exc)
    else:  # EEV and VEV pool a shape, so a rank-deficient scatter can still fit
        assert name != "EVV"
        np.testing.assert_array_equal(
            em_model.m_step(stats, None).covariances, reference.covariances
        )


def test_evv_on_a_tiny_scale_fails_mclusts_test_through_both_paths() -> None:
    # mclust's EVV test is absolute: volumes of the scatter at or below sqrt(eps)
    em_model = model_for("EVV")
    stats = data_stats(em_model, 3, np.random.default_rng(14))
    scale = 1e-5
    tiny = gaussian.GaussianStats(stats.nk, stats.sums * scale, stats.second * scale**2)
    assert _compiled_m_step(em_model.covariance, tiny, None) is None
    with pytest.raises(DegenerateFitError, match=r"EVV: a volume at or below sqrt\(eps\)") as ref:
        em_model.reference_m_step(tiny, None)
    with pytest.raises(DegenerateFitError) as through_m_step:
        em_model.m_step(tiny, None)
    assert str(through_m_step.value) == str(ref.value)


def test_an_empty_component_is_decided_by_the_numpy_m_step() -> None:
    em_model = model_for("EEV", k=2)
    x = np.random.default_rng(15).normal(size=(30, 2))
    stats = em_model.stats_from_labels(x, np.zeros(30, int))
    assert _compiled_m_step(em_model.covariance, stats, None) is None
    with pytest.raises(DegenerateFitError, match="component 2 is empty"):
        em_model.m_step(stats, None)


def test_mclust_compatible_keeps_the_numpy_m_step() -> None:
    em_model = GaussianMixtureModel(get_covariance_model("VEV", 3, mclust_compatible=True), 3)
    stats = data_stats(em_model, 3, np.random.default_rng(16))
    assert _compiled_m_step(em_model.covariance, stats, None) is None


def count_compiled(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count the M-steps the kernel answers (so a test cannot pass by doubting everything)."""
    counts = {"compiled": 0, "doubted": 0}
    kernel = model_module._compiled_m_step

    def counted(*args: object) -> gaussian.GaussianParams | None:
        params = kernel(*args)  # type: ignore[arg-type]
        counts["doubted" if params is None else "compiled"] += 1
        return params

    monkeypatch.setattr(_em_kernels, "enabled", False)  # M-steps one call at a time, counted
    monkeypatch.setattr(model_module, "_compiled_m_step", counted)
    return counts


@pytest.mark.parametrize("name", ORIENTATION)
def test_a_fit_without_the_kernels_is_the_same(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = emstat.load_dataset("faithful")
    counts = count_compiled(monkeypatch)
    compiled = emstat.fit_mixture(data, k=3, model=name)
    assert counts["compiled"] >= compiled.n_iter > 3
    monkeypatch.setattr(model_module, "_ORIENTATION", frozenset())
    plain = emstat.fit_mixture(data, k=3, model=name)
    assert plain.n_iter == compiled.n_iter
    assert plain.loglik == pytest.approx(compiled.loglik, rel=1e-12)
    np.testing.assert_allclose(plain.params_.covariances, compiled.params_.covariances, rtol=1e-10)


def test_a_selection_without_the_kernels_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    # banknote (d = 6): its k = 9 EEV/VEV/EVV fits meet rank-deficient components
    x = np.loadtxt(REFERENCE / "mclust_banknote.csv", delimiter=",", skiprows=1)
    counts = count_compiled(monkeypatch)
    compiled = emstat.select_mixture(x, k=range(1, 10), models=ORIENTATION)
    assert counts["compiled"] > 20 * counts["doubted"] > 0
    monkeypatch.setattr(model_module, "_ORIENTATION", frozenset())
    plain = emstat.select_mixture(x, k=range(1, 10), models=ORIENTATION)
    np.testing.assert_allclose(
        plain.table.to_numpy(dtype=float), compiled.table.to_numpy(dtype=float), rtol=1e-12
    )
    assert plain.reasons.equals(compiled.reasons)
    assert compiled.table.notna().to_numpy().sum() >= 20
