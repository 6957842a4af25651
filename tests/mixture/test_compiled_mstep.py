"""The compiled M-step of the closed-form models against the numpy M-step."""

from __future__ import annotations

import numpy as np
import pytest

from emstat.errors import DegenerateFitError
from emstat.mixture import fused, gaussian
from emstat.mixture.covariance import get_covariance_model
from emstat.mixture.model import _CLOSED_FORM, GaussianMixtureModel, _compiled_m_step

pytestmark = pytest.mark.skipif(not fused.available(), reason="numba is not installed")

CLOSED_FORM = list(_CLOSED_FORM)


def model_for(name: str, d: int, k: int = 3) -> GaussianMixtureModel:
    return GaussianMixtureModel(get_covariance_model(name, d), k)


def random_stats(
    em_model: GaussianMixtureModel, d: int, rng: np.random.Generator, offset: float = 0.0
) -> gaussian.GaussianStats:
    n = 300
    x = rng.normal(size=(n, d)) * np.linspace(0.5, 4.0, d) + offset
    resp = rng.dirichlet(np.ones(em_model.k), n)
    return em_model.stats_from_responsibilities(x, resp)


def dimensions(name: str) -> list[int]:
    return [1] if len(name) == 1 else [2, 3, 5]


@pytest.mark.parametrize(
    ("name", "d"), [(name, d) for name in CLOSED_FORM for d in dimensions(name)]
)
@pytest.mark.parametrize("offset", [0.0, 1e4])
def test_compiled_equals_numpy(name: str, d: int, offset: float) -> None:
    em_model = model_for(name, d)
    stats = random_stats(em_model, d, np.random.default_rng(d * 7 + len(name)), offset)
    compiled = _compiled_m_step(em_model.covariance, stats)
    assert compiled is not None
    reference = em_model.reference_m_step(stats, None)
    for field in ("weights", "means", "covariances", "prec_chol", "half_log_det_prec"):
        np.testing.assert_allclose(
            getattr(compiled, field), getattr(reference, field), rtol=1e-12, atol=1e-14
        )
    assert compiled.diagonal == reference.diagonal


@pytest.mark.parametrize("name", ["VII", "VVI", "EVI", "VVV"])
def test_a_collapsed_component_is_decided_by_the_numpy_m_step(name: str) -> None:
    # Component 2 sits on one point: singular for every model that lets it vary.
    x = np.vstack([np.random.default_rng(1).normal(size=(20, 2)), np.ones((5, 2))])
    labels = np.r_[np.zeros(20, int), np.ones(5, int)]
    em_model = model_for(name, 2, k=2)
    stats = em_model.stats_from_labels(x, labels)
    assert _compiled_m_step(em_model.covariance, stats) is None
    with pytest.raises(DegenerateFitError) as through_m_step:
        em_model.m_step(stats, None)
    with pytest.raises(DegenerateFitError) as reference:
        em_model.reference_m_step(stats, None)
    assert str(through_m_step.value) == str(reference.value)


def test_an_empty_component_is_decided_by_the_numpy_m_step() -> None:
    x = np.random.default_rng(2).normal(size=(30, 1))
    em_model = model_for("V", 1, k=2)
    stats = em_model.stats_from_labels(x, np.zeros(30, int))
    assert _compiled_m_step(em_model.covariance, stats) is None
    with pytest.raises(DegenerateFitError, match="component 2 is empty"):
        em_model.m_step(stats, None)


def test_mclust_compatible_orientation_models_use_numpy() -> None:
    em_model = GaussianMixtureModel(get_covariance_model("VEV", 2, mclust_compatible=True), 3)
    stats = random_stats(em_model, 2, np.random.default_rng(3))
    assert _compiled_m_step(em_model.covariance, stats) is None


@pytest.mark.parametrize("name", ["VVV", "EEE", "VVI", "EVI"])
def test_a_fit_without_the_compiled_kernels_is_the_same(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import emstat
    from emstat.mixture import model as model_module

    data = emstat.load_dataset("faithful")
    compiled = emstat.fit_mixture(data, k=3, model=name)
    monkeypatch.setattr(fused, "_kernels", lambda: None)
    monkeypatch.setattr(model_module, "_compiled_kernel", lambda name: None)
    monkeypatch.setattr(gaussian, "_factor_kernels", lambda: None)
    plain = emstat.fit_mixture(data, k=3, model=name)
    assert plain.n_iter == compiled.n_iter
    assert plain.loglik == pytest.approx(compiled.loglik, rel=1e-10)
    assert plain.icl == pytest.approx(compiled.icl, rel=1e-10)
    np.testing.assert_allclose(plain.params_.covariances, compiled.params_.covariances, rtol=1e-8)
