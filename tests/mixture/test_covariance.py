"""Tests of the covariance-model registry (emstat.mixture.covariance).

Oracles: mclust 6.0.0's ``mstep`` covariances and ``nVarParams``, frozen in
``tests/reference/mclust_mstep.json`` by ``tests/reference/make_mstep_reference.R``;
weighted ``np.cov``; the models' constraints; and a general-purpose optimiser
over each model's constrained parametrisation.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.optimize import minimize

from emstat.errors import DegenerateFitError, InputError
from emstat.mixture import covariance
from emstat.mixture.covariance import (
    ALIASES,
    COVARIANCE_MODELS,
    CovarianceModel,
    default_models,
    get_covariance_model,
)

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "mclust_mstep.json"
MULTIVARIATE = [
    "EII", "VII", "EEI", "VEI", "EVI", "VVI",
    "EEE", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV",
]  # fmt: skip
ALL_MODELS = ["E", "V", *MULTIVARIATE]
ITERATIVE = {"VEI", "VEE", "EVE", "VVE", "VEV"}


@pytest.fixture(autouse=True)
def converged_inner_iterations(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests check the M-steps' fixed points, so they iterate far past EM's needs.

    EM itself stops the inner iterations at sqrt(eps), as mclust does; the
    mclust reference here was made with its inner tolerance at 1e-14.
    """
    monkeypatch.setattr(covariance, "INNER_TOL", 1e-12)


@cache
def reference() -> dict[str, Any]:
    with REFERENCE.open() as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def case(name: str) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    for entry in reference()["cases"]:
        if entry["name"] == name:
            x = np.asarray(entry["data"], dtype=float)
            return x.reshape(x.shape[0], -1), np.asarray(entry["z"], dtype=float), entry["sigma"]
    raise KeyError(name)


def weighted_stats(x: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``n_k`` and the scatter ``W_k`` of each component about its own weighted mean."""
    nk = z.sum(axis=0)
    means = (z.T @ x) / nk[:, None]
    scatter = np.stack(
        [(z[:, k, None] * (x - means[k])).T @ (x - means[k]) for k in range(z.shape[1])]
    )
    return nk, scatter


def scatter_for(model: CovarianceModel, scatter: np.ndarray) -> np.ndarray:
    return scatter if model.scatter == "full" else np.einsum("kii->ki", scatter)


def objective(nk: np.ndarray, scatter: np.ndarray, sigma: np.ndarray) -> float:
    """``sum_k -n_k/2 log|Sigma_k| - 1/2 tr(Sigma_k^{-1} W_k)``."""
    total = 0.0
    for n, w, s in zip(nk, scatter, sigma, strict=True):
        sign, logdet = np.linalg.slogdet(s)
        assert sign > 0
        total += -0.5 * n * logdet - 0.5 * np.trace(np.linalg.solve(s, w))
    return float(total)


def letters(name: str) -> str:
    return name + "II" if len(name) == 1 else name


MSTEP_CASES = [
    (entry, model)
    for entry in ("faithful_G3", "iris_G3", "mtcars_G2")
    for model in MULTIVARIATE
    if model != "VVE"
] + [("waiting_G2", "E"), ("waiting_G2", "V")]


# --------------------------------------------------------------------------- #
# against mclust
# --------------------------------------------------------------------------- #


def test_reference_provenance() -> None:
    ref = reference()
    assert ref["mclust_version"] == "6.0.0"
    assert ref["script"] == "tests/reference/make_mstep_reference.R"


@pytest.mark.parametrize(("entry", "name"), MSTEP_CASES)
def test_m_step_matches_mclust(entry: str, name: str) -> None:
    x, z, sigma_ref = case(entry)
    nk, scatter = weighted_stats(x, z)
    model = get_covariance_model(name, x.shape[1])
    sigma = model.m_step(nk, scatter_for(model, scatter))
    expected = np.asarray(sigma_ref[name], dtype=float)
    # mclust stops its inner iterations by its own rule; they agree to ~2e-8.
    rtol = 1e-7 if name in ITERATIVE else 1e-12
    scale = np.max(np.abs(expected))
    np.testing.assert_allclose(sigma, expected, rtol=0, atol=rtol * scale)
    # and our maximiser is never worse than mclust's
    value, value_ref = objective(nk, scatter, sigma), objective(nk, scatter, expected)
    assert value >= value_ref - 1e-10 * abs(value_ref)


@pytest.mark.parametrize("entry", ["faithful_G3", "iris_G3", "mtcars_G2"])
def test_vve_improves_on_mclust(entry: str) -> None:
    """mclust 6.0.0's VVE M-step does not maximise the objective.

    Its orientation update weights the scatters by the inverse shapes only,
    without the varying volumes, so its fixed point is not the maximiser;
    ours reaches a strictly larger value (mclust's covariances are feasible).
    """
    x, z, sigma_ref = case(entry)
    nk, scatter = weighted_stats(x, z)
    sigma = COVARIANCE_MODELS["VVE"].m_step(nk, scatter)
    expected = np.asarray(sigma_ref["VVE"], dtype=float)
    assert objective(nk, scatter, sigma) > objective(nk, scatter, expected) + 1e-3


@pytest.mark.parametrize("name", ["EVE", "VVE"])
def test_common_orientation_with_nearly_round_scatters(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Nearly round scatters leave the common orientation barely determined.

    A step that improves the orientation only a little at a time then stops
    early at EM's inner tolerance (sqrt(eps) on the relative change); the
    exact plane rotations land within 1e-8 of the fixed point even so.
    """
    rng = np.random.default_rng(5)
    nk = np.array([900.0, 900.0, 1200.0])
    scatter = np.array(
        [np.cov(rng.normal(size=(int(m), 3)), rowvar=False, bias=True) * m for m in nk]
    )
    model = COVARIANCE_MODELS[name]
    fixed_point = model.m_step(nk, scatter)  # inner tolerance 1e-12 (the fixture)
    monkeypatch.setattr(covariance, "INNER_TOL", float(np.sqrt(np.finfo(float).eps)))
    at_em_tolerance = model.m_step(nk, scatter)
    np.testing.assert_allclose(at_em_tolerance, fixed_point, rtol=0, atol=2e-8)


# --------------------------------------------------------------------------- #
# independent oracles
# --------------------------------------------------------------------------- #


def test_vvv_is_weighted_cov() -> None:
    x, z, _ = case("iris_G3")
    nk, scatter = weighted_stats(x, z)
    sigma = COVARIANCE_MODELS["VVV"].m_step(nk, scatter)
    for k in range(z.shape[1]):
        expected = np.cov(x, rowvar=False, aweights=z[:, k], bias=True)
        np.testing.assert_allclose(sigma[k], expected, rtol=1e-12)


def test_vvi_is_diagonal_of_weighted_cov() -> None:
    x, z, _ = case("iris_G3")
    nk, scatter = weighted_stats(x, z)
    sigma = COVARIANCE_MODELS["VVI"].m_step(nk, np.einsum("kii->ki", scatter))
    for k in range(z.shape[1]):
        expected = np.diag(np.diag(np.cov(x, rowvar=False, aweights=z[:, k], bias=True)))
        np.testing.assert_allclose(sigma[k], expected, rtol=1e-12, atol=0)


def test_eee_is_pooled_scatter() -> None:
    x, z, _ = case("mtcars_G2")
    nk, scatter = weighted_stats(x, z)
    sigma = COVARIANCE_MODELS["EEE"].m_step(nk, scatter)
    pooled = (
        sum(np.cov(x, rowvar=False, aweights=z[:, k], bias=True) * nk[k] for k in range(len(nk)))
        / nk.sum()
    )
    for k in range(len(nk)):
        np.testing.assert_allclose(sigma[k], pooled, rtol=1e-12)


def _random_problem(k: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    nk = rng.uniform(20, 60, size=k)
    scatter = np.empty((k, d, d))
    for j in range(k):
        a = rng.normal(size=(d, d)) * rng.uniform(0.3, 3.0, size=d)
        scatter[j] = a @ a.T * nk[j] / d + 0.1 * nk[j] * np.eye(d)
    return nk, scatter


def _check_constraint(name: str, sigma: np.ndarray) -> None:
    volume, shape, orientation = tuple(letters(name))
    k, d, _ = sigma.shape
    np.testing.assert_allclose(sigma, np.swapaxes(sigma, 1, 2), rtol=0, atol=0)
    dets = np.linalg.det(sigma) ** (1.0 / d)
    if volume == "E":
        np.testing.assert_allclose(dets, dets[0], rtol=1e-10)
    if orientation == "I":  # the shape in the coordinate order
        eig = np.einsum("kii->ki", sigma) / dets[:, None]
    else:  # the shape, sorted
        eig = np.linalg.eigvalsh(sigma)[:, ::-1] / dets[:, None]
    if shape == "I":
        np.testing.assert_allclose(eig, 1.0, rtol=1e-10)
    elif shape == "E":
        np.testing.assert_allclose(eig, np.broadcast_to(eig[0], eig.shape), rtol=1e-9)
    scale = np.max(np.abs(sigma))
    if orientation == "I":
        off = sigma - np.einsum("kii->ki", sigma)[:, :, None] * np.eye(d)
        assert np.all(off == 0.0)
    elif orientation == "E":
        for i in range(k):
            for j in range(k):
                commutator = sigma[i] @ sigma[j] - sigma[j] @ sigma[i]
                assert np.max(np.abs(commutator)) <= 1e-10 * scale**2
    if shape == "E" and orientation == "E":  # Sigma_k proportional to a common matrix
        unit = sigma / dets[:, None, None]
        np.testing.assert_allclose(unit, np.broadcast_to(unit[0], unit.shape), atol=1e-10)


@pytest.mark.parametrize("name", MULTIVARIATE)
@pytest.mark.parametrize(("k", "d", "seed"), [(3, 2, 1), (2, 4, 2), (4, 3, 3)])
def test_constraint_holds(name: str, k: int, d: int, seed: int) -> None:
    nk, scatter = _random_problem(k, d, seed)
    model = COVARIANCE_MODELS[name]
    sigma = model.m_step(nk, scatter_for(model, scatter))
    assert sigma.shape == (k, d, d)
    assert np.all(np.isfinite(sigma))
    _check_constraint(name, sigma)
    np.linalg.cholesky(sigma)  # positive definite


def _constrained_sigma(name: str, theta: np.ndarray, k: int, d: int) -> np.ndarray:
    """Covariances of the model from unconstrained parameters (log-volumes, log-shapes, angles)."""
    volume, shape, orientation = tuple(letters(name))
    pos = 0

    def take(count: int) -> np.ndarray:
        nonlocal pos
        out = theta[pos : pos + count]
        pos += count
        return out

    lam = np.exp(take(1 if volume == "E" else k))
    lam = np.broadcast_to(lam, (k,))
    if shape == "I":
        a = np.ones((k, d))
    else:
        s = take((d - 1) * (1 if shape == "E" else k)).reshape(-1, d - 1)
        s = np.concatenate([s, -s.sum(axis=1, keepdims=True)], axis=1)
        a = np.broadcast_to(np.exp(s), (k, d))
    n_angles = d * (d - 1) // 2
    iu = np.triu_indices(d, 1)
    rotations = []
    for _ in range(1 if orientation == "E" else k):
        skew = np.zeros((d, d))
        if orientation != "I":
            skew[iu] = take(n_angles)
            skew -= skew.T
        rotations.append(np.linalg.solve(np.eye(d) - skew, np.eye(d) + skew))  # Cayley
    rot = np.broadcast_to(np.stack(rotations), (k, d, d))
    assert pos == theta.size
    return np.einsum("kij,kj,klj->kil", rot, lam[:, None] * a, rot)


@pytest.mark.parametrize("name", MULTIVARIATE)
@pytest.mark.parametrize(("k", "d", "seed"), [(3, 2, 11), (2, 3, 12)])
def test_m_step_is_the_constrained_maximum(name: str, k: int, d: int, seed: int) -> None:
    """No point found by BFGS over the constrained parametrisation does better."""
    nk, scatter = _random_problem(k, d, seed)
    model = COVARIANCE_MODELS[name]
    sigma = model.m_step(nk, scatter_for(model, scatter))
    best = objective(nk, scatter, sigma)
    n_params = model.n_var_params(k, d)
    rng = np.random.default_rng(seed)

    def loss(theta: np.ndarray) -> float:
        return -objective(nk, scatter, _constrained_sigma(name, theta, k, d))

    start = np.zeros(n_params)
    start[: (1 if name[0] == "E" else k)] = np.log(np.trace(scatter.sum(0)) / (nk.sum() * d))
    found = -np.inf
    for trial in range(3):
        theta0 = start + (0.5 * rng.normal(size=n_params) if trial else 0.0)
        result = minimize(loss, theta0, method="BFGS", options={"gtol": 1e-9})
        found = max(found, -float(result.fun))
        # random feasible points near the optimiser's solution are no better either
        for _ in range(5):
            near = result.x + 1e-3 * rng.normal(size=n_params)
            assert -loss(near) <= best + 1e-9 * abs(best)
    assert found <= best + 1e-9 * abs(best)
    assert found >= best - 1e-5 * abs(best)  # the optimiser reaches it: a sanity check


# --------------------------------------------------------------------------- #
# warm starts, degenerate input, validation
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("name", sorted(ITERATIVE))
def test_warm_start_reaches_the_same_maximum(name: str) -> None:
    nk, scatter = _random_problem(3, 3, 21)
    model = COVARIANCE_MODELS[name]
    w = scatter_for(model, scatter)
    cold = model.m_step(nk, w)
    warm = model.m_step(nk, w, previous=cold * np.array([1.5, 0.7, 1.1])[:, None, None])
    np.testing.assert_allclose(warm, cold, rtol=0, atol=1e-9 * np.max(np.abs(cold)))


@pytest.mark.parametrize("name", MULTIVARIATE)
def test_degenerate_scatter_gives_singular_covariance_or_named_error(name: str) -> None:
    nk, scatter = _random_problem(2, 3, 31)
    scatter[1] = np.outer([1.0, 2.0, 0.5], [1.0, 2.0, 0.5]) * 4.0  # rank one
    model = COVARIANCE_MODELS[name]
    try:
        sigma = model.m_step(nk, scatter_for(model, scatter))
    except DegenerateFitError as error:
        assert name in str(error)
        return
    assert np.all(np.isfinite(sigma))
    np.testing.assert_allclose(sigma, np.swapaxes(sigma, 1, 2), atol=0)


@pytest.mark.parametrize("name", MULTIVARIATE)
def test_zero_scatter_component(name: str) -> None:
    nk, scatter = _random_problem(3, 2, 41)
    scatter[2] = 0.0
    model = COVARIANCE_MODELS[name]
    try:
        sigma = model.m_step(nk, scatter_for(model, scatter))
    except DegenerateFitError as error:
        assert name in str(error)
        assert "\n" not in str(error)
        return
    assert np.all(np.isfinite(sigma))


def test_degenerate_error_names_the_component() -> None:
    nk = np.array([10.0, 10.0, 10.0])
    diag = np.array([[1.0, 2.0], [3.0, 4.0], [0.0, 1.0]])
    with pytest.raises(DegenerateFitError, match=r"EVI.*component 3"):
        COVARIANCE_MODELS["EVI"].m_step(nk, diag)


def test_vvv_singular_is_detectable_by_cholesky() -> None:
    nk, scatter = _random_problem(2, 3, 51)
    scatter[0] = np.outer([1.0, 1.0, 0.0], [1.0, 1.0, 0.0])
    sigma = COVARIANCE_MODELS["VVV"].m_step(nk, scatter)
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.cholesky(sigma[0])


@pytest.mark.parametrize(
    ("nk", "scatter"),
    [
        (np.array([1.0, -1.0]), np.ones((2, 2, 2))),
        (np.array([1.0, np.nan]), np.ones((2, 2, 2))),
        (np.array([1.0, 2.0]), np.ones((3, 2, 2))),
        (np.array([1.0, 2.0]), np.ones((2, 2))),
        (np.array([1.0, 2.0]), np.full((2, 2, 2), np.inf)),
    ],
)
def test_m_step_validates_input(nk: np.ndarray, scatter: np.ndarray) -> None:
    with pytest.raises(InputError):
        COVARIANCE_MODELS["VVV"].m_step(nk, scatter)


def test_m_step_validates_previous_shape() -> None:
    nk, scatter = _random_problem(2, 2, 61)
    with pytest.raises(InputError):
        COVARIANCE_MODELS["VEE"].m_step(nk, scatter, previous=np.ones((3, 2, 2)))


def test_univariate_models_reject_multivariate_scatter() -> None:
    with pytest.raises(InputError):
        COVARIANCE_MODELS["V"].m_step(np.array([1.0, 2.0]), np.ones((2, 2)))


# --------------------------------------------------------------------------- #
# parameter counts
# --------------------------------------------------------------------------- #


def mclust_table(name: str, k: int, d: int) -> int:
    """nVarParams as tabulated in R_DEFAULTS.md."""
    table = {
        "E": 1, "EII": 1, "V": k, "VII": k, "EEI": d, "VEI": k + d - 1,
        "EVI": 1 + k * (d - 1), "VVI": k * d, "EEE": d * (d + 1) // 2,
        "EVE": 1 + k * (d - 1) + d * (d - 1) // 2, "VEE": k + d - 1 + d * (d - 1) // 2,
        "VVE": k * d + d * (d - 1) // 2, "EEV": d + k * d * (d - 1) // 2,
        "VEV": k + d - 1 + k * d * (d - 1) // 2, "EVV": 1 - k + k * d * (d + 1) // 2,
        "VVV": k * d * (d + 1) // 2,
    }  # fmt: skip
    return table[name]


# mclust defines E and V for d == 1 and EII .. VVV for d > 1.
N_VAR_CASES = [
    (name, d, k)
    for name in ALL_MODELS
    for d in (1, 2, 3, 5)
    for k in (1, 3)
    if (len(name) == 1) == (d == 1)
]


@pytest.mark.parametrize(("name", "d", "k"), N_VAR_CASES)
def test_n_var_params_table(name: str, d: int, k: int) -> None:
    assert COVARIANCE_MODELS[name].n_var_params(k, d) == mclust_table(name, k, d)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_n_var_params_live_mclust(name: str) -> None:
    rows = reference()["n_var_params"][name]
    assert len(rows) == (2 if len(name) == 1 else 6)
    for row in rows:
        assert COVARIANCE_MODELS[name].n_var_params(row["k"], row["d"]) == row["n_var"]


def test_n_var_params_validates() -> None:
    with pytest.raises(InputError):
        COVARIANCE_MODELS["VVV"].n_var_params(0, 2)


# --------------------------------------------------------------------------- #
# registry, names, defaults
# --------------------------------------------------------------------------- #


def test_registry_contents() -> None:
    assert list(COVARIANCE_MODELS) == ALL_MODELS
    for name, model in COVARIANCE_MODELS.items():
        assert model.name == name
        expected = "diag" if letters(name)[2] == "I" else "full"
        assert model.scatter == expected
        assert model.description
    assert COVARIANCE_MODELS["VVV"].description == (
        "ellipsoidal, varying volume, shape and orientation"
    )
    assert ALIASES == {"spherical": "VII", "diag": "VVI", "tied": "EEE", "full": "VVV"}


def test_models_are_frozen() -> None:
    with pytest.raises(AttributeError):
        COVARIANCE_MODELS["VVV"].name = "EEE"  # type: ignore[misc]


@pytest.mark.parametrize("name", MULTIVARIATE)
def test_get_multivariate(name: str) -> None:
    assert get_covariance_model(name, 3) is COVARIANCE_MODELS[name]


@pytest.mark.parametrize(("alias", "name"), sorted(ALIASES.items()))
def test_get_alias(alias: str, name: str) -> None:
    assert get_covariance_model(alias, 2).name == name
    assert get_covariance_model(alias, 1).name == name[0]


@pytest.mark.parametrize("name", ALL_MODELS)
def test_get_univariate_maps_by_volume_letter(name: str) -> None:
    assert get_covariance_model(name, 1).name == name[0]


@pytest.mark.parametrize(("name", "d"), [("E", 2), ("V", 3), ("vvv", 2), ("XYZ", 2), ("", 1)])
def test_get_unknown_or_wrong_dimension(name: str, d: int) -> None:
    with pytest.raises(InputError) as info:
        get_covariance_model(name, d)
    message = str(info.value)
    assert "\n" not in message
    valid = ["E", "V"] if d == 1 else MULTIVARIATE
    assert all(re.search(rf"\b{v}\b", message) for v in valid)


@pytest.mark.parametrize("d", [0, -1, 1.5])
def test_get_bad_dimension(d: Any) -> None:
    with pytest.raises(InputError):
        get_covariance_model("VVV", d)


def test_univariate_m_steps() -> None:
    nk = np.array([10.0, 30.0])
    w = np.array([[20.0], [30.0]])
    np.testing.assert_allclose(
        get_covariance_model("E", 1).m_step(nk, w), np.full((2, 1, 1), 50.0 / 40.0)
    )
    np.testing.assert_allclose(
        get_covariance_model("V", 1).m_step(nk, w), np.array([[[2.0]], [[1.0]]])
    )


@pytest.mark.parametrize(
    ("d", "n", "expected"),
    [
        (1, 100, ["E", "V"]),
        (1, 1, ["E", "V"]),
        (2, 100, MULTIVARIATE),
        (5, 6, MULTIVARIATE),
        (5, 5, MULTIVARIATE[:6]),
        (3, 2, ["EII", "VII", "EEI", "VEI", "EVI", "VVI"]),
    ],
)
def test_default_models(d: int, n: int, expected: list[str]) -> None:
    assert default_models(d, n) == expected


@pytest.mark.parametrize("name", sorted(ITERATIVE))
def test_inner_cap_warns_at_the_caller(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import emstat.mixture.covariance as covariance
    from emstat.errors import ConvergenceWarning

    monkeypatch.setattr(covariance, "INNER_MAX_ITER", 1)
    nk, scatter = _random_problem(3, 3, 71)
    model = COVARIANCE_MODELS[name]
    with pytest.warns(ConvergenceWarning, match=name) as record:
        sigma = model.m_step(nk, scatter_for(model, scatter))
    assert record[0].filename == __file__
    assert np.all(np.isfinite(sigma))
